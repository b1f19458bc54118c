//! Language-neutral test vectors: raw bytes plus a JSON verdict, one pair of files per vector,
//! generated from the named cases and committed under `conformance/vectors/`. Every requirement of
//! `SPEC.md` has at least one vector that must be accepted and one that must be rejected.
//!
//! Layout: `frames/ID.bin` + `frames/ID.json` (one direction's bytes, to be decoded as a whole
//! buffer of frames), `streams/ID.c2s.bin` + `ID.s2c.bin` + `ID.json` (one connection, to be
//! checked against the stream rules). Stream vectors carry no timing, so a checker judges the
//! most lenient interleaving of the two directions (requests read only as far as each response
//! needs): every expected violation holds in every order the connection could have happened in.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use raftwire_codec::craft::reseal_in_place;
use raftwire_codec::*;
use serde::{Deserialize, Serialize};

use crate::cases::{frame_cases, valid_messages, Verdict};
use crate::rules::{Level, StreamCode};

/// A decoded frame, as a verdict lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameSummary {
    /// Message type name, e.g. `AppendEntries`.
    #[serde(rename = "type")]
    pub message_type: String,
    /// Request id.
    pub request_id: u64,
}

/// What decoding a frame vector must produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum FrameVerdict {
    /// Every byte forms these frames.
    Accept {
        /// The frames, in order.
        frames: Vec<FrameSummary>,
    },
    /// Decoding stops with this error.
    Reject {
        /// Stable error code.
        code: String,
        /// Byte offset of the offending field.
        offset: u64,
        /// Valid frames before the error (a decoder stops at the first error, SPEC.md RECV-1).
        #[serde(default)]
        frames_before: usize,
    },
}

/// A stream-rule violation a stream vector must produce.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExpectedViolation {
    /// `client_to_server` or `server_to_client`.
    pub direction: String,
    /// Offset of the offending frame in that direction.
    pub offset: u64,
    /// Stable code.
    pub code: String,
}

/// One vector's JSON file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorSpec {
    /// The vector's id (its file stem).
    pub id: String,
    /// The requirement it checks.
    pub requirement: String,
    /// `MUST`, `SHOULD` or `INFO`.
    pub level: String,
    /// The requirement's sentence, from SPEC.md.
    pub sentence: String,
    /// What this vector shows, in a few words.
    pub description: String,
    /// For frame vectors.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub frames: Option<FrameVerdict>,
    /// For stream vectors: every violation the checker must report (none = conforming).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stream: Option<Vec<ExpectedViolation>>,
}

/// A vector with its bytes.
#[derive(Debug, Clone)]
pub struct Vector {
    /// The JSON part.
    pub spec: VectorSpec,
    /// Frame vectors: the bytes. Stream vectors: client->server bytes.
    pub bytes: Vec<u8>,
    /// Stream vectors: server->client bytes.
    pub response_bytes: Option<Vec<u8>>,
}

impl Vector {
    /// True for a stream vector.
    pub fn is_stream(&self) -> bool {
        self.spec.stream.is_some()
    }
}

fn level_of(requirement: &str) -> Level {
    crate::requirements::get(requirement).map_or(Level::Must, |r| r.level)
}

fn spec(id: String, requirement: &str, description: &str) -> VectorSpec {
    let r = crate::requirements::get(requirement);
    VectorSpec {
        id,
        requirement: requirement.to_string(),
        level: level_of(requirement).as_str().to_string(),
        sentence: r.map(|r| r.text).unwrap_or_default(),
        description: description.to_string(),
        frames: None,
        stream: None,
    }
}

