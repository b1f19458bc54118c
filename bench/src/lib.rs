//! Workloads for the benchmarks: RFW/1 frames of given payload sizes, and the same logical
//! AppendEntries in the encodings people use instead (etcd/raft-rs protobuf via prost,
//! hashicorp/raft msgpack via rmp-serde), so each comparison decodes the same content.

use bytes::{Bytes, BytesMut};
use raftwire_codec::*;

fn id(s: &str) -> Id {
    Id::try_from(s).unwrap_or_else(|e| panic!("{e}"))
}

/// Deterministic filler bytes.
pub fn filler(n: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>(),
    )
}

/// A frame whose payload is exactly `payload` bytes (16 B: a TimeoutNow; up to a few KiB:
/// AppendEntries with entries; larger: an InstallSnapshot chunk).
pub fn frame_with_payload(payload: usize, request_id: u64) -> Frame {
    let message = if payload < 37 {
        // term (8) + id length (1) + id.
        let n = payload.saturating_sub(9).max(1);
        Message::TimeoutNow(TimeoutNowRequest {
            term: 1,
            leader_id: id(&"n".repeat(n)),
        })
    } else if payload <= 64 * 1024 {
        // 37 B of fixed fields with a 2-byte leader id (2 + 1 + 4 count...) then entries of 21 B + data.
        let fixed = 8 * 4 + 1 + 2 + 4;
        let mut left = payload - fixed;
        let mut entries = Vec::new();
        let mut index = 1;
        while left >= 21 {
            let data = (left - 21).min(1024);
            entries.push(Entry {
                index,
                term: 1,
                kind: EntryKind::Command,
                data: filler(data, index as u8),
            });
            left -= 21 + data;
            index += 1;
        }
        // Any remainder is absorbed by a longer leader id.
        let leader = "n".repeat(2 + left);
        Message::AppendEntries(AppendEntriesRequest {
            term: 1,
            prev_log_index: 0,
            prev_log_term: 0,
            leader_commit: 0,
            leader_id: id(&leader),
            entries: entries.into(),
        })
    } else {
        // Fixed fields 41 + ids (1+2, 1+4) + empty configuration (2) + data length (4).
        let data = payload - (41 + 3 + 5 + 2 + 4);
        Message::InstallSnapshot(Box::new(InstallSnapshotRequest {
            term: 1,
            last_included_index: 10,
            last_included_term: 1,
            total_size: 1 << 40,
            offset: 1 << 20,
            done: false,
            leader_id: id("n1"),
            snapshot_id: id("snap"),
            configuration: Configuration::default(),
            data: filler(data, 7),
        }))
    };
    Frame::new(request_id, message)
}

/// `count` frames of `payload` bytes each, back to back.
pub fn stream(payload: usize, count: usize) -> Bytes {
    let mut buf = BytesMut::new();
    for i in 0..count {
        encode(&frame_with_payload(payload, i as u64 + 1), &mut buf).unwrap_or_else(|e| panic!("{e}"));
    }
    buf.freeze()
}

/// Decodes every frame of a complete buffer; returns how many (so the work cannot be optimised away).
pub fn decode_stream(buf: &Bytes) -> usize {
    let limits = Limits::default();
    let mut at = 0;
    let mut n = 0;
    while at < buf.len() {
        match decode_at(buf, at, &limits) {
            Ok(Progress::Frame { len, .. }) => {
                at += len;
                n += 1;
            }
            _ => break,
        }
    }
    n
}

/// [`decode_stream`] through the borrowed view ([`decode_ref_at`]): every frame checked the same
/// way, no owned message built. Returns the sum of the request ids: each view is read (as the
/// incremental benchmark's callback reads it), so building it cannot be optimised away in one
/// loop and kept in the other.
pub fn decode_stream_ref(buf: &[u8]) -> usize {
    let limits = Limits::default();
    let mut at = 0;
    let mut ids = 0;
    while at < buf.len() {
        match decode_ref_at(buf, at, &limits) {
            Ok(Progress::Frame { frame, len }) => {
                at += len;
                ids += frame.request_id as usize;
            }
            _ => break,
        }
    }
    ids
}

/// The per-frame CRC ceiling: crc32fast over each frame's bytes, the one per-byte cost a
/// checksummed format cannot avoid. Returns a fold of the CRCs.
pub fn crc_each_frame(buf: &[u8], frame_len: usize) -> u32 {
    buf.chunks(frame_len).fold(0, |acc, f| acc ^ crc32fast::hash(f))
}

/// The strict floor: what any decoder of this format must do per frame before building anything,
/// judge the header (marker, version, type, length, header CRC) and check the payload CRC. The
/// gap between it and a full decode is the cost of the body checks and the decoded message.
pub fn check_each_frame(buf: &[u8]) -> usize {
    let limits = Limits::default();
    let mut rest = buf;
    let mut n = 0;
    while let Ok(HeaderProgress::Complete(h)) = decode_header(rest, 0, &limits) {
        let Some((frame, after)) = rest.split_at_checked(h.frame_len()) else {
            break;
        };
        let Some((body, crc)) = frame.get(HEADER_LEN..).and_then(|f| f.split_last_chunk::<4>()) else {
            break;
        };
        n += usize::from(crc32fast::hash(body) == u32::from_be_bytes(*crc));
        rest = after;
    }
    n
}

