//! The server side without a cluster: RaftService turns each decoded RFW/1 request into exactly
//! the openraft request it stands for, answers with openraft's answer field by field, reassembles
//! a snapshot from its chunks, and refuses what it cannot serve with a typed Error.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{BasicNode, CommittedLeaderId, EntryPayload, LogId, Membership, Snapshot, SnapshotMeta, Vote};
use raftwire_codec as rfw;
use raftwire_codec::{ErrorResponseCode, Frame, Message};
use raftwire_openraft::memory::{KvTypes, Set};
use raftwire_openraft::{DataCodec, Json, RaftApi, RaftService};
use raftwire_transport::AsyncHandler;

/// A snapshot installed: the vote it came with, its metadata, its bytes.
type Installed = (Vote<u64>, SnapshotMeta<u64, BasicNode>, Vec<u8>);

/// Records what it is handed and answers with fixed values.
#[derive(Clone, Default)]
struct Recorder {
    votes: Arc<Mutex<Vec<VoteRequest<u64>>>>,
    appends: Arc<Mutex<Vec<AppendEntriesRequest<KvTypes>>>>,
    snapshots: Arc<Mutex<Vec<Installed>>>,
    fail: Option<String>,
}

fn lid(term: u64, node: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, node), index)
}

impl RaftApi<KvTypes> for Recorder {
    async fn vote(&self, rpc: VoteRequest<u64>) -> Result<VoteResponse<u64>, String> {
        self.votes.lock().unwrap().push(rpc.clone());
        if let Some(why) = &self.fail {
            return Err(why.clone());
        }
        Ok(VoteResponse::new(Vote::new(9, 4), Some(lid(8, 3, 77)), false))
    }

    async fn append_entries(&self, rpc: AppendEntriesRequest<KvTypes>) -> Result<AppendEntriesResponse<u64>, String> {
        self.appends.lock().unwrap().push(rpc);
        Ok(AppendEntriesResponse::PartialSuccess(Some(lid(2, 1, 5))))
    }

    async fn install_full_snapshot(
        &self,
        vote: Vote<u64>,
        s: Snapshot<KvTypes>,
    ) -> Result<SnapshotResponse<u64>, String> {
        self.snapshots
            .lock()
            .unwrap()
            .push((vote, s.meta, s.snapshot.into_inner()));
        Ok(SnapshotResponse::new(Vote::new_committed(5, 2)))
    }

    fn current_vote(&self) -> Vote<u64> {
        Vote::new_committed(5, 1)
    }
}

fn service(r: &Recorder) -> RaftService<KvTypes, Json, Recorder> {
    RaftService::new(r.clone())
}

async fn ask(s: &RaftService<KvTypes, Json, Recorder>, m: Message) -> Message {
    // Through the codec both ways, as the transport would.
    let bytes = Frame::new(7, m).to_bytes().unwrap();
    let frame = rfw::decode(&bytes).unwrap();
    let answer = s.handle(frame).await;
    let back = Frame::new(7, answer).to_bytes().expect("the answer encodes");
    rfw::decode(&back).unwrap().message
}

fn lv(term: u64, node: u64, committed: bool) -> rfw::LeaderVote {
    rfw::LeaderVote { term, node, committed }
}

fn rl(term: u64, node: u64, index: u64) -> rfw::LogId {
    rfw::LogId { term, node, index }
}

#[tokio::test]
async fn a_vote_is_openrafts_vote_request_and_its_answer_comes_back_whole() {
    let r = Recorder::default();
    let answer = ask(
        &service(&r),
        Message::Vote(rfw::VoteRequest {
            vote: lv(6, 3, false),
            last_log_id: Some(rl(5, 2, 40)),
        }),
    )
    .await;
    assert_eq!(
        r.votes.lock().unwrap()[..],
        [VoteRequest::new(Vote::new(6, 3), Some(lid(5, 2, 40)))]
    );
    assert_eq!(
        answer,
        Message::VoteResponse(rfw::VoteResponse {
            vote: lv(9, 4, false),
            granted: false,
            last_log_id: Some(rl(8, 3, 77)),
        })
    );
}

