//! FIELD-*, MSG-*, RV-*, AE-*, AER-*, IS-*, CONF-*: every body rule, accepted and rejected, with
//! the payload offset `SPEC.md` §5 assigns to the offending field. Each rejected frame has valid
//! CRCs, so the body rule itself is what fails.

mod common;

use bytes::Bytes;
use common::*;
use raftwire_codec::*;

/// Asserts a rejection at payload offset `at` (the frame offset is `HEADER_LEN + at`).
fn body_rejected(bytes: &[u8], code: ErrorCode, requirement: &str, at: usize) -> DecodeError {
    assert_rejected(bytes, code, requirement, (HEADER_LEN + at) as u64)
}

fn rv() -> Message {
    Message::RequestVote(request_vote())
}
fn ae() -> Message {
    Message::AppendEntries(append_entries())
}
fn aer(success: bool, conflict_index: u64, conflict_term: u64) -> Message {
    Message::AppendEntriesResponse(AppendEntriesResponse {
        term: 5,
        success,
        last_log_index: 3,
        conflict_index,
        conflict_term,
    })
}
fn first_chunk() -> Message {
    Message::InstallSnapshot(Box::new(install_snapshot(0, b"first", 12)))
}
fn middle_chunk() -> Message {
    Message::InstallSnapshot(Box::new(install_snapshot(5, b"mid", 12)))
}
fn error_response(message: &str) -> Message {
    Message::Error(ErrorResponse {
        code: ErrorResponseCode::Overloaded,
        message: message.into(),
    })
}

#[test]
fn field_1_truncated_fixed_field_and_overlong_length_prefix() {
    accept(&encoded(rv()));
    // RequestVote cut inside last_log_term: the field at payload offset 16 does not fit.
    let e = body_rejected(
        &raw(MessageType::RequestVote, &encoded(rv())[HEADER_LEN..HEADER_LEN + 20]),
        ErrorCode::TruncatedBody,
        "FIELD-1",
        16,
    );
    assert_eq!((e.found, e.expected), (4, Expected::AtLeast(8)));
    // The candidate id claims 200 bytes where 2 remain: reported at the length prefix.
    let e = body_rejected(&patched(rv(), 26, &[200]), ErrorCode::TruncatedBody, "FIELD-1", 26);
    assert_eq!((e.found, e.expected), (200, Expected::AtMost(2)));
    // An entry count that could not fit in the payload is refused before anything is allocated.
    let e = body_rejected(
        &patched(ae(), 35, &u32::MAX.to_be_bytes()),
        ErrorCode::TruncatedBody,
        "FIELD-1",
        35,
    );
    assert_eq!(e.found, u32::MAX as u64);
    // A data length running past the payload.
    body_rejected(
        &patched(ae(), 56, &u32::MAX.to_be_bytes()),
        ErrorCode::TruncatedBody,
        "FIELD-1",
        56,
    );
}

#[test]
fn field_2_booleans_are_exactly_0_or_1() {
    for b in [0u8, 1] {
        let m = accept(&patched(rv(), 24, &[b, 0])).message;
        assert!(matches!(m, Message::RequestVote(r) if r.pre_vote == (b == 1)));
    }
    for b in [2u8, 0x80, 0xFF] {
        let e = body_rejected(&patched(rv(), 24, &[b]), ErrorCode::BadBool, "FIELD-2", 24);
        assert_eq!(e.found, b as u64);
    }
    body_rejected(&patched(aer(true, 0, 0), 8, &[2]), ErrorCode::BadBool, "FIELD-2", 8);
}

#[test]
fn field_3_closed_enums_reject_undefined_values() {
    // Entry kind (entry 0's kind at payload 55), suffrage (first chunk, payload 55), error code.
    assert_ne!(reject(&patched(ae(), 55, &[3])).code, ErrorCode::UnknownEnum);
    for (kind, ok) in [(0u8, true), (4, false), (0xFF, false)] {
        let b = patched(ae(), 55, &[kind]);
        if ok {
            accept(&b);
        } else {
            body_rejected(&b, ErrorCode::UnknownEnum, "FIELD-3", 55);
        }
    }
    accept(&patched(first_chunk(), 73, &[2]));
    body_rejected(&patched(first_chunk(), 55, &[3]), ErrorCode::UnknownEnum, "FIELD-3", 55);
    accept(&patched(error_response("x"), 0, &6u16.to_be_bytes()));
    body_rejected(
        &patched(error_response("x"), 0, &7u16.to_be_bytes()),
        ErrorCode::UnknownEnum,
        "FIELD-3",
        0,
    );
    body_rejected(
        &patched(error_response("x"), 0, &0u16.to_be_bytes()),
        ErrorCode::UnknownEnum,
        "FIELD-3",
        0,
    );
}

