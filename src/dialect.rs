//! Which wire a connection speaks: RFW/1, or hashicorp/raft's NetworkTransport; and the report
//! for a hashicorp connection.

use clap::ValueEnum;

use crate::report::{ConnectionReport, DirectionReport, Directions, Violation};

/// `--dialect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dialect {
    /// Decide per connection from its first bytes.
    Auto,
    /// RFW/1 (SPEC.md).
    Rfw,
    /// hashicorp/raft NetworkTransport (HASHICORP.md).
    Hashicorp,
}

/// The dialect a connection's first client->server bytes (and server->client bytes) indicate, or
/// `None` while too few bytes have arrived to tell.
pub fn detect(c2s: &[u8], s2c: &[u8]) -> Option<Dialect> {
    let marker = [0xC1, b'R', b'F', b'W'];
    if c2s.starts_with(&marker) || s2c.starts_with(&marker) {
        return Some(Dialect::Rfw);
    }
    if c2s.len() >= 2 {
        // A response first in the request direction is the shared-connection failure itself:
        // hashicorp/raft, with its first message misplaced (named as such by the checker).
        let hashicorp = raftwire_hashicorp::looks_like(c2s) || raftwire_hashicorp::looks_like_response(c2s);
        if hashicorp || !could_become_response(c2s) {
            return Some(if hashicorp { Dialect::Hashicorp } else { Dialect::Rfw });
        }
        return None;
    }
    if c2s.is_empty() && s2c.len() >= 2 {
        // Only responses seen: a msgpack string then a map is a hashicorp response.
        return Some(if matches!(s2c, [0xa0..=0xbf, ..]) {
            Dialect::Hashicorp
        } else {
            Dialect::Rfw
        });
    }
    None
}

/// True while the first bytes may still turn out to be a response: a short error string whose
/// end, and the map after it, have not arrived. (A longer one, `da`/`db`, is not waited for: the
/// capture keeps [`HEAD`](crate::capture::unrecognised::HEAD) bytes to judge from.)
fn could_become_response(c2s: &[u8]) -> bool {
    match c2s.first() {
        Some(&b @ 0xa1..=0xbf) => c2s.len() < 2 + usize::from(b & 0x1f),
        _ => false,
    }
}

/// The dialect of a connection whose streams have ended with these first bytes: as [`detect`],
/// and a request direction that is a single rpc-type byte (a request cut after its type) is
/// hashicorp/raft; what is still undecided is RFW/1.
pub fn detect_final(c2s: &[u8], s2c: &[u8]) -> Dialect {
    if let Some(d) = detect(c2s, s2c) {
        return d;
    }
    if matches!(c2s, [0..=4]) || raftwire_hashicorp::looks_like_response(c2s) {
        return Dialect::Hashicorp;
    }
    Dialect::Rfw
}

fn direction(d: raftwire_hashicorp::Direction) -> DirectionReport {
    DirectionReport {
        bytes: d.bytes,
        bytes_missing: 0,
        frames: d.by_type.values().sum(),
        frames_by_type: d.by_type.into_iter().collect(),
        bytes_skipped: d.skipped,
        violations: d
            .findings
            .into_iter()
            .map(|f| Violation {
                offset: f.offset,
                code: f.code.to_string(),
                requirement: f.requirement.to_string(),
                level: f.level.to_string(),
                message: f.message,
                after_capture_gap: false,
                frame_offset: None,
                excerpt: f.bytes.map(|(start, bytes)| crate::report::Excerpt { start, bytes }),
            })
            .collect(),
        violations_omitted: d.findings_omitted,
        omitted_must: d.omitted_must,
        omitted_should: 0,
    }
}

/// Reports a checked hashicorp/raft connection like any other.
pub fn hashicorp_report(client: String, server: String, c: raftwire_hashicorp::Connection) -> ConnectionReport {
    let mut notes = c.notes;
    if c.encrypted {
        notes.push("encrypted: not checked".into());
    }
    ConnectionReport {
        client,
        server,
        dialect: if c.encrypted {
            "hashicorp (TLS)".into()
        } else {
            "hashicorp".into()
        },
        notes,
        directions: Directions {
            client_to_server: direction(c.requests),
            server_to_client: direction(c.responses),
        },
        client_node: None,
        server_node: None,
        latency: Default::default(),
        latency_samples: Vec::new(),
        trace: None,
    }
}

#[cfg(test)]
mod tests {
    use super::{detect, detect_final, Dialect};

    /// #14: a stream that starts with a response (the incident's own bytes), or with a request
    /// cut after its type byte, is hashicorp/raft, never RFW/1.
    #[test]
    fn responses_and_cut_requests_first_are_hashicorp() {
        let response = b"\xa0\x84\xa7Granted\xc3";
        assert_eq!(detect(response, &[]), Some(Dialect::Hashicorp));
        let error = b"\xa5oops!\xc0";
        assert_eq!(detect(error, &[]), Some(Dialect::Hashicorp));
        assert_eq!(
            detect(&error[..3], &[]),
            None,
            "a long error string may still be arriving"
        );
        assert_eq!(
            detect(&error[..6], &[]),
            None,
            "the string is whole, what follows it is not in"
        );
        assert_eq!(
            detect(b"\xa5oops!\x42", &[]),
            Some(Dialect::Rfw),
            "a string, then no map or nil"
        );
        assert_eq!(detect_final(&[0x00], &[]), Dialect::Hashicorp);
        assert_eq!(detect_final(&[0x01, 0x86], &[]), Dialect::Hashicorp);
        assert_eq!(detect(&[0xC1, b'R', b'F', b'W'], &[]), Some(Dialect::Rfw));
        assert_eq!(detect(b"GET / HTTP/1.1", &[]), Some(Dialect::Rfw));
        assert_eq!(detect_final(&[0xC1], &[]), Dialect::Rfw);
    }
}
