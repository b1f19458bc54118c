//! A capture that dropped a connection's last packets (tcpdump's "packets dropped by kernel" on a
//! busy host) shows no hole in the stream itself: nothing after the lost bytes reveals them. The
//! receiver's acknowledgement numbers do. Found on a real busy hashicorp/raft capture, where the
//! end of an InstallSnapshot went missing and validate called the sender's stream truncated
//! (a MUST violation it never committed). Here real captures lose packets on purpose: the lost
//! bytes must be counted exactly, nothing judged from them, and the capture called incomplete,
//! never conforming and never the sender's fault.

mod common;

use std::net::SocketAddr;

use common::validate_json;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};

/// A legacy pcap's records: (record header, packet bytes).
fn records(pcap: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push((&pcap[at..at + 16], &pcap[at + 16..at + 16 + caplen]));
        at += 16 + caplen;
    }
    out
}

struct Tcp {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: Option<u32>,
    len: usize,
}

fn tcp(link_type: u32, packet: &[u8]) -> Option<Tcp> {
    let sliced = match link_type {
        1 => SlicedPacket::from_ethernet(packet).ok()?,
        // Linux cooked capture v1 (tcpdump -i lo on some systems) or raw IP.
        113 => SlicedPacket::from_ip(&packet[16..]).ok()?,
        _ => SlicedPacket::from_ip(packet).ok()?,
    };
    let (src, dst) = match sliced.net? {
        NetSlice::Ipv4(ip) => (ip.header().source_addr().into(), ip.header().destination_addr().into()),
        NetSlice::Ipv6(ip) => (ip.header().source_addr().into(), ip.header().destination_addr().into()),
        _ => return None,
    };
    let TransportSlice::Tcp(t) = sliced.transport? else {
        return None;
    };
    Some(Tcp {
        src: SocketAddr::new(src, t.source_port()),
        dst: SocketAddr::new(dst, t.destination_port()),
        seq: t.sequence_number(),
        ack: t.ack().then(|| t.acknowledgment_number()),
        len: t.payload().len(),
    })
}

/// The capture without the last `n` data packets the client sent on a connection (the one whose
/// client port is `port`, or else the one that carried the most client bytes), each acknowledged
/// later by the server; and how many bytes they held.
fn drop_acknowledged_tail(pcap: &[u8], n: usize, port: Option<u16>) -> (Vec<u8>, u64) {
    let link_type = u32::from_le_bytes(pcap[20..24].try_into().unwrap());
    let recs = records(pcap);
    let parsed: Vec<Option<Tcp>> = recs.iter().map(|(_, p)| tcp(link_type, p)).collect();
    let mut bytes: std::collections::HashMap<(SocketAddr, SocketAddr), usize> = Default::default();
    for t in parsed.iter().flatten() {
        *bytes.entry((t.src, t.dst)).or_default() += t.len;
    }
    // The busiest direction, taken as client to server.
    let (&(client, server), _) = bytes
        .iter()
        .filter(|(k, _)| port.is_none_or(|p| k.0.port() == p))
        .max_by_key(|(k, v)| (**v, k.0.port()))
        .unwrap();
    let data: Vec<usize> = (0..recs.len())
        .filter(|&i| {
            parsed[i]
                .as_ref()
                .is_some_and(|t| t.src == client && t.dst == server && t.len > 0)
        })
        .collect();
    let last = parsed[*data.last().unwrap()].as_ref().unwrap();
    let end = last.seq.wrapping_add(last.len as u32);
    let acked = parsed
        .iter()
        .flatten()
        .any(|t| t.src == server && t.dst == client && t.ack.is_some_and(|a| a.wrapping_sub(end) as i32 >= 0));
    assert!(acked, "the server acknowledges the client's last byte");
    let dropped: Vec<usize> = data[data.len() - n..].to_vec();
    let lost: u64 = dropped.iter().map(|&i| parsed[i].as_ref().unwrap().len as u64).sum();
    let mut out = pcap[..24].to_vec();
    for (i, (header, packet)) in recs.iter().enumerate() {
        if !dropped.contains(&i) {
            out.extend_from_slice(header);
            out.extend_from_slice(packet);
        }
    }
    (out, lost)
}

