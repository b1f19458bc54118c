//! Real openraft clusters of three nodes over RFW/1 on loopback: writes replicated and read back,
//! a leader lost and replaced, a lagging follower brought up to date by snapshot, a node restarted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::{Config, ServerState, SnapshotPolicy};
use raftwire_openraft::memory::{self, KvTypes, MemLog, MemNode, MemStateMachine, Set};
use raftwire_openraft::{Json, RfwNetworkFactory};
use raftwire_transport::ClientConfig;

fn config(snapshot_every: u64) -> Arc<Config> {
    let c = Config {
        cluster_name: "raftwire-test".into(),
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_every),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..Default::default()
    };
    Arc::new(c.validate().unwrap())
}

fn client() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(2),
        max_attempts: 3,
        ..ClientConfig::default()
    }
}

/// `n` nodes whose networks send snapshots in 256-byte chunks.
async fn cluster(n: u64, snapshot_every: u64) -> Vec<MemNode> {
    let mut nodes = Vec::new();
    for id in 1..=n {
        let network = RfwNetworkFactory::<KvTypes>::new(client(), Json).with_chunk_size(256);
        let node = MemNode::start_on(
            id,
            "127.0.0.1:0",
            config(snapshot_every),
            network,
            MemLog::default(),
            MemStateMachine::default(),
        )
        .await
        .unwrap();
        nodes.push(node);
    }
    let members: BTreeMap<_, _> = nodes.iter().map(|n| n.member()).collect();
    nodes[0].raft.initialize(members).await.unwrap();
    nodes
}

/// The leader's id, once every running node agrees on one.
async fn leader(nodes: &[MemNode]) -> u64 {
    memory::agreed_leader(nodes, Duration::from_secs(10))
        .await
        .expect("no leader agreed on")
}

fn node(nodes: &[MemNode], id: u64) -> &MemNode {
    nodes.iter().find(|n| n.id == id).unwrap()
}

async fn write(nodes: &[MemNode], key: &str, value: &str) {
    let l = leader(nodes).await;
    node(nodes, l)
        .raft
        .client_write(Set {
            key: key.into(),
            value: value.into(),
        })
        .await
        .unwrap();
}

/// Waits until every node has applied the same last log id; says what each node knows if not.
async fn converged(nodes: &[MemNode]) {
    if memory::converged(nodes, Duration::from_secs(10)).await {
        return;
    }
    for n in nodes {
        eprintln!("node {}: {:?}", n.id, n.raft.metrics().borrow());
        for other in nodes {
            if let Some(c) = n.network.client(&other.addr) {
                eprintln!("  client to {}: {:?}", other.id, c.stats.failures.lock().unwrap());
            }
        }
    }
    let applied: Vec<_> = nodes.iter().map(|n| n.machine.last_applied()).collect();
    panic!("not converged: {applied:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_replicate_to_every_node_and_read_back() {
    let nodes = cluster(3, 10_000).await;
    let l = leader(&nodes).await;
    let leader_raft = node(&nodes, l).raft.clone();
    let writes: Vec<_> = (0..200)
        .map(|i| {
            let raft = leader_raft.clone();
            tokio::spawn(async move {
                raft.client_write(Set {
                    key: format!("k{i}"),
                    value: format!("v{i}"),
                })
                .await
            })
        })
        .collect();
    for w in writes {
        w.await.unwrap().unwrap();
    }
    converged(&nodes).await;
    let expected: BTreeMap<String, String> = (0..200).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
    for n in &nodes {
        assert_eq!(n.machine.data(), expected, "node {}", n.id);
        assert_eq!(n.machine.applied().len(), 200, "node {}: each write applied once", n.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_leader_is_replaced_and_the_cluster_keeps_committing() {
    let mut nodes = cluster(3, 10_000).await;
    write(&nodes, "before", "1").await;
    let old = leader(&nodes).await;
    let at = nodes.iter().position(|n| n.id == old).unwrap();
    let stopped = nodes.remove(at);
    let old_term = stopped.raft.metrics().borrow().current_term;
    stopped.stop().await;
    let new = leader(&nodes).await;
    assert_ne!(new, old);
    assert!(node(&nodes, new).raft.metrics().borrow().current_term > old_term);
    write(&nodes, "after", "2").await;
    converged(&nodes).await;
    for n in &nodes {
        assert_eq!(n.machine.data().get("after").map(String::as_str), Some("2"));
        assert_eq!(n.raft.metrics().borrow().state == ServerState::Leader, n.id == new);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lagging_follower_is_brought_up_to_date_by_snapshot_and_a_node_restarts() {
    let mut nodes = cluster(3, 20).await;
    let l = leader(&nodes).await;
    // Stop a follower; write enough that the leader snapshots and purges what it missed.
    let at = nodes.iter().position(|n| n.id != l).unwrap();
    let lagging = nodes.remove(at);
    let (id, addr) = (lagging.id, lagging.addr.clone());
    let (log, machine) = lagging.stop().await;
    for i in 0..120 {
        write(&nodes, &format!("k{i}"), &format!("v{i}")).await;
    }
    let leader_node = node(&nodes, l);
    leader_node.raft.trigger().snapshot().await.unwrap();
    leader_node
        .raft
        .wait(Some(Duration::from_secs(10)))
        .metrics(
            |m| m.snapshot.is_some() && m.purged.is_some(),
            "snapshot taken and log purged",
        )
        .await
        .unwrap();
    // Restart it on its address, over its old storage.
    let back = MemNode::start_with(id, &addr, config(20), client(), log, machine)
        .await
        .unwrap();
    nodes.push(back);
    converged(&nodes).await;
    let expected: BTreeMap<String, String> = (0..120).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
    for n in &nodes {
        assert_eq!(n.machine.data(), expected, "node {}", n.id);
    }
    // It caught up by a snapshot: its state machine was replaced, not replayed from the start.
    let restarted = node(&nodes, id);
    assert!(
        restarted.raft.metrics().borrow().snapshot.is_some(),
        "no snapshot installed"
    );
    assert!(
        restarted.machine.applied().len() < 120,
        "{}",
        restarted.machine.applied().len()
    );
    // In several chunks: the snapshot (120 keys as JSON) is larger than the leader's 256-byte
    // chunks.
    let size = restarted.machine.snapshot_len();
    assert!(
        size > 4 * 256,
        "a snapshot of {size} bytes takes few chunks: the test proves less"
    );
    // And it takes part in new writes.
    write(&nodes, "later", "x").await;
    converged(&nodes).await;
    assert_eq!(restarted.machine.data().get("later").map(String::as_str), Some("x"));
}
