//! The entries of an AppendEntries, as built (a `Vec<Entry>`) or as decoded: one zero-copy slice
//! of the validated entry region, read entry by entry on demand. Decoding therefore allocates
//! nothing and touches no reference count per entry (the cost that dominated small and mid-size
//! frames, BENCHMARKS.md), while every entry has still been checked in full (AE-2 .. AE-5).
//! Reading is borrowed too ([`EntryRef`]): a reference count is taken only for the entries a
//! caller keeps ([`EntryRef::to_entry`]).

use bytes::Bytes;

use super::append_entries::{Entry, EntryKind};

/// A sequence of log entries.
#[derive(Clone, Default)]
pub struct Entries(Repr);

#[derive(Clone)]
enum Repr {
    Owned(Vec<Entry>),
    /// `count` entries, back to back in `region` (already validated by the decoder).
    Wire {
        region: Bytes,
        count: usize,
    },
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Owned(Vec::new())
    }
}

impl Entries {
    /// Entries decoded from `region`, which the decoder has validated entry by entry.
    pub(crate) fn from_wire(region: Bytes, count: usize) -> Entries {
        Entries(Repr::Wire { region, count })
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Owned(v) => v.len(),
            Repr::Wire { count, .. } => *count,
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
                region,
                rest: region,
                left: *count,
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
            Repr::Wire { .. } => self.iter().last(),
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
    /// The buffer `data` lies in, so [`EntryRef::to_entry`] can share it instead of copying.
    source: &'a Bytes,
}

impl<'a> EntryRef<'a> {
    /// The buffer the data lies in (fields checked inside it are shared, not copied).
    pub(crate) fn source(&self) -> &'a Bytes {
        self.source
    }

    /// The entry as an owned value; its data is a zero-copy slice of the same buffer.
    pub fn to_entry(&self) -> Entry {
        Entry {
            index: self.index,
            term: self.term,
            kind: self.kind,
            data: if self.data.is_empty() {
                Bytes::new()
            } else {
                self.source.slice_ref(self.data)
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
            source: &e.data,
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
        region: &'a Bytes,
        rest: &'a [u8],
        left: usize,
    },
}

/// Splits the entry at the start of `rest`: index, term, kind, data length, data (SPEC.md §5.2).
#[inline]
fn read_entry<'a>(region: &'a Bytes, rest: &'a [u8]) -> Option<(EntryRef<'a>, &'a [u8])> {
    let (fixed, rest) = rest.split_first_chunk::<21>()?;
    let (index, fixed) = fixed.split_first_chunk::<8>()?;
    let (term, fixed) = fixed.split_first_chunk::<8>()?;
    let (&kind, len) = fixed.split_first()?;
    let len = u32::from_be_bytes(<[u8; 4]>::try_from(len).ok()?) as usize;
    let (data, rest) = rest.split_at_checked(len)?;
    let entry = EntryRef {
        index: u64::from_be_bytes(*index),
        term: u64::from_be_bytes(*term),
        kind: EntryKind::from_byte(kind)?,
        data,
        source: region,
    };
    Some((entry, rest))
}

impl<'a> Iterator for Iter<'a> {
    type Item = EntryRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<EntryRef<'a>> {
        match &mut self.0 {
            IterRepr::Owned(it) => it.next().map(EntryRef::from),
            IterRepr::Wire { region, rest, left } => {
                if *left == 0 {
                    return None;
                }
                // Validated when decoded: a failure here is impossible, and ends the iteration.
                let (entry, after) = read_entry(region, rest)?;
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
