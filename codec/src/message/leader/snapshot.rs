//! Snapshot and SnapshotResponse of the leader-id family (`SPEC.md` §5.7): a snapshot in chunks,
//! its metadata (last log id, membership and that membership's log id) in the first.

use bytes::Bytes;

use super::membership::{Membership, MembershipRef};
use super::{option_log_id_behind, request_vote_field, vote_field, LeaderVote, LogId};
use crate::error::{EncodeError, ErrorCode, Expected};
use crate::message::install_snapshot::chunk_consistent;
use crate::wire::{blob_field, bool_field, text_field, u64_field, PResult, Violation, Writer};

/// Longest snapshot id, in bytes.
pub const MAX_SNAPSHOT_ID_LEN: u16 = 1024;

/// What a snapshot covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// The last log id the snapshot covers (`None` for a snapshot of an empty log).
    pub last_log_id: Option<LogId>,
    /// The log id of the membership in force at that point (IS-4).
    pub membership_log_id: Option<LogId>,
    /// That membership (empty exactly when `membership_log_id` is `None`).
    pub membership: Membership,
}

/// [`SnapshotMeta`] borrowed from its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotMetaRef<'a> {
    /// The last log id the snapshot covers.
    pub last_log_id: Option<LogId>,
    /// The log id of the membership in force at that point.
    pub membership_log_id: Option<LogId>,
    /// That membership.
    pub membership: MembershipRef<'a>,
}

/// One chunk of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotChunk {
    /// The leader's vote (committed, LV-1).
    pub vote: LeaderVote,
    /// Size of the whole snapshot in bytes.
    pub total_size: u64,
    /// Where this chunk's data starts in the snapshot.
    pub offset: u64,
    /// True on the chunk that completes the snapshot (IS-2).
    pub done: bool,
    /// Identifies the snapshot across its chunks.
    pub snapshot_id: String,
    /// The metadata: in the chunk at offset 0 only (IS-3).
    pub meta: Option<SnapshotMeta>,
    /// This chunk's bytes.
    pub data: Bytes,
}

/// [`SnapshotChunk`] borrowed from its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotChunkRef<'a> {
    /// The leader's vote.
    pub vote: LeaderVote,
    /// Size of the whole snapshot in bytes.
    pub total_size: u64,
    /// Where this chunk's data starts in the snapshot.
    pub offset: u64,
    /// True on the chunk that completes the snapshot.
    pub done: bool,
    /// Identifies the snapshot across its chunks.
    pub snapshot_id: &'a str,
    /// The metadata, in the first chunk.
    pub meta: Option<SnapshotMetaRef<'a>>,
    /// This chunk's bytes.
    pub data: &'a [u8],
}

/// A follower's answer to a chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SnapshotResponse {
    /// The follower's vote.
    pub vote: LeaderVote,
}

impl<'a> SnapshotChunkRef<'a> {
    /// The owned chunk, its data shared from `buffer` (the buffer this view was decoded from).
    pub fn to_owned_in(&self, buffer: &Bytes) -> SnapshotChunk {
        SnapshotChunk {
            vote: self.vote,
            total_size: self.total_size,
            offset: self.offset,
            done: self.done,
            snapshot_id: self.snapshot_id.to_owned(),
            meta: self.meta.map(|m| SnapshotMeta {
                last_log_id: m.last_log_id,
                membership_log_id: m.membership_log_id,
                membership: m.membership.to_owned(),
            }),
            data: crate::wire::share(buffer, self.data),
        }
    }

