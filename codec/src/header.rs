//! The 24-byte frame header: parsed once, checked completely before a single payload byte is
//! awaited, so a corrupted length can never make a receiver wait for (or allocate) a bogus payload.
//!
//! ```text
//!  0      4   5   6       8               16      20      24          24+L
//!  +------+---+---+-------+---------------+-------+-------+- - - - - -+-------+
//!  |marker|ver|typ| flags |  request id   |  len  |hdr crc|  payload  |pl crc |
//!  +------+---+---+-------+---------------+-------+-------+- - - - - -+-------+
//! ```

use bytes::{BufMut, BytesMut};
use nom::Parser;

use crate::error::{DecodeError, ErrorCode, Expected};
use crate::header_crc::{header_crc, COVERED};
use crate::limits::Limits;

/// The boundary marker: `C1 52 46 57` ("\xC1RFW").
///
/// 0xC1 is the one byte msgpack never uses, so the marker cannot be the first byte of a
/// hashicorp/raft request (rpc type 0-4), of a response (a msgpack string, 0xA0-0xBF or
/// 0xD9-0xDB), of any msgpack value, of a Consul/Nomad stream prefix (0x01-0x04), of a TLS record
/// (0x16) or of any ASCII protocol (HTTP, SSH, the HTTP/2 preface).
pub const MARKER: [u8; 4] = [0xC1, b'R', b'F', b'W'];
/// The only version this codec speaks.
pub const VERSION: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 24;
/// Length of the payload CRC that follows the payload.
pub const TRAILER_LEN: usize = 4;
/// Offsets of the header fields, used in error reports.
pub(crate) mod at {
    pub const VERSION: u64 = 4;
    pub const TYPE: u64 = 5;
    pub const FLAGS: u64 = 6;
    pub const REQUEST_ID: u64 = 8;
    pub const PAYLOAD_LEN: u64 = 16;
    pub const HEADER_CRC: u64 = 20;
}

/// The message types of RFW/1. Requests have the high bit clear, responses have it set, so the
/// direction of a frame is visible from one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[repr(u8)]
pub enum MessageType {
    /// RequestVote request.
    RequestVote = 0x01,
    /// AppendEntries request.
    AppendEntries = 0x02,
    /// InstallSnapshot request (one chunk).
    InstallSnapshot = 0x03,
    /// TimeoutNow request.
    TimeoutNow = 0x04,
    /// Vote request of the leader-id family (revision 1.1, `SPEC.md` §5.7).
    Vote = 0x11,
    /// Append request of the leader-id family.
    Append = 0x12,
    /// Snapshot chunk of the leader-id family.
    Snapshot = 0x13,
    /// Error response, sent instead of a typed response.
    Error = 0x80,
    /// RequestVote response.
    RequestVoteResponse = 0x81,
    /// AppendEntries response.
    AppendEntriesResponse = 0x82,
    /// InstallSnapshot response.
    InstallSnapshotResponse = 0x83,
    /// TimeoutNow response.
    TimeoutNowResponse = 0x84,
    /// Vote response of the leader-id family.
    VoteResponse = 0x91,
    /// Append response of the leader-id family.
    AppendResponse = 0x92,
    /// Snapshot response of the leader-id family.
    SnapshotResponse = 0x93,
}

/// Every defined type byte, for error reports.
const TYPE_BYTES: &[u64] = &[0x01, 0x02, 0x03, 0x04, 0x80, 0x81, 0x82, 0x83, 0x84];

impl MessageType {
    /// All message types, in type-byte order.
    pub const ALL: [MessageType; 15] = [
        MessageType::RequestVote,
        MessageType::AppendEntries,
        MessageType::InstallSnapshot,
        MessageType::TimeoutNow,
        MessageType::Vote,
        MessageType::Append,
        MessageType::Snapshot,
        MessageType::Error,
        MessageType::RequestVoteResponse,
        MessageType::AppendEntriesResponse,
        MessageType::InstallSnapshotResponse,
        MessageType::TimeoutNowResponse,
        MessageType::VoteResponse,
        MessageType::AppendResponse,
        MessageType::SnapshotResponse,
    ];

