//! `raftwire inspect`: a dissector view, one line per frame (offset, direction, type, request
//! id, length, summary), errors and skipped bytes inline, `--hex` for the bytes around errors.

use std::fmt::Write;
use std::path::Path;

use raftwire_codec::{Frame, Limits, Message};
use raftwire_conformance::{scan_all, Event};

use crate::dialect::Dialect;
use crate::render::hexdump;
use crate::source::Kind;

/// One line describing a message's fields.
pub fn summary(frame: &Frame) -> String {
    match &frame.message {
        Message::RequestVote(m) => format!(
            "term={} last_log={}/{} candidate={}{}{}",
            m.term,
            m.last_log_index,
            m.last_log_term,
            m.candidate_id,
            if m.pre_vote { " pre-vote" } else { "" },
            if m.leadership_transfer {
                " leadership-transfer"
            } else {
                ""
            }
        ),
        Message::RequestVoteResponse(m) => format!("term={} granted={}", m.term, m.granted),
        Message::AppendEntries(m) => {
            let entries = match (m.entries.first(), m.entries.last()) {
                (Some(a), Some(b)) => format!(
                    "entries={}..={} ({}, {} bytes)",
                    a.index,
                    b.index,
                    m.entries.len(),
                    m.entries.iter().map(|e| e.data.len()).sum::<usize>()
                ),
                _ => "heartbeat".to_string(),
            };
            format!(
                "term={} prev={}/{} commit={} leader={} {entries}",
                m.term, m.prev_log_index, m.prev_log_term, m.leader_commit, m.leader_id
            )
        }
        Message::AppendEntriesResponse(m) => format!(
            "term={} success={} last_log={}{}",
            m.term,
            m.success,
            m.last_log_index,
            if m.success {
                String::new()
            } else {
                format!(" conflict={}/{}", m.conflict_index, m.conflict_term)
            }
        ),
        Message::InstallSnapshot(m) => format!(
            "term={} snapshot={} upto={}/{} chunk={}+{} of {}{}",
            m.term,
            m.snapshot_id,
            m.last_included_index,
            m.last_included_term,
            m.offset,
            m.data.len(),
            m.total_size,
            if m.done { " done" } else { "" }
        ),
        Message::InstallSnapshotResponse(m) => {
            format!("term={} success={} stored={}", m.term, m.success, m.bytes_stored)
        }
        Message::TimeoutNow(m) => format!("term={} leader={}", m.term, m.leader_id),
        Message::TimeoutNowResponse(m) => format!("term={} success={}", m.term, m.success),
        Message::Error(m) => format!("{:?}: {:?}", m.code, m.message),
    }
}

fn direction(out: &mut String, label: &str, bytes: &[u8], limits: Limits, hex: bool) {
    for e in scan_all(bytes, limits) {
        match e {
            Event::Frame { offset, len, frame } => {
                let _ = writeln!(
                    out,
                    "{offset:>10} {label} {:<24} id={:<6} len={len:<7} {}",
                    frame.message_type().name(),
                    frame.request_id,
                    summary(&frame)
                );
            }
            Event::Error { error, context, .. } => {
                let _ = writeln!(out, "{:>10} {label} ERROR {error}", error.offset);
                if hex {
                    hexdump(
                        out,
                        &crate::report::Excerpt {
                            start: context.offset,
                            bytes: context.bytes,
                        },
                        error.offset,
                    );
                }
            }
            Event::Interleaved { frame, at } => {
                let _ = writeln!(
                    out,
                    "{at:>10} {label} NOTE the frame at {frame} is cut here by another frame: interleaved writers"
                );
            }
            Event::Skipped { offset, len } => {
                let _ = writeln!(out, "{offset:>10} {label} SKIPPED {len} bytes");
            }
        }
    }
}

/// One hashicorp/raft connection: a line per message, findings inline.
fn hashicorp(out: &mut String, c2s: &[u8], s2c: &[u8]) {
    let c = raftwire_hashicorp::check(c2s, s2c);
    for n in &c.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    for (label, d) in [("c->s", &c.requests), ("s->c", &c.responses)] {
        let mut lines: Vec<(u64, String)> = d
            .messages
            .iter()
            .map(|(o, name)| (*o, format!("{o:>10} {label} {name}")))
            .collect();
        lines.extend(d.findings.iter().map(|f| {
            let kind = if f.level == "INFO" { "NOTE" } else { "ERROR" };
            (
                f.offset,
                format!(
                    "{:>10} {label} {kind} {} [{}]: {}",
                    f.offset, f.code, f.requirement, f.message
                ),
            )
        }));
        lines.sort_by_key(|(o, _)| *o);
        for (_, l) in lines {
            let _ = writeln!(out, "{l}");
        }
    }
}

/// Dissects a raw stream file or every connection of a capture, in the dialect each speaks.
pub fn run(path: &Path, limits: Limits, ports: &[u16], hex: bool, dialect: Dialect) -> Result<String, String> {
    let mut out = String::new();
    let speaks_hashicorp = |c2s: &[u8], s2c: &[u8]| {
        dialect == Dialect::Hashicorp
            || (dialect == Dialect::Auto && crate::dialect::detect_final(c2s, s2c) == Dialect::Hashicorp)
    };
    let source = crate::source::Source::open(path)?;
    let kind = source.kind()?;
    if kind == Kind::Empty {
        return Err(format!("{}: empty: there is nothing to inspect", source.name));
    }
    if matches!(kind, Kind::Pcap | Kind::Pcapng) {
        let connections = crate::capture::extract::streams(&source, ports)?;
        if connections.is_empty() {
            return Err(format!(
                "{}: no TCP connection with data{} (IP fragments are not reassembled)",
                source.name,
                if ports.is_empty() { "" } else { " on the given --port" }
            ));
        }
        for c in connections {
            let hc = speaks_hashicorp(&c.bytes[0], &c.bytes[1]);
            let gaps = if c.gaps > 0 {
                format!(" ({} capture gaps)", c.gaps)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "connection {} -> {} [{}]{gaps}",
                c.client,
                c.server,
                if hc { "hashicorp" } else { "rfw" }
            );
            if hc {
                hashicorp(&mut out, &c.bytes[0], &c.bytes[1]);
            } else {
                direction(&mut out, "c->s", &c.bytes[0], limits, hex);
                direction(&mut out, "s->c", &c.bytes[1], limits, hex);
            }
        }
    } else {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut source.reader()?, &mut bytes).map_err(|e| format!("{}: {e}", source.name))?;
        let responses = matches!(bytes.first(), Some(0xa0..=0xbf | 0xda | 0xdb));
        let (c2s, s2c): (&[u8], &[u8]) = if responses { (&[], &bytes) } else { (&bytes, &[]) };
        if speaks_hashicorp(c2s, s2c) {
            hashicorp(&mut out, c2s, s2c);
        } else {
            direction(&mut out, "    ", &bytes, limits, hex);
        }
    }
    Ok(out)
}
