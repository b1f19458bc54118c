//! A capture of thousands of short connections, as a one-connection-per-RPC deployment produces:
//! every connection is checked and counted, the first 1000 with violations and the first 1000
//! without are listed, and the report is the same on any number of threads.

mod common;

use common::raftwire;
use serde_json::Value;

/// Ethernet + IPv4 + TCP around `payload` (checksums are not what is being tested: zero).
fn packet(src: [u8; 4], dst: [u8; 4], ports: (u16, u16), seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = (20 + 20 + payload.len()) as u16;
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&ports.0.to_be_bytes());
    p.extend_from_slice(&ports.1.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// A pcap of `n` connections, each carrying the sample requests and their responses, the
/// request stream of connection `i` with one payload byte flipped when `corrupt(i)`.
fn capture(n: usize, corrupt: impl Fn(usize) -> bool) -> Vec<u8> {
    let c2s = std::fs::read("samples/cluster/n2-n1.c2s.bin").unwrap();
    let s2c = std::fs::read("samples/cluster/n2-n1.s2c.bin").unwrap();
    let mut out = Vec::new();
    for v in [
        0xa1b2c3d4u32.to_le_bytes().to_vec(),
        vec![2, 0, 4, 0],
        vec![0; 8],
        65535u32.to_le_bytes().to_vec(),
        1u32.to_le_bytes().to_vec(),
    ] {
        out.extend_from_slice(&v);
    }
    let mut t = 0u32;
    let mut record = |out: &mut Vec<u8>, p: Vec<u8>| {
        t += 1;
        for v in [t / 1_000_000, t % 1_000_000, p.len() as u32, p.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&p);
    };
    let server = [10, 0, 0, 1];
    for i in 0..n {
        let client = [10, 1, (i >> 8) as u8, i as u8];
        let (c, s) = ((1024 + i as u16, 7000), (7000, 1024 + i as u16));
        let mut req = c2s.clone();
        if corrupt(i) {
            req[30] ^= 0x40;
        }
        let (mut a, mut b) = (1000u32, 5000u32);
        record(&mut out, packet(client, server, c, a, 0, 0x02, &[]));
        a += 1;
        record(&mut out, packet(server, client, s, b, a, 0x12, &[]));
        b += 1;
        record(&mut out, packet(client, server, c, a, b, 0x10, &[]));
        record(&mut out, packet(client, server, c, a, b, 0x18, &req));
        a += req.len() as u32;
        record(&mut out, packet(server, client, s, b, a, 0x18, &s2c));
        b += s2c.len() as u32;
        record(&mut out, packet(client, server, c, a, b, 0x11, &[]));
        a += 1;
        record(&mut out, packet(server, client, s, b, a, 0x11, &[]));
        b += 1;
        // The last ACK, after both FINs: belongs to no open connection any more.
        record(&mut out, packet(client, server, c, a, b, 0x10, &[]));
    }
    out
}

fn validate(path: &std::path::Path, jobs: &str) -> (i32, String) {
    let out = raftwire()
        .args(["validate", "--format", "json", "--jobs", jobs])
        .arg(path)
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

fn client_index(c: &Value) -> usize {
    let port: usize = c["client"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    port - 1024
}

#[test]
fn thousands_of_short_connections_are_all_counted_and_the_first_of_each_kind_listed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.pcap");
    // 1300 clean connections, then 1300 with a corrupted request.
    std::fs::write(&path, capture(2600, |i| i >= 1300)).unwrap();
    let (code, json) = validate(&path, "1");
    assert_eq!(code, 1);
    let r: Value = serde_json::from_str(&json).unwrap();
    let listed = r["connections"].as_array().unwrap();
    let (flagged, clean): (Vec<&Value>, Vec<&Value>) = listed.iter().partition(|c| {
        c["directions"]["client_to_server"]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["level"] == "MUST")
    });
    // The first 1000 of each kind, in capture order.
    assert_eq!(
        clean.iter().map(|c| client_index(c)).collect::<Vec<_>>(),
        (0..1000).collect::<Vec<_>>()
    );
    assert_eq!(
        flagged.iter().map(|c| client_index(c)).collect::<Vec<_>>(),
        (1300..2300).collect::<Vec<_>>()
    );
    // Every connection counts, listed or not: the corrupted frame is reported (and its response
    // then answers no request), the other three frames are counted.
    let must = |c: &Value| -> u64 {
        ["client_to_server", "server_to_client"]
            .iter()
            .map(|d| {
                c["directions"][d]["violations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|v| v["level"] == "MUST")
                    .count() as u64
            })
            .sum()
    };
    let frames = |c: &Value| {
        c["directions"]["client_to_server"]["frames"].as_u64().unwrap()
            + c["directions"]["server_to_client"]["frames"].as_u64().unwrap()
    };
    assert_eq!((frames(clean[0]), must(clean[0])), (4, 0));
    let (bad_frames, bad_must) = (frames(flagged[0]), must(flagged[0]));
    assert_eq!(bad_frames, 3);
    assert!(bad_must >= 1);
    let n = &r["connections_not_listed"];
    assert_eq!(n["connections"], 600);
    assert_eq!(n["with_violations"], 300);
    assert_eq!(n["must"], 300 * bad_must);
    assert_eq!(n["frames"], 300 * 4 + 300 * bad_frames);
    let s = &r["summary"];
    assert_eq!(s["connections"], 2600);
    assert_eq!(s["violations"], 1300 * bad_must);
    assert_eq!(s["frames"], 1300 * 4 + 1300 * bad_frames);
    assert_eq!(s["conforming"], false);
    // No idle entries are opened for the ACKs after the FINs, and none reported.
    assert_eq!(r["captures"][0]["ignored_connections"], 0);
    for jobs in ["2", "3"] {
        assert_eq!(validate(&path, jobs), (code, json.clone()), "--jobs {jobs}");
    }
}
