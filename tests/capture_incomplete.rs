//! Captures that lack bytes (#13 items 2 and 4): missing bytes are the capture's fault, never the
//! peer's. Packets cut at the snap length, a capture file cut short, a capture that ends while a
//! connection is mid-message: what was captured is checked, what depends on the missing bytes is
//! not judged (reported as information, `after_capture_gap`), and the summary says what was not
//! checked and why, with exit status 3 when nothing else was wrong.

mod common;

use std::path::Path;

use common::pcap::{Conn, Pcap};
use common::rfw::{request, response};
use common::{raftwire, validate_json};
use serde_json::Value;

/// Findings as (code, level).
fn findings(r: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in r["connections"].as_array().into_iter().flatten() {
        for d in ["client_to_server", "server_to_client"] {
            for v in c["directions"][d]["violations"].as_array().into_iter().flatten() {
                out.push((v["code"].as_str().unwrap().into(), v["level"].as_str().unwrap().into()));
            }
        }
    }
    out
}

fn must(r: &Value) -> Vec<String> {
    findings(r)
        .into_iter()
        .filter(|(_, l)| l == "MUST")
        .map(|(c, _)| c)
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_string()
}

/// A request cut at the snap length loses its bytes; its response is then unmatched. That is a
/// consequence of the capture, not a protocol violation: information, and exit 3 with the advice.
#[test]
fn packets_cut_at_the_snap_length_are_the_captures_fault_not_the_peers() {
    let dir = tempfile::tempdir().unwrap();
    // 14 + 20 + 20 header bytes, then 30 of the 43-byte request: the response (37 bytes) fits.
    let mut p = Pcap::new(54 + 40);
    p.conn(
        &Conn::new((1, 40000), (2, 7000))
            .c2s(request(1))
            .s2c(response(1))
            .c2s(request(2))
            .s2c(response(2)),
    );
    let path = write(dir.path(), "snap.pcap", &p.bytes());
    let (code, r) = validate_json(&[&path]);
    assert_eq!(code, 3, "{r}");
    assert!(must(&r).is_empty(), "{r}");
    let s = &r["summary"];
    assert_eq!(
        (s["verdict"].as_str(), s["complete"].as_bool()),
        (Some("incomplete"), Some(false))
    );
    assert_eq!(s["bytes_missing"], 6, "3 bytes of each request");
    assert_eq!(r["captures"][0]["truncated_packets"], 2);
    assert_eq!(r["captures"][0]["snap_length"], 94);
    let unmatched: Vec<_> = r["connections"][0]["directions"]["server_to_client"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["code"] == "unsolicited_response")
        .collect();
    assert_eq!(unmatched.len(), 2, "{r}");
    assert!(unmatched
        .iter()
        .all(|v| v["level"] == "INFO" && v["after_capture_gap"] == true));
    let out = raftwire().arg("validate").arg(&path).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("2 packet(s) cut at snap length 94") && text.contains("re-capture with `tcpdump -s 0`"),
        "{text}"
    );
    assert!(text.contains("INCOMPLETE"), "{text}");
}

/// What was captured whole is still judged: a corrupt frame before the cut fails the capture.
#[test]
fn a_violation_in_the_captured_bytes_still_fails_a_snapped_capture() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = request(1);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    // Whole packets up to one 43-byte request; two requests in one packet lose the second.
    let mut p = Pcap::new(54 + 43);
    p.conn(&Conn::new((1, 40000), (2, 7000)).s2c(response(9)).c2s(request(2)));
    p.conn(&Conn::new((1, 40001), (2, 7000)).c2s(bad));
    p.conn(&Conn::new((1, 40002), (2, 7000)).c2s([request(3), request(4)].concat()));
    let path = write(dir.path(), "mixed.pcap", &p.bytes());
    let (code, r) = validate_json(&[&path]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["captures"][0]["truncated_packets"], 1);
    assert_eq!(
        must(&r),
        ["unsolicited_response", "payload_crc_mismatch"],
        "what was captured whole is judged: {r}"
    );
}

