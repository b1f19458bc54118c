//! What checking one hashicorp/raft connection finds: the request direction message by message
//! (rpc type byte, request map, and for InstallSnapshot exactly `Size` raw bytes), the response
//! direction (error string, response map or nil) paired with the oldest unanswered request, and,
//! wherever a stream stops parsing, a diagnosis and a resynchronisation on the next whole
//! message. The checking itself is incremental ([`Checker`]); [`check`] runs it on whole streams.

use std::collections::BTreeMap;

use crate::checker::Checker;
use crate::messages::{self, Decoded};
use crate::msgpack::{self, Value};

/// One finding, positioned in its direction's stream.
#[derive(Debug, Clone)]
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
    /// The bytes around `offset` that the checker held when it found it, and the stream offset
    /// of the first: for a person to look at. Which bytes were held depends on how the stream
    /// arrived, so two findings are equal whatever their bytes.
    pub bytes: Option<(u64, Vec<u8>)>,
}

impl PartialEq for Finding {
    fn eq(&self, other: &Finding) -> bool {
        (self.offset, self.code, self.requirement, self.level, &self.message)
            == (other.offset, other.code, other.requirement, other.level, &other.message)
    }
}

impl Eq for Finding {}

/// What one direction showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Direction {
    /// Bytes in the direction.
    pub bytes: u64,
    /// Messages decoded, by the names raft uses.
    pub by_type: BTreeMap<String, u64>,
    /// Bytes passed over after desyncs.
    pub skipped: u64,
    /// Findings, in offset order (the first [`MAX_FINDINGS`]).
    pub findings: Vec<Finding>,
    /// Findings past [`MAX_FINDINGS`]: counted, not listed.
    pub findings_omitted: u64,
    /// Of which, MUST-level findings.
    pub omitted_must: u64,
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

/// Most findings listed per direction: a stream of garbage cannot grow the report without bound.
pub const MAX_FINDINGS: usize = 1000;

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
        | "hc_bad_key"
        | "hc_foreign_field" => "HC-2",
        "hc_zero_term" | "hc_term_regressed" => "HC-8",
        "hc_unconfirmed" => "HC-9",
        "hc_entry_index_gap" | "hc_unknown_log_type" | "hc_bad_snapshot_size" => "HC-7",
        _ => "HC-1",
    }
}

impl Direction {
    pub(crate) fn find(&mut self, offset: u64, code: &'static str, level: &'static str, message: String) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(Finding {
                offset,
                code,
                requirement: requirement(code),
                level,
                message,
                bytes: None,
            });
        } else {
            self.findings_omitted += 1;
            self.omitted_must += u64::from(level == "MUST");
        }
    }

    /// Records a decoded message (listed in `messages` only with `list`).
    pub(crate) fn decoded(&mut self, offset: u64, d: &Decoded, hints: &mut Vec<&'static str>, list: bool) {
        match self.by_type.get_mut(d.name) {
            Some(n) => *n += 1,
            None => {
                self.by_type.insert(d.name.to_string(), 1);
            }
        }
        if list {
            self.messages.push((offset, d.name.to_string()));
        }
        for p in &d.problems {
            self.find(offset, p.code, if p.info { "INFO" } else { "MUST" }, p.message.clone());
        }
        for h in d.release_hints.iter() {
            if !hints.contains(&h) {
                hints.push(h);
            }
        }
    }
}

fn is_map_start(b: u8) -> bool {
    matches!(b, 0x80..=0x8f | 0xde | 0xdf)
}

/// What trying to read a message at a position gave.
pub(crate) enum Attempt<T> {
    /// A whole message.
    Whole(T),
    /// A valid start, cut short by the end of the stream.
    NeedsMore,
    /// Not a message.
    Invalid,
}

impl<T> Attempt<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Whole(t) => Attempt::Whole(f(t)),
            Attempt::NeedsMore => Attempt::NeedsMore,
            Attempt::Invalid => Attempt::Invalid,
        }
    }
}

/// A whole request at `at`: (rpc type, its decoding, bytes it occupies without snapshot data).
pub(crate) fn request_at(buf: &[u8], at: usize) -> Option<Attempt<(u8, Decoded, usize)>> {
    request_at_with(buf, at, false)
}

