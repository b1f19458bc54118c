//! `validate --jobs N`: connections are spread over threads, and the report must be exactly the
//! one a single thread gives, in the same order, for captures and for directories of raw streams.

mod common;

use common::raftwire;

/// The JSON report of `validate --jobs JOBS INPUT`, as printed, and the exit status.
fn report(input: &str, jobs: usize) -> (i32, String) {
    let out = raftwire()
        .args(["validate", "--format", "json", "--jobs", &jobs.to_string(), input])
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

fn connections(json: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["connections"].as_array().unwrap().len()
}

#[test]
fn reports_are_the_same_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = vec![
        // Real tcpdump captures: connections that open and close at different times.
        "tests/fixtures/loopback-tcpdump.pcap".to_string(),
        "tests/fixtures/loopback-any.pcapng".to_string(),
        // Real hashicorp/raft traffic.
        "tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap".to_string(),
        "samples/cluster.pcap".to_string(),
        // A directory of raw streams.
        "samples/cluster".to_string(),
    ];
    // Faults, so the reports carry violations with offsets, not just counts.
    for fault in ["bit-flip", "interleave", "unknown-type"] {
        let path = dir.path().join(format!("{fault}.pcap"));
        raftwire()
            .args(["gen", "--seed", "5", "--rounds", "40", "--fault", fault, "--out"])
            .arg(&path)
            .assert()
            .success();
        inputs.push(path.display().to_string());
    }
    for input in &inputs {
        let (code, one) = report(input, 1);
        assert!(code == 0 || code == 1, "{input}: exit {code}");
        assert!(connections(&one) > 1, "{input}: too few connections to spread");
        for jobs in [2, 3, 8] {
            let (c, many) = report(input, jobs);
            assert_eq!((c, &many), (code, &one), "{input}: --jobs {jobs} differs from --jobs 1");
        }
    }
}

#[test]
fn a_cut_or_broken_capture_ends_the_same_on_several_threads() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read("samples/cluster.pcap").unwrap();
    let cut = dir.path().join("cut.pcap");
    // Cut inside a record, well after the workers have started on earlier packets: the packets
    // before the cut are reported, the same for any number of threads.
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3 + 3]).unwrap();
    let mut reports = Vec::new();
    for jobs in ["1", "4"] {
        let out = raftwire()
            .args(["validate", "--jobs", jobs])
            .arg(&cut)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(matches!(out.status.code(), Some(1 | 3)), "--jobs {jobs}: {text}");
        assert!(text.contains("ends inside a packet record"), "--jobs {jobs}: {text}");
        reports.push((out.status.code(), text));
    }
    assert_eq!(reports[0], reports[1]);
    // A record claiming 2 GiB in the middle of the file: an error, with no thread left behind.
    let mut broken = whole.clone();
    let mut at = 24;
    for _ in 0..40 {
        at += 16 + u32::from_le_bytes(broken[at + 8..at + 12].try_into().unwrap()) as usize;
    }
    broken[at + 8..at + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    broken[at + 12..at + 16].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let path = dir.path().join("broken.pcap");
    std::fs::write(&path, broken).unwrap();
    for jobs in ["1", "4"] {
        let out = raftwire()
            .args(["validate", "--jobs", jobs])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--jobs {jobs}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("larger than 1 MiB"), "--jobs {jobs}: {err}");
    }
}

/// More connections than the cluster model keeps (30,000, in report order): the threads share one
/// bounded set of traces, and which ones it keeps, and so the model, is the same on any number of
/// threads. The last connections come from another host, so keeping the wrong ones would show.
#[test]
fn past_the_cluster_models_bound_the_kept_connections_do_not_depend_on_threads() {
    // 30,000 from two hosts, then 200 from a third.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.pcap");
    common::pcap::short_connections(&path, 30_200, |i| if i < 30_000 { 1 + (i % 2) as u8 } else { 3 });
    let input = path.display().to_string();
    let (code, one) = report(&input, 1);
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(code, 0, "{}", v["summary"]);
    let cluster = v["cluster"].to_string();
    assert!(cluster.contains("200 connection(s) past the first 30000"), "{cluster}");
    assert!(!cluster.contains("10.0.0.3"), "the model holds the first 30,000 only");
    for jobs in [2, 3] {
        let (c, many) = report(&input, jobs);
        assert_eq!((c, &many), (code, &one), "--jobs {jobs} differs from --jobs 1");
    }
}