    /// The type for a type byte, if RFW/1 defines one.
    #[inline]
    pub fn from_byte(b: u8) -> Option<MessageType> {
        match b {
            0x01 => Some(MessageType::RequestVote),
            0x02 => Some(MessageType::AppendEntries),
            0x03 => Some(MessageType::InstallSnapshot),
            0x04 => Some(MessageType::TimeoutNow),
            0x11 => Some(MessageType::Vote),
            0x12 => Some(MessageType::Append),
            0x13 => Some(MessageType::Snapshot),
            0x80 => Some(MessageType::Error),
            0x81 => Some(MessageType::RequestVoteResponse),
            0x82 => Some(MessageType::AppendEntriesResponse),
            0x83 => Some(MessageType::InstallSnapshotResponse),
            0x84 => Some(MessageType::TimeoutNowResponse),
            0x91 => Some(MessageType::VoteResponse),
            0x92 => Some(MessageType::AppendResponse),
            0x93 => Some(MessageType::SnapshotResponse),
            _ => None,
        }
    }

    /// True for responses (including `Error`): the high bit of the type byte.
    pub fn is_response(self) -> bool {
        (self as u8) & 0x80 != 0
    }

    /// For a typed response, the request type it answers; `None` for requests and `Error`.
    pub fn answers(self) -> Option<MessageType> {
        match self {
            MessageType::RequestVoteResponse => Some(MessageType::RequestVote),
            MessageType::AppendEntriesResponse => Some(MessageType::AppendEntries),
            MessageType::InstallSnapshotResponse => Some(MessageType::InstallSnapshot),
            MessageType::TimeoutNowResponse => Some(MessageType::TimeoutNow),
            MessageType::VoteResponse => Some(MessageType::Vote),
            MessageType::AppendResponse => Some(MessageType::Append),
            MessageType::SnapshotResponse => Some(MessageType::Snapshot),
            _ => None,
        }
    }

    /// The name used in reports and `SPEC.md`.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::RequestVote => "RequestVote",
            MessageType::AppendEntries => "AppendEntries",
            MessageType::InstallSnapshot => "InstallSnapshot",
            MessageType::TimeoutNow => "TimeoutNow",
            MessageType::Error => "Error",
            MessageType::RequestVoteResponse => "RequestVoteResponse",
            MessageType::AppendEntriesResponse => "AppendEntriesResponse",
            MessageType::InstallSnapshotResponse => "InstallSnapshotResponse",
            MessageType::TimeoutNowResponse => "TimeoutNowResponse",
            MessageType::Vote => "Vote",
            MessageType::Append => "Append",
            MessageType::Snapshot => "Snapshot",
            MessageType::VoteResponse => "VoteResponse",
            MessageType::AppendResponse => "AppendResponse",
            MessageType::SnapshotResponse => "SnapshotResponse",
        }
    }
}

impl std::fmt::Display for MessageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A header that passed every FRAME-1..FRAME-7 check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The message type.
    pub message_type: MessageType,
    /// The request id (a response echoes its request's).
    pub request_id: u64,
    /// Payload length in bytes, already checked against the limit.
    pub payload_len: u32,
}

impl FrameHeader {
    /// Length of the whole frame: header, payload and payload CRC.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize + TRAILER_LEN
    }
}

/// What the start of a buffer holds, judged from the header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderProgress {
    /// The bytes so far are a valid header prefix; this many more are needed to judge it.
    NeedMore(usize),
    /// A complete header that passed FRAME-1 to FRAME-7.
    Complete(FrameHeader),
}

fn error(code: ErrorCode, offset: u64, field: &'static str, found: u64, expected: Expected) -> DecodeError {
    DecodeError {
        code,
        offset,
        field,
        found,
        expected,
    }
}

/// The raw header fields in wire order (the marker as one word; it was checked byte by byte).
type RawHeader = (u32, u8, u8, u16, u64, u32, u32);

/// nom over the fixed 24 bytes: one bounded slice, the field parsers composed as a nom tuple, so
/// no field parser ever sees an incomplete input and nothing here can report `Incomplete`.
#[inline]
fn raw_header(input: &[u8]) -> crate::wire::PResult<'_, RawHeader> {
    use crate::wire::{u16_field, u32_field, u64_field, u8_field};
    (
        u32_field("marker"),
        u8_field("version"),
        u8_field("type"),
        u16_field("flags"),
        u64_field("request_id"),
        u32_field("payload_len"),
        u32_field("header_crc"),
    )
        .parse_complete(input)
}

/// Checks the marker bytes present in `buf` (any prefix of a header), FRAME-1.
#[inline]
pub(crate) fn check_marker(buf: &[u8], base: u64) -> Result<(), DecodeError> {
    if buf.first_chunk::<4>() == Some(&MARKER) {
        return Ok(());
    }
    first_marker_mismatch(buf, base)
}

