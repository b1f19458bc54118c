//! `raftwire conformance` as an implementer runs it, against the built-in codec and against
//! external decoders through the `--decoder-cmd` contract.

mod common;

use common::raftwire;

fn bin() -> String {
    assert_cmd::cargo::cargo_bin("raftwire").display().to_string()
}

fn run(args: &[&str]) -> (i32, String) {
    let out = raftwire().arg("conformance").args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn built_in_codec_passes_every_vector_grouped_by_requirement() {
    let (code, out) = run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("FRAME-8 [MUST]") && out.contains("STREAM-8 [SHOULD]"),
        "{out}"
    );
    assert!(out.contains(" 0 failed"), "{out}");
}

#[test]
fn the_reference_external_decoder_passes_all_frame_vectors_and_skips_stream_vectors() {
    let cmd = format!("{} decode", bin());
    let (code, out) = run(&["--decoder-cmd", &cmd]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("SKIP stream_1_accept"), "{out}");
    assert!(out.contains(" 0 failed"), "{out}");
}

#[test]
fn a_decoder_that_accepts_everything_fails_the_reject_vectors() {
    let (code, out) = run(&[
        "--decoder-cmd",
        r#"cat >/dev/null; echo '{"verdict":"accept","frames":[]}'"#,
        "--filter",
        "FRAME-8",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL frame_8_reject_payload_crc: expected reject payload_crc_mismatch"),
        "{out}"
    );
}

#[test]
fn broken_decoders_are_failures_with_a_reason() {
    for (cmd, reason) in [
        ("cat >/dev/null; echo not json", "unreadable verdict"),
        ("cat >/dev/null; exit 3", "exited with status 3"),
        ("cat >/dev/null", "printed no verdict"),
        ("sleep 5", "did not finish"),
    ] {
        let (code, out) = run(&[
            "--decoder-cmd",
            cmd,
            "--filter",
            "frame_8_reject_payload_crc",
            "--timeout",
            "1",
        ]);
        assert_eq!(code, 1, "{cmd}: {out}");
        assert!(out.contains(reason), "{cmd}: {out}");
    }
}

#[test]
fn a_filter_that_matches_nothing_or_runs_nothing_exits_2() {
    let (code, out) = run(&["--filter", "NOPE-1"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no vector matched"), "{out}");
    let cmd = format!("{} decode", bin());
    let (code, out) = run(&["--decoder-cmd", &cmd, "--filter", "STREAM"]);
    assert_eq!(code, 2, "all selected vectors skipped: {out}");
}

#[test]
fn a_baseline_tolerates_known_failures_but_not_regressions() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let lax = r#"cat >/dev/null; echo '{"verdict":"accept","frames":[]}'"#;
    let (code, _) = run(&[
        "--decoder-cmd",
        lax,
        "--filter",
        "FRAME-8",
        "--write-baseline",
        base.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let (code, out) = run(&[
        "--decoder-cmd",
        lax,
        "--filter",
        "FRAME-8",
        "--baseline",
        base.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "known failures only: {out}");
    let (code, out) = run(&[
        "--decoder-cmd",
        lax,
        "--filter",
        "FRAME-8",
        "--filter",
        "FRAME-3",
        "--baseline",
        base.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "FRAME-3 failures are new: {out}");
    assert!(out.contains("(regression)"), "{out}");
}

#[test]
fn json_and_junit_reports() {
    let out = raftwire()
        .args(["conformance", "--format", "json", "--filter", "AE-2"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["results"].as_array().unwrap().len() >= 2);
    assert_eq!(v["results"][0]["requirement"], "AE-2");
    assert_eq!(v["results"][0]["grade"], "pass");
    let out = raftwire()
        .args(["conformance", "--format", "junit", "--filter", "AE-2"])
        .output()
        .unwrap();
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(
        xml.contains("<testsuite name=\"AE-2\"") && xml.contains("<testcase name=\"ae_2_reject_entry_index_gap\""),
        "{xml}"
    );
}

/// A second implementation written from SPEC.md alone (Python, standard library only) passes every
/// frame vector: the spec is precise enough to build a byte-compatible decoder from.
#[test]
fn an_independent_python_decoder_written_from_the_spec_passes_every_frame_vector() {
    let (code, out) = run(&["--decoder-cmd", "python3 conformance/examples/rfw_decode.py"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 failed") && !out.contains("FAIL"), "{out}");
}

/// The vectors are built in (#13 item 11): an installed raftwire runs them from any directory,
/// and `--vectors DIR` still reads a directory.
#[test]
fn vectors_are_built_in_and_run_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out = raftwire()
        .arg("conformance")
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::fs::canonicalize("conformance/vectors").unwrap();
    let (code, from_dir) = run(&["--vectors", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        text.lines().last(),
        from_dir.lines().find(|l| l.starts_with("conformance:")),
        "the built-in set is the committed one"
    );
}

/// The decoder runner (#13 item 12): a decoder must exit 0; one that overruns is killed with
/// everything it started; a chatty one is not mistaken for a hung one; one that cannot be run
/// makes the run unusable (exit 2), as do a zero timeout and an empty command.
#[test]
fn the_decoder_runner_judges_exit_status_kills_process_groups_and_drains_pipes() {
    let decode = format!("{} decode", bin());
    let only = ["--filter", "FRAME-8"];
    let with = |cmd: &str, extra: &[&str]| {
        let mut args = vec!["--decoder-cmd", cmd];
        args.extend_from_slice(&only);
        args.extend_from_slice(extra);
        run(&args)
    };
    // Right verdict, wrong exit status.
    let (code, out) = with(&format!("{decode}; exit 3"), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("decoder exited with status 3"), "{out}");
    // Killed by a signal.
    let (code, out) = with("kill -9 $$", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("killed by signal 9"), "{out}");
    // 70 kB on stderr before the verdict: a full pipe must not look like a hang.
    let (code, out) = with(&format!("head -c 70000 /dev/zero >&2; {decode}"), &["--timeout", "20"]);
    assert_eq!(code, 0, "{out}");
    // A decoder that starts a child and hangs: both are gone after the run.
    let marker = "31.4159";
    let started = std::time::Instant::now();
    let (code, out) = with(&format!("sh -c 'sleep {marker}'"), &["--timeout", "0.2"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("did not finish within 200ms"), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let left = std::process::Command::new("pgrep")
        .args(["-f", &format!("sleep {marker}")])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    // Cannot be run at all.
    let (code, out) = with("./no-such-decoder", &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("could not run the decoder"), "{out}");
    for bad in [vec!["--decoder-cmd", " "], vec!["--timeout", "0"]] {
        let (code, out) = run(&bad);
        assert_eq!(code, 2, "{bad:?}: {out}");
    }
}

/// When only `frames_before` differs, the failure says so (#13 item 13).
#[test]
fn a_wrong_frames_before_is_named_as_such() {
    let cmd = format!(r#"{} decode | sed 's/"frames_before":0/"frames_before":5/'"#, bin());
    let (code, out) = run(&["--decoder-cmd", &cmd, "--filter", "frame_8_reject_payload_crc"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("with frames_before 0, got frames_before 5"), "{out}");
}
