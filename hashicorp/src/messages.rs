//! The request and response structs of hashicorp/raft's NetworkTransport, as go-msgpack writes
//! them (maps keyed by Go field names, the RPCHeader flattened in), checked key by key against
//! the field sets of the releases in common use (1.1.x to 1.7.x).

use crate::msgpack::Value;
use crate::release::{Feature, FeatureSet};

/// The rpc type bytes.
pub const APPEND_ENTRIES: u8 = 0;
/// RequestVote.
pub const REQUEST_VOTE: u8 = 1;
/// InstallSnapshot (followed by `Size` raw bytes).
pub const INSTALL_SNAPSHOT: u8 = 2;
/// TimeoutNow (raft >= 1.1.0).
pub const TIMEOUT_NOW: u8 = 3;
/// RequestPreVote (raft >= 1.7.0).
pub const REQUEST_PRE_VOTE: u8 = 4;

/// The name of the response to rpc type `t`, as reports use it.
pub fn response_name(t: u8) -> &'static str {
    match t {
        APPEND_ENTRIES => "AppendEntriesResponse",
        REQUEST_VOTE => "RequestVoteResponse",
        INSTALL_SNAPSHOT => "InstallSnapshotResponse",
        TIMEOUT_NOW => "TimeoutNowResponse",
        REQUEST_PRE_VOTE => "RequestPreVoteResponse",
        _ => "unknownResponse",
    }
}

/// A few short static texts, each kept once, in the order first added, without allocating: a
/// message reveals at most a handful of release facts, however many entries repeat them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hints {
    list: [&'static str; 8],
    len: usize,
}

impl Hints {
    /// Adds `h` unless it is there (or eight are: no message reveals more).
    pub fn push(&mut self, h: &'static str) {
        if !self.iter().any(|x| x == h) && self.len < self.list.len() {
            self.list[self.len] = h;
            self.len += 1;
        }
    }

    /// The texts, in the order first added.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.list.iter().take(self.len).copied()
    }

    /// True if there is none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The name raft gives an rpc type, as reports use it.
pub fn rpc_name(t: u8) -> &'static str {
    match t {
        APPEND_ENTRIES => "AppendEntries",
        REQUEST_VOTE => "RequestVote",
        INSTALL_SNAPSHOT => "InstallSnapshot",
        TIMEOUT_NOW => "TimeoutNow",
        REQUEST_PRE_VOTE => "RequestPreVote",
        _ => "unknown",
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Bytes,
    Uint,
    Int,
    Bool,
    Entries,
    Time,
}

/// (key, kind, required): required keys are those every supported release writes.
type Schema = &'static [(&'static str, Kind, bool)];

const HEADER: Schema = &[
    ("Addr", Kind::Bytes, false),
    ("ID", Kind::Bytes, false),
    ("ProtocolVersion", Kind::Int, true),
];

fn schema(t: u8, response: bool) -> Schema {
    use Kind::*;
    match (t, response) {
        (APPEND_ENTRIES, false) => &[
            ("Entries", Entries, true),
            ("Leader", Bytes, false),
            ("LeaderCommitIndex", Uint, true),
            ("PrevLogEntry", Uint, true),
            ("PrevLogTerm", Uint, true),
            ("Term", Uint, true),
        ],
        (APPEND_ENTRIES, true) => &[
            ("LastLog", Uint, true),
            ("NoRetryBackoff", Bool, true),
            ("Success", Bool, true),
            ("Term", Uint, true),
        ],
        (REQUEST_VOTE, false) => &[
            ("Candidate", Bytes, false),
            ("LastLogIndex", Uint, true),
            ("LastLogTerm", Uint, true),
            ("LeadershipTransfer", Bool, false),
            ("Term", Uint, true),
        ],
        (REQUEST_VOTE, true) => &[("Granted", Bool, true), ("Peers", Bytes, false), ("Term", Uint, true)],
        (INSTALL_SNAPSHOT, false) => &[
            ("Configuration", Bytes, false),
            ("ConfigurationIndex", Uint, false),
            ("LastLogIndex", Uint, true),
            ("LastLogTerm", Uint, true),
            ("Leader", Bytes, false),
            ("Peers", Bytes, false),
            ("Size", Int, true),
            ("SnapshotVersion", Int, true),
            ("Term", Uint, true),
        ],
        (INSTALL_SNAPSHOT, true) => &[("Success", Bool, true), ("Term", Uint, true)],
        (TIMEOUT_NOW, _) => &[],
        (REQUEST_PRE_VOTE, false) => &[
            ("LastLogIndex", Uint, true),
            ("LastLogTerm", Uint, true),
            ("Term", Uint, true),
        ],
        (REQUEST_PRE_VOTE, true) => &[("Granted", Bool, true), ("Term", Uint, true)],
        _ => &[],
    }
}