/// The slow path of [`check_marker`]: a short buffer, or the byte that differs.
fn first_marker_mismatch(buf: &[u8], base: u64) -> Result<(), DecodeError> {
    for (i, (&got, &want)) in buf.iter().zip(MARKER.iter()).enumerate() {
        if got != want {
            return Err(error(
                ErrorCode::BadMarker,
                base + i as u64,
                "marker",
                got as u64,
                Expected::Exactly(want as u64),
            ));
        }
    }
    Ok(())
}

/// Judges the header at the start of `buf`, whose first byte is at absolute offset `base`.
///
/// Checks run in the order `SPEC.md` fixes (marker, version, header CRC, type, flags, request id,
/// length), each as soon as the bytes it needs are present, so a prefix of a stream gets the same
/// verdict as the whole stream and a bad marker is reported on its first byte.
///
/// Validators use it to resynchronise: a marker followed by a header whose CRC verifies is, with
/// odds of 2^-32 against, a real frame start.
#[inline(always)]
pub fn decode_header(buf: &[u8], base: u64, limits: &Limits) -> Result<HeaderProgress, DecodeError> {
    match buf
        .first_chunk::<HEADER_LEN>()
        .and_then(|head| valid_header(head, limits))
    {
        Some(header) => Ok(HeaderProgress::Complete(header)),
        None => judge_header(buf, base, limits),
    }
}

/// The header, if these 24 bytes are a valid one: every rule of [`judge_header`] as one
/// conjunction, with no error to build.
///
/// Why a second form of the same rules: the full judgement returns a large `Result` through
/// memory, and reading the header back out of it stalled on store forwarding, a fifth of
/// decoding a small frame (`perf annotate`, BENCHMARKS.md). This form is inlined and keeps the
/// header in registers. It only ever accepts: anything it refuses is judged by
/// [`judge_header`], which names the error, and a test holds the two to the same verdict.
#[inline(always)]
pub(crate) fn valid_header(head: &[u8; HEADER_LEN], limits: &Limits) -> Option<FrameHeader> {
    let (marker, rest) = head.split_first_chunk::<4>()?;
    let (&[version, ty], rest) = rest.split_first_chunk::<2>()?;
    let (flags, rest) = rest.split_first_chunk::<2>()?;
    let (request_id, rest) = rest.split_first_chunk::<8>()?;
    let (len, crc) = rest.split_first_chunk::<4>()?;
    let covered = head.first_chunk::<COVERED>()?;
    let request_id = u64::from_be_bytes(*request_id);
    let payload_len = u32::from_be_bytes(*len);
    let valid = *marker == MARKER
        && version == VERSION
        && u32::from_be_bytes(*crc.first_chunk::<4>()?) == header_crc(covered)
        && *flags == [0, 0]
        && request_id != 0
        && payload_len <= limits.max_payload_len;
    if !valid {
        return None;
    }
    Some(FrameHeader {
        message_type: MessageType::from_byte(ty)?,
        request_id,
        payload_len,
    })
}

/// The full judgement of [`decode_header`], check by check in the order `SPEC.md` fixes, naming
/// the first rule broken.
#[inline(never)]
pub(crate) fn judge_header(buf: &[u8], base: u64, limits: &Limits) -> Result<HeaderProgress, DecodeError> {
    check_marker(buf, base)?;
    if let Some(&version) = buf.get(at::VERSION as usize) {
        if version != VERSION {
            return Err(error(
                ErrorCode::UnsupportedVersion,
                base + at::VERSION,
                "version",
                version as u64,
                Expected::Exactly(VERSION as u64),
            ));
        }
    }
    let Some(head) = buf.get(..HEADER_LEN) else {
        return Ok(HeaderProgress::NeedMore(HEADER_LEN - buf.len()));
    };
    // A 24-byte slice always holds every field: the Err arm is unreachable, but handled as a
    // truncated frame rather than a panic.
    let Ok((_, (_, _, ty, flags, request_id, len, crc))) = raw_header(head) else {
        return Err(error(
            ErrorCode::TruncatedFrame,
            base,
            "header",
            buf.len() as u64,
            Expected::AtLeast(HEADER_LEN as u64),
        ));
    };
    let computed = head.first_chunk::<COVERED>().map_or(!crc, header_crc);
    if computed != crc {
        return Err(error(
            ErrorCode::HeaderCrcMismatch,
            base + at::HEADER_CRC,
            "header_crc",
            crc as u64,
            Expected::Exactly(computed as u64),
        ));
    }
    let Some(message_type) = MessageType::from_byte(ty) else {
        return Err(error(
            ErrorCode::UnknownType,
            base + at::TYPE,
            "type",
            ty as u64,
            Expected::OneOf(TYPE_BYTES),
        ));
    };
    if flags != 0 {
        return Err(error(
            ErrorCode::ReservedFlags,
            base + at::FLAGS,
            "flags",
            flags as u64,
            Expected::Exactly(0),
        ));
    }
    if request_id == 0 {
        return Err(error(
            ErrorCode::ZeroRequestId,
            base + at::REQUEST_ID,
            "request_id",
            0,
            Expected::NonZero,
        ));
    }
    if len > limits.max_payload_len {
        return Err(error(
            ErrorCode::LengthOverLimit,
            base + at::PAYLOAD_LEN,
            "payload_len",
            len as u64,
            Expected::AtMost(limits.max_payload_len as u64),
        ));
    }
    Ok(HeaderProgress::Complete(FrameHeader {
        message_type,
        request_id,
        payload_len: len,
    }))
}

