//! The server side: one task per connection reading frames with `RfwCodec`, handlers run
//! concurrently, responses funnelled through one writer so they can never interleave.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::{SinkExt, StreamExt};
use raftwire_codec::{CodecError, Frame, Message, RfwCodec};
use raftwire_conformance::{ConnectionChecker, FrameInfo, Level};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, OnceCell, Semaphore};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::handler::{AsyncHandler, Handler, Ready};

/// Why the server dropped a connection: the error code, the requirement and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Connection number, in accept order.
    pub connection: usize,
    /// Stable code (`payload_crc_mismatch`, `duplicate_request_id`, ...).
    pub code: String,
    /// The SPEC.md requirement.
    pub requirement: String,
    /// Byte offset in the client->server stream.
    pub offset: u64,
}

/// What the server saw, for logs and tests.
///
/// `delivered`, `executed` and `received` are test taps: they keep everything, so they are filled
/// only when [`ServerOptions::record`] is set (as [`Server::start`] does). A long-running server
/// ([`ServerOptions::long_running`]) leaves them empty and keeps only the latest drops.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Every frame handed to the handler (before dedup), in arrival order.
    pub delivered: Mutex<Vec<Frame>>,
    /// Connections dropped after an error (at most [`ServerOptions::dropped_kept`], the latest).
    pub dropped: Mutex<VecDeque<Dropped>>,
    /// Connections dropped after an error, all of them.
    pub dropped_total: AtomicU64,
    /// Requests answered, all connections.
    pub answered: AtomicU64,
    /// How many times the handler ran for each request id.
    pub executed: Mutex<HashMap<u64, usize>>,
    /// Every byte received, per connection in accept order (a capture of the client->server
    /// direction, as raw streams).
    pub received: Mutex<Vec<Arc<Mutex<Vec<u8>>>>>,
}

/// How a server bounds itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Fill the test taps of [`ServerStats`] (`delivered`, `executed`, `received`), which grow
    /// with every byte and frame: for tests, never for a server that runs for days.
    pub record: bool,
    /// Requests of one connection being handled or waiting to be written. Beyond it the server
    /// stops reading that connection until an answer is out, so a client that pipelines without
    /// reading its answers is slowed by TCP, not buffered without end. 128 is STREAM-5's SHOULD.
    pub max_in_flight: usize,
    /// Connections open at once; further ones wait in the kernel's accept backlog.
    pub max_connections: usize,
    /// Dropped connections kept in [`ServerStats::dropped`] (the oldest forgotten first).
    pub dropped_kept: usize,
    /// Write each dropped connection's code, requirement and offset to stderr.
    pub log_drops: bool,
}

impl ServerOptions {
    /// Bounded everywhere, taps off: what `raftwire serve` runs with.
    pub fn long_running() -> ServerOptions {
        ServerOptions {
            record: false,
            ..ServerOptions::default()
        }
    }
}

impl Default for ServerOptions {
    /// Taps on, for tests; the other bounds as for a long-running server.
    fn default() -> Self {
        ServerOptions {
            record: true,
            max_in_flight: 128,
            max_connections: 1024,
            dropped_kept: 1024,
            log_drops: true,
        }
    }
}

/// How many answered request ids are remembered for answering retries without re-executing.
const REMEMBERED: usize = 65_536;

#[derive(Default)]
struct Answers {
    /// Per request id: the request's fingerprint and its answer.
    cells: HashMap<u64, (u64, Arc<OnceCell<Message>>)>,
    order: VecDeque<u64>,
}

/// A running server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it saw.
    pub stats: Arc<ServerStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies every byte read into a shared buffer.
struct Tap<R> {
    inner: R,
    tap: Option<Arc<Mutex<Vec<u8>>>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tap<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Some(Ok(mut tap)) = self.tap.as_ref().map(|t| t.lock()) {
            tap.extend_from_slice(buf.filled().get(before..).unwrap_or_default());
        }
        r
    }
}

impl Server {
    /// Listens on `addr` (use port 0 for one chosen by the OS) and serves until dropped, with the
    /// test taps on ([`ServerOptions::default`]).
    pub async fn start(addr: &str, handler: Arc<dyn Handler>) -> std::io::Result<Server> {
        Server::start_with(addr, handler, ServerOptions::default()).await
    }

