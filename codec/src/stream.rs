//! The incremental decoder: bytes arrive in any chunking, frames come out, memory stays bounded.

use bytes::BytesMut;

use crate::error::{DecodeError, ErrorCode, Expected};
use crate::frame::{decode_checked, frame_extent, Frame, Progress};
use crate::limits::Limits;

/// Decodes one direction of a connection from chunks of any size.
///
/// It never holds more than one maximal frame ([`Limits::max_frame_len`]): [`push`](Self::push)
/// accepts only what fits, so a peer that streams garbage or announces a huge payload cannot make
/// it allocate more. After an error it stays failed (FRAME-10, §7: a receiver drops the
/// connection; it never guesses where the next frame starts). Validators that want to go on
/// resynchronise with a new decoder at the next boundary marker.
#[derive(Debug)]
pub struct StreamDecoder {
    buf: BytesMut,
    /// Absolute stream offset of `buf[0]`.
    offset: u64,
    limits: Limits,
    failed: Option<DecodeError>,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        StreamDecoder::new(Limits::default())
    }
}

impl StreamDecoder {
    /// A decoder for a stream that starts at offset 0.
    pub fn new(limits: Limits) -> Self {
        Self::starting_at(0, limits)
    }

    /// A decoder for a stream whose first byte is at absolute offset `offset` (for error reports).
    pub fn starting_at(offset: u64, limits: Limits) -> Self {
        StreamDecoder {
            buf: BytesMut::new(),
            offset,
            limits,
            failed: None,
        }
    }

    /// Absolute offset of the next byte not yet returned as part of a frame.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes buffered but not yet returned as part of a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends as much of `chunk` as the buffer bound allows and returns how many bytes it took.
    /// Taking fewer than offered means a whole frame is waiting: call [`next_frame`](Self::next_frame).
    pub fn push(&mut self, chunk: &[u8]) -> usize {
        let room = self.limits.max_frame_len().saturating_sub(self.buf.len());
        let take = chunk.len().min(room);
        self.buf.extend_from_slice(chunk.get(..take).unwrap_or_default());
        take
    }

    /// The next frame, or how many more bytes are needed before one can be judged.
    pub fn next_frame(&mut self) -> Result<Progress, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = match frame_extent(&self.buf, self.offset, &self.limits) {
            Ok(Err(needed)) => return Ok(Progress::NeedMore { needed }),
            Ok(Ok((header, len))) => {
                let bytes = self.buf.split_to(len).freeze();
                let frame = decode_checked(&header, &bytes, 0, self.offset);
                self.offset += len as u64;
                frame.map(|frame| Progress::Frame { frame, len })
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// Pushes all of `chunk`, handing every completed frame to `on_frame`.
    pub fn feed(&mut self, mut chunk: &[u8], mut on_frame: impl FnMut(Frame)) -> Result<(), DecodeError> {
        loop {
            let took = self.push(chunk);
            chunk = chunk.get(took..).unwrap_or_default();
            while let Progress::Frame { frame, .. } = self.next_frame()? {
                on_frame(frame);
            }
            if chunk.is_empty() {
                return Ok(());
            }
        }
    }

    /// Declares the end of the stream: an error if it ended inside a frame (FRAME-10).
    pub fn finish(&self) -> Result<(), DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let needed = match frame_extent(&self.buf, self.offset, &self.limits) {
            Ok(Err(needed)) => needed,
            Ok(Ok(_)) => 0,
            Err(e) => return Err(e),
        };
        Err(DecodeError {
            code: ErrorCode::TruncatedFrame,
            offset: self.offset,
            field: "frame",
            found: self.buf.len() as u64,
            expected: Expected::AtLeast((self.buf.len() + needed) as u64),
        })
    }
}
