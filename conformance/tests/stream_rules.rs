//! STREAM-1 .. STREAM-9: each rule accepted and violated, through the public checker.

use bytes::Bytes;
use raftwire_codec::*;
use raftwire_conformance::*;

fn id(s: &str) -> Id {
    Id::try_from(s).unwrap()
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
fn rv_resp(rid: u64) -> Frame {
    Frame::new(
        rid,
        Message::RequestVoteResponse(RequestVoteResponse { term: 1, granted: true }),
    )
}
fn err_resp(rid: u64) -> Frame {
    Frame::new(
        rid,
        Message::Error(ErrorResponse {
            code: ErrorResponseCode::Unavailable,
            message: String::new(),
        }),
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

/// Runs the checker over frames given in happened-before order; offsets are positions in each list.
fn check(events: &[(Direction, Frame)]) -> Vec<(StreamCode, Direction, u64)> {
    let mut c = ConnectionChecker::new();
    let (mut ci, mut si) = (0, 0);
    for (d, f) in events {
        match d {
            Direction::ClientToServer => {
                c.client_frame(ci, &FrameInfo::from(f));
                ci += 1;
            }
            Direction::ServerToClient => {
                c.server_frame(si, &FrameInfo::from(f));
                si += 1;
            }
        }
    }
    c.finish(ci)
        .into_iter()
        .map(|v| (v.code, v.direction, v.offset))
        .collect()
}

use Direction::{ClientToServer as C, ServerToClient as S};

#[test]
fn stream_1_direction_requests_up_responses_down() {
    assert!(check(&[(C, tn(1, 1)), (S, tn_resp(1, 1))]).is_empty());
    assert_eq!(check(&[(C, tn_resp(1, 1))]), vec![(StreamCode::WrongDirection, C, 0)]);
    assert_eq!(check(&[(S, tn(1, 1))]), vec![(StreamCode::WrongDirection, S, 0)]);
}

#[test]
fn stream_2_request_ids_unique_among_outstanding() {
    // Reuse after the answer is fine.
    assert!(check(&[(C, tn(1, 1)), (S, tn_resp(1, 1)), (C, tn(1, 1)), (S, tn_resp(1, 1))]).is_empty());
    let v = check(&[(C, tn(1, 1)), (C, tn(1, 1)), (S, tn_resp(1, 1))]);
    assert_eq!(v, vec![(StreamCode::DuplicateRequestId, C, 1)]);
}

#[test]
fn stream_3_every_response_answers_an_outstanding_request() {
    assert_eq!(
        check(&[(S, tn_resp(9, 1))]),
        vec![(StreamCode::UnsolicitedResponse, S, 0)]
    );
    let v = check(&[(C, tn(1, 1)), (S, tn_resp(1, 1)), (S, tn_resp(1, 1))]);
    assert_eq!(v, vec![(StreamCode::UnsolicitedResponse, S, 1)], "answered twice");
}

#[test]
fn stream_4_response_type_matches_the_request_or_is_error() {
    assert!(check(&[(C, tn(1, 1)), (S, err_resp(1))]).is_empty());
    assert_eq!(
        check(&[(C, tn(1, 1)), (S, rv_resp(1))]),
        vec![(StreamCode::ResponseTypeMismatch, S, 0)]
    );
}

#[test]
fn stream_5_pipelining_in_any_order_but_one_snapshot_chunk_at_a_time() {
    let ok = [
        (C, tn(1, 1)),
        (C, tn(2, 1)),
        (C, tn(3, 1)),
        (S, tn_resp(3, 1)),
        (S, tn_resp(1, 1)),
        (S, tn_resp(2, 1)),
    ];
    assert!(check(&ok).is_empty());
    let v = check(&[
        (C, chunk(1, "s", 0, b"ab", 4)),
        (C, chunk(2, "s", 2, b"cd", 4)),
        (S, is_resp(1)),
        (S, is_resp(2)),
    ]);
    assert_eq!(v, vec![(StreamCode::SnapshotChunkInFlight, C, 1)]);
    let many: Vec<_> = (1..=129).map(|i| (C, tn(i, 1))).collect();
    let v = check(&many);
    assert!(v.contains(&(StreamCode::TooManyInFlight, C, 128)));
    assert_eq!(StreamCode::TooManyInFlight.level(), Level::Should);
}

#[test]
fn stream_6_chunks_continue_the_transfer() {
    let good = [
        (C, chunk(1, "s", 0, b"ab", 5)),
        (S, is_resp(1)),
        (C, chunk(2, "s", 2, b"cd", 5)),
        (S, is_resp(2)),
        (C, chunk(3, "s", 4, b"e", 5)),
        (S, is_resp(3)),
    ];
    assert!(check(&good).is_empty());
    let gap = [
        (C, chunk(1, "s", 0, b"ab", 5)),
        (S, is_resp(1)),
        (C, chunk(2, "s", 3, b"de", 5)),
        (S, is_resp(2)),
    ];
    assert_eq!(check(&gap), vec![(StreamCode::SnapshotChunkOutOfOrder, C, 1)]);
    let foreign = [
        (C, chunk(1, "s", 0, b"ab", 5)),
        (S, is_resp(1)),
        (C, chunk(2, "t", 2, b"cd", 5)),
        (S, is_resp(2)),
    ];
    assert_eq!(check(&foreign), vec![(StreamCode::SnapshotChunkOutOfOrder, C, 1)]);
    assert_eq!(
        check(&[(C, chunk(1, "s", 2, b"cd", 5)), (S, is_resp(1))]),
        vec![(StreamCode::SnapshotChunkOutOfOrder, C, 0)]
    );
    let restart = [
        (C, chunk(1, "s", 0, b"ab", 5)),
        (S, is_resp(1)),
        (C, chunk(2, "t", 0, b"ab", 5)),
        (S, is_resp(2)),
    ];
    assert_eq!(check(&restart), vec![(StreamCode::SnapshotAbandoned, C, 1)]);
}

#[test]
fn stream_7_request_terms_never_decrease() {
    assert!(check(&[(C, tn(1, 2)), (C, tn(2, 3)), (S, tn_resp(1, 3)), (S, tn_resp(2, 3))]).is_empty());
    let v = check(&[(C, tn(1, 3)), (C, tn(2, 2)), (S, tn_resp(1, 3)), (S, tn_resp(2, 3))]);
    assert_eq!(v, vec![(StreamCode::RequestTermRegressed, C, 1)]);
    assert_eq!(StreamCode::RequestTermRegressed.requirement(), "STREAM-7");
}

#[test]
fn stream_8_response_terms_should_not_decrease() {
    let v = check(&[(C, tn(1, 3)), (C, tn(2, 3)), (S, tn_resp(1, 3)), (S, tn_resp(2, 2))]);
    assert_eq!(v, vec![(StreamCode::ResponseTermRegressed, S, 1)]);
    assert_eq!(
        (
            StreamCode::ResponseTermRegressed.requirement(),
            StreamCode::ResponseTermRegressed.level()
        ),
        ("STREAM-8", Level::Should)
    );
}

#[test]
fn stream_9_unanswered_requests_reported_as_information() {
    let v = check(&[(C, tn(1, 1)), (C, tn(2, 1)), (S, tn_resp(1, 1))]);
    assert_eq!(v, vec![(StreamCode::UnansweredAtClose, C, 2)]);
    assert_eq!(StreamCode::UnansweredAtClose.level(), Level::Info);
}

#[test]
fn untimed_pairing_reads_requests_only_as_far_as_each_response_needs() {
    let client: Vec<_> = [tn(1, 1), tn(2, 1), tn(1, 1)]
        .iter()
        .enumerate()
        .map(|(i, f)| (i as u64, FrameInfo::from(f)))
        .collect();
    let server: Vec<_> = [tn_resp(1, 1), tn_resp(2, 1), tn_resp(1, 1)]
        .iter()
        .enumerate()
        .map(|(i, f)| (i as u64, FrameInfo::from(f)))
        .collect();
    assert!(
        check_untimed(&client, &server, 3).is_empty(),
        "id 1 reused after its answer"
    );
    let v = check_untimed(&client, &server[..1], 3);
    assert_eq!(
        v.iter().map(|v| v.code).collect::<Vec<_>>(),
        vec![StreamCode::UnansweredAtClose, StreamCode::UnansweredAtClose]
    );
}

#[test]
fn every_stream_code_names_a_stream_requirement_and_a_sentence() {
    for c in StreamCode::ALL {
        assert!(
            c.requirement().starts_with("STREAM-") && !c.sentence().is_empty(),
            "{c:?}"
        );
    }
}

#[test]
fn spec_requirements_are_parsed_with_their_levels() {
    let all = raftwire_conformance::requirements::all();
    let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    for id in [
        "FRAME-1", "FRAME-10", "FIELD-6", "ENC-1", "MSG-1", "AE-5", "CONF-2", "STREAM-9", "RECV-2", "VER-1",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let level = |id| raftwire_conformance::requirements::get(id).unwrap().level;
    assert_eq!(
        (level("FRAME-8"), level("STREAM-8"), level("STREAM-9")),
        (Level::Must, Level::Should, Level::Info)
    );
    assert!(raftwire_conformance::requirements::get("FRAME-8")
        .unwrap()
        .text
        .contains("CRC32 of the payload"));
    // Every stream code's requirement exists in the spec.
    for c in StreamCode::ALL {
        assert!(ids.contains(&c.requirement()), "{c:?}");
    }
}
