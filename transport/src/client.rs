//! The client side: RPCs over a connection per RPC or one multiplexed connection, responses
//! matched by request id, and recovery by retrying on a fresh connection.

use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use raftwire_codec::{CodecError, Frame, Message, MessageType, RfwCodec};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;

/// How RPCs share connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// A new connection for every RPC, closed after its response.
    PerRpc,
    /// One connection for all RPCs in flight; responses matched by request id.
    Multiplexed,
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Connection policy for first attempts.
    pub policy: Policy,
    /// Attempts per RPC, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// The fault: on the multiplexed connection, write each frame in pieces of
    /// `interleave_chunk` bytes without holding a lock across them, so concurrent RPCs interleave.
    pub interleave_writes: bool,
    /// Piece size for `interleave_writes`.
    pub interleave_chunk: usize,
    /// How long one attempt may wait for its response.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            policy: Policy::Multiplexed,
            max_attempts: 6,
            backoff: Duration::from_millis(5),
            interleave_writes: false,
            interleave_chunk: 7,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why an attempt or an RPC failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// The socket failed or closed.
    #[error("connection failed: {0}")]
    Io(String),
    /// The peer's bytes broke the format (code and offset in the message).
    #[error("malformed response stream: {0}")]
    Decode(String),
    /// The peer broke a stream rule (a response for no request, of the wrong type, ...).
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// No response in time.
    #[error("timed out")]
    Timeout,
    /// The message itself is invalid (the encoder refused it): a caller bug, never retried.
    #[error("message refused: {0}")]
    Refused(String),
    /// Every attempt failed; the last error.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<TransportError>,
    },
}

/// The multiplexed connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// No connection open.
    None,
    /// Open, nothing in flight.
    Idle,
    /// Open, this many RPCs awaiting responses.
    InFlight(usize),
    /// Failed; the next RPC opens a new one.
    Broken,
}

/// Where the fault made writes interleave, per multiplexed connection (in open order).
#[derive(Debug, Default)]
pub struct WriteLog {
    /// Bytes written so far.
    pub written: u64,
    /// The writer and remaining length of the frame being written, if one is unfinished.
    in_progress: Option<(u64, usize)>,
    /// Offset of the first piece written while another frame was unfinished.
    pub first_interleave: Option<u64>,
}

/// What the client did, for logs and tests.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// Every failed attempt, with its error.
    pub failures: Mutex<Vec<String>>,
    /// Attempts made, in all.
    pub attempts: AtomicU64,
    /// One write log per multiplexed connection opened.
    pub write_logs: Mutex<Vec<Arc<Mutex<WriteLog>>>>,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Frame, TransportError>>>>>;

struct Mux {
    writer: Writer,
    pending: Pending,
    broken: Arc<Mutex<Option<TransportError>>>,
    log: Arc<Mutex<WriteLog>>,
}

/// How frames reach the multiplexed connection's socket.
enum Writer {
    /// A task owns the socket and writes whatever frames are waiting in one vectored write:
    /// callers never wait on each other for a lock, and 16 pipelined frames cost one system call.
    Task(mpsc::Sender<Bytes>),
    /// The fault ([`ClientConfig::interleave_writes`]): callers share the socket under a lock
    /// taken per piece.
    Locked(tokio::sync::Mutex<OwnedWriteHalf>),
}

/// Frames waiting to be written, as one `Buf` (its `chunks_vectored` gives them all to a single
/// `writev`).
struct Queued(std::collections::VecDeque<Bytes>);

impl bytes::Buf for Queued {
    fn remaining(&self) -> usize {
        self.0.iter().map(Bytes::len).sum()
    }

    fn chunk(&self) -> &[u8] {
        self.0.front().map_or(&[], |b| b.as_ref())
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [std::io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, b) in dst.iter_mut().zip(self.0.iter().filter(|b| !b.is_empty())) {
            *slot = std::io::IoSlice::new(b);
            n += 1;
        }
        n
    }

    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(front) = self.0.front_mut() else {
                return;
            };
            if cnt < front.len() {
                front.advance(cnt);
                return;
            }
            cnt -= front.len();
            self.0.pop_front();
        }
    }
}

