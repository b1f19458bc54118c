//! TimeoutNow and its response: a leader hands over leadership by telling a follower to start an
//! election now (`SPEC.md` §5.4).

use bytes::Bytes;

use super::id::Id;
use crate::error::EncodeError;
use crate::wire::{bool_field, id_field, nonzero_term, u64_field, PResult, Writer};

/// Tells the target to time out and campaign immediately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutNowRequest {
    /// The leader's term (MSG-1).
    pub term: u64,
    /// The leader's server id.
    pub leader_id: Id,
}

/// A TimeoutNow request as a borrowed view of its frame ([`crate::decode_ref`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutNowRef<'a> {
    /// The leader's term (MSG-1).
    pub term: u64,
    /// The leader's server id (1-255 bytes).
    pub leader_id: &'a [u8],
}

impl<'a> TimeoutNowRef<'a> {
    /// The owned request; a long leader id is shared from `buffer` (copied if outside it).
    #[inline]
    pub fn to_owned_in(&self, buffer: &Bytes) -> TimeoutNowRequest {
        TimeoutNowRequest {
            term: self.term,
            leader_id: Id::from_checked(buffer, self.leader_id),
        }
    }

    /// Whether the owned request decoded from the payload `p` keeps a handle on its frame: when
    /// its leader id, the body's last field after the term and its own length byte, is too long
    /// to be held inline (a guess for a malformed payload: `frame::take_owned`).
    #[inline]
    pub(crate) fn owned_keeps_frame(p: &[u8]) -> bool {
        !Id::fits_inline(p.len().saturating_sub(8 + 1))
    }

    #[inline]
    pub(crate) fn decode(i: &'a [u8]) -> PResult<'a, Self> {
        let at = i;
        let (i, term) = u64_field("term")(i)?;
        nonzero_term(term).map_err(|v| v.at(at, "term"))?;
        let (i, leader) = id_field("leader_id")(i)?;
        Ok((
            i,
            TimeoutNowRef {
                term,
                leader_id: leader,
            },
        ))
    }
}

impl TimeoutNowRequest {
    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.check(nonzero_term(self.term), "term")?;
        w.u64(self.term);
        w.id(self.leader_id.as_bytes());
        Ok(())
    }
}

/// The target's acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutNowResponse {
    /// The target's term (MSG-1).
    pub term: u64,
    /// Whether it started an election.
    pub success: bool,
}

impl TimeoutNowResponse {
    #[inline]
    pub(crate) fn decode(i: &[u8]) -> PResult<'_, Self> {
        let at = i;
        let (i, term) = u64_field("term")(i)?;
        nonzero_term(term).map_err(|v| v.at(at, "term"))?;
        let (i, success) = bool_field("success")(i)?;
        Ok((i, TimeoutNowResponse { term, success }))
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.check(nonzero_term(self.term), "term")?;
        w.u64(self.term);
        w.bool(self.success);
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for TimeoutNowRequest {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(TimeoutNowRequest {
            term: u.int_in_range(1..=u64::MAX)?,
            leader_id: u.arbitrary()?,
        })
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for TimeoutNowResponse {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(TimeoutNowResponse {
            term: u.int_in_range(1..=u64::MAX)?,
            success: u.arbitrary()?,
        })
    }
}
