//! The rules that make a splice of two writers visible (HASHICORP.md HC-2, HC-8, HC-9 and the
//! desync rules), each on hand-built messages written the way go-msgpack writes them: fixmaps
//! with sorted fixstr keys.

use raftwire_hashicorp::check;
use raftwire_hashicorp::craft::{map, V};

/// A raft 1.1.2 heartbeat (AppendEntries with no entries) in `term`.
fn heartbeat(term: u64) -> Vec<u8> {
    let mut m = vec![0x00];
    m.extend(map(&[
        ("Entries", V::Nil),
        ("Leader", V::S(b"127.0.0.1:7001")),
        ("LeaderCommitIndex", V::U(0)),
        ("PrevLogEntry", V::U(0)),
        ("PrevLogTerm", V::U(0)),
        ("ProtocolVersion", V::U(3)),
        ("Term", V::U(term)),
    ]));
    m
}

/// A raft 1.1.2 RequestVote in `term`.
fn request_vote(term: u64) -> Vec<u8> {
    let mut m = vec![0x01];
    m.extend(map(&[
        ("Candidate", V::S(b"127.0.0.1:7002")),
        ("LastLogIndex", V::U(5)),
        ("LastLogTerm", V::U(1)),
        ("LeadershipTransfer", V::B(false)),
        ("ProtocolVersion", V::U(3)),
        ("Term", V::U(term)),
    ]));
    m
}

fn must(c: &raftwire_hashicorp::Direction) -> Vec<(u64, &'static str)> {
    c.findings
        .iter()
        .filter(|f| f.level == "MUST")
        .map(|f| (f.offset, f.code))
        .collect()
}

#[test]
fn a_clean_stream_of_hand_built_messages_is_clean() {
    let s = [heartbeat(2), request_vote(3), heartbeat(3)].concat();
    let c = check(&s, &[]);
    assert_eq!(must(&c.requests), vec![]);
    assert_eq!(c.requests.by_type.values().sum::<u64>(), 3);
}

/// HC-2: another message's fields in a map are another message's bytes, not a newer release's:
/// `0x03` (TimeoutNow) followed by a heartbeat's map is not a leadership transfer.
#[test]
fn a_field_of_another_message_type_is_a_violation_not_information() {
    let at = heartbeat(2).len() as u64;
    // A TimeoutNow map holds one or three keys: seven is no TimeoutNow at all.
    let mut forged = heartbeat(2);
    forged[0] = 0x03;
    let c = check(&[heartbeat(2), forged].concat(), &[]);
    assert!(
        !c.requests.by_type.contains_key("TimeoutNow"),
        "no leadership transfer was sent"
    );
    assert!(must(&c.requests).iter().any(|f| f.0 == at), "{:?}", c.requests.findings);
    // Three keys, but two of them a heartbeat's.
    let mut forged = vec![0x03];
    forged.extend(map(&[
        ("Entries", V::Nil),
        ("ProtocolVersion", V::U(3)),
        ("Term", V::U(2)),
    ]));
    let c = check(&[heartbeat(2), forged].concat(), &[]);
    assert_eq!(
        must(&c.requests),
        vec![(at, "hc_foreign_field"), (at, "hc_foreign_field")]
    );
    // A key no release writes anywhere is information (a newer release).
    let mut newer = vec![0x03];
    newer.extend(map(&[("ProtocolVersion", V::U(3)), ("Zzz", V::U(1))]));
    let c = check(&newer, &[]);
    assert_eq!(must(&c.requests), vec![]);
    assert!(c
        .requests
        .findings
        .iter()
        .any(|f| f.code == "hc_unknown_field" && f.level == "INFO"));
}

/// HC-8: Term 0 in a request, and a term that goes back within a direction.
#[test]
fn term_zero_and_a_term_going_back_are_violations() {
    let c = check(&heartbeat(0), &[]);
    assert_eq!(must(&c.requests), vec![(0, "hc_zero_term")]);
    let s = [heartbeat(3), heartbeat(2)].concat();
    let c = check(&s, &[]);
    assert_eq!(
        must(&c.requests),
        vec![(heartbeat(3).len() as u64, "hc_term_regressed")]
    );
    // Reported once per regression: the order continues from the lower term.
    let s = [heartbeat(3), heartbeat(2), heartbeat(2), heartbeat(3)].concat();
    assert_eq!(must(&check(&s, &[]).requests).len(), 1);
}

