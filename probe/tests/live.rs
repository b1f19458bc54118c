//! The probe against live nodes on loopback: the reference follower (what `raftwire serve` runs)
//! passes every case; a deliberately lax peer that skips the CRC and type checks fails exactly
//! the cases those checks cover; a node that dies during a case is blamed for that case; a port
//! with nobody listening is a connection error.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use raftwire_codec::craft::reseal_in_place;
use raftwire_codec::*;
use raftwire_conformance::{ConnectionChecker, FrameInfo, Level};
use raftwire_probe::rfw::Rfw;
use raftwire_probe::{run, Dialect, Options, Outcome, ProbeError, Report};
use raftwire_transport::{Follower, Handler, Server, ServerOptions};

fn options() -> Options {
    Options {
        timeout: Duration::from_secs(2),
        ..Options::default()
    }
}

fn probe(addr: SocketAddr, options: &Options) -> Result<Report, ProbeError> {
    let cases = Rfw.cases();
    run(addr, &Rfw, &cases, options, &mut |_| {}, None)
}

fn failing(r: &Report) -> BTreeSet<String> {
    r.cases
        .iter()
        .filter(|c| c.result != Outcome::Passed)
        .map(|c| c.id.clone())
        .collect()
}

fn outcomes(r: &Report, o: Outcome) -> BTreeSet<String> {
    r.cases.iter().filter(|c| c.result == o).map(|c| c.id.clone()).collect()
}

#[test]
fn the_reference_follower_passes_every_case() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let options_ = ServerOptions {
        log_drops: false,
        ..ServerOptions::long_running()
    };
    let follower = Arc::new(Follower::new(5));
    let server = rt
        .block_on(Server::start_with("127.0.0.1:0", follower.clone(), options_))
        .unwrap();
    let r = probe(server.addr, &options()).unwrap();
    assert_eq!(failing(&r), BTreeSet::new(), "{}", r.text());
    assert_eq!(r.summary.passed, Rfw.cases().len());
    assert!(r.summary.target_alive);
    assert_eq!(r.node_term, Some(5));
    assert_eq!(r.exit_code(true), 0);
    assert_eq!(follower.status(), (5, 5, 5), "the probe changed the node's state");
    // Every rejected case was dropped by the server with a code, as RECV-1 asks.
    assert!(server.stats.dropped_total.load(Ordering::Relaxed) >= 25);
}

#[test]
fn a_node_at_term_one_is_probed_only_with_cases_it_must_refuse() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let options_ = ServerOptions {
        log_drops: false,
        ..ServerOptions::long_running()
    };
    let follower = Arc::new(Follower::new(1));
    let server = rt
        .block_on(Server::start_with("127.0.0.1:0", follower.clone(), options_))
        .unwrap();
    let r = probe(server.addr, &options()).unwrap();
    let cases = Rfw.cases();
    let skipped: BTreeSet<String> = r
        .cases
        .iter()
        .filter(|c| c.result == Outcome::Skipped)
        .map(|c| c.id.clone())
        .collect();
    let carrying: BTreeSet<String> = cases.iter().filter(|c| c.max_term > 0).map(|c| c.id.clone()).collect();
    assert_eq!(skipped, carrying);
    assert!(r
        .cases
        .iter()
        .all(|c| c.result == Outcome::Passed || c.result == Outcome::Skipped));
    assert_eq!(follower.status(), (1, 1, 1));
    let disruptive = Options {
        disruptive: true,
        ..options()
    };
    let r = probe(server.addr, &disruptive).unwrap();
    assert_eq!(failing(&r), BTreeSet::new(), "{}", r.text());
}

/// An RFW/1 peer that checks the marker (as it arrives), version, flags, request id, length
/// limit, bodies and stream rules, but not the header CRC, the payload CRC, the type byte or the
/// direction: unknown types and responses get an Error answer and the connection stays open. It
/// answers each request before reading the next.
fn lax_peer() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            std::thread::spawn(move || lax_connection(conn));
        }
    });
    addr
}

fn lax_connection(mut c: TcpStream) {
    let follower = Follower::new(5);
    let mut checker = ConnectionChecker::new();
    let mut offset = 0u64;
    loop {
        let mut head = [0u8; HEADER_LEN];
        for i in 0..4 {
            if c.read_exact(&mut head[i..i + 1]).is_err() || head[i] != MARKER[i] {
                return;
            }
        }
        if c.read_exact(&mut head[4..]).is_err() || head[4] != VERSION || head[6..8] != [0, 0] {
            return;
        }
        let request_id = u64::from_be_bytes(head[8..16].try_into().unwrap());
        let len = u32::from_be_bytes(head[16..20].try_into().unwrap());
        if request_id == 0 || len > DEFAULT_MAX_PAYLOAD_LEN {
            return;
        }
        let mut frame = head.to_vec();
        frame.resize(HEADER_LEN + len as usize + TRAILER_LEN, 0);
        if c.read_exact(&mut frame[HEADER_LEN..]).is_err() {
            return;
        }
        reseal_in_place(&mut frame); // the CRC checks, skipped
        let unsupported = |why: &str| {
            Message::Error(ErrorResponse {
                code: ErrorResponseCode::Unsupported,
                message: why.into(),
            })
        };
        let at = offset;
        offset += frame.len() as u64;
        let answer = match decode(&Bytes::from(frame)) {
            Ok(f) if f.message_type().is_response() => unsupported("a response"),
            Ok(f) => {
                checker.client_frame(at, &FrameInfo::from(&f));
                if checker.take_violations().iter().any(|v| v.level() == Level::Must) {
                    return;
                }
                follower.handle(&f)
            }
            Err(e) if e.code == ErrorCode::UnknownType => unsupported("unknown type"),
            Err(_) => return,
        };
        let answer = Frame::new(request_id, answer);
        checker.server_frame(0, &FrameInfo::from(&answer));
        checker.take_violations();
        let mut out = BytesMut::new();
        encode(&answer, &mut out).unwrap();
        if c.write_all(&out).is_err() {
            return;
        }
    }
}

