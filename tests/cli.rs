//! End-to-end: the `raftwire` binary as an operator uses it.

mod common;

use common::{raftwire, validate_json};

use std::path::Path;

use serde_json::Value;

fn gen(dir: &Path, seed: u64, fault: Option<&str>) {
    let mut cmd = raftwire();
    cmd.args(["gen", "--seed", &seed.to_string(), "--out"]).arg(dir);
    if let Some(f) = fault {
        cmd.args(["--fault", f]);
    }
    cmd.assert().success();
}

#[test]
fn bundled_sample_conforms() {
    let out = raftwire().args(["validate", "samples/cluster"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("CONFORMING: 9 connection(s)"), "{text}");
    assert!(text.contains("InstallSnapshot 4"), "{text}");
}

#[test]
fn bundled_sample_is_what_gen_seed_1_writes() {
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), 1, None);
    let mut names: Vec<_> = std::fs::read_dir("samples/cluster")
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for n in names {
        let committed = std::fs::read(Path::new("samples/cluster").join(&n)).unwrap();
        let fresh = std::fs::read(dir.path().join(&n)).unwrap();
        assert!(committed == fresh, "{n:?} differs from `raftwire gen --seed 1`");
    }
}

#[test]
fn json_report_follows_the_documented_schema() {
    let (code, r) = validate_json(&["samples/cluster"]);
    assert_eq!(code, 0);
    let s = &r["summary"];
    assert_eq!(
        (
            s["conforming"].as_bool(),
            s["connections"].as_u64(),
            s["violations"].as_u64()
        ),
        (Some(true), Some(9), Some(0))
    );
    let frames: u64 = r["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["dialect"], "rfw");
            assert!(c["client"].as_str().unwrap().ends_with(".c2s.bin"));
            let d = &c["directions"];
            ["client_to_server", "server_to_client"]
                .iter()
                .map(|k| {
                    let dir = &d[k];
                    for key in ["bytes", "frames", "frames_by_type", "bytes_skipped", "violations"] {
                        assert!(!dir[key].is_null(), "{k}.{key} missing");
                    }
                    let by_type: u64 = dir["frames_by_type"]
                        .as_object()
                        .unwrap()
                        .values()
                        .map(|v| v.as_u64().unwrap())
                        .sum();
                    assert_eq!(by_type, dir["frames"].as_u64().unwrap());
                    by_type
                })
                .sum::<u64>()
        })
        .sum();
    assert_eq!(frames, s["frames"].as_u64().unwrap());
}

