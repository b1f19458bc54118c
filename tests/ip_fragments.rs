//! IP-fragmented TCP, from a real capture: the sample streams replayed between two network
//! namespaces through a router whose outgoing link has an MTU of 600 (the sender's path MTU
//! discovery off), captured by tcpdump on the receiving host before the kernel reassembled
//! anything (`tests/fixtures/fragmented/regen.sh`). Every client segment of more than 576 bytes
//! arrives in two or three fragments.
//!
//! The oracle is what was sent: the sample stream files. The capture, put back together, must
//! carry exactly their bytes and be CONFORMING; with a fragment lost, or two copies of one that
//! disagree, exactly that datagram's bytes are missing and the capture is INCOMPLETE, never
//! conforming and never a violation.

mod common;

use std::collections::HashMap;

use common::{raftwire, validate_json};
use serde_json::Value;

const CAPTURE: &str = "tests/fixtures/fragmented/cluster-mtu600.pcap";

/// What `raftwire inspect` prints for a capture.
fn inspect(path: &std::path::Path) -> String {
    let out = raftwire().arg("inspect").arg(path).output().unwrap();
    assert!(out.status.success() || out.status.code() == Some(3), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A pcap record: its 16-byte header and its packet.
type Record = (Vec<u8>, Vec<u8>);

/// A legacy pcap: its 24-byte header and its records.
fn records(pcap: &[u8]) -> (Vec<u8>, Vec<Record>) {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push((pcap[at..at + 16].to_vec(), pcap[at + 16..at + 16 + caplen].to_vec()));
        at += 16 + caplen;
    }
    (pcap[..24].to_vec(), out)
}

fn write(header: &[u8], recs: &[Record]) -> tempfile::NamedTempFile {
    let mut bytes = header.to_vec();
    for (h, p) in recs {
        bytes.extend_from_slice(h);
        bytes.extend_from_slice(p);
    }
    let f = tempfile::Builder::new().suffix(".pcap").tempfile().unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    f
}

/// An IPv4 fragment in an Ethernet frame, read from its header alone: (datagram key, offset in
/// bytes, more fragments).
fn fragment(packet: &[u8]) -> Option<((Vec<u8>, u16), usize, bool)> {
    if packet.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = packet.get(14..34)?;
    let flags = u16::from_be_bytes([ip[6], ip[7]]);
    let (more, offset) = (flags & 0x2000 != 0, usize::from(flags & 0x1fff) * 8);
    let id = u16::from_be_bytes([ip[4], ip[5]]);
    (more || offset > 0).then(|| ((ip[12..20].to_vec(), id), offset, more))
}

/// The fragments of each datagram, by record index, in capture order.
fn datagrams(recs: &[Record]) -> Vec<Vec<usize>> {
    let mut by_key: HashMap<(Vec<u8>, u16), usize> = HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, (_, p)) in recs.iter().enumerate() {
        if let Some((key, _, _)) = fragment(p) {
            let n = *by_key.entry(key).or_insert_with(|| {
                out.push(Vec::new());
                out.len() - 1
            });
            out[n].push(i);
        }
    }
    out
}

/// The fixture's records, how many are fragments, and the first datagram cut in three (the
/// record indexes of its fragments).
struct Fixture {
    header: Vec<u8>,
    recs: Vec<Record>,
    fragments: usize,
    victim: Vec<usize>,
}

fn fixture() -> Fixture {
    let (header, recs) = records(&std::fs::read(CAPTURE).unwrap());
    let datagrams = datagrams(&recs);
    let fragments = datagrams.iter().map(Vec::len).sum();
    let victim = datagrams
        .into_iter()
        .find(|d| d.len() == 3)
        .expect("a three-fragment datagram");
    Fixture {
        header,
        recs,
        fragments,
        victim,
    }
}

/// The connections of a directory of stream files (`NAME.c2s.bin` + `NAME.s2c.bin`): their
/// names, sorted.
fn pairs(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .into_string()
                .ok()?
                .strip_suffix(".c2s.bin")
                .map(String::from)
        })
        .collect();
    names.sort();
    names
}

