//! A real openraft cluster over RFW/1 (raftwire-openraft), captured with tcpdump while it elects
//! a leader, replicates, loses the leader and takes it back: `raftwire validate` finds the
//! capture conforming, every frame checked, and the cluster view names the three nodes, both
//! leaders and the refused dials while the old leader was down.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::validate_json;
use openraft::Config;
use raftwire_openraft::memory::{self, MemNode, Set};
use raftwire_transport::ClientConfig;

fn config() -> Arc<Config> {
    let c = Config {
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
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

async fn leader(nodes: &[MemNode]) -> u64 {
    memory::agreed_leader(nodes, Duration::from_secs(20))
        .await
        .expect("no leader agreed on")
}

async fn write_through_leader(nodes: &[MemNode], prefix: &str) {
    let l = leader(nodes).await;
    let node = nodes.iter().find(|n| n.id == l).unwrap();
    for i in 0..30 {
        let set = Set {
            key: format!("{prefix}{i}"),
            value: "v".into(),
        };
        node.raft.client_write(set).await.unwrap();
    }
}

async fn converged(nodes: &[MemNode]) {
    assert!(memory::converged(nodes, Duration::from_secs(20)).await, "not converged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_captured_openraft_cluster_over_rfw_validates_clean_and_shows_its_leaders() {
    assert!(
        Command::new("tcpdump").arg("--version").output().is_ok(),
        "tcpdump is needed for this test: apt-get install tcpdump (.ci/run installs it)"
    );
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(MemNode::start(id, "127.0.0.1:0", config(), client()).await.unwrap());
    }
    let ports: Vec<String> = nodes
        .iter()
        .map(|n| n.addr.rsplit(':').next().unwrap().to_string())
        .collect();
    let filter = ports
        .iter()
        .map(|p| format!("tcp port {p}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("openraft.pcap");
    let tcpdump = Command::new("tcpdump")
        .args(["-i", "lo", "-U", "--immediate-mode", "-B", "65536", "-w"])
        .arg(&pcap)
        .arg(&filter)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // tcpdump says "listening on lo" once it captures; wait for its file to exist and a moment.
    let start = Instant::now();
    while !pcap.exists() && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let members: BTreeMap<_, _> = nodes.iter().map(|n| n.member()).collect();
    nodes[0].raft.initialize(members).await.unwrap();
    write_through_leader(&nodes, "a").await;
    converged(&nodes).await;
    let first = leader(&nodes).await;
    let at = nodes.iter().position(|n| n.id == first).unwrap();
    let stopped = nodes.remove(at);
    let addr = stopped.addr.clone();
    let (log, machine) = stopped.stop().await;
    let second = leader(&nodes).await;
    write_through_leader(&nodes, "b").await;
    nodes.push(
        MemNode::start_with(first, &addr, config(), client(), log, machine)
            .await
            .unwrap(),
    );
    converged(&nodes).await;
    for n in nodes {
        n.stop().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // SIGTERM: tcpdump flushes and closes its file. (`--immediate-mode` above: without it the
    // kernel hands packets over in blocks, and those of the last second never reached the file.)
    terminate(tcpdump.id());
    let out = tcpdump.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.lines().any(|l| l == "0 packets dropped by kernel"), "{said}");

    let (code, r) = validate_json(&[pcap.as_os_str()]);
    assert_eq!(code, 0, "{r}");
    // `RAFTWIRE_KEEP_CAPTURE=FILE` keeps the capture, to look at with `raftwire validate --html`.
    if let Some(keep) = std::env::var_os("RAFTWIRE_KEEP_CAPTURE") {
        std::fs::copy(&pcap, keep).unwrap();
    }
    assert_eq!(r["summary"]["verdict"], "conforming", "{r}");
    assert_eq!(r["summary"]["violations"], 0);
    assert!(r["summary"]["frames"].as_u64().unwrap() > 150, "{}", r["summary"]);
    let cluster = &r["cluster"];
    assert_eq!(cluster["nodes"].as_array().unwrap().len(), 3, "{cluster}");
    let leaders: Vec<String> = cluster["leaders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["node"].as_str().unwrap().to_string())
        .collect();
    assert!(leaders.len() >= 2, "{cluster}");
    let port = |id: u64| ports[id as usize - 1].clone();
    assert!(
        leaders[0].contains(&port(first)),
        "{leaders:?}, first leader node {first}"
    );
    assert!(
        leaders.last().unwrap().contains(&port(second)),
        "{leaders:?}, second {second}"
    );
}

/// SIGTERM to a child by pid, through the `kill` command (no unsafe code in the tests).
fn terminate(pid: u32) {
    let _ = Command::new("kill").arg(pid.to_string()).status();
}
