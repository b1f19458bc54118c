//! A snapshot sent in chunks through a multiplexed client, while other RPCs are in flight, keeps
//! the stream rules the server enforces: one chunk outstanding per connection (STREAM-5) and a
//! transfer's chunks in order on one connection (STREAM-6). Before the client gave snapshots a
//! connection of their own, concurrent InstallSnapshot calls went out together on the shared
//! connection and the server dropped it (`snapshot_chunk_in_flight`).

use std::sync::Arc;

use bytes::Bytes;
use raftwire_codec::*;
use raftwire_transport::{Client, ClientConfig, Follower, Server};

fn chunk(offset: u64, len: u64, total: u64) -> Message {
    let configuration = if offset == 0 {
        Configuration {
            servers: vec![raftwire_codec::Server {
                suffrage: Suffrage::Voter,
                id: Id::try_from("n1").unwrap(),
                address: Id::try_from("127.0.0.1:1").unwrap(),
            }],
        }
    } else {
        Configuration::default()
    };
    Message::InstallSnapshot(Box::new(InstallSnapshotRequest {
        term: 7,
        last_included_index: 50,
        last_included_term: 6,
        total_size: total,
        offset,
        done: offset + len == total,
        leader_id: Id::try_from("n1").unwrap(),
        snapshot_id: Id::try_from("snap-50").unwrap(),
        configuration,
        data: Bytes::from(vec![7u8; len as usize]),
    }))
}

fn heartbeat(i: u64) -> Message {
    Message::AppendEntries(AppendEntriesRequest {
        term: 7,
        prev_log_index: 0,
        prev_log_term: 0,
        leader_commit: i,
        leader_id: Id::try_from("n1").unwrap(),
        entries: Entries::default(),
    })
}

async fn heartbeats(client: &Arc<Client>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..50)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move {
                c.call(heartbeat(i)).await.unwrap();
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_in_chunks_beside_other_rpcs_is_stored_whole() {
    let follower = Arc::new(Follower::new(5));
    let server = Server::start("127.0.0.1:0", follower.clone()).await.unwrap();
    let client = Arc::new(Client::new(server.addr, ClientConfig::default()));
    let beats = heartbeats(&client).await;
    let total = 5 * 1000;
    for k in 0..5 {
        // Each chunk waits for the previous one's answer, as a leader's do.
        let r = client.call(chunk(k * 1000, 1000, total)).await.unwrap();
        let Message::InstallSnapshotResponse(r) = r.message else {
            panic!("{r:?}")
        };
        assert_eq!((r.success, r.bytes_stored), (true, (k + 1) * 1000));
    }
    for b in beats {
        b.await.unwrap();
    }
    assert!(server.stats.dropped.lock().unwrap().is_empty());
    assert_eq!(follower.status(), (7, 50, 50), "the snapshot was installed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_snapshots_never_have_two_chunks_outstanding_on_a_connection() {
    let server = Server::start("127.0.0.1:0", Arc::new(Follower::new(5))).await.unwrap();
    let client = Arc::new(Client::new(server.addr, ClientConfig::default()));
    let beats = heartbeats(&client).await;
    let whole: Vec<_> = (0..20)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.call(chunk(0, 1000, 1000)).await })
        })
        .collect();
    for w in whole {
        w.await.unwrap().unwrap();
    }
    for b in beats {
        b.await.unwrap();
    }
    let dropped = server.stats.dropped.lock().unwrap();
    assert!(dropped.is_empty(), "{dropped:?}");
    assert_eq!(
        client.stats.attempts.load(std::sync::atomic::Ordering::Relaxed),
        70,
        "no retries"
    );
}
