//! The RFW/1 case table checked against the codec and the stream checker, without a network:
//! every case that expects the node to close sends bytes whose first error is the case's
//! requirement, and every case that expects answers sends only valid requests. A case whose bytes
//! drifted (a wrong offset, a CRC left valid) fails here rather than passing against every node.

use bytes::Bytes;
use raftwire_codec::*;
use raftwire_conformance::{ConnectionChecker, FrameInfo, Level as RuleLevel};
use raftwire_probe::rfw::Rfw;
use raftwire_probe::{Case, Dialect, Expect, Step};

/// Everything the case writes, in order, and whether it ends its stream (half-close).
fn sent(case: &Case) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut ends = false;
    for s in &case.steps {
        match s {
            Step::Send(b) | Step::Drip { bytes: b, .. } => out.extend_from_slice(b),
            Step::HalfClose => ends = true,
            Step::Pause(_) | Step::AwaitAnswers(_) => {}
        }
    }
    (out, ends)
}

/// The first requirement the client stream breaks, with the ids of the frames before it. The
/// stream checker hears the answers as soon as a case would wait for them (`AwaitAnswers`), never
/// before: the strict reading of a race.
fn first_error(case: &Case) -> (Option<&'static str>, Vec<(u64, MessageType)>) {
    let (bytes, ends) = sent(case);
    let awaited = case.steps.iter().any(|s| matches!(s, Step::AwaitAnswers(_)));
    let input = Bytes::from(bytes);
    let mut checker = ConnectionChecker::new();
    let mut frames = Vec::new();
    let mut at = 0;
    while at < input.len() {
        match decode_at(&input, at, &Limits::default()) {
            Ok(Progress::Frame { frame, len }) => {
                checker.client_frame(at as u64, &FrameInfo::from(&frame));
                if let Some(v) = checker
                    .take_violations()
                    .into_iter()
                    .find(|v| v.level() == RuleLevel::Must)
                {
                    return (Some(v.code.requirement()), frames);
                }
                frames.push((frame.request_id, frame.message_type()));
                if awaited {
                    let answer = Frame::new(
                        frame.request_id,
                        Message::Error(ErrorResponse {
                            code: ErrorResponseCode::Unavailable,
                            message: String::new(),
                        }),
                    );
                    checker.server_frame(0, &FrameInfo::from(&answer));
                }
                at += len;
            }
            Ok(Progress::NeedMore { .. }) if ends => return (Some("FRAME-10"), frames),
            Ok(Progress::NeedMore { .. }) => return (Some("incomplete"), frames),
            Err(e) => return (Some(e.requirement()), frames),
        }
    }
    (None, frames)
}

#[test]
fn every_case_breaks_exactly_the_requirement_it_names() {
    let cases = Rfw.cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    for case in &cases {
        let (error, frames) = first_error(case);
        match &case.expect {
            Expect::Closed | Expect::ClosedOr(_) => {
                let error = error.unwrap_or_else(|| panic!("{}: its bytes are valid", case.id));
                // The interleaving case is about any error at all (RECV-1: drop, never resync).
                if case.requirement != "RECV-1" {
                    assert_eq!(error, case.requirement, "{}", case.id);
                }
                if let Expect::ClosedOr(tolerated) = &case.expect {
                    assert!(
                        frames.len() < tolerated.len(),
                        "{}: the race needs its last request",
                        case.id
                    );
                }
            }
            Expect::Answered(wanted) => {
                assert_eq!(error, None, "{}", case.id);
                let got: Vec<(Option<u64>, &str)> = frames
                    .iter()
                    .map(|(id, ty)| {
                        let answer = MessageType::ALL.iter().find(|r| r.answers() == Some(*ty)).unwrap();
                        (Some(*id), answer.name())
                    })
                    .collect();
                let want: Vec<(Option<u64>, &str)> = wanted.iter().map(|a| (a.id, a.kind)).collect();
                assert_eq!(got, want, "{}", case.id);
            }
        }
    }
}

#[test]
fn case_ids_are_unique_and_name_their_requirement() {
    let cases = Rfw.cases();
    let mut ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), cases.len());
    for c in &cases {
        assert!(c.id.starts_with(&format!("rfw/{}/", c.requirement)), "{}", c.id);
        assert!(
            raftwire_conformance::requirements::get(c.requirement).is_some(),
            "{} is not in SPEC.md",
            c.requirement
        );
    }
}

#[test]
fn the_sanity_request_is_valid_and_stale() {
    let (bytes, answer) = Rfw.sanity(77);
    let frame = decode(&Bytes::from(bytes)).unwrap();
    assert_eq!(frame.request_id, 77);
    assert_eq!(answer.id, Some(77));
    assert_eq!(frame.message.term(), Some(1));
    assert_eq!(
        Some(frame.message_type()),
        MessageType::ALL
            .iter()
            .find(|t| t.name() == answer.kind)
            .and_then(|t| t.answers())
    );
}

