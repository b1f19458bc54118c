//! The decoding and encoding vocabulary every message body is written in.
//!
//! Field parsers are nom parsers over the payload slice (complete mode: the frame layer only hands
//! a body parser a whole, CRC-checked payload, so "incomplete" cannot happen here and any shortage
//! is a `truncated_body` error). They carry the field's `SPEC.md` name so errors say what was
//! wrong, and record how much input remained so the frame layer can turn that into an absolute
//! byte offset. [`Writer`] mirrors them for the encoder.

use std::ops::Range;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use nom::error::{ErrorKind, ParseError};
use nom::IResult;

use crate::error::{DecodeError, EncodeError, ErrorCode, Expected};

/// A body-level failure, positioned by the input that remained when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError {
    /// Bytes of payload left at the start of the offending field.
    pub remaining: usize,
    pub code: ErrorCode,
    pub field: &'static str,
    pub found: u64,
    pub expected: Expected,
}

impl WireError {
    /// The absolute error, for a payload of `payload_len` bytes starting at `payload_offset`.
    pub fn locate(self, payload_offset: u64, payload_len: usize) -> DecodeError {
        DecodeError {
            code: self.code,
            offset: payload_offset + payload_len.saturating_sub(self.remaining) as u64,
            field: self.field,
            found: self.found,
            expected: self.expected,
        }
    }
}

impl<'a> ParseError<&'a [u8]> for WireError {
    /// nom's complete-mode primitives only fail for lack of input.
    fn from_error_kind(input: &'a [u8], _kind: ErrorKind) -> Self {
        WireError {
            remaining: input.len(),
            code: ErrorCode::TruncatedBody,
            field: "body",
            found: input.len() as u64,
            expected: Expected::AtLeast(input.len() as u64 + 1),
        }
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// The result type of every body parser.
pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, WireError>;

/// A broken rule, before it is positioned: what the rule checkers shared by decoder and encoder return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Violation {
    pub code: ErrorCode,
    pub found: u64,
    pub expected: Expected,
}

impl Violation {
    pub fn new(code: ErrorCode, found: u64, expected: Expected) -> Self {
        Violation { code, found, expected }
    }

    /// As a positioned error at the field that starts where `at` does.
    pub fn wire(self, at: &[u8], field: &'static str) -> WireError {
        WireError {
            remaining: at.len(),
            code: self.code,
            field,
            found: self.found,
            expected: self.expected,
        }
    }