/// Decodes `bytes` the way a receiver must (stopping at the first error) with the built-in codec.
pub fn decode_verdict(bytes: &[u8]) -> FrameVerdict {
    let input = Bytes::copy_from_slice(bytes);
    let mut frames = Vec::new();
    let mut at = 0usize;
    let reject = |e: DecodeError, frames_before| FrameVerdict::Reject {
        code: e.code.as_str().to_string(),
        offset: e.offset,
        frames_before,
    };
    while at < input.len() {
        match decode_prefix(&input.slice(at..), at as u64, &Limits::default()) {
            Ok(Progress::Frame { frame, len }) => {
                frames.push(FrameSummary {
                    message_type: frame.message_type().name().to_string(),
                    request_id: frame.request_id,
                });
                at += len;
            }
            Ok(Progress::NeedMore { needed }) => {
                let e = DecodeError {
                    code: ErrorCode::TruncatedFrame,
                    offset: at as u64,
                    field: "frame",
                    found: (input.len() - at) as u64,
                    expected: Expected::AtLeast((input.len() - at + needed) as u64),
                };
                return reject(e, frames.len());
            }
            Err(e) => return reject(e, frames.len()),
        }
    }
    FrameVerdict::Accept { frames }
}

/// Requirement -> the valid case that shows it being met.
const ACCEPTS: &[(&str, &str)] = &[
    ("FRAME-1", "timeout_now"),
    ("FRAME-2", "timeout_now"),
    ("FRAME-3", "timeout_now"),
    ("FRAME-4", "error_response"),
    ("FRAME-5", "timeout_now"),
    ("FRAME-6", "timeout_now"),
    ("FRAME-7", "snapshot_first_chunk"),
    ("FRAME-8", "append_entries"),
    ("FRAME-9", "append_entries_response_ok"),
    ("FRAME-10", "append_entries_heartbeat"),
    ("FIELD-1", "append_entries"),
    ("FIELD-2", "request_vote"),
    ("FIELD-3", "append_entries"),
    ("FIELD-4", "request_vote_pre_vote_empty_log"),
    ("FIELD-5", "error_response"),
    ("FIELD-6", "error_response_longest_message"),
    ("ENC-1", "install_snapshot_response"),
    ("MSG-1", "request_vote_response_fresh_node"),
    ("RV-1", "request_vote_pre_vote_empty_log"),
    ("RV-2", "request_vote"),
    ("AE-1", "append_entries_from_log_start"),
    ("AE-2", "append_entries"),
    ("AE-3", "append_entries"),
    ("AE-4", "append_entries"),
    ("AE-5", "append_entries"),
    ("AER-1", "append_entries_response_conflict"),
    ("IS-1", "snapshot_middle_chunk"),
    ("IS-2", "snapshot_last_chunk"),
    ("IS-3", "snapshot_first_chunk"),
    ("IS-4", "snapshot_first_chunk"),
    ("IS-5", "snapshot_empty"),
    ("CONF-1", "snapshot_first_chunk"),
    ("CONF-2", "snapshot_first_chunk"),
    ("VER-1", "timeout_now_response"),
    ("RECV-2", "append_entries"),
    ("LV-1", "vote"),
    ("LV-2", "append_heartbeat"),
    ("MEM-1", "append"),
    ("MEM-2", "leader_snapshot_first_chunk"),
    ("VER-2", "append_response_higher_vote"),
];

fn frame_vector(id: String, requirement: &str, description: &str, bytes: Vec<u8>) -> Vector {
    let mut s = spec(id, requirement, description);
    s.frames = Some(decode_verdict(&bytes));
    Vector {
        spec: s,
        bytes,
        response_bytes: None,
    }
}

