//! The validation report: one model, rendered as text, JSON or JUnit. The JSON field names are a
//! documented, stable schema (README "JSON report"); add fields, never rename them.

use std::collections::{BTreeMap, BinaryHeap};

use serde::Serialize;

use crate::capture::defrag::GaveUp;

/// The whole report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub summary: Summary,
    pub connections: Vec<ConnectionReport>,
    /// Connections checked and counted in the summary but not listed (see [`MAX_LISTED`]).
    pub connections_not_listed: NotListed,
    /// One entry per pcap/pcapng input: what it held besides the connections reported.
    pub captures: Vec<CaptureReport>,
    /// TCP connections of the captures that were not checked, and why. With `connections`, every
    /// TCP connection of every capture is accounted for.
    pub unchecked_connections: Unchecked,
    /// What the connections of the captures say together about the cluster's nodes (null for raw
    /// stream inputs, which have no addresses or times).
    pub cluster: Option<crate::cluster::Cluster>,
}

/// Connections not checked: not Raft traffic, on a port where no Raft connection was seen (or
/// carrying no data at all).
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Unchecked {
    /// All of them, listed or not.
    pub connections: usize,
    /// Of which, connections that carried data (the others carried none).
    pub with_data: usize,
    /// The first [`MAX_LISTED`] in report order.
    pub listed: Vec<UncheckedConnection>,
    /// Those past the cap, counted only.
    pub not_listed: usize,
}

impl Unchecked {
    pub fn add(&mut self, other: Unchecked) {
        self.connections += other.connections;
        self.with_data += other.with_data;
        self.not_listed += other.not_listed;
        for c in other.listed {
            if self.listed.len() < MAX_LISTED {
                self.listed.push(c);
            } else {
                self.not_listed += 1;
            }
        }
    }
}

/// A connection not checked, with what it held.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct UncheckedConnection {
    pub client: String,
    pub server: String,
    pub bytes_client_to_server: u64,
    pub bytes_server_to_client: u64,
    /// The first bytes of each direction, in hex.
    pub first_bytes_client_to_server: String,
    pub first_bytes_server_to_client: String,
    /// The protocol the first bytes are, where it can be named (`http`, `http2`, `tls`, `ssh`,
    /// `multistream`).
    pub looks_like: Option<String>,
    /// Why it was not checked.
    pub reason: String,
}

/// Most connections listed with MUST/SHOULD violations, and most listed without, in report order.
/// Past these, connections are still checked and counted in the summary, but not listed: a
/// capture of a million short connections (one per RPC) is validated in bounded memory, and its
/// report stays readable.
pub const MAX_LISTED: usize = 1000;

/// What the connections beyond [`MAX_LISTED`] held.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct NotListed {
    pub connections: usize,
    /// Of which, connections with a MUST or SHOULD violation.
    pub with_violations: usize,
    pub frames: u64,
    pub bytes_skipped: u64,
    /// Bytes of theirs the capture does not have.
    pub bytes_missing: u64,
    /// Their violations by level.
    pub must: usize,
    pub should: usize,
}

impl NotListed {
    fn count(&mut self, c: &ConnectionReport) {
        self.connections += 1;
        self.with_violations += usize::from(c.has_violations());
        for d in c.directions() {
            self.frames += d.frames;
            self.bytes_skipped += d.bytes_skipped;
            self.bytes_missing += d.bytes_missing;
            self.must += d.violations.iter().filter(|v| v.level == "MUST").count() + d.omitted_must as usize;
            self.should += d.violations.iter().filter(|v| v.level == "SHOULD").count() + d.omitted_should as usize;
        }
    }

    fn add(&mut self, o: &NotListed) {
        self.connections += o.connections;
        self.with_violations += o.with_violations;
        self.frames += o.frames;
        self.bytes_skipped += o.bytes_skipped;
        self.bytes_missing += o.bytes_missing;
        self.must += o.must;
        self.should += o.should;
    }
}

/// A connection's place in the report: its input, then (in a capture) the packets at which it
/// closed and opened.
pub type Order = (usize, u64, u64);

