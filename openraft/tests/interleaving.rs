//! The original incident, inside a real openraft cluster: with raftwire-transport's interleaving
//! fault on, concurrent RPCs to one node write their frames in 7-byte pieces, without a lock, on
//! one shared connection. openraft sends concurrent AppendEntries to a follower when linearizable
//! reads (`ensure_linearizable`) run beside replication, so writes and reads together make the
//! bytes interleave. The receiving servers must catch every corruption (code and offset), the
//! clients retry on fresh connections, and the cluster must still apply every acknowledged write
//! exactly once, on every node, with all state machines equal.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use openraft::{Config, SnapshotPolicy};
use raftwire_openraft::memory::{self, MemNode, Set};
use raftwire_transport::{ClientConfig, Policy};

fn config() -> Arc<Config> {
    let c = Config {
        heartbeat_interval: 50,
        election_timeout_min: 500,
        election_timeout_max: 1000,
        snapshot_policy: SnapshotPolicy::Never,
        ..Default::default()
    };
    Arc::new(c.validate().unwrap())
}

async fn leader(nodes: &[MemNode]) -> u64 {
    memory::agreed_leader(nodes, Duration::from_secs(10))
        .await
        .expect("no leader agreed on")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interleaved_writers_are_caught_and_every_acknowledged_write_is_applied_once() {
    let faulty = ClientConfig {
        policy: Policy::Multiplexed,
        interleave_writes: true,
        interleave_chunk: 7,
        timeout: Duration::from_secs(2),
        max_attempts: 6,
        ..ClientConfig::default()
    };
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(
            MemNode::start(id, "127.0.0.1:0", config(), faulty.clone())
                .await
                .unwrap(),
        );
    }
    let members: BTreeMap<_, _> = nodes.iter().map(|n| n.member()).collect();
    nodes[0].raft.initialize(members).await.unwrap();

    let mut acknowledged = BTreeSet::new();
    for round in 0..20 {
        let l = leader(&nodes).await;
        let raft = nodes.iter().find(|n| n.id == l).unwrap().raft.clone();
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (writer, key) = (raft.clone(), format!("r{round}-{i}"));
            tasks.push(tokio::spawn(async move {
                let set = Set {
                    key: key.clone(),
                    value: "v".into(),
                };
                writer.client_write(set).await.ok().map(|_| key)
            }));
            let reader = raft.clone();
            tasks.push(tokio::spawn(async move {
                let _ = reader.ensure_linearizable().await;
                None
            }));
        }
        for t in tasks {
            if let Some(key) = t.await.unwrap() {
                acknowledged.insert(key);
            }
        }
    }
    assert!(
        acknowledged.len() > 100,
        "only {} writes acknowledged",
        acknowledged.len()
    );

    // Every node converges on the same state, with every acknowledged write applied exactly once.
    assert!(
        memory::converged(&nodes, Duration::from_secs(10)).await,
        "the nodes did not converge"
    );
    let data = nodes[0].machine.data();
    for n in &nodes {
        assert_eq!(n.machine.data(), data, "node {} differs", n.id);
        let mut times: BTreeMap<String, usize> = BTreeMap::new();
        for set in n.machine.applied() {
            *times.entry(set.key).or_default() += 1;
        }
        for key in &acknowledged {
            assert_eq!(
                times.get(key),
                Some(&1),
                "node {}: {key} applied {:?} times",
                n.id,
                times.get(key)
            );
        }
        assert!(times.values().all(|&t| t == 1), "node {}: a write applied twice", n.id);
    }

    // The fault really happened, and every corruption was caught where it began.
    let interleaved: usize = nodes
        .iter()
        .flat_map(|n| nodes.iter().filter_map(|o| n.network.client(&o.addr)))
        .map(|c| {
            c.stats
                .write_logs
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.lock().unwrap().first_interleave.is_some())
                .count()
        })
        .sum();
    assert!(
        interleaved > 0,
        "no connection had interleaved writes: the test proved nothing"
    );
    let dropped: Vec<_> = nodes
        .iter()
        .flat_map(|n| {
            n.server
                .stats
                .dropped
                .lock()
                .unwrap()
                .iter()
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    let total: u64 = nodes
        .iter()
        .map(|n| n.server.stats.dropped_total.load(Ordering::Relaxed))
        .sum();
    assert!(
        total > 0 && !dropped.is_empty(),
        "interleaved bytes were never rejected"
    );
    for d in &dropped {
        assert!(
            [
                "bad_marker",
                "header_crc_mismatch",
                "payload_crc_mismatch",
                "length_over_limit",
                "unknown_type",
                "unsupported_version",
                "reserved_flags",
                "zero_request_id"
            ]
            .contains(&d.code.as_str()),
            "{d:?}"
        );
        assert!(d.offset > 0, "{d:?}");
    }
    eprintln!(
        "{} acknowledged writes, {} connections interleaved, {} dropped ({:?})",
        acknowledged.len(),
        interleaved,
        total,
        dropped.iter().map(|d| d.code.as_str()).collect::<BTreeSet<_>>()
    );
}
