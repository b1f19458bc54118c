//! One connection (or raw stream) dissected as its bytes arrive: a line per message, errors and
//! skipped bytes inline, in the dialect its first bytes show. Nothing is kept but what the
//! scanner or the hashicorp checker holds to judge the message being read.

use raftwire_codec::Limits;
use raftwire_conformance::{Direction, Event, Scanner};

use super::summary::summary;
use crate::dialect::{detect, detect_final, Dialect};
use crate::render::hexdump;

/// Most bytes held before the dialect is decided (as `validate` holds).
const UNDECIDED_LIMIT: usize = 64 << 10;

/// Where a dissector's output goes.
pub trait Lines {
    /// The dialect has just been decided: the connection's heading, before any of its lines.
    fn heading(&mut self, dialect: &'static str);
    /// One line.
    fn text(&mut self, line: String);
}

/// What arrives for a direction: bytes, or a hole in the capture.
pub enum Arrival<'a> {
    Data(&'a [u8]),
    Gap { offset: u64, len: u64 },
}

enum State {
    /// Bytes seen before the dialect was known, in arrival order, replayed once it is.
    Undecided(Vec<(Direction, Held)>),
    Rfw([Scanner; 2]),
    Hashicorp {
        checker: Box<raftwire_hashicorp::Checker>,
        /// Findings already printed, per direction.
        printed: [usize; 2],
    },
}

enum Held {
    Data(Vec<u8>),
    Gap { offset: u64, len: u64 },
}

/// Dissects one connection, printing through `line` (which prefixes and writes each line).
pub struct Dissector {
    state: State,
    forced: Dialect,
    limits: Limits,
    hex: bool,
    /// The first bytes of each direction, which decide the dialect.
    head: [Vec<u8>; 2],
    held: usize,
    /// Each direction's label on RFW/1 lines.
    labels: [&'static str; 2],
}

fn index(d: Direction) -> usize {
    usize::from(d == Direction::ServerToClient)
}

fn label(d: Direction) -> &'static str {
    match d {
        Direction::ClientToServer => "c->s",
        Direction::ServerToClient => "s->c",
    }
}

impl Dissector {
    pub fn new(dialect: Dialect, limits: Limits, hex: bool) -> Dissector {
        Dissector {
            state: State::Undecided(Vec::new()),
            forced: dialect,
            limits,
            hex,
            head: [Vec::new(), Vec::new()],
            held: 0,
            labels: ["c->s", "s->c"],
        }
    }

    /// RFW/1 lines without a direction: a raw stream file is one direction of unknown role.
    pub fn unlabelled(mut self) -> Dissector {
        self.labels = ["    ", "    "];
        self
    }

    /// The next bytes (or hole) of direction `dir`.
    pub fn arrive(&mut self, dir: Direction, arrival: Arrival<'_>, line: &mut dyn Lines) {
        if self.forced != Dialect::Auto && matches!(self.state, State::Undecided(_)) {
            self.decide(self.forced, line);
        }
        if let State::Undecided(held) = &mut self.state {
            match arrival {
                Arrival::Data(bytes) => {
                    let head = &mut self.head[index(dir)];
                    let room = 16usize.saturating_sub(head.len()).min(bytes.len());
                    head.extend_from_slice(&bytes[..room]);
                    self.held += bytes.len();
                    held.push((dir, Held::Data(bytes.to_vec())));
                }
                Arrival::Gap { offset, len } => held.push((dir, Held::Gap { offset, len })),
            }
            let decided = detect(&self.head[0], &self.head[1])
                .or_else(|| (self.held > UNDECIDED_LIMIT).then(|| detect_final(&self.head[0], &[])));
            if let Some(dialect) = decided {
                self.decide(dialect, line);
            }
            return;
        }
        match arrival {
            Arrival::Data(bytes) => self.data(dir, bytes, line),
            Arrival::Gap { offset, len } => self.gap(dir, offset, len, line),
        }
    }

    /// Fixes the dialect and replays what arrived before it was known.
    fn decide(&mut self, dialect: Dialect, line: &mut dyn Lines) {
        let State::Undecided(held) = std::mem::replace(&mut self.state, State::Undecided(Vec::new())) else {
            return;
        };
        self.state = match dialect {
            Dialect::Hashicorp => State::Hashicorp {
                checker: Box::new(raftwire_hashicorp::Checker::new(false).observe()),
                printed: [0, 0],
            },
            _ => State::Rfw([Scanner::new(self.limits), Scanner::new(self.limits)]),
        };
        let name = if dialect == Dialect::Hashicorp {
            "hashicorp"
        } else {
            "rfw"
        };
        line.heading(name);
        self.held = 0;
        for (dir, h) in held {
            match h {
                Held::Data(bytes) => self.data(dir, &bytes, line),
                Held::Gap { offset, len } => self.gap(dir, offset, len, line),
            }
        }
    }

