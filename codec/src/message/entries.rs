//! The entries of an AppendEntries, as built (a `Vec<Entry>`) or as decoded: one zero-copy slice
//! of the validated entry region, read entry by entry on demand. Decoding therefore allocates
//! nothing and touches no reference count per entry (the cost that dominated small and mid-size
//! frames, BENCHMARKS.md), while every entry has still been checked in full (AE-2 .. AE-5).

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

    /// The entries in order. Decoded entries' data are zero-copy slices of the received frame.
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Owned(v) => Iter(IterRepr::Owned(v.iter())),
            Repr::Wire { region, count } => Iter(IterRepr::Wire {
                region,
                at: 0,
                left: *count,
            }),
        }
    }

    /// The first entry.
    pub fn first(&self) -> Option<Entry> {
        self.iter().next()
    }

    /// The last entry.
    pub fn last(&self) -> Option<Entry> {
        match &self.0 {
            Repr::Owned(v) => v.last().cloned(),
            Repr::Wire { .. } => self.iter().last(),
        }
    }

    /// Built entries, by reference (the encoder writes them without cloning each one).
    pub(crate) fn as_slice(&self) -> Option<&[Entry]> {
        match &self.0 {
            Repr::Owned(v) => Some(v),
            Repr::Wire { .. } => None,
        }
    }

    /// The entries as a vector.
    pub fn to_vec(&self) -> Vec<Entry> {
        self.iter().collect()
    }
}

/// Iterator over [`Entries`].
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Owned(std::slice::Iter<'a, Entry>),
    Wire { region: &'a Bytes, at: usize, left: usize },
}

/// Reads the entry at `region[at..]`: index, term, kind, data length, data (SPEC.md §5.2).
fn read_entry(region: &Bytes, at: usize) -> Option<(Entry, usize)> {
    let fixed = region.get(at..at + 21)?;
    let (index, rest) = fixed.split_first_chunk::<8>()?;
    let (term, rest) = rest.split_first_chunk::<8>()?;
    let (&kind, rest) = rest.split_first()?;
    let (len, _) = rest.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*len) as usize;
    let data_at = at + 21;
    region.get(data_at..data_at + len)?;
    let entry = Entry {
        index: u64::from_be_bytes(*index),
        term: u64::from_be_bytes(*term),
        kind: EntryKind::from_byte(kind)?,
        data: if len == 0 {
            Bytes::new()
        } else {
            region.slice(data_at..data_at + len)
        },
    };
    Some((entry, data_at + len))
}

impl Iterator for Iter<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        match &mut self.0 {
            IterRepr::Owned(it) => it.next().cloned(),
            IterRepr::Wire { region, at, left } => {
                if *left == 0 {
                    return None;
                }
                // Validated when decoded: a failure here is impossible, and ends the iteration.
                let (entry, next) = read_entry(region, *at)?;
                *at = next;
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
    type Item = Entry;
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
