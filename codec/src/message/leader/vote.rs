//! Vote and VoteResponse of the leader-id family (`SPEC.md` §5.7).

use super::{option_log_id_behind, option_log_id_field, request_vote_field, vote_field, LeaderVote, LogId};
use crate::error::EncodeError;
use crate::wire::{bool_field, PResult, Writer};

/// A candidate asks for a vote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VoteRequest {
    /// The candidate's vote (MSG-1; not committed, LV-1).
    pub vote: LeaderVote,
    /// The candidate's last log id; `None` for an empty log (LV-2: not newer than the vote).
    pub last_log_id: Option<LogId>,
}

/// A voter's answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct VoteResponse {
    /// The voter's vote after handling the request (term 0 from a node that never voted).
    pub vote: LeaderVote,
    /// Whether the vote was granted.
    pub granted: bool,
    /// The voter's last log id.
    pub last_log_id: Option<LogId>,
}

impl VoteRequest {
    pub(crate) fn decode(p: &[u8]) -> PResult<'_, Self> {
        let (i, vote) = request_vote_field(p, false)?;
        let (i, last_log_id) = option_log_id_behind(i, "last_log_id", &vote)?;
        Ok((i, VoteRequest { vote, last_log_id }))
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let start = w.offset();
        w.vote(&self.vote);
        w.option_log_id(&self.last_log_id);
        super::checked_body(w, start, |b: &[u8]| crate::message::whole(Self::decode(b)).map(|_| ()))
    }
}

impl VoteResponse {
    pub(crate) fn decode(p: &[u8]) -> PResult<'_, Self> {
        let (i, vote) = vote_field(p)?;
        let (i, granted) = bool_field("granted")(i)?;
        let (i, last_log_id) = option_log_id_field("last_log_id")(i)?;
        Ok((
            i,
            VoteResponse {
                vote,
                granted,
                last_log_id,
            },
        ))
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.vote(&self.vote);
        w.bool(self.granted);
        w.option_log_id(&self.last_log_id);
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for VoteRequest {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let vote = LeaderVote {
            term: u.int_in_range(1..=u64::MAX)?,
            node: u.arbitrary()?,
            committed: false,
        };
        let last_log_id = if u.arbitrary()? {
            let term = u.int_in_range(0..=vote.term - 1)?;
            Some(LogId {
                term,
                node: u.arbitrary()?,
                index: u.arbitrary()?,
            })
        } else {
            None
        };
        Ok(VoteRequest { vote, last_log_id })
    }
}
