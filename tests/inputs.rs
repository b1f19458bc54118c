//! How inputs are read (#13 items 3, 5, 6, 10): each input is opened once and judged by its first
//! bytes, so standard input and FIFOs work; nothing to check is exit 2, never a pass; a file named
//! as a capture that is not one says what it starts with; a reader that goes away is no panic.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::raftwire;

const SAMPLE: &str = "samples/cluster.pcap";
const SAMPLE_VERDICT: &str = "CONFORMING: 9 connection(s), 226 frames";

/// Runs raftwire with `args`; returns the exit status, stdout and stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = raftwire().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn standard_input_is_read_like_a_file() {
    let capture = std::fs::read(SAMPLE).unwrap();
    let out = raftwire()
        .args(["validate", "-"])
        .write_stdin(capture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains(SAMPLE_VERDICT));
    // A raw stream on standard input too, and inspect.
    let stream = std::fs::read("samples/cluster/n1-n2.c2s.bin").unwrap();
    let out = raftwire()
        .args(["validate", "-"])
        .write_stdin(stream.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("27 frames"));
    let out = raftwire().args(["inspect", "-"]).write_stdin(stream).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 27);
}

/// A FIFO can be opened once: sniffing it and opening it again hung, and `<(…)` lost its first
/// bytes to the sniff (a false `bad_marker`).
#[cfg(unix)]
#[test]
fn a_fifo_is_sniffed_and_read_from_one_reader() {
    let dir = tempfile::tempdir().unwrap();
    for (name, source) in [("capture", SAMPLE), ("stream", "samples/cluster/n1-n2.c2s.bin")] {
        let fifo = dir.path().join(name);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let bytes = std::fs::read(source).unwrap();
        let path = fifo.clone();
        let writer = std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            // The reader may stop early on an error; that is for the assertions below to judge.
            let _ = f.write_all(&bytes);
        });
        let out = raftwire()
            .arg("validate")
            .arg(&fifo)
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        writer.join().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("CONFORMING") && !stdout.contains("bad_marker"),
            "{name}: {stdout}"
        );
    }
}

#[test]
fn nothing_to_check_exits_2_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let header_only = dir.path().join("header-only.pcap");
    std::fs::write(&header_only, &std::fs::read(SAMPLE).unwrap()[..24]).unwrap();
    let cases = [
        (empty.to_str().unwrap(), "empty: there is nothing to check"),
        ("/dev/null", "empty: there is nothing to check"),
        (header_only.to_str().unwrap(), "the capture holds no packets"),
    ];
    for (path, message) in cases {
        for cmd in ["validate", "inspect"] {
            let (code, stdout, stderr) = run(&[cmd, path]);
            assert_eq!(code, 2, "{cmd} {path}: {stdout}");
            let want = if cmd == "inspect" && path.ends_with(".pcap") {
                "no TCP connection with data"
            } else {
                message
            };
            assert!(
                stderr.contains(want.trim_end_matches(" to check")),
                "{cmd} {path}: {stderr}"
            );
        }
    }
}

#[test]
fn a_file_named_as_a_capture_that_is_not_one_exits_2_with_what_it_starts_with() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read(SAMPLE).unwrap();
    let mut gz = Vec::new();
    {
        // A minimal gzip member header is enough: the magic is what is judged.
        gz.extend_from_slice(&[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff]);
        gz.extend_from_slice(&sample[..64]);
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("cluster.pcap.gz", gz, "gzip-compressed (starts 1f 8b 08 00)"),
        (
            "random.pcap",
            (0..200u32).map(|i| (i * 37 + 11) as u8).collect(),
            "not a pcap or pcapng capture: it starts 0b 30 55 7a",
        ),
        ("three.pcapng", vec![1, 2, 3], "it starts 01 02 03 (3 byte(s) read)"),
        ("zstd.pcap", vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0], "zstd-compressed"),
    ];
    for (name, bytes, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        for cmd in ["validate", "inspect", "streams"] {
            let mut args = vec![cmd, path.to_str().unwrap()];
            if cmd == "streams" {
                args.extend(["--out", dir.path().to_str().unwrap()]);
            }
            let (code, _, stderr) = run(&args);
            assert_eq!(code, 2, "{cmd} {name}: {stderr}");
            let want = if cmd == "streams" && !message.contains("compressed") {
                "not a pcap or pcapng capture"
            } else {
                message
            };
            assert!(stderr.contains(want), "{cmd} {name}: {stderr}");
        }
    }
}

/// `validate … | head`: the reader goes away; raftwire must not panic ("failed printing to
/// stdout: Broken pipe") and its exit status still says what it found.
#[test]
fn a_closed_output_pipe_is_no_panic() {
    // Ten copies of the real capture: far more output than a pipe buffers.
    let capture = "../shared/captures/raft-1.7.3/cluster.pcap";
    let capture = if std::path::Path::new(capture).exists() {
        capture
    } else {
        "tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap"
    };
    for cmd in [&["validate", "--format", "json"][..], &["inspect"][..]] {
        let bin = assert_cmd::cargo::cargo_bin("raftwire");
        let mut child = std::process::Command::new(bin)
            .args(cmd)
            .args(std::iter::repeat_n(capture, if cmd[0] == "inspect" { 1 } else { 10 }))
            .arg(if cmd[0] == "inspect" { "--hex" } else { capture })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Quietly, and the exit status still says what was found (the capture conforms).
        assert!(stderr.trim().is_empty(), "{cmd:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {stderr}");
    }
}

/// Any other failure to write the output is an error (exit 2), not a report silently lost.
#[cfg(target_os = "linux")]
#[test]
fn an_output_that_cannot_be_written_is_an_error() {
    // inspect writes as it reads: small outputs are written only when it flushes at the end.
    for (cmd, input) in [
        ("validate", SAMPLE),
        ("inspect", SAMPLE),
        ("inspect", "samples/cluster/n1-n2.c2s.bin"),
    ] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("raftwire"))
            .args([cmd, input])
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd} {input}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("writing the output"),
            "{cmd} {input}"
        );
    }
}
