//! The faulty transport run, captured (the server's record of every byte it received on the
//! shared connection) and validated by `raftwire validate`: the report names the interleaving at
//! the offset where the second writer's bytes began.

use std::sync::Arc;

use assert_cmd::Command;
use raftwire_codec::{Id, Message, TimeoutNowRequest};
use raftwire_transport::{Client, ClientConfig, MemoryHandler, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_of_interleaved_writers_is_diagnosed_where_the_interleaving_begins() {
    let server = Server::start("127.0.0.1:0", Arc::new(MemoryHandler)).await.unwrap();
    let client = Arc::new(Client::new(
        server.addr,
        ClientConfig {
            interleave_writes: true,
            ..ClientConfig::default()
        },
    ));
    let calls: Vec<_> = (1..=20u64)
        .map(|term| {
            let c = client.clone();
            tokio::spawn(async move {
                c.call(Message::TimeoutNow(TimeoutNowRequest {
                    term,
                    leader_id: Id::try_from("n1").unwrap(),
                }))
                .await
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let first = client.stats.write_logs.lock().unwrap()[0]
        .lock()
        .unwrap()
        .first_interleave
        .expect("writes interleaved");
    let received = server.stats.received.lock().unwrap()[0].lock().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shared.c2s.bin");
    std::fs::write(&file, &received).unwrap();

    let out = Command::cargo_bin("raftwire")
        .unwrap()
        .args(["validate", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let violations = report["connections"][0]["directions"]["client_to_server"]["violations"]
        .as_array()
        .unwrap()
        .clone();
    let named = violations
        .iter()
        .find(|v| v["code"] == "interleaved_writers")
        .unwrap_or_else(|| panic!("no diagnosis: {violations:?}"));
    assert_eq!(named["offset"].as_u64(), Some(first), "{named}");
    let first_error = violations
        .iter()
        .filter(|v| v["level"] == "MUST")
        .map(|v| v["offset"].as_u64().unwrap())
        .min()
        .unwrap();
    assert!(
        first_error <= first + 24,
        "the first error ({first_error}) is reported within the first cut frame"
    );
}
