//! Every TCP connection of a capture is either checked or listed as not checked (#13 item 1): a
//! connection is checked when its first bytes carry the RFW/1 marker or look like hashicorp/raft,
//! or when its server port is one where any connection was recognised (then, if it is not Raft
//! traffic, it breaks the port's protocol), or when `--port` names it. Captures here are written
//! by `common::pcap`, which shares no code with the reader.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::pcap::{Conn, Pcap};
use common::rfw::{request, response, Rng};
use common::{raftwire, validate_json};
use serde_json::Value;

/// A request whose payload CRC is wrong while its header CRC verifies.
fn bad_crc_request(id: u64) -> Vec<u8> {
    let mut f = request(id);
    let last = f.len() - 1;
    f[last] ^= 0x40;
    f
}

fn good(client: (u8, u16), port: u16) -> Conn {
    Conn::new(client, (2, port)).c2s(request(1)).s2c(response(1))
}

fn run(pcap: &Pcap, extra: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.pcap");
    pcap.write(&path);
    let mut args: Vec<&str> = extra.to_vec();
    args.push(path.to_str().unwrap());
    validate_json(&args)
}

fn codes(r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in r["connections"].as_array().into_iter().flatten() {
        for d in ["client_to_server", "server_to_client"] {
            for v in c["directions"][d]["violations"].as_array().into_iter().flatten() {
                if v["level"] != "INFO" {
                    out.push(v["code"].as_str().unwrap().to_string());
                }
            }
        }
    }
    out
}

#[test]
fn a_corrupted_connection_next_to_a_good_one_is_checked_and_fails() {
    for dialect in [&[][..], &["--dialect", "rfw"][..]] {
        let mut p = Pcap::new(65535);
        p.conn(&good((1, 40000), 7000))
            .conn(&Conn::new((1, 40001), (2, 7000)).c2s(bad_crc_request(1)));
        let (code, r) = run(&p, dialect);
        assert_eq!(code, 1, "{dialect:?} {r}");
        assert_eq!(codes(&r), ["payload_crc_mismatch"], "{r}");
        assert_eq!(r["summary"]["connections"], 2);
        assert_eq!(r["unchecked_connections"]["connections"], 0);
    }
}

