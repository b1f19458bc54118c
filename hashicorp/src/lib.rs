//! # raftwire-hashicorp
//!
//! Strict decoding and desync diagnosis of hashicorp/raft's NetworkTransport wire (Consul, Nomad,
//! Vault, OpenZiti, ...): an rpc-type byte and a msgpack map per request, a msgpack error string and
//! a map per response, no framing and no checksums. See `conformance/HASHICORP.md` for what is
//! checked (HC-1 .. HC-7) and which releases are supported. The RFW/1 codec does not depend on
//! this crate.
//!
//! [`Checker`] checks a connection as its bytes arrive, in any chunking, holding only the message
//! being read; [`check`] runs it on two whole streams.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checker;
pub mod craft;
pub mod diagnose;
pub mod messages;
pub mod msgpack;
pub mod release;
mod splice;
pub mod stream;

pub use checker::{Checker, Observed, MAX_PENDING};
pub use splice::fuzz_splice;
pub use stream::{check, looks_like, looks_like_response, Connection, Direction, Finding};

/// Fuzz target body (shared by `fuzz/fuzz_targets/hashicorp_stream.rs` and the corpus replay):
/// the first byte splits the input into a request and a response stream. Never panics, every
/// finding lies inside its stream, skipped bytes never exceed the stream, and feeding the two
/// streams to a [`Checker`] in small interleaved chunks finds exactly what checking them whole
/// does. Returns what checking the whole streams found (so a test can tell the checks ran).
pub fn fuzz_check(data: &[u8]) -> Connection {
    let Some((&split, rest)) = data.split_first() else {
        return Connection::default();
    };
    let cut = (split as usize * rest.len()) / 256;
    let (c2s, s2c) = rest.split_at(cut.min(rest.len()));
    let c = check(c2s, s2c);
    // Chunk sizes 1..=16 from the split byte, responses interleaved with requests.
    let mut checker = Checker::new(true);
    let size = 1 + (split as usize % 16);
    let (mut req, mut resp) = (c2s.chunks(size), s2c.chunks(size + 1));
    loop {
        let (a, b) = (req.next(), resp.next());
        if a.is_none() && b.is_none() {
            break;
        }
        a.into_iter().for_each(|a| checker.requests(a));
        b.into_iter().for_each(|b| checker.responses(b));
    }
    assert_eq!(checker.finish(), c, "chunked checking differs from whole checking");
    for (d, len) in [(&c.requests, c2s.len()), (&c.responses, s2c.len())] {
        assert!(d.skipped <= len as u64, "skipped {} of {len}", d.skipped);
        assert!(
            d.findings.iter().all(|f| f.offset <= len as u64),
            "finding outside the stream"
        );
        assert!(d.findings.len() <= stream::MAX_FINDINGS);
    }
    c
}
