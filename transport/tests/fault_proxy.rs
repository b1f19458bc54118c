//! Exactly once, under faults that make a client retry a request the server has already
//! executed (#20: the interleaving test never delivered one id twice, so removing the server's
//! dedup passed the whole suite). A proxy between client and server cuts connections after the
//! server has answered (the client never sees the answer), cuts a response in the middle of its
//! frame, or delays it. Every RPC must get its own answer, every request id must be executed once,
//! and the run must really have delivered ids more than once, or it proves nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use raftwire_codec::*;
use raftwire_transport::{Client, ClientConfig, Handler, MemoryHandler, Policy, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RPCS: u64 = 300;

fn request(i: u64) -> Message {
    Message::AppendEntries(AppendEntriesRequest {
        term: 2,
        prev_log_index: i * 10 + 1,
        prev_log_term: 1,
        leader_commit: i,
        leader_id: Id::try_from("n1").unwrap(),
        entries: vec![Entry {
            index: i * 10 + 2,
            term: 2,
            kind: EntryKind::Command,
            data: bytes::Bytes::from(vec![i as u8; (i as usize * 13) % 200]),
        }]
        .into(),
    })
}

/// What the proxy does to connection number `k` (in accept order).
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Forward the request; when the server's answer starts to arrive, close both sides: the
    /// server executed it, the client never learns the result.
    CutAfterExecution,
    /// Forward half of the answer's first 40 bytes, then close: a frame cut mid-way.
    CutMidFrame,
    /// Hold the answer for a while, then forward it.
    Delay,
    None,
}

fn fault(k: usize) -> Fault {
    match k % 4 {
        0 => Fault::CutAfterExecution,
        1 => Fault::CutMidFrame,
        2 => Fault::Delay,
        _ => Fault::None,
    }
}

/// A proxy on loopback to `server`; returns its address.
async fn proxy(server: std::net::SocketAddr) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let k = accepted.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(relay(client, server, fault(k)));
        }
    });
    addr
}

async fn relay(client: TcpStream, server: std::net::SocketAddr, fault: Fault) {
    let Ok(upstream) = TcpStream::connect(server).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = upstream.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown().await;
    });
    let mut buf = vec![0u8; 64 << 10];
    let mut first = true;
    loop {
        let n = match sr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match fault {
            Fault::CutAfterExecution => break,
            Fault::CutMidFrame if first => {
                let _ = cw.write_all(&buf[..n.min(20)]).await;
                break;
            }
            Fault::Delay if first => {
                tokio::time::sleep(Duration::from_millis(30)).await;
                if cw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            _ => {
                if cw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
        first = false;
    }
    up.abort();
    // Dropping both halves closes both connections.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_executed_once_though_answers_are_cut_after_execution() {
    let server = Server::start("127.0.0.1:0", Arc::new(MemoryHandler)).await.unwrap();
    let via = proxy(server.addr).await;
    let client = Arc::new(Client::new(
        via,
        ClientConfig {
            policy: Policy::PerRpc,
            max_attempts: 24,
            backoff: Duration::from_millis(1),
            timeout: Duration::from_secs(5),
            ..ClientConfig::default()
        },
    ));
    let tasks: Vec<_> = (0..RPCS)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move {
                let req = request(i);
                let resp = c.call(req.clone()).await.unwrap_or_else(|e| panic!("rpc {i}: {e}"));
                let expected = MemoryHandler.handle(&Frame::new(1, req.clone()));
                assert_eq!(resp.message, expected, "rpc {i} got another RPC's answer");
                (resp.request_id, req)
            })
        })
        .collect();
    let mut sent = HashMap::new();
    for t in tasks {
        let (id, req) = t.await.unwrap();
        assert!(sent.insert(id, req).is_none(), "request id {id} used twice");
    }
    let delivered = server.stats.delivered.lock().unwrap().len();
    let executed = server.stats.executed.lock().unwrap();
    assert_eq!(executed.len() as u64, RPCS, "every RPC executed");
    // The faults must have made the server see retries of requests it had executed: else this
    // test could not tell a server without dedup from one with it.
    assert!(
        delivered as u64 > RPCS + RPCS / 10,
        "only {delivered} deliveries for {RPCS} RPCs: the faults did not force retries"
    );
    let twice: Vec<_> = executed.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "executed more than once: {twice:?}");
    for f in server.stats.delivered.lock().unwrap().iter() {
        assert_eq!(
            Some(&f.message),
            sent.get(&f.request_id),
            "delivered a request never sent"
        );
    }
}

/// A handler slow enough that a request is surely still outstanding when the next frame is read.
struct Slow;

impl Handler for Slow {
    fn handle(&self, request: &Frame) -> Message {
        std::thread::sleep(Duration::from_millis(300));
        MemoryHandler.handle(request)
    }
}

/// STREAM-2: a second request with the id of one still outstanding on the same connection drops
/// the connection, and the duplicate is never executed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_request_id_on_one_connection_drops_it() {
    let server = Server::start("127.0.0.1:0", Arc::new(Slow)).await.unwrap();
    let mut wire = BytesMut::new();
    encode(&Frame::new(7, request(1)), &mut wire).unwrap();
    let first_len = wire.len() as u64;
    encode(&Frame::new(7, request(2)), &mut wire).unwrap();
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(&wire).await.unwrap();
    // The server closes the connection: reading ends (after at most the first answer).
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection was not closed");
    let dropped = server.stats.dropped.lock().unwrap().clone();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(
        (
            dropped[0].code.as_str(),
            dropped[0].requirement.as_str(),
            dropped[0].offset
        ),
        ("duplicate_request_id", "STREAM-2", first_len)
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let delivered = server.stats.delivered.lock().unwrap();
    assert_eq!(delivered.len(), 1, "the duplicate reached the handler");
    assert_eq!(delivered[0].message, request(1));
}