fn frame_vectors() -> Vec<Vector> {
    let messages = valid_messages();
    let encode = |name: &str, rid: u64| {
        let m = messages.iter().find(|(n, _, _)| *n == name).map(|(_, _, m)| m.clone());
        m.and_then(|m| Frame::new(rid, m).to_bytes().ok())
            .map(|b| b.to_vec())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for (req, name) in ACCEPTS {
        let slug = req.to_lowercase().replace('-', "_");
        out.push(frame_vector(
            format!("{slug}_accept_{name}"),
            req,
            &format!("a valid {name} frame"),
            encode(name, 7),
        ));
    }
    for case in frame_cases() {
        if let Verdict::Reject { .. } = case.verdict {
            let slug = case.requirement.to_lowercase().replace('-', "_");
            let name = case.name.trim_start_matches("reject_");
            out.push(frame_vector(
                format!("{slug}_reject_{name}"),
                case.requirement,
                &name.replace('_', " "),
                case.bytes,
            ));
        }
    }
    // Requirements about decoding as a whole rather than one field.
    let good = encode("timeout_now", 1);
    let mut bad = encode("timeout_now", 2);
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    out.push(frame_vector(
        "frame_10_accept_two_whole_frames".into(),
        "FRAME-10",
        "two whole frames",
        [good.clone(), encode("timeout_now", 2)].concat(),
    ));
    out.push(frame_vector(
        "recv_1_accept_frames_in_a_row".into(),
        "RECV-1",
        "three valid frames",
        [good.clone(), encode("timeout_now", 2), encode("timeout_now", 3)].concat(),
    ));
    out.push(frame_vector(
        "recv_1_reject_stops_at_first_error".into(),
        "RECV-1",
        "a corrupt frame between two valid ones: the decoder stops at it and never reports the third",
        [good.clone(), bad, encode("timeout_now", 3)].concat(),
    ));
    let mut later_entry = encode("append_entries", 1);
    later_entry[HEADER_LEN + 88..HEADER_LEN + 96].copy_from_slice(&99u64.to_be_bytes());
    reseal_in_place(&mut later_entry);
    out.push(frame_vector(
        "recv_2_reject_bad_third_entry".into(),
        "RECV-2",
        "an AppendEntries whose third entry breaks AE-2: no entry of it is delivered",
        later_entry,
    ));
    let mut two = encode("request_vote", 1);
    two[HEADER_LEN + 24] = 2;
    reseal_in_place(&mut two);
    out.push(frame_vector(
        "enc_1_reject_second_encoding_of_true".into(),
        "ENC-1",
        "a boolean written as 2: a second encoding of true",
        two,
    ));
    let mut v2 = encode("timeout_now", 1);
    v2[4] = 2;
    out.push(frame_vector(
        "ver_1_reject_version_2".into(),
        "VER-1",
        "a version 2 frame",
        v2,
    ));
    out
}

fn id(s: &str) -> Id {
    Id::try_from(s).unwrap_or_else(|e| unreachable!("{e}"))
}

/// Builds one connection from frames in happened-before order and the violations expected.
struct StreamBuilder {
    c2s: Vec<u8>,
    s2c: Vec<u8>,
}

impl StreamBuilder {
    fn new() -> Self {
        StreamBuilder {
            c2s: Vec::new(),
            s2c: Vec::new(),
        }
    }
    /// Appends a frame; returns its offset in its direction.
    fn push(&mut self, to_server: bool, f: Frame) -> u64 {
        let dir = if to_server { &mut self.c2s } else { &mut self.s2c };
        let at = dir.len() as u64;
        dir.extend_from_slice(&f.to_bytes().map(|b| b.to_vec()).unwrap_or_default());
        at
    }
}

fn tn(rid: u64, term: u64) -> Frame {
    Frame::new(
        rid,
        Message::TimeoutNow(TimeoutNowRequest {
            term,
            leader_id: id("n1"),
        }),
    )
}
fn tn_resp(rid: u64, term: u64) -> Frame {
    Frame::new(
        rid,
        Message::TimeoutNowResponse(TimeoutNowResponse { term, success: true }),
    )
}
fn chunk(rid: u64, snap: &str, offset: u64, data: &'static [u8], total: u64) -> Frame {
    let conf = Configuration {
        servers: vec![Server {
            suffrage: Suffrage::Voter,
            id: id("n1"),
            address: id("a:1"),
        }],
    };
    Frame::new(
        rid,
        Message::InstallSnapshot(Box::new(InstallSnapshotRequest {
            term: 2,
            last_included_index: 10,
            last_included_term: 2,
            total_size: total,
            offset,
            done: offset + data.len() as u64 == total,
            leader_id: id("n1"),
            snapshot_id: id(snap),
            configuration: if offset == 0 { conf } else { Configuration::default() },
            data: Bytes::from_static(data),
        })),
    )
}
fn is_resp(rid: u64) -> Frame {
    Frame::new(
        rid,
        Message::InstallSnapshotResponse(InstallSnapshotResponse {
            term: 2,
            success: true,
            bytes_stored: 0,
        }),
    )
}
fn rv_resp(rid: u64) -> Frame {
    Frame::new(
        rid,
        Message::RequestVoteResponse(RequestVoteResponse { term: 1, granted: true }),
    )
}

/// A chunk of the leader-id family (`SPEC.md` §5.7), its metadata in the first.
fn leader_chunk(rid: u64, offset: u64, data: &'static [u8], total: u64) -> Frame {
    let done = offset + data.len() as u64 == total;
    Frame::new(
        rid,
        Message::Snapshot(Box::new(SnapshotChunk {
            vote: LeaderVote {
                term: 2,
                node: 1,
                committed: true,
            },
            total_size: total,
            offset,
            done,
            snapshot_id: "s".into(),
            meta: (offset == 0).then(SnapshotMeta::default),
            data: Bytes::from_static(data),
        })),
    )
}
fn leader_chunk_resp(rid: u64) -> Frame {
    Frame::new(
        rid,
        Message::SnapshotResponse(SnapshotResponse {
            vote: LeaderVote {
                term: 2,
                node: 1,
                committed: true,
            },
        }),
    )
}
fn leader_vote(rid: u64, term: u64) -> Frame {
    Frame::new(
        rid,
        Message::Vote(VoteRequest {
            vote: LeaderVote {
                term,
                node: 1,
                committed: false,
            },
            last_log_id: None,
        }),
    )
}

/// One stream scenario: (to_server, frame, violation expected at this frame).
type Scenario = Vec<(bool, Frame, Option<StreamCode>)>;

fn stream_scenarios() -> Vec<(&'static str, &'static str, &'static str, Scenario)> {
    use StreamCode::*;
    let (c, s) = (true, false);
    vec![
        (
            "stream_1_accept",
            "STREAM-1",
            "requests one way, responses the other",
            vec![(c, tn(1, 1), None), (s, tn_resp(1, 1), None)],
        ),
        (
            "stream_1_reject_response_from_client",
            "STREAM-1",
            "the client sends a response",
            vec![
                (c, tn(1, 1), None),
                (s, tn_resp(1, 1), None),
                (c, tn_resp(2, 1), Some(WrongDirection)),
            ],
        ),
        (
            "stream_2_accept_reuse_after_answer",
            "STREAM-2",
            "an id reused once answered",
            vec![
                (c, tn(1, 1), None),
                (s, tn_resp(1, 1), None),
                (c, tn(1, 1), None),
                (s, tn_resp(1, 1), None),
            ],
        ),
        (
            "stream_2_reject_duplicate_outstanding_id",
            "STREAM-2",
            "two requests with one id and no answer between them",
            vec![
                (c, tn(1, 1), Some(UnansweredAtClose)),
                (c, tn(1, 1), Some(DuplicateRequestId)),
            ],
        ),
        (
            "stream_3_accept",
            "STREAM-3",
            "each response answers an outstanding request",
            vec![(c, tn(5, 1), None), (s, tn_resp(5, 1), None)],
        ),
        (
            "stream_3_reject_answered_twice",
            "STREAM-3",
            "a request answered twice",
            vec![
                (c, tn(5, 1), None),
                (s, tn_resp(5, 1), None),
                (s, tn_resp(5, 1), Some(UnsolicitedResponse)),
            ],
        ),
        (
            "stream_4_accept_error_answers_anything",
            "STREAM-4",
            "an Error response answers a TimeoutNow",
            vec![
                (c, tn(1, 1), None),
                (
                    s,
                    Frame::new(
                        1,
                        Message::Error(ErrorResponse {
                            code: ErrorResponseCode::Unavailable,
                            message: "stopping".into(),
                        }),
                    ),
                    None,
                ),
            ],
        ),
        (
            "stream_4_reject_wrong_response_type",
            "STREAM-4",
            "a RequestVoteResponse answers a TimeoutNow",
            vec![(c, tn(1, 1), None), (s, rv_resp(1), Some(ResponseTypeMismatch))],
        ),
        (
            "stream_4_accept_family_answers_family",
            "STREAM-4",
            "a Vote of the leader-id family answered by a VoteResponse, then a classic RequestVote",
            vec![
                (c, leader_vote(1, 1), None),
                (s, Frame::new(1, Message::VoteResponse(VoteResponse::default())), None),
                (c, tn(2, 1), None),
                (s, tn_resp(2, 1), None),
            ],
        ),
        (
            "stream_4_reject_classic_answer_to_the_family",
            "STREAM-4",
            "a RequestVoteResponse answers a Vote of the leader-id family",
            vec![
                (c, leader_vote(1, 1), None),
                (s, rv_resp(1), Some(ResponseTypeMismatch)),
            ],
        ),
        (
            "stream_5_reject_second_leader_chunk_in_flight",
            "STREAM-5",
            "a second Snapshot chunk before the first is answered (the second's answer comes first)",
            vec![
                (c, leader_chunk(1, 0, b"ab", 4), None),
                (c, leader_chunk(2, 2, b"cd", 4), Some(SnapshotChunkInFlight)),
                (s, leader_chunk_resp(2), None),
                (s, leader_chunk_resp(1), None),
            ],
        ),
        (
            "stream_6_accept_leader_chunks_in_order",
            "STREAM-6",
            "a Snapshot of the leader-id family in two chunks",
            vec![
                (c, leader_chunk(1, 0, b"ab", 4), None),
                (s, leader_chunk_resp(1), None),
                (c, leader_chunk(2, 2, b"cd", 4), None),
                (s, leader_chunk_resp(2), None),
            ],
        ),
        (
            "stream_6_reject_transfer_continued_by_the_other_family",
            "STREAM-6",
            "an InstallSnapshot transfer continued by a Snapshot chunk",
            vec![
                (c, chunk(1, "s", 0, b"ab", 4), None),
                (s, is_resp(1), None),
                (c, leader_chunk(2, 2, b"cd", 4), Some(SnapshotChunkOutOfOrder)),
                (s, leader_chunk_resp(2), None),
            ],
        ),
        (
            "stream_7_reject_vote_term_goes_back",
            "STREAM-7",
            "a leader-id family Vote at term 3, then one at term 2",
            vec![
                (c, leader_vote(1, 3), None),
                (s, Frame::new(1, Message::VoteResponse(VoteResponse::default())), None),
                (c, leader_vote(2, 2), Some(RequestTermRegressed)),
                (s, Frame::new(2, Message::VoteResponse(VoteResponse::default())), None),
            ],
        ),
        (
            "stream_5_accept_pipelined_out_of_order",
            "STREAM-5",
            "three pipelined requests answered out of order",
            vec![
                (c, tn(1, 1), None),
                (c, tn(2, 1), None),
                (c, tn(3, 1), None),
                (s, tn_resp(3, 1), None),
                (s, tn_resp(1, 1), None),
                (s, tn_resp(2, 1), None),
            ],
        ),
        (
            "stream_5_reject_second_chunk_in_flight",
            "STREAM-5",
            "a second InstallSnapshot before the first is answered (the second's answer comes first)",
            vec![
                (c, chunk(1, "s", 0, b"ab", 4), None),
                (c, chunk(2, "s", 2, b"cd", 4), Some(SnapshotChunkInFlight)),
                (s, is_resp(2), None),
                (s, is_resp(1), None),
            ],
        ),
        (
            "stream_6_accept_chunks_in_order",
            "STREAM-6",
            "a snapshot in three chunks",
            vec![
                (c, chunk(1, "s", 0, b"ab", 5), None),
                (s, is_resp(1), None),
                (c, chunk(2, "s", 2, b"cd", 5), None),
                (s, is_resp(2), None),
                (c, chunk(3, "s", 4, b"e", 5), None),
                (s, is_resp(3), None),
            ],
        ),
        (
            "stream_6_reject_chunk_gap",
            "STREAM-6",
            "the second chunk skips a byte",
            vec![
                (c, chunk(1, "s", 0, b"ab", 5), None),
                (s, is_resp(1), None),
                (c, chunk(2, "s", 3, b"de", 5), Some(SnapshotChunkOutOfOrder)),
                (s, is_resp(2), None),
            ],
        ),
        (
            "stream_7_accept_terms_rise",
            "STREAM-7",
            "request terms 2 then 3",
            vec![
                (c, tn(1, 2), None),
                (s, tn_resp(1, 2), None),
                (c, tn(2, 3), None),
                (s, tn_resp(2, 3), None),
            ],
        ),
        (
            "stream_7_reject_term_goes_back",
            "STREAM-7",
            "request terms 3 then 2",
            vec![
                (c, tn(1, 3), None),
                (s, tn_resp(1, 3), None),
                (c, tn(2, 2), Some(RequestTermRegressed)),
                (s, tn_resp(2, 3), None),
            ],
        ),
        (
            "stream_8_accept_response_terms_rise",
            "STREAM-8",
            "response terms 2 then 3",
            vec![
                (c, tn(1, 2), None),
                (s, tn_resp(1, 2), None),
                (c, tn(2, 3), None),
                (s, tn_resp(2, 3), None),
            ],
        ),
        (
            "stream_8_reject_response_term_goes_back",
            "STREAM-8",
            "response terms 3 then 2",
            vec![
                (c, tn(1, 3), None),
                (c, tn(2, 3), None),
                (s, tn_resp(1, 3), None),
                (s, tn_resp(2, 2), Some(ResponseTermRegressed)),
            ],
        ),
        (
            "stream_9_accept_all_answered",
            "STREAM-9",
            "every request answered before close",
            vec![(c, tn(1, 1), None), (s, tn_resp(1, 1), None)],
        ),
        (
            "stream_9_reject_unanswered_at_close",
            "STREAM-9",
            "the connection closes with a request unanswered",
            vec![
                (c, tn(1, 1), None),
                (s, tn_resp(1, 1), None),
                (c, tn(2, 1), Some(UnansweredAtClose)),
            ],
        ),
    ]
}

fn stream_vectors() -> Vec<Vector> {
    stream_scenarios()
        .into_iter()
        .map(|(name, requirement, description, scenario)| {
            let mut b = StreamBuilder::new();
            let mut expected = Vec::new();
            for (to_server, frame, violation) in scenario {
                let at = b.push(to_server, frame);
                if let Some(code) = violation {
                    let direction = if to_server {
                        "client_to_server"
                    } else {
                        "server_to_client"
                    };
                    expected.push(ExpectedViolation {
                        direction: direction.into(),
                        offset: at,
                        code: code.as_str().into(),
                    });
                }
            }
            // Unanswered requests are reported where the client direction ends.
            for e in expected
                .iter_mut()
                .filter(|e| e.code == StreamCode::UnansweredAtClose.as_str())
            {
                e.offset = b.c2s.len() as u64;
            }
            expected.sort();
            let mut s = spec(name.to_string(), requirement, description);
            s.stream = Some(expected);
            Vector {
                spec: s,
                bytes: b.c2s,
                response_bytes: Some(b.s2c),
            }
        })
        .collect()
}

/// Every vector.
pub fn all() -> Vec<Vector> {
    let mut v = frame_vectors();
    v.extend(stream_vectors());
    v.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
    v
}

/// The files of every vector, by path relative to the vectors directory.
pub fn files() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for v in all() {
        let dir = if v.is_stream() { "streams" } else { "frames" };
        let json = serde_json::to_string_pretty(&v.spec).unwrap_or_default() + "\n";
        files.insert(format!("{dir}/{}.json", v.spec.id), json.into_bytes());
        match &v.response_bytes {
            Some(s2c) => {
                files.insert(format!("{dir}/{}.c2s.bin", v.spec.id), v.bytes.clone());
                files.insert(format!("{dir}/{}.s2c.bin", v.spec.id), s2c.clone());
            }
            None => {
                files.insert(format!("{dir}/{}.bin", v.spec.id), v.bytes.clone());
            }
        }
    }
    files
}

