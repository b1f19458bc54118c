//! Frames: a checked header, a CRC-checked payload, a decoded body. One-shot decoding and the
//! canonical encoder live here; the incremental decoders build on [`decode_prefix`].

use std::sync::LazyLock;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError, ErrorCode, Expected};
use crate::header::{
    decode_header, put_header, seal_header, FrameHeader, HeaderProgress, MessageType, HEADER_LEN, TRAILER_LEN,
};
use crate::limits::Limits;
use crate::message::{whole, AppendEntriesRef, Entries, Message};
use crate::wire::{WireError, Writer};

/// One decoded frame: the request id and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Frame {
    /// The request id; a response carries its request's (FRAME-6: never 0).
    pub request_id: u64,
    /// The message.
    pub message: Message,
}

impl Frame {
    /// A frame carrying `message` under `request_id`.
    pub fn new(request_id: u64, message: Message) -> Frame {
        Frame { request_id, message }
    }

    /// The frame's type byte.
    pub fn message_type(&self) -> MessageType {
        self.message.message_type()
    }

    /// Encodes the frame on its own, with default limits.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        // Sized for the message up front: growing by doubling reallocated a 64-entry append
        // eight times, which showed in profiles of the openraft network.
        let mut buf = BytesMut::with_capacity(HEADER_LEN + self.message.size_hint() + TRAILER_LEN);
        encode(self, &mut buf)?;
        Ok(buf.freeze())
    }
}

/// What the start of a buffer holds: a whole frame (an owned [`Frame`], or a borrowed
/// [`FrameRef`](crate::FrameRef) from the `_ref` decoders), or a valid prefix of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<F = Frame> {
    /// A complete, valid frame of `len` bytes.
    Frame {
        /// The frame.
        frame: F,
        /// How many bytes it occupied.
        len: usize,
    },
    /// Every byte so far is valid; at least `needed` more are required before anything can be
    /// judged. This is never an error: a caller with more input coming must wait, not fail.
    NeedMore {
        /// Minimum number of further bytes.
        needed: usize,
    },
}

/// CRC-32 of a payload. `crc32fast::hash` looks up the CPU's features on every call (six cached
/// checks, a tenth of its time on a 64-byte payload); a hasher made once and copied per payload
/// carries the answer.
#[inline(always)]
pub(crate) fn payload_crc(payload: &[u8]) -> u32 {
    static HASHER: LazyLock<crc32fast::Hasher> = LazyLock::new(crc32fast::Hasher::new);
    let mut hasher = HASHER.clone();
    hasher.update(payload);
    hasher.finalize()
}

/// Checks the payload CRC of the frame that starts at `input[start]` (its header already judged
/// valid and all of its `header.frame_len()` bytes present) and returns the payload.
#[inline(always)]
pub(crate) fn checked_payload<'a>(
    header: &FrameHeader,
    input: &'a [u8],
    start: usize,
    offset: u64,
) -> Result<&'a [u8], DecodeError> {
    let len = header.payload_len as usize;
    let payload_at = start + HEADER_LEN;
    let payload = input.get(payload_at..payload_at + len);
    let stored = input
        .get(payload_at + len..payload_at + len + TRAILER_LEN)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes);
    let (Some(payload), Some(stored)) = (payload, stored) else {
        return Err(DecodeError {
            code: ErrorCode::TruncatedFrame,
            offset,
            field: "frame",
            found: input.len().saturating_sub(start) as u64,
            expected: Expected::AtLeast(header.frame_len() as u64),
        });
    };
    let computed = payload_crc(payload);
    if computed != stored {
        return Err(DecodeError {
            code: ErrorCode::PayloadCrcMismatch,
            offset: offset + (HEADER_LEN + len) as u64,
            field: "payload_crc",
            found: stored as u64,
            expected: Expected::Exactly(computed as u64),
        });
    }
    Ok(payload)
}

/// Checks the frame that starts at `input[start]` (its header already judged valid and all of its
/// `header.frame_len()` bytes present): payload CRC, then body. Fields of the decoded message are
/// zero-copy slices of `input`; nothing else is cloned on the way, because every transient
/// `Bytes` handle costs two atomic operations per frame.
#[inline]
pub(crate) fn decode_checked(
    header: &FrameHeader,
    input: &Bytes,
    start: usize,
    offset: u64,
) -> Result<Frame, DecodeError> {
    let payload = checked_payload(header, input, start, offset)?;
    let message = Message::decode_body(header.message_type, payload, input)
        .map_err(|e| e.locate(offset + HEADER_LEN as u64, payload.len()))?;
    Ok(Frame {
        request_id: header.request_id,
        message,
    })
}

