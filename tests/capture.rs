//! Captures end to end: real tcpdump captures of loopback TCP, generated pcaps with injected
//! faults, tshark as an independent check of the TCP reassembly, and broken capture files.

mod common;

use common::{raftwire, validate_json};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command as Process;

use serde_json::Value;

/// Each connection's frames by type in both directions, as a sorted list (connection order and
/// names differ between a capture and the raw files it was made from).
fn type_counts(report: &Value) -> Vec<String> {
    let mut v: Vec<String> = report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} / {}",
                c["directions"]["client_to_server"]["frames_by_type"],
                c["directions"]["server_to_client"]["frames_by_type"]
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn real_tcpdump_captures_of_loopback_tcp_conform_and_match_the_streams_sent() {
    let (_, raw) = validate_json(&["samples/cluster"]);
    for fixture in [
        "tests/fixtures/loopback-tcpdump.pcap",
        "tests/fixtures/loopback-any.pcapng",
    ] {
        let (code, r) = validate_json(&[fixture]);
        assert_eq!(code, 0, "{fixture}: {r}");
        assert_eq!(r["summary"]["frames"], raw["summary"]["frames"], "{fixture}");
        assert_eq!(
            type_counts(&r),
            type_counts(&raw),
            "{fixture}: per-connection message counts differ from what was sent"
        );
        assert!(r["connections"][0]["client"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"));
        assert!(r["captures"][0]["packets"].as_u64().unwrap() > 400);
    }
}

#[test]
fn bundled_sample_capture_conforms_and_is_what_gen_writes() {
    let (code, r) = validate_json(&["samples/cluster.pcap"]);
    assert_eq!(code, 0);
    let (_, raw) = validate_json(&["samples/cluster"]);
    assert_eq!(type_counts(&r), type_counts(&raw));
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("s.pcap");
    raftwire()
        .args(["gen", "--seed", "1", "--out"])
        .arg(&fresh)
        .assert()
        .success();
    assert!(
        std::fs::read(&fresh).unwrap() == std::fs::read("samples/cluster.pcap").unwrap(),
        "samples/cluster.pcap is stale"
    );
}

/// Parses `tshark -z follow,tcp,raw,N`: unindented hex lines are node 0 -> node 1 (the client),
/// tab-indented ones the reverse.
fn tshark_follow(capture: &Path, stream: usize) -> Option<(String, [Vec<u8>; 2])> {
    let out = Process::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-q", "-z", &format!("follow,tcp,raw,{stream}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut node0 = None;
    let mut dirs = [Vec::new(), Vec::new()];
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Node 0: ") {
            node0 = Some(n.trim().to_string());
            continue;
        }
        let (i, hex) = match line.strip_prefix('\t') {
            Some(h) => (1, h),
            None => (0, line),
        };
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || hex.len() % 2 != 0 {
            continue;
        }
        dirs[i].extend(
            (0..hex.len())
                .step_by(2)
                .map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap()),
        );
    }
    node0.filter(|_| dirs.iter().any(|d| !d.is_empty())).map(|n| (n, dirs))
}

#[test]
fn tcp_reassembly_yields_the_same_bytes_per_direction_as_tshark_follow() {
    assert!(
        Process::new("tshark").arg("--version").output().is_ok(),
        "tshark is needed for this cross-check: apt-get install tshark (.ci/run installs it)"
    );
    let capture = Path::new("tests/fixtures/loopback-tcpdump.pcap");
    let dir = tempfile::tempdir().unwrap();
    raftwire()
        .args(["streams"])
        .arg(capture)
        .arg("--out")
        .arg(dir.path())
        .assert()
        .success();
    let mut ours: BTreeMap<String, [Vec<u8>; 2]> = BTreeMap::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (stem, i) = match name.strip_suffix(".c2s.bin") {
            Some(s) => (s.to_string(), 0),
            None => (name.strip_suffix(".s2c.bin").unwrap().to_string(), 1),
        };
        // File stems are CLIENT-SERVER with ':' written as '_'; key by the client address.
        let client = stem.split('-').next().unwrap().replace('_', ":");
        ours.entry(client).or_default()[i] = std::fs::read(&path).unwrap();
    }
    let mut compared = 0;
    for stream in 0.. {
        let Some((client, theirs)) = tshark_follow(capture, stream) else {
            break;
        };
        let mine = ours
            .get(&client)
            .unwrap_or_else(|| panic!("no stream for {client}: have {:?}", ours.keys()));
        assert!(
            mine[0] == theirs[0] && mine[1] == theirs[1],
            "stream {stream} ({client}) differs from tshark"
        );
        compared += 1;
    }
    assert_eq!(
        compared,
        ours.len(),
        "tshark and raftwire disagree on the number of connections"
    );
    assert_eq!(compared, 9);
}

