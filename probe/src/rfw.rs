//! The RFW/1 cases: every receiver requirement of SPEC.md that can be seen from outside a node,
//! each as data (what is sent, what is acceptable). Requests carry term 1, the lowest there is, so
//! a node past its first term refuses each as stale and changes nothing; frames a conforming node
//! must reject before acting on them carry no usable term at all (`max_term` 0).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use raftwire_codec::craft::RawFrame;
use raftwire_codec::*;

use crate::case::{Answer, Case, Expect, Level, Step};
use crate::foreign::{HTTP2_PREFACE, HTTP_GET, TLS_CLIENT_HELLO};
use crate::{Dialect, Seen};

/// The RFW/1 dialect (SPEC.md).
#[derive(Debug, Default, Clone, Copy)]
pub struct Rfw;

const PROBE_ID: &str = "raftwire-probe";

fn id(s: &str) -> Id {
    Id::try_from(s).unwrap_or_else(|_| unreachable!("a constant, valid id"))
}

fn bytes_of(request_id: u64, message: Message) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(&Frame::new(request_id, message), &mut out).unwrap_or_else(|e| unreachable!("a valid message: {e}"));
    out.to_vec()
}

/// An AppendEntries of `term` from the start of the log, carrying `entries`.
fn append(term: u64, entries: Entries) -> Message {
    Message::AppendEntries(AppendEntriesRequest {
        term,
        prev_log_index: 0,
        prev_log_term: 0,
        leader_commit: 0,
        leader_id: id(PROBE_ID),
        entries,
    })
}

fn heartbeat(term: u64) -> Message {
    append(term, Entries::default())
}

fn append_one(term: u64) -> Message {
    let entry = Entry {
        index: 1,
        term,
        kind: EntryKind::Command,
        data: Bytes::from_static(b"raftwire probe"),
    };
    append(term, vec![entry].into())
}

fn vote(term: u64) -> Message {
    Message::RequestVote(RequestVoteRequest {
        term,
        last_log_index: 0,
        last_log_term: 0,
        pre_vote: false,
        leadership_transfer: false,
        candidate_id: id(PROBE_ID),
    })
}

fn snapshot(term: u64, offset: u64, data: &'static [u8], total: u64) -> Message {
    let configuration = if offset == 0 {
        Configuration {
            servers: vec![Server {
                suffrage: Suffrage::Voter,
                id: id(PROBE_ID),
                address: id("127.0.0.1:1"),
            }],
        }
    } else {
        Configuration::default()
    };
    Message::InstallSnapshot(Box::new(InstallSnapshotRequest {
        term,
        last_included_index: 1,
        last_included_term: 1,
        total_size: total,
        offset,
        done: offset + data.len() as u64 == total,
        leader_id: id(PROBE_ID),
        snapshot_id: id("probe-snapshot"),
        configuration,
        data: Bytes::from_static(data),
    }))
}

fn timeout_now(term: u64) -> Message {
    Message::TimeoutNow(TimeoutNowRequest {
        term,
        leader_id: id(PROBE_ID),
    })
}

/// A valid term-1 heartbeat as fields, to break one of them.
fn raw_heartbeat() -> RawFrame {
    let bytes = bytes_of(1, heartbeat(1));
    RawFrame::parse(&bytes).unwrap_or_else(|| unreachable!("an encoded frame parses"))
}

/// A valid frame with one payload byte changed and the CRCs recomputed: a body error.
fn body_error(message: Message, at: usize, value: u8) -> Vec<u8> {
    let mut raw = RawFrame::parse(&bytes_of(1, message))
        .unwrap_or_else(|| unreachable!("an encoded frame parses"))
        .reseal();
    if let Some(b) = raw.payload.get_mut(at) {
        *b = value;
    }
    raw.bytes()
}

fn answer(id: u64, kind: MessageType) -> Answer {
    Answer {
        id: Some(id),
        kind: kind.name(),
    }
}

