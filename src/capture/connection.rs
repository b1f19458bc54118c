//! One TCP connection of a capture: both directions reassembled, scanned and checked against the
//! stream rules in capture order (so responses are matched with the requests that really
//! preceded them).

use std::net::SocketAddr;

use raftwire_codec::Limits;
use raftwire_conformance::{ConnectionChecker, Direction, Event, Scanner};

use super::reassembly::{Piece, Reassembler};
use crate::dialect::Dialect;
use crate::direction::DirectionAcc;
use crate::report::{ConnectionReport, Directions};

/// Bytes held out of order per direction before the hole before them is declared a gap.
const HOLD_LIMIT: usize = 4 << 20;

struct DirState {
    reasm: Reassembler,
    scanner: Scanner,
    acc: DirectionAcc,
    late_noted: bool,
}

impl DirState {
    fn new(limits: Limits) -> Self {
        DirState {
            reasm: Reassembler::new(HOLD_LIMIT),
            scanner: Scanner::new(limits),
            acc: DirectionAcc::default(),
            late_noted: false,
        }
    }
}

pub struct Connection {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Decided from the first bytes (or forced by `--dialect`); `None` until then.
    dialect: Option<Dialect>,
    /// Data seen before the dialect was known, in arrival order, replayed once it is.
    undecided: Vec<(Direction, Vec<u8>)>,
    /// hashicorp connections are checked as their bytes arrive (memory: the message being read).
    hashicorp: raftwire_hashicorp::Checker,
    dirs: [DirState; 2],
    checker: ConnectionChecker,
    closed: [bool; 2],
    pub reset: bool,
    /// Packets seen carrying data, for deciding whether an idle connection is worth reporting.
    pub data_packets: u64,
}

fn index(d: Direction) -> usize {
    match d {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    }
}

impl Connection {
    pub fn new(client: SocketAddr, server: SocketAddr, limits: Limits, dialect: Dialect) -> Self {
        Connection {
            client,
            server,
            dialect: (dialect != Dialect::Auto).then_some(dialect),
            undecided: Vec::new(),
            hashicorp: raftwire_hashicorp::Checker::new(false),
            dirs: [DirState::new(limits), DirState::new(limits)],
            checker: ConnectionChecker::new(),
            closed: [false; 2],
            reset: false,
            data_packets: 0,
        }
    }

    /// The direction a segment from `src` travels in.
    pub fn direction_from(&self, src: SocketAddr) -> Direction {
        if src == self.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    }

    pub fn is_closed(&self) -> bool {
        self.reset || self.closed.iter().all(|c| *c)
    }

    /// True once any frame has been seen in either direction (this is RFW/1 traffic), or the
    /// connection speaks the hashicorp dialect.
    pub fn saw_frames(&self) -> bool {
        self.dialect == Some(Dialect::Hashicorp) || self.dirs.iter().any(|d| d.acc.report.frames > 0)
    }

    pub fn segment(&mut self, dir: Direction, seq: u32, syn: bool, fin: bool, payload: &[u8]) {
        let i = index(dir);
        let pieces = self.dirs[i].reasm.segment(seq, syn, payload);
        if self.dirs[i].reasm.joined_late && !self.dirs[i].late_noted {
            let d = &mut self.dirs[i];
            d.late_noted = true;
            // The first bytes may be the middle of a frame: hunt for a verified header first.
            d.scanner.gap(0, &mut |_| {});
            d.acc.note(0, "capture_started_mid_stream", "the capture began after this connection was opened: scanning starts at the first verified frame header".into());
        }
        if !payload.is_empty() {
            self.data_packets += 1;
        }
        self.apply(dir, pieces);
        if fin {
            self.closed[i] = true;
        }
    }

    fn apply(&mut self, dir: Direction, pieces: Vec<Piece>) {
        if self.dialect.is_none() {
            for p in pieces {
                if let Piece::Data { bytes, .. } = p {
                    self.undecided.push((dir, bytes));
                }
            }
            let first = |d: Direction| -> Vec<u8> {
                self.undecided
                    .iter()
                    .filter(|(x, _)| *x == d)
                    .flat_map(|(_, b)| b.iter().copied())
                    .take(8)
                    .collect()
            };
            let decided = crate::dialect::detect(&first(Direction::ClientToServer), &first(Direction::ServerToClient));
            if decided.is_some() {
                self.decide(decided);
            }
            return;
        }
        if self.dialect == Some(Dialect::Hashicorp) {
            for p in pieces {
                match p {
                    Piece::Data { bytes, .. } => match dir {
                        Direction::ClientToServer => self.hashicorp.requests(&bytes),
                        Direction::ServerToClient => self.hashicorp.responses(&bytes),
                    },
                    Piece::Gap { offset, len } => self.dirs[index(dir)].acc.note(
                        offset,
                        "capture_gap",
                        format!("{len} bytes missing from the capture"),
                    ),
                }
            }
            return;
        }
        self.apply_rfw(dir, pieces);
    }