/// etcd/raft-rs `eraftpb` types, as prost would generate them from eraftpb.proto.
pub mod eraftpb {
    /// `eraftpb.Entry`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        #[prost(int32, tag = "1")]
        pub entry_type: i32,
        #[prost(uint64, tag = "2")]
        pub term: u64,
        #[prost(uint64, tag = "3")]
        pub index: u64,
        #[prost(bytes = "bytes", tag = "4")]
        pub data: bytes::Bytes,
        #[prost(bytes = "bytes", tag = "6")]
        pub context: bytes::Bytes,
    }
    /// `eraftpb.Message` (the fields an append carries).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Message {
        #[prost(int32, tag = "1")]
        pub msg_type: i32,
        #[prost(uint64, tag = "2")]
        pub to: u64,
        #[prost(uint64, tag = "3")]
        pub from: u64,
        #[prost(uint64, tag = "4")]
        pub term: u64,
        #[prost(uint64, tag = "5")]
        pub log_term: u64,
        #[prost(uint64, tag = "6")]
        pub index: u64,
        #[prost(message, repeated, tag = "7")]
        pub entries: Vec<Entry>,
        #[prost(uint64, tag = "8")]
        pub commit: u64,
    }
}

/// hashicorp/raft's AppendEntriesRequest as go-msgpack writes it: a map keyed by Go field names.
pub mod hashicorp {
    use serde::{Deserialize, Serialize};

    /// `raft.Log`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    pub struct Log {
        #[serde(with = "serde_bytes")]
        pub data: Vec<u8>,
        #[serde(with = "serde_bytes")]
        pub extensions: Vec<u8>,
        pub index: u64,
        pub term: u64,
        #[serde(rename = "Type")]
        pub kind: u8,
    }

    /// `raft.AppendEntriesRequest` (header flattened, newest field set less AppendedAt).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    pub struct AppendEntriesRequest {
        #[serde(with = "serde_bytes")]
        pub addr: Vec<u8>,
        pub entries: Vec<Log>,
        #[serde(rename = "ID", with = "serde_bytes")]
        pub id: Vec<u8>,
        #[serde(with = "serde_bytes")]
        pub leader: Vec<u8>,
        pub leader_commit_index: u64,
        pub prev_log_entry: u64,
        pub prev_log_term: u64,
        pub protocol_version: i64,
        pub term: u64,
    }
}

/// The same AppendEntries (`n` entries of `size` bytes) in all three encodings.
pub fn append_entries_three_ways(n: usize, size: usize) -> (Bytes, Bytes, Vec<u8>) {
    let entries: Vec<Entry> = (0..n)
        .map(|i| Entry {
            index: 101 + i as u64,
            term: 3,
            kind: EntryKind::Command,
            data: filler(size, i as u8),
        })
        .collect();
    let ours = Frame::new(
        1,
        Message::AppendEntries(AppendEntriesRequest {
            term: 3,
            prev_log_index: 100,
            prev_log_term: 3,
            leader_commit: 99,
            leader_id: id("node-1"),
            entries: entries.clone().into(),
        }),
    )
    .to_bytes()
    .unwrap_or_else(|e| panic!("{e}"));
    let pb = eraftpb::Message {
        msg_type: 3,
        to: 2,
        from: 1,
        term: 3,
        log_term: 3,
        index: 100,
        entries: entries
            .iter()
            .map(|e| eraftpb::Entry {
                entry_type: 0,
                term: e.term,
                index: e.index,
                data: e.data.clone(),
                context: Bytes::new(),
            })
            .collect(),
        commit: 99,
    };
    let pb = Bytes::from(prost::Message::encode_to_vec(&pb));
    let hc = hashicorp::AppendEntriesRequest {
        addr: b"10.0.0.1:8300".to_vec(),
        entries: entries
            .iter()
            .map(|e| hashicorp::Log {
                data: e.data.to_vec(),
                extensions: vec![],
                index: e.index,
                term: e.term,
                kind: 0,
            })
            .collect(),
        id: b"node-1".to_vec(),
        leader: b"10.0.0.1:8300".to_vec(),
        leader_commit_index: 99,
        prev_log_entry: 100,
        prev_log_term: 3,
        protocol_version: 3,
        term: 3,
    };
    let mp = rmp_serde::to_vec_named(&hc).unwrap_or_else(|e| panic!("{e}"));
    (ours, pb, mp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_requested_payload_sizes() {
        for payload in [16, 64, 4096, 1 << 20] {
            let b = frame_with_payload(payload, 1).to_bytes().unwrap();
            assert_eq!(b.len(), payload + HEADER_LEN + TRAILER_LEN, "payload {payload}");
        }
        assert_eq!(decode_stream(&stream(64, 100)), 100);
    }

    #[test]
    fn the_three_encodings_carry_the_same_entries() {
        let (ours, pb, mp) = append_entries_three_ways(16, 128);
        let Message::AppendEntries(a) = decode(&ours).unwrap().message else {
            panic!()
        };
        let p: eraftpb::Message = prost::Message::decode(pb).unwrap();
        let h: hashicorp::AppendEntriesRequest = rmp_serde::from_slice(&mp).unwrap();
        assert_eq!(a.entries.len(), 16);
        for ((x, y), z) in a.entries.iter().zip(&p.entries).zip(&h.entries) {
            assert_eq!((x.index, x.data), (y.index, &y.data[..]));
            assert_eq!((x.index, x.data), (z.index, &z.data[..]));
        }
    }
}