struct Table(Vec<Case>);

impl Table {
    /// A case whose bytes a conforming node must refuse by closing the connection.
    fn rejected(&mut self, requirement: &'static str, name: &str, summary: &str, sent: Vec<u8>) {
        self.0.push(Case {
            id: format!("rfw/{requirement}/{name}"),
            requirement,
            level: Level::Must,
            summary: summary.into(),
            steps: vec![Step::Send(sent)],
            expect: Expect::Closed,
            max_term: 0,
        });
    }

    fn push(&mut self, case: Case) {
        self.0.push(case);
    }
}

impl Dialect for Rfw {
    fn name(&self) -> &'static str {
        "rfw"
    }

    fn sanity(&self, request_id: u64) -> (Vec<u8>, Answer) {
        // A RequestVote at term 1 with an empty log: refused by any node past term 1, and by any
        // node that has a log or has voted, so it changes nothing.
        (
            bytes_of(request_id, vote(1)),
            answer(request_id, MessageType::RequestVoteResponse),
        )
    }

    fn answers(&self, _sent: &[u8], received: &[u8], ended: bool) -> Result<Vec<Seen>, String> {
        let input = Bytes::copy_from_slice(received);
        let mut seen = Vec::new();
        let mut at = 0;
        while at < input.len() {
            match decode_at(&input, at, &Limits::default()) {
                Ok(Progress::Frame { frame, len }) => {
                    let kind = frame.message_type();
                    if !kind.is_response() {
                        return Err(format!(
                            "the node sent a {kind} (a request) at byte {at} of its answers (wrong_direction, STREAM-1)"
                        ));
                    }
                    let detail = match &frame.message {
                        Message::Error(e) => format!("{:?}: {}", e.code, e.message),
                        m => format!("term {}", m.term().unwrap_or(0)),
                    };
                    seen.push(Seen {
                        id: Some(frame.request_id),
                        kind: kind.name().to_string(),
                        term: frame.message.term(),
                        error: kind == MessageType::Error,
                        detail,
                    });
                    at += len;
                }
                Ok(Progress::NeedMore { .. }) if ended => {
                    return Err(format!(
                        "the node closed the connection inside an answer starting at byte {at} (truncated_frame, FRAME-10)"
                    ));
                }
                Ok(Progress::NeedMore { .. }) => break,
                Err(e) => return Err(format!("the node's answers are malformed: {e}")),
            }
        }
        Ok(seen)
    }

    fn fuzz_seeds(&self) -> Vec<Vec<u8>> {
        vec![
            bytes_of(1, heartbeat(1)),
            bytes_of(2, append_one(1)),
            bytes_of(3, vote(1)),
            bytes_of(4, snapshot(1, 0, b"rftwire!", 8)),
            bytes_of(5, timeout_now(1)),
        ]
    }

    fn repair(&self, input: &mut [u8], seed: u32) {
        raftwire_codec::fuzzing::reseal_mutation(input, 0, seed);
    }

    fn may_disrupt(&self, input: &[u8], node_term: u64) -> bool {
        // A conforming node acts only on the whole, valid frames before the first error.
        let input = Bytes::copy_from_slice(input);
        let mut at = 0;
        while let Ok(Progress::Frame { frame, len }) = decode_at(&input, at, &Limits::default()) {
            if !frame.message_type().is_response() && frame.message.term().is_none_or(|t| t >= node_term) {
                return true;
            }
            at += len;
        }
        false
    }

    fn cases(&self) -> Vec<Case> {
        let mut t = Table(Vec::new());
        let hb = raw_heartbeat();
        let mut bad = hb.clone();
        bad.marker[1] = b'X';
        t.rejected(
            "FRAME-1",
            "bad-marker",
            "a heartbeat whose second marker byte is 'X'",
            bad.bytes(),
        );
        t.rejected(
            "FRAME-1",
            "http-request",
            "an HTTP/1.1 request (another protocol on the port)",
            HTTP_GET.to_vec(),
        );
        t.rejected(
            "FRAME-1",
            "http2-preface",
            "the HTTP/2 connection preface (a gRPC client on the port)",
            HTTP2_PREFACE.to_vec(),
        );
        t.rejected(
            "FRAME-1",
            "tls-client-hello",
            "the first bytes of a TLS ClientHello (a TLS client on a plaintext port)",
            TLS_CLIENT_HELLO.to_vec(),
        );
        t.rejected(
            "FRAME-1",
            "hashicorp-request",
            "a hashicorp/raft AppendEntries (rpc type 0x01, a msgpack map)",
            vec![0x01, 0x86, 0xa4, b'T', b'e', b'r', b'm', 0x01],
        );
        let mut v = hb.clone().reseal();
        v.version = 2;
        t.rejected(
            "FRAME-2",
            "version-2",
            "a heartbeat with version byte 2 (CRCs valid)",
            v.bytes(),
        );
        let mut v = hb.clone();
        v.header_crc = Some(0xDEAD_BEEF);
        t.rejected(
            "FRAME-3",
            "header-crc",
            "a heartbeat with a wrong header CRC",
            v.bytes(),
        );
        let mut v = hb.clone();
        v.payload_len = Some(u32::MAX);
        v.header_crc = Some(0);
        let mut head = v.bytes();
        head.truncate(HEADER_LEN);
        t.rejected(
            "FRAME-3",
            "header-crc-before-length",
            "a header claiming a 4 GiB payload with a wrong header CRC, and nothing after it: the CRC is checked before the length is believed",
            head,
        );
        for ty in [0x05u8, 0x7f, 0x85] {
            let mut v = hb.clone().reseal();
            v.message_type = ty;
            t.rejected(
                "FRAME-4",
                &format!("unknown-type-0x{ty:02x}"),
                &format!("a heartbeat body under type 0x{ty:02x}"),
                v.bytes(),
            );
        }
        let mut v = hb.clone().reseal();
        v.flags = 0x0001;
        t.rejected(
            "FRAME-5",
            "reserved-flags",
            "a heartbeat with flag bit 0 set",
            v.bytes(),
        );
        let mut v = hb.clone().reseal();
        v.request_id = 0;
        t.rejected("FRAME-6", "zero-request-id", "a heartbeat with request id 0", v.bytes());
        for (name, len) in [
            ("length-over-limit", DEFAULT_MAX_PAYLOAD_LEN + 1),
            ("length-4gib", u32::MAX),
        ] {
            let mut v = hb.clone().reseal();
            v.payload_len = Some(len);
            let mut head = v.bytes();
            head.truncate(HEADER_LEN);
            t.rejected(
                "FRAME-7",
                name,
                &format!("a valid header claiming a {len}-byte payload, and no payload: the node must refuse it on the header, without waiting for or allocating the payload"),
                head,
            );
        }
        let mut v = hb.clone();
        v.payload_crc = Some(0xDEAD_BEEF);
        t.rejected(
            "FRAME-8",
            "payload-crc",
            "a heartbeat with a wrong payload CRC",
            v.bytes(),
        );
        let mut v = hb.clone();
        if let Some(b) = v.payload.get_mut(7) {
            *b ^= 0x01;
        }
        t.rejected(
            "FRAME-8",
            "payload-bit-flip",
            "a heartbeat with one payload bit flipped (the term's lowest), CRC of the original",
            v.bytes(),
        );
        let mut v = hb.clone().reseal();
        v.payload.push(0);
        t.rejected(
            "FRAME-9",
            "trailing-bytes",
            "a heartbeat with one byte after its body (length and CRCs cover it)",
            v.bytes(),
        );
        t.rejected(
            "MSG-1",
            "zero-term",
            "a heartbeat with term 0",
            bytes_of_unchecked_heartbeat_term0(),
        );
        t.rejected(
            "FIELD-2",
            "bad-bool",
            "a RequestVote whose pre_vote byte is 2",
            body_error(vote(1), 24, 2),
        );
        let mut v = RawFrame::parse(&bytes_of(1, vote(1)))
            .unwrap_or_else(|| unreachable!())
            .reseal();
        v.payload[24] = 1;
        v.payload[25] = 1;
        t.rejected(
            "RV-2",
            "conflicting-vote-flags",
            "a RequestVote that is both a pre-vote and a leadership transfer",
            v.bytes(),
        );
        t.rejected(
            "AE-2",
            "entry-index-gap",
            "an AppendEntries whose one entry has index 2 after prev_log_index 0",
            {
                // The entry index is the u64 right after the header fields, the id and the count.
                let at = 32 + 1 + PROBE_ID.len() + 4 + 7;
                body_error(append_one(1), at, 2)
            },
        );
        t.rejected(
            "STREAM-1",
            "response-as-request",
            "an AppendEntriesResponse sent to the server",
            {
                bytes_of(
                    1,
                    Message::AppendEntriesResponse(AppendEntriesResponse {
                        term: 1,
                        success: true,
                        last_log_index: 0,
                        conflict_index: 0,
                        conflict_term: 0,
                    }),
                )
            },
        );

        // FRAME-10: an incomplete frame is incomplete, never an error; the end of the stream
        // inside one is.
        let full = bytes_of(7, heartbeat(1));
        t.push(Case {
            id: "rfw/FRAME-10/truncated-at-end".into(),
            requirement: "FRAME-10",
            level: Level::Must,
            summary: "the first 30 bytes of a heartbeat, then the end of the stream (FIN)".into(),
            steps: vec![Step::Send(full[..30].to_vec()), Step::HalfClose],
            expect: Expect::Closed,
            max_term: 0,
        });
        t.push(Case {
            id: "rfw/FRAME-10/slow-drip".into(),
            requirement: "FRAME-10",
            level: Level::Must,
            summary: format!("a heartbeat sent one byte at a time, 5 ms apart ({} bytes)", full.len()),
            steps: vec![Step::Drip {
                bytes: full.clone(),
                gap: Duration::from_millis(5),
            }],
            expect: Expect::Answered(vec![answer(7, MessageType::AppendEntriesResponse)]),
            max_term: 1,
        });
        t.push(Case {
            id: "rfw/FRAME-10/split-header".into(),
            requirement: "FRAME-10",
            level: Level::Must,
            summary: "a heartbeat in two writes 300 ms apart, split inside the header".into(),
            steps: vec![
                Step::Send(full[..10].to_vec()),
                Step::Pause(Duration::from_millis(300)),
                Step::Send(full[10..].to_vec()),
            ],
            expect: Expect::Answered(vec![answer(7, MessageType::AppendEntriesResponse)]),
            max_term: 1,
        });

        // Stream rules.
        let a = bytes_of(11, heartbeat(1));
        let b = bytes_of(12, append_one(1));
        let interleaved: Vec<u8> = a
            .chunks(7)
            .zip(b.chunks(7))
            .flat_map(|(x, y)| x.iter().chain(y).copied())
            .collect();
        t.rejected(
            "RECV-1",
            "interleaved-writers",
            "two requests written by two writers in 7-byte pieces without a lock (the original incident)",
            [
                interleaved,
                a[a.len().min(b.len())..].to_vec(),
                b[a.len().min(b.len())..].to_vec(),
            ]
            .concat(),
        );
        let dup = bytes_of(21, heartbeat(1));
        t.push(Case {
            id: "rfw/STREAM-2/duplicate-request-id".into(),
            requirement: "STREAM-2",
            level: Level::Must,
            summary: "two heartbeats with request id 21 in one write (the second while the first is outstanding)"
                .into(),
            steps: vec![Step::Send([dup.clone(), dup].concat())],
            expect: Expect::ClosedOr(vec![
                answer(21, MessageType::AppendEntriesResponse),
                answer(21, MessageType::AppendEntriesResponse),
            ]),
            max_term: 1,
        });
        let total = 8;
        t.push(Case {
            id: "rfw/STREAM-5/snapshot-chunk-in-flight".into(),
            requirement: "STREAM-5",
            level: Level::Must,
            summary: "two chunks of one snapshot in one write (the second before the first is answered)".into(),
            steps: vec![Step::Send(
                [
                    bytes_of(31, snapshot(1, 0, b"rftw", total)),
                    bytes_of(32, snapshot(1, 4, b"ire!", total)),
                ]
                .concat(),
            )],
            expect: Expect::ClosedOr(vec![
                answer(31, MessageType::InstallSnapshotResponse),
                answer(32, MessageType::InstallSnapshotResponse),
            ]),
            max_term: 1,
        });
        t.push(Case {
            id: "rfw/STREAM-6/chunk-without-transfer".into(),
            requirement: "STREAM-6",
            level: Level::Must,
            summary: "a snapshot chunk at offset 4 on a connection where no transfer started".into(),
            steps: vec![Step::Send(bytes_of(33, snapshot(1, 4, b"ire!", total)))],
            expect: Expect::Closed,
            max_term: 1,
        });
        t.push(Case {
            id: "rfw/STREAM-7/term-regressed".into(),
            requirement: "STREAM-7",
            level: Level::Must,
            summary: "a heartbeat of term 2, then one of term 1 on the same connection".into(),
            steps: vec![Step::Send(
                [bytes_of(41, heartbeat(2)), bytes_of(42, heartbeat(1))].concat(),
            )],
            expect: Expect::ClosedOr(vec![
                answer(41, MessageType::AppendEntriesResponse),
                answer(42, MessageType::AppendEntriesResponse),
            ]),
            max_term: 2,
        });
        let pipelined = [
            (51, heartbeat(1), MessageType::AppendEntriesResponse),
            (52, vote(1), MessageType::RequestVoteResponse),
            (53, append_one(1), MessageType::AppendEntriesResponse),
            (54, timeout_now(1), MessageType::TimeoutNowResponse),
            (55, heartbeat(1), MessageType::AppendEntriesResponse),
            (
                56,
                snapshot(1, 0, b"rftwire!", total),
                MessageType::InstallSnapshotResponse,
            ),
            (57, heartbeat(1), MessageType::AppendEntriesResponse),
            (58, vote(1), MessageType::RequestVoteResponse),
        ];
        t.push(Case {
            id: "rfw/STREAM-5/pipelined".into(),
            requirement: "STREAM-5",
            level: Level::Must,
            summary: "eight requests of every type in one write: each answered once, by id".into(),
            steps: vec![Step::Send(
                pipelined.iter().flat_map(|(i, m, _)| bytes_of(*i, m.clone())).collect(),
            )],
            expect: Expect::Answered(pipelined.iter().map(|(i, _, k)| answer(*i, *k)).collect()),
            max_term: 1,
        });
        t.push(Case {
            id: "rfw/STREAM-2/id-reuse-after-answer".into(),
            requirement: "STREAM-2",
            level: Level::Must,
            summary: "request id 61 used again after its answer arrived: allowed".into(),
            steps: vec![
                Step::Send(bytes_of(61, heartbeat(1))),
                Step::AwaitAnswers(1),
                Step::Send(bytes_of(61, vote(1))),
            ],
            expect: Expect::Answered(vec![
                answer(61, MessageType::AppendEntriesResponse),
                answer(61, MessageType::RequestVoteResponse),
            ]),
            max_term: 1,
        });
        t.0
    }
}

/// A heartbeat with term 0: the encoder refuses it (MSG-1), so it is assembled by hand.
fn bytes_of_unchecked_heartbeat_term0() -> Vec<u8> {
    let mut raw = raw_heartbeat().reseal();
    raw.payload[..8].copy_from_slice(&0u64.to_be_bytes());
    raw.bytes()
}
