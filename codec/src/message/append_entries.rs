//! AppendEntries and its response (`SPEC.md` §5.2): log replication and heartbeats.
//!
//! The entry rules (AE-2, AE-3) are what make an interleaved or spliced frame body detectable
//! even when its CRC happens to verify: a foreign entry almost never continues the index sequence.

use bytes::Bytes;

use super::configuration::ConfigurationRef;
use super::entries::{
    split_fixed, Entries, EntriesRef, EntryRef, Fixed, ENTRY_DATA_LEN_AT, ENTRY_FIXED_LEN, ENTRY_KIND_AT,
    ENTRY_TERM_AT, INLINE_REGION,
};
use super::id::Id;
use crate::error::{EncodeError, ErrorCode, Expected};
use crate::wire::{
    blob_field, bool_field, count_field, fits, id_field, nonzero_term, take_claimed, u64_field, u8_field, PResult,
    Rule, Violation, WireError, Writer,
};

/// What a log entry carries (a closed enumeration, FIELD-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[repr(u8)]
pub enum EntryKind {
    /// An application command for the state machine.
    Command = 0,
    /// A leader's no-op at the start of its term (no data, AE-4).
    Noop = 1,
    /// A membership change: data is an encoded [`Configuration`](super::Configuration) (AE-5).
    Configuration = 2,
    /// A barrier: applied only once everything before it is (no data, AE-4).
    Barrier = 3,
}

impl EntryKind {
    pub(crate) fn from_byte(b: u8) -> Option<EntryKind> {
        match b {
            0 => Some(EntryKind::Command),
            1 => Some(EntryKind::Noop),
            2 => Some(EntryKind::Configuration),
            3 => Some(EntryKind::Barrier),
            _ => None,
        }
    }
}

/// One log entry. `data` is a zero-copy slice of the received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Log index.
    pub index: u64,
    /// Term in which the entry was created.
    pub term: u64,
    /// What the entry carries.
    pub kind: EntryKind,
    /// The payload.
    pub data: Bytes,
}

/// A leader replicates entries (none for a heartbeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendEntriesRequest {
    /// The leader's term (MSG-1).
    pub term: u64,
    /// Index of the entry just before `entries` (0 when they start the log).
    pub prev_log_index: u64,
    /// Term of that entry (AE-1).
    pub prev_log_term: u64,
    /// The leader's commit index.
    pub leader_commit: u64,
    /// The leader's server id.
    pub leader_id: Id,
    /// The entries, consecutive from `prev_log_index + 1` (AE-2, AE-3). Build with
    /// `vec![...].into()` or `collect()`; decoded entries are read on demand from the frame.
    pub entries: Entries,
}

/// An AppendEntries request as a borrowed view of the frame it was decoded from
/// ([`crate::decode_ref`]): every field checked exactly as for [`AppendEntriesRequest`], nothing
/// built, no handle taken on the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendEntriesRef<'a> {
    /// The leader's term (MSG-1).
    pub term: u64,
    /// Index of the entry just before `entries` (0 when they start the log).
    pub prev_log_index: u64,
    /// Term of that entry (AE-1).
    pub prev_log_term: u64,
    /// The leader's commit index.
    pub leader_commit: u64,
    /// The leader's server id (1-255 bytes).
    pub leader_id: &'a [u8],
    /// The entries, read on demand from the frame.
    pub entries: EntriesRef<'a>,
}

/// FIELD-3 for an entry's kind.
fn entry_kind(byte: u8) -> Result<EntryKind, Violation> {
    EntryKind::from_byte(byte)
        .ok_or_else(|| Violation::new(ErrorCode::UnknownEnum, byte as u64, Expected::OneOf(&[0, 1, 2, 3])))
}

/// The first error of an entry cut short inside its fixed part, in wire order: the fields that
/// are present are still checked first, then the first one missing is reported. Cold:
/// `count_field` bounds the count by the bytes present, so only data lengths that eat into later
/// entries get here.
#[cold]
fn short_entry(i: &[u8], next_index: Option<u64>, previous_term: u64, term: u64) -> nom::Err<WireError> {
    let fields = || -> PResult<'_, ()> {
        let (r, index) = u64_field("entry.index")(i)?;
        index_follows(index, next_index).map_err(|v| v.at(i, "entry.index"))?;
        let (after, entry_term) = u64_field("entry.term")(r)?;
        term_in_order(entry_term, previous_term, term).map_err(|v| v.at(r, "entry.term"))?;
        let (r, kind) = u8_field("entry.kind")(after)?;
        entry_kind(kind).map_err(|v| v.at(after, "entry.kind"))?;
        blob_field("entry.data")(r).map(|(r, _)| (r, ()))
    };
    match fields() {
        Err(e) => e,
        // Unreachable (the fixed part did not fit), but still an error, never a pass.
        Ok(_) => Violation::new(
            ErrorCode::TruncatedBody,
            i.len() as u64,
            Expected::AtLeast(ENTRY_FIXED_LEN as u64),
        )
        .at(i, "entry.index"),
    }
}