fn capture_stats(report: &Value) -> (u64, u64) {
    let c = &report["captures"][0];
    (
        c["reassembled_fragments"].as_u64().unwrap(),
        c["fragments"].as_u64().unwrap(),
    )
}

/// Each connection's (client-to-server, server-to-client) byte counts, in capture order.
fn bytes_per_connection(report: &Value) -> Vec<(u64, u64)> {
    report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let d = &c["directions"];
            (
                d["client_to_server"]["bytes"].as_u64().unwrap(),
                d["server_to_client"]["bytes"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_fragmented_capture_is_put_back_together_and_carries_exactly_what_was_sent() {
    let (_, recs) = records(&std::fs::read(CAPTURE).unwrap());
    let datagrams = datagrams(&recs);
    let fragments: usize = datagrams.iter().map(Vec::len).sum();
    assert!(
        datagrams.len() > 200 && fragments > 2 * datagrams.len(),
        "the fixture is fragmented"
    );

    let (code, report) = validate_json(&[CAPTURE]);
    assert_eq!(code, 0, "{}", report["summary"]);
    assert_eq!(report["summary"]["verdict"], "conforming", "{}", report["summary"]);
    assert_eq!(report["summary"]["complete"], true);
    assert_eq!(
        capture_stats(&report),
        (fragments as u64, 0),
        "every fragment reassembled"
    );
    // What was sent: the sample streams, replayed in name order, one connection each.
    let names = pairs("samples/cluster".as_ref());
    let sent: Vec<(u64, u64)> = names
        .iter()
        .map(|n| {
            let size = |dir: &str| {
                std::fs::metadata(format!("samples/cluster/{n}.{dir}.bin"))
                    .unwrap()
                    .len()
            };
            (size("c2s"), size("s2c"))
        })
        .collect();
    assert_eq!(bytes_per_connection(&report), sent);
    assert_eq!(report["summary"]["frames"], 226, "as samples/cluster.pcap");
}

#[test]
fn a_lost_fragment_leaves_exactly_its_datagram_unchecked() {
    let Fixture {
        header,
        recs,
        fragments,
        victim,
    } = fixture();
    // The middle fragment of a three-fragment datagram.
    let lost = recs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim[1])
        .map(|(_, r)| r.clone())
        .collect::<Vec<_>>();
    let f = write(&header, &lost);
    let (code, report) = validate_json(&[f.path()]);
    assert_eq!(report["summary"]["verdict"], "incomplete", "{}", report["summary"]);
    assert_eq!(
        report["summary"]["violations"], 0,
        "a capture's loss is nobody's violation"
    );
    assert_eq!(code, 3, "incomplete");
    assert_eq!(
        capture_stats(&report),
        ((fragments - 3) as u64, 2),
        "the datagram's two fragments left, given up; every other reassembled"
    );
    // Exactly the datagram's TCP payload is missing: its IP payload less the TCP header (its
    // first fragment's bytes 32..33 give the TCP header's length).
    let first = &recs[victim[0]].1;
    let tcp_header = usize::from(first[14 + 20 + 12] >> 4) * 4;
    let ip_payload: usize = victim.iter().map(|&i| recs[i].1.len() - 14 - 20).sum();
    assert_eq!(
        report["summary"]["bytes_missing"].as_u64().unwrap() as usize,
        ip_payload - tcp_header
    );
    let why = report["summary"]["not_checked"].to_string();
    assert!(why.contains("2 IP fragment(s) could not be put together"), "{why}");
    // The datagram was given up when the capture ended, after its connection had closed: no
    // connection is made up for its marker.
    assert_eq!(report["connections"].as_array().unwrap().len(), 9);
    assert_eq!(
        report["unchecked_connections"],
        validate_json(&[CAPTURE]).1["unchecked_connections"]
    );
}

#[test]
fn fragments_that_disagree_are_not_guessed_between_and_repeats_that_agree_are_fine() {
    let Fixture {
        header,
        recs,
        fragments,
        victim,
    } = fixture();
    let with_copy = |flip: bool| {
        let mut out = recs.clone();
        let mut copy = recs[victim[1]].clone();
        if flip {
            // A byte of the payload, not of the headers: the IP checksum stays right.
            let last = copy.1.len() - 1;
            copy.1[last] ^= 0xff;
        }
        out.insert(victim[1] + 1, copy);
        write(&header, &out)
    };
    // The same fragment twice (a duplicate on the path): reassembled as before.
    let f = with_copy(false);
    let (_, report) = validate_json(&[f.path()]);
    assert_eq!(report["summary"]["verdict"], "conforming", "{}", report["summary"]);
    assert_eq!(capture_stats(&report), ((fragments + 1) as u64, 0));
    // A second copy with other bytes: which one the receiver kept is unknown, so the datagram is
    // given up, whichever copy is right. Its remaining fragment arrives after, alone.
    let f = with_copy(true);
    let (_, report) = validate_json(&[f.path()]);
    assert_eq!(report["summary"]["verdict"], "incomplete", "{}", report["summary"]);
    assert_eq!(report["summary"]["violations"], 0);
    assert_eq!(capture_stats(&report), ((fragments - 3) as u64, 4));
    // Three given up at the copy that disagrees; the last, arriving alone after, never completes.
    let by_reason = &report["captures"][0]["fragments_by_reason"];
    assert_eq!(
        (&by_reason["disagreeing"], &by_reason["missing"]),
        (&3.into(), &1.into())
    );
    let why = report["summary"]["not_checked"].to_string();
    assert!(
        why.contains("3 because two fragments carry different bytes for the same part of the datagram"),
        "{why}"
    );
    // Given up in the middle of its connection, which says why its bytes are missing.
    let notes = report["connections"].to_string();
    assert!(
        notes.contains("is not reassembled (two fragments carry different bytes"),
        "{notes}"
    );
    // `inspect` says it too, once for each datagram given up, beside the gap it leaves.
    let text = inspect(f.path());
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("were not put together")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("came in 3 IP fragment(s)") && lines[0].contains("different bytes"),
        "{text}"
    );
    assert!(
        lines[1].contains("1 IP fragment(s) of a TCP segment whose first fragment is missing"),
        "{text}"
    );
    assert!(lines[1].contains("never came"), "{text}");
    // And `streams`, on standard error, beside the gap it counts.
    let out = tempfile::tempdir().unwrap();
    let streams = raftwire()
        .arg("streams")
        .arg(f.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8(streams.stderr).unwrap();
    assert!(
        stderr.contains("came in 3 IP fragment(s) that were not put together: two fragments"),
        "{stderr}"
    );
    assert!(stderr.contains("1 gap(s) in the capture"), "{stderr}");
}

#[test]
fn fragments_out_of_order_are_put_back_together() {
    let (header, mut recs) = records(&std::fs::read(CAPTURE).unwrap());
    let datagrams = datagrams(&recs);
    let fragments: usize = datagrams.iter().map(Vec::len).sum();
    // Every datagram's fragments in reverse order (the last first: the datagram's length is known
    // before its start).
    for d in &datagrams {
        let records: Vec<_> = d.iter().map(|&i| recs[i].clone()).collect();
        for (slot, record) in d.iter().zip(records.into_iter().rev()) {
            recs[*slot] = record;
        }
    }
    let f = write(&header, &recs);
    let (_, report) = validate_json(&[f.path()]);
    assert_eq!(report["summary"]["verdict"], "conforming", "{}", report["summary"]);
    assert_eq!(capture_stats(&report), (fragments as u64, 0));
    assert_eq!(report["summary"]["frames"], 226);
}

#[test]
fn streams_extracts_the_bytes_that_were_sent_from_the_fragments() {
    let out = tempfile::tempdir().unwrap();
    let status = common::raftwire()
        .args(["streams", CAPTURE, "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    // One connection per sample pair, opened in name order from rising client ports.
    let extracted = pairs(out.path());
    let sent = pairs("samples/cluster".as_ref());
    assert_eq!(extracted.len(), sent.len());
    for (got, want) in extracted.iter().zip(&sent) {
        for dir in ["c2s", "s2c"] {
            let got_bytes = std::fs::read(out.path().join(format!("{got}.{dir}.bin"))).unwrap();
            let want_bytes = std::fs::read(format!("samples/cluster/{want}.{dir}.bin")).unwrap();
            assert!(got_bytes == want_bytes, "{got}.{dir} differs from {want}.{dir}");
        }
    }
}
