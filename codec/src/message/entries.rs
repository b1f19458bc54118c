//! The entries of an AppendEntries, as built (a `Vec<Entry>`) or as decoded: one zero-copy slice
//! of the validated entry region, read entry by entry on demand. Decoding therefore allocates
//! nothing and touches no reference count per entry (the cost that dominated small and mid-size
//! frames, BENCHMARKS.md), while every entry has still been checked in full (AE-2 .. AE-5).
//! Reading is borrowed too ([`EntryRef`]): a reference count is taken only for the entries a
//! caller keeps ([`EntryRef::to_entry`]). A region short enough to fit in the value itself (a
//! single small entry) is copied into it instead, as short ids are: the owned message then keeps
//! nothing of the frame, so a decoder that owns its read buffer can advance past the frame rather
//! than split it off (no reference count at all, `RfwCodec`). [`EntriesRef`] is the same region seen by a borrowed
//! frame view ([`crate::FrameRef`]), which takes no handle on the frame at all.

use std::ops::Range;

use bytes::Bytes;

use crate::wire::le_word;

use super::append_entries::{Entry, EntryKind};
use super::configuration::ConfigurationRef;

/// A sequence of log entries.
#[derive(Clone, Default)]
pub struct Entries(Repr);

#[derive(Clone)]
enum Repr {
    Owned(Vec<Entry>),
    /// `count` entries, back to back in `region` (already validated by the decoder).
    Wire {
        region: Bytes,
        count: u32,
    },
    /// `count` entries, back to back in the first `len` bytes of `region` (validated by the
    /// decoder): a region of at most [`INLINE_REGION`] bytes, held in the value.
    Inline {
        len: u8,
        count: u8,
        region: Region,
    },
}

/// The longest entry region held inline: what fits in whole words beside the other variants'
/// tag, in the size the `Wire` variant already has (40 bytes), so `Entries` and every message
/// holding it stay the size they were. One entry of up to 11 bytes of data.
pub(crate) const INLINE_REGION: usize = 32;

/// An inline region, aligned as the words it is written with: built from four words in
/// registers (as `Id` is) rather than by a copy of unknown length, whose byte-wise stores the
/// next move of the value would stall on (store forwarding), as `perf annotate` showed.
#[derive(Clone, Copy)]
#[repr(align(8))]
struct Region([u8; INLINE_REGION]);

impl Default for Repr {
    fn default() -> Self {
        Repr::Owned(Vec::new())
    }
}

impl Entries {
    /// The owned form of a validated region: held inline when it fits (a heartbeat or one small
    /// entry keeps nothing of the frame), else one zero-copy handle on it, shared from `buffer`.
    #[inline(always)]
    pub(crate) fn from_wire(buffer: &Bytes, wire: &EntriesRef<'_>) -> Entries {
        if wire.count == 0 {
            return Entries::default();
        }
        if let Some(inline) = Entries::inline(wire) {
            return inline;
        }
        Entries(Repr::Wire {
            region: crate::wire::share(buffer, wire.region),
            count: wire.count as u32,
        })
    }

    /// `wire` copied into the value, if its region fits.
    #[inline(always)]
    fn inline(wire: &EntriesRef<'_>) -> Option<Entries> {
        let len = wire.region.len();
        if len > INLINE_REGION {
            return None;
        }
        let count = u8::try_from(wire.count).ok()?;
        let mut region = Region([0; INLINE_REGION]);
        for (at, chunk) in (0..).step_by(8).zip(region.0.chunks_exact_mut(8)) {
            chunk.copy_from_slice(&le_word(wire.region, at).to_le_bytes());
        }
        Some(Entries(Repr::Inline {
            len: len as u8,
            count,
            region,
        }))
    }

