//! InstallSnapshot (one chunk per frame) and its response (`SPEC.md` §5.3).
//!
//! Snapshots are chunked so no frame exceeds the payload limit; every chunk repeats the snapshot's
//! identity so a receiver can check (STREAM-6) that chunks follow each other without gaps.

use std::ops::Range;

use bytes::Bytes;

use super::configuration::{Configuration, ConfigurationRef};
use super::id::Id;
use crate::error::{EncodeError, ErrorCode, Expected};
use crate::wire::{
    blob_field, bool_field, id_field, nonzero_term, range_in, share, u64_field, PResult, Rule, Violation, Writer,
};

/// One InstallSnapshot chunk as a borrowed view of its frame ([`crate::decode_ref`]): checked
/// exactly as [`InstallSnapshotRequest`], nothing built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallSnapshotRef<'a> {
    /// The leader's term (MSG-1).
    pub term: u64,
    /// Last log index the snapshot covers (IS-4).
    pub last_included_index: u64,
    /// Term of that entry (IS-4).
    pub last_included_term: u64,
    /// Size of the whole snapshot in bytes.
    pub total_size: u64,
    /// Where this chunk's data starts within the snapshot.
    pub offset: u64,
    /// True on the chunk that completes the snapshot (IS-2).
    pub done: bool,
    /// The leader's server id (1-255 bytes).
    pub leader_id: &'a [u8],
    /// Identifies the snapshot across its chunks (1-255 bytes).
    pub snapshot_id: &'a [u8],
    /// The configuration as of `last_included_index`: present in the first chunk only (IS-3).
    pub configuration: ConfigurationRef<'a>,
    /// This chunk's bytes.
    pub data: &'a [u8],
}

/// One chunk of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallSnapshotRequest {
    /// The leader's term (MSG-1).
    pub term: u64,
    /// Last log index the snapshot covers (IS-4: at least 1).
    pub last_included_index: u64,
    /// Term of that entry (IS-4: at least 1, at most `term`).
    pub last_included_term: u64,
    /// Size of the whole snapshot in bytes.
    pub total_size: u64,
    /// Where this chunk's data starts within the snapshot.
    pub offset: u64,
    /// True on the chunk that completes the snapshot (IS-2).
    pub done: bool,
    /// The leader's server id.
    pub leader_id: Id,
    /// Identifies the snapshot across its chunks.
    pub snapshot_id: Id,
    /// The configuration as of `last_included_index`: present in the first chunk only (IS-3).
    pub configuration: Configuration,
    /// This chunk's bytes (zero-copy).
    pub data: Bytes,
}

/// IS-4, for the index.
fn point_index(last_included_index: u64) -> Rule {
    if last_included_index == 0 {
        return Err(Violation::new(ErrorCode::BadSnapshotPoint, 0, Expected::NonZero));
    }
    Ok(())
}

/// IS-4, for the term.
fn point_term(last_included_term: u64, term: u64) -> Rule {
    if last_included_term == 0 {
        return Err(Violation::new(ErrorCode::BadSnapshotPoint, 0, Expected::NonZero));
    }
    if last_included_term > term {
        return Err(Violation::new(
            ErrorCode::BadSnapshotPoint,
            last_included_term,
            Expected::AtMost(term),
        ));
    }
    Ok(())
}

/// IS-3, judged from the server count alone (the first two bytes of the configuration).
fn configuration_placed(offset: u64, server_count: usize) -> Rule {
    match (offset == 0, server_count) {
        (true, 0) => Err(Violation::new(
            ErrorCode::ConfigurationPlacement,
            0,
            Expected::AtLeast(1),
        )),
        (false, n) if n > 0 => Err(Violation::new(
            ErrorCode::ConfigurationPlacement,
            n as u64,
            Expected::Exactly(0),
        )),
        _ => Ok(()),
    }
}

/// IS-1, IS-2 and IS-5, checked in that order at the data length prefix.
pub(crate) fn chunk_consistent(total_size: u64, offset: u64, len: u64, done: bool) -> Rule {
    let end = offset.checked_add(len);
    match end {
        Some(end) if end <= total_size => {}
        _ => {
            return Err(Violation::new(
                ErrorCode::ChunkOutOfBounds,
                len,
                Expected::AtMost(total_size.saturating_sub(offset)),
            ))
        }
    }
    let reaches_end = end == Some(total_size);
    if done != reaches_end {
        return Err(Violation::new(
            ErrorCode::ChunkDoneMismatch,
            len,
            Expected::Exactly(total_size.saturating_sub(offset)),
        ));
    }
    if !done && len == 0 {
        return Err(Violation::new(ErrorCode::EmptyChunk, 0, Expected::AtLeast(1)));
    }
    Ok(())
}

impl<'a> InstallSnapshotRef<'a> {
    /// The owned chunk, its zero-copy fields shared from `buffer`, which should be the buffer
    /// this view was decoded from (fields outside it are copied).
    #[inline]
    pub fn to_owned_in(&self, buffer: &Bytes) -> InstallSnapshotRequest {
        let (mut chunk, span) = self.owned_but_data(buffer);
        if let Some(span) = span {
            chunk.data = buffer.slice(span);
        }
        chunk
    }