/// A thing in report order, compared by its place alone (for the bounded heaps that keep the
/// first ones in report order).
pub struct Ranked<T>(pub Order, pub T);

/// Puts `item` in `heap`, which keeps the `max` first in report order, and returns what gives way:
/// the latest in report order, when the heap was full. An item later than all those kept is
/// handed back without touching the heap, and an earlier one takes the latest's place in one walk
/// down: pushing, then popping, moved a value of hundreds of bytes twice along the heap's height
/// for every connection past the bound (one-RPC connections by the hundred thousand).
pub fn keep_first<T>(heap: &mut BinaryHeap<Ranked<T>>, item: Ranked<T>, max: usize) -> Option<Ranked<T>> {
    if heap.len() < max {
        heap.push(item);
        return None;
    }
    match heap.peek_mut() {
        Some(mut latest) if item < *latest => Some(std::mem::replace(&mut *latest, item)),
        _ => Some(item),
    }
}

impl<T> PartialEq for Ranked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<T> Eq for Ranked<T> {}
impl<T> PartialOrd for Ranked<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Ranked<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

/// Connection reports as they are checked, memory bounded: the first [`MAX_LISTED`] in report
/// order with violations and without are kept whole, the rest only counted. Which ones are kept
/// depends on their order alone, so collections built on several threads merge into the one a
/// single thread builds.
#[derive(Default)]
pub struct Collected {
    flagged: BinaryHeap<Ranked<ConnectionReport>>,
    clean: BinaryHeap<Ranked<ConnectionReport>>,
    not_listed: NotListed,
    /// Every connection's contribution to the cluster view, listed or not.
    pub traces: crate::cluster::Traces,
    /// Where traces go instead when several threads collect: one bounded heap for all of them,
    /// so the run keeps [`crate::cluster::MAX_TRACES`] traces, not that many per thread.
    shared_traces: Option<std::sync::Arc<std::sync::Mutex<crate::cluster::Traces>>>,
}

impl Collected {
    /// Adds counts of connections checked but never listed.
    pub fn count_unlisted(&mut self, n: &NotListed) {
        self.not_listed.add(n);
    }

    /// A collection whose traces go to `traces`, shared with other threads' collections (their
    /// orders must be capture-wide, as a capture's packet numbers are).
    pub fn sharing_traces(traces: std::sync::Arc<std::sync::Mutex<crate::cluster::Traces>>) -> Collected {
        Collected {
            shared_traces: Some(traces),
            ..Collected::default()
        }
    }

    /// Adds a connection's trace (to the shared heap, if there is one).
    pub fn push_trace(&mut self, order: Order, t: crate::cluster::Trace) {
        match &self.shared_traces {
            Some(shared) => {
                if let Ok(mut traces) = shared.lock() {
                    traces.push(order, t);
                }
            }
            None => self.traces.push(order, t),
        }
    }

    pub fn push(&mut self, order: Order, mut c: ConnectionReport) {
        if let Some(t) = c.trace.take() {
            self.push_trace(order, *t);
        }
        let heap = if c.has_violations() {
            &mut self.flagged
        } else {
            &mut self.clean
        };
        if let Some(Ranked(_, last)) = keep_first(heap, Ranked(order, c), MAX_LISTED) {
            self.not_listed.count(&last);
        }
    }

    /// Takes in `other`, whose orders are re-numbered by `order`.
    pub fn merge(&mut self, other: Collected, order: impl Fn(Order) -> Order) {
        self.not_listed.add(&other.not_listed);
        self.traces.merge(other.traces, &order);
        for Ranked(o, c) in other.flagged.into_iter().chain(other.clean) {
            self.push(order(o), c);
        }
    }

    /// True if no connection was checked.
    pub fn is_empty(&self) -> bool {
        self.flagged.is_empty() && self.clean.is_empty() && self.not_listed.connections == 0
    }