/// The hashicorp/raft cases held to raftwire's own checker: what a case expects the node to
/// refuse is a MUST finding in the request direction, what it expects answered is clean.
#[test]
fn hashicorp_cases_agree_with_the_stream_checker() {
    use raftwire_probe::hashicorp::Hashicorp;
    let cases = Hashicorp.cases();
    assert!(cases.len() >= 25, "{}", cases.len());
    for case in &cases {
        let (bytes, _) = sent(case);
        let c = raftwire_hashicorp::check(&bytes, &[]);
        let must: Vec<_> = c.requests.findings.iter().filter(|f| f.level == "MUST").collect();
        match (&case.level, &case.expect) {
            // What a product puts before the Raft bytes (a TLS record: Vault's port; Consul's
            // prefix byte) the checker recognises and notes: a plain NetworkTransport does not.
            (raftwire_probe::Level::Must, Expect::Closed) => {
                let product = c.encrypted || c.notes.iter().any(|n| n.contains("Consul"));
                assert!(
                    !must.is_empty() || product,
                    "{}: the checker finds nothing wrong",
                    case.id
                )
            }
            (_, Expect::Answered(_)) => assert!(must.is_empty(), "{}: {must:?}", case.id),
            _ => {}
        }
    }
    let (sanity, _) = Hashicorp.sanity(1);
    assert!(raftwire_hashicorp::check(&sanity, &[])
        .requests
        .findings
        .iter()
        .all(|f| f.level != "MUST"));
}

/// What `--fuzz` will not send without `--disruptive`: anything a node might read with a term
/// that is not stale, or with no term to check.
#[test]
fn inputs_that_might_not_be_stale_are_recognised() {
    use raftwire_probe::hashicorp::Hashicorp;
    for dialect in [&Rfw as &dyn Dialect, &Hashicorp] {
        for seed in dialect.fuzz_seeds() {
            assert!(
                !dialect.may_disrupt(&seed, 2),
                "{}: a seed is not stale at term 2",
                dialect.name()
            );
            assert!(
                dialect.may_disrupt(&seed, 1),
                "{}: a term-1 request is not stale at term 1",
                dialect.name()
            );
        }
    }
    // RFW/1: a valid frame after a broken one is never read by a conforming node.
    let seeds = Rfw.fuzz_seeds();
    let mut broken = seeds[0].clone();
    broken[0] ^= 1;
    assert!(!Rfw.may_disrupt(&[broken, seeds[1].clone()].concat(), 1));
    // hashicorp/raft: TimeoutNow has no term; a Term the checker cannot parse is read by the
    // library all the same.
    assert!(Hashicorp.may_disrupt(
        &[
            0x03, 0x81, 0xaf, b'P', b'r', b'o', b't', b'o', b'c', b'o', b'l', b'V', b'e', b'r', b's', b'i', b'o', b'n',
            0x03
        ],
        1000
    ));
    let mut odd = vec![0x00, 0x82, 0xa5, b'B', b'o', b'g', b'u', b's', 0xc1];
    odd.extend_from_slice(&[0xa4, b'T', b'e', b'r', b'm', 0xcf, 0, 0, 0, 1, 0, 0, 0, 0]);
    assert!(Hashicorp.may_disrupt(&odd, 1000));
    let mut stale = odd.clone();
    stale.truncate(stale.len() - 9);
    stale.push(0x05);
    assert!(!Hashicorp.may_disrupt(&stale, 1000));
    // A negative fixint (-1) is no term a node would adopt; a map where the term should be could be
    // anything.
    *stale.last_mut().unwrap() = 0xff;
    assert!(!Hashicorp.may_disrupt(&stale, 1000));
    *stale.last_mut().unwrap() = 0x80;
    assert!(Hashicorp.may_disrupt(&stale, 1000));
    // Sized integers, as go-msgpack writes them: uint16 500 is stale at 1000, uint32 70000 is not.
    let sized = |bytes: &[u8]| [&stale[..stale.len() - 1], bytes].concat();
    assert!(!Hashicorp.may_disrupt(&sized(&[0xcd, 0x01, 0xf4]), 1000));
    assert!(Hashicorp.may_disrupt(&sized(&[0xce, 0x00, 0x01, 0x11, 0x70]), 1000));
    assert!(!Hashicorp.may_disrupt(&sized(&[0xd1, 0x01, 0xf4]), 1000));
}

/// The length-claiming hashicorp cases claim what their names say: the map after the rpc type
/// byte lacks exactly the bytes its string claims (the streaming msgpack reader says how many).
#[test]
fn hashicorp_length_cases_claim_what_they_say() {
    use raftwire_probe::hashicorp::Hashicorp;
    let cases = Hashicorp.cases();
    for (id, at_least) in [
        ("hashicorp/HC-1/str32-4gib", 0xffff_ffffu64),
        ("hashicorp/HC-1/bin32-4gib", 0xffff_ffff),
        ("hashicorp/HC-1/str32-256mib", 0x1000_0000),
    ] {
        let case = cases.iter().find(|c| c.id == id).unwrap();
        let (bytes, _) = sent(case);
        match raftwire_hashicorp::msgpack::value(&bytes[1..]) {
            Err(nom::Err::Incomplete(nom::Needed::Size(n))) => assert_eq!(n.get() as u64, at_least, "{id}"),
            other => panic!("{id}: {other:?}"),
        }
    }
}

