//! The leader-id family (SPEC.md §5.7) beyond the shared property tests: its encoders refuse
//! what its decoders reject, at the same byte and leaving nothing behind, and its borrowed views
//! read the same entries, memberships and metadata as the owned messages.

use bytes::{Bytes, BytesMut};
use raftwire_codec::*;

fn vote(term: u64, node: u64, committed: bool) -> LeaderVote {
    LeaderVote { term, node, committed }
}

fn log_id(term: u64, node: u64, index: u64) -> LogId {
    LogId { term, node, index }
}

fn membership() -> Membership {
    Membership {
        configs: vec![vec![1, 2], vec![2, 3]],
        nodes: [1, 2, 3]
            .map(|id| MemberNode {
                id,
                address: format!("n{id}"),
            })
            .to_vec(),
    }
}

fn append(entries: Vec<LogEntry>) -> AppendRequest {
    AppendRequest {
        vote: vote(3, 2, true),
        prev_log_id: Some(log_id(2, 1, 4)),
        leader_commit: Some(log_id(2, 1, 4)),
        entries,
    }
}

fn entry(term: u64, node: u64, index: u64) -> LogEntry {
    LogEntry {
        log_id: log_id(term, node, index),
        kind: LogEntryKind::Normal,
        data: Bytes::from_static(b"cmd"),
    }
}

/// The encoder's refusal: its code and offset in the frame; the output buffer is left as it was.
fn refused(m: Message) -> (ErrorCode, u64) {
    let mut buf = BytesMut::from(&b"kept"[..]);
    let e = encode(&Frame::new(1, m), &mut buf).expect_err("should be refused");
    assert_eq!(&buf[..], b"kept");
    match e {
        EncodeError::Invalid(d) => (d.code, d.offset),
        other => panic!("{other}"),
    }
}

