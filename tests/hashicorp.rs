//! hashicorp/raft NetworkTransport traffic: a real capture of a raft 1.1.2 cluster (with the
//! harness's count of what each server decoded), the same streams as raw files, and the classic
//! broken streams, each diagnosed at its exact offset.

mod common;

use common::{raftwire, validate_json as validate};

use std::collections::BTreeMap;

use serde_json::Value;

const CAPTURE: &str = "tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap";

/// Requests received per server address, by message name, summed over its connections.
fn requests_by_server(r: &Value) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for c in r["connections"].as_array().unwrap() {
        let server = c["server"].as_str().unwrap().to_string();
        for (name, n) in c["directions"]["client_to_server"]["frames_by_type"]
            .as_object()
            .unwrap()
        {
            *out.entry(server.clone()).or_default().entry(name.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    out
}

#[test]
fn hc_1_a_real_raft_cluster_capture_conforms_and_matches_what_the_servers_decoded() {
    let (code, r) = validate(&[CAPTURE]);
    assert_eq!(code, 0, "{r}");
    assert!(r["connections"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["dialect"] == "hashicorp"));
    let truth: Value =
        serde_json::from_slice(&std::fs::read("tests/fixtures/hashicorp/raft-1.1.2-cluster.truth.json").unwrap())
            .unwrap();
    let truth: BTreeMap<String, BTreeMap<String, u64>> = serde_json::from_value(truth["decoded_rpcs"].clone()).unwrap();
    assert_eq!(
        requests_by_server(&r),
        truth,
        "message counts differ from the ground truth"
    );
    // Every request was answered, with a response of the matching type.
    for c in r["connections"].as_array().unwrap() {
        let d = &c["directions"];
        assert_eq!(d["client_to_server"]["frames"], d["server_to_client"]["frames"], "{c}");
    }
    let notes = r["connections"][0]["notes"].to_string();
    assert!(notes.contains("raft <= 1.3.6"), "release read off the bytes: {notes}");
}

#[test]
fn raw_streams_from_the_capture_give_the_same_results_as_the_capture() {
    let dir = streams_of_capture();
    let (code, raw) = validate(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{raw}");
    let (_, pcap) = validate(&[CAPTURE]);
    let counts = |r: &Value| {
        let mut v: Vec<String> = r["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["directions"].to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(counts(&raw), counts(&pcap));
}

/// The capture's connections as raw stream files (`raftwire streams`), in a temporary directory.
fn streams_of_capture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    raftwire()
        .args(["streams", CAPTURE, "--out"])
        .arg(dir.path())
        .assert()
        .success();
    dir
}

/// The streams of the capture's busiest connection, as raw bytes.
fn busiest() -> (Vec<u8>, Vec<u8>) {
    let dir = streams_of_capture();
    let mut best = (Vec::new(), Vec::new());
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        let name = p.to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".c2s.bin") {
            let c2s = std::fs::read(&p).unwrap();
            let s2c = std::fs::read(format!("{stem}.s2c.bin")).unwrap();
            if s2c.len() > best.1.len() {
                best = (c2s, s2c);
            }
        }
    }
    best
}

fn check_request_stream(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.c2s.bin");
    std::fs::write(&p, bytes).unwrap();
    std::fs::write(dir.path().join("x.s2c.bin"), b"").unwrap();
    let (_, r) = validate(&["--dialect", "hashicorp", dir.path().to_str().unwrap()]);
    r["connections"][0]["directions"]["client_to_server"].clone()
}

/// First request's length in a request stream (type byte + one msgpack map).
fn first_request_len(c2s: &[u8]) -> usize {
    let (rest, _) = raftwire_hashicorp::msgpack::value(&c2s[1..]).unwrap();
    c2s.len() - rest.len()
}

#[test]
fn hc_3_a_response_in_the_request_direction_is_unknown_rpc_type_160_and_checking_resumes() {
    let (c2s, s2c) = busiest();
    let cut = first_request_len(&c2s);
    let (rest, _) = raftwire_hashicorp::msgpack::value(&s2c).unwrap();
    let (rest, _) = raftwire_hashicorp::msgpack::value(rest).unwrap();
    let response = &s2c[..s2c.len() - rest.len()];
    // A response written into the request direction after the first request, as in the incident.
    let broken = [&c2s[..cut], response, &c2s[cut..]].concat();
    let d = check_request_stream(&broken);
    let v = &d["violations"][0];
    assert_eq!(
        (v["code"].as_str(), v["offset"].as_u64()),
        (Some("hc_response_in_request_direction"), Some(cut as u64)),
        "{d}"
    );
    assert_eq!(v["requirement"], "HC-3");
    assert!(v["message"].as_str().unwrap().contains("unknown rpc type 160"), "{v}");
    assert_eq!(
        d["bytes_skipped"].as_u64(),
        Some(response.len() as u64),
        "exactly the response is skipped"
    );
    let clean = check_request_stream(&c2s);
    assert_eq!(
        d["frames"], clean["frames"],
        "every request after the desync is still decoded"
    );
}

#[test]
fn hc_5_foreign_traffic_on_the_raft_port_is_named() {
    let (c2s, _) = busiest();
    let cut = first_request_len(&c2s);
    for (bytes, code, says) in [
        (
            &b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            "hc_foreign_http",
            "unknown rpc type 71",
        ),
        (b"POST /raft HTTP/1.1\r\n\r\n", "hc_foreign_http", "unknown rpc type 80"),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "hc_foreign_http2", "HTTP/2"),
        (&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5], "hc_foreign_tls", "TLS"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "hc_foreign_ssh", "SSH"),
        (&[0xC1, b'R', b'F', b'W', 1, 4, 0, 0], "hc_foreign_rfw", "RFW/1"),
    ] {
        let d = check_request_stream(&[&c2s[..cut], bytes, &c2s[cut..]].concat());
        let v = &d["violations"][0];
        assert_eq!(
            (v["code"].as_str(), v["offset"].as_u64()),
            (Some(code), Some(cut as u64)),
            "{d}"
        );
        assert!(v["message"].as_str().unwrap().contains(says), "{v}");
        assert_eq!(d["bytes_skipped"].as_u64(), Some(bytes.len() as u64));
    }
}