    /// The owned form of a validated region found by [`EntriesRef::span_in`] in `frame`, taking
    /// `frame`'s handle instead of a new one (`crate::wire::narrow`).
    #[inline(always)]
    pub(crate) fn from_frame(frame: Bytes, (range, count): (Range<usize>, usize)) -> Entries {
        Entries(Repr::Wire {
            region: crate::wire::narrow(frame, range),
            count: count as u32,
        })
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Owned(v) => v.len(),
            Repr::Wire { count, .. } => *count as usize,
            Repr::Inline { count, .. } => *count as usize,
        }
    }

    /// True for a heartbeat.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries in order, borrowed. Decoded entries are read from the received frame.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Owned(v) => Iter(IterRepr::Owned(v.iter())),
            Repr::Wire { region, count } => Iter(IterRepr::Wire {
                source: Some(region),
                rest: region,
                left: *count as usize,
            }),
            Repr::Inline { len, count, region } => Iter(IterRepr::Wire {
                source: None,
                rest: region.0.get(..*len as usize).unwrap_or_default(),
                left: *count as usize,
            }),
        }
    }

    /// The first entry.
    pub fn first(&self) -> Option<EntryRef<'_>> {
        self.iter().next()
    }

    /// The last entry.
    pub fn last(&self) -> Option<EntryRef<'_>> {
        match &self.0 {
            Repr::Owned(v) => v.last().map(EntryRef::from),
            Repr::Wire { .. } | Repr::Inline { .. } => self.iter().last(),
        }
    }

    /// The entries as owned values (data still zero-copy slices of the frame).
    pub fn to_vec(&self) -> Vec<Entry> {
        self.iter().map(|e| e.to_entry()).collect()
    }
}

/// One entry, borrowed from [`Entries`]: reading it touches no reference count, which is what
/// keeps reading a decoded AppendEntries at the cost of its bytes (BENCHMARKS.md). Take a
/// zero-copy owned [`Entry`] with [`EntryRef::to_entry`] when the data must outlive the frame.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    /// Log index.
    pub index: u64,
    /// Term in which the entry was created.
    pub term: u64,
    /// What the entry carries.
    pub kind: EntryKind,
    /// The payload, borrowed from the frame (or from the built entry).
    pub data: &'a [u8],
    /// The buffer `data` lies in, so [`EntryRef::to_entry`] can share it instead of copying;
    /// `None` when read from a borrowed view, which holds no buffer.
    source: Option<&'a Bytes>,
}

impl<'a> EntryRef<'a> {
    /// For a configuration entry, the configuration its data carries (AE-5), read from the data
    /// in place. `None` for any other kind, or for data that is not exactly one valid
    /// configuration, which only an entry built by hand can hold (a decoded one was checked).
    pub fn configuration(&self) -> Option<ConfigurationRef<'a>> {
        if self.kind != EntryKind::Configuration {
            return None;
        }
        ConfigurationRef::from_entry_data(self.data).ok()
    }

    /// The entry as an owned value. Its data is a zero-copy slice of the frame when the entry was
    /// read from an owned message ([`Entries`]) that shares its frame; an entry held inline (a
    /// region of one small entry, copied when decoded) or read from a borrowed view
    /// ([`EntriesRef`]) has no buffer to share, so its data is copied. To keep a view's entries
    /// without copying, turn the view into an owned frame first ([`crate::FrameRef::to_frame`]).
    pub fn to_entry(&self) -> Entry {
        Entry {
            index: self.index,
            term: self.term,
            kind: self.kind,
            data: match self.source {
                Some(source) if !self.data.is_empty() => crate::wire::share(source, self.data),
                _ => Bytes::copy_from_slice(self.data),
            },
        }
    }
}

impl<'a> From<&'a Entry> for EntryRef<'a> {
    fn from(e: &'a Entry) -> EntryRef<'a> {
        EntryRef {
            index: e.index,
            term: e.term,
            kind: e.kind,
            data: &e.data,
            source: Some(&e.data),
        }
    }
}

impl PartialEq for EntryRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.index, self.term, self.kind, self.data) == (other.index, other.term, other.kind, other.data)
    }
}

impl Eq for EntryRef<'_> {}

impl PartialEq<Entry> for EntryRef<'_> {
    fn eq(&self, other: &Entry) -> bool {
        *self == EntryRef::from(other)
    }
}

impl std::fmt::Debug for EntryRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("index", &self.index)
            .field("term", &self.term)
            .field("kind", &self.kind)
            .field("data", &Bytes::copy_from_slice(self.data))
            .finish()
    }
}

/// Iterator over [`Entries`].
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Owned(std::slice::Iter<'a, Entry>),
    Wire {
        source: Option<&'a Bytes>,
        rest: &'a [u8],
        left: usize,
    },
}

/// The fixed-width part of an entry: index, term, kind, data length (SPEC.md §5.2).
pub(crate) const ENTRY_FIXED_LEN: usize = 8 + 8 + 1 + 4;

/// Field offsets within the fixed part, for error positions.
pub(crate) const ENTRY_TERM_AT: usize = 8;
pub(crate) const ENTRY_KIND_AT: usize = 16;
pub(crate) const ENTRY_DATA_LEN_AT: usize = 17;

/// An entry's fixed part, fields unchecked.
pub(crate) struct Fixed {
    pub index: u64,
    pub term: u64,
    pub kind: u8,
    pub data_len: u32,
}