#[test]
fn faults_in_a_generated_capture_are_reported_on_the_right_connection_and_offset() {
    for fault in ["bit-flip", "unknown-type", "interleave"] {
        let dir = tempfile::tempdir().unwrap();
        let pcap = dir.path().join("f.pcap");
        raftwire()
            .args(["gen", "--seed", "11", "--fault", fault, "--out"])
            .arg(&pcap)
            .assert()
            .success();
        let faults: Value = serde_json::from_slice(&std::fs::read(dir.path().join("f.faults.json")).unwrap()).unwrap();
        let f = &faults[0];
        let (code, r) = validate_json(&[pcap.to_str().unwrap()]);
        assert_eq!(code, 1);
        let conn = r["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client"] == f["client"] && c["server"] == f["server"])
            .unwrap();
        let d = &conn["directions"]["client_to_server"];
        let first = d["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["level"] == "MUST")
            .min_by_key(|v| v["offset"].as_u64())
            .unwrap();
        assert_eq!(
            (&first["code"], &first["offset"]),
            (&f["code"], &f["reported_at"]),
            "{fault}"
        );
        if fault == "interleave" {
            assert!(d["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["code"] == "interleaved_writers" && v["offset"] == f["injected_at"]));
        }
    }
}

#[test]
fn broken_captures_end_with_a_clear_error_never_a_hang() {
    let good = std::fs::read("samples/cluster.pcap").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "record-too-long.pcap",
            {
                let mut b = good[..40].to_vec();
                b[32..36].copy_from_slice(&0x7fff_ffffu32.to_le_bytes()); // first record's caplen
                b[36..40].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
                b
            },
            "larger than",
        ),
        (
            "link-type.pcap",
            {
                let mut b = good.clone();
                b[20..24].copy_from_slice(&147u32.to_le_bytes()); // LINKTYPE_USER0
                b
            },
            "unsupported link type 147",
        ),
        ("header-only.pcap", good[..24].to_vec(), "the capture holds no packets"),
    ];
    for (name, bytes, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = raftwire()
            .arg("validate")
            .arg(&path)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{name}: {err}");
    }
}

#[test]
fn port_filter_selects_connections_and_other_traffic_is_left_out() {
    let (code, r) = validate_json(&["--port", "7000", "samples/cluster.pcap"]);
    assert_eq!((code, r["summary"]["connections"].as_u64()), (0, Some(9)));
    assert_eq!(
        (&r["captures"][0]["file"], &r["captures"][0]["other_ports"]),
        (&"samples/cluster.pcap".into(), &0.into())
    );
    // One client's port: its connection alone, every other packet counted as left out.
    let (code, one) = validate_json(&["--port", "40006", "samples/cluster.pcap"]);
    assert_eq!((code, one["summary"]["connections"].as_u64()), (0, Some(1)));
    let left_out = one["captures"][0]["other_ports"].as_u64().unwrap();
    let packets = one["captures"][0]["packets"].as_u64().unwrap();
    assert!(left_out > 0 && left_out < packets, "{left_out} of {packets}");
    let (code, r) = validate_json(&["--port", "9999", "samples/cluster.pcap"]);
    assert_eq!(code, 2, "a filter that matches nothing must not pass silently: {r}");
}

/// pcapng damage (#13 item 8): a block length of 0 or 13 is named as such in a short message (it
/// was a 4.8 MB line holding the rest of the file), and an EPB whose captured length exceeds its
/// block is corruption, not a file cut short.
#[test]
fn corrupt_pcapng_blocks_give_short_exact_messages() {
    let good = std::fs::read("tests/fixtures/loopback-any.pcapng").unwrap();
    // The fourth block after the section header and interface description: an EPB.
    let mut at = 0;
    for _ in 0..4 {
        at += u32::from_le_bytes(good[at + 4..at + 8].try_into().unwrap()) as usize;
    }
    assert_eq!(u32::from_le_bytes(good[at..at + 4].try_into().unwrap()), 6, "an EPB");
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, usize, u32, String)> = vec![
        ("len0", 4, 0, format!("malformed capture at byte {at}: block length 0")),
        (
            "len13",
            4,
            13,
            format!("malformed capture at byte {at}: block length 13"),
        ),
        (
            "caplen",
            20,
            100_000,
            format!("malformed pcapng block at byte {at}: its fields claim more bytes than its length"),
        ),
    ];
    for (name, field, value, message) in cases {
        let mut bytes = good.clone();
        bytes[at + field..at + field + 4].copy_from_slice(&value.to_le_bytes());
        let path = dir.path().join(format!("{name}.pcapng"));
        std::fs::write(&path, bytes).unwrap();
        let out = raftwire().arg("validate").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&message), "{name}: {err}");
        assert!(
            err.len() < 400,
            "{name}: a message a person can read, not {} bytes",
            err.len()
        );
    }
}
