//! Named byte-level cases, each declaring the verdict it was built to produce: valid frames of
//! every type and edge, and one or more rejects per error code. They seed the fuzz corpus
//! (`raftwire corpus`) and the conformance vectors; a test checks the codec agrees with every
//! declared verdict, so a case can never silently drift from its intent.

use bytes::Bytes;
use raftwire_codec::craft::{reseal_in_place, RawFrame};
use raftwire_codec::*;

/// What a case must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Decodes as exactly this many frames.
    Accept {
        /// Frames in the bytes.
        frames: usize,
    },
    /// Rejected with this code at this offset.
    Reject {
        /// Error code.
        code: ErrorCode,
        /// Byte offset of the offending field.
        offset: u64,
    },
}

/// One case.
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique, file-name-safe name.
    pub name: String,
    /// The requirement the case exercises.
    pub requirement: &'static str,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The verdict the case was built to produce.
    pub verdict: Verdict,
}

fn id(s: &str) -> Id {
    Id::try_from(s).unwrap_or_else(|e| unreachable!("{e}"))
}

fn configuration(n: usize) -> Configuration {
    Configuration {
        servers: (1..=n)
            .map(|i| Server {
                suffrage: if i == 1 { Suffrage::Voter } else { Suffrage::Nonvoter },
                id: id(&format!("n{i}")),
                address: id(&format!("10.0.0.{i}:7000")),
            })
            .collect(),
    }
}

fn chunk(offset: u64, data: &'static [u8], total: u64) -> InstallSnapshotRequest {
    InstallSnapshotRequest {
        term: 5,
        last_included_index: 100,
        last_included_term: 4,
        total_size: total,
        offset,
        done: offset + data.len() as u64 == total,
        leader_id: id("n1"),
        snapshot_id: id("snap-100"),
        configuration: if offset == 0 {
            configuration(2)
        } else {
            Configuration::default()
        },
        data: Bytes::from_static(data),
    }
}

fn append_entries() -> AppendEntriesRequest {
    AppendEntriesRequest {
        term: 5,
        prev_log_index: 10,
        prev_log_term: 4,
        leader_commit: 9,
        leader_id: id("n1"),
        entries: vec![
            Entry {
                index: 11,
                term: 4,
                kind: EntryKind::Command,
                data: Bytes::from_static(b"set x=1"),
            },
            Entry {
                index: 12,
                term: 5,
                kind: EntryKind::Noop,
                data: Bytes::new(),
            },
            Entry {
                index: 13,
                term: 5,
                kind: EntryKind::Configuration,
                data: configuration(2).to_entry_data().unwrap_or_default(),
            },
        ]
        .into(),
    }
}

/// Valid messages, named, covering every type and the edges of each (the leader-id family's
/// last).
pub fn valid_messages() -> Vec<(&'static str, &'static str, Message)> {
    let mut messages = classic_messages();
    messages.extend(crate::leader_cases::valid_messages());
    messages
}