    /// The owned chunk and, when its data lies in `frame` (the buffer this view was decoded
    /// from), where: the chunk's data is then left empty for a decoder that hands `frame` itself
    /// to `crate::wire::narrow`.
    #[inline]
    pub(crate) fn owned_but_data(&self, frame: &Bytes) -> (InstallSnapshotRequest, Option<Range<usize>>) {
        let span = range_in(frame, self.data);
        let chunk = InstallSnapshotRequest {
            term: self.term,
            last_included_index: self.last_included_index,
            last_included_term: self.last_included_term,
            total_size: self.total_size,
            offset: self.offset,
            done: self.done,
            leader_id: Id::from_checked(frame, self.leader_id),
            snapshot_id: Id::from_checked(frame, self.snapshot_id),
            configuration: self.configuration.to_owned_in(frame),
            data: match span {
                Some(_) => Bytes::new(),
                None => share(frame, self.data),
            },
        };
        (chunk, span)
    }

    #[inline]
    pub(crate) fn decode(i: &'a [u8]) -> PResult<'a, Self> {
        let at = i;
        let (i, term) = u64_field("term")(i)?;
        nonzero_term(term).map_err(|v| v.at(at, "term"))?;
        let at = i;
        let (i, last_included_index) = u64_field("last_included_index")(i)?;
        point_index(last_included_index).map_err(|v| v.at(at, "last_included_index"))?;
        let at = i;
        let (i, last_included_term) = u64_field("last_included_term")(i)?;
        point_term(last_included_term, term).map_err(|v| v.at(at, "last_included_term"))?;
        let (i, total_size) = u64_field("total_size")(i)?;
        let (i, offset) = u64_field("offset")(i)?;
        let (i, done) = bool_field("done")(i)?;
        let (i, leader) = id_field("leader_id")(i)?;
        let (i, snapshot) = id_field("snapshot_id")(i)?;
        // The placement rule needs only the count; check it before decoding the servers so an
        // out-of-place configuration is reported at its count, not at some later server. The
        // count is read as a count (FIELD-1 bounds it by the bytes left) first: field-encoding
        // rules come before the message rules that use the field (SPEC.md §5, IS-3).
        let at = i;
        let (_, count) = crate::wire::count_field("server_count", 2, super::configuration::MIN_SERVER_LEN)(i)?;
        configuration_placed(offset, count).map_err(|v| v.at(at, "server_count"))?;
        let (i, configuration) = ConfigurationRef::decode(i)?;
        let at = i;
        let (i, data) = blob_field("data")(i)?;
        chunk_consistent(total_size, offset, data.len() as u64, done).map_err(|v| v.at(at, "data"))?;
        Ok((
            i,
            InstallSnapshotRef {
                term,
                last_included_index,
                last_included_term,
                total_size,
                offset,
                done,
                leader_id: leader,
                snapshot_id: snapshot,
                configuration,
                data,
            },
        ))
    }
}

impl InstallSnapshotRequest {
    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.check(nonzero_term(self.term), "term")?;
        w.u64(self.term);
        w.check(point_index(self.last_included_index), "last_included_index")?;
        w.u64(self.last_included_index);
        w.check(point_term(self.last_included_term, self.term), "last_included_term")?;
        w.u64(self.last_included_term);
        w.u64(self.total_size);
        w.u64(self.offset);
        w.bool(self.done);
        w.id(self.leader_id.as_bytes());
        w.id(self.snapshot_id.as_bytes());
        w.check(
            configuration_placed(self.offset, self.configuration.servers.len()),
            "server_count",
        )?;
        self.configuration.encode(w)?;
        w.check(
            chunk_consistent(self.total_size, self.offset, self.data.len() as u64, self.done),
            "data",
        )?;
        w.blob("data", &self.data)
    }
}

/// The follower's answer to one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallSnapshotResponse {
    /// The follower's term (MSG-1).
    pub term: u64,
    /// Whether the chunk was stored.
    pub success: bool,
    /// Bytes of the snapshot the follower now holds (where the next chunk should start).
    pub bytes_stored: u64,
}

impl InstallSnapshotResponse {
    #[inline]
    pub(crate) fn decode(i: &[u8]) -> PResult<'_, Self> {
        let at = i;
        let (i, term) = u64_field("term")(i)?;
        nonzero_term(term).map_err(|v| v.at(at, "term"))?;
        let (i, success) = bool_field("success")(i)?;
        let (i, bytes_stored) = u64_field("bytes_stored")(i)?;
        Ok((
            i,
            InstallSnapshotResponse {
                term,
                success,
                bytes_stored,
            },
        ))
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.check(nonzero_term(self.term), "term")?;
        w.u64(self.term);
        w.bool(self.success);
        w.u64(self.bytes_stored);
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for InstallSnapshotRequest {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let term = u.int_in_range(1..=u64::MAX)?;
        let data = Bytes::copy_from_slice(u.arbitrary::<&[u8]>()?);
        let offset: u64 = u.int_in_range(0..=u64::MAX / 2)?;
        let done: bool = u.arbitrary()?;
        let data = if !done && data.is_empty() {
            Bytes::from_static(b"x")
        } else {
            data
        };
        let total_size = if done {
            offset + data.len() as u64
        } else {
            offset + data.len() as u64 + u.int_in_range(1..=u64::MAX / 4)?
        };
        Ok(InstallSnapshotRequest {
            term,
            last_included_index: u.int_in_range(1..=u64::MAX)?,
            last_included_term: u.int_in_range(1..=term)?,
            total_size,
            offset,
            done,
            leader_id: u.arbitrary()?,
            snapshot_id: u.arbitrary()?,
            configuration: if offset == 0 {
                u.arbitrary()?
            } else {
                Configuration::default()
            },
            data,
        })
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for InstallSnapshotResponse {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(InstallSnapshotResponse {
            term: u.int_in_range(1..=u64::MAX)?,
            success: u.arbitrary()?,
            bytes_stored: u.arbitrary()?,
        })
    }
}