/// HC-9: a message is confirmed as the sender's when what follows it is a message (or the end):
/// a whole message followed by bytes that start none is flagged at its own offset.
#[test]
fn a_message_not_followed_by_a_message_is_unconfirmed() {
    let s = [heartbeat(2), vec![0x42, 0x42, 0x42], heartbeat(2)].concat();
    let c = check(&s, &[]);
    let codes = must(&c.requests);
    assert_eq!(codes.first(), Some(&(0, "hc_unconfirmed")), "{codes:?}");
    // The one after the garbage is found again and counted; the garbage is skipped.
    assert_eq!(c.requests.by_type.values().sum::<u64>(), 2);
    assert!(c.requests.skipped >= 3);
    // Followed by a whole response (the incident) or another protocol, it is confirmed: those
    // are named for what they are.
    let response = [
        vec![0xa0],
        map(&[
            ("Granted", V::B(true)),
            ("Peers", V::Nil),
            ("ProtocolVersion", V::U(3)),
            ("Term", V::U(2)),
        ]),
    ];
    let s = [heartbeat(2), response.concat(), heartbeat(2)].concat();
    let c = check(&s, &[]);
    assert_eq!(
        must(&c.requests),
        vec![(heartbeat(2).len() as u64, "hc_response_in_request_direction")]
    );
    let s = [heartbeat(2), b"GET / HTTP/1.1\r\n\r\n".to_vec()].concat();
    let codes = must(&check(&s, &[]).requests);
    assert_eq!(codes, vec![(heartbeat(2).len() as u64, "hc_foreign_http")]);
}

/// A length that claims more than the rest of the stream is a desync when whole messages follow
/// it, and checking goes on; only a stream that really ends inside a message is truncated.
#[test]
fn a_length_past_the_end_is_a_desync_when_messages_follow_and_a_truncation_when_none_do() {
    // A str32 header claiming 1 MiB, from the middle of another message, then two heartbeats.
    let garbage = [0x00, 0x81, 0xdb, 0x00, 0x10, 0x00, 0x00];
    let s = [garbage.to_vec(), heartbeat(2), heartbeat(2)].concat();
    let c = check(&s, &[]);
    let codes = must(&c.requests);
    assert!(!codes.iter().any(|(_, c)| *c == "hc_truncated"), "{codes:?}");
    assert_eq!(codes.first().map(|c| c.0), Some(0));
    assert_eq!(c.requests.by_type.values().sum::<u64>(), 2, "both heartbeats counted");
    // A heartbeat cut by the end of the stream is truncated.
    let hb = heartbeat(2);
    let s = [hb.clone(), hb[..hb.len() - 5].to_vec()].concat();
    assert_eq!(must(&check(&s, &[]).requests), vec![(hb.len() as u64, "hc_truncated")]);
    // So is a request cut after its type byte.
    assert_eq!(must(&check(&[0x01], &[]).requests), vec![(0, "hc_truncated")]);
}