/// For every injected fault: the first violation in the faulty direction is the recorded code at
/// the recorded offset, and every frame after it is still checked and counted.
#[test]
fn each_injected_fault_is_reported_at_its_offset_and_checking_continues() {
    let clean = tempfile::tempdir().unwrap();
    gen(clean.path(), 5, None);
    let (_, clean_report) = validate_json(&[clean.path().as_os_str()]);
    for fault in ["bit-flip", "unknown-type", "interleave"] {
        let dir = tempfile::tempdir().unwrap();
        gen(dir.path(), 5, Some(fault));
        let faults: Value = serde_json::from_slice(&std::fs::read(dir.path().join("faults.json")).unwrap()).unwrap();
        let f = &faults[0];
        let (code, r) = validate_json(&[dir.path().as_os_str()]);
        assert_eq!(code, 1, "{fault}");
        let conn = r["connections"]
            .as_array()
            .unwrap()
            .iter()
            .position(|c| {
                c["client"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{}.c2s.bin", f["connection"].as_str().unwrap()))
            })
            .unwrap();
        let dir_report = &r["connections"][conn]["directions"][f["direction"].as_str().unwrap()];
        let first = dir_report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["level"] == "MUST")
            .min_by_key(|v| v["offset"].as_u64())
            .unwrap()
            .clone();
        assert_eq!(first["code"], f["code"], "{fault}: {first}");
        assert_eq!(first["offset"], f["reported_at"], "{fault}: {first}");
        // Only the damaged frame is lost: the rest of the connection is still decoded.
        let clean_frames = clean_report["connections"][conn]["directions"]["client_to_server"]["frames"]
            .as_u64()
            .unwrap();
        assert_eq!(dir_report["frames"].as_u64().unwrap(), clean_frames - 1, "{fault}");
        assert!(dir_report["bytes_skipped"].as_u64().unwrap() > 0);
        if fault == "interleave" {
            let diagnosis = dir_report["violations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["code"] == "interleaved_writers");
            let diagnosis = diagnosis.unwrap_or_else(|| panic!("no interleave diagnosis: {dir_report}"));
            assert_eq!(
                diagnosis["offset"], f["injected_at"],
                "the diagnosis names where the other writer's bytes begin"
            );
            assert_eq!(diagnosis["level"], "INFO");
        }
    }
}

#[test]
fn a_single_response_stream_is_read_as_server_to_client() {
    let (code, r) = validate_json(&["samples/cluster/n1-n2.s2c.bin"]);
    assert_eq!(code, 0, "{r}");
    let c = &r["connections"][0];
    assert_eq!(c["client"], "");
    assert!(c["directions"]["server_to_client"]["frames"].as_u64().unwrap() > 0);
}

#[test]
fn unreadable_inputs_exit_2_with_a_message() {
    let empty = tempfile::tempdir().unwrap();
    for args in [
        vec!["validate", "/no/such/file"],
        vec!["validate", empty.path().to_str().unwrap()],
        vec!["validate"],
    ] {
        let out = raftwire().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn garbage_is_a_violation_and_an_empty_file_is_nothing_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let (code, r) = validate_json(&[junk.as_os_str()]);
    assert_eq!(code, 1);
    let v = &r["connections"][0]["directions"]["client_to_server"]["violations"][0];
    assert_eq!(
        (v["code"].as_str(), v["offset"].as_u64()),
        (Some("bad_marker"), Some(0))
    );
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let out = raftwire().arg("validate").arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "nothing to check is not a pass");
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty: there is nothing to check"));
}

#[test]
fn junit_report_has_a_case_per_direction_failing_where_violations_are() {
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), 2, Some("bit-flip"));
    let out = raftwire()
        .args(["validate", "--format", "junit"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    assert_eq!(xml.matches("<testcase name=\"client_to_server\"").count(), 9, "{xml}");
    assert_eq!(
        xml.matches("<failure").count(),
        2,
        "the corrupt request and its now-unsolicited response: {xml}"
    );
    assert!(xml.contains("payload_crc_mismatch"), "{xml}");
}

#[test]
fn inspect_dissects_frames_and_shows_errors_with_hex() {
    let out = raftwire()
        .args(["inspect", "samples/cluster/n1-n4-snapshot.c2s.bin"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].contains("InstallSnapshot") && lines[0].contains("chunk=0+") && lines[3].ends_with("done"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("i.pcap");
    raftwire()
        .args(["gen", "--seed", "3", "--fault", "interleave", "--out"])
        .arg(&pcap)
        .assert()
        .success();
    let out = raftwire().args(["inspect", "--hex"]).arg(&pcap).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("connection ").count(), 9);
    assert!(
        text.contains("ERROR byte") && text.contains("payload_crc_mismatch") && text.contains("interleaved writers"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains('[') && l.contains('|')),
        "hex excerpt: {text}"
    );
}

/// Past 1000 violations a direction lists no more, but every one still counts: in the summary,
/// the exit status, the direction's `omitted_*` counts and the text report.
#[test]
fn violations_past_the_listing_cap_still_count() {
    let sample = std::fs::read("samples/cluster/n2-n1.c2s.bin").unwrap();
    let first_len = 24 + u32::from_be_bytes(sample[16..20].try_into().unwrap()) as usize + 4;
    let mut bad = sample[..first_len].to_vec();
    // A payload byte: the header still verifies, so each copy is skipped alone and the next
    // one is found at its boundary marker.
    bad[30] ^= 0x01;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.c2s.bin");
    std::fs::write(&path, bad.repeat(1500)).unwrap();
    let (code, r) = validate_json(&[&path]);
    assert_eq!(code, 1);
    let d = &r["connections"][0]["directions"]["client_to_server"];
    assert_eq!(d["violations"].as_array().unwrap().len(), 1000);
    assert_eq!(
        (d["violations_omitted"].as_u64(), d["omitted_must"].as_u64()),
        (Some(500), Some(500))
    );
    assert_eq!(r["summary"]["violations"], 1500);
    let text = raftwire().arg("validate").arg(&path).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("500 more violation(s) not listed (500 MUST, 0 SHOULD)"),
        "{text}"
    );
    assert!(text.contains("1500 violation(s)"), "{text}");
}

/// A violation line says each thing once, in one base (#13 item 15): a payload CRC mismatch is
/// reported at the CRC field and also names where its frame began (`frame_offset`), and counts
/// and lengths are decimal.
#[test]
fn violation_lines_name_the_frame_and_say_each_thing_once() {
    let sample = std::fs::read("samples/cluster/n2-n1.c2s.bin").unwrap();
    let first_len = 24 + u32::from_be_bytes(sample[16..20].try_into().unwrap()) as usize + 4;
    let second_len = 24 + u32::from_be_bytes(sample[first_len + 16..first_len + 20].try_into().unwrap()) as usize + 4;
    let end = first_len + second_len;
    let mut bad = sample[..end].to_vec();
    bad[first_len + 30] ^= 0x01; // a payload byte of the second frame
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.c2s.bin");
    std::fs::write(&path, &bad).unwrap();
    let (code, r) = validate_json(&[&path]);
    assert_eq!(code, 1);
    let v = &r["connections"][0]["directions"]["client_to_server"]["violations"][0];
    assert_eq!(v["code"], "payload_crc_mismatch");
    assert_eq!(v["offset"].as_u64(), Some((end - 4) as u64), "at the CRC field");
    assert_eq!(
        v["frame_offset"].as_u64(),
        Some(first_len as u64),
        "where the frame began"
    );
    let m = v["message"].as_str().unwrap();
    assert!(
        m.starts_with(&format!("payload_crc of the frame at {first_len}: found 0x")),
        "{m}"
    );
    let text = raftwire().arg("validate").arg(&path).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    let line = text.lines().find(|l| l.contains("FAIL")).unwrap();
    assert_eq!(line.matches("payload_crc_mismatch").count(), 1, "{line}");
    assert!(!line.contains("byte "), "{line}");

    // A frame cut short: lengths in decimal.
    std::fs::write(&path, &sample[..10]).unwrap();
    let (_, r) = validate_json(&[&path]);
    let m = r["connections"][0]["directions"]["client_to_server"]["violations"][0]["message"].to_string();
    assert!(m.contains("found 10, expected at least 24"), "{m}");
    let text = raftwire().arg("validate").arg(&path).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("0 frames,") && !text.contains("1 frames"), "{text}");
}

