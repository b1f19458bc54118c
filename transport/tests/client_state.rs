//! The client's own bookkeeping: the multiplexed connection's state after a failure, and the
//! interleaving fault's log, which must record an interleave only when two frames' pieces really
//! alternate.

use std::sync::Arc;
use std::time::Duration;

use raftwire_codec::*;
use raftwire_transport::{Client, ClientConfig, ConnState, MemoryHandler, Server};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

fn heartbeat(i: u64) -> Message {
    Message::AppendEntries(AppendEntriesRequest {
        term: 2,
        prev_log_index: 0,
        prev_log_term: 0,
        leader_commit: i,
        leader_id: Id::try_from("n1").unwrap(),
        entries: Entries::default(),
    })
}

#[tokio::test]
async fn a_connection_closed_under_an_rpc_leaves_the_state_broken() {
    // A server that reads a request and closes without answering.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let mut buf = [0u8; 256];
            let _ = c.read(&mut buf).await;
        }
    });
    let client = Client::new(
        addr,
        ClientConfig {
            max_attempts: 1,
            timeout: Duration::from_secs(2),
            ..ClientConfig::default()
        },
    );
    assert_eq!(client.state().await, ConnState::None);
    assert!(client.call(heartbeat(1)).await.is_err());
    assert_eq!(client.state().await, ConnState::Broken);
}

#[tokio::test]
async fn one_rpc_at_a_time_never_interleaves_even_with_the_fault_on() {
    let server = Server::start("127.0.0.1:0", Arc::new(MemoryHandler)).await.unwrap();
    let client = Client::new(
        server.addr,
        ClientConfig {
            interleave_writes: true,
            ..ClientConfig::default()
        },
    );
    for i in 0..20 {
        client.call(heartbeat(i)).await.unwrap();
    }
    assert_eq!(client.state().await, ConnState::Idle);
    let logs = client.stats.write_logs.lock().unwrap();
    let log = logs[0].lock().unwrap();
    assert_eq!(
        log.first_interleave, None,
        "frames written one after another are not interleaved"
    );
    assert!(log.written > 20 * 28);
    assert!(server.stats.dropped.lock().unwrap().is_empty());
}