    /// Listens on `addr` and serves until dropped, bounded by `options`.
    pub async fn start_with(addr: &str, handler: Arc<dyn Handler>, options: ServerOptions) -> std::io::Result<Server> {
        Server::start_async(addr, Arc::new(Ready(handler)), options).await
    }

    /// [`Server::start_with`] for a handler whose answers take waiting for.
    pub async fn start_async(
        addr: &str,
        handler: Arc<dyn AsyncHandler>,
        options: ServerOptions,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(ServerStats::default());
        let answers = Arc::new(Mutex::new(Answers::default()));
        let s = stats.clone();
        let options = Arc::new(options);
        let open = Arc::new(Semaphore::new(options.max_connections.max(1)));
        let task = tokio::spawn(async move {
            // The connections belong to the server: dropping the server aborts this task, whose
            // set aborts every connection with it, so a stopped node answers nothing more on
            // connections it had already accepted.
            let mut connections = tokio::task::JoinSet::new();
            let mut n = 0;
            loop {
                while connections.try_join_next().is_some() {}
                let Ok(permit) = open.clone().acquire_owned().await else {
                    return;
                };
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                // Answers are small and written as soon as they are ready: Nagle's algorithm held
                // each behind the previous one's ACK, which a delayed ACK made wait up to 40 ms.
                let _ = stream.set_nodelay(true);
                let tap = options.record.then(|| Arc::new(Mutex::new(Vec::new())));
                if let (Some(tap), Ok(mut r)) = (&tap, s.received.lock()) {
                    r.push(tap.clone());
                }
                let conn = Connection {
                    n,
                    handler: handler.clone(),
                    stats: s.clone(),
                    answers: answers.clone(),
                    options: options.clone(),
                };
                connections.spawn(async move {
                    conn.serve(stream, tap).await;
                    drop(permit);
                });
                n += 1;
            }
        });
        Ok(Server { addr, stats, task })
    }
}

/// One accepted connection and what it shares with the others.
struct Connection {
    n: usize,
    handler: Arc<dyn AsyncHandler>,
    stats: Arc<ServerStats>,
    answers: Arc<Mutex<Answers>>,
    options: Arc<ServerOptions>,
}

