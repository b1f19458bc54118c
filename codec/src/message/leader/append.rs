//! Append and AppendResponse of the leader-id family (`SPEC.md` §5.7): log replication and
//! heartbeats, each entry with its own leader id.

use bytes::Bytes;

use super::membership::entry_data;
use super::{
    log_id_field, option_log_id_behind, option_log_id_field, request_vote_field, vote_field, LeaderVote, LogId,
};
use crate::error::{EncodeError, ErrorCode, Expected};
use crate::wire::{blob_field, count_field, fits, u8_field, PResult, Violation, WireError, Writer};

/// What an entry of the family carries (a closed enumeration, FIELD-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[repr(u8)]
pub enum LogEntryKind {
    /// The application's command.
    Normal = 0,
    /// No data: a new leader's first entry (AE-4).
    Blank = 1,
    /// A [`Membership`](super::Membership) (AE-5).
    Membership = 2,
}

/// One entry. Decoded, `data` is a zero-copy slice of the received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The entry's leader id and index.
    pub log_id: LogId,
    /// What it carries.
    pub kind: LogEntryKind,
    /// The command, nothing (Blank) or an encoded membership ([`super::Membership::to_entry_data`]).
    pub data: Bytes,
}

/// One entry, borrowed from its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntryRef<'a> {
    /// The entry's leader id and index.
    pub log_id: LogId,
    /// What it carries.
    pub kind: LogEntryKind,
    /// Its data, in the frame.
    pub data: &'a [u8],
}

impl LogEntryRef<'_> {
    /// The membership a Membership entry carries (checked when the frame was decoded).
    pub fn membership(&self) -> Option<super::MembershipRef<'_>> {
        match self.kind {
            LogEntryKind::Membership => entry_data(self.data).ok().map(|(_, m)| m),
            _ => None,
        }
    }
}

impl LogEntry {
    /// The membership a Membership entry carries.
    pub fn membership(&self) -> Option<super::Membership> {
        match self.kind {
            LogEntryKind::Membership => entry_data(&self.data).ok().map(|(_, m)| m.to_owned()),
            _ => None,
        }
    }
}

/// A leader replicates entries (none for a heartbeat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendRequest {
    /// The leader's vote (committed, LV-1).
    pub vote: LeaderVote,
    /// The entry before the first one sent; `None` when they start the log.
    pub prev_log_id: Option<LogId>,
    /// The leader's committed log id.
    pub leader_commit: Option<LogId>,
    /// The entries, consecutive from `prev_log_id.index + 1` (or 0) (AE-2, AE-3).
    pub entries: Vec<LogEntry>,
}

/// An Append as a borrowed view of its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendRef<'a> {
    /// The leader's vote.
    pub vote: LeaderVote,
    /// The entry before the first one sent.
    pub prev_log_id: Option<LogId>,
    /// The leader's committed log id.
    pub leader_commit: Option<LogId>,
    region: &'a [u8],
    count: usize,
}

/// A follower's answer to an Append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum AppendResponse {
    /// Every entry appended.
    Success,
    /// Appended up to this log id only.
    PartialSuccess(Option<LogId>),
    /// `prev_log_id` does not match the follower's log.
    Conflict,
    /// The follower's vote is newer than the leader's: the leader must step down.
    HigherVote(LeaderVote),
}

/// The smallest entry: log id, kind and an empty data blob.
const MIN_ENTRY_LEN: usize = 24 + 1 + 4;

fn entry_kind(b: u8) -> Option<LogEntryKind> {
    match b {
        0 => Some(LogEntryKind::Normal),
        1 => Some(LogEntryKind::Blank),
        2 => Some(LogEntryKind::Membership),
        _ => None,
    }
}

impl<'a> AppendRef<'a> {
    /// Number of entries (0 for a heartbeat).
    pub fn len(&self) -> usize {
        self.count
    }

    /// True for a heartbeat.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The entries, read from the frame (checked when it was decoded).
    pub fn entries(&self) -> impl Iterator<Item = LogEntryRef<'a>> + 'a {
        let mut rest = self.region;
        (0..self.count).map_while(move |_| {
            let (r, e) = raw_entry(rest).ok()?;
            rest = r;
            Some(e)
        })
    }