/// A response with an error string (the real library returns them: "unknown rpc type 4" to a
/// pre-vote, "shutting down" to an AppendEntries) written into the request direction is named as
/// a response, whatever form the string takes: fixstr, str8, str16, str32 (#20: only `a0` was
/// ever tested).
#[test]
fn responses_with_error_strings_in_the_request_direction_are_named() {
    let text = b"unknown rpc type 4";
    let long = vec![b'x'; 300];
    let forms: Vec<Vec<u8>> = vec![
        [&[0xa0 | text.len() as u8][..], text].concat(),
        [&[0xd9, text.len() as u8][..], text].concat(),
        [&[0xda, 0x01, 0x2c][..], &long].concat(),
        [&[0xdb, 0, 0, 0, text.len() as u8][..], text].concat(),
    ];
    let body = map(&[
        ("Granted", V::B(false)),
        ("Peers", V::Nil),
        ("ProtocolVersion", V::U(3)),
        ("Term", V::U(2)),
    ]);
    for (k, err) in forms.iter().enumerate() {
        for tail in [body.clone(), vec![0xc0]] {
            let response = [err.clone(), tail].concat();
            let s = [heartbeat(2), response.clone(), heartbeat(2)].concat();
            let c = check(&s, &[]);
            assert_eq!(
                must(&c.requests),
                vec![(heartbeat(2).len() as u64, "hc_response_in_request_direction")],
                "form {k}"
            );
            assert_eq!(
                c.requests.by_type.values().sum::<u64>(),
                2,
                "form {k}: both requests counted"
            );
            assert_eq!(
                c.requests.skipped,
                response.len() as u64,
                "form {k}: passed over as one"
            );
        }
    }
    // In the response direction an error string is information.
    let vote = request_vote(2);
    let response = [forms[0].clone(), vec![0xc0]].concat();
    let c = check(&vote, &response);
    assert_eq!(must(&c.responses), vec![]);
    assert!(c
        .responses
        .findings
        .iter()
        .any(|f| f.code == "hc_error_response" && f.level == "INFO"));
}

/// A raft 1.1.2 RequestVoteResponse, whole with its empty error string.
fn vote_response(term: u64) -> Vec<u8> {
    [
        vec![0xa0],
        map(&[
            ("Granted", V::B(true)),
            ("Peers", V::Nil),
            ("ProtocolVersion", V::U(3)),
            ("Term", V::U(term)),
        ]),
    ]
    .concat()
}

/// Hand-built connections with every anomaly the splice rules judge, in both directions.
fn anomalies() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let hb = heartbeat(2);
    let rv = request_vote(2);
    let http = b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let claim = vec![0x00, 0x81, 0xa4, b'D', b'a', b't', b'a', 0xdb, 0x00, 0x10, 0x00, 0x00];
    let response_claim = vec![0xa0, 0x81, 0xa4, b'D', b'a', b't', b'a', 0xdb, 0x00, 0x10, 0x00, 0x00];
    vec![
        (
            "clean",
            [rv.clone(), rv.clone()].concat(),
            [vote_response(2), vote_response(2)].concat(),
        ),
        (
            "unconfirmed request",
            [hb.clone(), vec![0x42; 3], hb.clone()].concat(),
            vec![],
        ),
        (
            "response in requests",
            [hb.clone(), vote_response(2), hb.clone()].concat(),
            vec![],
        ),
        ("http after a request", [hb.clone(), http.clone()].concat(), vec![]),
        (
            "a claim past the end",
            [claim.clone(), hb.clone(), hb.clone()].concat(),
            vec![],
        ),
        ("a cut request", [hb.clone(), hb[..40].to_vec()].concat(), vec![]),
        (
            "unconfirmed response",
            [rv.clone(), rv.clone()].concat(),
            [vote_response(2), vec![0x42; 3], vote_response(2)].concat(),
        ),
        (
            "request in responses",
            [rv.clone(), rv.clone()].concat(),
            [vote_response(2), rv.clone(), vote_response(2)].concat(),
        ),
        (
            "a response claim past the end",
            [rv.clone(), rv.clone()].concat(),
            [response_claim, vote_response(2)].concat(),
        ),
        ("a cut response", rv.clone(), vote_response(2)[..9].to_vec()),
        (
            "term order",
            [heartbeat(3), heartbeat(2), heartbeat(0)].concat(),
            vec![],
        ),
        (
            "response then garbage in requests",
            [hb.clone(), vote_response(2), vec![0x42; 3], hb.clone()].concat(),
            vec![],
        ),
    ]
}