/// The entry's fixed part at the start of `i`, and the bytes after it: one bounds check for four
/// fields, shared by the decoder's entry loop and the reader. `None` only when fewer than
/// [`ENTRY_FIXED_LEN`] bytes remain.
#[inline]
pub(crate) fn split_fixed(i: &[u8]) -> Option<(Fixed, &[u8])> {
    let (fixed, rest) = i.split_first_chunk::<ENTRY_FIXED_LEN>()?;
    // Splits of a fixed-size array: the compiler proves these cannot fail.
    let (index, fixed) = fixed.split_first_chunk::<8>()?;
    let (term, fixed) = fixed.split_first_chunk::<8>()?;
    let (&kind, len) = fixed.split_first()?;
    let fixed = Fixed {
        index: u64::from_be_bytes(*index),
        term: u64::from_be_bytes(*term),
        kind,
        data_len: u32::from_be_bytes(*len.first_chunk::<4>()?),
    };
    Some((fixed, rest))
}

/// Splits the entry at the start of `rest`: its fixed part, then its data.
#[inline]
fn read_entry<'a>(source: Option<&'a Bytes>, rest: &'a [u8]) -> Option<(EntryRef<'a>, &'a [u8])> {
    let (
        Fixed {
            index,
            term,
            kind,
            data_len,
        },
        rest,
    ) = split_fixed(rest)?;
    let (data, rest) = rest.split_at_checked(data_len as usize)?;
    let entry = EntryRef {
        index,
        term,
        kind: EntryKind::from_byte(kind)?,
        data,
        source,
    };
    Some((entry, rest))
}

impl<'a> Iterator for Iter<'a> {
    type Item = EntryRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<EntryRef<'a>> {
        match &mut self.0 {
            IterRepr::Owned(it) => it.next().map(EntryRef::from),
            IterRepr::Wire { source, rest, left } => {
                if *left == 0 {
                    return None;
                }
                // Validated when decoded: a failure here is impossible, and ends the iteration.
                let (entry, after) = read_entry(*source, rest)?;
                *rest = after;
                *left -= 1;
                Some(entry)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Owned(it) => it.size_hint(),
            IterRepr::Wire { left, .. } => (0, Some(*left)),
        }
    }
}

/// The entries of a borrowed AppendEntries view: `count` validated entries back to back in
/// `region`, a slice of the frame. Reading them touches no reference count and allocates nothing.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct EntriesRef<'a> {
    region: &'a [u8],
    count: usize,
}

impl<'a> EntriesRef<'a> {
    /// Where the region lies in `buffer` and how many entries it holds; `None` for no entries or
    /// a region from elsewhere.
    #[inline]
    pub(crate) fn span_in(&self, buffer: &[u8]) -> Option<(Range<usize>, usize)> {
        if self.count == 0 {
            return None;
        }
        crate::wire::range_in(buffer, self.region).map(|range| (range, self.count))
    }

    /// Entries the decoder has validated one by one (AE-2 .. AE-5) in `region`.
    pub(crate) fn from_checked(region: &'a [u8], count: usize) -> Self {
        EntriesRef { region, count }
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True for a heartbeat.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The entries in order, read from the frame.
    #[inline]
    pub fn iter(&self) -> Iter<'a> {
        Iter(IterRepr::Wire {
            source: None,
            rest: self.region,
            left: self.count,
        })
    }
}

impl<'a> IntoIterator for EntriesRef<'a> {
    type Item = EntryRef<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl std::fmt::Debug for EntriesRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq<Entries> for EntriesRef<'_> {
    fn eq(&self, other: &Entries) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<'a> IntoIterator for &'a Entries {
    type Item = EntryRef<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl From<Vec<Entry>> for Entries {
    fn from(v: Vec<Entry>) -> Entries {
        Entries(Repr::Owned(v))
    }
}

impl FromIterator<Entry> for Entries {
    fn from_iter<I: IntoIterator<Item = Entry>>(iter: I) -> Entries {
        Entries(Repr::Owned(iter.into_iter().collect()))
    }
}

impl<'a> FromIterator<EntryRef<'a>> for Entries {
    fn from_iter<I: IntoIterator<Item = EntryRef<'a>>>(iter: I) -> Entries {
        Entries(Repr::Owned(iter.into_iter().map(|e| e.to_entry()).collect()))
    }
}

impl PartialEq for Entries {
    fn eq(&self, other: &Entries) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Entries {}

impl std::fmt::Debug for Entries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
