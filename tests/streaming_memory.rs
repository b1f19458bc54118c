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

/// `raftwire gen ARGS --out PATH`, which must succeed.
fn gen(args: &[&str], path: &Path) {
    let made = raftwire()
        .arg("gen")
        .args(args)
        .arg("--out")
        .arg(path)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
}

/// `raftwire validate --format json PATH`'s report.
fn validate_json(path: &Path) -> serde_json::Value {
    let report = raftwire()
        .args(["validate", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&report.stdout).unwrap()
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn gen_writes_a_large_capture_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.pcap");
    // About 60 MB of capture, with a fault: 90 MiB of peak RSS when gen held the traffic whole.
    gen(&["--seed", "4", "--rounds", "3000", "--fault", "interleave"], &path);
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
    let report = validate_json(&path);
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

/// Runs `inspect` on `path`, returning its exit code and how many lines it printed and how many
/// of them carry `needle`.
fn inspect_lines(path: &Path, needle: &str) -> (Option<i32>, usize, usize) {
    let out = raftwire().arg("inspect").arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    (
        out.status.code(),
        text.lines().count(),
        text.lines().filter(|l| l.contains(needle)).count(),
    )
}

#[test]
fn inspect_prints_a_large_capture_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.pcap");
    gen(&["--seed", "9", "--rounds", "3000"], &path);
    // Every frame is listed: as many lines naming a frame type as validate counts frames.
    let (code, lines, frames) = inspect_lines(&path, " id=");
    assert_eq!(code, Some(0));
    let report = validate_json(&path);
    assert_eq!(
        frames as u64,
        report["summary"]["frames"].as_u64().unwrap(),
        "{lines} lines"
    );
    assert_eq!(lines, frames + 9, "a heading per connection and nothing else");
    let peak = children_peak_kib();
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB");
}

#[test]
fn inspect_prints_100_mb_of_zeros_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zeros.bin");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(100_000_000).unwrap();
    let (code, lines, errors) = inspect_lines(&path, "ERROR");
    assert_eq!(code, Some(0));
    assert!(
        errors >= 1 && lines < 10,
        "one error and the bytes skipped, not a line per chunk: {lines}"
    );
    let peak = children_peak_kib();
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB");
}

#[test]
fn streams_writes_a_large_capture_out_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.pcap");
    // About 100 MB: holding every stream whole took more than the limit.
    gen(&["--seed", "8", "--rounds", "5000"], &path);
    let out = dir.path().join("streams");
    let wrote = raftwire()
        .arg("streams")
        .arg("--out")
        .arg(&out)
        .arg(&path)
        .output()
        .unwrap();
    assert!(wrote.status.success(), "{}", String::from_utf8_lossy(&wrote.stderr));
    let peak = children_peak_kib();
    assert!(peak < LIMIT_KIB, "peak RSS {peak} KiB");
    // Every byte validate checks is written.
    let written: u64 = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let report = validate_json(&path);
    let checked: u64 = report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| ["client_to_server", "server_to_client"].map(|d| c["directions"][d]["bytes"].as_u64().unwrap()))
        .sum();
    assert_eq!(written, checked);
}