const LOG: Schema = &[
    ("AppendedAt", Kind::Time, false),
    ("Data", Kind::Bytes, true),
    ("Extensions", Kind::Bytes, false),
    ("Index", Kind::Uint, true),
    ("Term", Kind::Uint, true),
    ("Type", Kind::Uint, true),
];

/// Every key some supported release writes in some message: a key outside this set may be a newer
/// release's (information), a key inside it but not in the message's own schema is another
/// message's field, which no release writes there: the bytes are another message's.
fn known_anywhere(key: &[u8]) -> bool {
    const TYPES: [u8; 5] = [
        APPEND_ENTRIES,
        REQUEST_VOTE,
        INSTALL_SNAPSHOT,
        TIMEOUT_NOW,
        REQUEST_PRE_VOTE,
    ];
    let in_schema = |s: Schema| s.iter().any(|(n, _, _)| n.as_bytes() == key);
    in_schema(HEADER)
        || in_schema(LOG)
        || TYPES
            .iter()
            .any(|&t| in_schema(schema(t, false)) || in_schema(schema(t, true)))
}

/// The fewest and most keys a map of rpc type `t` (a request, or with `response` its answer) has
/// in any supported release: the header's and the body's required keys, and all of them.
pub fn map_size_range(t: u8, response: bool) -> (usize, usize) {
    let (mut min, mut max) = (0, 0);
    for (_, _, required) in HEADER.iter().chain(schema(t, response).iter()) {
        min += usize::from(*required);
        max += 1;
    }
    (min, max)
}

/// A problem found in one message, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Stable code, e.g. `hc_missing_field`.
    pub code: &'static str,
    /// What exactly.
    pub message: String,
    /// Informational only (an unknown field is a newer release, not an error).
    pub info: bool,
}

/// What a decoded message tells the stream checker and the report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decoded {
    /// The report's name: `AppendEntries`, `AppendEntries(heartbeat)`, `RequestVoteResponse`, ...
    pub name: &'static str,
    /// InstallSnapshot: the raw snapshot bytes that follow the request.
    pub snapshot_size: Option<u64>,
    /// Facts about the sender's release that the bytes reveal (each once).
    pub release_hints: Hints,
    /// Everything wrong or notable.
    pub problems: Vec<Problem>,
    /// The map's `Term`, where it has one (every request and response but TimeoutNow's).
    pub term: Option<u64>,
    /// What the message says about its sender and the cluster, for the cluster view.
    pub facts: Facts,
}

/// What a message says about who wrote it and what happened, beyond its validity: the cluster
/// view's input. Text fields are the bytes as written (lossy UTF-8); absent fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    /// RPCHeader `ID`: the writer's server id (raft >= 1.3.7; empty in some responses).
    pub id: Option<String>,
    /// RPCHeader `Addr`: the writer's advertised address.
    pub addr: Option<String>,
    /// AppendEntries / InstallSnapshot `Leader`: the leader's address.
    pub leader: Option<String>,
    /// RequestVote `Candidate`: the candidate's address.
    pub candidate: Option<String>,
    /// A vote's answer (RequestVote / RequestPreVote responses).
    pub granted: Option<bool>,
    /// AppendEntries / InstallSnapshot responses.
    pub success: Option<bool>,
    /// Entries an AppendEntries carries.
    pub entries: u64,
    /// RequestVote `LeadershipTransfer`.
    pub leadership_transfer: bool,
    /// The wire features the message shows, which bound its writer's release.
    pub features: FeatureSet,
}