fn classic_messages() -> Vec<(&'static str, &'static str, Message)> {
    let long_id = id(&"x".repeat(255));
    vec![
        (
            "request_vote",
            "FIELD-2",
            Message::RequestVote(RequestVoteRequest {
                term: 5,
                last_log_index: 10,
                last_log_term: 4,
                pre_vote: false,
                leadership_transfer: true,
                candidate_id: id("n1"),
            }),
        ),
        (
            "request_vote_pre_vote_empty_log",
            "RV-1",
            Message::RequestVote(RequestVoteRequest {
                term: 1,
                last_log_index: 0,
                last_log_term: 0,
                pre_vote: true,
                leadership_transfer: false,
                candidate_id: long_id.clone(),
            }),
        ),
        (
            "request_vote_response",
            "MSG-1",
            Message::RequestVoteResponse(RequestVoteResponse { term: 5, granted: true }),
        ),
        (
            "request_vote_response_fresh_node",
            "MSG-1",
            Message::RequestVoteResponse(RequestVoteResponse {
                term: 0,
                granted: false,
            }),
        ),
        ("append_entries", "AE-2", Message::AppendEntries(append_entries())),
        (
            "append_entries_heartbeat",
            "AE-1",
            Message::AppendEntries(AppendEntriesRequest {
                entries: vec![].into(),
                ..append_entries()
            }),
        ),
        (
            "append_entries_from_log_start",
            "AE-1",
            Message::AppendEntries(AppendEntriesRequest {
                prev_log_index: 0,
                prev_log_term: 0,
                entries: vec![Entry {
                    index: 1,
                    term: 1,
                    kind: EntryKind::Barrier,
                    data: Bytes::new(),
                }]
                .into(),
                ..append_entries()
            }),
        ),
        (
            "append_entries_response_conflict",
            "AER-1",
            Message::AppendEntriesResponse(AppendEntriesResponse {
                term: 5,
                success: false,
                last_log_index: 8,
                conflict_index: 7,
                conflict_term: 3,
            }),
        ),
        (
            "append_entries_response_ok",
            "AER-1",
            Message::AppendEntriesResponse(AppendEntriesResponse {
                term: 5,
                success: true,
                last_log_index: 13,
                conflict_index: 0,
                conflict_term: 0,
            }),
        ),
        (
            "snapshot_first_chunk",
            "IS-3",
            Message::InstallSnapshot(Box::new(chunk(0, b"first", 12))),
        ),
        (
            "snapshot_middle_chunk",
            "IS-2",
            Message::InstallSnapshot(Box::new(chunk(5, b"mid", 12))),
        ),
        (
            "snapshot_last_chunk",
            "IS-2",
            Message::InstallSnapshot(Box::new(chunk(8, b"last", 12))),
        ),
        (
            "snapshot_empty",
            "IS-5",
            Message::InstallSnapshot(Box::new(chunk(0, b"", 0))),
        ),
        (
            "install_snapshot_response",
            "MSG-1",
            Message::InstallSnapshotResponse(InstallSnapshotResponse {
                term: 5,
                success: true,
                bytes_stored: 5,
            }),
        ),
        (
            "timeout_now",
            "MSG-1",
            Message::TimeoutNow(TimeoutNowRequest {
                term: 5,
                leader_id: id("n1"),
            }),
        ),
        (
            "timeout_now_response",
            "MSG-1",
            Message::TimeoutNowResponse(TimeoutNowResponse { term: 5, success: true }),
        ),
        (
            "error_response",
            "FIELD-5",
            Message::Error(ErrorResponse {
                code: ErrorResponseCode::NotLeader,
                message: "leader is n2 — try there".into(),
            }),
        ),
        (
            "error_response_longest_message",
            "FIELD-6",
            Message::Error(ErrorResponse {
                code: ErrorResponseCode::Internal,
                message: "e".repeat(MAX_ERROR_MESSAGE_LEN as usize),
            }),
        ),
    ]
}

fn encoded(message: &Message, request_id: u64) -> Vec<u8> {
    Frame::new(request_id, message.clone())
        .to_bytes()
        .map(|b| b.to_vec())
        .unwrap_or_default()
}

fn find<'a>(messages: &'a [(&str, &str, Message)], name: &str) -> &'a Message {
    &messages
        .iter()
        .find(|(n, _, _)| *n == name)
        .unwrap_or_else(|| unreachable!("{name}"))
        .2
}

