//! RequestVote and its response (one body layout each, `SPEC.md` §5.1).

use bytes::Bytes;

use super::id::Id;
use crate::error::{EncodeError, ErrorCode, Expected};
use crate::wire::{bool_field, id_field, nonzero_term, u64_field, PResult, Rule, Violation, Writer};

/// A candidate asks for a vote (or, with `pre_vote`, whether it would get one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestVoteRequest {
    /// The candidate's term (MSG-1: at least 1).
    pub term: u64,
    /// Index of the candidate's last log entry (0 for an empty log).
    pub last_log_index: u64,
    /// Term of that entry (RV-1).
    pub last_log_term: u64,
    /// A pre-vote: asks without disrupting the cluster.
    pub pre_vote: bool,
    /// Sent on behalf of a leadership transfer (RV-2: never with `pre_vote`).
    pub leadership_transfer: bool,
    /// The candidate's server id.
    pub candidate_id: Id,
}

/// A RequestVote request as a borrowed view of its frame ([`crate::decode_ref`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestVoteRef<'a> {
    /// The candidate's term (MSG-1: at least 1).
    pub term: u64,
    /// Index of the candidate's last log entry (0 for an empty log).
    pub last_log_index: u64,
    /// Term of that entry (RV-1).
    pub last_log_term: u64,
    /// A pre-vote: asks without disrupting the cluster.
    pub pre_vote: bool,
    /// Sent on behalf of a leadership transfer (RV-2: never with `pre_vote`).
    pub leadership_transfer: bool,
    /// The candidate's server id (1-255 bytes).
    pub candidate_id: &'a [u8],
}

/// RV-1: `last_log_term` is 0 exactly when `last_log_index` is, and not above `term`.
fn last_log_consistent(last_log_index: u64, last_log_term: u64, term: u64) -> Rule {
    if (last_log_index == 0) != (last_log_term == 0) {
        let expected = if last_log_index == 0 {
            Expected::Exactly(0)
        } else {
            Expected::NonZero
        };
        return Err(Violation::new(ErrorCode::BadLastLog, last_log_term, expected));
    }
    if last_log_term > term {
        return Err(Violation::new(
            ErrorCode::BadLastLog,
            last_log_term,
            Expected::AtMost(term),
        ));
    }
    Ok(())
}

/// RV-2.
fn flags_compatible(pre_vote: bool, leadership_transfer: bool) -> Rule {
    if pre_vote && leadership_transfer {
        Err(Violation::new(ErrorCode::ConflictingVoteFlags, 1, Expected::Exactly(0)))
    } else {
        Ok(())
    }
}

impl<'a> RequestVoteRef<'a> {
    /// The owned request; a long candidate id is shared from `buffer` (copied if outside it).
    #[inline]
    pub fn to_owned_in(&self, buffer: &Bytes) -> RequestVoteRequest {
        RequestVoteRequest {
            term: self.term,
            last_log_index: self.last_log_index,
            last_log_term: self.last_log_term,
            pre_vote: self.pre_vote,
            leadership_transfer: self.leadership_transfer,
            candidate_id: Id::from_checked(buffer, self.candidate_id),
        }
    }

    /// Whether the owned request decoded from the payload `p` keeps a handle on its frame: when
    /// its candidate id is too long to be held inline. The id is the body's last field, after 26
    /// fixed bytes (term, last log index and term, two flags) and its length byte, so its length
    /// follows from the payload's (for a malformed payload the answer is only a guess, which
    /// costs a copy or a split, never a different result: `frame::take_owned`).
    #[inline]
    pub(crate) fn owned_keeps_frame(p: &[u8]) -> bool {
        !Id::fits_inline(p.len().saturating_sub(26 + 1))
    }

    #[inline]
    pub(crate) fn decode(i: &'a [u8]) -> PResult<'a, Self> {
        let at = i;
        let (i, term) = u64_field("term")(i)?;
        nonzero_term(term).map_err(|v| v.at(at, "term"))?;
        let (i, last_log_index) = u64_field("last_log_index")(i)?;
        let at = i;
        let (i, last_log_term) = u64_field("last_log_term")(i)?;
        last_log_consistent(last_log_index, last_log_term, term).map_err(|v| v.at(at, "last_log_term"))?;
        let (i, pre_vote) = bool_field("pre_vote")(i)?;
        let at = i;
        let (i, leadership_transfer) = bool_field("leadership_transfer")(i)?;
        flags_compatible(pre_vote, leadership_transfer).map_err(|v| v.at(at, "leadership_transfer"))?;
        let (i, candidate) = id_field("candidate_id")(i)?;
        Ok((
            i,
            RequestVoteRef {
                term,
                last_log_index,
                last_log_term,
                pre_vote,
                leadership_transfer,
                candidate_id: candidate,
            },
        ))
    }
}

impl RequestVoteRequest {
    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.check(nonzero_term(self.term), "term")?;
        w.u64(self.term);
        w.u64(self.last_log_index);
        w.check(
            last_log_consistent(self.last_log_index, self.last_log_term, self.term),
            "last_log_term",
        )?;
        w.u64(self.last_log_term);
        w.bool(self.pre_vote);
        w.check(
            flags_compatible(self.pre_vote, self.leadership_transfer),
            "leadership_transfer",
        )?;
        w.bool(self.leadership_transfer);
        w.id(self.candidate_id.as_bytes());
        Ok(())
    }
}

/// A voter's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestVoteResponse {
    /// The voter's term. The one term allowed to be 0 (MSG-1): a node that has never seen an
    /// election answers a pre-vote without adopting the candidate's term.
    pub term: u64,
    /// Whether the vote (or pre-vote) was granted.
    pub granted: bool,
}

impl RequestVoteResponse {
    #[inline]
    pub(crate) fn decode(i: &[u8]) -> PResult<'_, Self> {
        let (i, term) = u64_field("term")(i)?;
        let (i, granted) = bool_field("granted")(i)?;
        Ok((i, RequestVoteResponse { term, granted }))
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u64(self.term);
        w.bool(self.granted);
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for RequestVoteRequest {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let term = u.int_in_range(1..=u64::MAX)?;
        let last_log_index: u64 = u.arbitrary()?;
        let last_log_term = if last_log_index == 0 {
            0
        } else {
            u.int_in_range(1..=term)?
        };
        let pre_vote: bool = u.arbitrary()?;
        Ok(RequestVoteRequest {
            term,
            last_log_index,
            last_log_term,
            pre_vote,
            leadership_transfer: !pre_vote && u.arbitrary()?,
            candidate_id: u.arbitrary()?,
        })
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for RequestVoteResponse {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(RequestVoteResponse {
            term: u.arbitrary()?,
            granted: u.arbitrary()?,
        })
    }
}