    /// As a decoder failure at the field that starts where `at` does. `Failure`, not `Error`:
    /// the input was recognised and is wrong, nothing should backtrack and try another reading.
    pub fn at(self, at: &[u8], field: &'static str) -> nom::Err<WireError> {
        nom::Err::Failure(self.wire(at, field))
    }
}

/// MSG-1: terms on the wire are at least 1.
pub(crate) fn nonzero_term(term: u64) -> Rule {
    if term == 0 {
        Err(Violation::new(ErrorCode::ZeroTerm, 0, Expected::NonZero))
    } else {
        Ok(())
    }
}

/// Shorthand for a rule check that passes or names its violation.
pub(crate) type Rule = Result<(), Violation>;

fn short(at: &[u8], field: &'static str, width: u64) -> nom::Err<WireError> {
    Violation::new(ErrorCode::TruncatedBody, at.len() as u64, Expected::AtLeast(width)).at(at, field)
}

/// Fixed-width big-endian fields, as nom parsers (`fn(&[u8]) -> IResult`), written out rather than
/// taken from `nom::number`: nom 8's `be_u64` accumulates byte by byte in a closure that is not
/// inlined, and measured here it cost a third of the decode time of a small frame. A single
/// `from_be_bytes` load is the same parser, strictly, at a fraction of the cost.
macro_rules! be_field {
    ($name:ident, $t:ty, $n:literal) => {
        #[doc = concat!("A big-endian `", stringify!($t), "` field.")]
        #[inline]
        pub(crate) fn $name(field: &'static str) -> impl Fn(&[u8]) -> PResult<'_, $t> {
            move |i: &[u8]| match i.split_first_chunk::<$n>() {
                Some((head, rest)) => Ok((rest, <$t>::from_be_bytes(*head))),
                None => Err(short(i, field, $n)),
            }
        }
    };
}

be_field!(u64_field, u64, 8);
be_field!(u32_field, u32, 4);
be_field!(u16_field, u16, 2);
be_field!(u8_field, u8, 1);

/// A boolean: exactly 0 or 1 (FIELD-2); any other byte would give a second encoding of a value.
pub(crate) fn bool_field(field: &'static str) -> impl Fn(&[u8]) -> PResult<'_, bool> {
    move |i| {
        let (rest, b) = u8_field(field)(i)?;
        match b {
            0 => Ok((rest, false)),
            1 => Ok((rest, true)),
            other => Err(Violation::new(ErrorCode::BadBool, other as u64, Expected::OneOf(&[0, 1])).at(i, field)),
        }
    }
}

/// `len` bytes after a length prefix that started at `prefix_at`; a claim past the end of the
/// payload is FIELD-1, reported at the prefix with the claimed length.
pub(crate) fn take_claimed<'a>(
    prefix_at: &'a [u8],
    rest: &'a [u8],
    len: usize,
    field: &'static str,
) -> PResult<'a, &'a [u8]> {
    match (rest.get(..len), rest.get(len..)) {
        (Some(data), Some(after)) => Ok((after, data)),
        _ => Err(Violation::new(
            ErrorCode::TruncatedBody,
            len as u64,
            Expected::AtMost(rest.len() as u64),
        )
        .at(prefix_at, field)),
    }
}

/// An identifier: a u8 length of 1-255, then that many bytes (FIELD-4).
pub(crate) fn id_field(field: &'static str) -> impl Fn(&[u8]) -> PResult<'_, &[u8]> {
    move |i| {
        let (rest, len) = u8_field(field)(i)?;
        if len == 0 {
            return Err(Violation::new(ErrorCode::EmptyId, 0, Expected::AtLeast(1)).at(i, field));
        }
        take_claimed(i, rest, len as usize, field)
    }
}

/// Opaque data: a u32 length, then that many bytes.
pub(crate) fn blob_field(field: &'static str) -> impl Fn(&[u8]) -> PResult<'_, &[u8]> {
    move |i| {
        let (rest, len) = u32_field(field)(i)?;
        take_claimed(i, rest, len as usize, field)
    }
}

/// Text: a u16 length of at most `max`, then that many bytes of UTF-8 (FIELD-5, FIELD-6).
pub(crate) fn text_field(field: &'static str, max: u16) -> impl Fn(&[u8]) -> PResult<'_, &str> {
    move |i| {
        let (rest, len) = u16_field(field)(i)?;
        if len > max {
            return Err(Violation::new(ErrorCode::TextTooLong, len as u64, Expected::AtMost(max as u64)).at(i, field));
        }
        let (after, raw) = take_claimed(i, rest, len as usize, field)?;
        match std::str::from_utf8(raw) {
            Ok(text) => Ok((after, text)),
            Err(e) => {
                let bad = raw.get(e.valid_up_to()..).unwrap_or_default();
                let found = bad.first().copied().unwrap_or_default();
                // Positioned at the first invalid byte, the most useful offset for a hex dump.
                let at_bad = rest.get(e.valid_up_to()..).unwrap_or_default();
                Err(Violation::new(ErrorCode::InvalidUtf8, found as u64, Expected::AtMost(0x7f)).at(at_bad, field))
            }
        }
    }
}

/// A count of elements, each at least `min_size` bytes: checked against what remains before any
/// caller allocates for it (FIELD-1), so a forged count cannot reserve memory.
pub(crate) fn count_field(field: &'static str, width: u8, min_size: usize) -> impl Fn(&[u8]) -> PResult<'_, usize> {
    move |i| {
        let (rest, count) = match width {
            2 => u16_field(field)(i).map(|(r, c)| (r, c as usize))?,
            _ => u32_field(field)(i).map(|(r, c)| (r, c as usize))?,
        };
        let available = rest.len() / min_size.max(1);
        if count > available {
            return Err(Violation::new(
                ErrorCode::TruncatedBody,
                count as u64,
                Expected::AtMost(available as u64),
            )
            .at(i, field));
        }
        Ok((rest, count))
    }
}

/// The end of the body: anything left over is FIELD-9's `trailing_bytes`.
pub(crate) fn end(i: &[u8]) -> PResult<'_, ()> {
    if i.is_empty() {
        Ok((i, ()))
    } else {
        Err(Violation::new(ErrorCode::TrailingBytes, i.len() as u64, Expected::End).at(i, "payload"))
    }
}

/// Turns a sub-slice of the payload back into a zero-copy `Bytes` handle. A slice from anywhere
/// else is copied rather than panicking as `Bytes::slice_ref` would: a wrong caller costs a copy,
/// never a crash.
#[inline]
pub(crate) fn share(payload: &Bytes, part: &[u8]) -> Bytes {
    match range_in(payload, part) {
        Some(range) => payload.slice(range),
        None => Bytes::copy_from_slice(part),
    }
}

/// Where `part` lies in `buffer`: `None` for an empty part or one from anywhere else.
#[inline]
pub(crate) fn range_in(buffer: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).wrapping_sub(buffer.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if !part.is_empty() && end <= buffer.len() => Some(start..end),
        _ => None,
    }
}

/// Bytes `at..at + 8` of `b` as a little-endian word, zeros past the end of `b`, read with at most
/// two loads: a short tail is covered by two overlapping reads whose shared bytes agree.
#[inline]
pub(crate) fn le_word(b: &[u8], at: usize) -> u64 {
    let rest = b.get(at..).unwrap_or_default();
    if let Some(w) = rest.first_chunk::<8>() {
        return u64::from_le_bytes(*w);
    }
    let n = rest.len();
    let (Some(head), Some(tail)) = (rest.first_chunk::<4>(), rest.last_chunk::<4>()) else {
        let (Some(head), Some(tail)) = (rest.first_chunk::<2>(), rest.last_chunk::<2>()) else {
            return rest.first().map_or(0, |&b| u64::from(b));
        };
        return u64::from(u16::from_le_bytes(*head)) | u64::from(u16::from_le_bytes(*tail)) << ((n - 2) * 8);
    };
    u64::from(u32::from_le_bytes(*head)) | u64::from(u32::from_le_bytes(*tail)) << ((n - 4) * 8)
}

/// `buffer` cut down to `range` (from [`range_in`] on the same buffer): the buffer's own handle
/// becomes the field's. [`share`] costs an atomic increment now and a decrement when the frame's
/// handle is dropped; a decoder that owns the frame's handle gives it to its last zero-copy field
/// instead, which brought the tokio codec level with `LengthDelimitedCodec` (BENCHMARKS.md).
#[inline(always)]
pub(crate) fn narrow(mut buffer: Bytes, range: Range<usize>) -> Bytes {
    if range.start > range.end || range.end > buffer.len() {
        // Not a range of this buffer: copy nothing rather than panic in `advance`.
        return Bytes::new();
    }
    buffer.truncate(range.end);
    buffer.advance(range.start);
    buffer
}

/// The encoder's mirror of the field parsers. It writes into the frame being built and knows
/// where each field lands, so a rule the message breaks is reported at the offset a receiver
/// would report.
pub(crate) struct Writer<'a> {
    buf: &'a mut BytesMut,
    frame_start: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut BytesMut, frame_start: usize) -> Self {
        Writer { buf, frame_start }
    }

    /// Offset of the next byte within the frame.
    pub fn offset(&self) -> u64 {
        (self.buf.len() - self.frame_start) as u64
    }

    /// What has been written from frame offset `offset` on.
    pub fn written_since(&self, offset: u64) -> &[u8] {
        let from = usize::try_from(offset).map_or(usize::MAX, |o| self.frame_start.saturating_add(o));
        self.buf.get(from..).unwrap_or_default()
    }

    /// Checks a rule for the field about to be written.
    pub fn check(&self, rule: Rule, field: &'static str) -> Result<(), EncodeError> {
        rule.map_err(|v| {
            EncodeError::Invalid(DecodeError {
                code: v.code,
                offset: self.offset(),
                field,
                found: v.found,
                expected: v.expected,
            })
        })
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.put_u64(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.put_u32(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.put_u16(v);
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.put_u8(v);
    }
    pub fn bool(&mut self, v: bool) {
        self.buf.put_u8(v as u8);
    }

    /// An identifier (length already guaranteed 1-255 by the type that holds it).
    pub fn id(&mut self, id: &[u8]) {
        self.buf.put_u8(id.len() as u8);
        self.buf.put_slice(id);
    }

    /// Opaque data with a u32 length.
    pub fn blob(&mut self, field: &'static str, data: &[u8]) -> Result<(), EncodeError> {
        let len = fits::<u32>(field, data.len(), 32)?;
        self.buf.put_u32(len);
        self.buf.put_slice(data);
        Ok(())
    }

    /// Text with a u16 length of at most `max`.
    pub fn text(&mut self, field: &'static str, text: &str, max: u16) -> Result<(), EncodeError> {
        let len = text.len();
        self.check(
            if len > max as usize {
                Err(Violation::new(
                    ErrorCode::TextTooLong,
                    len as u64,
                    Expected::AtMost(max as u64),
                ))
            } else {
                Ok(())
            },
            field,
        )?;
        self.buf.put_u16(len as u16);
        self.buf.put_slice(text.as_bytes());
        Ok(())
    }
}

/// Converts a length or count to its wire width, refusing (never truncating) what does not fit:
/// tokio-util's length codec once truncated such lengths silently and desynchronised its peers.
pub(crate) fn fits<T: TryFrom<usize>>(field: &'static str, v: usize, bits: u8) -> Result<T, EncodeError> {
    T::try_from(v).map_err(|_| EncodeError::Unrepresentable {
        field,
        len: v as u64,
        bits,
    })
}
