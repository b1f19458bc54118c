//! The open TCP connections of (one shard of) a capture: segments go to their connection, a
//! connection's report is taken when it closes, and each report remembers when, so shards run on
//! different threads merge back into one deterministic order.

use std::collections::HashMap;
use std::net::SocketAddr;

use raftwire_codec::Limits;

use super::connection::Connection;
use super::packet::TcpSegment;
use super::unrecognised::Held;
use crate::dialect::Dialect;
use crate::report::Collected;

/// A connection's address pair, smaller address first: the same for both directions.
pub type Key = (SocketAddr, SocketAddr);

pub fn key(a: SocketAddr, b: SocketAddr) -> Key {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Which end opened the connection: the SYN's sender; without a handshake in the capture, the end
/// not on a `--port`, or else the one on the higher (ephemeral) port.
pub fn roles(seg: &TcpSegment<'_>, ports: &[u16]) -> (SocketAddr, SocketAddr) {
    if seg.syn {
        if seg.ack {
            (seg.dst, seg.src)
        } else {
            (seg.src, seg.dst)
        }
    } else if ports.contains(&seg.dst.port()) {
        (seg.src, seg.dst)
    } else if ports.contains(&seg.src.port()) || seg.src.port() < seg.dst.port() {
        (seg.dst, seg.src)
    } else {
        (seg.src, seg.dst)
    }
}

/// What a tracker needs to know to open connections.
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    pub ports: Vec<u16>,
    pub dialect: Dialect,
    /// This tracker's share of the capture-wide memory limits.
    pub caps: Caps,
}

/// Limits that keep a whole run's memory bounded, whatever the capture: a connection's state is a
/// couple of KiB, and each may hold megabytes out of order, so per-connection bounds alone let a
/// capture of many connections take gigabytes.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Connections open at once. Past it, the eighth that have been idle longest are finished
    /// early (their reports say so); their later bytes, if any, start a connection joined late.
    pub open: usize,
    /// Bytes held out of order, over all connections. Past it, the connection holding most
    /// declares the holes before its held bytes now (`capture_gap` notes say so).
    pub held: usize,
}

/// The capture-wide limits, split among the trackers of a run.
pub const MAX_OPEN: usize = 20_000;
pub const MAX_HELD: usize = 32 << 20;

impl Caps {
    pub fn shared_by(trackers: usize) -> Caps {
        let n = trackers.max(1);
        Caps {
            open: (MAX_OPEN / n).max(64),
            held: (MAX_HELD / n).max(1 << 20),
        }
    }
}

/// How often the capture-wide limits cut into the checking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapsHit {
    /// Connections finished early because too many were open.
    pub evicted: u64,
    /// Bytes whose holes were declared early because too much was held.
    pub released: u64,
}

struct Open {
    opened_at: u64,
    /// The packet that last touched it, to find the longest idle.
    last_seen: u64,
    /// Boxed: a connection's state is a few KiB, and the table moves its entries as it grows.
    conn: Box<Connection>,
}

/// Looked up once per packet, so the hasher matters: foldhash is several times cheaper than the
/// default SipHash on these small keys and is still seeded per process, so a crafted capture
/// cannot aim for collisions.
type OpenMap = HashMap<Key, Open, foldhash::fast::RandomState>;

pub struct Tracker {
    settings: Settings,
    open: OpenMap,
    /// Closed connections, each placed by the packets at which it closed and opened: those
    /// closed during the capture in the order they closed, then the rest (open when it ended) in
    /// the order they opened. Collections of several trackers merge into the same order.
    done: Collected,
    /// Connections not recognised as Raft traffic, decided once the capture is read.
    held: Held,
    /// Bytes held out of order by the open connections.
    held_bytes: usize,
    hit: CapsHit,
}

impl Tracker {
    pub fn new(settings: Settings) -> Self {
        Tracker::collecting_into(settings, Collected::default())
    }

    /// A tracker whose finished connections go to `done` (one sharing its traces with other
    /// trackers' collections: [`Collected::sharing_traces`]).
    pub fn collecting_into(settings: Settings, done: Collected) -> Self {
        Tracker {
            settings,
            open: OpenMap::default(),
            done,
            held: Held::default(),
            held_bytes: 0,
            hit: CapsHit::default(),
        }
    }

