//! `raftwire inspect` on inputs its own streaming must get right: a raw response stream (the
//! direction is read off its first byte), and a capture whose segments arrive out of order (held
//! until the hole fills, not declared a gap).

mod common;

use common::pcap::{Conn, Pcap};
use common::raftwire;

fn inspect(path: &std::path::Path) -> String {
    let out = raftwire().arg("inspect").arg(path).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_raw_hashicorp_response_stream_is_read_as_responses() {
    let dir = tempfile::tempdir().unwrap();
    let streams = dir.path().join("streams");
    raftwire()
        .args(["streams", "--out"])
        .arg(&streams)
        .arg("tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap")
        .assert()
        .success();
    let s2c = std::fs::read_dir(&streams)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".s2c.bin"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let text = inspect(&s2c);
    // Alone, its responses answer no request it can see (HC-4, one finding each), but each is
    // read as a response in the response direction, never as a response where requests belong.
    let lines: Vec<&str> = text.lines().filter(|l| !l.contains("note:")).collect();
    assert!(lines.len() > 10, "{text}");
    assert!(lines.iter().all(|l| l.contains(" s->c ")), "{text}");
    assert!(!text.contains("hc_response_in_request_direction"), "{text}");
}

#[test]
fn segments_out_of_order_are_held_until_the_hole_fills() {
    let request = common::rfw::request(1);
    let (first, second) = request.split_at(30);
    let c = Conn::new((1, 40000), (2, 7000));
    let mut p = Pcap::new(65535);
    let f = p.open(&c);
    let isn = Pcap::client_isn(&c);
    for (seq, part) in [(isn.wrapping_add(30), second), (isn, first)] {
        let mut packet = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 10, 0, 0, 1], [2, 0, 10, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 7000, seq, 65535)
            .ack(1)
            .psh()
            .write(&mut packet, part)
            .unwrap();
        p.frame(&packet);
    }
    p.end(&f, true, false).end(&f, false, false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reordered.pcap");
    p.write(&path);
    let text = inspect(&path);
    assert!(!text.contains("GAP") && !text.contains("ERROR"), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.contains(" c->s ") && l.contains("id=1 "))
            .count(),
        1,
        "{text}"
    );
}
