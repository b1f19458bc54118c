//! The client side against a scripted node: RfwNetwork puts openraft's requests on the wire as the
//! leader-id family, reads the answers back into openraft's types, sends a snapshot in chunks that
//! stop when the follower's vote is newer, and sorts failures the way openraft acts on them: a node
//! that cannot answer now (or cannot be reached) is Unreachable, so openraft backs off; an answer
//! that makes no sense is a Network error.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{RPCError, StreamingError};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest};
use openraft::{BasicNode, CommittedLeaderId, LogId, Snapshot, SnapshotMeta, StoredMembership, Vote};
use raftwire_codec as rfw;
use raftwire_codec::{ErrorResponse, ErrorResponseCode, Frame, Message};
use raftwire_openraft::memory::KvTypes;
use raftwire_openraft::{Json, RfwNetwork, RfwNetworkFactory};
use raftwire_transport::{ClientConfig, Handler, Server, ServerOptions};

/// Answers every request with `answer(request)` and keeps what it was sent.
struct Scripted {
    seen: Mutex<Vec<Message>>,
    answer: Box<dyn Fn(&Message) -> Message + Send + Sync>,
}

impl Handler for Scripted {
    fn handle(&self, request: &Frame) -> Message {
        self.seen.lock().unwrap().push(request.message.clone());
        (self.answer)(&request.message)
    }
}

async fn node(answer: impl Fn(&Message) -> Message + Send + Sync + 'static) -> (Server, Arc<Scripted>) {
    let h = Arc::new(Scripted {
        seen: Mutex::default(),
        answer: Box::new(answer),
    });
    let options = ServerOptions {
        log_drops: false,
        ..ServerOptions::long_running()
    };
    (Server::start_with("127.0.0.1:0", h.clone(), options).await.unwrap(), h)
}

async fn network(addr: &str) -> RfwNetwork<KvTypes> {
    let config = ClientConfig {
        max_attempts: 1,
        timeout: Duration::from_secs(2),
        ..ClientConfig::default()
    };
    let mut factory = RfwNetworkFactory::<KvTypes>::new(config, Json).with_chunk_size(4);
    factory.new_client(2, &BasicNode::new(addr)).await
}

fn option() -> RPCOption {
    RPCOption::new(Duration::from_secs(2))
}

fn heartbeat() -> AppendEntriesRequest<KvTypes> {
    AppendEntriesRequest {
        vote: Vote::new_committed(4, 1),
        prev_log_id: Some(LogId::new(CommittedLeaderId::new(3, 1), 9)),
        leader_commit: None,
        entries: vec![],
    }
}

fn error(code: ErrorResponseCode) -> Message {
    Message::Error(ErrorResponse {
        code,
        message: "scripted".into(),
    })
}

#[tokio::test]
async fn an_append_goes_out_as_the_family_and_its_answer_comes_back() {
    let (server, seen) = node(|_| {
        Message::AppendResponse(rfw::AppendResponse::HigherVote(rfw::LeaderVote {
            term: 9,
            node: 3,
            committed: false,
        }))
    })
    .await;
    let mut net = network(&server.addr.to_string()).await;
    let answer = net.append_entries(heartbeat(), option()).await.unwrap();
    assert_eq!(answer, AppendEntriesResponse::HigherVote(Vote::new(9, 3)));
    let sent = seen.seen.lock().unwrap().clone();
    assert_eq!(
        sent,
        [Message::Append(rfw::AppendRequest {
            vote: rfw::LeaderVote {
                term: 4,
                node: 1,
                committed: true
            },
            prev_log_id: Some(rfw::LogId {
                term: 3,
                node: 1,
                index: 9
            }),
            leader_commit: None,
            entries: vec![],
        })]
    );
}

#[tokio::test]
async fn a_node_that_cannot_answer_now_is_unreachable_and_a_nonsense_answer_is_a_network_error() {
    for (answer, unreachable) in [
        (error(ErrorResponseCode::Unavailable), true),
        (error(ErrorResponseCode::Overloaded), true),
        (error(ErrorResponseCode::Malformed), false),
        (error(ErrorResponseCode::Internal), false),
    ] {
        let a = answer.clone();
        let (server, _) = node(move |_| a.clone()).await;
        let mut net = network(&server.addr.to_string()).await;
        let got = net.append_entries(heartbeat(), option()).await.unwrap_err();
        assert_eq!(
            matches!(got, RPCError::Unreachable(_)),
            unreachable,
            "{answer:?}: {got}"
        );
        assert_eq!(matches!(got, RPCError::Network(_)), !unreachable, "{answer:?}: {got}");
    }
    // An answer of the wrong type (a VoteResponse to an Append) never reaches openraft as one.
    let (server, _) = node(|m| match m {
        Message::Vote(_) => Message::AppendResponse(rfw::AppendResponse::Success),
        _ => Message::VoteResponse(rfw::VoteResponse::default()),
    })
    .await;
    let mut net = network(&server.addr.to_string()).await;
    assert!(net.append_entries(heartbeat(), option()).await.is_err());
    let vote = VoteRequest::new(Vote::new(4, 1), None);
    assert!(net.vote(vote, option()).await.is_err());
    // Nobody listening, and an address that is not one: unreachable (openraft backs off).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    for addr in [closed.as_str(), "not-an-address"] {
        let mut net = network(addr).await;
        let got = net.append_entries(heartbeat(), option()).await.unwrap_err();
        assert!(matches!(got, RPCError::Unreachable(_)), "{addr}: {got}");
    }
}