#[test]
fn a_lax_peer_fails_exactly_the_cases_of_the_checks_it_skips() {
    let r = probe(lax_peer(), &options()).unwrap();
    let expected: BTreeSet<String> = [
        "rfw/FRAME-3/header-crc",
        "rfw/FRAME-4/unknown-type-0x05",
        "rfw/FRAME-4/unknown-type-0x7f",
        "rfw/FRAME-4/unknown-type-0x85",
        "rfw/FRAME-8/payload-crc",
        "rfw/STREAM-1/response-as-request",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(outcomes(&r, Outcome::Failed), expected, "{}", r.text());
    // Answering each request before reading the next wins the races fairly: answered, not failed.
    let raced: BTreeSet<String> = [
        "rfw/STREAM-2/duplicate-request-id",
        "rfw/STREAM-5/snapshot-chunk-in-flight",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(outcomes(&r, Outcome::NonStrict), raced, "{}", r.text());
    assert!(r.summary.target_alive);
    assert_eq!(r.exit_code(false), 1);
}

/// A follower that dies (stops listening and answering) once it sees a frame with flags set.
#[test]
fn the_case_that_kills_the_node_is_blamed_and_the_rest_are_skipped() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let dead = Arc::new(AtomicBool::new(false));
    let d = dead.clone();
    std::thread::spawn(move || {
        let follower = Follower::new(5);
        for conn in listener.incoming() {
            if d.load(Ordering::SeqCst) {
                return; // the listener closes with this thread
            }
            let Ok(mut c) = conn else { return };
            let mut buf = vec![0u8; 4096];
            let _ = c.set_read_timeout(Some(Duration::from_millis(500)));
            let Ok(n) = c.read(&mut buf) else { continue };
            if n >= 8 && buf[6..8] != [0, 0] && buf[..4] == MARKER {
                d.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs(30)); // hung, holding every connection
                return;
            }
            if let Ok(f) = decode(&Bytes::copy_from_slice(&buf[..n])) {
                let mut out = BytesMut::new();
                encode(&Frame::new(f.request_id, follower.handle(&f)), &mut out).unwrap();
                let _ = c.write_all(&out);
            }
        }
    });
    let r = probe(addr, &options()).unwrap();
    let killer = r
        .cases
        .iter()
        .position(|c| c.id == "rfw/FRAME-5/reserved-flags")
        .unwrap();
    assert_eq!(r.cases[killer].result, Outcome::Failed);
    assert!(
        r.cases[killer].observed.contains("stopped answering"),
        "{}",
        r.cases[killer].observed
    );
    assert!(r.cases[killer + 1..].iter().all(|c| c.result == Outcome::Skipped));
    assert!(!r.summary.target_alive);
    assert_eq!(r.exit_code(false), 1);
    let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
    assert_eq!(json["summary"]["target_alive"], false);
    assert_eq!(json["cases"][killer]["result"], "failed");
    for field in [
        "id",
        "requirement",
        "level",
        "result",
        "expected",
        "observed",
        "duration_ms",
    ] {
        assert!(json["cases"][0].get(field).is_some(), "{field}");
    }
    for field in ["passed", "failed", "skipped", "target_alive"] {
        assert!(json["summary"].get(field).is_some(), "{field}");
    }
}

#[test]
fn nobody_listening_is_a_connection_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    assert!(matches!(probe(port, &options()), Err(ProbeError::Connect(_))));
}

/// A node that answers every request, the sanity RequestVote included, with an
/// AppendEntriesResponse: the sanity exchange wants a RequestVoteResponse to its own id, so the
/// node is not taken for alive.
#[test]
fn a_wrong_answer_to_the_sanity_exchange_is_no_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 4096];
                let Ok(n) = c.read(&mut buf) else { return };
                let Ok(f) = decode(&Bytes::copy_from_slice(&buf[..n])) else {
                    return;
                };
                let wrong = Message::AppendEntriesResponse(AppendEntriesResponse {
                    term: 5,
                    success: false,
                    last_log_index: 0,
                    conflict_index: 0,
                    conflict_term: 0,
                });
                let mut out = BytesMut::new();
                encode(&Frame::new(f.request_id, wrong), &mut out).unwrap();
                let _ = c.write_all(&out);
                std::thread::sleep(Duration::from_millis(200));
            });
        }
    });
    let r = probe(addr, &options()).unwrap();
    assert!(!r.summary.target_alive);
    assert_eq!(r.summary.skipped, Rfw.cases().len());
    assert!(
        r.cases[0].observed.contains("AppendEntriesResponse"),
        "{}",
        r.cases[0].observed
    );
}