#[test]
fn field_4_ids_must_not_be_empty() {
    let max = "x".repeat(255);
    let long = Message::TimeoutNow(TimeoutNowRequest {
        term: 1,
        leader_id: id(&max),
    });
    accept(&encoded(long));
    assert!(Id::new(Bytes::new()).is_err() && Id::new(vec![0u8; 256]).is_err());
    let tn = Message::TimeoutNow(TimeoutNowRequest {
        term: 1,
        leader_id: id("a"),
    });
    let mut f = raftwire_codec::craft::RawFrame::parse(&encoded(tn)).unwrap().reseal();
    f.payload.truncate(8);
    f.payload.push(0);
    body_rejected(&f.bytes(), ErrorCode::EmptyId, "FIELD-4", 8);
}

#[test]
fn field_5_text_must_be_utf8_reported_at_the_bad_byte() {
    let m = accept(&encoded(error_response("grüße"))).message;
    assert!(matches!(m, Message::Error(e) if e.message == "grüße"));
    let e = body_rejected(
        &patched(error_response("abcd"), 6, &[0xFF]),
        ErrorCode::InvalidUtf8,
        "FIELD-5",
        6,
    );
    assert_eq!(e.found, 0xFF);
}

#[test]
fn field_6_text_length_limit() {
    let at_limit = "e".repeat(MAX_ERROR_MESSAGE_LEN as usize);
    accept(&encoded(error_response(&at_limit)));
    let over = "e".repeat(MAX_ERROR_MESSAGE_LEN as usize + 1);
    let mut payload = 3u16.to_be_bytes().to_vec();
    payload.extend_from_slice(&(over.len() as u16).to_be_bytes());
    payload.extend_from_slice(over.as_bytes());
    body_rejected(&raw(MessageType::Error, &payload), ErrorCode::TextTooLong, "FIELD-6", 2);
    let refused = Frame::new(1, error_response(&over)).to_bytes().unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::TextTooLong));
}

#[test]
fn msg_1_zero_term_rejected_in_every_message_with_a_term() {
    for m in every_message() {
        // A pre-vote's answer, and every answer of the leader-id family (SPEC.md §5.7), may
        // carry term 0: a node that never voted answers with the empty vote.
        let zero_allowed = matches!(
            m.message_type(),
            MessageType::RequestVoteResponse
                | MessageType::VoteResponse
                | MessageType::AppendResponse
                | MessageType::SnapshotResponse
        );
        if m.term().is_none() || zero_allowed {
            continue;
        }
        let b = encoded(m.clone());
        accept(&b);
        body_rejected(&patched(m, 0, &0u64.to_be_bytes()), ErrorCode::ZeroTerm, "MSG-1", 0);
    }
}

#[test]
fn msg_1_a_fresh_node_may_answer_a_pre_vote_with_term_zero() {
    let m = Message::RequestVoteResponse(RequestVoteResponse { term: 0, granted: true });
    assert_eq!(accept(&encoded(m.clone())).message, m);
}

#[test]
fn rv_1_last_log_fields_consistent_with_each_other_and_the_term() {
    accept(&encoded(rv()));
    let empty_log = RequestVoteRequest {
        last_log_index: 0,
        last_log_term: 0,
        ..request_vote()
    };
    accept(&encoded(Message::RequestVote(empty_log)));
    body_rejected(
        &patched(rv(), 16, &6u64.to_be_bytes()),
        ErrorCode::BadLastLog,
        "RV-1",
        16,
    );
    body_rejected(
        &patched(rv(), 16, &0u64.to_be_bytes()),
        ErrorCode::BadLastLog,
        "RV-1",
        16,
    );
    body_rejected(
        &patched(rv(), 8, &0u64.to_be_bytes()),
        ErrorCode::BadLastLog,
        "RV-1",
        16,
    );
}

#[test]
fn rv_2_pre_vote_never_with_leadership_transfer() {
    accept(&patched(rv(), 24, &[1, 0]));
    accept(&patched(rv(), 24, &[0, 1]));
    body_rejected(&patched(rv(), 24, &[1, 1]), ErrorCode::ConflictingVoteFlags, "RV-2", 25);
}

