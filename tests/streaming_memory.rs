//! `gen` and `inspect` stream (#16): whatever the size of the traffic, peak RSS stays under
//! 64 MiB. Its own test binary, because the peak is read from the kernel for all children this
//! process has waited for (getrusage), and `tests/memory.rs` allows its children twice as much.

use std::path::Path;
use std::process::Command;

const LIMIT_KIB: i64 = 64 * 1024;

/// Peak RSS, in KiB, of the largest child this process has waited for.
fn children_peak_kib() -> i64 {
    // SAFETY: getrusage fills the struct we pass; it is plain data.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    }
}

fn raftwire() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("raftwire"))
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn gen_writes_a_large_capture_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.pcap");
    // About 60 MB of capture, with a fault: 90 MiB of peak RSS when gen held the traffic whole.
    let out = raftwire()
        .args([
            "gen",
            "--seed",
            "4",
            "--rounds",
            "3000",
            "--fault",
            "interleave",
            "--out",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        size(&path) > 55_000_000,
        "the capture is as large as intended: {}",
        size(&path)
    );
    let peak = children_peak_kib();
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB");
    // What was written is still the traffic with its fault, where the record says.
    let record = std::fs::read_to_string(dir.path().join("large.faults.json")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    let report = raftwire()
        .args(["validate", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let violations: Vec<&serde_json::Value> = report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["client"] == record[0]["client"])
        .flat_map(|c| c["directions"]["client_to_server"]["violations"].as_array().unwrap())
        .filter(|v| v["level"] == "MUST")
        .collect();
    assert_eq!(violations[0]["code"], record[0]["code"], "{violations:?}");
    assert_eq!(violations[0]["offset"], record[0]["reported_at"], "{violations:?}");
}