/// tcpdump's own snap length, applied to a real tcpdump capture by editcap: no MUST finding at
/// any snap length, and each says what was cut.
#[test]
fn a_real_capture_cut_by_editcap_at_any_snap_length_blames_nothing_on_the_protocol() {
    if std::process::Command::new("editcap").arg("-h").output().is_err() {
        eprintln!("editcap not installed (Debian: tshark): skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for snap in [60, 96, 150, 300, 1000] {
        if snap == 60 {
            // Shorter than the headers (66 bytes with TCP timestamps): nothing is left to check.
            let out = dir.path().join("s60.pcap");
            std::process::Command::new("editcap")
                .args(["-s", "60", "tests/fixtures/loopback-tcpdump.pcap"])
                .arg(&out)
                .status()
                .unwrap();
            let run = raftwire().arg("validate").arg(&out).output().unwrap();
            assert_eq!(run.status.code(), Some(2));
            let err = String::from_utf8_lossy(&run.stderr);
            assert!(
                err.contains("cut at snap length 60") && err.contains("tcpdump -s 0"),
                "{err}"
            );
            // Every data packet lost its TCP header to the cut, and is counted so.
            assert!(!err.contains(", 0 too short for their headers"), "{err}");
            continue;
        }
        let out = dir.path().join(format!("s{snap}.pcap"));
        let made = std::process::Command::new("editcap")
            .args(["-s", &snap.to_string(), "tests/fixtures/loopback-tcpdump.pcap"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(made.success());
        let (code, r) = validate_json(&[&out]);
        assert_eq!(code, 3, "snap {snap}: {r}");
        assert!(must(&r).is_empty(), "snap {snap}: {:?}", must(&r));
        assert!(
            r["summary"]["not_checked"][0]
                .as_str()
                .unwrap()
                .contains("tcpdump -s 0"),
            "snap {snap}"
        );
    }
}

/// tcpdump killed mid-write: every packet before the cut is checked exactly as in a capture that
/// ends at the last whole record, and the report says where the file ends.
#[test]
fn a_capture_file_cut_short_reports_the_packets_before_the_cut() {
    let capture = std::fs::read("tests/fixtures/loopback-tcpdump.pcap").unwrap();
    // Record boundaries, from the pcap record headers.
    let mut bounds = vec![24usize];
    while let Some(&at) = bounds.last() {
        let Some(h) = capture.get(at + 8..at + 12) else { break };
        let next = at + 16 + u32::from_le_bytes(h.try_into().unwrap()) as usize;
        if next > capture.len() {
            break;
        }
        bounds.push(next);
    }
    let dir = tempfile::tempdir().unwrap();
    for k in [12, 40, bounds.len() / 2, bounds.len() - 2] {
        let whole = write(dir.path(), "whole.pcap", &capture[..bounds[k]]);
        let cut_at = bounds[k] + 1 + (bounds[k + 1] - bounds[k]) / 2;
        let cut = write(dir.path(), "cut.pcap", &capture[..cut_at]);
        let (whole_code, whole_r) = validate_json(&[&whole]);
        let (code, r) = validate_json(&[&cut]);
        assert_eq!(r["connections"], whole_r["connections"], "record {k}");
        assert_eq!(r["captures"][0]["file_truncated_at"], bounds[k], "record {k}");
        assert_eq!(r["summary"]["complete"], false);
        assert_eq!(code, if whole_code == 1 { 1 } else { 3 }, "record {k}: {r}");
        let out = raftwire().arg("validate").arg(&cut).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(&format!("ends inside a packet record at byte {}", bounds[k])),
            "{text}"
        );
    }
}

/// A connection still open when the capture ends, mid-frame: the frame's rest was never captured,
/// which is no fault of the peer. Closed by a FIN mid-frame, it is (FRAME-10).
#[test]
fn a_frame_cut_by_the_end_of_the_capture_is_information_and_cut_by_fin_a_violation() {
    let dir = tempfile::tempdir().unwrap();
    let mut open = Conn::new((1, 40000), (2, 7000))
        .c2s(request(1))
        .s2c(response(1))
        .c2s(request(2)[..20].to_vec());
    open.close = false;
    let mut p = Pcap::new(65535);
    p.conn(&open);
    let path = write(dir.path(), "open.pcap", &p.bytes());
    let (code, r) = validate_json(&[&path]);
    assert_eq!(code, 0, "{r}");
    assert!(
        findings(&r).contains(&("capture_ended_mid_message".into(), "INFO".into())),
        "{r}"
    );
    let mut closed = open.clone();
    closed.close = true;
    let mut p = Pcap::new(65535);
    p.conn(&closed);
    let path = write(dir.path(), "closed.pcap", &p.bytes());
    let (code, r) = validate_json(&[&path]);
    assert_eq!(code, 1);
    assert_eq!(must(&r), ["truncated_frame"]);
}

/// A request sent in two IP fragments is put back together and checked; with its second
/// fragment lost, the bytes it carries are missing, and the report says so (#13 item 9) rather
/// than pass the connection as if it were whole.
#[test]
fn ip_fragments_are_reassembled_or_reported_as_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Conn::new((1, 40000), (2, 7000)).s2c(response(1));
    c.close = false;
    let mut handshake_only = c.clone();
    handshake_only.writes.clear();
    let mut rest = c.clone();
    rest.handshake = false;
    let fragments = Pcap::fragments(c.client, c.server, Pcap::client_isn(&c), &request(1), 24);
    // The request goes as two fragments, before its response.
    let capture = |sent: &[Vec<u8>], answered: bool| {
        let mut p = Pcap::new(65535);
        p.conn(&handshake_only);
        for f in sent {
            p.frame(f);
        }
        if answered {
            p.conn(&rest);
        }
        p.bytes()
    };
    let path = write(dir.path(), "frag.pcap", &capture(&fragments, true));
    let (code, r) = validate_json(&[&path]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["summary"]["verdict"], "conforming");
    assert_eq!(
        (
            &r["captures"][0]["reassembled_fragments"],
            &r["captures"][0]["fragments"]
        ),
        (&2.into(), &0.into())
    );
    assert_eq!(r["connections"][0]["directions"]["client_to_server"]["frames"], 1);
    // The second fragment lost.
    let path = write(dir.path(), "lost.pcap", &capture(&fragments[..1], true));
    let (code, r) = validate_json(&[&path]);
    assert_eq!(r["captures"][0]["fragments"], 1, "{r}");
    assert_eq!(code, 3, "{r}");
    let why = r["summary"]["not_checked"].to_string();
    assert!(
        why.contains("1 IP fragment(s) could not be put together (1 because a fragment of its datagram never came"),
        "{why}"
    );
    assert_eq!(
        why.matches(" because ").count(),
        1,
        "only the reasons that occurred: {why}"
    );
    assert_eq!(
        r["captures"][0]["fragments_by_reason"],
        serde_json::json!({"missing": 1, "cut": 0, "disagreeing": 0, "malformed": 0, "bounds": 0})
    );
    // The connection is told where the lost segment began, and why it is lost.
    let conn = r["connections"][0].to_string();
    assert!(
        conn.contains("IP-fragmented and is not reassembled (a fragment of its datagram never came"),
        "{conn}"
    );
    // The response to the lost request is not blamed on the peer.
    let v = &r["connections"][0]["directions"]["server_to_client"]["violations"][0];
    assert_eq!(
        (v["code"].as_str(), v["level"].as_str()),
        (Some("unsolicited_response"), Some("INFO")),
        "{r}"
    );
    assert_eq!(v["after_capture_gap"], true);
    // Alone, the fragment leaves nothing to check: exit 2, saying why.
    let path = write(dir.path(), "frag-only.pcap", &capture(&fragments[..1], false));
    let out = raftwire().arg("validate").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 IP fragment(s), not reassembled"), "{err}");
}

/// A packet whose headers are broken but which the capture did not cut is malformed, not cut:
/// its count says so, and nothing is blamed on the snap length.
#[test]
fn a_malformed_packet_is_not_a_cut_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Pcap::new(65535);
    p.conn(&Conn::new((1, 40000), (2, 7000)).c2s(request(1)).s2c(response(1)));
    // Ethernet, IPv4 (20 bytes, TCP), then a TCP header claiming 60 bytes with 20 present.
    let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0];
    frame.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    frame.extend_from_slice(&[
        0x9c, 0x41, 0x1b, 0x58, 0, 0, 0, 1, 0, 0, 0, 0, 0xf0, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    p.frame(&frame);
    let path = write(dir.path(), "malformed.pcap", &p.bytes());
    let (code, r) = validate_json(&[&path]);
    assert_eq!(code, 0, "{r}");
    let c = &r["captures"][0];
    assert_eq!(
        (c["malformed"].as_u64(), c["truncated_packets"].as_u64()),
        (Some(1), Some(0)),
        "{c}"
    );
}
