//! `raftwire inspect`: a dissector view, one line per frame (offset, direction, type, request
//! id, length, summary), errors and skipped bytes inline, `--hex` for the bytes around errors.

use std::fmt::Write;
use std::path::Path;

use raftwire_codec::{Frame, Limits, Message};
use raftwire_conformance::{scan_all, Event};

use crate::render::hexdump;

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
            Event::Error { error, context } => {
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

/// Dissects a raw stream file or every connection of a capture.
pub fn run(path: &Path, limits: Limits, ports: &[u16], hex: bool) -> Result<String, String> {
    let mut out = String::new();
    if crate::capture::is_capture(path) {
        for c in crate::capture::extract::streams(path, ports)? {
            let _ = writeln!(
                out,
                "connection {} -> {}{}",
                c.client,
                c.server,
                if c.gaps > 0 {
                    format!(" ({} capture gaps)", c.gaps)
                } else {
                    String::new()
                }
            );
            direction(&mut out, "c->s", &c.bytes[0], limits, hex);
            direction(&mut out, "s->c", &c.bytes[1], limits, hex);
        }
    } else {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        direction(&mut out, "    ", &bytes, limits, hex);
    }
    Ok(out)
}
