//! A capture's connections dissected as its packets are read: each connection's lines carry its
//! number (`#N`), given in order of first data, after a heading naming its endpoints and dialect.
//! Memory is bounded for the whole run: out-of-order bytes held across all connections are
//! capped (the holes before them are then declared, as `validate` does), and a connection ends
//! at its FIN exchange or reset.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use raftwire_codec::Limits;
use raftwire_conformance::Direction;

use super::dissector::{Arrival, Dissector, Lines};
use super::Out;
use crate::capture::read_packets;
use crate::capture::reassembly::{Piece, Reassembler};
use crate::capture::tracker::{key, roles, Key};
use crate::dialect::Dialect;
use crate::source::Source;

/// Bytes held out of order per direction before the hole before them is declared.
const HOLD_LIMIT: usize = 4 << 20;
/// Bytes held out of order across the capture before the current connection's are released.
const HOLD_TOTAL: usize = 32 << 20;
/// Connections dissected at once; past this, the one open longest is finished early.
const OPEN_LIMIT: usize = 20_000;

struct Conn {
    client: SocketAddr,
    server: SocketAddr,
    /// Its place in order of first packet (which open connection to finish early).
    opened: u64,
    /// Its number in the output, once it has shown data.
    number: Option<usize>,
    reasm: [Reassembler; 2],
    dissector: Dissector,
    fin: [bool; 2],
}

/// One connection's lines, numbered.
struct Numbered<'a> {
    out: &'a mut Out,
    conn: (SocketAddr, SocketAddr),
    number: &'a mut Option<usize>,
    next: &'a mut usize,
}

impl Lines for Numbered<'_> {
    fn heading(&mut self, dialect: &'static str) {
        let n = *self.number.get_or_insert_with(|| {
            *self.next += 1;
            *self.next
        });
        let (client, server) = self.conn;
        self.out
            .line(format_args!("connection {n}: {client} -> {server} [{dialect}]"));
    }

    fn text(&mut self, line: String) {
        let n = self.number.unwrap_or(0);
        self.out.line(format_args!("#{n} {line}"));
    }
}

struct Dissecting<'o> {
    out: &'o mut Out,
    conns: HashMap<Key, Conn>,
    /// Open connections by `opened`.
    order: BTreeMap<u64, Key>,
    opened: u64,
    shown: usize,
    held: usize,
    ports: Vec<u16>,
    limits: Limits,
    hex: bool,
    dialect: Dialect,
}

impl Dissecting<'_> {
    fn deliver(out: &mut Out, next: &mut usize, c: &mut Conn, dir: Direction, pieces: Vec<Piece>) {
        let mut lines = Numbered {
            out,
            conn: (c.client, c.server),
            number: &mut c.number,
            next,
        };
        for p in pieces {
            let arrival = match &p {
                Piece::Data { bytes, .. } => Arrival::Data(bytes),
                Piece::Gap { offset, len, .. } => Arrival::Gap {
                    offset: *offset,
                    len: *len,
                },
            };
            c.dissector.arrive(dir, arrival, &mut lines);
        }
    }

    fn finish(&mut self, k: Key) {
        let Some(mut c) = self.conns.remove(&k) else {
            return;
        };
        self.order.remove(&c.opened);
        for (i, dir) in [Direction::ClientToServer, Direction::ServerToClient]
            .into_iter()
            .enumerate()
        {
            self.held -= c.reasm[i].held().min(self.held);
            let pieces = c.reasm[i].finish();
            Self::deliver(self.out, &mut self.shown, &mut c, dir, pieces);
        }
        let mut lines = Numbered {
            out: self.out,
            conn: (c.client, c.server),
            number: &mut c.number,
            next: &mut self.shown,
        };
        c.dissector.finish(&mut lines);
    }

    fn segment(&mut self, seg: &crate::capture::packet::TcpSegment<'_>) {
        if !seg.on_ports(&self.ports) {
            return;
        }
        let k = key(seg.src, seg.dst);
        if !self.conns.contains_key(&k) {
            if self.conns.len() >= OPEN_LIMIT {
                if let Some((_, oldest)) = self.order.pop_first() {
                    self.finish(oldest);
                }
            }
            let (client, server) = roles(seg, &self.ports);
            self.opened += 1;
            self.order.insert(self.opened, k);
            self.conns.insert(
                k,
                Conn {
                    client,
                    server,
                    opened: self.opened,
                    number: None,
                    reasm: [Reassembler::new(HOLD_LIMIT), Reassembler::new(HOLD_LIMIT)],
                    dissector: Dissector::new(self.dialect, self.limits, self.hex),
                    fin: [false; 2],
                },
            );
        }
        let Some(c) = self.conns.get_mut(&k) else {
            return;
        };
        let i = usize::from(seg.src != c.client);
        let dir = if i == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        if seg.ack {
            // Bytes of the other direction acknowledged but never captured show at its end.
            c.reasm[1 - i].acknowledge(seg.ack_number);
        }
        let before = c.reasm[i].held();
        let pieces = c.reasm[i].segment(seg.seq, seg.syn, seg.payload, u64::from(seg.missing));
        self.held = (self.held + c.reasm[i].held()).saturating_sub(before);
        Self::deliver(self.out, &mut self.shown, c, dir, pieces);
        if self.held > HOLD_TOTAL {
            self.held -= c.reasm[i].held().min(self.held);
            let pieces = c.reasm[i].release();
            Self::deliver(self.out, &mut self.shown, c, dir, pieces);
        }
        c.fin[i] |= seg.fin;
        if seg.rst || c.fin == [true, true] {
            self.finish(k);
        }
    }
}

/// Dissects every connection (on `ports`, if given) as the capture is read; returns how many
/// showed data.
pub fn inspect(
    source: &Source,
    ports: &[u16],
    limits: Limits,
    hex: bool,
    dialect: Dialect,
    out: &mut Out,
) -> Result<usize, String> {
    let mut d = Dissecting {
        out,
        conns: HashMap::new(),
        order: BTreeMap::new(),
        opened: 0,
        shown: 0,
        held: 0,
        ports: ports.to_vec(),
        limits,
        hex,
        dialect,
    };
    // Fragmented segments are put back together, as for `validate`.
    let mut defrag = crate::capture::defrag::Defragmenter::default();
    let mut telling = crate::capture::defrag::Telling::default();
    let truncated_at = read_packets(source, true, |lt, data, missing, _| {
        if !d.out.closed {
            if let Ok(Some(seg)) = defrag.packet(lt, data, missing, 0.0) {
                d.segment(&seg);
            }
            // A datagram given up shows as a gap in its stream, said here with why.
            let out = &mut *d.out;
            telling.tell(&defrag.take_given_up(), &d.ports, |line| {
                out.line(format_args!("{line}"))
            });
        }
    })?;
    // Datagrams still waiting for a fragment when the capture ends.
    telling.tell(&defrag.finish(), &d.ports, |line| d.out.line(format_args!("{line}")));
    telling.close(|line| d.out.line(format_args!("{line}")));
    while let Some((_, k)) = d.order.pop_first() {
        d.finish(k);
    }
    if let Some(at) = truncated_at {
        eprintln!(
            "{}: the capture file ends inside a packet record at byte {at} (tcpdump killed, or the file was cut short): the packets before it were read",
            source.name
        );
    }
    Ok(d.shown)
}
