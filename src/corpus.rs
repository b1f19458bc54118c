//! `raftwire corpus`: the fuzz targets' seed corpora, generated deterministically from the named
//! conformance cases (every message type, the edges, one reject per error code) so they can be
//! regenerated and checked for drift.

use std::collections::BTreeMap;
use std::path::Path;

use raftwire_conformance::cases::{frame_cases, Verdict};

/// File name -> bytes, per target.
pub type Corpus = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

/// Deterministic filler for the structure-aware targets, whose inputs `arbitrary` interprets.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Builds every target's seed corpus.
pub fn build() -> Corpus {
    let cases = frame_cases();
    let valid: Vec<u8> = cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Accept { .. }))
        .flat_map(|c| c.bytes.iter().copied())
        .collect();
    let first_valid = cases.first().map(|c| c.bytes.clone()).unwrap_or_default();
    let mut corpus = Corpus::new();
    let mut put = |target: &'static str, name: String, bytes: Vec<u8>| {
        corpus.entry(target).or_default().insert(name, bytes);
    };
    for c in &cases {
        put("decode_frame", c.name.clone(), c.bytes.clone());
        // In a stream: a valid frame before and after, so resynchronisation has work to do.
        let mut stream = first_valid.clone();
        stream.extend_from_slice(&c.bytes);
        stream.extend_from_slice(&first_valid);
        put(
            "decode_stream",
            format!("stream_{}", c.name),
            [&[0, 7][..], &stream].concat(),
        );
        put(
            "scan_stream",
            format!("stream_{}", c.name),
            [&[3][..], &stream].concat(),
        );
    }
    put("decode_stream", "all_valid".into(), [&[1, 2][..], &valid].concat());
    put("scan_stream", "all_valid".into(), [&[5][..], &valid].concat());
    // Two writers: the second frame cut into the first one's payload.
    let second = cases.get(1).map(|c| c.bytes.clone()).unwrap_or_default();
    let cut = 30.min(first_valid.len());
    let interleaved = [&first_valid[..cut], &second, &first_valid[cut..], &first_valid].concat();
    put(
        "scan_stream",
        "interleaved_writers".into(),
        [&[9][..], &interleaved].concat(),
    );
    put(
        "decode_stream",
        "interleaved_writers".into(),
        [&[0, 9][..], &interleaved].concat(),
    );
    put(
        "scan_stream",
        "http_on_raft_port".into(),
        [&b"\x01GET / HTTP/1.1\r\nHost: raft\r\n\r\n"[..], &first_valid].concat(),
    );
    // hashicorp/raft: the RequestVote and its response from research/hashicorp-raft-wire.md §3
    // (byte-exact, raft >= 1.3.7), whole and with the response written into the request stream.
    let rv_request: &[u8] = b"\x01\x88\xa4Addr\xa3a:1\xa9Candidate\xa3a:1\xa2ID\xa2n1\xacLastLogIndex\x05\xabLastLogTerm\x01\xb2LeadershipTransfer\xc2\xafProtocolVersion\x03\xa4Term\x02";
    let rv_response: &[u8] =
        b"\xa0\x86\xa4Addr\xa3b:1\xa7Granted\xc3\xa2ID\xa2n2\xa5Peers\xc0\xafProtocolVersion\x03\xa4Term\x02";
    let split = |c2s: &[u8], s2c: &[u8]| {
        let total = (c2s.len() + s2c.len()).max(1);
        let mut v = vec![((c2s.len() * 256).div_ceil(total)).min(255) as u8];
        v.extend_from_slice(c2s);
        v.extend_from_slice(s2c);
        v
    };
    put(
        "hashicorp_stream",
        "request_vote_exchange".into(),
        split(&[rv_request, rv_request].concat(), &[rv_response, rv_response].concat()),
    );
    put(
        "hashicorp_stream",
        "response_in_request_direction".into(),
        split(&[rv_request, rv_response, rv_request].concat(), rv_response),
    );
    put(
        "hashicorp_stream",
        "http_on_raft_port".into(),
        split(b"GET / HTTP/1.1\r\n\r\n", b""),
    );
    // hashicorp_splice: byte 0 picks the streams, then i, j and n (big-endian u16s).
    for (name, pick, i, j, n) in [
        ("whole", 0u8, 0u16, 0u16, 0u16),
        ("requests_into_requests", 1, 103, 0, 103),
        ("response_where_requests_go", 5, 103, 0, 64),
        ("off_boundary", 8, 57, 300, 512),
        ("last_byte", 3, 102, 720, 7),
    ] {
        let mut b = vec![pick];
        for v in [i, j, n] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        put("hashicorp_splice", name.into(), b);
    }
    for (target, sizes) in [
        ("roundtrip", [64, 256, 1024]),
        ("interleave", [128, 512, 2048]),
        ("check_stream", [256, 1024, 4096]),
    ] {
        for (i, len) in sizes.into_iter().enumerate() {
            put(
                target,
                format!("noise_{len}"),
                noise(i as u64 + target.len() as u64, len),
            );
        }
    }
    corpus
}

/// Writes the corpus under `out/<target>/`. Files already there (e.g. minimised or regression
/// inputs) are left alone.
pub fn write(out: &Path) -> Result<usize, String> {
    let mut n = 0;
    for (target, files) in build() {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (name, bytes) in files {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            n += 1;
        }
    }
    Ok(n)
}
