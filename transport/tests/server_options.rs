//! A server meant to run for days (`raftwire serve`) keeps no test taps and only the latest drops,
//! answers what a client sent before half-closing, and stops reading a client that pipelines
//! without reading its answers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use raftwire_codec::*;
use raftwire_transport::{Follower, Server, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn heartbeat(id: u64) -> Vec<u8> {
    heartbeat_committing(id, 0)
}

fn heartbeat_committing(id: u64, leader_commit: u64) -> Vec<u8> {
    let mut out = BytesMut::new();
    let m = Message::AppendEntries(AppendEntriesRequest {
        term: 1,
        prev_log_index: 0,
        prev_log_term: 0,
        leader_commit,
        leader_id: Id::try_from("probe").unwrap(),
        entries: Entries::default(),
    });
    encode(&Frame::new(id, m), &mut out).unwrap();
    out.to_vec()
}

async fn send_then_read_all(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(bytes).await.unwrap();
    c.shutdown().await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut got)).await;
    got
}

#[tokio::test]
async fn a_long_running_server_keeps_no_taps_and_only_the_latest_drops() {
    let options = ServerOptions {
        dropped_kept: 2,
        log_drops: false,
        ..ServerOptions::long_running()
    };
    let server = Server::start_with("127.0.0.1:0", Arc::new(Follower::new(5)), options)
        .await
        .unwrap();
    for id in 1..=3u64 {
        let mut bad = heartbeat(id);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        send_then_read_all(server.addr, &bad).await;
    }
    let answered = send_then_read_all(server.addr, &heartbeat(9)).await;
    assert!(!answered.is_empty());
    let stats = &server.stats;
    assert_eq!(stats.dropped_total.load(Ordering::Relaxed), 3);
    let kept: Vec<usize> = stats.dropped.lock().unwrap().iter().map(|d| d.connection).collect();
    assert_eq!(kept, [1, 2], "the latest two drops");
    assert!(stats.received.lock().unwrap().is_empty());
    assert!(stats.delivered.lock().unwrap().is_empty());
    assert!(stats.executed.lock().unwrap().is_empty());
    assert_eq!(stats.answered.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn requests_sent_before_a_half_close_are_answered() {
    let server = Server::start_with("127.0.0.1:0", Arc::new(Follower::new(5)), ServerOptions::long_running())
        .await
        .unwrap();
    let sent: Vec<u8> = (1..=5).flat_map(heartbeat).collect();
    let got = send_then_read_all(server.addr, &sent).await;
    let frames = decode_all(&bytes::Bytes::from(got), &Limits::default()).unwrap();
    let mut ids: Vec<u64> = frames.iter().map(|f| f.request_id).collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    for f in &frames {
        // Term 1 is stale for a follower at term 5: refused, with the follower's term.
        let Message::AppendEntriesResponse(r) = &f.message else {
            panic!("{f:?}")
        };
        assert_eq!((r.term, r.success, r.last_log_index), (5, false, 5));
    }
}

#[tokio::test]
async fn a_client_that_never_reads_is_not_read_without_bound() {
    let options = ServerOptions {
        max_in_flight: 4,
        ..ServerOptions::long_running()
    };
    let server = Server::start_with("127.0.0.1:0", Arc::new(Follower::new(5)), options)
        .await
        .unwrap();
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    // 200k heartbeats (15 MB) and nothing read: once the answers fill both socket buffers, the
    // server must stop reading, so the writes stall.
    let many: Vec<u8> = (1..=200_000).flat_map(heartbeat).collect();
    let written = tokio::time::timeout(Duration::from_secs(3), c.write_all(&many)).await;
    assert!(written.is_err(), "the server kept reading a client that never reads");
    let answered = server.stats.answered.load(Ordering::Relaxed);
    assert!(answered < 200_000, "{answered}");
}

/// STREAM-2 lets a client reuse a request id once it is answered: the server must execute the new
/// request, not hand back the answer it remembers for the id (that memory is for retries: the
/// same bytes under the same id). Found by `raftwire probe` (`rfw/STREAM-2/id-reuse-after-answer`).
#[tokio::test]
async fn a_reused_id_is_a_new_request_and_a_retry_is_answered_from_memory() {
    let server = Server::start("127.0.0.1:0", Arc::new(Follower::new(5))).await.unwrap();
    let vote = |id| {
        let mut out = BytesMut::new();
        let m = Message::RequestVote(RequestVoteRequest {
            term: 1,
            last_log_index: 0,
            last_log_term: 0,
            pre_vote: false,
            leadership_transfer: false,
            candidate_id: Id::try_from("probe").unwrap(),
        });
        encode(&Frame::new(id, m), &mut out).unwrap();
        out.to_vec()
    };
    let kinds = |bytes: Vec<u8>| -> Vec<MessageType> {
        decode_all(&bytes::Bytes::from(bytes), &Limits::default())
            .unwrap()
            .iter()
            .map(|f| f.message_type())
            .collect()
    };
    assert_eq!(
        kinds(send_then_read_all(server.addr, &heartbeat(61)).await),
        [MessageType::AppendEntriesResponse]
    );
    assert_eq!(
        kinds(send_then_read_all(server.addr, &vote(61)).await),
        [MessageType::RequestVoteResponse]
    );
    assert_eq!(
        kinds(send_then_read_all(server.addr, &vote(61)).await),
        [MessageType::RequestVoteResponse]
    );
    // The heartbeat and the vote ran once each: the second vote was a retry.
    assert_eq!(server.stats.executed.lock().unwrap().get(&61), Some(&2));
    // A request of the same type with another body under the id is new too.
    send_then_read_all(server.addr, &heartbeat_committing(61, 1)).await;
    send_then_read_all(server.addr, &heartbeat_committing(61, 2)).await;
    assert_eq!(server.stats.executed.lock().unwrap().get(&61), Some(&4));
}

/// A dropped server answers nothing more, not even on connections it had accepted: a stopped
/// node's connections once stayed open and went on answering from its stopped handler, and a
/// peer that kept its multiplexed connection never reached the node restarted on that port.
#[tokio::test]
async fn dropping_the_server_closes_the_connections_it_accepted() {
    let server = Server::start_with("127.0.0.1:0", Arc::new(Follower::new(1)), ServerOptions::long_running())
        .await
        .unwrap();
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    c.write_all(&heartbeat(1)).await.unwrap();
    let mut answer = vec![0u8; HEADER_LEN];
    c.read_exact(&mut answer).await.unwrap();
    drop(server);
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the connection stayed open after the server was dropped"
    );
    // Whatever was left of the first answer, and nothing after it.
    assert!(rest.len() < 64, "{}", rest.len());
}
