//! Identifiers: server ids, addresses and snapshot ids. Length 1-255, enforced at construction so
//! an encoder can never be handed one it cannot write.

use bytes::Bytes;

/// A non-empty byte string of at most 255 bytes (FIELD-4), held as a zero-copy slice of the frame
/// it was decoded from.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(Bytes);

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
        Ok(Id(bytes))
    }

    /// Built by the decoder from a length-checked field.
    pub(crate) fn from_checked(bytes: Bytes) -> Id {
        Id(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying zero-copy buffer.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Id({:?})", String::from_utf8_lossy(&self.0))
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
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
        Ok(Id(Bytes::from(bytes)))
    }
}
