//! The splice fuzz target's body: two real hashicorp/raft streams (written by the real library,
//! extracted from the repository's captures of raft 1.1.2 and 1.7.3) spliced at points the fuzzer
//! chooses, `A[..i] + B[j..j + n] + A[i..]`, as a second writer without a lock would. The
//! property test `tests/hashicorp_splice.rs` measures what the checker notices with an oracle;
//! this target hunts for what it must never do on such inputs: panic, find differently when the
//! bytes arrive in other chunks, leave a finding or a counted message outside the stream, or
//! raise a MUST finding on a real stream left whole.

use crate::{check, fuzz_check};

/// (requests, responses) of real connections.
const REAL: [(&[u8], &[u8]); 5] = [
    (
        include_bytes!("real_streams/raft-1.1.2-127.0.0.1_41720-127.0.0.1_47103.c2s.bin"),
        include_bytes!("real_streams/raft-1.1.2-127.0.0.1_41720-127.0.0.1_47103.s2c.bin"),
    ),
    (
        include_bytes!("real_streams/raft-1.1.2-127.0.0.1_53702-127.0.0.1_47101.c2s.bin"),
        include_bytes!("real_streams/raft-1.1.2-127.0.0.1_53702-127.0.0.1_47101.s2c.bin"),
    ),
    (
        include_bytes!("real_streams/raft-1.7.3-127.0.0.1_42693-127.0.0.1_17004.c2s.bin"),
        include_bytes!("real_streams/raft-1.7.3-127.0.0.1_42693-127.0.0.1_17004.s2c.bin"),
    ),
    (
        include_bytes!("real_streams/raft-1.7.3-127.0.0.1_42729-127.0.0.1_17002.c2s.bin"),
        include_bytes!("real_streams/raft-1.7.3-127.0.0.1_42729-127.0.0.1_17002.s2c.bin"),
    ),
    (
        include_bytes!("real_streams/raft-1.7.3-127.0.0.1_58881-127.0.0.1_17004.c2s.bin"),
        include_bytes!("real_streams/raft-1.7.3-127.0.0.1_58881-127.0.0.1_17004.s2c.bin"),
    ),
];

fn u16_at(data: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([
        data.get(at).copied().unwrap_or(0),
        data.get(at + 1).copied().unwrap_or(0),
    ]))
}

/// The fuzz target body (`fuzz/fuzz_targets/hashicorp_splice.rs`): byte 0 picks the streams and
/// which directions, bytes 1-6 the cut `i`, the source offset `j` and the length `n`; the rest
/// of the input, if any, is appended as a third writer's bytes.
pub fn fuzz_splice(data: &[u8]) {
    let pick = usize::from(data.first().copied().unwrap_or(0));
    let (a_req, a_resp) = REAL[pick % REAL.len()];
    let (b_req, b_resp) = REAL[(pick / REAL.len()) % REAL.len()];
    // Mostly requests into requests; sometimes responses where requests go, and the reverse.
    let (a, b, a_is_requests) = match pick % 7 {
        5 => (a_req, b_resp, true),
        6 => (a_resp, b_req, false),
        _ => (a_req, b_req, true),
    };
    let i = u16_at(data, 1) % (a.len() + 1);
    let j = u16_at(data, 3) % (b.len() + 1);
    let n = u16_at(data, 5).min(b.len() - j);
    let extra = data.get(7..).unwrap_or_default();
    let mut spliced = Vec::with_capacity(a.len() + n + extra.len());
    spliced.extend_from_slice(&a[..i]);
    spliced.extend_from_slice(&b[j..j + n]);
    spliced.extend_from_slice(extra);
    spliced.extend_from_slice(&a[i..]);
    // The whole/chunked equivalence and the bounds, with the other direction of A beside it.
    let other = if a_is_requests { a_resp } else { a_req };
    let (c2s, s2c) = if a_is_requests {
        (&spliced[..], other)
    } else {
        (other, &spliced[..])
    };
    let split = ((c2s.len() * 256) / (c2s.len() + s2c.len()).max(1)).min(255) as u8;
    let _ = fuzz_check(&[&[split][..], c2s, s2c].concat());
    let c = check(c2s, s2c);
    for d in [&c.requests, &c.responses] {
        let len = if std::ptr::eq(d, &c.requests) {
            c2s.len()
        } else {
            s2c.len()
        };
        assert!(
            d.messages.iter().all(|(o, _)| (*o as usize) < len),
            "a message outside the stream"
        );
    }
    if n == 0 && extra.is_empty() {
        // Nothing spliced: the real connection, which is clean.
        let must = |d: &crate::Direction| d.findings.iter().filter(|f| f.level == "MUST").count();
        assert_eq!(
            (must(&c.requests), must(&c.responses)),
            (0, 0),
            "a false alarm on real traffic"
        );
    }
}
