//! `raftwire serve` and `raftwire probe` as an operator runs them, on loopback: the probe passes
//! every case against the reference node, in each output format, with exit statuses that mean
//! what the help says.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::raftwire;
use serde_json::Value;

/// `raftwire serve` on a port the OS picks; its address, read from its first log line.
struct Serve(Child, String);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(term: &str) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_raftwire"))
        .args(["serve", "--listen", "127.0.0.1:0", "--term", term])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Serve(child, addr)
}

#[test]
fn every_case_passes_against_serve_in_every_format() {
    let node = serve("5");
    let out = raftwire()
        .args(["probe", &node.1, "--timeout", "2", "--strict"])
        .assert()
        .code(0);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let cases = text.lines().filter(|l| l.starts_with("PASS ")).count();
    assert!(cases >= 30, "{text}");
    assert!(
        text.contains(&format!(
            "{cases} passed, 0 failed, 0 non-strict, 0 informational, 0 skipped; target alive"
        )),
        "{text}"
    );

    let out = raftwire()
        .args([
            "probe",
            &node.1,
            "--format",
            "json",
            "--cases",
            "rfw/FRAME-7,rfw/STREAM-5",
        ])
        .assert()
        .code(0);
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["summary"]["passed"], 4, "{json}");
    assert_eq!(json["summary"]["target_alive"], true);
    assert_eq!(json["node_term"], 5);
    let ids: Vec<&str> = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "rfw/FRAME-7/length-over-limit",
            "rfw/FRAME-7/length-4gib",
            "rfw/STREAM-5/snapshot-chunk-in-flight",
            "rfw/STREAM-5/pipelined"
        ]
    );

    let out = raftwire()
        .args(["probe", &node.1, "--format", "junit", "--cases", "rfw/FRAME-1"])
        .assert()
        .code(0);
    let xml = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
}

#[test]
fn cases_that_would_not_be_stale_are_skipped_unless_disruptive() {
    let node = serve("1");
    let out = raftwire()
        .args(["probe", &node.1, "--timeout", "2", "--format", "json"])
        .assert()
        .code(0);
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let skipped = json["summary"]["skipped"].as_u64().unwrap();
    assert!(skipped >= 8, "{json}");
    assert_eq!(json["summary"]["failed"], 0);
    let out = raftwire()
        .args(["probe", &node.1, "--timeout", "2", "--format", "json", "--disruptive"])
        .assert()
        .code(0);
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["summary"]["skipped"], 0, "{json}");
}

#[test]
fn list_shows_every_case_without_a_target() {
    let out = raftwire().args(["probe", "--list"]).assert().code(0);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("rfw/FRAME-3/header-crc"), "{text}");
    assert!(
        text.contains("rfw/STREAM-7/term-regressed") && text.contains("--disruptive"),
        "{text}"
    );
    let out = raftwire()
        .args(["probe", "--list", "--dialect", "hashicorp", "--format", "json"])
        .assert()
        .code(0);
    let list: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let list = list.as_array().unwrap();
    assert!(list.len() >= 25);
    assert_eq!(list[0]["id"], "hashicorp/HC-1/unknown-rpc-type-71");
    assert!(list
        .iter()
        .all(|c| c["level"].is_string() && c["requirement"].is_string() && c["max_term"].is_u64()));
}

#[test]
fn usage_errors_and_unreachable_nodes_exit_2() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let out = raftwire().args(["probe", &port]).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("could not connect") && !err.contains("could not connect: could not connect"),
        "{err}"
    );
    raftwire().args(["probe"]).assert().code(2);
    raftwire()
        .args(["probe", "--list", "--cases", "rfw/NOPE"])
        .assert()
        .code(2);
    raftwire().args(["probe", "not an address"]).assert().code(2);
    raftwire()
        .args(["probe", "--list", "--dialect", "smtp"])
        .assert()
        .code(2);
    raftwire().args(["serve", "--term", "0"]).assert().code(2);
}
