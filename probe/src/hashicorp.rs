//! The hashicorp/raft NetworkTransport cases: what a node running the real library does with the
//! inputs people meet in issue threads (`unknown rpc type 71`, `80`, `160`), with lengths that
//! claim gigabytes, wrong or missing fields, a Consul prefix, truncation, and stale requests it
//! must answer. Requests are written as raft 1.1.2 writes them (every release since reads them)
//! and carry term 1 or 0, so a node past its first election refuses them and changes nothing.
//!
//! The library has no specification of its own: the levels follow its documented behaviour and
//! HASHICORP.md. A decode error closes the connection (`failed to decode incoming command`), so
//! the cases it must refuse expect a close; where the library by design decodes what a strict
//! reader would refuse (missing and unknown keys are how releases interoperate), or where no
//! bound exists to hold it to (lengths of gigabytes), the case is informational: it records what
//! the node did.

use std::time::Duration;

use raftwire_hashicorp::craft::{self, V};
use raftwire_hashicorp::messages::{self, response_name};
use raftwire_hashicorp::Checker;

use crate::case::{Answer, Case, Expect, Level, Step};
use crate::foreign::{HTTP2_PREFACE, HTTP_GET, TLS_CLIENT_HELLO};
use crate::{Dialect, Seen};

/// The hashicorp/raft dialect (HASHICORP.md).
#[derive(Debug, Default, Clone, Copy)]
pub struct Hashicorp;

const LEADER: &[u8] = b"raftwire-probe:1";

