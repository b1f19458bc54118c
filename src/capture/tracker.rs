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
}

struct Open {
    opened_at: u64,
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
}

impl Tracker {
    pub fn new(settings: Settings) -> Self {
        Tracker {
            settings,
            open: OpenMap::default(),
            done: Collected::default(),
            held: Held::default(),
        }
    }

    fn close(&mut self, k: Key, closed_at: u64) {
        if let Some(Open { opened_at, mut conn }) = self.open.remove(&k) {
            conn.flush();
            let order = (0, closed_at, opened_at);
            if conn.recognised() {
                *self.held.raft_ports.entry(conn.server.port()).or_default() |= conn.is_hashicorp();
                self.done.push(order, conn.finish());
            } else if !self.settings.ports.is_empty() && conn.data_packets > 0 {
                // `--port` named this connection's port: it is checked as what it was read as.
                self.done.push(order, conn.finish());
            } else {
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
        if !self.open.contains_key(&k) && seg.payload.is_empty() && !seg.syn && !seg.lost {
            // A bare ACK, FIN or RST of a connection not (or no longer) open, such as the last
            // ACK after both FINs: nothing to check, and opening a connection for it would keep
            // one idle entry per closed connection until the capture ends.
            return;
        }
        let Settings { limits, ports, dialect } = &self.settings;
        let open = self.open.entry(k).or_insert_with(|| {
            let (client, server) = roles(seg, ports);
            Open {
                opened_at: at,
                conn: Box::new(Connection::new(client, server, *limits, *dialect)),
            }
        });
        let c = &mut open.conn;
        let dir = c.direction_from(seg.src);
        c.segment(dir, seg, seg.fin);
        if seg.rst {
            c.reset = true;
        }
        if c.is_closed() {
            self.close(k, at);
        }
    }

    /// Ends the capture: every connection still open is finished too.
    pub fn finish(mut self) -> (Collected, Held) {
        let mut rest: Vec<(u64, Key)> = self.open.iter().map(|(k, o)| (o.opened_at, *k)).collect();
        rest.sort_unstable();
        for (_, k) in rest {
            self.close(k, u64::MAX);
        }
        (self.done, self.held)
    }
}
