//! Borrowed frames: [`FrameRef`], a frame checked exactly as [`decode`](crate::decode) checks it,
//! handed out as a view of the caller's buffer instead of an owned [`Frame`].
//!
//! Why: a transport that handles each frame while its read buffer is alive does not need an owned
//! message, and building one is most of the cost of decoding a small or mid-size frame (a shared
//! handle's atomic pair, and moving the message out; BENCHMARKS.md). The view takes no handle,
//! allocates nothing (a configuration's duplicate-server check aside), and works on any
//! `&[u8]`, not only `Bytes`. [`FrameRef::to_frame`] makes it owned when a frame must be kept.

use bytes::Bytes;

use crate::error::DecodeError;
use crate::frame::{checked_payload, frame_extent, only_frame, Frame, Progress};
use crate::header::{FrameHeader, MessageType, HEADER_LEN};
use crate::limits::Limits;
use crate::message::MessageRef;

/// One checked frame, borrowed from the buffer it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The request id; a response carries its request's (FRAME-6: never 0).
    pub request_id: u64,
    /// The message.
    pub message: MessageRef<'a>,
}

impl<'a> FrameRef<'a> {
    /// The frame's type byte.
    pub fn message_type(&self) -> MessageType {
        self.message.message_type()
    }

    /// The owned frame, its zero-copy fields shared from `buffer`: pass the `Bytes` this view
    /// was decoded from (or one holding the same bytes), and nothing is copied; a field outside
    /// `buffer` is copied, never lost.
    pub fn to_frame(&self, buffer: &Bytes) -> Frame {
        Frame::new(self.request_id, self.message.to_owned_in(buffer))
    }
}

/// Decodes the frame that starts at `input[at]`, reporting offsets relative to `input`: the way
/// to walk a read buffer of frames. Bytes after the frame are left alone.
///
/// ```
/// use raftwire_codec::{decode_ref_at, encode, Frame, Id, Limits, Message, MessageRef, Progress, TimeoutNowRequest};
///
/// /// Handles every whole frame in `read_buffer`; returns the bytes consumed (the rest is the
/// /// start of a frame still arriving).
/// fn handle(read_buffer: &[u8]) -> Result<usize, raftwire_codec::DecodeError> {
///     let (mut at, limits) = (0, Limits::default());
///     while let Progress::Frame { frame, len } = decode_ref_at(read_buffer, at, &limits)? {
///         if let MessageRef::TimeoutNow(t) = frame.message {
///             assert_eq!((t.term, t.leader_id), (3, &b"node-1"[..]));
///         }
///         at += len;
///     }
///     Ok(at)
/// }
///
/// let frame = Frame::new(7, Message::TimeoutNow(TimeoutNowRequest { term: 3, leader_id: Id::try_from("node-1").unwrap() }));
/// let mut wire = bytes::BytesMut::new();
/// encode(&frame, &mut wire).unwrap();
/// encode(&frame, &mut wire).unwrap();
/// let whole = wire.len();
/// assert_eq!(handle(&wire[..whole - 5]).unwrap(), whole / 2);
/// assert_eq!(handle(&wire).unwrap(), whole);
/// ```
#[inline]
pub fn decode_ref_at<'a>(input: &'a [u8], at: usize, limits: &Limits) -> Result<Progress<FrameRef<'a>>, DecodeError> {
    let rest = input.get(at..).unwrap_or_default();
    match frame_extent(rest, at as u64, limits)? {
        Err(needed) => Ok(Progress::NeedMore { needed }),
        Ok((header, len)) => {
            let frame = view_checked(&header, input, at, at as u64)?;
            Ok(Progress::Frame { frame, len })
        }
    }
}

/// Checks the frame that starts at `input[start]` (absolute offset `offset`; its header already
/// judged valid and all of its bytes present) and views it: payload CRC, then body.
#[inline(always)]
pub(crate) fn view_checked<'a>(
    header: &FrameHeader,
    input: &'a [u8],
    start: usize,
    offset: u64,
) -> Result<FrameRef<'a>, DecodeError> {
    let payload = checked_payload(header, input, start, offset)?;
    let message = MessageRef::decode_body(header.message_type, payload)
        .map_err(|e| e.locate(offset + HEADER_LEN as u64, payload.len()))?;
    Ok(FrameRef {
        request_id: header.request_id,
        message,
    })
}

/// Decodes a buffer that must hold exactly one frame, with the default [`Limits`].
#[inline]
pub fn decode_ref(input: &[u8]) -> Result<FrameRef<'_>, DecodeError> {
    decode_ref_with(input, &Limits::default())
}

/// Decodes a buffer that must hold exactly one frame: a short buffer is `truncated_frame`
/// (FRAME-10), bytes after the frame are `trailing_bytes` (FRAME-9), as for
/// [`decode_with`](crate::decode_with).
#[inline]
pub fn decode_ref_with<'a>(input: &'a [u8], limits: &Limits) -> Result<FrameRef<'a>, DecodeError> {
    only_frame(decode_ref_at(input, 0, limits)?, input.len())
}
