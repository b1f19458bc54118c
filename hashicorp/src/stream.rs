//! Checking one hashicorp/raft connection: the request direction message by message (rpc type
//! byte, request map, and for InstallSnapshot exactly `Size` raw bytes), the response direction
//! (error string, response map or nil) paired with the oldest unanswered request, and, wherever a
//! stream stops parsing, a diagnosis and a resynchronisation on the next whole message.

use std::collections::BTreeMap;

use crate::diagnose::{in_requests, in_responses, Diagnosis};
use crate::messages::{self, Decoded};
use crate::msgpack::{self, Value};

/// One finding, positioned in its direction's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Byte offset within the direction.
    pub offset: u64,
    /// Stable code.
    pub code: &'static str,
    /// The requirement (HASHICORP.md).
    pub requirement: &'static str,
    /// `MUST` (a broken stream), or `INFO`.
    pub level: &'static str,
    /// Explanation.
    pub message: String,
}

/// What one direction showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Direction {
    /// Bytes in the direction.
    pub bytes: u64,
    /// Messages decoded, by the names raft uses.
    pub by_type: BTreeMap<String, u64>,
    /// Bytes passed over after desyncs.
    pub skipped: u64,
    /// Findings, in offset order.
    pub findings: Vec<Finding>,
    /// Every message decoded: (offset, name), for a dissector view.
    pub messages: Vec<(u64, String)>,
}

/// What the connection showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// Client to server (requests).
    pub requests: Direction,
    /// Server to client (responses).
    pub responses: Direction,
    /// Facts: stream prefixes stripped, encryption, the sender's release as its bytes reveal it.
    pub notes: Vec<String>,
    /// True when the stream is TLS and nothing could be checked.
    pub encrypted: bool,
}

fn requirement(code: &str) -> &'static str {
    match code {
        "hc_response_in_request_direction" | "hc_request_in_response_direction" => "HC-3",
        "hc_unsolicited_response" => "HC-4",
        c if c.starts_with("hc_foreign") => "HC-5",
        "hc_truncated" => "HC-6",
        "hc_unknown_field"
        | "hc_missing_field"
        | "hc_wrong_field_type"
        | "hc_duplicate_field"
        | "hc_not_a_map"
        | "hc_bad_key" => "HC-2",
        "hc_entry_index_gap" | "hc_unknown_log_type" | "hc_bad_snapshot_size" => "HC-7",
        _ => "HC-1",
    }
}

impl Direction {
    fn find(&mut self, offset: usize, code: &'static str, level: &'static str, message: String) {
        if self.findings.len() < 1000 {
            self.findings.push(Finding {
                offset: offset as u64,
                code,
                requirement: requirement(code),
                level,
                message,
            });
        }
    }

    fn decoded(&mut self, offset: usize, d: &Decoded, hints: &mut Vec<&'static str>) {
        *self.by_type.entry(d.name.clone()).or_default() += 1;
        self.messages.push((offset as u64, d.name.clone()));
        for p in &d.problems {
            self.find(offset, p.code, if p.info { "INFO" } else { "MUST" }, p.message.clone());
        }
        for h in &d.release_hints {
            if !hints.contains(h) {
                hints.push(h);
            }
        }
    }
}

fn is_map_start(b: u8) -> bool {
    matches!(b, 0x80..=0x8f | 0xde | 0xdf)
}

/// What trying to read a message at a position gave.
enum Attempt<T> {
    /// A whole message.
    Whole(T),
    /// A valid start, cut short by the end of the stream.
    NeedsMore,
    /// Not a message.
    Invalid,
}

/// A whole request at `at`: (rpc type, its decoding, bytes it occupies without snapshot data).
fn request_at(buf: &[u8], at: usize) -> Option<Attempt<(u8, Decoded, usize)>> {
    let t = *buf.get(at)?;
    let body = buf.get(at + 1..)?;
    if t > 4 || !body.first().copied().is_some_and(is_map_start) {
        return Some(Attempt::Invalid);
    }
    Some(match msgpack::value(body) {
        Ok((rest, v)) => Attempt::Whole((t, messages::request(t, &v), 1 + body.len() - rest.len())),
        Err(nom::Err::Incomplete(_)) => Attempt::NeedsMore,
        Err(_) => Attempt::Invalid,
    })
}

/// A whole response at `at`: (error text, body, bytes).
fn response_at(buf: &[u8], at: usize) -> Option<Attempt<(&[u8], Value<'_>, usize)>> {
    let body = buf.get(at..).filter(|b| !b.is_empty())?;
    let parsed = msgpack::value(body).and_then(|(rest, e)| msgpack::value(rest).map(|(rest, v)| (rest, e, v)));
    Some(match parsed {
        Ok((rest, Value::Str(err), v)) if matches!(v, Value::Map(_) | Value::Nil) => {
            Attempt::Whole((err, v, body.len() - rest.len()))
        }
        Ok(_) => Attempt::Invalid,
        Err(nom::Err::Incomplete(_)) => Attempt::NeedsMore,
        Err(_) => Attempt::Invalid,
    })
}

