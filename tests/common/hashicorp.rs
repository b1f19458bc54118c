//! hashicorp/raft messages for capture tests, as each release writes them (built with
//! `raftwire_hashicorp::craft`, which shares nothing with the checker under test).
#![allow(dead_code)]

use raftwire_hashicorp::craft::{array, map, request, response, V};

/// Node `n`'s listening address in the test captures.
pub fn node(n: u8) -> String {
    format!("10.0.0.{n}:8300")
}

/// An AppendEntries from node `from` as raft `release` writes it ("1.1" no header id/addr and no
/// AppendedAt; "1.3" no id/addr and a legacy AppendedAt; "1.6new" id/addr and the new time
/// format), with `entries` entries.
pub fn append(release: &str, from: u8, term: u64, entries: usize) -> Vec<u8> {
    let addr = node(from);
    let id = format!("n{from}");
    let log = |i: u64| -> Vec<u8> {
        let time: V<'_> = match release {
            "1.3" => V::Raw(
                [
                    &[0xaf, 1][..],
                    &[0, 0, 0, 14, 0xdd, 0x25, 0x74, 0x25, 0, 0, 0x17, 0x70, 0xff, 0xff],
                ]
                .concat(),
            ),
            _ => V::Raw(vec![0xa8, 0, 0, 0x5d, 0xc0, 0x65, 0x93, 0x7d, 0x25]),
        };
        let mut pairs = vec![];
        if release != "1.1" {
            pairs.push(("AppendedAt", time));
        }
        pairs.extend([
            ("Data", V::S(b"cmd")),
            ("Extensions", V::Nil),
            ("Index", V::U(i)),
            ("Term", V::U(term)),
            ("Type", V::U(0)),
        ]);
        map(&pairs)
    };
    let list: Vec<Vec<u8>> = (0..entries as u64).map(|i| log(i + 1)).collect();
    let entries = if list.is_empty() { V::Nil } else { V::Raw(array(&list)) };
    let mut pairs = vec![];
    let with_header = release == "1.6new";
    if with_header {
        pairs.push(("Addr", V::S(addr.as_bytes())));
    }
    pairs.push(("Entries", entries));
    if with_header {
        pairs.push(("ID", V::S(id.as_bytes())));
    }
    pairs.extend([
        ("Leader", V::S(addr.as_bytes())),
        ("LeaderCommitIndex", V::U(0)),
        ("PrevLogEntry", V::U(0)),
        ("PrevLogTerm", V::U(0)),
        ("ProtocolVersion", V::U(3)),
        ("Term", V::U(term)),
    ]);
    request(0, &pairs)
}

/// The answer to an AppendEntries, as raft <= 1.3.6 writes it.
pub fn appended(term: u64) -> Vec<u8> {
    response(
        "",
        &[
            ("LastLog", V::U(1)),
            ("NoRetryBackoff", V::B(false)),
            ("ProtocolVersion", V::U(3)),
            ("Success", V::B(true)),
            ("Term", V::U(term)),
        ],
    )
}
