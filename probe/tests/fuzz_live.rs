//! `--fuzz` against live nodes on loopback: the reference follower survives every input and its
//! state is untouched (inputs that might not be stale are not sent); a fragile node that dies on
//! an unknown type byte is found, its input minimised to the header that kills it, and the
//! reproducer kills it again under `--replay`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use raftwire_codec::*;
use raftwire_probe::fuzz::{fuzz, FuzzOptions};
use raftwire_probe::rfw::Rfw;
use raftwire_probe::{run, Case, Options, Outcome};
use raftwire_transport::{Follower, Handler, Server, ServerOptions};

fn options(dir: &std::path::Path, inputs: usize) -> FuzzOptions {
    FuzzOptions {
        inputs,
        seed: 11,
        timeout: Duration::from_secs(2),
        wait: Duration::from_millis(20),
        disruptive: false,
        out: dir.to_path_buf(),
        restart_wait: Duration::from_secs(5),
        minimise_tries: 200,
        max_findings: 1,
    }
}

#[test]
fn the_reference_follower_survives_fuzzing_and_its_state_is_untouched() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let follower = Arc::new(Follower::new(5));
    let o = ServerOptions {
        log_drops: false,
        ..ServerOptions::long_running()
    };
    let server = rt
        .block_on(Server::start_with("127.0.0.1:0", follower.clone(), o))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = fuzz(server.addr, &Rfw, &options(dir.path(), 400), &mut |_, _| {}).unwrap();
    assert!(report.cases.is_empty(), "{}", report.text());
    assert!(report.summary.target_alive);
    assert_eq!(report.summary.passed + report.summary.skipped, 400);
    assert!(
        report.summary.skipped > 0,
        "some mutations carry a term that is not stale: not sent"
    );
    assert_eq!(follower.status(), (5, 5, 5), "an input changed the node's state");
    // The node really read bodies: many inputs got past the CRCs (the repair) and were answered
    // or refused by a body check.
    let answered = server.stats.answered.load(Ordering::Relaxed);
    assert!(answered > 400, "{answered} answers (sanity exchanges included)");
}

/// An RFW/1 node that "crashes" (closes every connection and its listener, and comes back 300 ms
/// later on the same port, as under a supervisor) when a frame header carries a type it does not
/// know; it checks nothing else in the header.
fn fragile_node() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let crashes = Arc::new(AtomicUsize::new(0));
    let count = crashes.clone();
    std::thread::spawn(move || {
        let mut listener = Some(listener);
        loop {
            let l = listener.take().unwrap_or_else(|| TcpListener::bind(addr).unwrap());
            l.set_nonblocking(true).unwrap();
            let down = Arc::new(AtomicBool::new(false));
            while !down.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        let down = down.clone();
                        std::thread::spawn(move || serve(c, &down));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            drop(l);
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    (addr, crashes)
}

fn serve(mut c: TcpStream, down: &AtomicBool) {
    c.set_nonblocking(false).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let follower = Follower::new(5);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if down.load(Ordering::SeqCst) {
            return;
        }
        match c.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
        while buf.len() >= HEADER_LEN {
            if buf[..4] != MARKER {
                return;
            }
            if MessageType::ALL.iter().all(|t| *t as u8 != buf[5]) {
                down.store(true, Ordering::SeqCst); // the bug
                return;
            }
            let len = u32::from_be_bytes(buf[16..20].try_into().unwrap()) as usize;
            if len > 1 << 20 {
                return;
            }
            if buf.len() < HEADER_LEN + len + TRAILER_LEN {
                break;
            }
            let frame: Vec<u8> = buf.drain(..HEADER_LEN + len + TRAILER_LEN).collect();
            let Ok(f) = decode(&Bytes::from(frame)) else { return };
            let mut out = BytesMut::new();
            encode(&Frame::new(f.request_id, follower.handle(&f)), &mut out).unwrap();
            if c.write_all(&out).is_err() {
                return;
            }
        }
    }
}

#[test]
fn a_node_that_dies_on_an_unknown_type_is_found_minimised_and_replayed() {
    let (addr, crashes) = fragile_node();
    let dir = tempfile::tempdir().unwrap();
    let report = fuzz(addr, &Rfw, &options(dir.path(), 300), &mut |_, _| {}).unwrap();
    assert!(!report.cases.is_empty(), "{}", report.text());
    let first = &report.cases[0];
    assert_eq!(first.result, Outcome::Failed);
    assert!(first.id.starts_with("rfw/fuzz/crash-"), "{}", first.id);
    assert!(crashes.load(Ordering::SeqCst) >= 1);
    // The minimised reproducer is the header alone (the node dies as soon as it has read one).
    let min = dir.path().join(format!("rfw-crash-min-{}.bin", 1));
    let bytes = std::fs::read(&min).unwrap_or_else(|e| panic!("{}: {e}\n{}", min.display(), report.text()));
    assert_eq!(bytes.len(), HEADER_LEN, "{bytes:02x?}");
    assert_eq!(bytes[..4], MARKER);
    assert!(MessageType::ALL.iter().all(|t| *t as u8 != bytes[5]));
    // And it kills the node again.
    std::thread::sleep(Duration::from_millis(500));
    let before = crashes.load(Ordering::SeqCst);
    let replay = [Case::replay("rfw", "min.bin", bytes)];
    let o = Options {
        timeout: Duration::from_secs(1),
        ..Options::default()
    };
    let r = run(addr, &Rfw, &replay, &o, &mut |_| {}, None).unwrap();
    assert_eq!(r.cases[0].result, Outcome::Failed, "{}", r.text());
    assert!(crashes.load(Ordering::SeqCst) > before);
}
