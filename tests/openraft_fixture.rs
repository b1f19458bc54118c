//! The committed capture of a real openraft cluster over RFW/1 (tests/fixtures/openraft): the
//! validator checks every frame of the leader-id family and finds it conforming, the cluster view
//! names the nodes, both leaders and the old leader's downtime, and inspect prints the family's
//! fields as openraft prints them.

mod common;

use common::{raftwire, validate_json};

const CAPTURE: &str = "tests/fixtures/openraft/openraft-cluster.pcap";

#[test]
fn the_openraft_capture_conforms_and_the_cluster_view_reads_its_leaders() {
    let (code, r) = validate_json(&[CAPTURE]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["summary"]["verdict"], "conforming");
    assert_eq!(r["summary"]["frames"], 422);
    let c = &r["cluster"];
    let nodes: Vec<(String, String)> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["address"].as_str().unwrap().into(), n["id"].as_str().unwrap().into()))
        .collect();
    for (port, id) in [("7101", "1"), ("7102", "2"), ("7103", "3")] {
        assert!(nodes.contains(&(format!("127.0.0.1:{port}"), id.into())), "{nodes:?}");
    }
    let leaders: Vec<(u64, String)> = c["leaders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["term"].as_u64().unwrap(), l["node"].as_str().unwrap().into()))
        .collect();
    assert_eq!(leaders, [(1, "127.0.0.1:7101".into()), (2, "127.0.0.1:7103".into())]);
    let elections: Vec<u64> = c["elections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["term"].as_u64().unwrap())
        .collect();
    assert_eq!(elections, [1, 2]);
    let unreachable = c["findings"].as_array().unwrap();
    assert!(
        unreachable
            .iter()
            .any(|f| f["code"] == "cluster_node_unreachable"
                && f["message"].as_str().unwrap().contains("127.0.0.1:7101")),
        "{c}"
    );
}

#[test]
fn inspect_prints_the_leader_id_familys_fields() {
    let out = raftwire().args(["inspect", CAPTURE]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("c->s Vote ") && text.contains("vote=T1-N1 last_log=T0-N0.0"),
        "{text}"
    );
    assert!(text.contains("s->c VoteResponse") && text.contains("granted=true"));
    assert!(text.contains("vote=T1-N1:committed prev=- commit=- entries=0..=1 (2, 102 bytes)"));
    assert!(text.contains("heartbeat") && text.contains("s->c AppendResponse"));
    assert!(text.contains("vote=T2-N3:committed"), "the second leader's appends");
}