/// Strips what products put before the Raft bytes. Returns (bytes to skip, encrypted).
fn prefix(buf: &[u8], notes: &mut Vec<String>) -> (usize, bool) {
    let tls = |b: &[u8]| matches!(b, [0x16, 0x03, 0x00..=0x04, ..]);
    let request_follows = |b: &[u8]| matches!(b, [0..=4, m, ..] if is_map_start(*m));
    match buf {
        [0x01, rest @ ..] if request_follows(rest) => {
            notes.push("the client->server stream starts with 0x01: Consul's server-RPC prefix for Raft (pool.RPCRaft), stripped".into());
            (1, false)
        }
        [0x02, rest @ ..] if request_follows(rest) => {
            notes.push(
                "the client->server stream starts with 0x02: Nomad's RPC prefix for Raft (rpcRaft), stripped".into(),
            );
            (1, false)
        }
        [0x03, rest @ ..] if tls(rest) => {
            notes.push("0x03 then a TLS handshake: Consul's encrypted server RPC (RPCTLS); the Raft bytes are encrypted and cannot be checked".into());
            (1, true)
        }
        [0x04, rest @ ..] if tls(rest) => {
            notes.push(
                "0x04 then a TLS handshake: Nomad's encrypted RPC; the Raft bytes are encrypted and cannot be checked"
                    .into(),
            );
            (1, true)
        }
        b if tls(b) => {
            notes.push("the stream is TLS (a handshake record first): encrypted, so it cannot be checked (Vault's cluster port and OpenZiti run Raft inside TLS)".into());
            (0, true)
        }
        _ => (0, false),
    }
}

/// True if a client->server stream starts like hashicorp/raft NetworkTransport (after any prefix).
pub fn looks_like(c2s: &[u8]) -> bool {
    let mut notes = Vec::new();
    let (skip, encrypted) = prefix(c2s, &mut notes);
    encrypted || matches!(c2s.get(skip..), Some([0..=4, m, ..]) if is_map_start(*m))
}

fn diagnose(dir: &mut Direction, at: usize, d: Diagnosis) {
    dir.find(at, d.code, "MUST", d.message);
}

/// Checks one connection.
pub fn check(c2s: &[u8], s2c: &[u8]) -> Connection {
    let mut c = Connection {
        requests: Direction {
            bytes: c2s.len() as u64,
            ..Direction::default()
        },
        responses: Direction {
            bytes: s2c.len() as u64,
            ..Direction::default()
        },
        ..Connection::default()
    };
    let (mut at, encrypted) = prefix(c2s, &mut c.notes);
    if encrypted {
        c.encrypted = true;
        return c;
    }
    let mut hints: Vec<&'static str> = Vec::new();
    let mut sent: Vec<u8> = Vec::new();
    while at < c2s.len() {
        match request_at(c2s, at) {
            Some(Attempt::Whole((t, d, len))) => {
                c.requests.decoded(at, &d, &mut hints);
                sent.push(t);
                at += len;
                if let Some(size) = d.snapshot_size {
                    let end = at as u64 + size;
                    if end > c2s.len() as u64 {
                        c.requests.find(at, "hc_truncated", "MUST", format!("the stream ends inside the {size} bytes of InstallSnapshot data that follow the request"));
                        break;
                    }
                    at = end as usize;
                }
            }
            Some(Attempt::NeedsMore) => {
                c.requests.find(
                    at,
                    "hc_truncated",
                    "MUST",
                    "the stream ends inside a request (connection cut, or the capture is incomplete)".into(),
                );
                break;
            }
            _ => {
                diagnose(&mut c.requests, at, in_requests(c2s.get(at..).unwrap_or_default()));
                // A whole response in the wrong direction is passed over as one unit.
                if let Some(Attempt::Whole((_, _, len))) = response_at(c2s, at) {
                    c.requests.skipped += len as u64;
                    at += len;
                    continue;
                }
                let next = (at + 1..c2s.len())
                    .find(|&q| matches!(request_at(c2s, q), Some(Attempt::Whole((_, d, _))) if d.problems.iter().all(|p| p.info)));
                let next = next.unwrap_or(c2s.len());
                c.requests.skipped += (next - at) as u64;
                at = next;
            }
        }
    }
    let mut at = 0;
    let mut answered = 0usize;
    while at < s2c.len() {
        match response_at(s2c, at) {
            Some(Attempt::Whole((err, v, len))) => {
                match sent.get(answered) {
                    Some(&t) => {
                        let d = messages::response(t, &v);
                        c.responses.decoded(at, &d, &mut hints);
                        if !err.is_empty() {
                            c.responses.find(
                                at,
                                "hc_error_response",
                                "INFO",
                                format!("{} carries the error {:?}", d.name, String::from_utf8_lossy(err)),
                            );
                        }
                    }
                    None => c.responses.find(
                        at,
                        "hc_unsolicited_response",
                        "MUST",
                        format!(
                            "response {} answers no request: responses outnumber the {} requests",
                            answered + 1,
                            sent.len()
                        ),
                    ),
                }
                answered += 1;
                at += len;
            }
            Some(Attempt::NeedsMore) => {
                c.responses
                    .find(at, "hc_truncated", "MUST", "the stream ends inside a response".into());
                break;
            }
            _ => {
                diagnose(&mut c.responses, at, in_responses(s2c.get(at..).unwrap_or_default()));
                // A whole request in the wrong direction is passed over as one unit.
                if let Some(Attempt::Whole((_, d, len))) = request_at(s2c, at) {
                    let skip = (len as u64 + d.snapshot_size.unwrap_or(0)).min((s2c.len() - at) as u64);
                    c.responses.skipped += skip;
                    at += skip as usize;
                    continue;
                }
                let next = (at + 1..s2c.len()).find(|&q| {
                    matches!(s2c.get(q), Some(0xa0..=0xbf | 0xda))
                        && matches!(response_at(s2c, q), Some(Attempt::Whole(_)))
                });
                let next = next.unwrap_or(s2c.len());
                c.responses.skipped += (next - at) as u64;
                at = next;
            }
        }
    }
    if answered < sent.len() && !s2c.is_empty() {
        c.notes.push(format!(
            "{} request(s) unanswered when the capture ends (in flight at shutdown?)",
            sent.len() - answered
        ));
    }
    c.notes.extend(hints.into_iter().map(str::to_string));
    c
}