/// [`request_at`], with the [`Facts`](messages::Facts)' texts if `facts`.
pub(crate) fn request_at_with(buf: &[u8], at: usize, facts: bool) -> Option<Attempt<(u8, Decoded, usize)>> {
    let t = *buf.get(at)?;
    let body = buf.get(at + 1..)?;
    if t > 4 {
        return Some(Attempt::Invalid);
    }
    match body.first() {
        // An rpc type and nothing yet: a request cut after its type byte, if the stream ends.
        None => return Some(Attempt::NeedsMore),
        Some(m) if !is_map_start(*m) => return Some(Attempt::Invalid),
        Some(_) => {}
    }
    Some(msgpack::with_arena(|arena| match msgpack::value_in(body, arena) {
        Ok((rest, v)) => Attempt::Whole((t, messages::request_with(t, &v, facts), 1 + body.len() - rest.len())),
        Err(nom::Err::Incomplete(_)) => Attempt::NeedsMore,
        Err(_) => Attempt::Invalid,
    }))
}

/// A whole response at `at`: (error text, bytes).
pub(crate) fn response_at(buf: &[u8], at: usize) -> Option<Attempt<(&[u8], usize)>> {
    response_decoded_at(buf, at, None, false).map(|a| a.map(|(err, _, len)| (err, len)))
}

/// A whole response: its error text, what it says (when the request it answers is known), and
/// how many bytes it occupies.
pub(crate) type Response<'b> = (&'b [u8], Option<Decoded>, usize);

/// A whole response at `at`, decoded as the answer to a request of type `rpc` if given (with the
/// [`Facts`](messages::Facts)' texts if `facts`): (error text, what it says, bytes).
pub(crate) fn response_decoded_at(
    buf: &[u8],
    at: usize,
    rpc: Option<u8>,
    facts: bool,
) -> Option<Attempt<Response<'_>>> {
    let body = buf.get(at..).filter(|b| !b.is_empty())?;
    Some(msgpack::with_arena(|arena| {
        let parsed = msgpack::value_in(body, arena)
            .and_then(|(rest, e)| msgpack::value_in(rest, arena).map(|(rest, v)| (rest, e, v)));
        match parsed {
            Ok((rest, Value::Str(err), v)) if matches!(v, Value::Map(_) | Value::Nil) => Attempt::Whole((
                // The error text is a slice of `body`: taken from it again, it outlives the arena.
                msgpack::range_in(body, err)
                    .and_then(|r| body.get(r))
                    .unwrap_or_default(),
                rpc.map(|t| messages::response_with(t, &v, facts)),
                body.len() - rest.len(),
            )),
            Ok(_) => Attempt::Invalid,
            Err(nom::Err::Incomplete(_)) => Attempt::NeedsMore,
            Err(_) => Attempt::Invalid,
        }
    }))
}

/// Strips what products put before the Raft bytes. Returns (bytes to skip, encrypted).
pub(crate) fn prefix(buf: &[u8], notes: &mut Vec<String>) -> (usize, bool) {
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

/// True if a stream starts like a hashicorp/raft response: an error string (empty: `a0`), then a
/// map or nil. In the request direction, that is the shared-connection failure itself (a
/// response where a request belongs), so a stream starting this way is hashicorp/raft too.
pub fn looks_like_response(bytes: &[u8]) -> bool {
    match bytes {
        [0xa0, m, ..] => is_map_start(*m) || *m == 0xc0,
        [0xa1..=0xbf | 0xda | 0xdb, ..] => msgpack::with_arena(|arena| {
            matches!(
                msgpack::value_in(bytes, arena),
                Ok((rest, Value::Str(_))) if rest.first().is_some_and(|m| is_map_start(*m) || *m == 0xc0)
            )
        }),
        _ => false,
    }
}

/// Checks one connection from its two whole streams: [`Checker`] fed each stream at once.
pub fn check(c2s: &[u8], s2c: &[u8]) -> Connection {
    let mut checker = Checker::new(true);
    checker.requests(c2s);
    checker.responses(s2c);
    checker.finish()
}