#[test]
fn encoders_refuse_what_decoders_reject_at_the_decoders_offset() {
    // Payload offsets as SPEC.md §5.7 lays them out (the header is 24 bytes).
    let h = HEADER_LEN as u64;
    let uncommitted = Message::Append(AppendRequest {
        vote: vote(3, 2, false),
        ..append(vec![])
    });
    assert_eq!(refused(uncommitted), (ErrorCode::BadVoteCommit, h + 16));
    let commit_ahead = Message::Append(AppendRequest {
        leader_commit: Some(log_id(3, 3, 9)),
        ..append(vec![])
    });
    assert_eq!(refused(commit_ahead), (ErrorCode::LogIdAfterVote, h + 43));
    // Entries start at 71: the second one (29 + 3 bytes on) has a gap.
    let gap = Message::Append(append(vec![entry(2, 1, 5), entry(3, 2, 7)]));
    assert_eq!(refused(gap), (ErrorCode::EntryIndexGap, h + 71 + 32 + 16));
    let backwards = Message::Append(append(vec![entry(3, 2, 5), entry(3, 1, 6)]));
    assert_eq!(refused(backwards), (ErrorCode::EntryTermOrder, h + 71 + 32));
    let mut unordered = membership();
    unordered.nodes.swap(0, 1);
    assert_eq!(
        unordered.to_entry_data().map_err(|e| e.code()),
        Err(Some(ErrorCode::IdsOutOfOrder))
    );
    let candidate_committed = Message::Vote(VoteRequest {
        vote: vote(3, 2, true),
        last_log_id: None,
    });
    assert_eq!(refused(candidate_committed), (ErrorCode::BadVoteCommit, h + 16));
    let later_chunk_with_meta = Message::Snapshot(Box::new(SnapshotChunk {
        vote: vote(3, 2, true),
        total_size: 4,
        offset: 2,
        done: true,
        snapshot_id: "s".into(),
        meta: Some(SnapshotMeta::default()),
        data: Bytes::from_static(b"cd"),
    }));
    assert_eq!(
        refused(later_chunk_with_meta.clone()),
        (ErrorCode::ConfigurationPlacement, h + 37)
    );
    // The error says what the field should have held: no metadata after the first chunk.
    match encode(&Frame::new(1, later_chunk_with_meta), &mut BytesMut::new()) {
        Err(EncodeError::Invalid(d)) => assert_eq!((d.found, d.expected), (1, Expected::Exactly(0))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn borrowed_views_read_what_the_owned_messages_hold() {
    let data = membership().to_entry_data().unwrap();
    let owned = append(vec![
        entry(2, 1, 5),
        LogEntry {
            log_id: log_id(3, 2, 6),
            kind: LogEntryKind::Blank,
            data: Bytes::new(),
        },
        LogEntry {
            log_id: log_id(3, 2, 7),
            kind: LogEntryKind::Membership,
            data,
        },
    ]);
    let bytes = Frame::new(9, Message::Append(owned.clone())).to_bytes().unwrap();
    let view = decode_ref(&bytes).unwrap();
    let MessageRef::Append(a) = view.message else {
        panic!("{view:?}")
    };
    assert_eq!((a.len(), a.vote, a.prev_log_id), (3, owned.vote, owned.prev_log_id));
    assert!(!a.is_empty());
    let heartbeat = Frame::new(9, Message::Append(append(vec![]))).to_bytes().unwrap();
    match decode_ref(&heartbeat).unwrap().message {
        MessageRef::Append(h) => assert!(h.is_empty() && h.entries().next().is_none(), "{h:?}"),
        other => panic!("{other:?}"),
    }
    let read: Vec<LogEntry> = a
        .entries()
        .map(|e| LogEntry {
            log_id: e.log_id,
            kind: e.kind,
            data: Bytes::copy_from_slice(e.data),
        })
        .collect();
    assert_eq!(read, owned.entries);
    let m = a.entries().last().and_then(|e| e.membership().map(|m| m.to_owned()));
    assert_eq!(m, Some(membership()));
    assert_eq!(owned.entries[2].membership(), Some(membership()));
    assert!(Membership::default().is_empty() && !membership().is_empty());
    let learners_only = Membership {
        configs: vec![],
        nodes: membership().nodes,
    };
    assert!(
        !learners_only.is_empty(),
        "a membership with nodes is not the uninitialised one"
    );
    assert_eq!(owned.entries[0].membership(), None);
    assert_eq!(decode(&bytes).unwrap().message, Message::Append(owned));

    let chunk = SnapshotChunk {
        vote: vote(3, 2, true),
        total_size: 5,
        offset: 0,
        done: false,
        snapshot_id: "3-7".into(),
        meta: Some(SnapshotMeta {
            last_log_id: Some(log_id(3, 2, 7)),
            membership_log_id: Some(log_id(3, 2, 7)),
            membership: membership(),
        }),
        data: Bytes::from_static(b"ab"),
    };
    let bytes = Frame::new(9, Message::Snapshot(Box::new(chunk.clone())))
        .to_bytes()
        .unwrap();
    let MessageRef::Snapshot(c) = decode_ref(&bytes).unwrap().message else {
        panic!()
    };
    let meta = c.meta.unwrap();
    assert_eq!(meta.membership.to_owned(), membership());
    assert_eq!(meta.membership.config_count(), 2);
    assert_eq!((c.snapshot_id, c.data), ("3-7", &b"ab"[..]));
    assert_eq!(c.to_owned_in(&bytes), chunk);
}

#[test]
fn responses_carry_their_vote_as_their_term() {
    let higher = Message::AppendResponse(AppendResponse::HigherVote(vote(9, 1, true)));
    assert_eq!(higher.term(), Some(9));
    assert_eq!(Message::AppendResponse(AppendResponse::Success).term(), None);
    assert_eq!(Message::AppendResponse(AppendResponse::Conflict).term(), None);
    let partial = Message::AppendResponse(AppendResponse::PartialSuccess(Some(log_id(2, 1, 3))));
    assert_eq!(partial.term(), None);
    for m in [higher, partial] {
        let bytes = Frame::new(3, m.clone()).to_bytes().unwrap();
        assert_eq!(decode(&bytes).unwrap().message, m);
        assert_eq!(decode_ref(&bytes).unwrap().message.term(), m.term());
    }
}
