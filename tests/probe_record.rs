//! `raftwire probe --record`: the probe's own traffic, and the node's answers, held to the spec by
//! `raftwire validate`. Against the reference node, every answer direction is clean, every case
//! meant to be valid sends valid bytes, and every case meant to break a requirement breaks that
//! one (the validator names it), connection by connection (found by the case's client port).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::raftwire;
use serde_json::Value;

#[test]
fn the_recorded_probe_run_is_what_each_case_meant_to_send() {
    let mut node = Command::new(env!("CARGO_BIN_EXE_raftwire"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(node.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("probe.pcapng");
    let out = raftwire()
        .args(["probe", &addr, "--format", "json", "--timeout", "2", "--record"])
        .arg(&capture)
        .output()
        .unwrap();
    let _ = node.kill();
    let _ = node.wait();
    assert_eq!(out.status.code(), Some(0));
    let probe: Value = serde_json::from_slice(&out.stdout).unwrap();

    let out = raftwire()
        .args(["validate", "--dialect", "rfw", "--format", "json"])
        .arg(&capture)
        .output()
        .unwrap();
    let validated: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Nothing of the recording is missing or unchecked: the capture is whole.
    assert_eq!(validated["summary"]["complete"], true, "{:#}", validated["summary"]);
    assert_eq!(validated["summary"]["bytes_missing"], 0);
    let connections: HashMap<&str, &Value> = validated["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["client"].as_str().unwrap(), c))
        .collect();
    let cases = probe["cases"].as_array().unwrap();
    // Every case and every sanity exchange (one before the first case, and two for each: while
    // its connection is open and after it is closed).
    assert_eq!(connections.len(), 3 * cases.len() + 1);
    let musts = |c: &Value, dir: &str| -> Vec<String> {
        c["directions"][dir]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["level"] == "MUST")
            .map(|v| v["requirement"].as_str().unwrap().to_string())
            .collect()
    };
    for c in connections.values() {
        assert_eq!(
            musts(c, "server_to_client"),
            Vec::<String>::new(),
            "the node's answers: {c:#}"
        );
    }
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let c = connections[case["client"].as_str().unwrap()];
        let broken = musts(c, "client_to_server");
        let meant_valid = case["expected"].as_str().unwrap().starts_with("exactly");
        if meant_valid {
            assert!(broken.is_empty(), "{id}: {broken:?}");
        } else if case["requirement"] != "RECV-1" {
            assert_eq!(
                broken.first().map(String::as_str),
                case["requirement"].as_str(),
                "{id}: {c:#}"
            );
        } else {
            assert!(!broken.is_empty(), "{id}");
        }
    }
}