    /// Fixes the dialect and replays what arrived before it was known.
    fn decide(&mut self, dialect: Option<Dialect>) {
        self.dialect = Some(dialect.unwrap_or(Dialect::Rfw));
        for (dir, bytes) in std::mem::take(&mut self.undecided) {
            let offset = self.dirs[index(dir)].acc.report.bytes;
            self.apply(dir, vec![Piece::Data { offset, bytes }]);
        }
    }

    fn apply_rfw(&mut self, dir: Direction, pieces: Vec<Piece>) {
        let i = index(dir);
        let Connection { dirs, checker, .. } = self;
        let d = &mut dirs[i];
        for p in pieces {
            match p {
                Piece::Data { bytes, .. } => {
                    d.acc.report.bytes += bytes.len() as u64;
                    let acc = &mut d.acc;
                    d.scanner.feed(&bytes, &mut |e: Event| {
                        if let Some((offset, info)) = acc.record(e) {
                            match dir {
                                Direction::ClientToServer => checker.client_frame(offset, &info),
                                Direction::ServerToClient => checker.server_frame(offset, &info),
                            }
                        }
                    });
                }
                Piece::Gap { offset, len } => {
                    d.acc.note(offset, "capture_gap", format!("{len} bytes at offset {offset} are missing from the capture (lost or not captured); frames around them cannot be checked"));
                    d.scanner.gap(len, &mut |e| {
                        d.acc.record(e);
                    });
                }
            }
        }
    }

    /// Ends the connection and produces its report.
    pub fn finish(mut self) -> ConnectionReport {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let pieces = self.dirs[index(dir)].reasm.finish();
            self.apply(dir, pieces);
        }
        if self.dialect.is_none() {
            let guess = crate::dialect::detect(
                &self
                    .undecided
                    .iter()
                    .filter(|(d, _)| *d == Direction::ClientToServer)
                    .flat_map(|(_, b)| b.clone())
                    .collect::<Vec<u8>>(),
                &[],
            );
            self.decide(guess);
        }
        if self.dialect == Some(Dialect::Hashicorp) {
            let checked = std::mem::take(&mut self.hashicorp).finish();
            let mut r = crate::dialect::hashicorp_report(self.client.to_string(), self.server.to_string(), checked);
            for (i, d) in self.dirs.iter_mut().enumerate() {
                let notes = std::mem::take(&mut d.acc.report.violations);
                let target = if i == 0 {
                    &mut r.directions.client_to_server
                } else {
                    &mut r.directions.server_to_client
                };
                target.violations.extend(notes);
                target.violations.sort_by_key(|v| v.offset);
            }
            return r;
        }
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let Connection { dirs, checker, .. } = &mut self;
            let d = &mut dirs[index(dir)];
            let acc = &mut d.acc;
            d.scanner.finish(&mut |e| {
                if let Some((offset, info)) = acc.record(e) {
                    match dir {
                        Direction::ClientToServer => checker.client_frame(offset, &info),
                        Direction::ServerToClient => checker.server_frame(offset, &info),
                    }
                }
            });
        }
        let client_end = self.dirs[0].acc.report.bytes;
        let [mut c, mut s] = self.dirs;
        for v in self.checker.finish(client_end) {
            match v.direction {
                Direction::ClientToServer => c.acc.stream_violation(v),
                Direction::ServerToClient => s.acc.stream_violation(v),
            }
        }
        let mut notes = Vec::new();
        for (name, d) in [("client_to_server", &c), ("server_to_client", &s)] {
            if d.reasm.retransmitted > 0 {
                notes.push(format!("{name}: {} retransmitted bytes dropped", d.reasm.retransmitted));
            }
            if d.reasm.out_of_window > 0 {
                notes.push(format!(
                    "{name}: {} out-of-window segments dropped",
                    d.reasm.out_of_window
                ));
            }
        }
        if self.reset {
            notes.push("connection reset (RST)".into());
        }
        ConnectionReport {
            client: self.client.to_string(),
            server: self.server.to_string(),
            dialect: "rfw".to_string(),
            notes,
            directions: Directions {
                client_to_server: c.acc.finish(),
                server_to_client: s.acc.finish(),
            },
        }
    }
}