fn validate_without_tail(capture: &str, n: usize, port: Option<u16>) -> (i32, serde_json::Value, u64) {
    let (pcap, lost) = drop_acknowledged_tail(&std::fs::read(capture).unwrap(), n, port);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lost-tail.pcap");
    std::fs::write(&path, &pcap).unwrap();
    let (code, json) = validate_json(&[path.to_str().unwrap()]);
    (code, json, lost)
}

fn assert_incomplete_not_failed(code: i32, json: &serde_json::Value, lost: u64) {
    let s = &json["summary"];
    assert_eq!(s["violations"], 0, "nothing is blamed on the sender: {s}");
    assert_eq!(s["verdict"], "incomplete", "{s}");
    assert_eq!(s["bytes_missing"], lost, "the lost bytes counted exactly: {s}");
    assert_eq!(code, 3, "the exit status of an incomplete capture");
    let gaps: Vec<&serde_json::Value> = json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["directions"]["client_to_server"]["violations"].as_array().unwrap())
        .filter(|v| v["code"] == "capture_gap")
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(
        gaps[0]["message"].as_str().unwrap().contains("acknowledged"),
        "{gaps:?}"
    );
}

#[test]
fn a_real_hashicorp_capture_that_lost_its_last_packets_is_incomplete_not_truncated() {
    let fixture = "tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap";
    for n in [1, 2] {
        let (code, json, lost) = validate_without_tail(fixture, n, None);
        assert!(lost > 0);
        assert_incomplete_not_failed(code, &json, lost);
    }
    // The busy capture's case: the end of an InstallSnapshot's data (port 47418 carries one).
    let (code, json, lost) = validate_without_tail(fixture, 1, Some(47418));
    assert!(lost > 10_000, "{lost}");
    let judged: Vec<&serde_json::Value> = json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["directions"]["client_to_server"]["violations"].as_array().unwrap())
        .filter(|v| v["code"] == "hc_truncated")
        .collect();
    assert_eq!(judged.len(), 1, "the cut snapshot is noted: {judged:?}");
    assert_eq!(judged[0]["level"], "INFO", "not blamed on the sender: {judged:?}");
    assert_incomplete_not_failed(code, &json, lost);
}

#[test]
fn a_generated_rfw_capture_that_lost_its_last_packets_is_incomplete_not_truncated() {
    for n in [1, 3] {
        let (code, json, lost) = validate_without_tail("samples/cluster.pcap", n, None);
        assert!(lost > 0);
        assert_incomplete_not_failed(code, &json, lost);
    }
}

/// An acknowledgement number from a broken or hand-made capture (every test capture's constant
/// 1, or one far past anything sent) must not invent a hole.
#[test]
fn implausible_acknowledgements_invent_no_hole() {
    use common::pcap::{Conn, Pcap};
    let c = Conn::new((1, 40000), (2, 7000));
    let mut p = Pcap::new(65535);
    let mut f = p.open(&c);
    p.send(&mut f, true, &common::rfw::request(1));
    p.send(&mut f, false, &common::rfw::response(1));
    // The server acknowledges 200 MB the client never sent.
    let far = Pcap::client_isn(&c).wrapping_add(200_000_000);
    let mut ack = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 10, 0, 0, 2], [2, 0, 10, 0, 0, 1])
        .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
        .tcp(7000, 40000, 1, 65535)
        .ack(far)
        .write(&mut ack, &[])
        .unwrap();
    p.frame(&ack);
    p.end(&f, true, false).end(&f, false, false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.pcap");
    p.write(&path);
    let (code, json) = validate_json(&[path.to_str().unwrap()]);
    assert_eq!(json["summary"]["bytes_missing"], 0, "{json}");
    assert_eq!(code, 0, "{json}");
}