/// Writes the frames sent to it until the channel closes or the socket fails; on failure the
/// connection is broken and every RPC waiting on it fails (and is retried by its caller).
async fn write_frames(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Bytes>,
    pending: Pending,
    broken: Arc<Mutex<Option<TransportError>>>,
) {
    while let Some(first) = rx.recv().await {
        let mut queued = Queued(std::collections::VecDeque::from([first]));
        while queued.0.len() < 64 {
            match rx.try_recv() {
                Ok(b) => queued.0.push_back(b),
                Err(_) => break,
            }
        }
        if let Err(e) = wr.write_all_buf(&mut queued).await {
            let failure = TransportError::Io(e.to_string());
            if let Ok(mut b) = broken.lock() {
                b.get_or_insert(failure.clone());
            }
            let waiting: Vec<_> = pending.lock().map(|mut p| p.drain().collect()).unwrap_or_default();
            for (_, tx) in waiting {
                let _ = tx.send(Err(failure.clone()));
            }
            return;
        }
    }
}

/// The connection snapshot chunks travel on, one at a time.
type SnapshotLane = (FramedRead<OwnedReadHalf, RfwCodec>, OwnedWriteHalf);

/// A Raft RPC client for one server.
pub struct Client {
    addr: SocketAddr,
    config: ClientConfig,
    next_id: AtomicU64,
    /// The open multiplexed connection, read without waiting by every call.
    mux: Mutex<Option<Arc<Mux>>>,
    /// Held while a new multiplexed connection is opened, so that callers arriving meanwhile wait
    /// for it instead of opening their own.
    connecting: tokio::sync::Mutex<()>,
    /// InstallSnapshot requests never share the multiplexed connection: STREAM-5 allows one chunk
    /// outstanding per connection and STREAM-6 wants a transfer's chunks in order on one
    /// connection. They go one at a time (the lock is held for the exchange) on a connection of
    /// their own, kept across chunks and dropped after any failure (a transfer broken by a new
    /// connection must restart at offset 0, as Raft leaders do).
    snapshots: tokio::sync::Mutex<Option<SnapshotLane>>,
    /// What happened.
    pub stats: Arc<ClientStats>,
}

fn answers(request: MessageType, response: &Frame) -> bool {
    response.message_type() == MessageType::Error || response.message_type().answers() == Some(request)
}

fn decode_error(e: CodecError) -> TransportError {
    match e {
        CodecError::Decode(d) => TransportError::Decode(d.to_string()),
        other => TransportError::Io(other.to_string()),
    }
}

impl Client {
    /// A client for the server at `addr`. Request ids start from a per-client value derived from
    /// the clock, so ids stay unique across clients and restarts (the server remembers answered
    /// ids to answer retries without re-executing them).
    pub fn new(addr: SocketAddr, config: ClientConfig) -> Client {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Client {
            addr,
            config,
            next_id: AtomicU64::new((seed << 16).max(1)),
            mux: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            snapshots: tokio::sync::Mutex::new(None),
            stats: Arc::new(ClientStats::default()),
        }
    }

    /// The multiplexed connection's state.
    pub async fn state(&self) -> ConnState {
        match self.healthy_or_any().as_ref() {
            None => ConnState::None,
            Some(m) if m.broken.lock().map(|b| b.is_some()).unwrap_or(true) => ConnState::Broken,
            Some(m) => match m.pending.lock().map(|p| p.len()).unwrap_or(0) {
                0 => ConnState::Idle,
                n => ConnState::InFlight(n),
            },
        }
    }