    fn close(&mut self, k: Key, closed_at: u64) {
        if let Some(Open {
            opened_at, mut conn, ..
        }) = self.open.remove(&k)
        {
            self.held_bytes = self.held_bytes.saturating_sub(conn.held());
            conn.flush();
            let order = (0, closed_at, opened_at);
            if conn.recognised() {
                *self.held.raft_ports.entry(conn.server.port()).or_default() |= conn.is_hashicorp();
                self.done.push(order, conn.finish());
            } else if !self.settings.ports.is_empty() && conn.data_packets > 0 {
                // `--port` named this connection's port: it is checked as what it was read as.
                self.done.push(order, conn.finish());
            } else {
                if let Some(t) = conn.refused() {
                    self.done.push_trace(order, t);
                }
                self.held.push(order, conn.pending());
            }
        }
    }

    /// Takes the TCP segment of packet number `at`.
    pub fn segment(&mut self, seg: &TcpSegment<'_>, at: u64) {
        let k = key(seg.src, seg.dst);
        let opening = seg.syn && !seg.ack;
        if opening
            && self
                .open
                .get(&k)
                .is_some_and(|o| o.conn.data_packets > 0 || o.conn.is_closed())
        {
            // The 4-tuple is reused by a new connection.
            self.close(k, at);
        }
        if !self.open.contains_key(&k) && seg.payload.is_empty() && !seg.syn {
            // A bare ACK, FIN or RST of a connection not (or no longer) open, such as the last
            // ACK after both FINs: nothing to check, and opening a connection for it would keep
            // one idle entry per closed connection until the capture ends. Likewise the marker of
            // a fragmented segment given up after its connection ended: the hole it explains was
            // already reported as a capture gap, and a connection opened for it would be one that
            // never existed (seen from the wrong end, with no data).
            return;
        }
        if !self.open.contains_key(&k) && self.open.len() >= self.settings.caps.open {
            self.evict(at);
        }
        let Settings {
            limits, ports, dialect, ..
        } = &self.settings;
        let open = self.open.entry(k).or_insert_with(|| {
            let (client, server) = roles(seg, ports);
            Open {
                opened_at: at,
                last_seen: at,
                conn: Box::new(Connection::new(client, server, *limits, *dialect)),
            }
        });
        open.last_seen = at;
        let c = &mut open.conn;
        let held_before = c.held();
        let dir = c.direction_from(seg.src);
        c.segment(dir, seg, seg.fin);
        if seg.rst {
            c.reset = true;
        }
        self.held_bytes = (self.held_bytes + c.held()).saturating_sub(held_before);
        if c.is_closed() {
            self.close(k, at);
        }
        while self.held_bytes > self.settings.caps.held && self.release_most() {}
    }

    /// Too many connections are open: finishes the eighth that have been idle longest.
    fn evict(&mut self, at: u64) {
        let mut idle: Vec<(u64, u64, Key)> = self.open.iter().map(|(k, o)| (o.last_seen, o.opened_at, *k)).collect();
        let n = (idle.len() / 8).max(1);
        if n < idle.len() {
            idle.select_nth_unstable(n);
        }
        idle.truncate(n);
        idle.sort_unstable();
        let cap = self.settings.caps.open;
        for (last_seen, _, k) in idle {
            if let Some(o) = self.open.get_mut(&k) {
                o.conn.note(format!(
                    "checking ended early, at packet {at}: more than {cap} connections were open at once in this \
                     part of the capture, and this one had been idle since packet {last_seen}; bytes it carried later, \
                     if any, are checked as a connection the capture joined late"
                ));
            }
            self.hit.evicted += 1;
            self.close(k, at);
        }
    }

    /// Too many bytes are held out of order: the connection holding most declares its holes
    /// now. False if nothing could be freed.
    fn release_most(&mut self) -> bool {
        let Some(o) = self.open.values_mut().max_by_key(|o| (o.conn.held(), o.opened_at)) else {
            return false;
        };
        let freed = o.conn.release();
        self.held_bytes = self.held_bytes.saturating_sub(freed);
        self.hit.released += freed as u64;
        freed > 0
    }

    /// Ends the capture: every connection still open is finished too.
    pub fn finish(mut self) -> (Collected, Held, CapsHit) {
        let mut rest: Vec<(u64, Key)> = self.open.iter().map(|(k, o)| (o.opened_at, *k)).collect();
        rest.sort_unstable();
        for (_, k) in rest {
            self.close(k, u64::MAX);
        }
        (self.done, self.held, self.hit)
    }
}