/// [`decode_checked`] for a decoder that owns `frame`, a buffer holding exactly the frame whose
/// header is `header` and whose first byte is at stream offset `offset`: the message keeps
/// `frame`'s handle (`Message::decode_body_owning`) instead of taking a new one.
#[inline]
pub(crate) fn decode_owned(header: &FrameHeader, frame: Bytes, offset: u64) -> Result<Frame, DecodeError> {
    let payload_len = checked_payload(header, &frame, 0, offset)?.len();
    let message = Message::decode_body_owning(header.message_type, frame, HEADER_LEN..HEADER_LEN + payload_len)
        .map_err(|e| e.locate(offset + HEADER_LEN as u64, payload_len))?;
    Ok(Frame {
        request_id: header.request_id,
        message,
    })
}

/// Decodes the frame of `len` bytes at the start of `buf` (its header `header` already judged,
/// all its bytes present, its first byte at stream offset `offset`) and takes it out of `buf`, for
/// a decoder that owns its read buffer (`RfwCodec`, `StreamDecoder`).
///
/// Why two ways: splitting the frame off costs a reference count on the buffer (an atomic
/// increment, and a decrement when the frame is dropped) and keeps the buffer from being reused
/// while the frame lives. A frame whose owned message keeps nothing of its bytes (every response,
/// vote, error and heartbeat, an append of one small entry: [`Message::owned_keeps_frame`]) is
/// decoded in place instead, its short fields copied, and `buf` advanced past it. That took
/// `RfwCodec` past `LengthDelimitedCodec` at 64 B (BENCHMARKS.md). The others are split off and
/// hand the frame's handle to their bulk field ([`decode_owned`]). Either way the frame's bytes
/// leave `buf`, whether it decodes or not.
///
/// The frame comes out through `wrap` and the error as the caller's `E`, so the caller's own
/// result (`RfwCodec`'s `Ok(Some(frame))`) is built where the frame is, not moved into it: the
/// move cost `RfwCodec` 4-5 % at 64 B (BENCHMARKS.md).
#[inline(always)]
pub(crate) fn take_owned<T, E: From<DecodeError>>(
    header: &FrameHeader,
    buf: &mut BytesMut,
    len: usize,
    offset: u64,
    wrap: impl FnOnce(Frame) -> T,
) -> Result<T, E> {
    let payload = buf.get(HEADER_LEN..len.saturating_sub(TRAILER_LEN)).unwrap_or_default();
    if Message::owned_keeps_frame(header.message_type, payload) {
        return Ok(wrap(decode_owned(header, buf.split_to(len).freeze(), offset)?));
    }
    // Decoded against an empty buffer, so nothing is shared: a field too long to be held inline
    // (only a malformed payload can mislead `owned_keeps_frame`, and it fails to decode) would be
    // copied, never lost.
    static NOTHING: Bytes = Bytes::new();
    let request_id = header.request_id;
    let located = |e: WireError, payload: &[u8]| e.locate(offset + HEADER_LEN as u64, payload.len());
    if header.message_type == MessageType::AppendEntries {
        // The commonest body is checked first and its message assembled last, straight in the
        // value returned: built earlier and moved on, the message was read back while the stores
        // that had just written it were still pending, and the reads stalled (store forwarding,
        // a fifth of the decoder's time in `perf annotate`).
        let checked = checked_payload(header, buf, 0, offset)
            .and_then(|payload| whole(AppendEntriesRef::decode(payload)).map_err(|e| located(e, payload)));
        let view = match checked {
            Ok(view) => view,
            Err(e) => {
                buf.advance(len.min(buf.len()));
                return Err(e.into());
            }
        };
        let head = view.owned_head(&NOTHING);
        let entries = Entries::from_wire(&NOTHING, &view.entries);
        buf.advance(len.min(buf.len()));
        let message = Message::AppendEntries(head.with_entries(entries));
        return Ok(wrap(Frame { request_id, message }));
    }
    let message = checked_payload(header, buf, 0, offset).and_then(|payload| {
        Message::decode_body(header.message_type, payload, &NOTHING).map_err(|e| located(e, payload))
    });
    buf.advance(len.min(buf.len()));
    Ok(wrap(Frame {
        request_id,
        message: message?,
    }))
}

/// Judges the header at the start of `input` (absolute offset `offset`) and, when the whole frame
/// is present, returns its header and length.
#[inline(always)]
pub(crate) fn frame_extent(
    input: &[u8],
    offset: u64,
    limits: &Limits,
) -> Result<Result<(FrameHeader, usize), usize>, DecodeError> {
    match decode_header(input, offset, limits)? {
        HeaderProgress::NeedMore(n) => Ok(Err(n)),
        HeaderProgress::Complete(h) => {
            let len = h.frame_len();
            if input.len() < len {
                Ok(Err(len - input.len()))
            } else {
                Ok(Ok((h, len)))
            }
        }
    }
}

/// Decodes the frame at the start of `input`, whose first byte is at absolute stream offset
/// `offset` (used only in error reports). Bytes after the frame are left alone.
#[inline]
pub fn decode_prefix(input: &Bytes, offset: u64, limits: &Limits) -> Result<Progress, DecodeError> {
    match frame_extent(input, offset, limits)? {
        Err(needed) => Ok(Progress::NeedMore { needed }),
        Ok((header, len)) => {
            let frame = decode_checked(&header, input, 0, offset)?;
            Ok(Progress::Frame { frame, len })
        }
    }
}