    /// Sends `message` and returns the response frame. Retries, with the same request id, on a
    /// fresh dedicated connection after any failure: a response is never lost, and the server's
    /// memory of answered ids means it is never executed twice.
    pub async fn call(&self, message: Message) -> Result<Frame, TransportError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = Frame::new(id, message);
        // A message a receiver would reject is the caller's bug: refuse it once, never retry it.
        // Encoded once: every attempt writes these bytes (a retry is the same bytes, the same id).
        let bytes = frame.to_bytes().map_err(|e| TransportError::Refused(e.to_string()))?;
        let mut last = TransportError::Timeout;
        for attempt in 0..self.config.max_attempts {
            if attempt > 0 {
                tokio::time::sleep(self.config.backoff * 2u32.saturating_pow(attempt - 1)).await;
            }
            self.stats.attempts.fetch_add(1, Ordering::Relaxed);
            let multiplexed = attempt == 0 && self.config.policy == Policy::Multiplexed;
            let snapshot = matches!(
                frame.message_type(),
                MessageType::InstallSnapshot | MessageType::Snapshot
            );
            let result = tokio::time::timeout(self.config.timeout, async {
                if snapshot {
                    self.call_snapshot(&bytes).await
                } else if multiplexed {
                    self.call_multiplexed(id, &bytes).await
                } else {
                    self.call_dedicated(&bytes).await
                }
            })
            .await
            .unwrap_or(Err(TransportError::Timeout));
            match result {
                Ok(response) if response.request_id == id && answers(frame.message_type(), &response) => {
                    return Ok(response)
                }
                Ok(response) => {
                    last = TransportError::Protocol(format!(
                        "{} does not answer {} {id}",
                        response.message_type(),
                        frame.message_type()
                    ));
                }
                Err(e) => last = e,
            }
            if let Ok(mut f) = self.stats.failures.lock() {
                f.push(format!("request {id} attempt {}: {last}", attempt + 1));
            }
        }
        Err(TransportError::Exhausted {
            attempts: self.config.max_attempts,
            last: Box::new(last),
        })
    }

    /// A snapshot chunk on the snapshot lane (opened on demand, closed after any failure).
    async fn call_snapshot(&self, frame: &[u8]) -> Result<Frame, TransportError> {
        let mut slot = self.snapshots.lock().await;
        // Taken out for the exchange and put back only after a whole one: if this future is
        // dropped mid-way (a timeout), the connection goes with it instead of leaving a late
        // answer for the next chunk to read.
        let mut lane = slot.take();
        if lane.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(|e| TransportError::Io(e.to_string()))?;
            let _ = stream.set_nodelay(true);
            let (rd, wr) = stream.into_split();
            lane = Some((FramedRead::new(rd, RfwCodec::default()), wr));
        }
        let Some((r, w)) = lane.as_mut() else {
            return Err(TransportError::Io("snapshot connection missing".into()));
        };
        let result = match w.write_all(frame).await {
            Err(e) => Err(TransportError::Io(e.to_string())),
            Ok(()) => match r.next().await {
                Some(Ok(f)) => Ok(f),
                Some(Err(e)) => Err(decode_error(e)),
                None => Err(TransportError::Io("closed before the response".into())),
            },
        };
        if result.is_ok() {
            *slot = lane;
        }
        result
    }

    /// One RPC on its own connection.
    async fn call_dedicated(&self, frame: &[u8]) -> Result<Frame, TransportError> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| TransportError::Io(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let mut wr = wr;
        wr.write_all(frame)
            .await
            .map_err(|e| TransportError::Io(e.to_string()))?;
        let mut r = FramedRead::new(rd, RfwCodec::default());
        match r.next().await {
            Some(Ok(f)) => Ok(f),
            Some(Err(e)) => Err(decode_error(e)),
            None => Err(TransportError::Io("closed before the response".into())),
        }
    }

    /// The multiplexed connection as it is (possibly broken), for [`Client::state`].
    fn healthy_or_any(&self) -> Option<Arc<Mux>> {
        self.mux.lock().ok().and_then(|m| m.clone())
    }

    /// The multiplexed connection if it is open and not broken: every call's fast path, a lock
    /// held for a pointer copy (16 callers queueing on an async lock here cost a task switch each).
    fn healthy(&self) -> Option<Arc<Mux>> {
        self.healthy_or_any()
            .filter(|m| m.broken.lock().map(|b| b.is_none()).unwrap_or(false))
    }

    /// The multiplexed connection, opened (or reopened after a failure) on demand.
    async fn connection(&self) -> Result<Arc<Mux>, TransportError> {
        if let Some(m) = self.healthy() {
            return Ok(m);
        }
        let _opening = self.connecting.lock().await;
        // Another caller may have opened one while this one waited.
        if let Some(m) = self.healthy() {
            return Ok(m);
        }
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| TransportError::Io(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let log = Arc::new(Mutex::new(WriteLog::default()));
        if let Ok(mut l) = self.stats.write_logs.lock() {
            l.push(log.clone());
        }
        let (pending, broken): (Pending, Arc<Mutex<Option<TransportError>>>) = (Arc::default(), Arc::default());
        let writer = if self.config.interleave_writes {
            Writer::Locked(tokio::sync::Mutex::new(wr))
        } else {
            let (tx, rx) = mpsc::channel(256);
            tokio::spawn(write_frames(wr, rx, pending.clone(), broken.clone()));
            Writer::Task(tx)
        };
        let mux = Arc::new(Mux {
            writer,
            pending: pending.clone(),
            broken: broken.clone(),
            log,
        });
        tokio::spawn(async move {
            let mut r = FramedRead::new(rd, RfwCodec::default());
            let failure = loop {
                match r.next().await {
                    Some(Ok(f)) => {
                        let waiter = pending.lock().ok().and_then(|mut p| p.remove(&f.request_id));
                        match waiter {
                            Some(tx) => {
                                let _ = tx.send(Ok(f));
                            }
                            None => {
                                break TransportError::Protocol(format!(
                                    "response for request {}, which is not outstanding (STREAM-3)",
                                    f.request_id
                                ))
                            }
                        }
                    }
                    Some(Err(e)) => break decode_error(e),
                    None => break TransportError::Io("connection closed by the server".into()),
                }
            };
            // Every RPC still waiting on this connection fails now and is retried by its caller.
            if let Ok(mut b) = broken.lock() {
                *b = Some(failure.clone());
            }
            let waiting: Vec<_> = pending.lock().map(|mut p| p.drain().collect()).unwrap_or_default();
            for (_, tx) in waiting {
                let _ = tx.send(Err(failure.clone()));
            }
        });
        if let Ok(mut slot) = self.mux.lock() {
            *slot = Some(mux.clone());
        }
        Ok(mux)
    }

    async fn call_multiplexed(&self, id: u64, bytes: &Bytes) -> Result<Frame, TransportError> {
        let mux = self.connection().await?;
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = mux.pending.lock() {
            p.insert(id, tx);
        }
        let written = match &mux.writer {
            Writer::Locked(w) => self.write_interleaving(w, &mux.log, id, bytes).await,
            // Whole frames, queued: frames can never interleave.
            Writer::Task(tx) => tx
                .send(bytes.clone())
                .await
                .map_err(|_| std::io::Error::other("the connection's writer stopped")),
        };
        if let Err(e) = written {
            if let Ok(mut p) = mux.pending.lock() {
                p.remove(&id);
            }
            return Err(TransportError::Io(e.to_string()));
        }
        rx.await
            .unwrap_or_else(|_| Err(TransportError::Io("connection dropped".into())))
    }

    /// The fault: the frame goes out in pieces, the lock taken per piece and other tasks let run
    /// in between, as two writers sharing a socket without coordination would do.
    async fn write_interleaving(
        &self,
        writer: &tokio::sync::Mutex<OwnedWriteHalf>,
        log: &Mutex<WriteLog>,
        id: u64,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        let chunk = self.config.interleave_chunk.max(1);
        let total = bytes.len();
        for (i, piece) in bytes.chunks(chunk).enumerate() {
            {
                let mut w = writer.lock().await;
                if let Ok(mut log) = log.lock() {
                    let cuts_another = log.in_progress.is_some_and(|(other, _)| other != id);
                    if cuts_another && log.first_interleave.is_none() {
                        log.first_interleave = Some(log.written);
                    }
                    let remaining = total - (i * chunk + piece.len());
                    log.in_progress = if remaining > 0 { Some((id, remaining)) } else { None };
                    log.written += piece.len() as u64;
                }
                w.write_all(piece).await?;
            }
            tokio::task::yield_now().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;

    fn queued(parts: &[&'static [u8]]) -> Queued {
        Queued(parts.iter().map(|p| Bytes::from_static(p)).collect())
    }

    /// What a vectored write of `q` would send, a `max`-byte write at a time.
    fn drain(mut q: Queued, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while q.has_remaining() {
            let mut slices = [std::io::IoSlice::new(&[]); 8];
            let n = q.chunks_vectored(&mut slices);
            let mut written = 0;
            for s in &slices[..n] {
                let take = s.len().min(max - written);
                out.extend_from_slice(&s[..take]);
                written += take;
                if written == max {
                    break;
                }
            }
            q.advance(written);
        }
        out
    }

    #[test]
    fn queued_frames_go_out_whole_and_in_order_whatever_each_write_takes() {
        let parts: [&'static [u8]; 4] = [b"frame-one", b"", b"2", b"the third frame"];
        let all: Vec<u8> = parts.concat();
        assert_eq!(queued(&parts).remaining(), all.len());
        assert_eq!(queued(&parts).chunk(), b"frame-one");
        for max in [1, 2, 5, 9, 10, 64] {
            assert_eq!(drain(queued(&parts), max), all, "writes of {max}");
        }
        let mut q = queued(&parts);
        q.advance(all.len());
        assert_eq!((q.remaining(), q.chunk()), (0, &b""[..]));
        // Empty frames take no slot: every slot handed to writev has bytes.
        let (q, mut slices) = (queued(&parts), [std::io::IoSlice::new(&[]); 8]);
        assert_eq!(q.chunks_vectored(&mut slices), 3);
        assert!(slices[..3].iter().all(|s| !s.is_empty()));
    }
}