#[test]
fn dialects_are_found_by_name() {
    assert_eq!(raftwire_probe::dialect("rfw").map(|d| d.name()), Some("rfw"));
    assert_eq!(
        raftwire_probe::dialect("hashicorp").map(|d| d.name()),
        Some("hashicorp")
    );
    assert!(raftwire_probe::dialect("smtp").is_none());
}

/// The hashicorp/raft dialect reads a node's answers in request order, with their terms and
/// errors, waits for one still arriving, and names one cut short by the node's close.
#[test]
fn hashicorp_answers_are_read_in_order() {
    use raftwire_hashicorp::craft::{self, V};
    use raftwire_probe::hashicorp::Hashicorp;
    let seeds = Hashicorp.fuzz_seeds();
    let (heartbeat, vote) = (&seeds[0], &seeds[1]);
    let sent = [heartbeat.clone(), vote.clone(), heartbeat.clone()].concat();
    let ae = craft::response(
        "",
        &[
            ("LastLog", V::U(9)),
            ("NoRetryBackoff", V::B(false)),
            ("ProtocolVersion", V::U(3)),
            ("Success", V::B(false)),
            ("Term", V::U(4)),
        ],
    );
    let rv = craft::response(
        "",
        &[
            ("Granted", V::B(false)),
            ("Peers", V::Nil),
            ("ProtocolVersion", V::U(3)),
            ("Term", V::U(4)),
        ],
    );
    let mut failed = Vec::new();
    craft::put(&mut failed, &V::S(b"operation not supported"));
    failed.push(0xc0);
    let received = [ae.clone(), rv.clone(), failed.clone()].concat();
    let seen = Hashicorp.answers(&sent, &received, true).unwrap();
    let kinds: Vec<(&str, Option<u64>, bool)> = seen.iter().map(|s| (s.kind.as_str(), s.term, s.error)).collect();
    assert_eq!(
        kinds,
        [
            ("AppendEntriesResponse", Some(4), false),
            ("RequestVoteResponse", Some(4), false),
            ("AppendEntriesResponse", None, true)
        ]
    );
    assert!(seen.iter().all(|s| s.id.is_none()));
    assert!(seen[0].detail.contains("refused"), "{}", seen[0].detail);
    // Half of the second answer: one answer so far while the connection is open, an error once
    // the node has closed it.
    let cut = [ae.clone(), rv[..rv.len() / 2].to_vec()].concat();
    let partial = Hashicorp.answers(&sent, &cut, false).unwrap();
    assert_eq!(partial.len(), 1, "{partial:?}");
    let err = Hashicorp.answers(&sent, &cut, true).unwrap_err();
    assert!(err.contains(&format!("at byte {}", ae.len())), "{err}");
    // A request in the answer direction breaks the dialect (judged once the node has closed: while
    // it is open, nothing after the first finding counts as an answer).
    assert!(Hashicorp.answers(&sent, heartbeat, false).unwrap().is_empty());
    let err = Hashicorp.answers(&sent, heartbeat, true).unwrap_err();
    assert!(err.contains("HC-3"), "{err}");
}

#[test]
fn the_negative_size_case_is_negative() {
    use raftwire_probe::hashicorp::Hashicorp;
    let cases = Hashicorp.cases();
    let case = cases
        .iter()
        .find(|c| c.id == "hashicorp/HC-7/negative-snapshot-size")
        .unwrap();
    let (bytes, _) = sent(case);
    let c = raftwire_hashicorp::check(&bytes, &[]);
    assert!(
        c.requests.findings.iter().any(|f| f.code == "hc_bad_snapshot_size"),
        "{:?}",
        c.requests.findings
    );
}

/// RFW/1 answers: a frame still arriving is waited for while the node's side is open, and an
/// error once it has closed.
#[test]
fn rfw_answers_wait_for_a_frame_still_arriving() {
    let mut answer = bytes::BytesMut::new();
    encode(
        &Frame::new(
            4,
            Message::RequestVoteResponse(RequestVoteResponse {
                term: 2,
                granted: false,
            }),
        ),
        &mut answer,
    )
    .unwrap();
    let half = &answer[..answer.len() - 3];
    assert!(Rfw.answers(&[], half, false).unwrap().is_empty());
    let err = Rfw.answers(&[], half, true).unwrap_err();
    assert!(err.contains("truncated_frame"), "{err}");
    let whole = Rfw.answers(&[], &answer, true).unwrap();
    assert_eq!((whole.len(), whole[0].id, whole[0].error), (1, Some(4), false));
}
