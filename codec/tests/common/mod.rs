//! Shared fixtures: one valid message of every type, and helpers to break exactly one field.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use raftwire_codec::craft::{reseal_in_place, RawFrame};
use raftwire_codec::*;

pub fn id(s: &str) -> Id {
    Id::try_from(s).unwrap()
}

pub fn configuration() -> Configuration {
    Configuration {
        servers: vec![
            Server {
                suffrage: Suffrage::Voter,
                id: id("n1"),
                address: id("10.0.0.1:7000"),
            },
            Server {
                suffrage: Suffrage::Nonvoter,
                id: id("n2"),
                address: id("10.0.0.2:7000"),
            },
        ],
    }
}

pub fn request_vote() -> RequestVoteRequest {
    RequestVoteRequest {
        term: 5,
        last_log_index: 10,
        last_log_term: 4,
        pre_vote: false,
        leadership_transfer: true,
        candidate_id: id("n1"),
    }
}

pub fn append_entries() -> AppendEntriesRequest {
    AppendEntriesRequest {
        term: 5,
        prev_log_index: 10,
        prev_log_term: 4,
        leader_commit: 9,
        leader_id: id("n1"),
        entries: vec![
            Entry {
                index: 11,
                term: 4,
                kind: EntryKind::Command,
                data: Bytes::from_static(b"set x=1"),
            },
            Entry {
                index: 12,
                term: 5,
                kind: EntryKind::Noop,
                data: Bytes::new(),
            },
            Entry {
                index: 13,
                term: 5,
                kind: EntryKind::Configuration,
                data: configuration().to_entry_data().unwrap(),
            },
        ]
        .into(),
    }
}

pub fn install_snapshot(offset: u64, data: &'static [u8], total_size: u64) -> InstallSnapshotRequest {
    InstallSnapshotRequest {
        term: 5,
        last_included_index: 100,
        last_included_term: 4,
        total_size,
        offset,
        done: offset + data.len() as u64 == total_size,
        leader_id: id("n1"),
        snapshot_id: id("snap-100"),
        configuration: if offset == 0 {
            configuration()
        } else {
            Configuration::default()
        },
        data: Bytes::from_static(data),
    }
}

/// One valid message of every type.
pub fn every_message() -> Vec<Message> {
    vec![
        Message::RequestVote(request_vote()),
        Message::RequestVoteResponse(RequestVoteResponse { term: 5, granted: true }),
        Message::AppendEntries(append_entries()),
        Message::AppendEntries(AppendEntriesRequest {
            entries: vec![].into(),
            ..append_entries()
        }),
        Message::AppendEntriesResponse(AppendEntriesResponse {
            term: 5,
            success: false,
            last_log_index: 8,
            conflict_index: 7,
            conflict_term: 3,
        }),
        Message::InstallSnapshot(Box::new(install_snapshot(0, b"first", 12))),
        Message::InstallSnapshot(Box::new(install_snapshot(5, b"mid", 12))),
        Message::InstallSnapshot(Box::new(install_snapshot(8, b"last", 12))),
        Message::InstallSnapshotResponse(InstallSnapshotResponse {
            term: 5,
            success: true,
            bytes_stored: 5,
        }),
        Message::TimeoutNow(TimeoutNowRequest {
            term: 5,
            leader_id: id("n1"),
        }),
        Message::TimeoutNowResponse(TimeoutNowResponse { term: 5, success: true }),
        Message::Error(ErrorResponse {
            code: ErrorResponseCode::NotLeader,
            message: "leader is n2".into(),
        }),
        Message::Vote(VoteRequest {
            vote: LeaderVote {
                term: 5,
                node: 2,
                committed: false,
            },
            last_log_id: Some(LogId {
                term: 4,
                node: 1,
                index: 9,
            }),
        }),
        Message::VoteResponse(VoteResponse::default()),
        Message::Append(AppendRequest {
            vote: LeaderVote {
                term: 5,
                node: 2,
                committed: true,
            },
            prev_log_id: None,
            leader_commit: None,
            entries: vec![LogEntry {
                log_id: LogId::default(),
                kind: LogEntryKind::Normal,
                data: bytes::Bytes::from_static(b"x"),
            }],
        }),
        Message::AppendResponse(AppendResponse::Conflict),
        Message::Snapshot(Box::new(SnapshotChunk {
            vote: LeaderVote {
                term: 5,
                node: 2,
                committed: true,
            },
            total_size: 0,
            offset: 0,
            done: true,
            snapshot_id: "s".into(),
            meta: Some(SnapshotMeta::default()),
            data: bytes::Bytes::new(),
        })),
        Message::SnapshotResponse(SnapshotResponse::default()),
    ]
}

pub fn encoded(message: Message) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode(&Frame::new(1, message), &mut buf).unwrap();
    buf.to_vec()
}

/// The encoding of `message` with `patch` written at payload offset `at`, CRCs made valid again
/// so the body rule under test is what fails.
pub fn patched(message: Message, at: usize, patch: &[u8]) -> Vec<u8> {
    let mut b = encoded(message);
    b[HEADER_LEN + at..HEADER_LEN + at + patch.len()].copy_from_slice(patch);
    assert!(reseal_in_place(&mut b));
    b
}

/// A frame of `ty` around an arbitrary payload, with valid length and CRCs.
pub fn raw(ty: MessageType, payload: &[u8]) -> Vec<u8> {
    RawFrame::new(ty as u8, payload.to_vec()).bytes()
}

/// The owned decoder's error, checked to be exactly the borrowed view's.
pub fn reject(bytes: &[u8]) -> DecodeError {
    let e = decode(&Bytes::copy_from_slice(bytes)).expect_err("frame should be rejected");
    assert_eq!(
        decode_ref(bytes).expect_err("the view accepted it"),
        e,
        "view and owned errors differ"
    );
    e
}

/// The owned decoder's frame, checked to be exactly the borrowed view's.
pub fn accept(bytes: &[u8]) -> Frame {
    let input = Bytes::copy_from_slice(bytes);
    let frame = decode(&input).expect("frame should be accepted");
    let view = decode_ref(&input).expect("the view rejected it");
    assert_eq!(view.to_frame(&input), frame, "view and owned frames differ");
    frame
}

/// Asserts the rejection's code, requirement and absolute offset.
pub fn assert_rejected(bytes: &[u8], code: ErrorCode, requirement: &str, offset: u64) -> DecodeError {
    let e = reject(bytes);
    assert_eq!((e.code, e.requirement(), e.offset), (code, requirement, offset), "{e}");
    e
}