    /// The listed connections in report order, and what the others held.
    pub fn finish(self) -> (Vec<ConnectionReport>, NotListed) {
        let mut listed: Vec<Ranked<ConnectionReport>> = self.flagged.into_iter().chain(self.clean).collect();
        listed.sort_unstable();
        (listed.into_iter().map(|Ranked(_, c)| c).collect(), self.not_listed)
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct CaptureReport {
    pub file: String,
    pub packets: u64,
    /// Packets that are not TCP (or not IP), ignored.
    pub not_tcp: u64,
    /// IP fragments of TCP datagrams that could not be put together (a fragment missing, cut by
    /// the snap length, or overlapping another with different bytes; or held past the
    /// defragmenter's bounds): their bytes are missing from their connections.
    pub fragments: u64,
    /// `fragments` by why their datagram was given up.
    pub fragments_by_reason: FragmentsByReason,
    /// IP fragments put back together into TCP segments, which were then checked.
    pub reassembled_fragments: u64,
    /// Packets too short for the headers they claim.
    pub malformed: u64,
    /// Packets cut by the capture's snap length (their missing bytes show up as gaps).
    pub truncated_packets: u64,
    /// The longest cut packet as captured: the snap length at the link layer (0 if none was cut).
    pub snap_length: u64,
    /// Connections whose checking a capture-wide limit on open connections ended early.
    pub evicted_connections: u64,
    /// Bytes held out of order whose holes a capture-wide memory limit declared early.
    pub released_bytes: u64,
    /// Where the capture file ends inside a packet record (tcpdump killed, a copy cut short):
    /// the packets before it were checked.
    pub file_truncated_at: Option<u64>,
    /// TCP packets on ports other than `--port`.
    pub other_ports: u64,
    /// TCP connections with data that were not checked: not Raft traffic, on ports where no Raft
    /// connection was seen (listed in the report's `unchecked_connections`).
    pub ignored_connections: u64,
    /// The first packet's timestamp, which times are counted from.
    #[serde(skip)]
    pub first_packet_time: Option<crate::capture::Timestamp>,
    /// The last packet's time, since the first.
    #[serde(skip)]
    pub last_packet_time: f64,
}

/// IP fragments not put back together, by why their datagram was given up (JSON
/// `captures[].fragments_by_reason`, one field per [`GaveUp`]).
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct FragmentsByReason {
    pub missing: u64,
    pub cut: u64,
    pub disagreeing: u64,
    pub malformed: u64,
    pub bounds: u64,
}

impl FragmentsByReason {
    fn slot(&mut self, why: GaveUp) -> &mut u64 {
        match why {
            GaveUp::Missing => &mut self.missing,
            GaveUp::Cut => &mut self.cut,
            GaveUp::Disagreeing => &mut self.disagreeing,
            GaveUp::Malformed => &mut self.malformed,
            GaveUp::Bounds => &mut self.bounds,
        }
    }

    /// Counts `n` more fragments given up for `why`.
    pub fn add(&mut self, why: GaveUp, n: u64) {
        *self.slot(why) += n;
    }

    /// The fragments given up for `why`.
    pub fn of(mut self, why: GaveUp) -> u64 {
        *self.slot(why)
    }
}

impl CaptureReport {
    /// A packet's timestamp as seconds since the capture's first packet (a packet without one
    /// takes the previous packet's).
    pub fn clock(&mut self, ts: Option<crate::capture::Timestamp>) -> f64 {
        let Some(ts) = ts else {
            return self.last_packet_time;
        };
        let first = *self.first_packet_time.get_or_insert(ts);
        self.last_packet_time = ts.since(first);
        self.last_packet_time
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// No MUST-level violation (and, with `--strict`, no SHOULD-level one), and everything
    /// checked (`complete`).
    pub conforming: bool,
    /// `conforming`, `not_conforming` (violations: exit 1), or `incomplete` (no violation in what
    /// was checked, but part of the input could not be: exit 3).
    pub verdict: String,
    /// False when part of the input could not be checked (see `not_checked`).
    pub complete: bool,
    /// What was not checked, and why, one sentence each.
    pub not_checked: Vec<String>,
    /// Bytes the captures do not have (holes, packets cut at the snap length).
    pub bytes_missing: u64,
    pub connections: usize,
    pub frames: u64,
    /// Violations that count against conformance (informational notes excluded).
    pub violations: usize,
    /// Of `violations`, the cluster view's findings between nodes (MUST, and SHOULD with
    /// `--strict`).
    pub cluster_violations: usize,
    pub bytes_skipped: u64,
}

impl ConnectionReport {
    pub fn directions(&self) -> [&DirectionReport; 2] {
        [&self.directions.client_to_server, &self.directions.server_to_client]
    }

    /// True if a direction has a MUST or SHOULD violation (notes alone do not count).
    pub fn has_violations(&self) -> bool {
        self.directions().iter().any(|d| {
            d.omitted_must + d.omitted_should > 0
                || d.violations.iter().any(|v| v.level == "MUST" || v.level == "SHOULD")
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    /// ip:port for captures; the file name for raw inputs (empty when that direction is absent).
    pub client: String,
    pub server: String,
    /// `rfw` (RFW/1).
    pub dialect: String,
    /// Facts about the capture of this connection (not the protocol): late start, gaps, retransmissions.
    pub notes: Vec<String>,
    pub directions: Directions,
    /// The nodes at its two ends, by listening address (`cluster.nodes`), where known.
    pub client_node: Option<String>,
    pub server_node: Option<String>,
    /// Request-to-response latency (seconds, from capture timestamps) by request type.
    pub latency: BTreeMap<String, crate::cluster::latency::Summary>,
    /// Latency over time, (seconds since the capture's first packet, latency in seconds), at most
    /// [`MAX_SAMPLES`](crate::cluster::latency::MAX_SAMPLES) points spread over the connection:
    /// what the HTML report plots (not in the JSON).
    #[serde(skip)]
    pub latency_samples: Vec<(f32, f32)>,
    /// What it contributes to the cluster view, taken by [`Collected`].
    #[serde(skip)]
    pub trace: Option<Box<crate::cluster::Trace>>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Directions {
    pub client_to_server: DirectionReport,
    pub server_to_client: DirectionReport,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct DirectionReport {
    pub bytes: u64,
    /// Bytes the capture does not have (holes in the TCP stream, packets cut at the snap length):
    /// not counted in `bytes`, never checked.
    pub bytes_missing: u64,
    pub frames: u64,
    pub frames_by_type: BTreeMap<String, u64>,
    pub bytes_skipped: u64,
    pub violations: Vec<Violation>,
    /// Violations beyond the per-direction cap, counted but not listed.
    pub violations_omitted: u64,
    /// Of which, MUST and SHOULD violations (they count in the summary like listed ones).
    pub omitted_must: u64,
    pub omitted_should: u64,
}

impl DirectionReport {
    /// Violations, listed or not, that fail conformance at this strictness.
    pub fn failing(&self, strict: bool) -> u64 {
        self.violations.iter().filter(|v| v.fails(strict)).count() as u64
            + self.omitted_must
            + if strict { self.omitted_should } else { 0 }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// Byte offset within this direction's stream.
    pub offset: u64,
    /// For a frame that failed, where it began (`offset` names the offending field, which for a
    /// payload CRC is after the damage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_offset: Option<u64>,
    pub code: String,
    pub requirement: String,
    /// `MUST`, `SHOULD` or `INFO`.
    pub level: String,
    pub message: String,
    /// True for a finding that follows a hole in the capture and may be caused by the bytes the
    /// capture does not have: reported as information, not judged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub after_capture_gap: bool,
    /// Hex of the bytes around `offset` (text rendering only).
    #[serde(skip)]
    pub excerpt: Option<Excerpt>,
}

/// Bytes around a violation: where they start and what they are.
#[derive(Debug, Clone)]
pub struct Excerpt {
    pub start: u64,
    pub bytes: Vec<u8>,
}

impl Violation {
    /// Turns a finding into information: it follows a hole in the capture, and what it says
    /// may be caused by the missing bytes rather than by the peer.
    pub fn follows_capture_gap(&mut self) {
        if self.level != "INFO" {
            self.message = format!(
                "not judged ({} {}): it follows a hole in the capture and may be caused by the bytes the capture does not have: {}",
                self.level, self.requirement, self.message
            );
            self.level = "INFO".into();
            self.after_capture_gap = true;
        }
    }

    /// Turns a truncation at the end of a stream the capture cut off (the connection was still
    /// open when it ended) into information: the rest of the message was never captured.
    pub fn capture_ended(&mut self) {
        self.message = format!(
            "the capture ended inside this message while the connection was still open (no FIN or RST): its rest was not captured, which is no fault of the peer ({})",
            self.message
        );
        self.level = "INFO".into();
        self.code = "capture_ended_mid_message".into();
        self.requirement = "-".into();
    }

    /// Counts against conformance at this strictness.
    pub fn fails(&self, strict: bool) -> bool {
        self.level == "MUST" || (strict && self.level == "SHOULD")
    }
}

impl Report {
    /// What the captures did not let us check, one sentence each, for a person to act on.
    fn not_checked(&self, bytes_missing: u64) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.captures {
            if c.truncated_packets > 0 {
                out.push(format!(
                    "{}: {} packet(s) cut at snap length {} by the capture: their missing bytes were not checked, and \
                     findings that depend on them are not judged; re-capture with `tcpdump -s 0`",
                    c.file, c.truncated_packets, c.snap_length
                ));
            }
            if c.evicted_connections > 0 {
                out.push(format!(
                    "{}: {} connection(s) finished early because too many were open at once (the longest idle \
                     first; each one's notes say when): bytes they carried later were checked as connections \
                     joined late",
                    c.file, c.evicted_connections
                ));
            }
            if c.released_bytes > 0 {
                out.push(format!(
                    "{}: holes were declared early to free {} bytes held out of order (a capture-wide memory \
                     limit): bytes filling them later were not checked",
                    c.file, c.released_bytes
                ));
            }
            if c.fragments > 0 {
                let reasons: Vec<String> = GaveUp::ALL
                    .into_iter()
                    .filter(|why| c.fragments_by_reason.of(*why) > 0)
                    .map(|why| format!("{} because {}", c.fragments_by_reason.of(why), why.why()))
                    .collect();
                out.push(format!(
                    "{}: {} IP fragment(s) could not be put together ({}): the TCP bytes they carry are missing \
                     from their connections",
                    c.file,
                    c.fragments,
                    reasons.join("; ")
                ));
            }
            if let Some(at) = c.file_truncated_at {
                out.push(format!(
                    "{}: the capture file ends inside a packet record at byte {at} (tcpdump killed, or the file cut \
                     short): the packets before it were checked, the last one is lost",
                    c.file
                ));
            }
        }
        if bytes_missing > 0 {
            out.push(format!(
                "{bytes_missing} byte(s) of TCP payload are missing from the capture (capture_gap notes give each hole): \
                 what depends on them was not judged"
            ));
        }
        out
    }

    /// Fills in the summary from the connections.
    pub fn summarise(&mut self, strict: bool) {
        let dirs = || {
            self.connections
                .iter()
                .flat_map(|c| [&c.directions.client_to_server, &c.directions.server_to_client])
        };
        let n = &self.connections_not_listed;
        let violations =
            dirs().map(|d| d.failing(strict) as usize).sum::<usize>() + n.must + if strict { n.should } else { 0 };
        let bytes_missing = dirs().map(|d| d.bytes_missing).sum::<u64>() + n.bytes_missing;
        let not_checked = self.not_checked(bytes_missing);
        let complete = not_checked.is_empty();
        let cluster_violations = self
            .cluster
            .iter()
            .flat_map(|c| &c.findings)
            .filter(|f| f.level == "MUST" || strict && f.level == "SHOULD")
            .count();
        let violations = violations + cluster_violations;
        self.summary = Summary {
            cluster_violations,
            conforming: violations == 0 && complete,
            verdict: match (violations, complete) {
                (0, true) => "conforming",
                (0, false) => "incomplete",
                _ => "not_conforming",
            }
            .to_string(),
            complete,
            not_checked,
            bytes_missing,
            connections: self.connections.len() + n.connections,
            frames: dirs().map(|d| d.frames).sum::<u64>() + n.frames,
            violations,
            bytes_skipped: dirs().map(|d| d.bytes_skipped).sum::<u64>() + n.bytes_skipped,
        };
    }
}
