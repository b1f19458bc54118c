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
        return Some(if raftwire_hashicorp::looks_like(c2s) {
            Dialect::Hashicorp
        } else {
            Dialect::Rfw
        });
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
                excerpt: None,
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
    }
}