/// Decodes the frame that starts at `input[at]`, reporting offsets relative to `input`. The way
/// to walk a buffer of frames without slicing it once per frame.
#[inline]
pub fn decode_at(input: &Bytes, at: usize, limits: &Limits) -> Result<Progress, DecodeError> {
    let rest = input.get(at..).unwrap_or_default();
    match frame_extent(rest, at as u64, limits)? {
        Err(needed) => Ok(Progress::NeedMore { needed }),
        Ok((header, len)) => {
            let frame = decode_checked(&header, input, at, at as u64)?;
            Ok(Progress::Frame { frame, len })
        }
    }
}

/// Decodes a buffer that must hold exactly one frame, with the default [`Limits`].
#[inline]
pub fn decode(input: &Bytes) -> Result<Frame, DecodeError> {
    decode_with(input, &Limits::default())
}

/// Decodes a buffer that must hold exactly one frame: a short buffer is `truncated_frame`
/// (FRAME-10), bytes after the frame are `trailing_bytes` (FRAME-9).
#[inline]
pub fn decode_with(input: &Bytes, limits: &Limits) -> Result<Frame, DecodeError> {
    only_frame(decode_prefix(input, 0, limits)?, input.len())
}

/// The frame a buffer of `input_len` bytes must consist of exactly.
#[inline]
pub(crate) fn only_frame<F>(progress: Progress<F>, input_len: usize) -> Result<F, DecodeError> {
    match progress {
        Progress::NeedMore { needed } => Err(DecodeError {
            code: ErrorCode::TruncatedFrame,
            offset: 0,
            field: "frame",
            found: input_len as u64,
            expected: Expected::AtLeast((input_len + needed) as u64),
        }),
        Progress::Frame { frame, len } if len == input_len => Ok(frame),
        Progress::Frame { len, .. } => Err(DecodeError {
            code: ErrorCode::TrailingBytes,
            offset: len as u64,
            field: "frame",
            found: input_len.saturating_sub(len) as u64,
            expected: Expected::End,
        }),
    }
}

/// Decodes a buffer that holds a whole number of frames (a complete one-direction stream).
pub fn decode_all(input: &Bytes, limits: &Limits) -> Result<Vec<Frame>, DecodeError> {
    let mut frames = Vec::new();
    let mut at = 0usize;
    while at < input.len() {
        match decode_at(input, at, limits)? {
            Progress::Frame { frame, len } => {
                frames.push(frame);
                at += len;
            }
            Progress::NeedMore { needed } => {
                return Err(DecodeError {
                    code: ErrorCode::TruncatedFrame,
                    offset: at as u64,
                    field: "frame",
                    found: (input.len() - at) as u64,
                    expected: Expected::AtLeast((input.len() - at + needed) as u64),
                })
            }
        }
    }
    Ok(frames)
}

/// Appends the canonical encoding of `frame` to `dst`, with the default [`Limits`].
pub fn encode(frame: &Frame, dst: &mut BytesMut) -> Result<(), EncodeError> {
    encode_with(frame, dst, &Limits::default())
}

/// Appends the canonical encoding of `frame` to `dst`.
///
/// Refuses, leaving `dst` exactly as it was, a frame a receiver with the same limits would
/// reject: request id 0, a message that breaks a body rule, or a payload over the limit. So a
/// refused frame is never half-written, and `decode(encode(f)) == f` for every frame it accepts.
pub fn encode_with(frame: &Frame, dst: &mut BytesMut, limits: &Limits) -> Result<(), EncodeError> {
    if frame.request_id == 0 {
        return Err(EncodeError::Invalid(DecodeError {
            code: ErrorCode::ZeroRequestId,
            offset: crate::header::at::REQUEST_ID,
            field: "request_id",
            found: 0,
            expected: Expected::NonZero,
        }));
    }
    let start = dst.len();
    put_header(dst, frame.message_type(), frame.request_id);
    let body = frame.message.encode_body(&mut Writer::new(dst, start));
    let payload_len = dst.len() - start - HEADER_LEN;
    let checked = body.and_then(|()| match u32::try_from(payload_len) {
        Ok(len) if len <= limits.max_payload_len => Ok(len),
        _ => Err(EncodeError::PayloadTooLarge {
            len: payload_len as u64,
            max: limits.max_payload_len,
        }),
    });
    let payload_len = match checked {
        Ok(len) => len,
        Err(e) => {
            dst.truncate(start);
            return Err(e);
        }
    };
    let crc = payload_crc(&dst[start + HEADER_LEN..]);
    seal_header(&mut dst[start..start + HEADER_LEN], payload_len);
    dst.put_u32(crc);
    Ok(())
}
