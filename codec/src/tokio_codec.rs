//! tokio-util `Decoder`/`Encoder`, so a transport gets RFW/1 framing with `Framed::new(io, RfwCodec::default())`.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{DecodeError, EncodeError, ErrorCode, Expected};
use crate::frame::{encode_with, frame_extent, take_owned, Frame};
use crate::header::TRAILER_LEN;
use crate::limits::Limits;

/// The error a `Framed<_, RfwCodec>` stream or sink yields: typed, so a transport matches on the
/// code and offset instead of downcasting an `io::Error` (the pain of h2#624 with
/// `LengthDelimitedCodec`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent bytes that break the format; drop the connection (SPEC.md §7).
    #[error("malformed input: {0}")]
    Decode(#[from] DecodeError),
    /// The frame was refused before anything was written.
    #[error("frame refused: {0}")]
    Encode(#[from] EncodeError),
}

/// How far ahead of the frame being read the read buffer grows (when it grows): a bound on what a
/// connection buffers beyond the frames it holds.
const READ_AHEAD: usize = 64 * 1024;

/// RFW/1 framing for tokio-util. `limits.max_payload_len` bounds both directions; `offset` counts
/// the bytes decoded so far so errors carry absolute stream offsets.
#[derive(Debug, Clone, Default)]
pub struct RfwCodec {
    limits: Limits,
    offset: u64,
    last_payload_crc: u32,
}

impl RfwCodec {
    /// A codec enforcing `limits` in both directions.
    pub fn new(limits: Limits) -> Self {
        RfwCodec {
            limits,
            offset: 0,
            last_payload_crc: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes taken from the read buffer so far: the stream offset where the next frame starts
    /// (error offsets are absolute in the same numbering). A frame whose body breaks a rule is
    /// taken whole too, so a caller that goes on decoding after such an error starts at the next
    /// frame, at this offset.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The payload CRC of the last frame decoded (checked against its payload): a fingerprint of
    /// its body that costs nothing, for a server telling a retry (the same frame again) from a
    /// new request under a reused id. After an error, the CRC the failed frame carried.
    pub fn last_payload_crc(&self) -> u32 {
        self.last_payload_crc
    }
}

impl Decoder for RfwCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        match frame_extent(src, self.offset, &self.limits)? {
            Err(needed) => {
                // The header has been checked (or is still arriving), so `needed` is bounded by one
                // frame. When the buffer must grow anyway (a new allocation while frames split off
                // it are still held), it grows by at least `READ_AHEAD`: the next reads can then
                // bring several frames at once, into one allocation, instead of one read and one
                // allocation a frame.
                if src.capacity() - src.len() < needed {
                    src.reserve(needed.max(READ_AHEAD));
                }
                Ok(None)
            }
            Ok((header, len)) => {
                let crc = src
                    .get(len.saturating_sub(TRAILER_LEN)..len)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map_or(0, u32::from_be_bytes);
                let offset = self.offset;
                self.last_payload_crc = crc;
                self.offset += len as u64;
                take_owned(&header, src, len, offset, Some)
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(CodecError::Decode(DecodeError {
                code: ErrorCode::TruncatedFrame,
                offset: self.offset,
                field: "frame",
                found: src.len() as u64,
                expected: Expected::AtLeast(src.len() as u64 + 1),
            })),
        }
    }
}

impl Encoder<&Frame> for RfwCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(encode_with(frame, dst, &self.limits)?)
    }
}

impl Encoder<Frame> for RfwCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(encode_with(&frame, dst, &self.limits)?)
    }
}