/// `gen` says where the fault record went, and refuses a capture format it does not write rather
/// than make a directory of that name (#13 item 16).
#[test]
fn gen_names_its_fault_record_and_refuses_formats_it_does_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("f.pcap");
    let out = raftwire()
        .args(["gen", "--seed", "2", "--fault", "bit-flip", "--out"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    let record = dir.path().join("f.faults.json");
    assert!(err.contains(&record.display().to_string()), "{err}");
    assert!(record.exists());
    let ng = dir.path().join("x.pcapng");
    let out = raftwire().args(["gen", "--out"]).arg(&ng).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!ng.exists(), "no directory named like a capture");
    assert!(String::from_utf8_lossy(&out.stderr).contains("editcap -F pcapng"));
}

/// `--strict` counts SHOULD violations as failures (#20: no test passed `--strict`). 129
/// pipelined requests break STREAM-5's SHOULD (at most 128 in flight), nothing else.
#[test]
fn strict_fails_should_violations_and_the_default_does_not() {
    use bytes::BytesMut;
    use raftwire_codec::{encode, Frame, Id, Message, TimeoutNowRequest};
    let mut c2s = BytesMut::new();
    for id in 1..=129u64 {
        let m = Message::TimeoutNow(TimeoutNowRequest {
            term: 3,
            leader_id: Id::try_from("n1").unwrap(),
        });
        encode(&Frame::new(id, m), &mut c2s).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.c2s.bin"), &c2s).unwrap();
    std::fs::write(dir.path().join("p.s2c.bin"), b"").unwrap();
    let input = dir.path().to_str().unwrap();
    let (code, r) = validate_json(&[input]);
    assert_eq!(code, 0, "{r}");
    let should: Vec<_> = r["connections"][0]["directions"]["client_to_server"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["level"] == "SHOULD")
        .collect();
    assert_eq!(should.len(), 1, "{r}");
    assert_eq!(should[0]["requirement"], "STREAM-5");
    assert_eq!(r["summary"]["violations"], 0);
    let (code, r) = validate_json(&["--strict", input]);
    assert_eq!(code, 1);
    assert_eq!(r["summary"]["violations"], 1);
    assert_eq!(r["summary"]["conforming"], false);
    let text = |strict: bool| {
        let mut c = raftwire();
        c.arg("validate");
        if strict {
            c.arg("--strict");
        }
        String::from_utf8(c.arg(input).output().unwrap().stdout).unwrap()
    };
    assert!(text(false).contains("NON-STRICT") && text(false).contains("CONFORMING"));
    assert!(text(true).contains("FAIL") && text(true).contains("NOT CONFORMING"));
    let junit = |strict: bool| {
        let mut c = raftwire();
        c.args(["validate", "--format", "junit"]);
        if strict {
            c.arg("--strict");
        }
        String::from_utf8(c.arg(input).output().unwrap().stdout).unwrap()
    };
    assert_eq!(junit(false).matches("<failure").count(), 0);
    assert_eq!(junit(true).matches("<failure").count(), 1);
}