#[tokio::test]
async fn an_append_carries_every_kind_of_entry_and_a_joint_membership() {
    let r = Recorder::default();
    let joint = rfw::Membership {
        configs: vec![vec![1, 2, 3], vec![2, 3, 4]],
        nodes: (1..=4)
            .map(|id| rfw::MemberNode {
                id,
                address: format!("10.0.0.{id}:1"),
            })
            .collect(),
    };
    let set = Set {
        key: "k".into(),
        value: "v".into(),
    };
    let entries = vec![
        rfw::LogEntry {
            log_id: rl(2, 1, 4),
            kind: rfw::LogEntryKind::Normal,
            data: Bytes::from(Json.encode(&set).unwrap()),
        },
        rfw::LogEntry {
            log_id: rl(3, 2, 5),
            kind: rfw::LogEntryKind::Blank,
            data: Bytes::new(),
        },
        rfw::LogEntry {
            log_id: rl(3, 2, 6),
            kind: rfw::LogEntryKind::Membership,
            data: joint.to_entry_data().unwrap(),
        },
    ];
    let answer = ask(
        &service(&r),
        Message::Append(rfw::AppendRequest {
            vote: lv(3, 2, true),
            prev_log_id: Some(rl(2, 1, 3)),
            leader_commit: Some(rl(2, 1, 3)),
            entries,
        }),
    )
    .await;
    assert_eq!(
        answer,
        Message::AppendResponse(rfw::AppendResponse::PartialSuccess(Some(rl(2, 1, 5))))
    );
    let got = r.appends.lock().unwrap().pop().unwrap();
    assert_eq!(got.vote, Vote::new_committed(3, 2));
    assert_eq!(
        (got.prev_log_id, got.leader_commit),
        (Some(lid(2, 1, 3)), Some(lid(2, 1, 3)))
    );
    let ids: Vec<_> = got.entries.iter().map(|e| e.log_id).collect();
    assert_eq!(ids, [lid(2, 1, 4), lid(3, 2, 5), lid(3, 2, 6)]);
    assert!(matches!(&got.entries[0].payload, EntryPayload::Normal(s) if *s == set));
    assert!(matches!(got.entries[1].payload, EntryPayload::Blank));
    let EntryPayload::Membership(m) = &got.entries[2].payload else {
        panic!("{:?}", got.entries[2].payload)
    };
    let expected = Membership::new(
        vec![BTreeSet::from([1, 2, 3]), BTreeSet::from([2, 3, 4])],
        (1..=4)
            .map(|id| (id, BasicNode::new(format!("10.0.0.{id}:1"))))
            .collect::<BTreeMap<_, _>>(),
    );
    assert_eq!(m, &expected);
}

#[tokio::test]
async fn a_command_the_codec_cannot_read_is_refused_as_malformed_and_not_applied() {
    let r = Recorder::default();
    let answer = ask(
        &service(&r),
        Message::Append(rfw::AppendRequest {
            vote: lv(3, 2, true),
            prev_log_id: None,
            leader_commit: None,
            entries: vec![rfw::LogEntry {
                log_id: rl(3, 2, 0),
                kind: rfw::LogEntryKind::Normal,
                data: Bytes::from_static(b"{not json"),
            }],
        }),
    )
    .await;
    assert!(
        matches!(answer, Message::Error(ref e) if e.code == ErrorResponseCode::Malformed),
        "{answer:?}"
    );
    assert!(r.appends.lock().unwrap().is_empty());
}

fn chunk(offset: u64, data: &'static [u8], total: u64, first: bool) -> Message {
    Message::Snapshot(Box::new(rfw::SnapshotChunk {
        vote: lv(5, 2, true),
        total_size: total,
        offset,
        done: offset + data.len() as u64 == total,
        snapshot_id: "5-9".into(),
        meta: first.then(|| rfw::SnapshotMeta {
            last_log_id: Some(rl(5, 2, 9)),
            membership_log_id: Some(rl(1, 1, 1)),
            membership: rfw::Membership {
                configs: vec![vec![1]],
                nodes: vec![rfw::MemberNode {
                    id: 1,
                    address: "a".into(),
                }],
            },
        }),
        data: Bytes::from_static(data),
    }))
}