#[test]
fn ae_1_prev_log_fields_consistent() {
    let from_start = AppendEntriesRequest {
        prev_log_index: 0,
        prev_log_term: 0,
        entries: vec![Entry {
            index: 1,
            term: 1,
            kind: EntryKind::Noop,
            data: Bytes::new(),
        }]
        .into(),
        ..append_entries()
    };
    accept(&encoded(Message::AppendEntries(from_start)));
    body_rejected(
        &patched(ae(), 16, &0u64.to_be_bytes()),
        ErrorCode::BadPrevLog,
        "AE-1",
        16,
    );
    body_rejected(
        &patched(ae(), 16, &9u64.to_be_bytes()),
        ErrorCode::BadPrevLog,
        "AE-1",
        16,
    );
}

#[test]
fn ae_2_entry_indices_consecutive_from_prev_log_index_plus_one() {
    accept(&encoded(ae()));
    let e = body_rejected(
        &patched(ae(), 39, &12u64.to_be_bytes()),
        ErrorCode::EntryIndexGap,
        "AE-2",
        39,
    );
    assert_eq!((e.found, e.expected), (12, Expected::Exactly(11)));
    // Second entry (payload 67) repeats the first's index.
    body_rejected(
        &patched(ae(), 67, &11u64.to_be_bytes()),
        ErrorCode::EntryIndexGap,
        "AE-2",
        67,
    );
    // Index space exhausted: prev_log_index u64::MAX leaves no index for an entry.
    let mut m = append_entries();
    m.entries = m.entries.iter().take(1).collect();
    let b = patched(Message::AppendEntries(m), 8, &u64::MAX.to_be_bytes());
    body_rejected(&b, ErrorCode::EntryIndexGap, "AE-2", 39);
}

#[test]
fn ae_3_entry_terms_ordered_and_bounded() {
    accept(&encoded(ae()));
    // First entry below prev_log_term (4), first entry above the term (5), second below the first.
    body_rejected(
        &patched(ae(), 47, &3u64.to_be_bytes()),
        ErrorCode::EntryTermOrder,
        "AE-3",
        47,
    );
    body_rejected(
        &patched(ae(), 47, &6u64.to_be_bytes()),
        ErrorCode::EntryTermOrder,
        "AE-3",
        47,
    );
    let b = patched(ae(), 47, &5u64.to_be_bytes());
    accept(&b);
    let mut m = append_entries();
    let mut entries = m.entries.to_vec();
    entries[1].term = 4;
    entries[0].term = 5;
    m.entries = entries.into();
    let e = Frame::new(1, Message::AppendEntries(m)).to_bytes().unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::EntryTermOrder));
}

#[test]
fn ae_4_noop_and_barrier_entries_carry_no_data() {
    accept(&encoded(ae()));
    // Turn the Command entry (7 bytes of data) into a Noop, then a Barrier.
    body_rejected(&patched(ae(), 55, &[1]), ErrorCode::EntryDataNotEmpty, "AE-4", 60);
    body_rejected(&patched(ae(), 55, &[3]), ErrorCode::EntryDataNotEmpty, "AE-4", 60);
}

#[test]
fn ae_5_configuration_entries_hold_exactly_one_valid_configuration() {
    accept(&encoded(ae()));
    // Entry 2's data starts at payload 109: its first server's suffrage byte is at 111.
    body_rejected(&patched(ae(), 111, &[9]), ErrorCode::UnknownEnum, "FIELD-3", 111);
    // Both servers non-voting: CONF-1 at the configuration's server count.
    body_rejected(&patched(ae(), 111, &[1]), ErrorCode::NoVoter, "CONF-1", 109);
    // The Command entry's data reinterpreted as a configuration (AE-5).
    let e = body_rejected(&patched(ae(), 55, &[2]), ErrorCode::TruncatedBody, "FIELD-1", 60);
    assert_eq!(e.field, "server_count");
    let mut m = append_entries();
    let mut entries = m.entries.to_vec();
    entries[2].data = Bytes::from_static(b"\x00\x00");
    m.entries = entries.into();
    let e = Frame::new(1, Message::AppendEntries(m)).to_bytes().unwrap_err();
    assert_eq!(
        e.code(),
        Some(ErrorCode::NoVoter),
        "AE-5: an empty configuration entry is refused"
    );
}

#[test]
fn aer_1_conflict_hint_only_on_failure_and_consistent() {
    accept(&encoded(aer(true, 0, 0)));
    accept(&encoded(aer(false, 7, 3)));
    accept(&encoded(aer(false, 7, 0)));
    body_rejected(
        &patched(aer(true, 0, 0), 17, &7u64.to_be_bytes()),
        ErrorCode::BadConflictHint,
        "AER-1",
        17,
    );
    body_rejected(
        &patched(aer(true, 0, 0), 25, &3u64.to_be_bytes()),
        ErrorCode::BadConflictHint,
        "AER-1",
        25,
    );
    body_rejected(
        &patched(aer(false, 7, 3), 17, &0u64.to_be_bytes()),
        ErrorCode::BadConflictHint,
        "AER-1",
        25,
    );
}