#[test]
fn hc_6_truncated_streams_and_consul_prefixes() {
    let (c2s, _) = busiest();
    let d = check_request_stream(&c2s[..c2s.len() - 3]);
    assert!(
        d["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["code"] == "hc_truncated"),
        "{d}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.c2s.bin"), [&[0x01][..], &c2s].concat()).unwrap();
    std::fs::write(dir.path().join("c.s2c.bin"), b"").unwrap();
    let (_, r) = validate(&[dir.path().to_str().unwrap()]);
    assert_eq!(r["connections"][0]["dialect"], "hashicorp");
    assert!(r["connections"][0]["notes"].to_string().contains("Consul"), "{r}");
    std::fs::write(dir.path().join("c.c2s.bin"), [0x03, 0x16, 0x03, 0x01, 0x00, 0x20]).unwrap();
    let (_, r) = validate(&[dir.path().to_str().unwrap()]);
    assert_eq!(r["connections"][0]["dialect"], "hashicorp (TLS)");
}

/// The shared-connection failure reproduced with the real library (harness `-fault shared`: every
/// connection to a peer is one TCP connection, also handed to the node's own acceptor, as in
/// openziti/ziti#2533). The library's log shows the real decode error; raftwire names each
/// misplaced request at its offset, passes over it as a unit, and keeps decoding.
#[test]
fn hc_3_the_real_shared_connection_failure_is_diagnosed_and_checking_continues() {
    let log = std::fs::read_to_string("tests/fixtures/hashicorp/raft-1.1.2-shared-connection.raft.log").unwrap();
    assert!(log.contains("unknown rpc type 160"), "{log}");
    let (code, r) = validate(&["tests/fixtures/hashicorp/raft-1.1.2-shared-connection.pcap"]);
    assert_eq!(code, 1);
    let conns = r["connections"].as_array().unwrap();
    let broken = conns
        .iter()
        .find(|c| {
            c["directions"]["server_to_client"]["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["code"] == "hc_request_in_response_direction")
        })
        .unwrap_or_else(|| panic!("no misplaced request found: {r}"));
    let d = &broken["directions"]["server_to_client"];
    let misplaced: Vec<u64> = d["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["code"] == "hc_request_in_response_direction")
        .map(|v| v["offset"].as_u64().unwrap())
        .collect();
    assert!(
        misplaced.len() > 1,
        "every misplaced request is reported, not just the first: {misplaced:?}"
    );
    assert!(d["violations"][0]["message"]
        .as_str()
        .unwrap()
        .contains("requests are being written into the response direction"));
    // Checking went on after the first desync: most responses still decoded and paired.
    let requests = broken["directions"]["client_to_server"]["frames"].as_u64().unwrap();
    assert!(d["frames"].as_u64().unwrap() + 10 >= requests, "{d}");
    // Connections the fault did not touch stay clean.
    assert!(conns.iter().any(|c| c["directions"]["server_to_client"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["level"] != "MUST")));
}

#[test]
fn inspect_shows_hashicorp_messages_with_desyncs_inline() {
    let out = raftwire()
        .args(["inspect", "tests/fixtures/hashicorp/raft-1.1.2-shared-connection.pcap"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[hashicorp]")
            && text.contains("c->s AppendEntries(heartbeat)")
            && text.contains("s->c RequestVoteResponse"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("ERROR hc_request_in_response_direction [HC-3]")),
        "{text}"
    );
}

/// A long connection, fed like a capture delivers it (segments of both directions interleaved),
/// is checked holding only the message being read, and finds exactly what checking the whole
/// streams at once finds, including the desyncs spliced into it.
#[test]
fn streaming_check_holds_one_message_at_a_time_and_finds_what_a_whole_check_finds() {
    let (c2s, s2c) = busiest();
    let rounds = (16 << 20) / (c2s.len() + s2c.len()) + 1;
    let (mut long_c2s, mut long_s2c) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        long_c2s.extend_from_slice(&c2s);
        long_s2c.extend_from_slice(&s2c);
        if round == rounds / 2 {
            // A response written into the request direction, and garbage in the responses.
            long_c2s.extend_from_slice(&s2c[..s2c.len().min(200)]);
            long_s2c.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        }
    }
    let whole = raftwire_hashicorp::check(&long_c2s, &long_s2c);
    let mut checker = raftwire_hashicorp::Checker::new(true);
    let mut most_held = 0;
    // Both directions advance together, as in a capture: responses keep pace with requests.
    let (mut sent, mut answered) = (0, 0);
    for a in long_c2s.chunks(1460) {
        checker.requests(a);
        sent += a.len();
        let due = sent * (long_s2c.len() / 1024) / (long_c2s.len() / 1024);
        for b in long_s2c[answered..due.min(long_s2c.len())].chunks(1460) {
            checker.responses(b);
        }
        answered = answered.max(due.min(long_s2c.len()));
        most_held = most_held.max(checker.buffered());
    }
    checker.responses(&long_s2c[answered..]);
    let streamed = checker.finish();
    assert_eq!(streamed, whole);
    let messages = whole.requests.messages.len() + whole.responses.messages.len();
    assert!(messages > 5_000, "{messages} messages");
    let codes: Vec<&str> = whole.requests.findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&"hc_response_in_request_direction"), "{codes:?}");
    assert!(whole.responses.findings.iter().any(|f| f.code == "hc_foreign_http"));
    // 16 MiB went through; what was held at any time is bounded by the largest message (held at
    // most until it has doubled: retries back off geometrically) and a segment.
    let largest = [&whole.requests, &whole.responses]
        .iter()
        .flat_map(|d| d.messages.windows(2).map(|w| w[1].0 - w[0].0))
        .max()
        .unwrap() as usize;
    assert!(largest < 1 << 20, "largest message {largest}");
    assert!(
        most_held <= 2 * largest + 2 * 1460,
        "held {most_held} bytes at once; largest message {largest}"
    );
}