#[tokio::test]
async fn a_snapshot_is_installed_once_from_all_its_chunks_in_order() {
    let r = Recorder::default();
    let s = service(&r);
    let vote_now = Message::SnapshotResponse(rfw::SnapshotResponse { vote: lv(5, 1, true) });
    assert_eq!(ask(&s, chunk(0, b"abc", 8, true)).await, vote_now);
    assert_eq!(ask(&s, chunk(3, b"de", 8, false)).await, vote_now);
    assert!(
        r.snapshots.lock().unwrap().is_empty(),
        "installed before the last chunk"
    );
    let done = ask(&s, chunk(5, b"fgh", 8, false)).await;
    assert_eq!(
        done,
        Message::SnapshotResponse(rfw::SnapshotResponse { vote: lv(5, 2, true) })
    );
    let (vote, meta, data) = r.snapshots.lock().unwrap().pop().unwrap();
    assert_eq!((vote, data), (Vote::new_committed(5, 2), b"abcdefgh".to_vec()));
    assert_eq!(
        (meta.snapshot_id.as_str(), meta.last_log_id),
        ("5-9", Some(lid(5, 2, 9)))
    );
    assert_eq!(meta.last_membership.log_id(), &Some(lid(1, 1, 1)));
    // A chunk that continues nothing (the transfer is over) is refused.
    let stray = ask(&s, chunk(3, b"de", 8, false)).await;
    assert!(
        matches!(stray, Message::Error(ref e) if e.code == ErrorResponseCode::Malformed),
        "{stray:?}"
    );
}

#[tokio::test]
async fn a_gap_between_chunks_abandons_the_transfer_and_a_snapshot_too_large_is_refused() {
    let r = Recorder::default();
    let s = service(&r);
    ask(&s, chunk(0, b"abc", 8, true)).await;
    let gap = ask(&s, chunk(4, b"efgh", 8, false)).await;
    assert!(
        matches!(gap, Message::Error(ref e) if e.code == ErrorResponseCode::Malformed),
        "{gap:?}"
    );
    // The transfer was dropped: even the right next chunk continues nothing now.
    let after = ask(&s, chunk(3, b"defgh", 8, false)).await;
    assert!(matches!(after, Message::Error(ref e) if e.code == ErrorResponseCode::Malformed));
    assert!(r.snapshots.lock().unwrap().is_empty());
    let small = RaftService::<KvTypes, Json, Recorder>::new(r.clone()).with_max_snapshot(7);
    let big = ask(&small, chunk(0, b"abc", 8, true)).await;
    assert!(
        matches!(big, Message::Error(ref e) if e.code == ErrorResponseCode::Overloaded),
        "{big:?}"
    );
    let fits = ask(&small, chunk(0, b"abcdefg", 7, true)).await;
    assert!(matches!(fits, Message::SnapshotResponse(_)), "{fits:?}");
}

#[tokio::test]
async fn a_raft_that_cannot_answer_says_unavailable_and_other_families_are_unsupported() {
    let r = Recorder {
        fail: Some("raft stopped".into()),
        ..Recorder::default()
    };
    let s = service(&r);
    let stopped = ask(
        &s,
        Message::Vote(rfw::VoteRequest {
            vote: lv(1, 1, false),
            last_log_id: None,
        }),
    )
    .await;
    assert!(
        matches!(stopped, Message::Error(ref e) if e.code == ErrorResponseCode::Unavailable && e.message == "raft stopped")
    );
    let classic = ask(
        &s,
        Message::TimeoutNow(rfw::TimeoutNowRequest {
            term: 1,
            leader_id: rfw::Id::try_from("n1").unwrap(),
        }),
    )
    .await;
    assert!(
        matches!(classic, Message::Error(ref e) if e.code == ErrorResponseCode::Unsupported),
        "{classic:?}"
    );
}

#[tokio::test]
async fn a_long_error_is_cut_to_the_error_bodys_limit_at_a_character_boundary() {
    // 'a' then two-byte characters: byte 4096 falls inside one, so the cut is at 4095.
    let why = format!("a{}", "é".repeat(3000));
    let r = Recorder {
        fail: Some(why.clone()),
        ..Recorder::default()
    };
    let answer = ask(
        &service(&r),
        Message::Vote(rfw::VoteRequest {
            vote: lv(1, 1, false),
            last_log_id: None,
        }),
    )
    .await;
    let Message::Error(e) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(e.message.len(), 4095);
    assert!(why.starts_with(&e.message));
}