/// Appends a header for `message_type`/`request_id` with a zero length and CRC; the frame encoder
/// calls [`seal_header`] once the payload length is known.
pub(crate) fn put_header(dst: &mut BytesMut, message_type: MessageType, request_id: u64) {
    dst.put_slice(&MARKER);
    dst.put_u8(VERSION);
    dst.put_u8(message_type as u8);
    dst.put_u16(0);
    dst.put_u64(request_id);
    dst.put_u32(0);
    dst.put_u32(0);
}

/// Writes the payload length and the header CRC into a header written by [`put_header`].
pub(crate) fn seal_header(header: &mut [u8], payload_len: u32) {
    if let Some(len) = header.get_mut(at::PAYLOAD_LEN as usize..at::HEADER_CRC as usize) {
        len.copy_from_slice(&payload_len.to_be_bytes());
    }
    let crc = header.first_chunk::<COVERED>().map_or(0, header_crc);
    if let Some(slot) = header.get_mut(at::HEADER_CRC as usize..HEADER_LEN) {
        slot.copy_from_slice(&crc.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verdict of the full judgement, as the fast form gives it.
    fn judged(head: &[u8; HEADER_LEN], limits: &Limits) -> Option<FrameHeader> {
        match judge_header(head, 0, limits) {
            Ok(HeaderProgress::Complete(h)) => Some(h),
            _ => None,
        }
    }

    /// A valid header, CRC-sealed, for these fields.
    fn sealed(ty: u8, flags: u16, request_id: u64, len: u32) -> [u8; HEADER_LEN] {
        let mut head = [0u8; HEADER_LEN];
        head[..4].copy_from_slice(&MARKER);
        head[4] = VERSION;
        head[5] = ty;
        head[6..8].copy_from_slice(&flags.to_be_bytes());
        head[8..16].copy_from_slice(&request_id.to_be_bytes());
        head[16..20].copy_from_slice(&len.to_be_bytes());
        let crc = crc32fast::hash(&head[..COVERED]);
        head[20..].copy_from_slice(&crc.to_be_bytes());
        head
    }

    #[test]
    fn the_fast_header_check_accepts_exactly_what_the_judgement_accepts() {
        let limits = Limits { max_payload_len: 1000 };
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for round in 0..200_000 {
            // Sealed headers with fields near every rule's edge, then one byte or bit changed
            // (resealed or not), so both verdicts are reached in every field.
            let r = next();
            let ty = [0x00, 0x01, 0x04, 0x05, 0x80, 0x84, 0x85, 0xff][(r % 8) as usize];
            let flags = [0u16, 0, 0, 1, 0x8000][(r >> 3) as usize % 5];
            let request_id = [0u64, 1, u64::MAX, r >> 8][(r >> 6) as usize % 4];
            let len = [0u32, 999, 1000, 1001, u32::MAX][(r >> 9) as usize % 5];
            let mut head = sealed(ty, flags, request_id, len);
            if round % 3 != 0 {
                let at = (next() % HEADER_LEN as u64) as usize;
                head[at] ^= 1 << (next() % 8);
            }
            if round % 3 == 1 {
                let crc = crc32fast::hash(&head[..COVERED]);
                head[20..].copy_from_slice(&crc.to_be_bytes());
            }
            let fast = valid_header(&head, &limits);
            assert_eq!(fast, judged(&head, &limits), "{head:02x?}");
            accepted += usize::from(fast.is_some());
        }
        assert!(accepted > 10_000, "too few valid headers exercised: {accepted}");
    }

    #[test]
    fn from_byte_knows_exactly_the_defined_types() {
        for b in 0..=255u8 {
            let defined = MessageType::ALL.iter().copied().find(|t| *t as u8 == b);
            assert_eq!(MessageType::from_byte(b), defined, "{b:#04x}");
        }
    }
}