#[test]
fn a_connection_whose_only_frame_is_cut_by_fin_is_checked_and_fails() {
    let mut p = Pcap::new(65535);
    p.conn(&good((1, 40000), 7000))
        .conn(&Conn::new((1, 40001), (2, 7000)).c2s(request(1)[..10].to_vec()));
    let (code, r) = run(&p, &[]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(codes(&r), ["truncated_frame"], "{r}");
}

#[test]
fn a_corrupted_connection_alone_is_checked_and_fails_not_called_unreadable() {
    let mut p = Pcap::new(65535);
    p.conn(&Conn::new((1, 40001), (2, 7000)).c2s(bad_crc_request(1)));
    let (code, r) = run(&p, &[]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(codes(&r), ["payload_crc_mismatch"]);
}

#[test]
fn foreign_traffic_on_a_raft_port_fails_and_elsewhere_is_listed_with_its_first_bytes() {
    let http = b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let mut p = Pcap::new(65535);
    p.conn(&good((1, 40000), 7000))
        .conn(&Conn::new((1, 40001), (2, 7000)).c2s(http.clone()))
        .conn(
            &Conn::new((1, 40002), (2, 80))
                .c2s(http.clone())
                .s2c(b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
        )
        .conn(&Conn::new((1, 40003), (2, 7001)));
    let (code, r) = run(&p, &[]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(codes(&r), ["foreign_protocol"]);
    let foreign = &r["connections"][1]["directions"]["client_to_server"]["violations"][0];
    assert_eq!(foreign["requirement"], "FRAME-1");
    assert!(
        foreign["message"].as_str().unwrap().contains("HTTP/1.x request"),
        "{foreign}"
    );
    let u = &r["unchecked_connections"];
    assert_eq!(
        (u["connections"].as_u64(), u["with_data"].as_u64()),
        (Some(2), Some(1)),
        "{u}"
    );
    let web = &u["listed"][0];
    assert_eq!(web["server"], "10.0.0.2:80");
    assert_eq!(web["looks_like"], "http");
    assert_eq!(
        web["first_bytes_client_to_server"],
        "47 45 54 20 2f 76 31 2f 73 74 61 74 75 73 20 48"
    );
    assert_eq!(u["listed"][1]["reason"], "carried no data");
    assert_eq!(r["captures"][0]["ignored_connections"], 1);

    // The text report says so too, with the ports and the first bytes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.pcap");
    p.write(&path);
    let out = raftwire().arg("validate").arg(&path).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("2 TCP connection(s) not checked"), "{text}");
    assert!(text.contains("10.0.0.1:40002 -> 10.0.0.2:80"), "{text}");
    assert!(text.contains("client_to_server starts: 47 45 54 20"), "{text}");

    // `--port` names the web port: it is checked, and fails.
    let (code, r) = run(&p, &["--port", "7000,80"]);
    assert_eq!(code, 1);
    assert_eq!(r["unchecked_connections"]["connections"], 0, "{r}");
}

/// libp2p's multistream-select on a Raft port (hashicorp/raft#599) is named.
#[test]
fn multistream_select_on_a_raft_port_is_named() {
    let mut p = Pcap::new(65535);
    p.conn(&good((1, 40000), 7000))
        .conn(&Conn::new((1, 40001), (2, 7000)).c2s(b"\x13/multistream/1.0.0\n".to_vec()));
    let (code, r) = run(&p, &[]);
    assert_eq!(code, 1);
    let m = r["connections"][1]["directions"]["client_to_server"]["violations"][0]["message"].to_string();
    assert!(m.contains("multistream-select"), "{m}");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RfwGood,
    RfwBadCrc,
    RfwCutByFin,
    Hashicorp,
    Http,
    Random,
    Empty,
}

impl Kind {
    fn recognised(self) -> bool {
        matches!(
            self,
            Kind::RfwGood | Kind::RfwBadCrc | Kind::RfwCutByFin | Kind::Hashicorp
        )
    }
    fn has_data(self) -> bool {
        self != Kind::Empty
    }
    fn bad(self) -> bool {
        matches!(self, Kind::RfwBadCrc | Kind::RfwCutByFin | Kind::Http | Kind::Random)
    }
}

/// The first request/response pair of a real hashicorp/raft connection.
fn hashicorp_streams(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    raftwire()
        .args(["streams", "--out"])
        .arg(dir)
        .arg("tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap")
        .assert()
        .success();
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let c2s = files
        .iter()
        .find(|p| p.to_string_lossy().ends_with(".c2s.bin"))
        .unwrap();
    let s2c = c2s.to_string_lossy().replace(".c2s.bin", ".s2c.bin");
    (std::fs::read(c2s).unwrap(), std::fs::read(s2c).unwrap())
}

/// The invariant, over random captures with an oracle of their own: checked + listed as unchecked
/// = every TCP connection; which ones are checked follows the rule; the exit status is 2 when
/// nothing was checked, else 1 exactly when a checked connection is broken or foreign; and the
/// same for one thread and several.
#[test]
fn every_connection_is_checked_or_listed_and_the_verdict_follows_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let (hc_c2s, hc_s2c) = hashicorp_streams(dir.path());
    let mut rng = Rng(13);
    const KINDS: [Kind; 7] = [
        Kind::RfwGood,
        Kind::RfwBadCrc,
        Kind::RfwCutByFin,
        Kind::Hashicorp,
        Kind::Http,
        Kind::Random,
        Kind::Empty,
    ];
    const PORTS: [u16; 4] = [7000, 8300, 80, 9000];
    let mut seen_codes = BTreeSet::new();
    for trial in 0..40 {
        let n = 1 + rng.below(7) as u16;
        let mut pcap = Pcap::new(65535);
        let mut conns = Vec::new();
        for i in 0..n {
            let kind = KINDS[rng.below(KINDS.len())];
            let port = PORTS[rng.below(PORTS.len())];
            let c = Conn::new((1 + (i % 3) as u8, 40000 + i), (2, port));
            let c = match kind {
                Kind::RfwGood => c.c2s(request(1)).s2c(response(1)),
                Kind::RfwBadCrc => c.c2s(bad_crc_request(1)),
                Kind::RfwCutByFin => c.c2s(request(1)[..5 + rng.below(20)].to_vec()),
                Kind::Hashicorp => c.c2s(hc_c2s.clone()).s2c(hc_s2c.clone()),
                Kind::Http => c.c2s(b"POST /x HTTP/1.1\r\n\r\n".to_vec()),
                Kind::Random => {
                    // Not a marker, not an rpc type (0-4): nothing that could be Raft traffic.
                    let mut b: Vec<u8> = (0..1 + rng.below(300)).map(|_| rng.next() as u8).collect();
                    b[0] = 0x20 + (rng.below(0xa0) as u8);
                    c.c2s(b)
                }
                Kind::Empty => c,
            };
            pcap.conn(&c);
            conns.push((kind, port, c));
        }
        let raft_ports: BTreeSet<u16> = conns.iter().filter(|c| c.0.recognised()).map(|c| c.1).collect();
        let checked: Vec<_> = conns
            .iter()
            .filter(|(k, port, _)| k.recognised() || (k.has_data() && raft_ports.contains(port)))
            .collect();
        let unchecked: BTreeSet<String> = conns
            .iter()
            .filter(|(k, port, _)| !(k.recognised() || (k.has_data() && raft_ports.contains(port))))
            .map(|(_, _, c)| c.client.to_string())
            .collect();
        let expected_exit = if checked.is_empty() {
            2
        } else if checked.iter().any(|c| c.0.bad()) {
            1
        } else {
            0
        };
        let kinds: Vec<_> = conns.iter().map(|c| (c.0, c.1)).collect();
        let mut reports = Vec::new();
        for jobs in ["1", "3"] {
            let (code, r) = run(&pcap, &["--jobs", jobs]);
            assert_eq!(code, expected_exit, "trial {trial}, {kinds:?}: {r}");
            if code == 2 {
                continue;
            }
            assert_eq!(
                r["summary"]["connections"].as_u64(),
                Some(checked.len() as u64),
                "trial {trial}"
            );
            let u = &r["unchecked_connections"];
            assert_eq!(
                u["connections"].as_u64(),
                Some(unchecked.len() as u64),
                "trial {trial}: {u}"
            );
            let listed: BTreeSet<String> = u["listed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["client"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(listed, unchecked, "trial {trial}");
            assert_eq!(
                r["summary"]["connections"].as_u64().unwrap() + u["connections"].as_u64().unwrap(),
                n as u64,
                "checked + unchecked = every connection"
            );
            seen_codes.extend(codes(&r));
            reports.push((
                r["connections"].clone(),
                r["unchecked_connections"].clone(),
                r["summary"].clone(),
            ));
        }
        if let [a, b] = &reports[..] {
            assert_eq!(a, b, "trial {trial}: the report depends on the number of threads");
        }
    }
    for code in ["payload_crc_mismatch", "truncated_frame", "foreign_protocol"] {
        assert!(
            seen_codes.contains(code),
            "the trials never produced {code}: {seen_codes:?}"
        );
    }
}