fn snapshot(data: &[u8]) -> Snapshot<KvTypes> {
    Snapshot {
        meta: SnapshotMeta {
            last_log_id: Some(LogId::new(CommittedLeaderId::new(4, 1), 20)),
            last_membership: StoredMembership::default(),
            snapshot_id: "20-1".into(),
        },
        snapshot: Box::new(std::io::Cursor::new(data.to_vec())),
    }
}

fn chunks(seen: &Scripted) -> Vec<(u64, Vec<u8>, bool, bool)> {
    seen.seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            Message::Snapshot(c) => Some((c.offset, c.data.to_vec(), c.done, c.meta.is_some())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_snapshot_goes_in_chunks_with_its_metadata_first_and_stops_at_a_newer_vote() {
    let vote = Vote::new_committed(4, 1);
    let same = rfw::LeaderVote {
        term: 4,
        node: 1,
        committed: true,
    };
    let (server, seen) = node(move |_| Message::SnapshotResponse(rfw::SnapshotResponse { vote: same })).await;
    let mut net = network(&server.addr.to_string()).await;
    let never = std::future::pending();
    let answer = net.full_snapshot(vote, snapshot(b"0123456789"), never, option()).await;
    assert_eq!(answer.unwrap().vote, vote);
    assert_eq!(
        chunks(&seen),
        [
            (0, b"0123".to_vec(), false, true),
            (4, b"4567".to_vec(), false, false),
            (8, b"89".to_vec(), true, false)
        ]
    );

    // A follower whose vote is newer refuses the leader at the first chunk: nothing more is sent.
    let newer = rfw::LeaderVote {
        term: 5,
        node: 2,
        committed: false,
    };
    let (server, seen) = node(move |_| Message::SnapshotResponse(rfw::SnapshotResponse { vote: newer })).await;
    let mut net = network(&server.addr.to_string()).await;
    let answer = net
        .full_snapshot(vote, snapshot(b"0123456789"), std::future::pending(), option())
        .await;
    assert_eq!(answer.unwrap().vote, Vote::new(5, 2));
    assert_eq!(chunks(&seen).len(), 1);

    // An Error answer stops the transfer with the error sorted as for any RPC.
    let (server, _) = node(|_| error(ErrorResponseCode::Malformed)).await;
    let mut net = network(&server.addr.to_string()).await;
    let got = net
        .full_snapshot(vote, snapshot(b"0123"), std::future::pending(), option())
        .await;
    assert!(matches!(got, Err(StreamingError::Network(_))), "{got:?}");
}

#[tokio::test]
async fn every_kind_of_entry_goes_out_with_its_own_data() {
    use openraft::{Entry, EntryPayload, Membership};
    use raftwire_openraft::memory::Set;
    use raftwire_openraft::DataCodec;
    let (server, seen) = node(|_| Message::AppendResponse(rfw::AppendResponse::Success)).await;
    let mut net = network(&server.addr.to_string()).await;
    let set = |k: &str| Set {
        key: k.into(),
        value: format!("value of {k}"),
    };
    let nodes: std::collections::BTreeMap<u64, BasicNode> = [(1, BasicNode::new("n1:1"))].into();
    let members = Membership::new(vec![[1u64].into()], nodes);
    let payloads = [
        EntryPayload::Normal(set("a")),
        EntryPayload::Blank,
        EntryPayload::Membership(members),
        EntryPayload::Normal(set("bb")),
    ];
    let entries: Vec<Entry<KvTypes>> = payloads
        .into_iter()
        .enumerate()
        .map(|(i, payload)| Entry {
            log_id: LogId::new(CommittedLeaderId::new(4, 1), 10 + i as u64),
            payload,
        })
        .collect();
    let req = AppendEntriesRequest { entries, ..heartbeat() };
    assert!(net.append_entries(req, option()).await.unwrap().is_success());
    let sent = seen.seen.lock().unwrap().clone();
    let [Message::Append(a)] = &sent[..] else {
        panic!("{sent:?}")
    };
    let kinds: Vec<_> = a.entries.iter().map(|e| e.kind).collect();
    use rfw::LogEntryKind::*;
    assert_eq!(kinds, [Normal, Blank, Membership, Normal]);
    assert_eq!(a.entries[0].data, Json.encode(&set("a")).unwrap());
    assert!(a.entries[1].data.is_empty());
    assert_eq!(a.entries[2].membership().map(|m| m.nodes.len()), Some(1));
    assert_eq!(a.entries[3].data, Json.encode(&set("bb")).unwrap());
}
