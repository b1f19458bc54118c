//! Capture-reading rules the other tests leave unpinned (found by mutation testing): the report
//! order of connections, which requirement foreign traffic on a hashicorp/raft port breaks, and
//! what `--port` makes a connection without data.

mod common;

use common::hashicorp::{append, appended};
use common::pcap::{Conn, Pcap};
use common::validate_json;

fn heartbeat() -> Vec<u8> {
    append("1.1", 1, 2, 0)
}

fn answer() -> Vec<u8> {
    appended(2)
}

fn write(p: &Pcap) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.pcap");
    p.write(&path);
    let s = path.to_str().unwrap().to_string();
    (dir, s)
}

/// Connections closed during the capture come first, in the order they closed; the rest follow in
/// the order they opened.
#[test]
fn connections_are_reported_in_the_order_they_closed_then_opened() {
    let mut p = Pcap::new(65535);
    let mut first = p.open(&Conn::new((1, 40001), (2, 8300)));
    let mut second = p.open(&Conn::new((1, 40002), (3, 8300)));
    let mut third = p.open(&Conn::new((1, 40003), (4, 8300)));
    for f in [&mut first, &mut second, &mut third] {
        p.send(f, true, &heartbeat()).send(f, false, &answer());
    }
    p.end(&second, true, false).end(&second, false, false);
    let (_d, path) = write(&p);
    let (code, r) = validate_json(&[&path]);
    assert_eq!(code, 0, "{r}");
    let clients: Vec<&str> = r["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client"].as_str().unwrap())
        .collect();
    assert_eq!(clients, ["10.0.0.1:40002", "10.0.0.1:40001", "10.0.0.1:40003"]);
}

/// Foreign traffic on a port where hashicorp/raft was seen breaks HC-5, not RFW/1's FRAME-1.
#[test]
fn foreign_traffic_on_a_hashicorp_port_breaks_the_hashicorp_requirement() {
    let mut p = Pcap::new(65535);
    p.conn(&Conn::new((1, 40001), (2, 8300)).c2s(heartbeat()).s2c(answer()));
    p.conn(&Conn::new((3, 40002), (2, 8300)).c2s(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]));
    let (_d, path) = write(&p);
    let (code, r) = validate_json(&[&path]);
    assert_eq!(code, 1);
    let foreign = r["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == "10.0.0.3:40002")
        .unwrap();
    let v = &foreign["directions"]["client_to_server"]["violations"][0];
    assert_eq!(
        (v["code"].as_str(), v["requirement"].as_str()),
        (Some("foreign_protocol"), Some("HC-5")),
        "{v}"
    );
}

/// `--port` checks every connection with data on that port; one without data is no connection to
/// check (it is counted among those not checked, as carrying no data).
#[test]
fn a_port_named_on_the_command_line_checks_connections_with_data_only() {
    let mut p = Pcap::new(65535);
    p.conn(&Conn::new((1, 40001), (2, 9999)).c2s(&b"\x00\x01\x02\x03 not raft at all"[..]));
    p.conn(&Conn::new((1, 40002), (2, 9999)));
    let (_d, path) = write(&p);
    let (_, r) = validate_json(&["--port", "9999", &path]);
    let listed: Vec<&str> = r["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["10.0.0.1:40001"], "{r}");
    assert_eq!(
        r["unchecked_connections"]["connections"], 1,
        "{}",
        r["unchecked_connections"]
    );
    assert_eq!(r["unchecked_connections"]["with_data"], 0);
}

/// Past the 1,000 unchecked connections listed, the rest are still counted: with data or without.
#[test]
fn unchecked_connections_past_the_listed_ones_are_counted_by_what_they_carried() {
    let mut p = Pcap::new(65535);
    p.conn(
        &Conn::new((1, 40000), (2, 7000))
            .c2s(common::rfw::request(1))
            .s2c(common::rfw::response(1)),
    );
    for i in 0..1030u16 {
        p.conn(&Conn::new((3, 10_000 + i), (4, 5555)).c2s(&b"hello, not raft"[..]));
    }
    for i in 0..20u16 {
        p.conn(&Conn::new((3, 20_000 + i), (4, 5555)));
    }
    let (_d, path) = write(&p);
    let (_, r) = validate_json(&[&path]);
    let u = &r["unchecked_connections"];
    assert_eq!(u["connections"], 1050, "{}", u["connections"]);
    assert_eq!(u["with_data"], 1030);
    assert_eq!(u["listed"].as_array().unwrap().len(), 1000);
    assert_eq!(u["not_listed"], 50);
}