/// Past 1000 findings a hashicorp direction lists no more, but each still counts.
#[test]
fn hashicorp_findings_past_the_listing_cap_still_count() {
    let (c2s, _) = busiest();
    let request = &c2s[..first_request_len(&c2s)];
    // Each copy's last byte (its Term) set to 0: a MUST finding per message (HC-8), each whole
    // and followed by the next, so all are counted.
    let mut bad = request.to_vec();
    *bad.last_mut().unwrap() = 0;
    let stream = bad.repeat(1500);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.c2s.bin"), &stream).unwrap();
    std::fs::write(dir.path().join("x.s2c.bin"), b"").unwrap();
    let (code, r) = validate(&["--dialect", "hashicorp", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let d = &r["connections"][0]["directions"]["client_to_server"];
    assert_eq!(d["frames"], 1500);
    assert_eq!(d["violations"].as_array().unwrap().len(), 1000);
    assert_eq!(
        (d["violations_omitted"].as_u64(), d["omitted_must"].as_u64()),
        (Some(500), Some(500))
    );
    assert_eq!(r["summary"]["violations"], 1500);
}

/// The real raft 1.7.3 cluster (pre-vote, ID/Addr, AppendedAt, go-msgpack v2, a leadership
/// transfer): clean under every rule, and the requests counted are what the nodes decoded, plus
/// the few the library read while shutting down (it logs them as "transport shutdown" and hands
/// them on to no one: they are on the wire, not in the nodes' counts).
#[test]
fn a_real_raft_1_7_3_cluster_conforms_and_matches_what_the_nodes_decoded() {
    let capture = "tests/fixtures/hashicorp/raft-1.7.3-cluster.pcap";
    let (code, r) = validate(&[capture]);
    assert_eq!(code, 0, "{}", r["summary"]);
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for c in r["connections"].as_array().unwrap() {
        assert_eq!(c["dialect"], "hashicorp");
        for (name, n) in c["directions"]["client_to_server"]["frames_by_type"]
            .as_object()
            .unwrap()
        {
            *counted.entry(name.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    let truth: Value =
        serde_json::from_slice(&std::fs::read("tests/fixtures/hashicorp/raft-1.7.3-cluster.truth.json").unwrap())
            .unwrap();
    let decoded = |k: &str| truth["server_decoded_rpcs"][k].as_u64().unwrap_or(0);
    let at_shutdown = truth["decode_errors_logged"]["transport shutdown"].as_u64().unwrap();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for k in [
        "AppendEntries",
        "InstallSnapshot",
        "RequestPreVote",
        "RequestVote",
        "TimeoutNow",
    ] {
        expected.insert(k.into(), decoded(k));
    }
    // raftwire names every AppendEntries without entries a heartbeat; the nodes tell the fast
    // path's heartbeats from empty commit-index updates.
    expected.insert(
        "AppendEntries(heartbeat)".into(),
        decoded("AppendEntries(empty)") + decoded("AppendEntries(heartbeat)") + at_shutdown,
    );
    assert_eq!(counted, expected);
}
