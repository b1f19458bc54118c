//! The leader-id family of revision 1.1 (`SPEC.md` §5.7): Vote, Append, Snapshot and their
//! responses, for Raft libraries whose leader ids are `(term, node)` (openraft).
//!
//! Why a family of its own rather than more fields on the classic bodies: the classic bodies are
//! fixed by version 1 (VER-2 lets a revision add types, never change a layout), and their log ids
//! are `(term, index)`, which under openraft's default leader ids does not name an entry.
//!
//! One validation path: every body is checked by its decoder, and the encoders write the fields
//! and then run that decoder over what they wrote ([`checked_body`]), so an encoder can never emit
//! what a receiver would reject, and the rules are written once.

mod append;
mod membership;
mod snapshot;
mod vote;

pub use append::{AppendRef, AppendRequest, AppendResponse, LogEntry, LogEntryKind, LogEntryRef};
pub use membership::{MemberNode, Membership, MembershipRef};
pub use snapshot::{SnapshotChunk, SnapshotChunkRef, SnapshotMeta, SnapshotMetaRef, SnapshotResponse};
pub use vote::{VoteRequest, VoteResponse};

use crate::error::{EncodeError, ErrorCode, Expected};
use crate::wire::{bool_field, u64_field, PResult, Rule, Violation, WireError, Writer};

/// A vote: who a node voted for in which term, and whether a quorum granted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct LeaderVote {
    /// The term.
    pub term: u64,
    /// The node voted for (the candidate or leader).
    pub node: u64,
    /// Granted by a quorum: the node is the elected leader of `(term, node)`.
    pub committed: bool,
}

/// A log id: the entry's leader id `(term, node)` and its index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct LogId {
    /// The term of the leader that created the entry.
    pub term: u64,
    /// The node of that leader.
    pub node: u64,
    /// The entry's index (the log starts at 0).
    pub index: u64,
}

impl LeaderVote {
    /// The vote's leader id, in the order leader ids are compared (term, then node).
    pub fn leader(&self) -> (u64, u64) {
        (self.term, self.node)
    }
}

impl LogId {
    /// The entry's leader id, in the order leader ids are compared (term, then node).
    pub fn leader(&self) -> (u64, u64) {
        (self.term, self.node)
    }
}

pub(crate) fn vote_field(i: &[u8]) -> PResult<'_, LeaderVote> {
    let (i, term) = u64_field("vote.term")(i)?;
    let (i, node) = u64_field("vote.node")(i)?;
    let (i, committed) = bool_field("vote.committed")(i)?;
    Ok((i, LeaderVote { term, node, committed }))
}

pub(crate) fn log_id_field(field: &'static str) -> impl Fn(&[u8]) -> PResult<'_, LogId> {
    move |i| {
        let (i, term) = u64_field(field)(i)?;
        let (i, node) = u64_field(field)(i)?;
        let (i, index) = u64_field(field)(i)?;
        Ok((i, LogId { term, node, index }))
    }
}

pub(crate) fn option_log_id_field(field: &'static str) -> impl Fn(&[u8]) -> PResult<'_, Option<LogId>> {
    move |i| {
        let (i, present) = bool_field(field)(i)?;
        if !present {
            return Ok((i, None));
        }
        let (i, id) = log_id_field(field)(i)?;
        Ok((i, Some(id)))
    }
}

/// MSG-1 and LV-1 for a request's vote, at the start of the payload `p`.
pub(crate) fn request_vote_field(p: &[u8], committed: bool) -> PResult<'_, LeaderVote> {
    let (i, vote) = vote_field(p)?;
    crate::wire::nonzero_term(vote.term).map_err(|v| v.at(p, "vote.term"))?;
    if vote.committed != committed {
        let at = p.get(16..).unwrap_or_default();
        return Err(Violation::new(
            ErrorCode::BadVoteCommit,
            vote.committed as u64,
            Expected::Exactly(committed as u64),
        )
        .at(at, "vote.committed"));
    }
    Ok((i, vote))
}

/// LV-2: a request's log id (other than an entry's) is not newer than its vote.
pub(crate) fn behind_vote(id: Option<LogId>, vote: &LeaderVote) -> Rule {
    match id {
        Some(id) if id.leader() > vote.leader() => Err(Violation::new(
            ErrorCode::LogIdAfterVote,
            id.term,
            Expected::AtMost(vote.term),
        )),
        _ => Ok(()),
    }
}

/// [`option_log_id_field`] followed by LV-2, reported at the log id's `term` (one byte after its
/// `present` flag).
pub(crate) fn option_log_id_behind<'a>(
    i: &'a [u8],
    field: &'static str,
    vote: &LeaderVote,
) -> PResult<'a, Option<LogId>> {
    let (rest, id) = option_log_id_field(field)(i)?;
    behind_vote(id, vote).map_err(|v| v.at(i.get(1..).unwrap_or_default(), field))?;
    Ok((rest, id))
}

impl Writer<'_> {
    pub(crate) fn vote(&mut self, v: &LeaderVote) {
        self.u64(v.term);
        self.u64(v.node);
        self.bool(v.committed);
    }

    pub(crate) fn log_id(&mut self, id: &LogId) {
        self.u64(id.term);
        self.u64(id.node);
        self.u64(id.index);
    }

    pub(crate) fn option_log_id(&mut self, id: &Option<LogId>) {
        self.bool(id.is_some());
        if let Some(id) = id {
            self.log_id(id);
        }
    }
}

/// Runs `decode` over the body the encoder has just written after `body_start` (the writer's
/// offset when the body began): a body the decoder rejects is refused with the decoder's own
/// error, at the offset a receiver would report. This is how every encoder of the family checks
/// its rules: the decoder's, and no second copy of them.
pub(crate) fn checked_body(
    w: &Writer<'_>,
    body_start: u64,
    decode: impl Fn(&[u8]) -> Result<(), WireError>,
) -> Result<(), EncodeError> {
    let body = w.written_since(body_start);
    match decode(body) {
        Ok(()) => Ok(()),
        Err(e) => Err(EncodeError::Invalid(e.locate(body_start, body.len()))),
    }
}