/// The checker takes every decision only once more bytes cannot change it: in any chunking it
/// finds what it finds on the whole streams. (The waits that guarantee this are exactly what a
/// test on whole streams cannot see.)
#[test]
fn chunked_checking_finds_what_whole_checking_finds() {
    for (name, c2s, s2c) in anomalies() {
        let whole = check(&c2s, &s2c);
        for size in [1, 2, 3, 5, 8, 13, 64] {
            let mut checker = raftwire_hashicorp::Checker::new(true);
            let (mut q, mut r) = (c2s.chunks(size), s2c.chunks(size + 2));
            loop {
                let (a, b) = (q.next(), r.next());
                if a.is_none() && b.is_none() {
                    break;
                }
                a.into_iter().for_each(|a| checker.requests(a));
                b.into_iter().for_each(|b| checker.responses(b));
            }
            assert_eq!(checker.finish(), whole, "{name}, chunks of {size}");
        }
    }
}

/// Each anomaly is reported where it is, with exact offsets and counts.
#[test]
fn each_anomaly_is_reported_at_its_offset() {
    let hb = heartbeat(2).len() as u64;
    let rv = request_vote(2).len() as u64;
    let vr = vote_response(2).len() as u64;
    let run = |name: &str| {
        let (_, c2s, s2c) = anomalies().into_iter().find(|a| a.0 == name).unwrap();
        check(&c2s, &s2c)
    };
    let c = run("unconfirmed request");
    assert_eq!(must(&c.requests), vec![(0, "hc_unconfirmed"), (hb, "hc_lost_framing")]);
    assert!(c.requests.findings[0].message.contains(&format!("(offset {hb})")));
    assert_eq!(c.requests.skipped, 3, "only the three foreign bytes");
    let c = run("a claim past the end");
    assert_eq!(must(&c.requests), vec![(0, "hc_lost_framing")]);
    assert_eq!(c.requests.by_type.values().sum::<u64>(), 2);
    assert_eq!(c.requests.skipped, 12);
    let c = run("a cut request");
    assert_eq!(must(&c.requests), vec![(hb, "hc_truncated")]);
    let c = run("unconfirmed response");
    assert_eq!(
        must(&c.responses),
        vec![(0, "hc_unconfirmed"), (vr, "hc_malformed_response")]
    );
    assert!(c.responses.findings[0].message.contains(&format!("(offset {vr})")));
    assert_eq!(c.responses.by_type.values().sum::<u64>(), 2);
    assert_eq!(c.responses.skipped, 3);
    let c = run("request in responses");
    assert_eq!(must(&c.responses), vec![(vr, "hc_request_in_response_direction")]);
    assert_eq!(
        (c.responses.skipped, c.responses.by_type.values().sum::<u64>()),
        (rv, 2)
    );
    let c = run("a response claim past the end");
    assert_eq!(must(&c.responses), vec![(0, "hc_malformed_response")]);
    assert_eq!(
        (c.responses.by_type.values().sum::<u64>(), c.responses.skipped),
        (1, 12)
    );
    let c = run("a cut response");
    assert_eq!(must(&c.responses), vec![(0, "hc_truncated")]);
    // A whole response is passed over as one only when what follows confirms where it ends;
    // followed by garbage, the desync runs from it to the next message.
    let c = run("response then garbage in requests");
    assert_eq!(must(&c.requests), vec![(hb, "hc_response_in_request_direction")]);
    assert_eq!(
        (c.requests.skipped, c.requests.by_type.values().sum::<u64>()),
        (vr + 3, 2)
    );
    let c = run("term order");
    assert_eq!(
        must(&c.requests),
        vec![(hb, "hc_term_regressed"), (2 * hb, "hc_zero_term")]
    );
}

/// A message that claims more than the 32 MiB a checker waits for, on a stream that goes on, is
/// judged not a message once that much is held: a desync, then the messages after it are found
/// (not a truncation, which would leave the rest of the stream unchecked).
#[test]
fn a_claim_past_the_pending_limit_is_a_desync_while_the_stream_goes_on() {
    let mut checker = raftwire_hashicorp::Checker::new(false);
    // Another message's bytes claiming a 64 MiB string, then 33 MiB that are no message.
    checker.requests(&[0x00, 0x81, 0xa4, b'D', b'a', b't', b'a', 0xdb, 0x04, 0x00, 0x00, 0x00]);
    let filler = vec![0xffu8; 1 << 20];
    for _ in 0..33 {
        checker.requests(&filler);
    }
    assert!(
        checker.buffered() <= raftwire_hashicorp::MAX_PENDING + (1 << 20),
        "bounded"
    );
    checker.requests(&[heartbeat(2), heartbeat(2)].concat());
    let c = checker.finish();
    assert_eq!(must(&c.requests).first(), Some(&(0, "hc_malformed_request")));
    assert!(
        !must(&c.requests).iter().any(|f| f.1 == "hc_truncated"),
        "{:?}",
        must(&c.requests)
    );
    assert_eq!(c.requests.by_type.values().sum::<u64>(), 2);
}