    /// The owned request, its entries' data shared from `buffer` (the buffer this view was
    /// decoded from; data outside it is copied).
    pub fn to_owned_in(&self, buffer: &Bytes) -> AppendRequest {
        // Sized once: the iterator cannot say its length, and growing the vector by doubling
        // cost five reallocations for 64 entries. `count` was bounded by the payload's length
        // when the view was decoded (each entry takes at least 29 bytes).
        let mut entries = Vec::with_capacity(self.count);
        entries.extend(self.entries().map(|e| LogEntry {
            log_id: e.log_id,
            kind: e.kind,
            data: crate::wire::share(buffer, e.data),
        }));
        AppendRequest {
            vote: self.vote,
            prev_log_id: self.prev_log_id,
            leader_commit: self.leader_commit,
            entries,
        }
    }

    /// Whether the owned request decoded from the payload `p` keeps a handle on its frame: when
    /// it has entries (their data are shared from it; a heartbeat keeps nothing). Read from the
    /// entry count, found past the vote (17 bytes) and the two optional log ids (a presence byte,
    /// then 24 bytes when it is 1), before anything is checked: for a malformed payload the
    /// answer is only a guess, which costs a copy or a split, never a different result
    /// (`frame::take_owned`).
    #[inline]
    pub(crate) fn owned_keeps_frame(p: &[u8]) -> bool {
        let past_option = |at: usize| p.get(at).map(|&present| at + 1 + if present == 1 { 24 } else { 0 });
        let count = past_option(17)
            .and_then(past_option)
            .and_then(|at| p.get(at..)?.first_chunk::<4>());
        count.is_some_and(|c| *c != [0; 4])
    }

    pub(crate) fn decode(p: &'a [u8]) -> PResult<'a, Self> {
        let (i, vote) = request_vote_field(p, true)?;
        let (i, prev_log_id) = option_log_id_behind(i, "prev_log_id", &vote)?;
        let (i, leader_commit) = option_log_id_behind(i, "leader_commit", &vote)?;
        let (mut i, count) = count_field("entry_count", 4, MIN_ENTRY_LEN)(i)?;
        let region = i;
        let mut next_index = prev_log_id.map_or(Some(0), |p| p.index.checked_add(1));
        let mut floor = prev_log_id.map_or((0, 0), |p| p.leader());
        for _ in 0..count {
            let at = i;
            let (r, log_id) = log_id_field("entry.log_id")(i)?;
            let leader = log_id.leader();
            if leader < floor {
                return Err(
                    Violation::new(ErrorCode::EntryTermOrder, log_id.term, Expected::AtLeast(floor.0))
                        .at(at, "entry.term"),
                );
            }
            if leader > vote.leader() {
                return Err(
                    Violation::new(ErrorCode::EntryTermOrder, log_id.term, Expected::AtMost(vote.term))
                        .at(at, "entry.term"),
                );
            }
            let index_at = at.get(16..).unwrap_or_default();
            match next_index {
                Some(n) if n == log_id.index => {}
                Some(n) => {
                    return Err(
                        Violation::new(ErrorCode::EntryIndexGap, log_id.index, Expected::Exactly(n))
                            .at(index_at, "entry.index"),
                    )
                }
                None => {
                    return Err(Violation::new(ErrorCode::EntryIndexGap, log_id.index, Expected::End)
                        .at(index_at, "entry.index"))
                }
            }
            let kind_at = r;
            let (r, kind) = u8_field("entry.kind")(r)?;
            let kind = entry_kind(kind).ok_or_else(|| {
                Violation::new(ErrorCode::UnknownEnum, kind as u64, Expected::OneOf(&[0, 1, 2]))
                    .at(kind_at, "entry.kind")
            })?;
            let (r, data) = blob_field("entry.data")(r)?;
            data_fits_kind(kind, data).map_err(|mut e| {
                // Positions inside `data` become positions in the payload.
                e.remaining += r.len();
                nom::Err::Failure(e)
            })?;
            next_index = log_id.index.checked_add(1);
            floor = leader;
            i = r;
        }
        let used = region.len() - i.len();
        Ok((
            i,
            AppendRef {
                vote,
                prev_log_id,
                leader_commit,
                region: region.get(..used).unwrap_or_default(),
                count,
            },
        ))
    }
}

/// AE-4 and AE-5, positioned relative to `data`.
fn data_fits_kind(kind: LogEntryKind, data: &[u8]) -> Result<(), WireError> {
    match kind {
        LogEntryKind::Normal => Ok(()),
        LogEntryKind::Blank if data.is_empty() => Ok(()),
        LogEntryKind::Blank => {
            Err(
                Violation::new(ErrorCode::EntryDataNotEmpty, data.len() as u64, Expected::Exactly(0))
                    .wire(data, "entry.data"),
            )
        }
        LogEntryKind::Membership => crate::message::whole(entry_data(data)).map(|_| ()),
    }
}

/// One entry of an already checked region.
fn raw_entry(i: &[u8]) -> PResult<'_, LogEntryRef<'_>> {
    let (r, log_id) = log_id_field("entry.log_id")(i)?;
    let (r, kind) = u8_field("entry.kind")(r)?;
    let (r, data) = blob_field("entry.data")(r)?;
    let kind = entry_kind(kind).unwrap_or(LogEntryKind::Normal);
    Ok((r, LogEntryRef { log_id, kind, data }))
}

impl AppendRequest {
    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let start = w.offset();
        w.vote(&self.vote);
        w.option_log_id(&self.prev_log_id);
        w.option_log_id(&self.leader_commit);
        w.u32(fits::<u32>("entry_count", self.entries.len(), 32)?);
        for e in &self.entries {
            w.log_id(&e.log_id);
            w.u8(e.kind as u8);
            w.blob("entry.data", &e.data)?;
        }
        super::checked_body(w, start, |b: &[u8]| {
            crate::message::whole(AppendRef::decode(b)).map(|_| ())
        })
    }
}

