//! # raftwire-hashicorp
//!
//! Strict decoding and desync diagnosis of hashicorp/raft's NetworkTransport wire (Consul, Nomad,
//! Vault, OpenZiti, ...): an rpc-type byte and a msgpack map per request, a msgpack error string and
//! a map per response, no framing and no checksums. See `conformance/HASHICORP.md` for what is
//! checked (HC-1 .. HC-7) and which releases are supported. The RFW/1 codec does not depend on
//! this crate.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod diagnose;
pub mod messages;
pub mod msgpack;
pub mod stream;

pub use stream::{check, looks_like, Connection, Direction, Finding};

/// Fuzz target body (shared by `fuzz/fuzz_targets/hashicorp_stream.rs` and the corpus replay):
/// the first byte splits the input into a request and a response stream. Never panics, every
/// finding lies inside its stream, and skipped bytes never exceed the stream.
pub fn fuzz_check(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let cut = (split as usize * rest.len()) / 256;
    let (c2s, s2c) = rest.split_at(cut.min(rest.len()));
    let c = check(c2s, s2c);
    for (d, len) in [(&c.requests, c2s.len()), (&c.responses, s2c.len())] {
        assert!(d.skipped <= len as u64, "skipped {} of {len}", d.skipped);
        assert!(
            d.findings.iter().all(|f| f.offset <= len as u64),
            "finding outside the stream"
        );
        assert!(d.findings.len() <= 1000);
    }
}
