//! A three-node openraft cluster over RFW/1 on loopback that you can watch: it replicates writes,
//! loses its leader, elects another, and takes the old leader back, which catches up.
//!
//! ```sh
//! cargo run -p raftwire-openraft --example openraft-cluster
//! ```
//!
//! `--ports 7001,7002,7003` listens on fixed ports (to capture the traffic with tcpdump and check
//! it with `raftwire validate`); `--writes N` sets how many writes each phase makes (default 20).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::{Config, SnapshotPolicy};
use raftwire_openraft::memory::{self, MemNode, Set};
use raftwire_transport::ClientConfig;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn config() -> Result<Arc<Config>, Error> {
    let c = Config {
        cluster_name: "raftwire-example".into(),
        heartbeat_interval: 100,
        election_timeout_min: 400,
        election_timeout_max: 800,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(1000),
        ..Default::default()
    };
    Ok(Arc::new(c.validate()?))
}

async fn leader(nodes: &[MemNode]) -> Result<u64, Error> {
    memory::agreed_leader(nodes, Duration::from_secs(20))
        .await
        .ok_or_else(|| "no leader elected in 20 s".into())
}

async fn writes(nodes: &[MemNode], phase: &str, n: usize) -> Result<(), Error> {
    let l = leader(nodes).await?;
    let node = nodes.iter().find(|x| x.id == l).ok_or("leader gone")?;
    let start = Instant::now();
    for i in 0..n {
        let set = Set {
            key: format!("{phase}-{i}"),
            value: format!("{i}"),
        };
        node.raft.client_write(set).await?;
    }
    println!("  {n} writes committed through node {l} in {:.1?}", start.elapsed());
    Ok(())
}

async fn converged(nodes: &[MemNode]) -> Result<(), Error> {
    if !memory::converged(nodes, Duration::from_secs(20)).await {
        return Err("the nodes did not converge in 20 s".into());
    }
    let data: Vec<BTreeMap<String, String>> = nodes.iter().map(|n| n.machine.data()).collect();
    if data.windows(2).any(|w| w[0] != w[1]) {
        return Err("the nodes applied the same log but hold different data".into());
    }
    println!("  all {} nodes hold the same {} keys", nodes.len(), data[0].len());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let n: usize = arg("--writes").and_then(|w| w.parse().ok()).unwrap_or(20);
    let ports: Vec<String> = arg("--ports")
        .map(|p| p.split(',').map(|x| format!("127.0.0.1:{x}")).collect())
        .unwrap_or_else(|| vec!["127.0.0.1:0".into(); 3]);
    if ports.len() != 3 {
        return Err("--ports takes three ports".into());
    }
    let client = ClientConfig {
        timeout: Duration::from_secs(2),
        max_attempts: 3,
        ..ClientConfig::default()
    };
    let mut nodes = Vec::new();
    for (i, listen) in ports.iter().enumerate() {
        let node = MemNode::start(i as u64 + 1, listen, config()?, client.clone()).await?;
        println!("node {} listens on {} (RFW/1)", node.id, node.addr);
        nodes.push(node);
    }
    nodes[0]
        .raft
        .initialize(nodes.iter().map(|n| n.member()).collect::<BTreeMap<_, _>>())
        .await?;
    let first = leader(&nodes).await?;
    println!("node {first} is the leader");
    writes(&nodes, "a", n).await?;
    converged(&nodes).await?;

    println!("stopping the leader, node {first}");
    let at = nodes.iter().position(|x| x.id == first).ok_or("leader gone")?;
    let stopped = nodes.remove(at);
    let addr = stopped.addr.clone();
    let (log, machine) = stopped.stop().await;
    let second = leader(&nodes).await?;
    println!("node {second} is the new leader");
    writes(&nodes, "b", n).await?;

    println!("restarting node {first} on {addr}");
    nodes.push(MemNode::start_with(first, &addr, config()?, client, log, machine).await?);
    converged(&nodes).await?;
    writes(&nodes, "c", n).await?;
    converged(&nodes).await?;
    for node in nodes {
        node.stop().await;
    }
    println!("done");
    Ok(())
}