    pub(crate) fn decode(p: &'a [u8]) -> PResult<'a, Self> {
        let (i, vote) = request_vote_field(p, true)?;
        let (i, total_size) = u64_field("total_size")(i)?;
        let (i, offset) = u64_field("offset")(i)?;
        let (i, done) = bool_field("done")(i)?;
        let (i, snapshot_id) = text_field("snapshot_id", MAX_SNAPSHOT_ID_LEN)(i)?;
        let at = i;
        let (mut i, meta_present) = bool_field("meta_present")(i)?;
        if meta_present != (offset == 0) {
            return Err(Violation::new(
                ErrorCode::ConfigurationPlacement,
                meta_present as u64,
                Expected::Exactly((offset == 0) as u64),
            )
            .at(at, "meta_present"));
        }
        let mut meta = None;
        if meta_present {
            let (r, last_log_id) = option_log_id_behind(i, "last_log_id", &vote)?;
            let at = r;
            let (r, membership_log_id) = option_log_id_behind(r, "membership_log_id", &vote)?;
            if let Some(m) = membership_log_id {
                if last_log_id.is_none_or(|l| m.index > l.index) {
                    let limit = last_log_id.map_or(0, |l| l.index);
                    return Err(
                        Violation::new(ErrorCode::BadSnapshotPoint, m.index, Expected::AtMost(limit))
                            .at(at, "membership_log_id"),
                    );
                }
            }
            let config_at = r;
            let (r, membership) = MembershipRef::decode(r)?;
            let should_be_empty = membership_log_id.is_none();
            let placed = if should_be_empty {
                membership.is_empty()
            } else {
                membership.config_count() > 0
            };
            if !placed {
                return Err(Violation::new(
                    ErrorCode::BadSnapshotPoint,
                    membership.config_count() as u64,
                    if should_be_empty {
                        Expected::Exactly(0)
                    } else {
                        Expected::AtLeast(1)
                    },
                )
                .at(config_at, "config_count"));
            }
            meta = Some(SnapshotMetaRef {
                last_log_id,
                membership_log_id,
                membership,
            });
            i = r;
        }
        let at = i;
        let (i, data) = blob_field("data")(i)?;
        chunk_consistent(total_size, offset, data.len() as u64, done).map_err(|v| v.at(at, "data"))?;
        Ok((
            i,
            SnapshotChunkRef {
                vote,
                total_size,
                offset,
                done,
                snapshot_id,
                meta,
                data,
            },
        ))
    }
}

impl SnapshotChunk {
    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let start = w.offset();
        w.vote(&self.vote);
        w.u64(self.total_size);
        w.u64(self.offset);
        w.bool(self.done);
        w.text("snapshot_id", &self.snapshot_id, MAX_SNAPSHOT_ID_LEN)?;
        w.bool(self.meta.is_some());
        if let Some(meta) = &self.meta {
            w.option_log_id(&meta.last_log_id);
            w.option_log_id(&meta.membership_log_id);
            meta.membership.encode(w)?;
        }
        w.blob("data", &self.data)?;
        super::checked_body(w, start, |b: &[u8]| {
            crate::message::whole(SnapshotChunkRef::decode(b)).map(|_| ())
        })
    }
}

impl SnapshotResponse {
    pub(crate) fn decode(p: &[u8]) -> PResult<'_, Self> {
        let (i, vote) = vote_field(p)?;
        Ok((i, SnapshotResponse { vote }))
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.vote(&self.vote);
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for SnapshotChunk {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let vote = LeaderVote {
            term: u.int_in_range(1..=u64::MAX)?,
            node: u.arbitrary()?,
            committed: true,
        };
        let data = Bytes::copy_from_slice(u.arbitrary::<&[u8]>()?);
        let offset: u64 = u.int_in_range(0..=u64::MAX / 2)?;
        let done: bool = data.is_empty() || u.arbitrary()?;
        let total_size = offset + data.len() as u64 + if done { 0 } else { u.int_in_range(1..=1 << 20)? };
        let meta = if offset == 0 {
            let last = LogId {
                term: u.int_in_range(0..=vote.term - 1)?,
                node: u.arbitrary()?,
                index: u.int_in_range(0..=u64::MAX)?,
            };
            let initialised: bool = u.arbitrary()?;
            Some(SnapshotMeta {
                last_log_id: Some(last),
                membership_log_id: initialised.then_some(LogId {
                    index: u.int_in_range(0..=last.index)?,
                    ..last
                }),
                membership: if initialised {
                    u.arbitrary()?
                } else {
                    Membership::default()
                },
            })
        } else {
            None
        };
        Ok(SnapshotChunk {
            vote,
            total_size,
            offset,
            done,
            snapshot_id: format!("{}-{}", u.arbitrary::<u16>()?, u.arbitrary::<u16>()?),
            meta,
            data,
        })
    }
}
