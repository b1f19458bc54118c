//! The cluster view (#15) on real clusters, checked against what their nodes recorded, and on
//! constructed captures for what no real node here can produce: each finding appears on its
//! evidence and only on it.

mod common;

use common::hashicorp::{append, appended, node};
use common::pcap::{Conn, Flow, Pcap};
use common::validate_json;
use raftwire_hashicorp::craft::{request, response, V};
use serde_json::Value;

const FIXTURES: &str = "tests/fixtures/hashicorp";

fn truth(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()).unwrap()
}

fn cluster(path: &str) -> (i32, Value) {
    let (code, r) = validate_json(&[path]);
    assert!(r["cluster"].is_object(), "no cluster in {path}: {r}");
    (code, r)
}

fn codes(r: &Value) -> Vec<String> {
    r["cluster"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// "1.7.3" <= a release range's max and >= its min, comparing versions numerically.
fn admits(range: &Value, release: &str) -> bool {
    let v = |s: &str| -> Vec<u32> { s.split('.').map(|p| p.parse().unwrap()).collect() };
    let r = v(release);
    range["min"].as_str().is_none_or(|m| v(m) <= r) && range["max"].as_str().is_none_or(|m| v(m) >= r)
}

#[test]
fn the_real_raft_1_7_3_cluster_matches_what_its_nodes_recorded() {
    let t = truth("raft-1.7.3-cluster.truth.json");
    let (code, r) = cluster(&format!("{FIXTURES}/raft-1.7.3-cluster.pcap"));
    assert_eq!(code, 0);
    let c = &r["cluster"];
    let addr = |node: &str| t["nodes"][node].as_str().unwrap().to_string();
    // Every node, with its id and a release range that holds 1.7.3.
    let nodes = c["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 4);
    for (id, a) in t["nodes"].as_object().unwrap() {
        let n = nodes
            .iter()
            .find(|n| n["address"] == *a)
            .unwrap_or_else(|| panic!("{a} missing"));
        assert_eq!(n["id"], *id);
        assert!(admits(&n["release"], "1.7.3"), "{n}");
        assert!(
            n["release"]["min"].is_string(),
            "every node wrote something that bounds it: {n}"
        );
    }
    // Each connection's dialer mapped to its node, though its port is ephemeral.
    let mut mapped = 0;
    for conn in r["connections"].as_array().unwrap() {
        let truth_conn = t["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["client"] == conn["client"] && x["server"] == conn["server"])
            .unwrap_or_else(|| panic!("{} not in the truth", conn["client"]));
        assert_eq!(conn["server_node"], addr(truth_conn["server_node"].as_str().unwrap()));
        assert_eq!(conn["client_node"], addr(truth_conn["client_node"].as_str().unwrap()));
        mapped += 1;
    }
    assert_eq!(mapped, t["connection_totals"]["connections"].as_u64().unwrap());
    // Leaders in the order the nodes elected them.
    let elected: Vec<String> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "leader")
        .map(|e| addr(e["detail"].as_str().unwrap()))
        .collect();
    let leaders: Vec<String> = c["leaders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["node"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(leaders, elected);
    let terms: Vec<u64> = c["leaders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["term"].as_u64().unwrap())
        .collect();
    assert!(terms.windows(2).all(|w| w[0] < w[1]), "{terms:?}");
    // The leadership transfer, from the old leader to the new one.
    let transfers = c["leadership_transfers"].as_array().unwrap();
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0]["from"], elected[0]);
    assert_eq!(transfers[0]["to"], elected[1]);
    // The snapshots: one per node that InstallSnapshot brought up, each installed.
    let installed: Vec<String> = t["server_decoded_rpcs_by_node"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, c)| c.get("InstallSnapshot").is_some())
        .map(|(n, _)| addr(n))
        .collect();
    let mut to: Vec<String> = c["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["to"].as_str().unwrap().to_string())
        .collect();
    to.sort();
    assert_eq!(to, installed);
    assert!(c["snapshots"].as_array().unwrap().iter().all(|s| s["success"] == true));
    // Elections: the pre-vote and the vote that elected the first leader, and the transfer's vote.
    let elections = c["elections"].as_array().unwrap();
    assert!(elections
        .iter()
        .any(|e| e["pre_vote"] == true && e["candidate"] == elected[0]));
    assert!(elections.iter().any(|e| e["leadership_transfer"] == true
        && e["candidate"] == elected[1]
        && e["granted"].as_array().unwrap().len() == 3));
    for e in elections {
        assert_eq!(e["denied"], serde_json::json!([]), "{e}");
        assert_eq!(e["unanswered"], serde_json::json!([]), "{e}");
        assert_eq!(e["asked"], e["granted"], "{e}");
    }
    // The refused dial to the stopped node.
    let refused = &t["failed_dials"][0]["target"];
    assert!(c["unreachable"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["node"] == *refused));
    // One release throughout: nothing incompatible, nothing at MUST or SHOULD.
    assert!(
        c["findings"].as_array().unwrap().iter().all(|f| f["level"] == "INFO"),
        "{}",
        c["findings"]
    );
    assert_eq!(r["summary"]["cluster_violations"], 0);
    assert_eq!(
        c["notes"],
        serde_json::json!([]),
        "every dialer mapped, nothing left out"
    );
    // Each node accepted and dialed the connections the truth gives it.
    for n in nodes {
        let (mut accepted, mut dialed) = (0, 0);
        for x in t["connections"].as_array().unwrap() {
            accepted += u64::from(addr(x["server_node"].as_str().unwrap()) == n["address"]);
            dialed += u64::from(addr(x["client_node"].as_str().unwrap()) == n["address"]);
        }
        assert_eq!(n["connections_accepted"], accepted, "{n}");
        assert_eq!(n["connections_dialed"], dialed, "{n}");
    }
    // The rounds, exactly: a pre-vote and a vote for term 2, a vote (no pre-vote) for term 3.
    let mut rounds: Vec<(u64, bool)> = elections
        .iter()
        .map(|e| (e["term"].as_u64().unwrap(), e["pre_vote"].as_bool().unwrap()))
        .collect();
    rounds.sort();
    assert_eq!(rounds, [(2, false), (2, true), (3, false)]);
    // Latencies per connection and request type, from the capture's timestamps.
    let mut answered = 0;
    for conn in r["connections"].as_array().unwrap() {
        for (name, l) in conn["latency"].as_object().unwrap() {
            let (p50, p99, max) = (
                l["p50"].as_f64().unwrap(),
                l["p99"].as_f64().unwrap(),
                l["max"].as_f64().unwrap(),
            );
            assert!(0.0 < p50 && p50 <= p99 && p99 <= max && max < 1.0, "{name}: {l}");
            answered += l["count"].as_u64().unwrap();
        }
    }
    let responses: u64 = r["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["directions"]["server_to_client"]["frames"].as_u64().unwrap())
        .sum();
    assert_eq!(answered, responses, "every answered request has its latency");
}

#[test]
fn a_real_raft_1_1_2_cluster_shows_its_release_and_no_incompatibility() {
    let t = truth("raft-1.1.2-cluster.truth.json");
    let (code, r) = cluster(&format!("{FIXTURES}/raft-1.1.2-cluster.pcap"));
    assert_eq!(code, 0);
    let c = &r["cluster"];
    for (a, decoded) in t["decoded_rpcs"].as_object().unwrap() {
        let n = c["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["address"] == *a)
            .unwrap();
        assert!(admits(&n["release"], "1.1.2") && !admits(&n["release"], "1.3.7"), "{n}");
        // raft 1.1.2 never writes its id: unknown stays unknown.
        assert!(n["id"].is_null());
        let _ = decoded;
    }
    assert!(
        c["findings"].as_array().unwrap().iter().all(|f| f["level"] == "INFO"),
        "{}",
        c["findings"]
    );
    assert_eq!(c["leaders"].as_array().unwrap().len(), 2);
    assert_eq!(c["leadership_transfers"].as_array().unwrap().len(), 1);
}

/// Real behaviour: raft 1.1.2 nodes sent a RequestPreVote shaped as raft 1.7.3 writes it. The old
/// node logged `unknown rpc type 4` and closed the connection without answering; the same sender's
/// AppendEntries in the new time format was decoded and answered (1.1.2 has no AppendedAt field).
#[test]
fn a_real_old_node_that_cannot_decode_a_pre_vote_makes_the_cluster_not_conforming() {
    let log = std::fs::read_to_string(format!("{FIXTURES}/raft-1.1.2-mixed.raft.log")).unwrap();
    assert!(log.contains("unknown rpc type 4"));
    let t = truth("raft-1.1.2-mixed.truth.json");
    let (code, r) = cluster(&format!("{FIXTURES}/raft-1.1.2-mixed.pcap"));
    assert_eq!(code, 1, "an incompatibility fails the capture");
    assert_eq!(codes(&r), ["cluster_incompatible_rpc"], "{}", r["cluster"]["findings"]);
    let f = &r["cluster"]["findings"][0];
    let target = t["sent"][0]["target"].as_str().unwrap();
    let newer = t["newer_node"]["addr"].as_str().unwrap();
    assert_eq!(f["level"], "MUST");
    assert_eq!(f["nodes"], serde_json::json!([newer, target]));
    assert_eq!(f["offset"], 0);
    let message = f["message"].as_str().unwrap();
    assert!(message.contains("unknown rpc type 4"), "{message}");
    assert!(message.contains("whose release is at most 1.3.6"), "{message}");
    assert!(
        !message.contains("connections between them"),
        "one connection: {message}"
    );
    let conn = r["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| format!("{} -> {}", c["client"].as_str().unwrap(), c["server"].as_str().unwrap()) == f["connection"])
        .unwrap();
    assert_eq!(conn["directions"]["server_to_client"]["bytes"], 0);
    assert_eq!(conn["client_node"], newer);
    let newer_node = r["cluster"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["address"] == newer)
        .unwrap();
    assert_eq!(newer_node["id"], t["newer_node"]["id"]);
    assert_eq!(r["summary"]["cluster_violations"], 1);
    assert_eq!(r["summary"]["verdict"], "not_conforming");
    // JUnit shows it as a failing case of its own.
    let junit = common::raftwire()
        .args(["validate", "--format", "junit"])
        .arg(format!("{FIXTURES}/raft-1.1.2-mixed.pcap"))
        .output()
        .unwrap();
    assert_eq!(junit.status.code(), Some(1));
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert!(xml.contains("testsuite name=\"cluster\""), "{xml}");
    assert!(xml.contains("type=\"cluster_incompatible_rpc\""), "{xml}");
    // The stale AppendEntries it also sent was answered with a higher term: no leader in term 1.
    assert!(r["cluster"]["leaders"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["node"] != newer));
}

// Constructed clusters: hand-built messages of each release, in captures written packet by packet.

fn conn(client: (u8, u16), server: u8) -> Conn {
    Conn::new(client, (server, 8300))
}

fn write(p: &Pcap) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.pcap");
    p.write(&path);
    let s = path.to_str().unwrap().to_string();
    (dir, s)
}

/// One exchange on a flow: a request, and unless `None` its answer.
fn exchange(p: &mut Pcap, f: &mut Flow, req: &[u8], answer: Option<&[u8]>) {
    p.send(f, true, req);
    if let Some(a) = answer {
        p.send(f, false, a);
    }
}

/// Node 1 writes as raft 1.3.0-1.3.6 (a legacy AppendedAt, no header id): its range is known to
/// be inside 1.3.0-1.5.0, whose go-msgpack cannot read the new time format. Node 2 (raft >= 1.6
/// with MsgpackUseNewTimeFormat) replicates to it; node 1 closes without answering.
fn time_format_capture(old_shows_appended_at: bool) -> Pcap {
    let mut p = Pcap::new(65535);
    let mut a = p.open(&conn((1, 40001), 3));
    let old = if old_shows_appended_at { "1.3" } else { "1.1" };
    exchange(&mut p, &mut a, &append(old, 1, 2, 1), Some(&appended(2)));
    let mut b = p.open(&conn((2, 40002), 1));
    // A heartbeat first (no entries, so no AppendedAt), which the old node answers.
    exchange(&mut p, &mut b, &append("1.6new", 2, 3, 0), Some(&appended(3)));
    exchange(&mut p, &mut b, &append("1.6new", 2, 3, 1), None);
    p.end(&b, false, false).end(&b, true, false);
    // The leader dials again and meets the same fate.
    let mut c = p.open(&conn((2, 40012), 1));
    exchange(&mut p, &mut c, &append("1.6new", 2, 3, 1), None);
    p.end(&c, false, false).end(&c, true, false);
    p.end(&a, true, false).end(&a, false, false);
    p
}

#[test]
fn the_new_time_format_sent_to_a_node_known_to_be_1_3_to_1_5_is_an_incompatibility() {
    let (_d, path) = write(&time_format_capture(true));
    let (code, r) = cluster(&path);
    assert_eq!(code, 1);
    assert!(
        codes(&r).contains(&"cluster_incompatible_time_format".to_string()),
        "{}",
        r["cluster"]
    );
    let f = r["cluster"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "cluster_incompatible_time_format")
        .unwrap();
    assert_eq!(f["nodes"], serde_json::json!([node(2), node(1)]));
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains("Time.UnmarshalBinary: unsupported version"),
        "{message}"
    );
    assert!(message.contains("whose release is 1.3.0 to 1.3.6"), "{message}");
    assert!(message.contains("(2 connections between them show it)"), "{message}");
    assert_eq!(
        f["connection"], "10.0.0.2:40002 -> 10.0.0.1:8300",
        "the first connection that shows it"
    );
    assert_eq!(
        f["offset"],
        append("1.6new", 2, 3, 0).len(),
        "where the new format first shows"
    );
    let old = r["cluster"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["address"] == node(1))
        .unwrap();
    assert_eq!(old["release"], serde_json::json!({"min": "1.3.0", "max": "1.3.6"}));
}

#[test]
fn a_node_whose_range_merely_admits_an_old_release_is_not_flagged() {
    // Node 1 writes no AppendedAt: raft 1.1.1-1.2.0, which skips the field whatever its format.
    let (_d, path) = write(&time_format_capture(false));
    let (_, r) = cluster(&path);
    assert!(
        !codes(&r).iter().any(|c| c.starts_with("cluster_incompatible")),
        "{}",
        r["cluster"]
    );
    // Its close right after is still explained.
    assert!(
        codes(&r).contains(&"cluster_closed_unanswered".to_string())
            || codes(&r).contains(&"cluster_closed_after_new_feature".to_string())
    );
}

/// A RequestPreVote as raft 1.7 writes it, from node `from`.
fn pre_vote(from: u8, term: u64) -> Vec<u8> {
    let addr = node(from);
    let id = format!("n{from}");
    request(
        4,
        &[
            ("Addr", V::S(addr.as_bytes())),
            ("ID", V::S(id.as_bytes())),
            ("LastLogIndex", V::U(5)),
            ("LastLogTerm", V::U(1)),
            ("ProtocolVersion", V::U(3)),
            ("Term", V::U(term)),
        ],
    )
}

/// A RequestPreVote granted, as raft 1.7 answers it from node `by`.
fn pre_vote_granted_by(by: u8, term: u64) -> Vec<u8> {
    let addr = node(by);
    let id = format!("n{by}");
    response(
        "",
        &[
            ("Addr", V::S(addr.as_bytes())),
            ("Granted", V::B(true)),
            ("ID", V::S(id.as_bytes())),
            ("ProtocolVersion", V::U(3)),
            ("Term", V::U(term)),
        ],
    )
}

#[test]
fn a_close_right_after_a_newer_feature_names_it_as_the_likely_cause() {
    // Node 1's release is unknown beyond >= 1.3.7 (it answered with a header id): it may be older
    // than 1.7.0 or not, so this is not a proven incompatibility, but the likely cause of the close.
    let mut p = Pcap::new(65535);
    let mut a = p.open(&conn((2, 40002), 1));
    let resp_with_id = response(
        "",
        &[
            ("Addr", V::S(node(1).as_bytes())),
            ("ID", V::S(b"n1")),
            ("LastLog", V::U(1)),
            ("NoRetryBackoff", V::B(false)),
            ("ProtocolVersion", V::U(3)),
            ("Success", V::B(true)),
            ("Term", V::U(2)),
        ],
    );
    exchange(&mut p, &mut a, &append("1.6new", 2, 2, 1), Some(&resp_with_id));
    let mut b = p.open(&conn((2, 40003), 1));
    exchange(&mut p, &mut b, &pre_vote(2, 3), None);
    p.end(&b, false, true);
    let (_d, path) = write(&p);
    let (code, r) = cluster(&path);
    assert_eq!(codes(&r), ["cluster_closed_after_new_feature"], "{}", r["cluster"]);
    let f = &r["cluster"]["findings"][0];
    assert_eq!(f["level"], "SHOULD");
    assert!(f["message"].as_str().unwrap().contains("reset the connection"), "{f}");
    assert_eq!(code, 0, "SHOULD fails only with --strict");
    let (code, _) = validate_json(&["--strict", &path]);
    assert_eq!(code, 1);
    // Closed two seconds later, the close is not blamed on the request.
    let mut p = Pcap::new(65535);
    let mut a = p.open(&conn((2, 40002), 1));
    exchange(&mut p, &mut a, &append("1.6new", 2, 2, 1), Some(&resp_with_id));
    let mut b = p.open(&conn((2, 40003), 1));
    exchange(&mut p, &mut b, &pre_vote(2, 3), None);
    p.at(2_000_000).end(&b, false, true);
    let (_d, path) = write(&p);
    let (_, r) = cluster(&path);
    assert_eq!(codes(&r), ["cluster_closed_unanswered"], "{}", r["cluster"]);
    // Once node 1 is known to run 1.7 (it answered a pre-vote), the same close is only noted.
    let mut p2 = Pcap::new(65535);
    let mut c = p2.open(&conn((2, 40004), 1));
    let granted = pre_vote_granted_by(1, 3);
    exchange(&mut p2, &mut c, &pre_vote(2, 3), Some(&granted));
    let mut d = p2.open(&conn((2, 40005), 1));
    exchange(&mut p2, &mut d, &pre_vote(2, 4), None);
    p2.end(&d, false, false);
    let (_d2, path) = write(&p2);
    let (code, r) = cluster(&path);
    assert_eq!(codes(&r), ["cluster_closed_unanswered"], "{}", r["cluster"]);
    assert_eq!(code, 0);
}

/// A leader (node 1) replicating to nodes 2 and 3 for 20 s; node 3 gets entries only until
/// `node3_until` seconds, heartbeats throughout (heartbeats on their own connections, as raft
/// sends them).
fn replication(node3_until: u32) -> Pcap {
    replication_with(node3_until, false)
}

/// What each follower of [`shaped`] receives, and until when (seconds; 100 = throughout).
#[derive(Clone, Copy)]
struct Shape {
    entries: [u32; 2],
    heartbeats: [u32; 2],
    quiet: bool,
}

/// [`replication`], and with `quiet` a node 4 that answers one heartbeat at the start and is then
/// never heard from again.
fn replication_with(node3_until: u32, quiet: bool) -> Pcap {
    shaped(Shape {
        entries: [100, node3_until],
        heartbeats: [100, 100],
        quiet,
    })
}

/// A leader (node 1) and followers 2 and 3 for 20 s, entries and heartbeats as `shape` says.
fn shaped(shape: Shape) -> Pcap {
    let mut p = Pcap::new(65535);
    if shape.quiet {
        let mut q = p.open(&conn((1, 42004), 4));
        exchange(&mut p, &mut q, &append("1.1", 1, 2, 0), Some(&appended(2)));
    }
    let mut pipe = [p.open(&conn((1, 40002), 2)), p.open(&conn((1, 40003), 3))];
    let mut beat = [p.open(&conn((1, 41002), 2)), p.open(&conn((1, 41003), 3))];
    for tenth in 1..200u32 {
        p.at(tenth * 100_000);
        for k in 0..2 {
            if tenth % 3 == 0 && tenth < shape.heartbeats[k] * 10 {
                exchange(&mut p, &mut beat[k], &append("1.1", 1, 2, 0), Some(&appended(2)));
            }
            if tenth < shape.entries[k] * 10 {
                exchange(&mut p, &mut pipe[k], &append("1.1", 1, 2, 2), Some(&appended(2)));
            }
        }
    }
    p
}

#[test]
fn a_follower_that_gets_only_heartbeats_while_its_peers_get_entries_is_stalled() {
    let (_d, path) = write(&replication(5));
    let (code, r) = cluster(&path);
    assert_eq!(codes(&r), ["cluster_replication_stall"], "{}", r["cluster"]);
    let f = &r["cluster"]["findings"][0];
    assert_eq!(f["nodes"], serde_json::json!([node(1), node(3)]));
    let at = f["at"].as_f64().unwrap();
    assert!(
        (4.5..5.5).contains(&at),
        "the stall starts at node 3's last entries: {at}"
    );
    assert_eq!(code, 0);
    // A longer threshold than the stall: nothing.
    let (_, r) = validate_json(&["--stall-after", "20", &path]);
    assert_eq!(codes(&r), Vec::<String>::new());
    // Nonsense thresholds are refused.
    for bad in ["0", "-1", "nan"] {
        let (code, _) = validate_json(&["--stall-after", bad, &path]);
        assert_eq!(code, 2, "--stall-after {bad}");
    }
    // Both followers replicated throughout: nothing.
    let (_d, path) = write(&replication(100));
    let (_, r) = cluster(&path);
    assert_eq!(codes(&r), Vec::<String>::new(), "{}", r["cluster"]);
}

#[test]
fn no_stall_without_heartbeats_or_without_entries_to_peers() {
    // Node 3 hears nothing at all after 5 s (no heartbeats either): down, not stalled.
    let (_d, path) = write(&shaped(Shape {
        entries: [100, 5],
        heartbeats: [100, 5],
        quiet: false,
    }));
    let (_, r) = cluster(&path);
    assert!(
        !codes(&r).contains(&"cluster_replication_stall".to_string()),
        "{}",
        r["cluster"]
    );
    // The leader has nothing to replicate after 5 s: both followers get only heartbeats.
    let (_d, path) = write(&shaped(Shape {
        entries: [5, 5],
        heartbeats: [100, 100],
        quiet: false,
    }));
    let (_, r) = cluster(&path);
    assert_eq!(codes(&r), Vec::<String>::new(), "{}", r["cluster"]);
    // Node 3 never gets a single entry while node 2 does: stalled from its first heartbeat.
    let (_d, path) = write(&shaped(Shape {
        entries: [100, 0],
        heartbeats: [100, 100],
        quiet: false,
    }));
    let (_, r) = cluster(&path);
    assert_eq!(codes(&r), ["cluster_replication_stall"], "{}", r["cluster"]);
    let at = r["cluster"]["findings"][0]["at"].as_f64().unwrap();
    assert!((0.2..0.4).contains(&at), "from node 3's first heartbeat: {at}");
}

#[test]
fn a_node_that_goes_quiet_while_the_others_talk_is_noted() {
    let (_d, path) = write(&replication_with(100, true));
    let (code, r) = cluster(&path);
    assert_eq!(codes(&r), ["cluster_node_silent"], "{}", r["cluster"]);
    assert_eq!(r["cluster"]["findings"][0]["nodes"], serde_json::json!([node(4)]));
    assert_eq!(code, 0);
}

#[test]
fn two_nodes_leading_one_term_break_election_safety() {
    let mut p = Pcap::new(65535);
    let mut a = p.open(&conn((1, 40001), 3));
    exchange(&mut p, &mut a, &append("1.1", 1, 4, 1), Some(&appended(4)));
    let mut b = p.open(&conn((2, 40002), 3));
    exchange(&mut p, &mut b, &append("1.1", 2, 4, 1), Some(&appended(4)));
    let (_d, path) = write(&p);
    let (code, r) = cluster(&path);
    assert_eq!(codes(&r), ["cluster_two_leaders"], "{}", r["cluster"]);
    assert_eq!(
        r["cluster"]["findings"][0]["nodes"],
        serde_json::json!([node(1), node(2)])
    );
    assert_eq!(code, 1);
    // A stale leader answered with a higher term is not a leader of its term.
    let mut p = Pcap::new(65535);
    let mut a = p.open(&conn((1, 40001), 3));
    exchange(&mut p, &mut a, &append("1.1", 1, 4, 1), Some(&appended(4)));
    let mut b = p.open(&conn((2, 40002), 3));
    exchange(&mut p, &mut b, &append("1.1", 2, 4, 1), Some(&appended(5)));
    let (_d, path) = write(&p);
    let (code, r) = cluster(&path);
    assert_eq!(codes(&r), Vec::<String>::new());
    assert_eq!(r["cluster"]["leaders"][0]["node"], node(1));
    assert_eq!(code, 0);
}

#[test]
fn dialers_that_name_no_node_stay_unknown_and_refused_dials_are_counted() {
    let mut p = Pcap::new(65535);
    // A TimeoutNow from raft 1.1.2 names nobody.
    let mut a = p.open(&conn((1, 40001), 2));
    exchange(
        &mut p,
        &mut a,
        &request(3, &[("ProtocolVersion", V::U(3))]),
        Some(&response("", &[("ProtocolVersion", V::U(3))])),
    );
    p.refused(&conn((1, 40002), 3));
    p.refused(&conn((1, 40003), 3));
    let (_d, path) = write(&p);
    let (_, r) = cluster(&path);
    let c = &r["connections"][0];
    assert!(c["client_node"].is_null(), "{c}");
    assert_eq!(c["server_node"], node(2));
    assert!(r["cluster"]["notes"].as_array().unwrap().iter().any(|n| n
        .as_str()
        .unwrap()
        .starts_with("1 connection(s) whose dialer could not be mapped")));
    // Port 8300 on node 3 carried Raft nowhere, yet it is the Raft port of node 2: its refusals count
    // only when node 3 is a node. It is not: no connection to it carried Raft traffic.
    assert_eq!(r["cluster"]["unreachable"], serde_json::json!([]));
    // Once node 3 has answered Raft traffic, its refusals are a node that went down.
    let mut b = p.open(&conn((1, 40004), 3));
    exchange(&mut p, &mut b, &append("1.1", 1, 2, 0), Some(&appended(2)));
    let (_d, path) = write(&p);
    let (_, r) = cluster(&path);
    let u = &r["cluster"]["unreachable"][0];
    assert_eq!(
        (u["node"].as_str().unwrap(), u["refused_dials"].as_u64().unwrap()),
        (node(3).as_str(), 2)
    );
    assert_eq!(
        u["dialers"],
        serde_json::json!(["10.0.0.1"]),
        "one dialing host, named once"
    );
    let n3 = r["cluster"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["address"] == node(3))
        .unwrap();
    assert_eq!(
        n3["connections_accepted"], 1,
        "refused dials are not accepted connections"
    );
    // Dialers are listed up to sixteen hosts.
    for host in 100..117u8 {
        p.refused(&conn((host, 40000), 3));
    }
    let (_d, path) = write(&p);
    let (_, r) = cluster(&path);
    let u = &r["cluster"]["unreachable"][0];
    assert_eq!(u["refused_dials"], 19);
    assert_eq!(u["dialers"].as_array().unwrap().len(), 16);
    assert!(codes(&r).contains(&"cluster_node_unreachable".to_string()));
}

// RFW/1 clusters.

#[test]
fn rfw_nodes_take_their_ids_from_configurations_and_every_dialer_is_mapped() {
    // `raftwire gen` dials from each node's own IP (10.0.0.N) to 10.0.0.M:7000: an oracle that
    // shares nothing with the model, which never maps by IP.
    let (code, r) = cluster("samples/cluster.pcap");
    assert_eq!(code, 0);
    for c in r["connections"].as_array().unwrap() {
        let ip = c["client"].as_str().unwrap().split(':').next().unwrap();
        assert_eq!(c["client_node"], format!("{ip}:7000"), "{}", c["client"]);
        assert_eq!(c["server_node"], c["server"]);
    }
    for n in r["cluster"]["nodes"].as_array().unwrap() {
        let last = n["address"].as_str().unwrap().split(['.', ':']).nth(3).unwrap();
        assert_eq!(n["id"], format!("n{last}"), "{n}");
        assert_eq!(n["dialects"], serde_json::json!(["rfw"]));
    }
    assert!(!r["cluster"]["leaders"].as_array().unwrap().is_empty());
    // One snapshot, sent in chunks: counted once, at its first chunk, with its whole size.
    let snaps = r["cluster"]["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert_eq!(
        (snaps[0]["to"].as_str(), snaps[0]["size"].as_u64()),
        (Some("10.0.0.4:7000"), Some(28645))
    );
}

#[test]
fn an_rfw_version_the_peer_does_not_speak_is_a_cluster_incompatibility() {
    use raftwire_codec::craft::RawFrame;
    let ok = common::rfw::request(1);
    let mut v2 = RawFrame::parse(&common::rfw::request(2)).unwrap();
    v2.version = 2;
    let mut p = Pcap::new(65535);
    let mut a = p.open(&conn((2, 40002), 1));
    p.send(&mut a, true, &ok).send(&mut a, false, &common::rfw::response(1));
    p.send(&mut a, true, &v2.bytes());
    // The server answers in a version of its own too.
    let mut v3 = RawFrame::parse(&common::rfw::response(1)).unwrap();
    v3.version = 3;
    p.send(&mut a, false, &v3.bytes());
    p.end(&a, false, false);
    let (_d, path) = write(&p);
    let (code, r) = cluster(&path);
    assert_eq!(code, 1);
    assert!(
        codes(&r).contains(&"cluster_version_mismatch".to_string()),
        "{}",
        r["cluster"]
    );
    let f = r["cluster"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "cluster_version_mismatch" && f["nodes"][1] == node(1))
        .unwrap();
    assert_eq!(f["level"], "MUST");
    assert!(f["message"].as_str().unwrap().contains("version 2 frames"), "{f}");
    assert!(f["message"].as_str().unwrap().contains("(1 connection(s))"), "{f}");
    let found: Vec<&Value> = r["cluster"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "cluster_version_mismatch")
        .collect();
    assert_eq!(found.len(), 2, "one per writer and version: {found:?}");
    assert!(found
        .iter()
        .any(|f| f["nodes"][0] == node(1) && f["message"].as_str().unwrap().contains("version 3")));
    assert_eq!(f["nodes"][1], node(1));
    // The same capture with version 1 throughout: no mismatch.
    let mut p = Pcap::new(65535);
    let mut a = p.open(&conn((2, 40002), 1));
    p.send(&mut a, true, &ok).send(&mut a, false, &common::rfw::response(1));
    let (_d, path) = write(&p);
    let (_, r) = cluster(&path);
    assert!(!codes(&r).contains(&"cluster_version_mismatch".to_string()));
}

#[test]
fn a_node_upgraded_during_the_capture_is_noted_and_not_called_incompatible() {
    // Node 1 first answers as raft <= 1.3.6 would, then (restarted on 1.7) answers a pre-vote;
    // node 2's later pre-vote to it goes unanswered. Its range contradicts itself: no claim.
    let mut p = Pcap::new(65535);
    let mut a = p.open(&conn((2, 40002), 1));
    exchange(&mut p, &mut a, &append("1.6new", 2, 2, 1), Some(&appended(2)));
    p.end(&a, true, false).end(&a, false, false);
    let mut b = p.open(&conn((2, 40003), 1));
    let granted = pre_vote_granted_by(1, 3);
    exchange(&mut p, &mut b, &pre_vote(2, 3), Some(&granted));
    let mut c = p.open(&conn((2, 40004), 1));
    exchange(&mut p, &mut c, &pre_vote(2, 4), None);
    p.end(&c, false, false);
    let (_d, path) = write(&p);
    let (code, r) = cluster(&path);
    let found = codes(&r);
    assert!(
        found.contains(&"cluster_release_changed".to_string()),
        "{}",
        r["cluster"]
    );
    assert!(
        !found.iter().any(|c| c.starts_with("cluster_incompatible")),
        "{}",
        r["cluster"]
    );
    assert_eq!(code, 0);
}

#[test]
fn events_past_the_per_connection_cap_are_counted_not_lost_silently() {
    let vote = |term: u64| {
        request(
            1,
            &[
                ("Candidate", V::S(node(2).as_bytes())),
                ("LastLogIndex", V::U(5)),
                ("LastLogTerm", V::U(1)),
                ("LeadershipTransfer", V::B(false)),
                ("ProtocolVersion", V::U(3)),
                ("Term", V::U(term)),
            ],
        )
    };
    let granted = |term: u64| {
        response(
            "",
            &[
                ("Granted", V::B(false)),
                ("Peers", V::Nil),
                ("ProtocolVersion", V::U(3)),
                ("Term", V::U(term)),
            ],
        )
    };
    let mut p = Pcap::new(65535);
    let mut a = p.open(&conn((2, 40002), 1));
    for term in 1..=70 {
        exchange(&mut p, &mut a, &vote(term), Some(&granted(term)));
    }
    let (_d, path) = write(&p);
    let (_, r) = cluster(&path);
    assert_eq!(r["cluster"]["elections"].as_array().unwrap().len(), 64);
    let notes = r["cluster"]["notes"].to_string();
    assert!(
        notes.contains("6 events past the first 64 of this connection not modelled"),
        "{notes}"
    );
    assert!(r["cluster"]["elections"][0]["denied"] == serde_json::json!([node(1)]));
}

/// Raw stream files have no times, but `raftwire streams` names them by their addresses: the
/// cluster view needs no timing for nodes, ids, releases, leaders' order of terms and snapshots.
#[test]
fn raw_streams_of_a_capture_give_the_same_nodes_without_times() {
    let t = truth("raft-1.7.3-cluster.truth.json");
    let dir = tempfile::tempdir().unwrap();
    let out = common::raftwire()
        .args(["streams", "--out"])
        .arg(dir.path())
        .arg(format!("{FIXTURES}/raft-1.7.3-cluster.pcap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let (code, r) = validate_json(&[dir.path()]);
    assert_eq!(code, 0);
    let c = &r["cluster"];
    assert_eq!(c["nodes"].as_array().unwrap().len(), 4);
    for n in c["nodes"].as_array().unwrap() {
        assert!(admits(&n["release"], "1.7.3"), "{n}");
        assert!(n["id"].is_string(), "{n}");
    }
    let addr = |node: &str| t["nodes"][node].as_str().unwrap().to_string();
    for conn in r["connections"].as_array().unwrap() {
        let file = conn["client"].as_str().unwrap();
        let truth_conn = t["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| {
                let name = format!(
                    "{}-{}",
                    x["client"].as_str().unwrap().replace(':', "_"),
                    x["server"].as_str().unwrap().replace(':', "_")
                );
                file.contains(&name)
            })
            .unwrap_or_else(|| panic!("{file} not in the truth"));
        assert_eq!(
            conn["client_node"],
            addr(truth_conn["client_node"].as_str().unwrap()),
            "{file}"
        );
        assert_eq!(
            conn["server_node"],
            addr(truth_conn["server_node"].as_str().unwrap()),
            "{file}"
        );
    }
    let terms: Vec<u64> = c["leaders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["term"].as_u64().unwrap())
        .collect();
    assert_eq!(terms, [2, 3]);
    assert_eq!(c["snapshots"].as_array().unwrap().len(), 2);
    assert!(c["notes"].to_string().contains("no packet times"));
}

/// A heartbeat with a 1.3.7+ header naming `id` and `addr`, and `leader` as its Leader.
fn heartbeat_from(id: &str, addr: &str, leader: &str) -> Vec<u8> {
    request(
        0,
        &[
            ("Addr", V::S(addr.as_bytes())),
            ("Entries", V::Nil),
            ("ID", V::S(id.as_bytes())),
            ("Leader", V::S(leader.as_bytes())),
            ("LeaderCommitIndex", V::U(0)),
            ("PrevLogEntry", V::U(0)),
            ("PrevLogTerm", V::U(0)),
            ("ProtocolVersion", V::U(3)),
            ("Term", V::U(2)),
        ],
    )
}

/// Its answer, with a 1.3.7+ header naming the responder.
fn answer_from(id: &str, addr: &str) -> Vec<u8> {
    response(
        "",
        &[
            ("Addr", V::S(addr.as_bytes())),
            ("ID", V::S(id.as_bytes())),
            ("LastLog", V::U(1)),
            ("NoRetryBackoff", V::B(false)),
            ("ProtocolVersion", V::U(3)),
            ("Success", V::B(true)),
            ("Term", V::U(2)),
        ],
    )
}

#[test]
fn nodes_are_named_by_what_they_advertise_and_never_by_conflicting_claims() {
    let nat = "192.168.9.1:8300";
    let mut p = Pcap::new(65535);
    // Node 1 is reached at 10.0.0.1:8300 but advertises a NAT address, with id "a".
    let mut a = p.open(&conn((2, 40001), 1));
    exchange(
        &mut p,
        &mut a,
        &heartbeat_from("b", &node(2), &node(2)),
        Some(&answer_from("a", nat)),
    );
    // Its own dial, naming itself only by the advertised address (no id): mapped through it.
    let mut b = p.open(&conn((1, 40002), 2));
    exchange(
        &mut p,
        &mut b,
        &heartbeat_from("", nat, nat),
        Some(&answer_from("b", &node(2))),
    );
    // A dialer whose Leader names node 1 but whose id is node 2's: no node.
    let mut c = p.open(&conn((3, 40003), 2));
    exchange(
        &mut p,
        &mut c,
        &heartbeat_from("b", &node(1), &node(1)),
        Some(&answer_from("b", &node(2))),
    );
    // Node 3 answers with one id, then another, then the first again: its id is unknown.
    for (port, id) in [(40004, "c1"), (40005, "c2"), (40006, "c1")] {
        let mut f = p.open(&conn((2, port), 3));
        exchange(
            &mut p,
            &mut f,
            &heartbeat_from("b", &node(2), &node(2)),
            Some(&answer_from(id, &node(3))),
        );
    }
    let (_d, path) = write(&p);
    let (_, r) = cluster(&path);
    let conns = r["connections"].as_array().unwrap();
    let by_client = |client: &str| conns.iter().find(|c| c["client"] == client).unwrap();
    assert_eq!(
        by_client("10.0.0.1:40002")["client_node"],
        node(1),
        "mapped through the advertised address"
    );
    assert!(
        by_client("10.0.0.3:40003")["client_node"].is_null(),
        "two nodes named: unknown"
    );
    assert_eq!(by_client("10.0.0.2:40001")["client_node"], node(2));
    let nodes = r["cluster"]["nodes"].as_array().unwrap();
    let n = |a: &str| nodes.iter().find(|n| n["address"] == a).unwrap();
    assert_eq!(n(&node(1))["id"], "a");
    assert!(n(&node(3))["id"].is_null(), "{}", n(&node(3)));
    assert!(n(&node(3))["evidence"].to_string().contains("more than one ID"));
    assert_eq!(
        nodes.len(),
        3,
        "the NAT address is node 1, not a node of its own: {nodes:?}"
    );
}

/// A node's first and last sight span all its connections, whatever order they are reported in;
/// a node last seen more than `--stall-after` before the end, while others talk, is silent.
#[test]
fn first_and_last_sight_span_every_connection() {
    let mut p = Pcap::new(65535);
    let mut a = p.open(&conn((1, 40001), 2));
    exchange(&mut p, &mut a, &append("1.1", 1, 2, 0), Some(&appended(2)));
    p.at(5_000_000);
    let mut b = p.open(&conn((1, 40002), 2));
    exchange(&mut p, &mut b, &append("1.1", 1, 2, 0), Some(&appended(2)));
    p.end(&b, true, false).end(&b, false, false);
    p.at(14_000_000);
    let mut c = p.open(&conn((1, 40003), 3));
    exchange(&mut p, &mut c, &append("1.1", 1, 2, 0), Some(&appended(2)));
    p.end(&c, true, false).end(&c, false, false);
    p.at(20_000_000);
    exchange(&mut p, &mut a, &append("1.1", 1, 2, 0), Some(&appended(2)));
    p.end(&a, true, false).end(&a, false, false);
    let (_d, path) = write(&p);
    let (_, r) = cluster(&path);
    let nodes = r["cluster"]["nodes"].as_array().unwrap();
    let n2 = nodes.iter().find(|n| n["address"] == node(2)).unwrap();
    assert!(n2["first_seen"].as_f64().unwrap() < 0.01, "{n2}");
    assert!(n2["last_seen"].as_f64().unwrap() > 19.9, "{n2}");
    assert_eq!(codes(&r), ["cluster_node_silent"], "{}", r["cluster"]);
    assert_eq!(r["cluster"]["findings"][0]["nodes"], serde_json::json!([node(3)]));
}