/// The same bound in the response direction.
#[test]
fn a_response_claim_past_the_pending_limit_is_a_desync_while_the_stream_goes_on() {
    let mut checker = raftwire_hashicorp::Checker::new(false);
    checker.requests(&[request_vote(2), request_vote(2)].concat());
    checker.responses(&[0xa0, 0x81, 0xa4, b'D', b'a', b't', b'a', 0xdb, 0x04, 0x00, 0x00, 0x00]);
    let filler = vec![0xffu8; 1 << 20];
    for _ in 0..33 {
        checker.responses(&filler);
    }
    assert!(
        checker.buffered() <= raftwire_hashicorp::MAX_PENDING + (1 << 20) + 1024,
        "bounded"
    );
    checker.responses(&[vote_response(2), vote_response(2)].concat());
    let c = checker.finish();
    assert_eq!(must(&c.responses).first(), Some(&(0, "hc_malformed_response")));
    assert!(
        !must(&c.responses).iter().any(|f| f.1 == "hc_truncated"),
        "{:?}",
        must(&c.responses)
    );
    assert_eq!(c.responses.by_type.values().sum::<u64>(), 2);
}

/// What the checker holds is the message still arriving, and nothing once it is judged; and the
/// fuzz body really checks (it returns what it found).
#[test]
fn the_checker_holds_only_the_message_being_judged() {
    let hb = heartbeat(2);
    let mut checker = raftwire_hashicorp::Checker::new(false);
    checker.requests(&hb[..10]);
    assert_eq!(checker.buffered(), 10);
    checker.requests(&hb[10..]);
    // Whole, but not yet confirmed by what follows.
    assert_eq!(checker.buffered(), hb.len());
    // A judgement that waited is retried once the held bytes have doubled: with a second and a
    // third message, the first two are confirmed and dropped; the third waits for what follows.
    checker.requests(&hb[..2]);
    assert_eq!(checker.buffered(), hb.len() + 2, "not retried yet");
    checker.requests(&hb[2..]);
    checker.requests(&hb);
    assert_eq!(checker.buffered(), hb.len(), "the judged messages are dropped");
    // The first byte puts the cut at 255/256 of the rest: both heartbeats, then one response byte.
    let data = [&[0xff][..], &hb, &hb, &[0xa0]].concat();
    let c = raftwire_hashicorp::fuzz_check(&data);
    assert_eq!(c.requests.by_type.get("AppendEntries(heartbeat)"), Some(&2));
}

/// rpc type 4 is RequestPreVote, a type this checker knows: a type-4 byte before a map that is
/// not a valid request is not "an rpc type this release does not know".
#[test]
fn a_broken_pre_vote_is_not_called_an_unknown_rpc_type() {
    // A map whose only value is a byte msgpack never uses (0xc1).
    let broken = [0x04, 0x81, 0xa4, b'T', b'e', b'r', b'm', 0xc1];
    let c = check(&[&broken[..], &heartbeat(2)].concat(), &[]);
    let first = must(&c.requests);
    assert_eq!(first.first().map(|f| f.0), Some(0), "{:?}", c.requests.findings);
    assert_ne!(first[0].1, "hc_unknown_rpc_type", "{:?}", c.requests.findings);
    // Type 5 before a map is one.
    let newer = [0x05, 0x81, 0xa4, b'T', b'e', b'r', b'm', 0x02];
    let c = check(&[&newer[..], &heartbeat(2)].concat(), &[]);
    assert_eq!(
        must(&c.requests).first(),
        Some(&(0, "hc_unknown_rpc_type")),
        "{:?}",
        c.requests.findings
    );
}
