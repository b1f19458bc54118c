//! Spreading a capture's connections over several threads. One thread reads the capture and
//! splits packets down to TCP segments (the part that must run in capture order); each segment is
//! copied into a batch for the thread that owns its connection, picked by a hash of the address
//! pair, so every connection still sees its own segments in capture order. Each worker is a
//! [`Tracker`] of its own; their reports merge back into the single-threaded order (see
//! [`Collected`]), so the output does not depend on the number of threads.
//!
//! Memory stays bounded: a worker's queue holds at most [`QUEUED`] batches of about
//! [`BATCH_BYTES`], and a full queue makes the reader wait.

use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use super::packet::TcpSegment;
use super::tracker::{CapsHit, Settings, Tracker};
use super::unrecognised::Held;
use crate::report::Collected;

/// Payload bytes per batch: large enough that queueing costs nothing per segment, small enough
/// that the queues stay a few MiB.
const BATCH_BYTES: usize = 256 << 10;
/// Segments per batch, for captures of many tiny packets.
const BATCH_SEGMENTS: usize = 4096;
/// Full batches waiting per worker.
const QUEUED: usize = 2;

/// A segment without its payload, which is `data[start..end]` of its batch.
struct Queued {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack_number: u32,
    flags: [bool; 4],
    lost: Option<super::defrag::GaveUp>,
    missing: u32,
    ts: f64,
    at: u64,
    start: usize,
    end: usize,
}

#[derive(Default)]
struct Batch {
    segments: Vec<Queued>,
    data: Vec<u8>,
}

impl Batch {
    fn push(&mut self, seg: &TcpSegment<'_>, at: u64) {
        let start = self.data.len();
        self.data.extend_from_slice(seg.payload);
        self.segments.push(Queued {
            src: seg.src,
            dst: seg.dst,
            seq: seg.seq,
            ack_number: seg.ack_number,
            flags: [seg.syn, seg.ack, seg.fin, seg.rst],
            lost: seg.lost,
            missing: seg.missing,
            ts: seg.ts,
            at,
            start,
            end: self.data.len(),
        });
    }

    fn is_full(&self) -> bool {
        self.data.len() >= BATCH_BYTES || self.segments.len() >= BATCH_SEGMENTS
    }

    fn replay(&self, tracker: &mut Tracker) {
        for q in &self.segments {
            let [syn, ack, fin, rst] = q.flags;
            let seg = TcpSegment {
                src: q.src,
                dst: q.dst,
                seq: q.seq,
                ack_number: q.ack_number,
                syn,
                ack,
                fin,
                rst,
                payload: self.data.get(q.start..q.end).unwrap_or_default(),
                missing: q.missing,
                lost: q.lost,
                ts: q.ts,
            };
            tracker.segment(&seg, q.at);
        }
    }

    fn clear(&mut self) {
        self.segments.clear();
        self.data.clear();
    }
}

struct Worker {
    queue: SyncSender<Batch>,
    filling: Batch,
    thread: JoinHandle<(Collected, Held, CapsHit)>,
}

/// The reading side of the sharded validation.
pub struct Shards {
    workers: Vec<Worker>,
    /// Emptied batches coming back from the workers, reused so the steady state allocates nothing.
    spare: Receiver<Batch>,
    /// The cluster view's traces, of every worker: bounded once for the run, not once a worker.
    traces: SharedTraces,
}

type SharedTraces = std::sync::Arc<std::sync::Mutex<crate::cluster::Traces>>;

/// The worker that owns the connection between `a` and `b` (the same for both directions).
/// Computed for every packet on the reading thread, which is the one that limits the speed, so it
/// mixes the ports and the low address bits by hand rather than hashing two `SocketAddr`s: it
/// only has to spread connections, and a skewed spread costs balance, never correctness.
fn shard_of(a: SocketAddr, b: SocketAddr, shards: usize) -> usize {
    let low_bits = |s: SocketAddr| -> u64 {
        let ip = match s.ip() {
            IpAddr::V4(ip) => ip.to_bits(),
            IpAddr::V6(ip) => ip.to_bits() as u32,
        };
        u64::from(ip) << 16 | u64::from(s.port())
    };
    // XOR is symmetric, so both directions land on the same worker.
    let mixed = (low_bits(a) ^ low_bits(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((mixed >> 32) % shards.max(1) as u64) as usize
}

fn work(
    settings: Settings,
    traces: SharedTraces,
    queue: Receiver<Batch>,
    spare: Sender<Batch>,
) -> (Collected, Held, CapsHit) {
    let mut tracker = Tracker::collecting_into(settings, Collected::sharing_traces(traces));
    for mut batch in queue {
        batch.replay(&mut tracker);
        batch.clear();
        // The reader may have finished and gone: then the batch is simply dropped.
        let _ = spare.send(batch);
    }
    tracker.finish()
}

impl Shards {
    /// Starts `threads` workers.
    pub fn start(settings: &Settings, threads: usize) -> Result<Shards, String> {
        let (give_back, spare) = channel();
        let traces = SharedTraces::default();
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let (queue, receive) = sync_channel(QUEUED);
            let (settings, give_back, traces) = (settings.clone(), give_back.clone(), traces.clone());
            let thread = std::thread::Builder::new()
                .name(format!("raftwire-shard-{i}"))
                .spawn(move || work(settings, traces, receive, give_back))
                .map_err(|e| format!("cannot start a validation thread: {e}"))?;
            workers.push(Worker {
                queue,
                filling: Batch::default(),
                thread,
            });
        }
        Ok(Shards { workers, spare, traces })
    }

    fn send(&mut self, shard: usize) {
        let fresh = self.spare.try_recv().unwrap_or_default();
        let Some(w) = self.workers.get_mut(shard) else { return };
        let full = std::mem::replace(&mut w.filling, fresh);
        // Fails only if the worker died; `finish` reports that when it joins it.
        let _ = w.queue.send(full);
    }

    /// Queues the TCP segment of packet number `at` for the worker that owns its connection.
    pub fn segment(&mut self, seg: &TcpSegment<'_>, at: u64) {
        let shard = shard_of(seg.src, seg.dst, self.workers.len());
        let Some(w) = self.workers.get_mut(shard) else { return };
        w.filling.push(seg, at);
        if w.filling.is_full() {
            self.send(shard);
        }
    }

    /// Hands over what is left, waits for the workers and gathers their connections.
    pub fn finish(mut self) -> Result<(Collected, Held, CapsHit), String> {
        for shard in 0..self.workers.len() {
            if self.workers.get(shard).is_some_and(|w| !w.filling.segments.is_empty()) {
                self.send(shard);
            }
        }
        let mut closed = Collected::default();
        let mut held = Held::default();
        let mut hit = CapsHit::default();
        for w in self.workers {
            drop(w.queue);
            let (c, h, x) = w
                .thread
                .join()
                .map_err(|_| "a validation thread failed (this is a bug in raftwire)".to_string())?;
            closed.merge(c, |o| o);
            held.merge(h, |o| o);
            hit.evicted += x.evicted;
            hit.released += x.released;
        }
        if let Ok(mut traces) = self.traces.lock() {
            closed.traces = std::mem::take(&mut *traces);
        }
        Ok((closed, held, hit))
    }
}
