//! The failure raftwire exists for, reproduced in a real transport on loopback: concurrent RPCs
//! writing to one connection without coordination. The decoder must never hand the handler a frame
//! that was not sent, every corruption must be reported with its code and offset, and after
//! recovery every RPC completes exactly once. With the fault off: no errors at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use raftwire_codec::*;
use raftwire_transport::{Client, ClientConfig, ConnState, Handler, MemoryHandler, Policy, Server};

const RPCS: u64 = 200;

fn id(s: &str) -> Id {
    Id::try_from(s).unwrap()
}

/// RPC number `i`: mostly AppendEntries with entries of varied sizes, some votes, snapshot
/// chunks and TimeoutNows; each response is predictable from its request.
fn request(i: u64) -> Message {
    match i % 10 {
        0 => Message::RequestVote(RequestVoteRequest {
            term: 2,
            last_log_index: i + 1,
            last_log_term: 1,
            pre_vote: false,
            leadership_transfer: false,
            candidate_id: id("n2"),
        }),
        // A whole snapshot in one chunk: the client sends snapshots one at a time on a connection
        // of their own (STREAM-5, STREAM-6), whatever the policy.
        1 => Message::InstallSnapshot(Box::new(InstallSnapshotRequest {
            term: 2,
            last_included_index: 100 + i,
            last_included_term: 1,
            total_size: 100,
            offset: 0,
            done: true,
            leader_id: id("n1"),
            snapshot_id: Id::new(format!("snap-{i}")).unwrap(),
            configuration: Configuration {
                servers: vec![raftwire_codec::Server {
                    suffrage: Suffrage::Voter,
                    id: id("n1"),
                    address: id("127.0.0.1:1"),
                }],
            },
            data: Bytes::from(vec![i as u8; 100]),
        })),
        2 => Message::TimeoutNow(TimeoutNowRequest {
            term: 2,
            leader_id: id("n1"),
        }),
        _ => Message::AppendEntries(AppendEntriesRequest {
            term: 2,
            prev_log_index: i * 10,
            prev_log_term: 1,
            leader_commit: i,
            leader_id: id("n1"),
            entries: (1..=3)
                .map(|k| Entry {
                    index: i * 10 + k,
                    term: 2,
                    kind: EntryKind::Command,
                    data: Bytes::from(vec![k as u8; (i as usize * 7 + k as usize * 31) % 300]),
                })
                .collect(),
        }),
    }
}

fn expected_response(req: &Message) -> Message {
    MemoryHandler.handle(&Frame::new(1, req.clone()))
}

struct Run {
    server: Server,
    client: Arc<Client>,
    /// request id -> the message sent under it.
    sent: HashMap<u64, Message>,
}

async fn run(config: ClientConfig) -> Run {
    let server = Server::start("127.0.0.1:0", Arc::new(MemoryHandler)).await.unwrap();
    let client = Arc::new(Client::new(server.addr, config));
    let tasks: Vec<_> = (0..RPCS)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move {
                let req = request(i);
                let resp = c.call(req.clone()).await.unwrap_or_else(|e| panic!("rpc {i}: {e}"));
                assert_eq!(
                    resp.message,
                    expected_response(&req),
                    "rpc {i} got another RPC's answer"
                );
                (resp.request_id, req)
            })
        })
        .collect();
    let mut sent = HashMap::new();
    for t in tasks {
        let (id, req) = t.await.unwrap();
        assert!(sent.insert(id, req).is_none(), "request id {id} used twice");
    }
    Run { server, client, sent }
}

fn assert_exactly_once(r: &Run) {
    let executed = r.server.stats.executed.lock().unwrap();
    assert_eq!(executed.len() as u64, RPCS, "every RPC executed");
    assert!(
        executed.values().all(|n| *n == 1),
        "an RPC executed twice: {executed:?}"
    );
    assert!(executed.keys().all(|id| r.sent.contains_key(id)));
}

fn assert_delivered_only_what_was_sent(r: &Run) {
    for f in r.server.stats.delivered.lock().unwrap().iter() {
        let sent = r
            .sent
            .get(&f.request_id)
            .unwrap_or_else(|| panic!("handler got request id {} that was never sent", f.request_id));
        assert_eq!(
            &f.message, sent,
            "handler got a frame that was not sent as request {}",
            f.request_id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiplexed_connection_without_the_fault_has_no_errors() {
    let r = tokio::time::timeout(Duration::from_secs(60), run(ClientConfig::default()))
        .await
        .unwrap();
    assert!(r.server.stats.dropped.lock().unwrap().is_empty());
    assert!(r.client.stats.failures.lock().unwrap().is_empty());
    assert_eq!(r.client.stats.attempts.load(std::sync::atomic::Ordering::Relaxed), RPCS);
    assert_eq!(
        r.server.stats.received.lock().unwrap().len(),
        2,
        "all RPCs shared one connection, snapshots another"
    );
    assert_exactly_once(&r);
    assert_delivered_only_what_was_sent(&r);
    assert_eq!(r.client.state().await, ConnState::Idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_per_rpc_has_no_errors() {
    let config = ClientConfig {
        policy: Policy::PerRpc,
        ..ClientConfig::default()
    };
    let r = tokio::time::timeout(Duration::from_secs(60), run(config))
        .await
        .unwrap();
    assert!(r.server.stats.dropped.lock().unwrap().is_empty());
    let snapshots = (0..RPCS).filter(|i| i % 10 == 1).count() as u64;
    assert_eq!(
        r.server.stats.received.lock().unwrap().len() as u64,
        RPCS - snapshots + 1,
        "one connection per RPC, and one for all the snapshots"
    );
    assert_exactly_once(&r);
    assert_eq!(r.client.state().await, ConnState::None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_writers_are_caught_and_every_rpc_still_completes_exactly_once() {
    let config = ClientConfig {
        interleave_writes: true,
        ..ClientConfig::default()
    };
    let r = tokio::time::timeout(Duration::from_secs(60), run(config))
        .await
        .unwrap();
    // (a) The decoder never handed the handler a frame that was not sent, byte for byte.
    assert_delivered_only_what_was_sent(&r);
    // (b) Every corruption was reported with its code and offset, inside what was received.
    let dropped = r.server.stats.dropped.lock().unwrap().clone();
    assert!(!dropped.is_empty(), "the interleaving went unnoticed");
    let received = r.server.stats.received.lock().unwrap();
    for d in &dropped {
        assert!(!d.code.is_empty() && !d.requirement.is_empty(), "{d:?}");
        let len = received[d.connection].lock().unwrap().len() as u64;
        assert!(d.offset < len, "{d:?} beyond the {len} bytes received");
    }
    let logs = r.client.stats.write_logs.lock().unwrap();
    let first = logs[0]
        .lock()
        .unwrap()
        .first_interleave
        .expect("the fault interleaved writes");
    assert!(
        dropped.iter().any(|d| d.connection == 0 && d.offset >= first),
        "connection 0's error at or after the first interleave at {first}"
    );
    // (c) After recovery every RPC completed (run() checked each answer) exactly once.
    assert!(
        !r.client.stats.failures.lock().unwrap().is_empty(),
        "failed attempts were retried"
    );
    assert_exactly_once(&r);
}