/// AE-1.
fn prev_log_consistent(prev_log_index: u64, prev_log_term: u64, term: u64) -> Rule {
    if (prev_log_index == 0) != (prev_log_term == 0) {
        let expected = if prev_log_index == 0 {
            Expected::Exactly(0)
        } else {
            Expected::NonZero
        };
        return Err(Violation::new(ErrorCode::BadPrevLog, prev_log_term, expected));
    }
    if prev_log_term > term {
        return Err(Violation::new(
            ErrorCode::BadPrevLog,
            prev_log_term,
            Expected::AtMost(term),
        ));
    }
    Ok(())
}

/// AE-2: `expected` is `None` once the index space is exhausted.
fn index_follows(index: u64, expected: Option<u64>) -> Rule {
    match expected {
        Some(e) if e == index => Ok(()),
        Some(e) => Err(Violation::new(ErrorCode::EntryIndexGap, index, Expected::Exactly(e))),
        None => Err(Violation::new(ErrorCode::EntryIndexGap, index, Expected::End)),
    }
}

/// AE-3 (and MSG-1 for entry terms): `previous` is the term before this entry.
fn term_in_order(entry_term: u64, previous: u64, term: u64) -> Rule {
    nonzero_term(entry_term)?;
    if entry_term < previous {
        return Err(Violation::new(
            ErrorCode::EntryTermOrder,
            entry_term,
            Expected::AtLeast(previous),
        ));
    }
    if entry_term > term {
        return Err(Violation::new(
            ErrorCode::EntryTermOrder,
            entry_term,
            Expected::AtMost(term),
        ));
    }
    Ok(())
}

/// AE-4 and AE-5, as a positioned error relative to `data` (and the bytes after it). Commands,
/// nearly every entry, carry anything: that case is inlined into the entry loop.
#[inline]
fn data_fits_kind(kind: EntryKind, data: &[u8]) -> Result<(), WireError> {
    match kind {
        EntryKind::Command => Ok(()),
        _ => special_data_fits_kind(kind, data),
    }
}

fn special_data_fits_kind(kind: EntryKind, data: &[u8]) -> Result<(), WireError> {
    match kind {
        EntryKind::Noop | EntryKind::Barrier if !data.is_empty() => {
            Err(
                Violation::new(ErrorCode::EntryDataNotEmpty, data.len() as u64, Expected::Exactly(0))
                    .wire(data, "entry.data"),
            )
        }
        EntryKind::Configuration => ConfigurationRef::from_entry_data(data).map(|_| ()),
        _ => Ok(()),
    }
}

impl AppendEntriesRequest {
    /// True for a heartbeat (no entries).
    pub fn is_heartbeat(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.check(nonzero_term(self.term), "term")?;
        w.u64(self.term);
        w.u64(self.prev_log_index);
        w.check(
            prev_log_consistent(self.prev_log_index, self.prev_log_term, self.term),
            "prev_log_term",
        )?;
        w.u64(self.prev_log_term);
        w.u64(self.leader_commit);
        w.id(self.leader_id.as_bytes());
        w.u32(fits::<u32>("entry_count", self.entries.len(), 32)?);
        self.encode_entries(w, self.entries.iter())
    }

    fn encode_entries<'e>(
        &self,
        w: &mut Writer<'_>,
        entries: impl Iterator<Item = EntryRef<'e>>,
    ) -> Result<(), EncodeError> {
        let mut next_index = self.prev_log_index.checked_add(1);
        let mut previous_term = self.prev_log_term;
        for e in entries {
            w.check(index_follows(e.index, next_index), "entry.index")?;
            w.u64(e.index);
            w.check(term_in_order(e.term, previous_term, self.term), "entry.term")?;
            w.u64(e.term);
            w.u8(e.kind as u8);
            if let Err(err) = data_fits_kind(e.kind, e.data) {
                // Reported at the data length prefix: where the encoder stands.
                w.check(Err(Violation::new(err.code, err.found, err.expected)), err.field)?;
            }
            w.blob("entry.data", e.data)?;
            next_index = e.index.checked_add(1);
            previous_term = e.term;
        }
        Ok(())
    }
}

/// An owned AppendEntries request waiting for its entries (`AppendEntriesRef::owned_head`).
pub(crate) struct AppendEntriesHead {
    term: u64,
    prev_log_index: u64,
    prev_log_term: u64,
    leader_commit: u64,
    leader_id: Id,
}