fn heartbeat_with(fields: &[(&str, V<'_>)]) -> Vec<u8> {
    craft::request(messages::APPEND_ENTRIES, fields)
}

/// A heartbeat's fields, as raft 1.1.2 writes them (keys sorted), with `term` as its Term's
/// value: the cases that break one field start from it.
fn heartbeat_fields(term: V<'static>) -> Vec<(&'static str, V<'static>)> {
    vec![
        ("Entries", V::Nil),
        ("Leader", V::S(LEADER)),
        ("LeaderCommitIndex", V::U(0)),
        ("PrevLogEntry", V::U(0)),
        ("PrevLogTerm", V::U(0)),
        ("ProtocolVersion", V::U(3)),
        ("Term", term),
    ]
}

/// A heartbeat of `term`, as raft 1.1.2 writes one.
fn heartbeat(term: u64) -> Vec<u8> {
    heartbeat_with(&heartbeat_fields(V::U(term)))
}

fn vote(term: u64) -> Vec<u8> {
    craft::request(
        messages::REQUEST_VOTE,
        &[
            ("Candidate", V::S(LEADER)),
            ("LastLogIndex", V::U(0)),
            ("LastLogTerm", V::U(0)),
            ("LeadershipTransfer", V::B(false)),
            ("ProtocolVersion", V::U(3)),
            ("Term", V::U(term)),
        ],
    )
}

/// An AppendEntries of term 1 carrying one entry of log type `kind`.
fn append_one(kind: u64) -> Vec<u8> {
    let entry = craft::map(&[
        ("Data", V::S(b"raftwire probe")),
        ("Extensions", V::Nil),
        ("Index", V::U(1)),
        ("Term", V::U(1)),
        ("Type", V::U(kind)),
    ]);
    let mut fields = heartbeat_fields(V::U(1));
    fields[0].1 = V::Raw(craft::array(&[entry]));
    heartbeat_with(&fields)
}

/// A term-1 InstallSnapshot announcing `size` bytes (as raft writes `Size`, an int64), followed
/// by `data`.
fn snapshot(size: V<'_>, data: &[u8]) -> Vec<u8> {
    let configuration = craft::map(&[(
        "Servers",
        V::Raw(craft::array(&[craft::map(&[
            ("Address", V::S(LEADER)),
            ("ID", V::S(b"raftwire-probe")),
            ("Suffrage", V::U(0)),
        ])])),
    )]);
    let mut out = craft::request(
        messages::INSTALL_SNAPSHOT,
        &[
            (
                "Configuration",
                V::Raw({
                    let mut c = Vec::new();
                    craft::put(&mut c, &V::S(&configuration));
                    c
                }),
            ),
            ("ConfigurationIndex", V::U(1)),
            ("LastLogIndex", V::U(1)),
            ("LastLogTerm", V::U(1)),
            ("Leader", V::S(LEADER)),
            ("Peers", V::Nil),
            ("ProtocolVersion", V::U(3)),
            ("Size", size),
            ("SnapshotVersion", V::U(1)),
            ("Term", V::U(1)),
        ],
    );
    out.extend_from_slice(data);
    out
}

/// A heartbeat whose `Leader` value is replaced by `header` (a length claiming gigabytes) and
/// nothing after it: the bytes the length announces never come.
fn claims(header: &[u8]) -> Vec<u8> {
    let mut out = vec![messages::APPEND_ENTRIES, 0x87];
    craft::put(&mut out, &V::S(b"Entries"));
    out.push(0xc0);
    craft::put(&mut out, &V::S(b"Leader"));
    out.extend_from_slice(header);
    out
}

/// The unsigned (or non-negative signed) msgpack integer at the start of `b`; `None` for anything
/// else, which a caller must treat as possibly large.
fn leading_uint(b: &[u8]) -> Option<u64> {
    let be = |n: usize| -> Option<u64> {
        let bytes = b.get(1..1 + n)?;
        Some(bytes.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    };
    match *b.first()? {
        x @ 0x00..=0x7f => Some(u64::from(x)),
        0xe0..=0xff => Some(0),
        0xcc | 0xd0 => be(1),
        0xcd | 0xd1 => be(2),
        0xce | 0xd2 => be(4),
        0xcf | 0xd3 => be(8),
        _ => None,
    }
}

fn answer(rpc: u8) -> Answer {
    Answer {
        id: None,
        kind: response_name(rpc),
    }
}

struct Table(Vec<Case>);

impl Table {
    /// Adds `c`, whose `id` is given as the case's name: the table prefixes the dialect and
    /// requirement.
    fn push(&mut self, mut c: Case) {
        c.id = format!("hashicorp/{}/{}", c.requirement, c.id);
        self.0.push(c);
    }

    /// Bytes the library must refuse: a decode error, so the connection is closed unanswered.
    fn refused(&mut self, requirement: &'static str, name: &str, summary: &str, sent: Vec<u8>) {
        self.push(Case {
            id: name.into(),
            requirement,
            level: Level::Must,
            summary: summary.into(),
            steps: vec![Step::Send(sent)],
            expect: Expect::Closed,
            max_term: 0,
        });
    }

    /// What the library does is recorded; a strict reader would close.
    fn recorded(&mut self, requirement: &'static str, name: &str, summary: &str, sent: Vec<u8>, max_term: u64) {
        self.push(Case {
            id: name.into(),
            requirement,
            level: Level::Info,
            summary: summary.into(),
            steps: vec![Step::Send(sent)],
            expect: Expect::Closed,
            max_term,
        });
    }
}

impl Dialect for Hashicorp {
    fn name(&self) -> &'static str {
        "hashicorp"
    }

    fn sanity(&self, _request_id: u64) -> (Vec<u8>, Answer) {
        // A RequestVote at term 1 from a candidate with an empty log: refused (a leader is known,
        // or the term is stale, or the log is behind) without any change of state.
        (vote(1), answer(messages::REQUEST_VOTE))
    }

    fn answers(&self, sent: &[u8], received: &[u8], ended: bool) -> Result<Vec<Seen>, String> {
        let mut checker = Checker::new(false).observe();
        checker.requests(sent);
        checker.responses(received);
        // A message is confirmed by what follows it (HC-9), and the node's last answer has
        // nothing after it yet: the bytes so far are judged as if they ended here. An answer cut
        // short by that pretended end is one still arriving, unless the node really closed.
        let (c, observed) = checker.finish_observed();
        let first_must = c
            .responses
            .findings
            .iter()
            .filter(|f| f.level == "MUST")
            .min_by_key(|f| f.offset);
        if let (Some(f), true) = (first_must, ended) {
            return Err(format!(
                "the node's answers break {} at byte {}: {} ({})",
                f.requirement, f.offset, f.message, f.code
            ));
        }
        // The connection is open, so whatever is wrong from the first finding on may be the
        // pretended end's doing (an answer half arrived, over which the checker resynchronises
        // and may even read an "answer" in the half that came): only what ends before it counts.
        let before = first_must.map_or(u64::MAX, |f| f.offset);
        Ok(observed
            .into_iter()
            .filter(|o| o.response && o.end <= before)
            .map(|o| Seen {
                id: None,
                kind: response_name(o.rpc).to_string(),
                term: o.decoded.term,
                error: o.error,
                detail: match (o.decoded.term, o.decoded.facts.success.or(o.decoded.facts.granted)) {
                    (Some(t), Some(ok)) => format!("term {t}, {}", if ok { "granted/success" } else { "refused" }),
                    (Some(t), None) => format!("term {t}"),
                    _ if o.error => "an error string".into(),
                    _ => "no term".into(),
                },
            })
            .collect())
    }

    fn fuzz_seeds(&self) -> Vec<Vec<u8>> {
        vec![heartbeat(1), vote(1), append_one(0), snapshot(V::U(8), b"raftwire")]
    }

    fn may_disrupt(&self, input: &[u8], node_term: u64) -> bool {
        // TimeoutNow carries no term: a node acts on it whatever its term.
        if input.first() == Some(&messages::TIMEOUT_NOW) {
            return true;
        }
        let mut checker = Checker::new(false).observe();
        checker.requests(input);
        let (_, observed) = checker.finish_observed();
        if observed
            .iter()
            .any(|o| !o.response && (o.rpc == messages::TIMEOUT_NOW || o.decoded.term.is_some_and(|t| t >= node_term)))
        {
            return true;
        }
        // The library reads more than the checker accepts (unknown keys, odd forms): any `Term`
        // key followed by an integer the node would not find stale counts.
        input.windows(5).enumerate().any(|(i, w)| {
            w == b"\xa4Term" && leading_uint(input.get(i + 5..).unwrap_or_default()).is_none_or(|t| t >= node_term)
        })
    }

    fn cases(&self) -> Vec<Case> {
        let mut t = Table(Vec::new());
        let hb = heartbeat(1);
        // HC-1: unknown rpc types, the ones people hit.
        t.refused(
            "HC-1",
            "unknown-rpc-type-71",
            "an HTTP GET on the Raft port ('G' = 71)",
            HTTP_GET.to_vec(),
        );
        t.refused(
            "HC-1",
            "unknown-rpc-type-80",
            "the HTTP/2 preface ('P' = 80)",
            HTTP2_PREFACE.to_vec(),
        );
        t.refused(
            "HC-1",
            "unknown-rpc-type-22",
            "a TLS ClientHello (0x16 = 22) on a plaintext port",
            TLS_CLIENT_HELLO.to_vec(),
        );
        t.refused(
            "HC-1",
            "unknown-rpc-type-5",
            "a heartbeat's map behind rpc type 5 (no release defines it)",
            [&[5u8][..], &hb[1..]].concat(),
        );
        t.refused(
            "HC-1",
            "unknown-rpc-type-193",
            "an RFW/1 frame's first bytes (0xC1 = 193)",
            vec![0xc1, 0x52, 0x46, 0x57, 0x01, 0x02, 0, 0],
        );
        t.refused(
            "HC-1",
            "not-a-map",
            "rpc type 0 followed by the integer 1 instead of a map",
            vec![0x00, 0x01],
        );
        t.refused(
            "HC-1",
            "reserved-byte",
            "a heartbeat whose Term value is 0xC1 (never used by msgpack)",
            {
                let mut b = hb.clone();
                let last = b.len() - 1;
                b[last] = 0xc1;
                b
            },
        );
        t.refused(
            "HC-2",
            "wrong-field-type",
            "a heartbeat whose Term is a string (\"1\") instead of an unsigned integer",
            heartbeat_with(&heartbeat_fields(V::S(b"1"))),
        );
        // HC-3: the original incident's bytes.
        t.refused(
            "HC-3",
            "response-as-request",
            "a whole AppendEntriesResponse in the request direction (0xA0 = 160: 'unknown rpc type 160')",
            craft::response(
                "",
                &[
                    ("LastLog", V::U(1)),
                    ("NoRetryBackoff", V::B(false)),
                    ("ProtocolVersion", V::U(3)),
                    ("Success", V::B(true)),
                    ("Term", V::U(1)),
                ],
            ),
        );
        // HC-5: a product's stream prefix sent to a plain NetworkTransport.
        t.refused(
            "HC-5",
            "consul-prefix",
            "Consul's Raft prefix byte 0x01 before a heartbeat (read as a RequestVote whose map is the byte 0x00)",
            [&[0x01u8][..], &hb].concat(),
        );
        // HC-6: the end of the stream inside a request.
        t.push(Case {
            id: "truncated-at-end".into(),
            requirement: "HC-6",
            level: Level::Must,
            summary: "the first 20 bytes of a heartbeat, then the end of the stream (FIN)".into(),
            steps: vec![Step::Send(hb[..20].to_vec()), Step::HalfClose],
            expect: Expect::Closed,
            max_term: 0,
        });
        // HC-8 and the library's own contract: stale requests are answered, refused.
        t.push(Case {
            id: "stale-append-entries".into(),
            requirement: "HC-8",
            level: Level::Must,
            summary: "a heartbeat of term 1: answered Success=false with the node's term".into(),
            steps: vec![Step::Send(hb.clone())],
            expect: Expect::Answered(vec![answer(messages::APPEND_ENTRIES)]),
            max_term: 1,
        });
        t.push(Case {
            id: "stale-install-snapshot".into(),
            requirement: "HC-8",
            level: Level::Must,
            summary:
                "an InstallSnapshot of term 1 with its 8 bytes of data: the data is drained and the request refused"
                    .into(),
            steps: vec![Step::Send(snapshot(V::U(8), b"raftwire"))],
            expect: Expect::Answered(vec![answer(messages::INSTALL_SNAPSHOT)]),
            max_term: 1,
        });
        t.push(Case {
            id: "pipelined".into(),
            requirement: "HC-4",
            level: Level::Must,
            summary: "a heartbeat, a RequestVote and a heartbeat in one write: answered in order".into(),
            steps: vec![Step::Send([heartbeat(1), vote(1), heartbeat(1)].concat())],
            expect: Expect::Answered(vec![
                answer(messages::APPEND_ENTRIES),
                answer(messages::REQUEST_VOTE),
                answer(messages::APPEND_ENTRIES),
            ]),
            max_term: 1,
        });
        t.push(Case {
            id: "slow-drip".into(),
            requirement: "HC-1",
            level: Level::Must,
            summary: "a heartbeat sent one byte at a time, 5 ms apart".into(),
            steps: vec![Step::Drip {
                bytes: hb.clone(),
                gap: Duration::from_millis(5),
            }],
            expect: Expect::Answered(vec![answer(messages::APPEND_ENTRIES)]),
            max_term: 1,
        });
        // Where the library decodes by design what a strict reader refuses.
        t.recorded(
            "HC-2",
            "missing-term",
            "a heartbeat without its Term key (go-msgpack leaves the field zero)",
            heartbeat_with(&heartbeat_fields(V::U(0))[..6]),
            0,
        );
        t.recorded(
            "HC-2",
            "unknown-field",
            "a heartbeat of term 1 with an extra key no release writes (how releases interoperate)",
            heartbeat_with(&[&[("Bogus", V::U(7))], &heartbeat_fields(V::U(1))[..]].concat()),
            1,
        );
        t.recorded(
            "HC-2",
            "duplicate-field",
            "a heartbeat with Term twice (1, then 1)",
            heartbeat_with(&[&heartbeat_fields(V::U(1))[..], &[("Term", V::U(1))]].concat()),
            1,
        );
        t.recorded(
            "HC-7",
            "unknown-log-type",
            "an AppendEntries of term 1 with one entry of log type 9",
            append_one(9),
            1,
        );
        t.recorded("HC-8", "zero-term", "a heartbeat of term 0", heartbeat(0), 0);
        t.recorded(
            "HC-1",
            "request-pre-vote",
            "a RequestPreVote (rpc type 4, raft >= 1.7.0) of term 1: older releases cannot decode it",
            craft::request(
                messages::REQUEST_PRE_VOTE,
                &[
                    ("Addr", V::S(LEADER)),
                    ("ID", V::S(b"raftwire-probe")),
                    ("LastLogIndex", V::U(0)),
                    ("LastLogTerm", V::U(0)),
                    ("ProtocolVersion", V::U(3)),
                    ("Term", V::U(1)),
                ],
            ),
            1,
        );
        // Lengths of gigabytes, and nothing after them: no bound in the library to hold it to.
        // Last, because one of them may take the node down (the runner then skips the rest).
        t.recorded(
            "HC-1",
            "str32-4gib",
            "a heartbeat whose Leader is a str32 claiming 4 GiB (0xDB FFFFFFFF), and nothing more",
            claims(&[0xdb, 0xff, 0xff, 0xff, 0xff]),
            0,
        );
        t.recorded(
            "HC-1",
            "bin32-4gib",
            "a heartbeat whose Leader is a bin32 claiming 4 GiB (0xC6 FFFFFFFF), and nothing more",
            claims(&[0xc6, 0xff, 0xff, 0xff, 0xff]),
            0,
        );
        t.recorded(
            "HC-1",
            "str32-256mib",
            "a heartbeat whose Leader is a str32 claiming 256 MiB (0xDB 10000000), and nothing more",
            claims(&[0xdb, 0x10, 0x00, 0x00, 0x00]),
            0,
        );
        t.recorded(
            "HC-1",
            "map32-4g-keys",
            "rpc type 0 and a map32 claiming 2^32-1 pairs (0xDF FFFFFFFF), and nothing more",
            vec![0x00, 0xdf, 0xff, 0xff, 0xff, 0xff],
            0,
        );
        t.recorded(
            "HC-1",
            "array32-16m-entries",
            "a heartbeat whose Entries is an array32 claiming 2^24 logs (0xDD 01000000), and nothing more",
            vec![
                0x00, 0x87, 0xa7, b'E', b'n', b't', b'r', b'i', b'e', b's', 0xdd, 0x01, 0x00, 0x00, 0x00,
            ],
            0,
        );
        t.recorded(
            "HC-7",
            "snapshot-size-1tib",
            "an InstallSnapshot of term 1 announcing 1 TiB of data, and none sent (the library drains Size bytes before answering)",
            snapshot(V::U(1 << 40), b""),
            1,
        );
        t.recorded(
            "HC-7",
            "negative-snapshot-size",
            "an InstallSnapshot of term 1 with Size -1",
            snapshot(V::I2(-1), b""),
            1,
        );
        t.recorded(
            "HC-1",
            "array32-4g-entries",
            "a heartbeat whose Entries is an array32 claiming 2^32-1 logs (0xDD FFFFFFFF), and nothing more",
            vec![
                0x00, 0x87, 0xa7, b'E', b'n', b't', b'r', b'i', b'e', b's', 0xdd, 0xff, 0xff, 0xff, 0xff,
            ],
            0,
        );
        t.0
    }
}