/// Writes every vector under `dir` (removing vectors no longer generated).
pub fn write(dir: &Path) -> std::io::Result<usize> {
    for sub in ["frames", "streams"] {
        let _ = std::fs::remove_dir_all(dir.join(sub));
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let files = files();
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(files.len())
}

/// Loads the vectors committed under `dir`.
pub fn load(dir: &Path) -> Result<Vec<Vector>, String> {
    let mut out = Vec::new();
    for sub in ["frames", "streams"] {
        let d = dir.join(sub);
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .map_err(|e| format!("{}: {e}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        for json in names {
            let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
            let spec: VectorSpec =
                serde_json::from_slice(&read(&json)?).map_err(|e| format!("{}: {e}", json.display()))?;
            let stem = d.join(&spec.id);
            let v = if spec.stream.is_some() {
                Vector {
                    bytes: read(&stem.with_extension("c2s.bin"))?,
                    response_bytes: Some(read(&stem.with_extension("s2c.bin"))?),
                    spec,
                }
            } else {
                Vector {
                    bytes: read(&stem.with_extension("bin"))?,
                    response_bytes: None,
                    spec,
                }
            };
            out.push(v);
        }
    }
    Ok(out)
}

/// The verdict the built-in stream checker gives a stream vector: every violation, sorted.
pub fn stream_verdict(c2s: &[u8], s2c: &[u8]) -> Vec<ExpectedViolation> {
    let scan = |bytes: &[u8], dir: &str, out: &mut Vec<ExpectedViolation>| {
        let mut frames = Vec::new();
        for e in crate::scan::scan_all(bytes, Limits::default()) {
            match e {
                crate::scan::Event::Frame { offset, frame, .. } => {
                    frames.push((offset, crate::checker::FrameInfo::from(&frame)))
                }
                crate::scan::Event::Error { error, .. } => out.push(ExpectedViolation {
                    direction: dir.into(),
                    offset: error.offset,
                    code: error.code.as_str().into(),
                }),
                _ => {}
            }
        }
        frames
    };
    let mut out = Vec::new();
    let client = scan(c2s, "client_to_server", &mut out);
    let server = scan(s2c, "server_to_client", &mut out);
    for v in crate::checker::check_untimed(&client, &server, c2s.len() as u64) {
        out.push(ExpectedViolation {
            direction: v.direction.as_str().into(),
            offset: v.offset,
            code: v.code.as_str().into(),
        });
    }
    out.sort();
    out
}

/// Checks a vector against the built-in codec and checker: `Ok` if it gets the expected verdict,
/// else what it got instead.
pub fn check_builtin(v: &Vector) -> Result<(), String> {
    if let Some(expected) = &v.spec.stream {
        let got = stream_verdict(&v.bytes, v.response_bytes.as_deref().unwrap_or_default());
        return if &got == expected {
            Ok(())
        } else {
            Err(format!("got {}", serde_json::to_string(&got).unwrap_or_default()))
        };
    }
    let got = decode_verdict(&v.bytes);
    match &v.spec.frames {
        Some(expected) if *expected == got => Ok(()),
        _ => Err(format!("got {}", serde_json::to_string(&got).unwrap_or_default())),
    }
}
