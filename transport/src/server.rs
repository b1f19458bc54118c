//! The server side: one task per connection reading frames with `RfwCodec`, handlers run
//! concurrently, responses funnelled through one writer so they can never interleave.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::{SinkExt, StreamExt};
use raftwire_codec::{CodecError, Frame, Message, RfwCodec};
use raftwire_conformance::StreamCode;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, OnceCell};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::handler::Handler;

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
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Every frame handed to the handler (before dedup), in arrival order.
    pub delivered: Mutex<Vec<Frame>>,
    /// Connections dropped after an error.
    pub dropped: Mutex<Vec<Dropped>>,
    /// How many times the handler ran for each request id.
    pub executed: Mutex<HashMap<u64, usize>>,
    /// Every byte received, per connection in accept order (a capture of the client->server
    /// direction, as raw streams).
    pub received: Mutex<Vec<Arc<Mutex<Vec<u8>>>>>,
}

/// How many answered request ids are remembered for answering retries without re-executing.
const REMEMBERED: usize = 65_536;

#[derive(Default)]
struct Answers {
    cells: HashMap<u64, Arc<OnceCell<Message>>>,
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
    tap: Arc<Mutex<Vec<u8>>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tap<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Ok(mut tap) = self.tap.lock() {
            tap.extend_from_slice(buf.filled().get(before..).unwrap_or_default());
        }
        r
    }
}

impl Server {
    /// Listens on `addr` (use port 0 for one chosen by the OS) and serves until dropped.
    pub async fn start(addr: &str, handler: Arc<dyn Handler>) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(ServerStats::default());
        let answers = Arc::new(Mutex::new(Answers::default()));
        let s = stats.clone();
        let task = tokio::spawn(async move {
            let mut n = 0;
            while let Ok((stream, _)) = listener.accept().await {
                let tap = Arc::new(Mutex::new(Vec::new()));
                if let Ok(mut r) = s.received.lock() {
                    r.push(tap.clone());
                }
                tokio::spawn(connection(n, stream, tap, handler.clone(), s.clone(), answers.clone()));
                n += 1;
            }
        });
        Ok(Server { addr, stats, task })
    }
}

fn drop_connection(stats: &ServerStats, connection: usize, code: &str, requirement: &str, offset: u64) {
    eprintln!("raftwire-transport: dropping connection {connection}: {code} ({requirement}) at byte {offset}");
    if let Ok(mut d) = stats.dropped.lock() {
        d.push(Dropped {
            connection,
            code: code.into(),
            requirement: requirement.into(),
            offset,
        });
    }
}

async fn connection(
    n: usize,
    stream: tokio::net::TcpStream,
    tap: Arc<Mutex<Vec<u8>>>,
    handler: Arc<dyn Handler>,
    stats: Arc<ServerStats>,
    answers: Arc<Mutex<Answers>>,
) {
    let (rd, wr) = stream.into_split();
    let mut reader = FramedRead::new(Tap { inner: rd, tap }, RfwCodec::default());
    let (tx, mut rx) = mpsc::channel::<Frame>(256);
    let outstanding = Arc::new(Mutex::new(HashSet::new()));
    let done = outstanding.clone();
    let writer = tokio::spawn(async move {
        let mut w = FramedWrite::new(wr, RfwCodec::default());
        while let Some(f) = rx.recv().await {
            let id = f.request_id;
            if w.send(f).await.is_err() {
                return;
            }
            if let Ok(mut o) = done.lock() {
                o.remove(&id);
            }
        }
    });
    loop {
        let start = reader.decoder().offset();
        let frame = match reader.next().await {
            Some(Ok(f)) => f,
            Some(Err(CodecError::Decode(e))) => {
                drop_connection(&stats, n, e.code.as_str(), e.requirement(), e.offset);
                break;
            }
            _ => break,
        };
        if frame.message_type().is_response() {
            let c = StreamCode::WrongDirection;
            drop_connection(&stats, n, c.as_str(), c.requirement(), start);
            break;
        }
        let fresh = outstanding
            .lock()
            .map(|mut o| o.insert(frame.request_id))
            .unwrap_or(false);
        if !fresh {
            let c = StreamCode::DuplicateRequestId;
            drop_connection(&stats, n, c.as_str(), c.requirement(), start);
            break;
        }
        if let Ok(mut d) = stats.delivered.lock() {
            d.push(frame.clone());
        }
        let cell = {
            let Ok(mut a) = answers.lock() else { break };
            let fresh_id = !a.cells.contains_key(&frame.request_id);
            let cell = a.cells.entry(frame.request_id).or_default().clone();
            if fresh_id {
                a.order.push_back(frame.request_id);
            }
            while a.order.len() > REMEMBERED {
                if let Some(old) = a.order.pop_front() {
                    a.cells.remove(&old);
                }
            }
            cell
        };
        let (handler, stats, tx) = (handler.clone(), stats.clone(), tx.clone());
        tokio::spawn(async move {
            let response = cell
                .get_or_init(|| async {
                    if let Ok(mut e) = stats.executed.lock() {
                        *e.entry(frame.request_id).or_default() += 1;
                    }
                    handler.handle(&frame)
                })
                .await
                .clone();
            let _ = tx.send(Frame::new(frame.request_id, response)).await;
        });
    }
    // Dropping the reader and the last sender closes the connection once answers in flight are out.
    drop(tx);
    drop(reader);
    writer.abort();
}