#[test]
fn is_1_chunk_within_total_size() {
    accept(&encoded(first_chunk()));
    let e = body_rejected(
        &patched(middle_chunk(), 24, &7u64.to_be_bytes()),
        ErrorCode::ChunkOutOfBounds,
        "IS-1",
        55,
    );
    assert_eq!((e.found, e.expected), (3, Expected::AtMost(2)));
    // offset + length overflowing u64 is out of bounds, not a wrap-around.
    body_rejected(
        &patched(middle_chunk(), 32, &u64::MAX.to_be_bytes()),
        ErrorCode::ChunkOutOfBounds,
        "IS-1",
        55,
    );
}

#[test]
fn is_2_done_exactly_on_the_last_chunk() {
    accept(&encoded(Message::InstallSnapshot(Box::new(install_snapshot(
        8, b"last", 12,
    )))));
    body_rejected(
        &patched(middle_chunk(), 40, &[1]),
        ErrorCode::ChunkDoneMismatch,
        "IS-2",
        55,
    );
    let last = Message::InstallSnapshot(Box::new(install_snapshot(8, b"last", 12)));
    body_rejected(&patched(last, 40, &[0]), ErrorCode::ChunkDoneMismatch, "IS-2", 55);
}

#[test]
fn is_3_configuration_in_the_first_chunk_only() {
    accept(&encoded(first_chunk()));
    accept(&encoded(middle_chunk()));
    body_rejected(
        &patched(first_chunk(), 32, &1u64.to_be_bytes()),
        ErrorCode::ConfigurationPlacement,
        "IS-3",
        53,
    );
    let mut m = install_snapshot(0, b"first", 12);
    m.configuration = Configuration::default();
    let e = Frame::new(1, Message::InstallSnapshot(Box::new(m)))
        .to_bytes()
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ConfigurationPlacement));
}

#[test]
fn is_4_snapshot_point_nonzero_and_not_above_the_term() {
    accept(&encoded(first_chunk()));
    body_rejected(
        &patched(first_chunk(), 8, &0u64.to_be_bytes()),
        ErrorCode::BadSnapshotPoint,
        "IS-4",
        8,
    );
    body_rejected(
        &patched(first_chunk(), 16, &0u64.to_be_bytes()),
        ErrorCode::BadSnapshotPoint,
        "IS-4",
        16,
    );
    body_rejected(
        &patched(first_chunk(), 16, &6u64.to_be_bytes()),
        ErrorCode::BadSnapshotPoint,
        "IS-4",
        16,
    );
}

#[test]
fn is_5_only_the_last_chunk_may_be_empty() {
    let empty_snapshot = install_snapshot(0, b"", 0);
    assert!(empty_snapshot.done);
    accept(&encoded(Message::InstallSnapshot(Box::new(empty_snapshot))));
    let mut m = install_snapshot(5, b"", 12);
    m.done = false;
    let e = Frame::new(1, Message::InstallSnapshot(Box::new(m)))
        .to_bytes()
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::EmptyChunk));
    let mut p = encoded(middle_chunk())[HEADER_LEN..].to_vec();
    p.truncate(p.len() - 4 - 3);
    p[55..59].copy_from_slice(&0u32.to_be_bytes());
    body_rejected(
        &raw(MessageType::InstallSnapshot, &p),
        ErrorCode::EmptyChunk,
        "IS-5",
        55,
    );
}

#[test]
fn conf_1_a_configuration_needs_a_voter() {
    accept(&encoded(first_chunk()));
    // Second server (payload 73) made a voter too: still one configuration, two voters.
    accept(&patched(first_chunk(), 73, &[0]));
    // The only voter made staging: no voter left.
    body_rejected(&patched(first_chunk(), 55, &[2]), ErrorCode::NoVoter, "CONF-1", 53);
}

#[test]
fn conf_1_staging_and_nonvoters_alone_are_rejected() {
    body_rejected(&patched(first_chunk(), 55, &[1]), ErrorCode::NoVoter, "CONF-1", 53);
}

#[test]
fn conf_2_server_ids_unique() {
    accept(&encoded(first_chunk()));
    // Rename n2 to n1 (second server's id bytes at payload 75..77).
    let e = body_rejected(
        &patched(first_chunk(), 75, b"n1"),
        ErrorCode::DuplicateServer,
        "CONF-2",
        74,
    );
    assert_eq!(e.field, "server.id");
}
