//! Errors as data: a stable code, the requirement it enforces, where, and what was found.
//!
//! A CLI renders these, a transport logs and matches them, a test asserts them: so the error is an
//! enum-coded struct rather than a string, and each code names the `SPEC.md` requirement it enforces.

use std::fmt;

/// Every way an RFW/1 byte stream can be rejected. The `as_str` names are stable: tools, vectors
/// and users' alerting match on them. New codes may be added (hence `non_exhaustive`); existing
/// codes never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorCode {
    /// FRAME-1: the four bytes at a frame start are not the boundary marker.
    BadMarker,
    /// FRAME-2: the version byte is not 1.
    UnsupportedVersion,
    /// FRAME-3: the header CRC does not match the first 20 header bytes.
    HeaderCrcMismatch,
    /// FRAME-4: the message type byte names no RFW/1 message.
    UnknownType,
    /// FRAME-5: a reserved flag bit is set.
    ReservedFlags,
    /// FRAME-6: request id 0 is reserved.
    ZeroRequestId,
    /// FRAME-7: the payload length exceeds the receiver's maximum.
    LengthOverLimit,
    /// FRAME-8: the payload CRC does not match the payload.
    PayloadCrcMismatch,
    /// FRAME-9: the message body ended before the payload did.
    TrailingBytes,
    /// FRAME-10: the stream ended inside a frame.
    TruncatedFrame,
    /// FIELD-1: a field, count or length prefix runs past the end of the payload.
    TruncatedBody,
    /// FIELD-2: a boolean byte other than 0 or 1.
    BadBool,
    /// FIELD-3: a closed enumeration holds a value it does not define.
    UnknownEnum,
    /// FIELD-4: an identifier or address is empty.
    EmptyId,
    /// FIELD-5: a text field is not valid UTF-8.
    InvalidUtf8,
    /// FIELD-6: a text field is longer than its limit.
    TextTooLong,
    /// MSG-1: a term of zero.
    ZeroTerm,
    /// RV-1: the last-log fields contradict each other or the term.
    BadLastLog,
    /// RV-2: pre-vote and leadership transfer both set.
    ConflictingVoteFlags,
    /// AE-1: the previous-entry fields contradict each other or the term.
    BadPrevLog,
    /// AE-2: entry indices are not consecutive from `prev_log_index + 1`.
    EntryIndexGap,
    /// AE-3: an entry term decreases, is below `prev_log_term`, or is above the message term.
    EntryTermOrder,
    /// AE-4: a no-op or barrier entry carries data.
    EntryDataNotEmpty,
    /// AER-1: a successful response carries a conflict hint, or the hint is inconsistent.
    BadConflictHint,
    /// IS-1: the chunk's offset plus length exceeds the snapshot's total size.
    ChunkOutOfBounds,
    /// IS-2: `done` does not agree with whether this chunk reaches the total size.
    ChunkDoneMismatch,
    /// IS-3: the configuration is missing from the first chunk or present in a later one.
    ConfigurationPlacement,
    /// IS-4: the last-included index or term is zero, or the term is above the message term.
    BadSnapshotPoint,
    /// IS-5: a chunk that is not the last one carries no data.
    EmptyChunk,
    /// CONF-1: a configuration without a voter.
    NoVoter,
    /// CONF-2: a configuration names the same server twice.
    DuplicateServer,
    /// LV-1: a Vote's vote is committed, or an Append's or Snapshot's is not.
    BadVoteCommit,
    /// LV-2: a request's log id is newer than the request's own vote.
    LogIdAfterVote,
    /// MEM-1: membership ids not in strictly increasing order.
    IdsOutOfOrder,
    /// MEM-2: a voter id that names no node of the membership.
    VoterWithoutNode,
}

