//! Identifiers: server ids, addresses and snapshot ids. Length 1-255, enforced at construction so
//! an encoder can never be handed one it cannot write.

use bytes::Bytes;

use crate::wire::le_word;

/// A non-empty byte string of at most 255 bytes (FIELD-4). Ids of up to 23 bytes (host:port
/// addresses, short server names) are held inline; longer ones (UUIDs) as a zero-copy slice of
/// the frame they were decoded from.
///
/// Why inline: a shared slice costs an indirect call and two atomic operations per decoded id, a
/// fifth of decoding a small frame (BENCHMARKS.md), while copying a short id costs nothing.
#[derive(Clone)]
pub struct Id(Repr);

/// Longest id held inline: what fits beside the enum's tag in the size of a `Bytes`.
const INLINE: usize = 23;

/// `Inline` holds the id in its first bytes and its length in the last byte (one array, so the
/// variant fits beside the tag in the size of a `Bytes`).
#[derive(Clone)]
enum Repr {
    Inline([u8; INLINE + 1]),
    Shared(Bytes),
}

/// The bytes given to [`Id::new`] are empty or longer than 255 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an id must be 1 to 255 bytes long, not {len}")]
pub struct InvalidId {
    /// The rejected length.
    pub len: usize,
}

impl Id {
    /// Longest id the wire can carry.
    pub const MAX_LEN: usize = 255;

    /// An id, if `bytes` is 1 to 255 bytes long.
    pub fn new(bytes: impl Into<Bytes>) -> Result<Id, InvalidId> {
        let bytes = bytes.into();
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(InvalidId { len: bytes.len() });
        }
        Ok(Id::inline(&bytes).unwrap_or(Id(Repr::Shared(bytes))))
    }

    /// Whether an id of `len` bytes is held inline (else it shares the buffer it was decoded
    /// from).
    #[inline]
    pub(crate) const fn fits_inline(len: usize) -> bool {
        len <= INLINE
    }

    /// Built by the decoder from a length-checked field `part`, which lies inside `buffer`.
    #[inline]
    pub(crate) fn from_checked(buffer: &Bytes, part: &[u8]) -> Id {
        Id::inline(part).unwrap_or_else(|| Id(Repr::Shared(crate::wire::share(buffer, part))))
    }

    /// `bytes` held inline, if they fit.
    ///
    /// Built as three words in registers, not by copying into the array: a byte-wise copy of an
    /// unknown length followed by the word-wise move of the new `Id` stalls on store forwarding,
    /// which `perf annotate` showed as the costliest instruction of decoding an AppendEntries.
    #[inline]
    fn inline(bytes: &[u8]) -> Option<Id> {
        let len = bytes.len();
        if len > INLINE {
            return None;
        }
        let words = [
            le_word(bytes, 0),
            le_word(bytes, 8),
            le_word(bytes, 16) | (len as u64) << 56,
        ];
        let mut inline = [0u8; INLINE + 1];
        for (chunk, w) in inline.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        Some(Id(Repr::Inline(inline)))
    }

    /// The raw bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(inline) => match inline.split_last() {
                Some((&len, bytes)) => bytes.get(..len as usize).unwrap_or_default(),
                None => &[],
            },
            Repr::Shared(b) => b,
        }
    }

    /// The bytes as a `Bytes` (shared when the id was, copied when it is held inline).
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Inline { .. } => Bytes::copy_from_slice(self.as_bytes()),
            Repr::Shared(b) => b.clone(),
        }
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Id) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Id {}

impl std::hash::Hash for Id {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Id {
    fn cmp(&self, other: &Id) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Id({:?})", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

impl TryFrom<&str> for Id {
    type Error = InvalidId;
    fn try_from(s: &str) -> Result<Id, InvalidId> {
        Id::new(Bytes::copy_from_slice(s.as_bytes()))
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Id {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let len = u.int_in_range(1..=Self::MAX_LEN.min(u.len().max(1)))?;
        let mut bytes = u.bytes(len.min(u.len()))?.to_vec();
        if bytes.is_empty() {
            bytes.push(b'n');
        }
        Id::new(bytes).map_err(|_| arbitrary::Error::IncorrectFormat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_shared_ids_hold_exactly_their_bytes() {
        // A frame-like buffer: ids of every length at the start, middle and end of it.
        let buffer = Bytes::from((0..=255u8).cycle().take(600).collect::<Vec<u8>>());
        for len in 1..=Id::MAX_LEN {
            for start in [0, 7, buffer.len() - len] {
                let part = &buffer[start..start + len];
                let id = Id::from_checked(&buffer, part);
                assert_eq!(id.as_bytes(), part, "len {len} at {start}");
                assert_eq!(id.to_bytes(), part);
                assert_eq!(id, Id::new(Bytes::copy_from_slice(part)).unwrap());
                assert_eq!(matches!(id.0, Repr::Inline(_)), len <= INLINE);
            }
        }
        assert_eq!(std::mem::size_of::<Id>(), std::mem::size_of::<Bytes>());
    }

    #[test]
    fn ids_compare_by_content_whatever_their_storage() {
        let short = Id::try_from("node-1").unwrap();
        let long = Id::try_from("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            short.cmp(&long),
            b"node-1"[..].cmp(&b"0123456789abcdef0123456789abcdef"[..])
        );
        let mut set = std::collections::HashSet::new();
        set.insert(short.clone());
        let buf = Bytes::from_static(b"xnode-1y");
        assert!(set.contains(&Id::from_checked(&buf, &buf[1..7])));
    }
}