fn text(v: Option<&Value<'_>>) -> Option<String> {
    v.and_then(|v| v.bytes().map(|b| String::from_utf8_lossy(b).into_owned()))
        .filter(|s| !s.is_empty())
}

fn boolean(v: Option<&Value<'_>>) -> Option<bool> {
    match v {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

impl Facts {
    fn feature(&mut self, f: Feature) {
        self.features.insert(f);
    }

    /// The header's fields, and what their presence says of the writer's release.
    fn header(&mut self, fields: Fields<'_, '_>, text_too: bool) {
        if text_too {
            self.id = text(get(fields, "ID"));
            self.addr = text(get(fields, "Addr"));
        }
        if fields.is_empty() {
            return;
        }
        self.feature(if get(fields, "Addr").is_some() {
            Feature::HeaderIdAddr
        } else {
            Feature::HeaderWithoutIdAddr
        });
    }
}

fn kind_ok(kind: Kind, v: &Value<'_>) -> bool {
    match kind {
        Kind::Bytes => v.bytes().is_some(),
        Kind::Uint => v.uint().is_some(),
        Kind::Int => matches!(v, Value::Int { .. }),
        Kind::Bool => matches!(v, Value::Bool(_)),
        Kind::Entries => matches!(v, Value::Array(_) | Value::Nil),
        // Legacy MarshalBinary (15 or 16 bytes), the new timestamp forms (4, 8, 12 bytes), or nil.
        Kind::Time => matches!(v, Value::Nil) || v.bytes().is_some_and(|b| matches!(b.len(), 4 | 8 | 12 | 15 | 16)),
    }
}

/// A map's fields, borrowed from the parsed map: looked up by key where needed, never copied
/// (an AppendEntries has a map per entry).
type Fields<'v, 'a> = &'v [(Value<'a>, Value<'a>)];

/// Checks a map against `fields`. `what` names it in problems; it is only called for a problem,
/// so a clean message (the common case, once per entry of an AppendEntries) formats nothing.
fn check_map<'v, 'a>(
    what: &dyn Fn() -> String,
    v: &'v Value<'a>,
    fields: &[Schema],
    out: &mut Decoded,
) -> Fields<'v, 'a> {
    let Value::Map(pairs) = v else {
        out.problems.push(Problem {
            code: "hc_not_a_map",
            message: format!("{} is not a msgpack map", what()),
            info: false,
        });
        return &[];
    };
    // go-msgpack writes keys sorted: while they come in strictly increasing order there can be no
    // duplicate, and counting the required keys found tells whether one is missing, so the usual
    // map costs one schema lookup per key (the general checks run only for maps that need them).
    let mut sorted = true;
    let mut previous: Option<&[u8]> = None;
    let mut required_found = 0;
    for (i, (k, val)) in pairs.iter().enumerate() {
        let Some(key) = k.bytes().filter(|_| matches!(k, Value::Str(_))) else {
            out.problems.push(Problem {
                code: "hc_bad_key",
                message: format!("{} has a non-string key", what()),
                info: false,
            });
            sorted = false;
            continue;
        };
        if previous.is_some_and(|p| p >= key) {
            sorted = false;
        }
        previous = Some(key);
        let name = || String::from_utf8_lossy(key).into_owned();
        match fields
            .iter()
            .flat_map(|s| s.iter())
            .find(|(n, _, _)| n.as_bytes() == key)
        {
            Some((_, kind, required)) => {
                required_found += usize::from(*required);
                if !kind_ok(*kind, val) {
                    out.problems.push(Problem {
                        code: "hc_wrong_field_type",
                        message: format!("{}.{} holds the wrong msgpack type for a {kind:?}", what(), name()),
                        info: false,
                    });
                }
            }
            None if known_anywhere(key) => out.problems.push(Problem {
                code: "hc_foreign_field",
                message: {
                    let (what, name) = (what(), name());
                    format!(
                        "{what} has the field {name:?}, which only other messages carry: these bytes are another \
                         message's, or two messages were spliced (no release writes {name:?} in a {what})"
                    )
                },
                info: false,
            }),
            None => out.problems.push(Problem {
                code: "hc_unknown_field",
                message: format!(
                    "{} has a field {:?} no supported release writes (a newer release?)",
                    what(),
                    name()
                ),
                info: true,
            }),
        }
        if !sorted
            && pairs[..i]
                .iter()
                .any(|(s, _)| s.bytes() == Some(key) && matches!(s, Value::Str(_)))
        {
            out.problems.push(Problem {
                code: "hc_duplicate_field",
                message: format!("{}.{} appears twice", what(), name()),
                info: false,
            });
        }
    }
    let required = fields.iter().flat_map(|s| s.iter()).filter(|(_, _, r)| *r).count();
    if sorted && required_found == required {
        return pairs;
    }
    for (name, _, required) in fields.iter().flat_map(|s| s.iter()) {
        if *required && get(pairs, name).is_none() {
            out.problems.push(Problem {
                code: "hc_missing_field",
                message: format!("{} lacks the field {name}", what()),
                info: false,
            });
        }
    }
    pairs
}

fn get<'v, 'a>(fields: Fields<'v, 'a>, name: &str) -> Option<&'v Value<'a>> {
    fields
        .iter()
        .find(|(k, _)| matches!(k, Value::Str(key) if *key == name.as_bytes()))
        .map(|(_, v)| v)
}

/// Checks one request body of rpc type `t`.
pub fn request(t: u8, v: &Value<'_>) -> Decoded {
    request_with(t, v, true)
}

/// [`request`], with the text of [`Facts`] (ids and addresses, which cost an allocation each)
/// only if `facts`: a checker nobody observes does not need them.
pub fn request_with(t: u8, v: &Value<'_>, facts: bool) -> Decoded {
    let mut out = Decoded {
        name: rpc_name(t),
        ..Decoded::default()
    };
    let what = rpc_name(t);
    let fields = check_map(&|| what.to_string(), v, &[HEADER, schema(t, false)], &mut out);
    out.term = get(fields, "Term").and_then(|v| v.uint());
    if out.term == Some(0) {
        out.problems.push(Problem {
            code: "hc_zero_term",
            message: format!(
                "{what}.Term is 0: the library never sends a request in term 0 (a node's term is at least 1 once it \
                 leads or campaigns); this byte was written by another writer, or the message is cut"
            ),
            info: false,
        });
    }
    if get(fields, "Addr").is_some() {
        out.release_hints.push("RPCHeader has ID and Addr: raft >= 1.3.7");
    } else if !fields.is_empty() {
        out.release_hints.push("RPCHeader without ID and Addr: raft <= 1.3.6");
    }
    out.facts.header(fields, facts);
    if facts {
        out.facts.leader = text(get(fields, "Leader"));
        out.facts.candidate = text(get(fields, "Candidate"));
    }
    if t == REQUEST_VOTE && !fields.is_empty() {
        let transfer = boolean(get(fields, "LeadershipTransfer"));
        out.facts.leadership_transfer = transfer == Some(true);
        out.facts.feature(if transfer.is_some() {
            Feature::LeadershipTransferField
        } else {
            Feature::NoLeadershipTransferField
        });
    }
    match t {
        APPEND_ENTRIES => {
            let entries: &[Value<'_>] = match get(fields, "Entries") {
                Some(Value::Array(e)) => e,
                _ => &[],
            };
            if entries.is_empty() {
                out.name = "AppendEntries(heartbeat)";
            }
            out.facts.entries = entries.len() as u64;
            let mut next = get(fields, "PrevLogEntry").and_then(|p| p.uint()).map(|p| p + 1);
            for (k, e) in entries.iter().enumerate() {
                let log = check_map(&|| format!("AppendEntries.Entries[{k}]"), e, &[LOG], &mut out);
                let index = get(log, "Index").and_then(|i| i.uint());
                if let (Some(want), Some(got)) = (next, index) {
                    if want != got {
                        out.problems.push(Problem {
                            code: "hc_entry_index_gap",
                            message: format!(
                                "entry {k} has index {got}, expected {want} (consecutive from PrevLogEntry + 1)"
                            ),
                            info: false,
                        });
                    }
                }
                next = index.map(|i| i + 1);
                if get(log, "Type").and_then(|t| t.uint()).is_some_and(|t| t > 5) {
                    out.problems.push(Problem {
                        code: "hc_unknown_log_type",
                        message: format!("entry {k} has a log type above 5"),
                        info: false,
                    });
                }
                if log.is_empty() {
                    continue;
                }
                out.facts.feature(if get(log, "Extensions").is_some() {
                    Feature::LogExtensions
                } else {
                    Feature::LogWithoutExtensions
                });
                match get(log, "AppendedAt") {
                    Some(Value::Str(b)) if b.len() >= 15 => {
                        out.facts.feature(Feature::AppendedAtLegacy);
                        out.release_hints
                            .push("Log.AppendedAt in the legacy time format: raft >= 1.3.0")
                    }
                    Some(Value::Str(_)) | Some(Value::Nil) => {
                        out.facts.feature(Feature::AppendedAtNew);
                        out.release_hints
                            .push("Log.AppendedAt in the new time format: raft >= 1.6.0")
                    }
                    Some(_) => {}
                    None => {
                        out.facts.feature(Feature::NoAppendedAt);
                        if get(log, "Extensions").is_some() {
                            out.release_hints
                                .push("Log without AppendedAt, with Extensions: raft 1.1.1 - 1.2.x")
                        }
                    }
                }
            }
        }
        INSTALL_SNAPSHOT => match get(fields, "Size") {
            Some(&Value::Int { value, format }) if value >= 0 => {
                out.snapshot_size = u64::try_from(value).ok();
                if value > 127 {
                    let v2 = (0xd0..=0xd3).contains(&format);
                    out.facts
                        .feature(if v2 { Feature::SignedIntV2 } else { Feature::SignedIntV1 });
                    out.release_hints.push(if v2 {
                        "a positive signed integer written as int16/32/64: go-msgpack v2, raft >= 1.6.0"
                    } else {
                        "a positive signed integer written as uint8/16/32/64: go-msgpack 0.5.5, raft <= 1.5.0"
                    });
                }
            }
            Some(_) => out.problems.push(Problem {
                code: "hc_bad_snapshot_size",
                message: "InstallSnapshot.Size is negative".into(),
                info: false,
            }),
            None => {}
        },
        REQUEST_PRE_VOTE => {
            out.facts.feature(Feature::PreVote);
            out.release_hints.push("RequestPreVote: raft >= 1.7.0")
        }
        TIMEOUT_NOW => {
            out.facts.feature(Feature::TimeoutNow);
            out.release_hints.push("TimeoutNow: raft >= 1.1.0")
        }
        _ => {}
    }
    out
}

/// Checks one response body answering rpc type `t`. `Nil` is what raft writes when its handler
/// replied without an object (a header-version rejection).
pub fn response(t: u8, v: &Value<'_>) -> Decoded {
    response_with(t, v, true)
}

/// [`response`], with the text of [`Facts`] only if `facts`.
pub fn response_with(t: u8, v: &Value<'_>, facts: bool) -> Decoded {
    let mut out = Decoded {
        name: response_name(t),
        ..Decoded::default()
    };
    if matches!(v, Value::Nil) {
        return out;
    }
    let name = out.name;
    let fields = check_map(&|| name.to_string(), v, &[HEADER, schema(t, true)], &mut out);
    out.term = get(fields, "Term").and_then(|v| v.uint());
    out.facts.header(fields, facts);
    out.facts.granted = boolean(get(fields, "Granted"));
    out.facts.success = boolean(get(fields, "Success"));
    if t == REQUEST_PRE_VOTE && !fields.is_empty() {
        out.facts.feature(Feature::PreVote);
    }
    if t == TIMEOUT_NOW && !fields.is_empty() {
        out.facts.feature(Feature::TimeoutNow);
    }
    out
}
