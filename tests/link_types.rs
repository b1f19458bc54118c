//! Every supported link type gives the same verdict as Ethernet (#20: the fixtures only used
//! Ethernet and cooked v2, so wrong header offsets for the others passed every test). The real
//! tcpdump capture is rewritten with each link layer by this test (headers as libpcap's
//! LINKTYPE_* pages define them) and, where editcap is installed, by editcap; tshark, where
//! installed, confirms that each rewritten file holds the same TCP conversations, so a header
//! written wrong here cannot make the test pass.

mod common;

use std::path::Path;

use common::validate_json;
use serde_json::Value;

const SOURCE: &str = "tests/fixtures/loopback-tcpdump.pcap";

/// The records of a little-endian legacy pcap: (header 16 bytes, packet).
fn records(pcap: &[u8]) -> Vec<([u8; 16], Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let h: [u8; 16] = pcap[at..at + 16].try_into().unwrap();
        let caplen = u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize;
        out.push((h, pcap[at + 16..at + 16 + caplen].to_vec()));
        at += 16 + caplen;
    }
    out
}

/// The capture with each Ethernet header replaced by `link(ethertype)`, as link type `lt`.
fn relink(pcap: &[u8], lt: u32, link: impl Fn(u16) -> Vec<u8>) -> Vec<u8> {
    let mut out = pcap[..20].to_vec();
    out.extend_from_slice(&lt.to_le_bytes());
    for (mut h, p) in records(pcap) {
        let ethertype = u16::from_be_bytes([p[12], p[13]]);
        let packet = [link(ethertype), p[14..].to_vec()].concat();
        let delta = packet.len() as i64 - p.len() as i64;
        for field in [8..12, 12..16] {
            let v = u32::from_le_bytes(h[field.clone()].try_into().unwrap()) as i64 + delta;
            h[field].copy_from_slice(&(v as u32).to_le_bytes());
        }
        out.extend_from_slice(&h);
        out.extend_from_slice(&packet);
    }
    out
}

fn variants(pcap: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        // BSD loopback: the address family in the host's byte order (AF_INET = 2).
        ("null-0", relink(pcap, 0, |_| 2u32.to_le_bytes().to_vec())),
        // OpenBSD loopback: the address family in network byte order.
        ("loop-108", relink(pcap, 108, |_| 2u32.to_be_bytes().to_vec())),
        ("raw-101", relink(pcap, 101, |_| Vec::new())),
        ("ipv4-228", relink(pcap, 228, |_| Vec::new())),
        // Linux cooked v1: packet type, ARPHRD_LOOPBACK, address length, 8 address bytes, protocol.
        (
            "sll-113",
            relink(pcap, 113, |et| {
                let mut h = vec![0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
                h.extend_from_slice(&et.to_be_bytes());
                h
            }),
        ),
        // Linux cooked v2: protocol, reserved, interface index, ARPHRD, packet type, address.
        (
            "sll2-276",
            relink(pcap, 276, |et| {
                let mut h = et.to_be_bytes().to_vec();
                h.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
                h
            }),
        ),
    ]
}

/// What a report says about the connections, without the file name.
fn verdict(r: &Value) -> (Value, Value, Value) {
    (
        r["summary"].clone(),
        r["connections"].clone(),
        r["unchecked_connections"].clone(),
    )
}

/// TCP conversations as tshark sees them, or `None` without tshark.
fn tshark_streams(path: &Path) -> Option<String> {
    let out = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(path)
        .args(["-q", "-z", "conv,tcp"])
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("<->"))
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[test]
fn every_link_type_gives_the_verdict_ethernet_gives() {
    let pcap = std::fs::read(SOURCE).unwrap();
    assert_eq!(
        u32::from_le_bytes(pcap[20..24].try_into().unwrap()),
        1,
        "the source is Ethernet"
    );
    let (code, ethernet) = validate_json(&[SOURCE]);
    assert_eq!(code, 0);
    let reference = tshark_streams(Path::new(SOURCE));
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, bytes) in variants(&pcap) {
        let path = dir.path().join(format!("{name}.pcap"));
        std::fs::write(&path, bytes).unwrap();
        files.push((name.to_string(), path));
    }
    // A real tool's rewrite: editcap chops the Ethernet header and sets raw IP.
    let edited = dir.path().join("editcap-rawip.pcap");
    let editcap = std::process::Command::new("editcap")
        .args(["-C", "14", "-T", "rawip", SOURCE])
        .arg(&edited)
        .status();
    if editcap.is_ok_and(|s| s.success()) {
        files.push(("editcap-rawip".into(), edited));
    }
    for (name, path) in &files {
        if let Some(reference) = &reference {
            assert_eq!(
                tshark_streams(path).as_ref(),
                Some(reference),
                "{name}: tshark reads other conversations"
            );
        }
        let (code, r) = validate_json(&[path]);
        assert_eq!(code, 0, "{name}: {}", r["summary"]);
        assert_eq!(verdict(&r), verdict(&ethernet), "{name}");
    }
}
