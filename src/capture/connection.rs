//! One TCP connection of a capture: both directions reassembled, scanned and checked against the
//! stream rules in capture order (so responses are matched with the requests that really
//! preceded them).

use std::net::SocketAddr;

use raftwire_codec::Limits;
use raftwire_conformance::{ConnectionChecker, Direction, Event, Scanner, StreamCode};

use super::packet::TcpSegment;
use super::reassembly::{GapCause, Piece, Reassembler};
use super::unrecognised::{Pending, HEAD};
use crate::cluster::Trace;
use crate::dialect::Dialect;
use crate::direction::DirectionAcc;
use crate::report::{ConnectionReport, Directions};

const MARKER: [u8; 4] = [0xC1, b'R', b'F', b'W'];

/// Most bytes a connection keeps before its dialect is decided.
const UNDECIDED_LIMIT: u64 = 64 << 10;

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
    undecided: Vec<(Direction, Piece)>,
    /// hashicorp connections are checked as their bytes arrive (memory: the message being read).
    hashicorp: raftwire_hashicorp::Checker,
    dirs: [DirState; 2],
    checker: ConnectionChecker,
    closed: [bool; 2],
    pub reset: bool,
    /// Packets seen carrying data, for deciding whether an idle connection is worth reporting.
    pub data_packets: u64,
    /// The first bytes of each direction, which decide whether this is Raft traffic at all.
    head: [Vec<u8>; 2],
    /// Bytes reassembled per direction, whatever the dialect.
    bytes: [u64; 2],
    /// A direction's first bytes were cut short by a hole.
    head_cut: [bool; 2],
    /// A hole in either direction has been seen (in capture order).
    gaps_seen: bool,
    /// Per direction, the offset of the first frame handed to the stream checker after a hole was
    /// seen in either direction: stream-rule findings from there on may follow from missing bytes.
    after_gap: [Option<u64>; 2],
    /// Per direction, where the first hole began (hashicorp connections are judged from there).
    first_gap: [Option<u64>; 2],
    /// Notes from outside (a capture-wide limit ended this connection's checking early).
    extra_notes: Vec<String>,
    /// What it tells the cluster view.
    trace: Trace,
    /// The time of the packet being handled (seconds since the capture's first).
    now: f64,
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
            hashicorp: raftwire_hashicorp::Checker::new(false).observe(),
            dirs: [DirState::new(limits), DirState::new(limits)],
            checker: ConnectionChecker::new(),
            closed: [false; 2],
            reset: false,
            data_packets: 0,
            head: [Vec::new(), Vec::new()],
            bytes: [0, 0],
            head_cut: [false; 2],
            gaps_seen: false,
            after_gap: [None; 2],
            first_gap: [None; 2],
            extra_notes: Vec::new(),
            trace: Trace::new(client, server),
            now: 0.0,
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

    /// True if the connection is Raft traffic by its own bytes: a direction starts with the RFW/1
    /// marker (whatever follows: a corrupted first frame is still RFW/1), the client's first
    /// bytes are a hashicorp/raft request (or the server's a response, where the client sent
    /// nothing), or an RFW/1 frame was found later (a capture that began mid-connection).
    pub fn recognised(&self) -> bool {
        let [c2s, s2c] = &self.head;
        c2s.starts_with(&MARKER)
            || s2c.starts_with(&MARKER)
            || raftwire_hashicorp::looks_like(c2s)
            || raftwire_hashicorp::looks_like_response(c2s)
            || (c2s.is_empty() && crate::dialect::detect(c2s, s2c) == Some(Dialect::Hashicorp))
            || self.dirs.iter().any(|d| d.acc.report.frames > 0)
    }

    /// What is kept of a connection that is not (yet) known to be Raft traffic.
    pub fn pending(&self) -> Pending {
        Pending {
            client: self.client,
            server: self.server,
            bytes: self.bytes,
            head: self.head.clone(),
        }
    }

    /// True if the connection speaks hashicorp/raft.
    pub fn is_hashicorp(&self) -> bool {
        self.dialect == Some(Dialect::Hashicorp)
    }

    pub fn segment(&mut self, dir: Direction, seg: &TcpSegment<'_>, fin: bool) {
        let i = index(dir);
        self.now = seg.ts;
        self.trace.packet(crate::cluster::trace::Packet {
            end: i,
            ts: seg.ts,
            syn: seg.syn,
            ack: seg.ack,
            fin,
            rst: seg.rst,
            data: !seg.payload.is_empty(),
        });
        if let Some(why) = seg.lost {
            // An IP-fragmented segment, not reassembled: what follows may depend on it.
            let offset = self.dirs[i].reasm.offset_of(seg.seq);
            self.gaps_seen = true;
            self.first_gap[i].get_or_insert(offset);
            self.dirs[i].acc.note(
                offset,
                "capture_gap",
                format!(
                    "a TCP segment at offset {offset} was IP-fragmented and is not reassembled ({}): its bytes are missing; what depends on them is not judged",
                    why.why()
                ),
            );
            return;
        }
        if seg.ack {
            // What the peer acknowledged of the other direction: bytes the capture lost at its
            // end show only here.
            self.dirs[1 - i].reasm.acknowledge(seg.ack_number);
        }
        let payload = seg.payload;
        let pieces = self.dirs[i]
            .reasm
            .segment(seg.seq, seg.syn, payload, u64::from(seg.missing));
        self.keep_head(i, &pieces);
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

    fn keep_head(&mut self, i: usize, pieces: &[Piece]) {
        for p in pieces {
            match p {
                Piece::Data { bytes, .. } => {
                    self.bytes[i] += bytes.len() as u64;
                    let head = &mut self.head[i];
                    let room = if self.head_cut[i] {
                        0
                    } else {
                        HEAD.saturating_sub(head.len())
                    };
                    head.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
                }
                // The first bytes end at a hole: what follows it is not what the stream began with.
                Piece::Gap { .. } => self.head_cut[i] = true,
            }
        }
    }

    /// Notes a hole in a direction: from here on, what depends on the missing bytes is not judged.
    fn gap(&mut self, i: usize, offset: u64, len: u64, cause: GapCause) {
        self.gaps_seen = true;
        self.first_gap[i].get_or_insert(offset);
        let d = &mut self.dirs[i];
        d.acc.report.bytes_missing += len;
        let why = match cause {
            GapCause::Snapped => {
                "the capture's snap length cut the packet that carried them (re-capture with `tcpdump -s 0`)"
            }
            GapCause::Lost => "lost by the capture, or never captured",
            GapCause::Released => {
                "not seen yet when the data held out of order after them reached the capture-wide memory limit; \
                 if they come later they are not checked"
            }
            GapCause::Acknowledged => {
                "the receiver acknowledged them, but the capture does not have them (it dropped the last packets: \
                 tcpdump reports such drops as \"packets dropped by kernel\")"
            }
        };
        d.acc.note(
            offset,
            "capture_gap",
            format!("{len} bytes at offset {offset} are missing from the capture: {why}; what depends on them is not judged"),
        );
    }

    fn apply(&mut self, dir: Direction, pieces: Vec<Piece>) {
        if self.dialect.is_none() {
            // Holes too: replayed in order, so bytes on either side of one are never joined.
            self.undecided.extend(pieces.into_iter().map(|p| (dir, p)));
            let mut decided = crate::dialect::detect(&self.head[0], &self.head[1]);
            // The first bytes can no longer grow (a hole cut them short), or much has arrived
            // without them deciding: decide from what there is, so what waits stays bounded.
            let waiting: u64 = self.bytes.iter().sum();
            if decided.is_none() && (self.head_cut.iter().all(|c| *c) || waiting > UNDECIDED_LIMIT) {
                decided = Some(crate::dialect::detect_final(&self.head[0], &[]));
            }
            if decided.is_some() {
                self.decide(decided);
            }
            return;
        }
        if self.dialect == Some(Dialect::Hashicorp) {
            for p in pieces {
                match p {
                    Piece::Data { bytes, .. } => {
                        self.trace.fed(index(dir), bytes.len(), self.now);
                        match dir {
                            Direction::ClientToServer => self.hashicorp.requests(&bytes),
                            Direction::ServerToClient => self.hashicorp.responses(&bytes),
                        }
                        for o in self.hashicorp.take_observed() {
                            self.trace.message(crate::cluster::said::from_hashicorp(o));
                        }
                    }
                    Piece::Gap { offset, len, cause } => {
                        let i = index(dir);
                        self.first_gap[i].get_or_insert(offset);
                        self.gap(i, offset, len, cause);
                    }
                }
            }
            return;
        }
        self.apply_rfw(dir, pieces);
    }

    /// Fixes the dialect and replays what arrived before it was known.
    fn decide(&mut self, dialect: Option<Dialect>) {
        self.dialect = Some(dialect.unwrap_or(Dialect::Rfw));
        for (dir, piece) in std::mem::take(&mut self.undecided) {
            self.apply(dir, vec![piece]);
        }
    }

    fn apply_rfw(&mut self, dir: Direction, pieces: Vec<Piece>) {
        let i = index(dir);
        for p in pieces {
            match p {
                Piece::Data { bytes, .. } => {
                    let Connection {
                        dirs,
                        checker,
                        gaps_seen,
                        after_gap,
                        trace,
                        now,
                        ..
                    } = self;
                    let d = &mut dirs[i];
                    d.acc.report.bytes += bytes.len() as u64;
                    trace.fed(i, bytes.len(), *now);
                    let acc = &mut d.acc;
                    d.scanner.feed(&bytes, &mut |e: Event| {
                        crate::cluster::said::observe_rfw(trace, i, &e);
                        if let Some((offset, info)) = acc.record(e) {
                            if *gaps_seen {
                                after_gap[i].get_or_insert(offset);
                            }
                            match dir {
                                Direction::ClientToServer => checker.client_frame(offset, &info),
                                Direction::ServerToClient => checker.server_frame(offset, &info),
                            }
                        }
                    });
                }
                Piece::Gap { offset, len, cause } => {
                    self.gap(i, offset, len, cause);
                    // The scanner counts the hole in its offsets: so do the trace's stamps.
                    self.trace.fed(i, usize::try_from(len).unwrap_or(usize::MAX), self.now);
                    let d = &mut self.dirs[i];
                    d.scanner.gap(len, &mut |e| {
                        d.acc.record(e);
                    });
                }
            }
        }
    }

    /// Bytes held out of order in both directions.
    pub fn held(&self) -> usize {
        self.dirs.iter().map(|d| d.reasm.held()).sum()
    }

    /// Declares the holes before held bytes now, to free the memory they take (a capture-wide
    /// limit was reached); returns how many bytes were held.
    pub fn release(&mut self) -> usize {
        let held = self.held();
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let pieces = self.dirs[index(dir)].reasm.release();
            self.keep_head(index(dir), &pieces);
            self.apply(dir, pieces);
        }
        held
    }

    /// Adds a note to the connection's report.
    pub fn note(&mut self, note: String) {
        self.extra_notes.push(note);
    }

    /// Hands on what reassembly still holds (the capture has ended, or the connection closed).
    pub fn flush(&mut self) {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let pieces = self.dirs[index(dir)].reasm.finish();
            self.keep_head(index(dir), &pieces);
            self.apply(dir, pieces);
        }
    }

    /// Per direction, true if the capture ended while that direction was still open: no FIN from
    /// its sender and no reset, so a message cut at the end is the capture's, not the peer's.
    fn open_at_end(&self) -> [bool; 2] {
        [0, 1].map(|i| !self.reset && !self.closed[i])
    }

    /// Ends the connection and produces its report.
    pub fn finish(mut self) -> ConnectionReport {
        self.flush();
        if self.dialect.is_none() {
            let guess = crate::dialect::detect_final(&self.head[0], &self.head[1]);
            self.decide(Some(guess));
        }
        if self.dialect == Some(Dialect::Hashicorp) {
            let (checked, observed) = std::mem::take(&mut self.hashicorp).finish_observed();
            for o in observed {
                self.trace.message(crate::cluster::said::from_hashicorp(o));
            }
            let mut r = crate::dialect::hashicorp_report(self.client.to_string(), self.server.to_string(), checked);
            self.trace.dialect = Some("hashicorp");
            self.trace.finish();
            r.latency = self.trace.latency();
            r.latency_samples = self.trace.latency_samples();
            r.trace = Some(Box::new(std::mem::take(&mut self.trace)));
            let open = self.open_at_end();
            let first_gap = self.first_gap;
            for (i, d) in self.dirs.iter_mut().enumerate() {
                let notes = std::mem::take(&mut d.acc.report.violations);
                let target = if i == 0 {
                    &mut r.directions.client_to_server
                } else {
                    &mut r.directions.server_to_client
                };
                target.bytes_missing = d.acc.report.bytes_missing;
                for v in &mut target.violations {
                    // Findings from the first hole on in their own direction, and responses
                    // unmatched because requests went missing, may be the capture's doing.
                    let own = first_gap[i].is_some_and(|g| v.offset >= g);
                    let unmatched = i == 1 && first_gap[0].is_some() && v.code == "hc_unsolicited_response";
                    if own || unmatched {
                        v.follows_capture_gap();
                    }
                    if open[i] && v.code == "hc_truncated" {
                        v.capture_ended();
                    } else if first_gap[i].is_some() && v.code == "hc_truncated" {
                        // The stream's end is judged from every byte after the message, and a
                        // hole lies among them.
                        v.follows_capture_gap();
                    }
                }
                target.violations.extend(notes);
                target.violations.sort_by_key(|v| v.offset);
            }
            r.notes.append(&mut self.extra_notes);
            return r;
        }
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let Connection {
                dirs, checker, trace, ..
            } = &mut self;
            let d = &mut dirs[index(dir)];
            let acc = &mut d.acc;
            d.scanner.finish(&mut |e| {
                crate::cluster::said::observe_rfw(trace, index(dir), &e);
                if let Some((offset, info)) = acc.record(e) {
                    match dir {
                        Direction::ClientToServer => checker.client_frame(offset, &info),
                        Direction::ServerToClient => checker.server_frame(offset, &info),
                    }
                }
            });
        }
        let open = self.open_at_end();
        for (i, d) in self.dirs.iter_mut().enumerate() {
            if open[i] {
                for v in &mut d.acc.report.violations {
                    if v.code == "truncated_frame" {
                        v.capture_ended();
                    }
                }
            }
        }
        let client_end = self.dirs[0].acc.report.bytes;
        let (after_gap, first_gap) = (self.after_gap, self.first_gap);
        let [mut c, mut s] = self.dirs;
        for v in self.checker.finish(client_end) {
            let i = index(v.direction);
            // A response matches nothing, or a request goes unanswered, when the other
            // direction lost the bytes that would have matched it.
            let other_lost = match v.code {
                StreamCode::UnsolicitedResponse => first_gap[0].is_some(),
                StreamCode::UnansweredAtClose => first_gap[1].is_some(),
                _ => false,
            };
            let consequence = other_lost || after_gap[i].is_some_and(|first| v.offset >= first);
            let acc = if i == 0 { &mut c.acc } else { &mut s.acc };
            acc.stream_violation(v, consequence);
        }
        let mut notes = std::mem::take(&mut self.extra_notes);
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
        self.trace.finish();
        self.trace.dialect = Some("rfw");
        let latency = self.trace.latency();
        let latency_samples = self.trace.latency_samples();
        ConnectionReport {
            client: self.client.to_string(),
            server: self.server.to_string(),
            dialect: "rfw".to_string(),
            notes,
            directions: Directions {
                client_to_server: c.acc.finish(),
                server_to_client: s.acc.finish(),
            },
            client_node: None,
            server_node: None,
            latency,
            latency_samples,
            trace: Some(Box::new(self.trace)),
        }
    }

    /// A dial answered by a reset, with no data: the server refused it (the cluster view's
    /// evidence that a node was down). Its trace, if so.
    pub fn refused(&mut self) -> Option<Trace> {
        let t = &self.trace;
        (t.syn && !t.syn_ack && !t.data && t.closes.rst[1].is_some()).then(|| std::mem::take(&mut self.trace))
    }
}