impl AppendEntriesHead {
    /// The request, with `entries`.
    #[inline(always)]
    pub(crate) fn with_entries(self, entries: Entries) -> AppendEntriesRequest {
        AppendEntriesRequest {
            term: self.term,
            prev_log_index: self.prev_log_index,
            prev_log_term: self.prev_log_term,
            leader_commit: self.leader_commit,
            leader_id: self.leader_id,
            entries,
        }
    }
}

impl<'a> AppendEntriesRef<'a> {
    /// True for a heartbeat (no entries).
    pub fn is_heartbeat(&self) -> bool {
        self.entries.is_empty()
    }

    /// The owned request, its zero-copy fields shared from `buffer`, which should be the
    /// buffer this view was decoded from (fields outside it are copied, never lost).
    #[inline]
    pub fn to_owned_in(&self, buffer: &Bytes) -> AppendEntriesRequest {
        self.owned_head(buffer)
            .with_entries(Entries::from_wire(buffer, &self.entries))
    }

    /// Everything of the owned request but its entries, its ids shared from `frame` (the buffer
    /// this view was decoded from), for a decoder that then hands `frame` itself to the entries
    /// (`Entries::from_frame`). A head rather than a request with empty entries: replacing
    /// those cost a call to drop them per frame.
    #[inline(always)]
    pub(crate) fn owned_head(&self, frame: &Bytes) -> AppendEntriesHead {
        AppendEntriesHead {
            term: self.term,
            prev_log_index: self.prev_log_index,
            prev_log_term: self.prev_log_term,
            leader_commit: self.leader_commit,
            leader_id: Id::from_checked(frame, self.leader_id),
        }
    }

    /// Whether the owned request decoded from the payload `p` keeps a handle on its frame: when
    /// its leader id is too long to be held inline or its entry region too long to be
    /// ([`INLINE_REGION`]). Read from the id's length byte (after the four 8-byte fields) and the
    /// payload's length (the region is all that follows the id and the 4-byte entry count), before
    /// anything is checked: for a malformed payload the answer is only a guess, which costs a copy
    /// or a split, never a different result (`frame::take_owned`).
    #[inline]
    pub(crate) fn owned_keeps_frame(p: &[u8]) -> bool {
        const ID_AT: usize = 4 * 8;
        let Some(&id_len) = p.get(ID_AT) else {
            return false;
        };
        let region = p.len().saturating_sub(ID_AT + 1 + id_len as usize + 4);
        !Id::fits_inline(id_len as usize) || region > INLINE_REGION
    }

    #[inline(always)]
    pub(crate) fn decode(i: &'a [u8]) -> PResult<'a, Self> {
        let at = i;
        let (i, term) = u64_field("term")(i)?;
        nonzero_term(term).map_err(|v| v.at(at, "term"))?;
        let (i, prev_log_index) = u64_field("prev_log_index")(i)?;
        let at = i;
        let (i, prev_log_term) = u64_field("prev_log_term")(i)?;
        prev_log_consistent(prev_log_index, prev_log_term, term).map_err(|v| v.at(at, "prev_log_term"))?;
        let (i, leader_commit) = u64_field("leader_commit")(i)?;
        let (i, leader) = id_field("leader_id")(i)?;
        let (mut i, count) = count_field("entry_count", 4, ENTRY_FIXED_LEN)(i)?;
        let region_start = i;
        let mut next_index = prev_log_index.checked_add(1);
        let mut previous_term = prev_log_term;
        for _ in 0..count {
            let Some((
                Fixed {
                    index,
                    term: entry_term,
                    kind,
                    data_len,
                },
                r,
            )) = split_fixed(i)
            else {
                return Err(short_entry(i, next_index, previous_term, term));
            };
            let field_at = |offset: usize| i.get(offset..).unwrap_or_default();
            index_follows(index, next_index).map_err(|v| v.at(i, "entry.index"))?;
            term_in_order(entry_term, previous_term, term).map_err(|v| v.at(field_at(ENTRY_TERM_AT), "entry.term"))?;
            let kind = entry_kind(kind).map_err(|v| v.at(field_at(ENTRY_KIND_AT), "entry.kind"))?;
            let (r, data) = take_claimed(field_at(ENTRY_DATA_LEN_AT), r, data_len as usize, "entry.data")?;
            data_fits_kind(kind, data).map_err(|mut e| {
                // Positions inside `data` become positions in the payload.
                e.remaining += r.len();
                nom::Err::Failure(e)
            })?;
            next_index = index.checked_add(1);
            previous_term = entry_term;
            i = r;
        }
        Ok((
            i,
            AppendEntriesRef {
                term,
                prev_log_index,
                prev_log_term,
                leader_commit,
                leader_id: leader,
                entries: EntriesRef::from_checked(
                    region_start.get(..region_start.len() - i.len()).unwrap_or_default(),
                    count,
                ),
            },
        ))
    }
}

/// A follower's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendEntriesResponse {
    /// The follower's term (MSG-1).
    pub term: u64,
    /// Whether the entries were appended.
    pub success: bool,
    /// The follower's last log index after handling the request.
    pub last_log_index: u64,
    /// On failure, the first index of the conflicting term (0 if none): lets the leader skip back
    /// a whole term at a time.
    pub conflict_index: u64,
    /// On failure, the term of the conflicting entry (0 if the follower's log is just short).
    pub conflict_term: u64,
}