    fn data(&mut self, dir: Direction, bytes: &[u8], line: &mut dyn Lines) {
        let hex = self.hex;
        match &mut self.state {
            State::Undecided(_) => {}
            State::Rfw(scanners) => {
                let label = self.labels[index(dir)];
                scanners[index(dir)].feed(bytes, &mut |e| rfw_event(e, label, hex, line));
            }
            State::Hashicorp { checker, printed } => {
                match dir {
                    Direction::ClientToServer => checker.requests(bytes),
                    Direction::ServerToClient => checker.responses(bytes),
                }
                let observed = checker.take_observed();
                hashicorp_progress(checker, printed, observed, line);
            }
        }
    }

    fn gap(&mut self, dir: Direction, offset: u64, len: u64, line: &mut dyn Lines) {
        line.text(format!(
            "{offset:>10} {} GAP {len} bytes missing from the capture: what depends on them is not judged",
            label(dir)
        ));
        let (hex, label) = (self.hex, self.labels[index(dir)]);
        if let State::Rfw(scanners) = &mut self.state {
            scanners[index(dir)].gap(len, &mut |e| rfw_event(e, label, hex, line));
        }
    }

    /// Both directions have ended: judges what is left.
    pub fn finish(mut self, line: &mut dyn Lines) {
        if matches!(&self.state, State::Undecided(held) if held.is_empty()) {
            // Nothing arrived: nothing to say.
            return;
        }
        if matches!(self.state, State::Undecided(_)) {
            let dialect = match self.forced {
                Dialect::Auto => detect_final(&self.head[0], &self.head[1]),
                d => d,
            };
            self.decide(dialect, line);
        }
        let hex = self.hex;
        match self.state {
            State::Undecided(_) => {}
            State::Rfw(mut scanners) => {
                for (scanner, label) in scanners.iter_mut().zip(self.labels) {
                    scanner.finish(&mut |e| rfw_event(e, label, hex, line));
                }
            }
            State::Hashicorp { checker, mut printed } => {
                let (c, observed) = checker.finish_observed();
                print_observed(observed, line);
                for (i, d) in [&c.requests, &c.responses].into_iter().enumerate() {
                    let dir = if i == 0 { "c->s" } else { "s->c" };
                    for f in d.findings.iter().skip(printed[i]) {
                        line.text(finding_line(dir, f));
                    }
                    printed[i] = d.findings.len();
                    if d.findings_omitted > 0 {
                        line.text(format!(
                            "           {dir} {} more findings not listed",
                            d.findings_omitted
                        ));
                    }
                }
                for n in &c.notes {
                    line.text(format!("  note: {n}"));
                }
            }
        }
    }
}

/// Prints the messages just judged and the findings past those printed.
fn hashicorp_progress(
    checker: &raftwire_hashicorp::Checker,
    printed: &mut [usize; 2],
    observed: Vec<raftwire_hashicorp::Observed>,
    line: &mut dyn Lines,
) {
    print_observed(observed, line);
    for (i, findings) in checker.findings().into_iter().enumerate() {
        let dir = if i == 0 { "c->s" } else { "s->c" };
        for f in findings.iter().skip(printed[i]) {
            line.text(finding_line(dir, f));
        }
        printed[i] = findings.len();
    }
}

fn print_observed(observed: Vec<raftwire_hashicorp::Observed>, line: &mut dyn Lines) {
    for o in observed {
        let dir = if o.response { "s->c" } else { "c->s" };
        line.text(format!("{:>10} {dir} {}", o.offset, o.decoded.name));
    }
}

fn finding_line(dir: &str, f: &raftwire_hashicorp::Finding) -> String {
    let kind = if f.level == "INFO" { "NOTE" } else { "ERROR" };
    format!(
        "{:>10} {dir} {kind} {} [{}]: {}",
        f.offset, f.code, f.requirement, f.message
    )
}

/// One RFW/1 scanner event as a line (and, with `hex`, the bytes around an error).
pub fn rfw_event(e: Event, label: &str, hex: bool, line: &mut dyn Lines) {
    match e {
        Event::Frame { offset, len, frame } => line.text(format!(
            "{offset:>10} {label} {:<24} id={:<6} len={len:<7} {}",
            frame.message_type().name(),
            frame.request_id,
            summary(&frame)
        )),
        Event::Error { error, context, .. } => {
            line.text(format!("{:>10} {label} ERROR {error}", error.offset));
            if hex {
                let mut out = String::new();
                hexdump(
                    &mut out,
                    &crate::report::Excerpt {
                        start: context.offset,
                        bytes: context.bytes,
                    },
                    error.offset,
                );
                out.lines().for_each(|l| line.text(l.to_string()));
            }
        }
        Event::Interleaved { frame, at } => line.text(format!(
            "{at:>10} {label} NOTE the frame at {frame} is cut here by another frame: interleaved writers"
        )),
        Event::Skipped { offset, len } => line.text(format!("{offset:>10} {label} SKIPPED {len} bytes")),
    }
}