impl AppendResponse {
    /// The term of the vote it carries (HigherVote only).
    pub fn term(&self) -> Option<u64> {
        match self {
            AppendResponse::HigherVote(v) => Some(v.term),
            _ => None,
        }
    }

    pub(crate) fn decode(p: &[u8]) -> PResult<'_, Self> {
        let (i, result) = u8_field("result")(p)?;
        Ok(match result {
            0 => (i, AppendResponse::Success),
            1 => {
                let (i, m) = option_log_id_field("matching")(i)?;
                (i, AppendResponse::PartialSuccess(m))
            }
            2 => (i, AppendResponse::Conflict),
            3 => {
                let (i, v) = vote_field(i)?;
                (i, AppendResponse::HigherVote(v))
            }
            other => {
                return Err(
                    Violation::new(ErrorCode::UnknownEnum, other as u64, Expected::OneOf(&[0, 1, 2, 3]))
                        .at(p, "result"),
                )
            }
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            AppendResponse::Success => w.u8(0),
            AppendResponse::PartialSuccess(m) => {
                w.u8(1);
                w.option_log_id(m);
            }
            AppendResponse::Conflict => w.u8(2),
            AppendResponse::HigherVote(v) => {
                w.u8(3);
                w.vote(v);
            }
        }
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for AppendRequest {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let vote = LeaderVote {
            term: u.int_in_range(1..=u64::MAX)?,
            node: u.arbitrary()?,
            committed: true,
        };
        let below = |u: &mut arbitrary::Unstructured<'a>| -> arbitrary::Result<LogId> {
            Ok(LogId {
                term: u.int_in_range(0..=vote.term - 1)?,
                node: u.arbitrary()?,
                index: u.int_in_range(0..=u64::MAX - 64)?,
            })
        };
        let prev_log_id = if u.arbitrary()? { Some(below(u)?) } else { None };
        let leader_commit = if u.arbitrary()? { Some(below(u)?) } else { None };
        let n = u.int_in_range(0..=8)?;
        let mut entries = Vec::with_capacity(n);
        let first = prev_log_id.map_or(0, |p| p.index + 1);
        let mut last: Option<(u64, u64)> = None;
        let mut term = prev_log_id.map_or(0, |p| p.term + 1).min(vote.term);
        for index in (first..).take(n) {
            term = u.int_in_range(term..=vote.term)?;
            let node = match last {
                Some((t, node)) if t == term => node,
                _ if term == vote.term => vote.node,
                _ => u.arbitrary()?,
            };
            last = Some((term, node));
            let kind: LogEntryKind = u.arbitrary()?;
            let data = match kind {
                LogEntryKind::Normal => Bytes::copy_from_slice(u.arbitrary::<&[u8]>()?),
                LogEntryKind::Blank => Bytes::new(),
                LogEntryKind::Membership => u
                    .arbitrary::<super::Membership>()?
                    .to_entry_data()
                    .map_err(|_| arbitrary::Error::IncorrectFormat)?,
            };
            entries.push(LogEntry {
                log_id: LogId { term, node, index },
                kind,
                data,
            });
        }
        Ok(AppendRequest {
            vote,
            prev_log_id,
            leader_commit,
            entries,
        })
    }
}