/// AER-1, for the conflict index.
fn conflict_index_allowed(success: bool, conflict_index: u64) -> Rule {
    if success && conflict_index != 0 {
        return Err(Violation::new(
            ErrorCode::BadConflictHint,
            conflict_index,
            Expected::Exactly(0),
        ));
    }
    Ok(())
}

/// AER-1, for the conflict term.
fn conflict_term_allowed(success: bool, conflict_index: u64, conflict_term: u64) -> Rule {
    if conflict_term != 0 && (success || conflict_index == 0) {
        return Err(Violation::new(
            ErrorCode::BadConflictHint,
            conflict_term,
            Expected::Exactly(0),
        ));
    }
    Ok(())
}

impl AppendEntriesResponse {
    #[inline]
    pub(crate) fn decode(i: &[u8]) -> PResult<'_, Self> {
        let at = i;
        let (i, term) = u64_field("term")(i)?;
        nonzero_term(term).map_err(|v| v.at(at, "term"))?;
        let (i, success) = bool_field("success")(i)?;
        let (i, last_log_index) = u64_field("last_log_index")(i)?;
        let at = i;
        let (i, conflict_index) = u64_field("conflict_index")(i)?;
        conflict_index_allowed(success, conflict_index).map_err(|v| v.at(at, "conflict_index"))?;
        let at = i;
        let (i, conflict_term) = u64_field("conflict_term")(i)?;
        conflict_term_allowed(success, conflict_index, conflict_term).map_err(|v| v.at(at, "conflict_term"))?;
        Ok((
            i,
            AppendEntriesResponse {
                term,
                success,
                last_log_index,
                conflict_index,
                conflict_term,
            },
        ))
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.check(nonzero_term(self.term), "term")?;
        w.u64(self.term);
        w.bool(self.success);
        w.u64(self.last_log_index);
        w.check(
            conflict_index_allowed(self.success, self.conflict_index),
            "conflict_index",
        )?;
        w.u64(self.conflict_index);
        w.check(
            conflict_term_allowed(self.success, self.conflict_index, self.conflict_term),
            "conflict_term",
        )?;
        w.u64(self.conflict_term);
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for AppendEntriesRequest {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let term = u.int_in_range(1..=u64::MAX)?;
        let prev_log_index: u64 = u.int_in_range(0..=u64::MAX - 64)?;
        let prev_log_term = if prev_log_index == 0 {
            0
        } else {
            u.int_in_range(1..=term)?
        };
        let n = u.int_in_range(0..=8)?;
        let mut entries = Vec::with_capacity(n);
        let mut entry_term = prev_log_term.max(1);
        for k in 0..n {
            entry_term = u.int_in_range(entry_term..=term)?;
            let kind: EntryKind = u.arbitrary()?;
            let data = match kind {
                EntryKind::Command => Bytes::copy_from_slice(u.arbitrary::<&[u8]>()?),
                EntryKind::Noop | EntryKind::Barrier => Bytes::new(),
                EntryKind::Configuration => u
                    .arbitrary::<super::configuration::Configuration>()?
                    .to_entry_data()
                    .map_err(|_| arbitrary::Error::IncorrectFormat)?,
            };
            entries.push(Entry {
                index: prev_log_index + 1 + k as u64,
                term: entry_term,
                kind,
                data,
            });
        }
        Ok(AppendEntriesRequest {
            term,
            prev_log_index,
            prev_log_term,
            leader_commit: u.arbitrary()?,
            leader_id: u.arbitrary()?,
            entries: entries.into(),
        })
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for AppendEntriesResponse {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let success: bool = u.arbitrary()?;
        let (conflict_index, conflict_term) = if success {
            (0, 0)
        } else {
            let ci: u64 = u.arbitrary()?;
            (ci, if ci == 0 { 0 } else { u.arbitrary()? })
        };
        Ok(AppendEntriesResponse {
            term: u.int_in_range(1..=u64::MAX)?,
            success,
            last_log_index: u.arbitrary()?,
            conflict_index,
            conflict_term,
        })
    }
}