/// Every case: valid frames, then the rejects.
pub fn frame_cases() -> Vec<Case> {
    let messages = valid_messages();
    let mut cases: Vec<Case> = messages
        .iter()
        .enumerate()
        .map(|(i, (name, req, m))| Case {
            name: format!("accept_{name}"),
            requirement: req,
            bytes: encoded(m, i as u64 + 1),
            verdict: Verdict::Accept { frames: 1 },
        })
        .collect();
    cases.push(Case {
        name: "accept_max_request_id".into(),
        requirement: "FRAME-6",
        bytes: encoded(find(&messages, "timeout_now"), u64::MAX),
        verdict: Verdict::Accept { frames: 1 },
    });

    let tn = encoded(find(&messages, "timeout_now"), 1);
    let raw = |edit: &dyn Fn(&mut RawFrame)| {
        let mut f = RawFrame::parse(&tn).unwrap_or_else(|| unreachable!()).reseal();
        edit(&mut f);
        f.bytes()
    };
    let mut reject = |name: &str, requirement: &'static str, bytes: Vec<u8>, code: ErrorCode, offset: u64| {
        cases.push(Case {
            name: format!("reject_{name}"),
            requirement,
            bytes,
            verdict: Verdict::Reject { code, offset },
        });
    };
    // Frame level.
    reject(
        "bad_marker",
        "FRAME-1",
        raw(&|f| f.marker[2] = b'X'),
        ErrorCode::BadMarker,
        2,
    );
    reject(
        "hashicorp_response_start",
        "FRAME-1",
        vec![0xA0, 0x85, 0xA4, b'A', b'd', b'd', b'r'],
        ErrorCode::BadMarker,
        0,
    );
    reject(
        "version_2",
        "FRAME-2",
        raw(&|f| f.version = 2),
        ErrorCode::UnsupportedVersion,
        4,
    );
    reject(
        "header_crc",
        "FRAME-3",
        raw(&|f| f.header_crc = Some(0xDEAD_BEEF)),
        ErrorCode::HeaderCrcMismatch,
        20,
    );
    reject(
        "unknown_type",
        "FRAME-4",
        raw(&|f| f.message_type = 0x05),
        ErrorCode::UnknownType,
        5,
    );
    reject(
        "reserved_flags",
        "FRAME-5",
        raw(&|f| f.flags = 0x8000),
        ErrorCode::ReservedFlags,
        6,
    );
    reject(
        "zero_request_id",
        "FRAME-6",
        raw(&|f| f.request_id = 0),
        ErrorCode::ZeroRequestId,
        8,
    );
    let mut huge = raw(&|f| f.payload_len = Some(DEFAULT_MAX_PAYLOAD_LEN + 1));
    huge.truncate(HEADER_LEN);
    reject("length_over_limit", "FRAME-7", huge, ErrorCode::LengthOverLimit, 16);
    let payload_crc_at = (tn.len() - TRAILER_LEN) as u64;
    reject(
        "payload_crc",
        "FRAME-8",
        raw(&|f| f.payload_crc = Some(1)),
        ErrorCode::PayloadCrcMismatch,
        payload_crc_at,
    );
    reject(
        "trailing_byte_in_payload",
        "FRAME-9",
        raw(&|f| f.payload.push(0)),
        ErrorCode::TrailingBytes,
        payload_crc_at,
    );
    reject(
        "truncated_frame",
        "FRAME-10",
        tn[..tn.len() - 1].to_vec(),
        ErrorCode::TruncatedFrame,
        0,
    );

    // Body level: patch a field of a valid message at a payload offset, then reseal.
    let patch = |name: &str, at: usize, bytes: &[u8]| {
        let mut b = encoded(find(&messages, name), 1);
        b[HEADER_LEN + at..HEADER_LEN + at + bytes.len()].copy_from_slice(bytes);
        reseal_in_place(&mut b);
        b
    };
    let h = HEADER_LEN as u64;
    let body: Vec<(&str, &'static str, Vec<u8>, ErrorCode, u64)> = vec![
        (
            "id_overruns_payload",
            "FIELD-1",
            patch("request_vote", 26, &[200]),
            ErrorCode::TruncatedBody,
            h + 26,
        ),
        (
            "entry_count_overruns_payload",
            "FIELD-1",
            patch("append_entries", 35, &[0xFF; 4]),
            ErrorCode::TruncatedBody,
            h + 35,
        ),
        (
            "bool_2",
            "FIELD-2",
            patch("request_vote", 24, &[2]),
            ErrorCode::BadBool,
            h + 24,
        ),
        (
            "entry_kind_4",
            "FIELD-3",
            patch("append_entries", 55, &[4]),
            ErrorCode::UnknownEnum,
            h + 55,
        ),
        (
            "error_code_7",
            "FIELD-3",
            patch("error_response", 0, &[0, 7]),
            ErrorCode::UnknownEnum,
            h,
        ),
        (
            "empty_id",
            "FIELD-4",
            patch("timeout_now", 8, &[0]),
            ErrorCode::EmptyId,
            h + 8,
        ),
        (
            "invalid_utf8",
            "FIELD-5",
            patch("error_response", 4, &[0xFF]),
            ErrorCode::InvalidUtf8,
            h + 4,
        ),
        (
            "zero_term",
            "MSG-1",
            patch("timeout_now", 0, &[0; 8]),
            ErrorCode::ZeroTerm,
            h,
        ),
        (
            "last_log_term_above_term",
            "RV-1",
            patch("request_vote", 16, &6u64.to_be_bytes()),
            ErrorCode::BadLastLog,
            h + 16,
        ),
        (
            "pre_vote_and_transfer",
            "RV-2",
            patch("request_vote", 24, &[1, 1]),
            ErrorCode::ConflictingVoteFlags,
            h + 25,
        ),
        (
            "prev_log_term_without_index",
            "AE-1",
            patch("append_entries_from_log_start", 16, &1u64.to_be_bytes()),
            ErrorCode::BadPrevLog,
            h + 16,
        ),
        (
            "entry_index_gap",
            "AE-2",
            patch("append_entries", 39, &12u64.to_be_bytes()),
            ErrorCode::EntryIndexGap,
            h + 39,
        ),
        (
            "entry_term_above_term",
            "AE-3",
            patch("append_entries", 47, &6u64.to_be_bytes()),
            ErrorCode::EntryTermOrder,
            h + 47,
        ),
        (
            "noop_with_data",
            "AE-4",
            patch("append_entries", 55, &[1]),
            ErrorCode::EntryDataNotEmpty,
            h + 60,
        ),
        (
            "configuration_entry_without_voter",
            "AE-5",
            patch("append_entries", 111, &[1]),
            ErrorCode::NoVoter,
            h + 109,
        ),
        (
            "conflict_hint_on_success",
            "AER-1",
            patch("append_entries_response_ok", 17, &7u64.to_be_bytes()),
            ErrorCode::BadConflictHint,
            h + 17,
        ),
        (
            "chunk_out_of_bounds",
            "IS-1",
            patch("snapshot_middle_chunk", 24, &7u64.to_be_bytes()),
            ErrorCode::ChunkOutOfBounds,
            h + 55,
        ),
        (
            "chunk_done_too_early",
            "IS-2",
            patch("snapshot_middle_chunk", 40, &[1]),
            ErrorCode::ChunkDoneMismatch,
            h + 55,
        ),
        (
            "configuration_in_later_chunk",
            "IS-3",
            patch("snapshot_first_chunk", 32, &1u64.to_be_bytes()),
            ErrorCode::ConfigurationPlacement,
            h + 53,
        ),
        (
            "snapshot_point_zero",
            "IS-4",
            patch("snapshot_first_chunk", 8, &[0; 8]),
            ErrorCode::BadSnapshotPoint,
            h + 8,
        ),
        (
            "duplicate_server",
            "CONF-2",
            patch("snapshot_first_chunk", 75, b"n1"),
            ErrorCode::DuplicateServer,
            h + 74,
        ),
        (
            "no_voter",
            "CONF-1",
            patch("snapshot_first_chunk", 55, &[2]),
            ErrorCode::NoVoter,
            h + 53,
        ),
    ];
    for (name, req, bytes, code, offset) in body {
        reject(name, req, bytes, code, offset);
    }
    // FIELD-6 and IS-5 need payloads the patch approach cannot reach.
    let mut long = 3u16.to_be_bytes().to_vec();
    long.extend_from_slice(&(MAX_ERROR_MESSAGE_LEN + 1).to_be_bytes());
    long.extend(std::iter::repeat_n(b'e', MAX_ERROR_MESSAGE_LEN as usize + 1));
    reject(
        "text_too_long",
        "FIELD-6",
        RawFrame::new(MessageType::Error as u8, long).bytes(),
        ErrorCode::TextTooLong,
        h + 2,
    );
    // The order of rules an implementation could otherwise take either way (SPEC.md §3, §5).
    // FIELD-6 is judged on a text's length as it is read, before FIELD-1 asks for its bytes.
    let mut long_and_cut = 3u16.to_be_bytes().to_vec();
    long_and_cut.extend_from_slice(&(MAX_ERROR_MESSAGE_LEN + 1).to_be_bytes());
    reject(
        "text_too_long_and_past_the_payload",
        "FIELD-6",
        RawFrame::new(MessageType::Error as u8, long_and_cut).bytes(),
        ErrorCode::TextTooLong,
        h + 2,
    );
    // FIELD-5: an incomplete sequence at the end of a text is reported at its first byte.
    let mut cut_utf8 = 3u16.to_be_bytes().to_vec();
    cut_utf8.extend_from_slice(&4u16.to_be_bytes());
    cut_utf8.extend_from_slice(b"ab\xE2\x82");
    reject(
        "incomplete_utf8_at_the_end",
        "FIELD-5",
        RawFrame::new(MessageType::Error as u8, cut_utf8).bytes(),
        ErrorCode::InvalidUtf8,
        h + 6,
    );
    // IS-3 uses the server count, which is read as a count first: one that claims more servers
    // than bytes remain is FIELD-1's, even in a chunk where any configuration is out of place.
    reject(
        "server_count_past_the_payload_in_a_later_chunk",
        "FIELD-1",
        patch("snapshot_middle_chunk", 53, &[0, 200]),
        ErrorCode::TruncatedBody,
        h + 53,
    );
    // AE-5: a configuration entry with zero servers is `no_voter` at its server count; bytes
    // after the configuration are `trailing_bytes` at the first of them.
    let ae = encoded(find(&messages, "append_entries"), 1)[HEADER_LEN..].to_vec();
    let ae = &ae[..ae.len() - TRAILER_LEN];
    let conf_at = 109; // the third entry's data: after its u32 length at 105
    let conf = ae.get(conf_at..).unwrap_or_default().to_vec();
    let with_data = |data: &[u8]| {
        let mut p = ae.get(..conf_at - 4).unwrap_or_default().to_vec();
        p.extend_from_slice(&(data.len() as u32).to_be_bytes());
        p.extend_from_slice(data);
        RawFrame::new(MessageType::AppendEntries as u8, p).bytes()
    };
    reject(
        "configuration_entry_with_zero_servers",
        "AE-5",
        with_data(&[0, 0]),
        ErrorCode::NoVoter,
        h + conf_at as u64,
    );
    reject(
        "configuration_entry_with_bytes_after_it",
        "AE-5",
        with_data(&[conf.clone(), vec![0]].concat()),
        ErrorCode::TrailingBytes,
        h + (conf_at + conf.len()) as u64,
    );
    let mut p = encoded(find(&messages, "snapshot_middle_chunk"), 1)[HEADER_LEN..].to_vec();
    p.truncate(p.len() - TRAILER_LEN - 3);
    p[55..59].copy_from_slice(&0u32.to_be_bytes());
    reject(
        "empty_middle_chunk",
        "IS-5",
        RawFrame::new(MessageType::InstallSnapshot as u8, p).bytes(),
        ErrorCode::EmptyChunk,
        h + 55,
    );
    cases.extend(crate::leader_cases::rejects(&messages));
    cases
}