impl ErrorCode {
    /// Every code, in `SPEC.md` order.
    pub const ALL: &'static [ErrorCode] = &[
        Self::BadMarker,
        Self::UnsupportedVersion,
        Self::HeaderCrcMismatch,
        Self::UnknownType,
        Self::ReservedFlags,
        Self::ZeroRequestId,
        Self::LengthOverLimit,
        Self::PayloadCrcMismatch,
        Self::TrailingBytes,
        Self::TruncatedFrame,
        Self::TruncatedBody,
        Self::BadBool,
        Self::UnknownEnum,
        Self::EmptyId,
        Self::InvalidUtf8,
        Self::TextTooLong,
        Self::ZeroTerm,
        Self::BadLastLog,
        Self::ConflictingVoteFlags,
        Self::BadPrevLog,
        Self::EntryIndexGap,
        Self::EntryTermOrder,
        Self::EntryDataNotEmpty,
        Self::BadConflictHint,
        Self::ChunkOutOfBounds,
        Self::ChunkDoneMismatch,
        Self::ConfigurationPlacement,
        Self::BadSnapshotPoint,
        Self::EmptyChunk,
        Self::NoVoter,
        Self::DuplicateServer,
        Self::BadVoteCommit,
        Self::LogIdAfterVote,
        Self::IdsOutOfOrder,
        Self::VoterWithoutNode,
    ];

    /// The stable machine-readable name, e.g. `payload_crc_mismatch`.
    pub fn as_str(self) -> &'static str {
        self.info().0
    }

    /// The `SPEC.md` requirement this code enforces, e.g. `FRAME-8`.
    pub fn requirement(self) -> &'static str {
        self.info().1
    }

    /// What a person should conclude or do, in one sentence.
    pub fn hint(self) -> &'static str {
        self.info().2
    }

    /// Looks a code up by its stable name (the inverse of [`ErrorCode::as_str`]).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    fn info(self) -> (&'static str, &'static str, &'static str) {
        use ErrorCode::*;
        match self {
            BadMarker => ("bad_marker", "FRAME-1", "these bytes are not the start of an RFW/1 frame: the peer speaks another protocol, or the stream lost its place (interleaved writers, a dropped segment)"),
            UnsupportedVersion => ("unsupported_version", "FRAME-2", "the peer speaks a different RFW version; upgrade one side"),
            HeaderCrcMismatch => ("header_crc_mismatch", "FRAME-3", "the 24-byte header was corrupted in transit or by a concurrent writer; none of its fields can be trusted"),
            UnknownType => ("unknown_type", "FRAME-4", "the header is intact but names a message type this version does not define; the peer is newer or buggy"),
            ReservedFlags => ("reserved_flags", "FRAME-5", "the peer set flag bits RFW/1 reserves; it is newer or buggy"),
            ZeroRequestId => ("zero_request_id", "FRAME-6", "request id 0 is reserved; the sender forgot to assign an id"),
            LengthOverLimit => ("length_over_limit", "FRAME-7", "the payload is larger than this receiver accepts; raise the limit on both sides or send smaller messages"),
            PayloadCrcMismatch => ("payload_crc_mismatch", "FRAME-8", "the payload was corrupted in transit or overwritten by a concurrent writer"),
            TrailingBytes => ("trailing_bytes", "FRAME-9", "the payload holds bytes after the message body; the sender's encoder and ours disagree on the layout"),
            TruncatedFrame => ("truncated_frame", "FRAME-10", "the stream ended inside a frame: the connection was cut or the capture is incomplete"),
            TruncatedBody => ("truncated_body", "FIELD-1", "a field or length prefix claims more bytes than the payload holds"),
            BadBool => ("bad_bool", "FIELD-2", "a boolean must be exactly 0 or 1"),
            UnknownEnum => ("unknown_enum", "FIELD-3", "an enumerated field holds a value RFW/1 does not define"),
            EmptyId => ("empty_id", "FIELD-4", "identifiers and addresses must not be empty"),
            InvalidUtf8 => ("invalid_utf8", "FIELD-5", "a text field must be UTF-8"),
            TextTooLong => ("text_too_long", "FIELD-6", "a text field is longer than its limit"),
            ZeroTerm => ("zero_term", "MSG-1", "Raft terms start at 1 on the wire; a zero term means an uninitialised field"),
            BadLastLog => ("bad_last_log", "RV-1", "last_log_term must be 0 exactly when last_log_index is 0, and never above the term"),
            ConflictingVoteFlags => ("conflicting_vote_flags", "RV-2", "a pre-vote is never part of a leadership transfer"),
            BadPrevLog => ("bad_prev_log", "AE-1", "prev_log_term must be 0 exactly when prev_log_index is 0, and never above the term"),
            EntryIndexGap => ("entry_index_gap", "AE-2", "entries must be consecutive, starting right after prev_log_index"),
            EntryTermOrder => ("entry_term_order", "AE-3", "entry terms must not decrease, start below prev_log_term, or exceed the leader's term"),
            EntryDataNotEmpty => ("entry_data_not_empty", "AE-4", "no-op and barrier entries carry no data"),
            BadConflictHint => ("bad_conflict_hint", "AER-1", "a conflict hint is only sent on failure, and a conflict term needs a conflict index"),
            ChunkOutOfBounds => ("chunk_out_of_bounds", "IS-1", "the chunk ends past the snapshot's total size"),
            ChunkDoneMismatch => ("chunk_done_mismatch", "IS-2", "done must be set exactly on the chunk that reaches the total size"),
            ConfigurationPlacement => ("configuration_placement", "IS-3", "the configuration travels in the first chunk (offset 0) only"),
            BadSnapshotPoint => ("bad_snapshot_point", "IS-4", "a snapshot's last included index and term are at least 1 and the term is not above the message term"),
            EmptyChunk => ("empty_chunk", "IS-5", "every chunk but the last carries at least one byte"),
            NoVoter => ("no_voter", "CONF-1", "a configuration needs at least one voter"),
            DuplicateServer => ("duplicate_server", "CONF-2", "a configuration lists each server id once"),
            BadVoteCommit => ("bad_vote_commit", "LV-1", "a candidate's vote is never committed, and only a committed leader appends or sends a snapshot"),
            LogIdAfterVote => ("log_id_after_vote", "LV-2", "nothing in a node's log is newer than its own vote: the log id or the vote is corrupt"),
            IdsOutOfOrder => ("ids_out_of_order", "MEM-1", "membership voter and node ids are listed once each, in increasing order"),
            VoterWithoutNode => ("voter_without_node", "MEM-2", "every voter of a membership must be one of its nodes"),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rejected field should have held. Data, so it can be compared in tests and rendered in
/// reports; `Display` reads as the end of a sentence ("expected ...").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    /// Exactly this value.
    Exactly(u64),
    /// Any value up to and including this.
    AtMost(u64),
    /// Any value from this up.
    AtLeast(u64),
    /// One of these values.
    OneOf(&'static [u64]),
    /// Any value but zero.
    NonZero,
    /// The end of the payload or stream (nothing more).
    End,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Exactly(v) => write!(f, "{v:#x}"),
            Expected::AtMost(v) => write!(f, "at most {v}"),
            Expected::AtLeast(v) => write!(f, "at least {v}"),
            Expected::OneOf(vs) => {
                f.write_str("one of ")?;
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v:#x}")?;
                }
                Ok(())
            }
            Expected::NonZero => f.write_str("non-zero"),
            Expected::End => f.write_str("nothing more"),
        }
    }
}