impl Connection {
    fn drop_connection(&self, code: &str, requirement: &str, offset: u64) {
        let connection = self.n;
        if self.options.log_drops {
            eprintln!("raftwire-transport: dropping connection {connection}: {code} ({requirement}) at byte {offset}");
        }
        self.stats.dropped_total.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut d) = self.stats.dropped.lock() {
            d.push_back(Dropped {
                connection,
                code: code.into(),
                requirement: requirement.into(),
                offset,
            });
            while d.len() > self.options.dropped_kept {
                d.pop_front();
            }
        }
    }

    /// The answer cell for `id`: the first request with an id executes, a retry waits for and
    /// repeats its answer.
    ///
    /// A retry is the same request under the same id: the same type and payload, which
    /// `fingerprint` stands for (the frame's payload CRC, which the codec has just checked, and
    /// its type). Another request under an id already answered is a new request: STREAM-2 lets a
    /// client reuse an id once it is answered, so it is executed, never given the earlier
    /// request's answer (found by the probe's `rfw/STREAM-2/id-reuse-after-answer`).
    fn answer_cell(&self, frame: &Frame, fingerprint: u64) -> Option<Arc<OnceCell<Message>>> {
        let id = frame.request_id;
        let mut a = self.answers.lock().ok()?;
        let fresh_id = !a.cells.contains_key(&id);
        let entry = a.cells.entry(id).or_default();
        if entry.0 != fingerprint {
            *entry = (fingerprint, Arc::default());
        }
        let cell = entry.1.clone();
        if fresh_id {
            a.order.push_back(id);
        }
        while a.order.len() > REMEMBERED {
            if let Some(old) = a.order.pop_front() {
                a.cells.remove(&old);
            }
        }
        Some(cell)
    }

    async fn serve(self, stream: tokio::net::TcpStream, tap: Option<Arc<Mutex<Vec<u8>>>>) {
        let stats = self.stats.clone();
        let (rd, wr) = stream.into_split();
        let mut reader = FramedRead::new(Tap { inner: rd, tap }, RfwCodec::default());
        let (tx, mut rx) = mpsc::channel::<Frame>(256);
        // The stream rules (SPEC.md §6) as the frames come and go: a MUST broken by the client
        // drops the connection (RECV-1).
        let checker = Arc::new(Mutex::new(ConnectionChecker::new()));
        let in_flight = Arc::new(Semaphore::new(self.options.max_in_flight.max(1)));
        let done = checker.clone();
        let answered = stats.clone();
        let mut writer = AbortOnDrop(tokio::spawn(async move {
            let mut w = FramedWrite::new(wr, RfwCodec::default());
            while let Some(first) = rx.recv().await {
                // Every answer ready now goes out in one write: answers to pipelined requests
                // finish together, and a write (and wake-up of the client) each cost more than
                // the answers themselves.
                let mut next = Some(first);
                let mut batch = 0;
                while let Some(f) = next {
                    // The request stops being outstanding before its answer is on the wire: a
                    // client may reuse the id as soon as it reads the answer, which can be before
                    // this task runs again. (Our own answers are right by construction; the
                    // checker's verdict on them is not needed, nor is their offset.)
                    if let Ok(mut c) = done.lock() {
                        c.server_frame(0, &FrameInfo::from(&f));
                        c.take_violations();
                    }
                    if w.feed(f).await.is_err() {
                        return;
                    }
                    batch += 1;
                    next = if batch < 64 { rx.try_recv().ok() } else { None };
                }
                if SinkExt::<Frame>::flush(&mut w).await.is_err() {
                    return;
                }
                answered.answered.fetch_add(batch, Ordering::Relaxed);
            }
        }));
        let mut clean_end = false;
        loop {
            // Backpressure: no more than `max_in_flight` requests read and not yet answered.
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                break;
            };
            let start = reader.decoder().offset();
            let frame = match reader.next().await {
                Some(Ok(f)) => f,
                Some(Err(CodecError::Decode(e))) => {
                    self.drop_connection(e.code.as_str(), e.requirement(), e.offset);
                    break;
                }
                Some(Err(_)) => break,
                None => {
                    clean_end = true;
                    break;
                }
            };
            let fingerprint =
                (u64::from(frame.message_type() as u8) << 32) | u64::from(reader.decoder().last_payload_crc());
            let violations = match checker.lock() {
                Ok(mut c) => {
                    c.client_frame(start, &FrameInfo::from(&frame));
                    c.take_violations()
                }
                Err(_) => break,
            };
            let mut broken = false;
            for v in violations {
                if v.level() == Level::Must {
                    self.drop_connection(v.code.as_str(), v.code.requirement(), v.offset);
                    broken = true;
                    break;
                }
                if self.options.log_drops {
                    let (code, req) = (v.code.as_str(), v.code.requirement());
                    eprintln!(
                        "raftwire-transport: connection {}: {code} ({req}, SHOULD) at byte {}: {}",
                        self.n, v.offset, v.message
                    );
                }
            }
            if broken {
                break;
            }
            if self.options.record {
                if let Ok(mut d) = stats.delivered.lock() {
                    d.push(frame.clone());
                }
            }
            let Some(cell) = self.answer_cell(&frame, fingerprint) else {
                break;
            };
            let (handler, stats, tx, record) = (self.handler.clone(), stats.clone(), tx.clone(), self.options.record);
            tokio::spawn(async move {
                let id = frame.request_id;
                // The frame moves into the handler: a clone of an Append is a vector and a
                // reference count per entry.
                let response = cell
                    .get_or_init(|| async move {
                        if record {
                            if let Ok(mut e) = stats.executed.lock() {
                                *e.entry(id).or_default() += 1;
                            }
                        }
                        handler.handle(frame).await
                    })
                    .await
                    .clone();
                let _ = tx.send(Frame::new(id, response)).await;
                drop(permit);
            });
        }
        drop(tx);
        drop(reader);
        if clean_end {
            // The client finished sending (or half-closed): the answers still being worked on are
            // written, then the connection closes when the writer drops its half.
            let _ = (&mut writer.0).await;
        }
        // Otherwise RECV-1: after an error nothing more is said on this connection (the guard
        // aborts the writer), as when the server is dropped mid-connection.
    }
}

/// Aborts the task when dropped: a connection's writer never outlives its reader.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