/// Why a frame or stream was rejected, and exactly where.
///
/// `offset` is the absolute byte offset, within the stream (or buffer) given to the decoder, of the
/// first byte of the offending field; `found` is what that field held (for length problems, the
/// number of bytes that were available).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {} ({}, {}): {}", .code.as_str(), .code.requirement(), .field, self.finding())]
pub struct DecodeError {
    /// The stable error code.
    pub code: ErrorCode,
    /// Absolute byte offset of the offending field.
    pub offset: u64,
    /// The name of the offending field, as `SPEC.md` spells it.
    pub field: &'static str,
    /// The value found (see the type's documentation for length problems).
    pub found: u64,
    /// What the field should have held.
    pub expected: Expected,
}

impl DecodeError {
    /// What was found against what was expected, and the hint: the error without its place and
    /// code. Values compared with exact values (markers, types, CRCs) are in hex, counts and
    /// lengths in decimal, so one line never mixes bases for one quantity.
    pub fn finding(&self) -> String {
        let found = match self.expected {
            Expected::Exactly(_) | Expected::OneOf(_) => format!("{:#x}", self.found),
            _ => self.found.to_string(),
        };
        format!("found {found}, expected {}; {}", self.expected, self.code.hint())
    }

    /// The `SPEC.md` requirement this error enforces.
    pub fn requirement(&self) -> &'static str {
        self.code.requirement()
    }
}

/// Why the encoder refused to write a frame. Nothing is left in the output buffer when it does:
/// a refused frame can never be half-sent and misread.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The payload would exceed the configured maximum payload length (FRAME-7).
    #[error("payload of {len} bytes exceeds the maximum of {max} (FRAME-7); raise Limits::max_payload_len on both peers or split the message")]
    PayloadTooLarge {
        /// Encoded payload length.
        len: u64,
        /// The configured maximum.
        max: u32,
    },
    /// A count or length does not fit the width of its wire field.
    #[error("{field} of {len} does not fit its {bits}-bit wire field")]
    Unrepresentable {
        /// The field, as `SPEC.md` spells it.
        field: &'static str,
        /// The value that does not fit.
        len: u64,
        /// The field's width.
        bits: u8,
    },
    /// The message breaks a rule the decoder enforces, so a receiver would reject it.
    #[error("message would be rejected by a receiver: {0}")]
    Invalid(DecodeError),
}

impl EncodeError {
    /// The stable error code, when the refusal corresponds to a decoder check.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            EncodeError::PayloadTooLarge { .. } => Some(ErrorCode::LengthOverLimit),
            EncodeError::Unrepresentable { .. } => None,
            EncodeError::Invalid(e) => Some(e.code),
        }
    }
}
