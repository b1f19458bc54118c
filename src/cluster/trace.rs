//! What one connection contributes to the cluster view, gathered while it is checked: who its two
//! ends say they are, the release features each end wrote, the events that matter between nodes
//! (a leader's first AppendEntries of a term, votes, leadership transfers, snapshots), latencies,
//! who closed it and what was left unanswered. Bounded per connection: events and timeline
//! samples are capped, so a connection carrying millions of RPCs costs a few KiB.
//!
//! Only messages written as the library writes them and confirmed by what follows are evidence
//! (`Said::clean`): a message spliced from two writers is never taken for something a node said.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use raftwire_hashicorp::release::{Feature, FeatureSet};

use super::latency::Histogram;
use super::said::{Rpc, Said};

/// Most events kept per connection; the rest are counted.
pub const MAX_EVENTS: usize = 64;
/// Most distinct ids or addresses kept per end.
const MAX_CLAIMS: usize = 4;
/// Most requests awaiting an answer whose send times are kept.
const MAX_PENDING: usize = 4096;
/// Most packet timestamps kept per direction while a message is still arriving.
const MAX_STAMPS: usize = 4096;

/// What one end of a connection said about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// RPCHeader `ID`s it wrote.
    pub ids: Vec<String>,
    /// Addresses it wrote as its own: RPCHeader `Addr`, and as a client `Leader` (AppendEntries,
    /// InstallSnapshot) or `Candidate` (RequestVote).
    pub addrs: Vec<String>,
}

impl Claims {
    const fn new() -> Claims {
        Claims {
            ids: Vec::new(),
            addrs: Vec::new(),
        }
    }

    /// Keeps `v` unless it is there already (the usual case: no copy is made then).
    fn add(list: &mut Vec<String>, v: Option<&str>) {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            if !list.iter().any(|x| x == v) && list.len() < MAX_CLAIMS {
                list.push(v.to_string());
            }
        }
    }
}

/// Something that happened between the two nodes of a connection.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The first AppendEntries (or InstallSnapshot) of a term on this connection whose answer
    /// carries the same term: its sender leads that term.
    Leads { term: u64 },
    /// A RequestVote (`pre` = RequestPreVote) and, once answered, whether it was granted.
    Vote {
        pre: bool,
        term: u64,
        transfer: bool,
        granted: Option<bool>,
    },
    /// A TimeoutNow: the client hands leadership to the server.
    TimeoutNow,
    /// An InstallSnapshot of `size` bytes and, once answered, whether it succeeded.
    Snapshot {
        term: u64,
        size: u64,
        success: Option<bool>,
    },
}

/// An event, when (seconds since the capture's first packet) and where (offset in its direction).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub ts: f64,
    pub offset: u64,
    pub kind: EventKind,
}

/// A request the server never answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Unanswered {
    /// Its report name.
    pub name: &'static str,
    pub ts: f64,
    pub offset: u64,
    pub features: FeatureSet,
}

/// Times of AppendEntries that carried entries, and of those that did not, coarsened so at most
/// [`MAX_SAMPLES`] are kept (the resolution doubles when full).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub samples: Vec<f64>,
    /// Samples closer than this to the last one are not kept.
    pub resolution: f64,
}

/// Most samples a timeline keeps.
pub const MAX_SAMPLES: usize = 512;

impl Timeline {
    const fn new() -> Timeline {
        Timeline {
            samples: Vec::new(),
            resolution: 0.0,
        }
    }

    fn add(&mut self, ts: f64) {
        if self.resolution == 0.0 {
            self.resolution = 0.05;
        }
        if self.samples.last().is_some_and(|l| (ts - l).abs() < self.resolution) {
            return;
        }
        if self.samples.len() >= MAX_SAMPLES {
            self.resolution *= 2.0;
            let mut kept: Vec<f64> = Vec::with_capacity(MAX_SAMPLES);
            for s in self.samples.drain(..) {
                if kept.last().is_none_or(|l| s - l >= self.resolution) {
                    kept.push(s);
                }
            }
            self.samples = kept;
        }
        self.samples.push(ts);
    }
}

/// A feature an end wrote, first at `offset` (in its direction) at `ts`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    pub feature: Feature,
    pub offset: u64,
    pub ts: f64,
}

/// Who sent a FIN or RST first, and when.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Closes {
    /// Per end (client, server): its first FIN.
    pub fin: [Option<f64>; 2],
    /// Per end: its first RST.
    pub rst: [Option<f64>; 2],
}

impl Closes {
    /// The end that closed first (0 client, 1 server) and when, if either did.
    pub fn first(&self) -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        for end in 0..2 {
            for t in [self.fin[end], self.rst[end]].into_iter().flatten() {
                if best.is_none_or(|(_, b)| t < b) {
                    best = Some((end, t));
                }
            }
        }
        best
    }
}

/// What a packet tells the trace: which end sent it (0 client, 1 server), when, its TCP flags,
/// and whether it carried data.
#[derive(Debug, Clone, Copy)]
pub struct Packet {
    pub end: usize,
    pub ts: f64,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub data: bool,
}

/// One connection's contribution to the cluster view.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    /// The names its report gives its two ends, where they are not the addresses (raw stream
    /// files: the file names).
    pub names: Option<(String, String)>,
    /// `hashicorp` or `rfw`, once the connection was checked as one.
    pub dialect: Option<&'static str>,
    /// First and last packet.
    pub first_ts: f64,
    pub last_ts: f64,
    /// The client's SYN and the server's SYN-ACK were captured.
    pub syn: bool,
    pub syn_ack: bool,
    /// Packets carrying data.
    pub data: bool,
    pub closes: Closes,
    /// What its messages said: boxed, and allocated only for a connection that carried any (most
    /// connections of a large capture are kept until it is read, so the trace itself stays small).
    detail: Option<Box<Detail>>,
    /// What is needed only while the connection is open, dropped when it ends (a finished trace
    /// is kept until the capture is read, so it must be small).
    live: Option<Box<Live>>,
}

/// What a connection's messages said.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    /// What each end (client, server) said about itself.
    pub claims: [Claims; 2],
    /// Release features each end wrote, each with where and when it first showed.
    pub features: [Vec<Seen>; 2],
    pub events: Vec<Event>,
    pub events_dropped: u64,
    /// Cluster members (id, address) the client listed (RFW/1 configurations), at most
    /// [`MAX_CLAIMS`] times four.
    pub members: Vec<(String, String)>,
    /// RFW versions other than 1 each end wrote (frames rejected for their version byte).
    pub versions: [Vec<u8>; 2],
    /// Clean requests and responses.
    pub requests: u64,
    pub responses: u64,
    /// Requests left unanswered when the connection ended: how many, and the first of them.
    pub unanswered: u64,
    pub first_unanswered: Option<Unanswered>,
    /// AppendEntries with entries, and without, as the server received them.
    pub entries: Timeline,
    pub heartbeats: Timeline,
    /// Request-to-response latency by the request's name (emptied when the report takes it).
    pub latency: BTreeMap<String, Histogram>,
    /// Latency over time, every type together, for a plot.
    pub latency_over_time: super::latency::Samples,
}

/// The detail of a connection that carried no message.
static NO_DETAIL: Detail = Detail {
    claims: [Claims::new(), Claims::new()],
    features: [Vec::new(), Vec::new()],
    events: Vec::new(),
    events_dropped: 0,
    members: Vec::new(),
    versions: [Vec::new(), Vec::new()],
    requests: 0,
    responses: 0,
    unanswered: 0,
    first_unanswered: None,
    entries: Timeline::new(),
    heartbeats: Timeline::new(),
    latency: BTreeMap::new(),
    latency_over_time: super::latency::Samples::new(),
};

#[derive(Debug, Clone, Default)]
struct Live {
    /// Per direction, (stream offset the packet's bytes end at, its time).
    stamps: [VecDeque<(u64, f64)>; 2],
    fed: [u64; 2],
    /// Requests awaiting an answer, oldest first: what a response is paired with.
    pending: VecDeque<Pending>,
    pending_dropped: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    name: &'static str,
    request_id: Option<u64>,
    ts: f64,
    offset: u64,
    clean: bool,
    features: FeatureSet,
    /// The event it started, which its answer completes.
    event: Option<usize>,
    /// An AppendEntries or InstallSnapshot in this term: its sender leads the term if the answer
    /// carries the same term (a follower answers a stale leader with its own, higher term).
    leads: Option<u64>,
}

impl Trace {
    pub fn new(client: SocketAddr, server: SocketAddr) -> Trace {
        Trace {
            client: Some(client),
            server: Some(server),
            first_ts: f64::NAN,
            ..Trace::default()
        }
    }

    /// A connection read from raw stream files: no packets, so no times (every time is 0) and no
    /// handshake or closes; the addresses only if the file names carry them.
    pub fn untimed(client: Option<SocketAddr>, server: Option<SocketAddr>) -> Trace {
        Trace {
            client,
            server,
            first_ts: 0.0,
            data: true,
            ..Trace::default()
        }
    }

    /// A packet of this connection.
    pub fn packet(&mut self, p: Packet) {
        let Packet {
            end,
            ts,
            syn,
            ack,
            fin,
            rst,
            data,
        } = p;
        if self.first_ts.is_nan() {
            self.first_ts = ts;
        }
        self.last_ts = ts;
        self.syn |= syn && !ack && end == 0;
        self.syn_ack |= syn && ack && end == 1;
        self.data |= data;
        if fin {
            self.closes.fin[end].get_or_insert(ts);
        }
        if rst {
            self.closes.rst[end].get_or_insert(ts);
        }
    }

    /// What its messages said (empty for a connection that carried none).
    pub fn detail(&self) -> &Detail {
        self.detail.as_deref().unwrap_or(&NO_DETAIL)
    }

    fn d(&mut self) -> &mut Detail {
        self.detail.get_or_insert_with(Box::default)
    }

    fn live(&mut self) -> &mut Live {
        self.live.get_or_insert_with(Box::default)
    }

    /// Bytes of direction `end` handed to the checker, which arrived at `ts`.
    pub fn fed(&mut self, end: usize, len: usize, ts: f64) {
        let live = self.live();
        live.fed[end] += len as u64;
        let fed = live.fed[end];
        let stamps = &mut live.stamps[end];
        if stamps.len() >= MAX_STAMPS {
            // A message arriving in very many packets: keep every other time (the last stays).
            let kept: VecDeque<_> = stamps
                .iter()
                .copied()
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect();
            *stamps = kept;
        }
        stamps.push_back((fed, ts));
    }

    /// When the byte before stream offset `end` of direction `dir` arrived.
    fn time_of(&mut self, dir: usize, end: u64) -> f64 {
        let last = self.last_ts;
        let stamps = &mut self.live().stamps[dir];
        while stamps.len() > 1 && stamps.front().is_some_and(|(e, _)| *e < end) {
            stamps.pop_front();
        }
        stamps.front().map_or(last, |(_, ts)| *ts)
    }

    fn event(&mut self, ts: f64, offset: u64, kind: EventKind) -> Option<usize> {
        let d = self.d();
        if d.events.len() >= MAX_EVENTS {
            d.events_dropped += 1;
            return None;
        }
        d.events.push(Event { ts, offset, kind });
        Some(d.events.len() - 1)
    }

    fn claim(&mut self, end: usize, m: &Said, ts: f64) {
        let d = self.d();
        let c = &mut d.claims[end];
        Claims::add(&mut c.ids, m.id.as_deref());
        for a in &m.addrs {
            Claims::add(&mut c.addrs, a.as_deref());
        }
        for pair in &m.members {
            if !d.members.contains(pair) && d.members.len() < 4 * MAX_CLAIMS {
                d.members.push(pair.clone());
            }
        }
        for f in m.features.iter() {
            if !d.features[end].iter().any(|s| s.feature == f) {
                d.features[end].push(Seen {
                    feature: f,
                    offset: m.offset,
                    ts,
                });
            }
        }
    }

    /// An RFW frame of `end`'s rejected for its version byte.
    pub fn version(&mut self, end: usize, version: u8) {
        let d = self.d();
        if !d.versions[end].contains(&version) && d.versions[end].len() < 8 {
            d.versions[end].push(version);
        }
    }

    /// A message either end wrote.
    pub fn message(&mut self, m: Said) {
        let dir = usize::from(m.response);
        let ts = self.time_of(dir, m.end);
        if !m.response {
            self.request(m, ts);
            return;
        }
        // hashicorp/raft answers in order (the checker pairs them the same way); RFW/1 by id.
        let live = self.live();
        let found = match m.request_id {
            None => live.pending.pop_front(),
            Some(id) => live
                .pending
                .iter()
                .position(|p| p.request_id == Some(id))
                .and_then(|i| live.pending.remove(i)),
        };
        let Some(p) = found else {
            if m.request_id.is_none() {
                live.pending_dropped = live.pending_dropped.saturating_sub(1);
            }
            return;
        };
        if !(m.clean && p.clean) {
            return;
        }
        self.d().responses += 1;
        self.claim(1, &m, ts);
        self.d().latency_over_time.add(p.ts, ts - p.ts);
        let latency = &mut self.d().latency;
        match latency.get_mut(p.name) {
            Some(h) => h.add(ts - p.ts),
            None => {
                let mut h = Histogram::default();
                h.add(ts - p.ts);
                latency.insert(p.name.to_string(), h);
            }
        }
        if let Some(term) = p.leads.filter(|t| m.term == Some(*t) || m.accepts_leader) {
            if !self.d().events.iter().any(|e| e.kind == EventKind::Leads { term }) {
                self.event(p.ts, p.offset, EventKind::Leads { term });
            }
        }
        if let Some(e) = p.event.and_then(|i| self.d().events.get_mut(i)) {
            match &mut e.kind {
                EventKind::Vote { granted, .. } => *granted = m.granted,
                EventKind::Snapshot { success, .. } => *success = m.success,
                _ => {}
            }
        }
    }

    fn request(&mut self, m: Said, ts: f64) {
        let mut event = None;
        if m.clean {
            self.d().requests += 1;
            self.claim(0, &m, ts);
            let term = m.term.unwrap_or(0);
            event = match m.rpc {
                Rpc::Vote { pre, transfer } => self.event(
                    ts,
                    m.offset,
                    EventKind::Vote {
                        pre,
                        term,
                        transfer,
                        granted: None,
                    },
                ),
                Rpc::TimeoutNow => self.event(ts, m.offset, EventKind::TimeoutNow),
                Rpc::Snapshot { size } => self.event(
                    ts,
                    m.offset,
                    EventKind::Snapshot {
                        term,
                        size,
                        success: None,
                    },
                ),
                Rpc::Append { entries } => {
                    if entries > 0 {
                        self.d().entries.add(ts);
                    } else {
                        self.d().heartbeats.add(ts);
                    }
                    None
                }
                Rpc::SnapshotChunk | Rpc::Other => None,
            };
        }
        let leads = match m.rpc {
            Rpc::Append { .. } | Rpc::Snapshot { .. } | Rpc::SnapshotChunk => m.term,
            _ => None,
        };
        let live = self.live();
        if live.pending.len() < MAX_PENDING {
            live.pending.push_back(Pending {
                name: m.name,
                request_id: m.request_id,
                ts,
                offset: m.offset,
                clean: m.clean,
                features: m.features,
                event,
                leads,
            });
        } else {
            live.pending_dropped += 1;
        }
    }

    /// Latency over time, (time, latency) points (emptied when the report takes them).
    pub fn latency_samples(&mut self) -> Vec<(f32, f32)> {
        let Some(d) = self.detail.as_deref_mut() else {
            return Vec::new();
        };
        std::mem::take(&mut d.latency_over_time).points().to_vec()
    }

    /// The latency summaries, by request type.
    pub fn latency(&mut self) -> BTreeMap<String, super::latency::Summary> {
        let Some(d) = self.detail.as_deref_mut() else {
            return BTreeMap::new();
        };
        std::mem::take(&mut d.latency)
            .into_iter()
            .filter_map(|(k, h)| Some((k, h.summary()?)))
            .collect()
    }

    /// Gives back the spare capacity of what a finished trace keeps: up to [`super::MAX_TRACES`]
    /// of them wait for the capture's end, and vectors grown by doubling hold up to twice their
    /// contents.
    pub fn compact(&mut self) {
        if let Some(d) = self.detail.as_deref_mut() {
            for c in &mut d.claims {
                c.ids.shrink_to_fit();
                c.addrs.shrink_to_fit();
            }
            for f in &mut d.features {
                f.shrink_to_fit();
            }
            d.events.shrink_to_fit();
            d.members.shrink_to_fit();
            for v in &mut d.versions {
                v.shrink_to_fit();
            }
            d.entries.samples.shrink_to_fit();
            d.heartbeats.samples.shrink_to_fit();
            d.latency_over_time.shrink_to_fit();
        }
    }

    /// The connection has ended: what is still pending was never answered.
    pub fn finish(&mut self) {
        let Some(live) = self.live.take() else { return };
        let unanswered = live.pending.len() as u64 + live.pending_dropped;
        if unanswered == 0 {
            return;
        }
        let d = self.d();
        d.unanswered = unanswered;
        d.first_unanswered = live.pending.front().map(|p| Unanswered {
            name: p.name,
            ts: p.ts,
            offset: p.offset,
            features: p.features,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(response: bool, rpc: Rpc, id: Option<u64>, end: u64) -> Said<'static> {
        Said {
            response,
            rpc,
            name: "AppendEntries",
            offset: end - 10,
            end,
            clean: true,
            term: Some(2),
            id: None,
            addrs: [None, None, None],
            granted: None,
            success: None,
            features: FeatureSet::default(),
            request_id: id,
            members: Vec::new(),
            accepts_leader: false,
        }
    }

    fn trace() -> Trace {
        Trace::new(
            "10.0.0.1:4000".parse().unwrap_or_else(|_| unreachable!()),
            "10.0.0.2:8300".parse().unwrap_or_else(|_| unreachable!()),
        )
    }

    #[test]
    fn a_timeline_keeps_samples_a_resolution_apart_and_doubles_it_when_full() {
        let mut t = Timeline::default();
        t.add(0.0);
        t.add(0.04);
        t.add(0.05);
        assert_eq!(
            t.samples,
            [0.0, 0.05],
            "closer than the resolution is dropped, exactly it is kept"
        );
        t.add(10.0);
        t.add(10.04);
        assert_eq!(t.samples, [0.0, 0.05, 10.0], "the distance to the last sample counts");
        let mut t = Timeline::default();
        for i in 0..=MAX_SAMPLES {
            t.add(i as f64 * 0.06);
        }
        assert_eq!(t.resolution, 0.1);
        assert!(t.samples.len() <= MAX_SAMPLES / 2 + 2, "{}", t.samples.len());
        assert!(t.samples.len() >= MAX_SAMPLES / 2, "{}", t.samples.len());
        assert!(t.samples.windows(2).all(|w| w[1] - w[0] >= 0.1 - 1e-9));
    }

    #[test]
    fn a_close_at_the_same_instant_is_not_blamed_on_the_server() {
        let c = Closes {
            fin: [Some(1.0), Some(1.0)],
            rst: [None, None],
        };
        assert_eq!(c.first(), Some((0, 1.0)));
    }

    #[test]
    fn only_the_clients_syn_and_the_servers_syn_ack_count() {
        let p = |end, syn, ack| Packet {
            end,
            ts: 0.0,
            syn,
            ack,
            fin: false,
            rst: false,
            data: false,
        };
        let mut t = trace();
        t.packet(p(1, true, false));
        t.packet(p(0, true, true));
        t.packet(p(0, false, false));
        assert!(!t.syn && !t.syn_ack);
        t.packet(p(0, true, false));
        assert!(t.syn && !t.syn_ack);
        t.packet(p(1, true, true));
        assert!(t.syn_ack);
    }

    #[test]
    fn responses_pair_by_request_id_when_there_is_one_and_only_clean_pairs_count() {
        let mut t = trace();
        t.fed(0, 20, 1.0);
        t.fed(1, 10, 3.0);
        t.fed(1, 10, 5.0);
        // Requests 1 and 2 at 1.0 s; answers to 2 (at 3.0 s), then to 1 (at 5.0 s).
        t.message(said(false, Rpc::Append { entries: 1 }, Some(1), 10));
        let mut second = said(false, Rpc::Append { entries: 1 }, Some(2), 20);
        second.name = "Second";
        t.message(second);
        t.message(said(true, Rpc::Other, Some(2), 10));
        t.message(said(true, Rpc::Other, Some(1), 20));
        let d = t.detail();
        assert_eq!((d.requests, d.responses), (2, 2));
        assert_eq!(d.latency["Second"].summary().map(|s| s.max), Some(2.0));
        assert_eq!(d.latency["AppendEntries"].summary().map(|s| s.max), Some(4.0));
        // An unclean answer is paired (it answers its request) but is no evidence.
        let mut t = trace();
        t.message(said(false, Rpc::Append { entries: 1 }, None, 10));
        let mut bad = said(true, Rpc::Other, None, 10);
        bad.clean = false;
        t.message(bad);
        assert_eq!(t.detail().responses, 0);
        assert!(t.detail().latency.is_empty());
        t.finish();
        assert_eq!(t.detail().unanswered, 0, "it was answered");
    }

    #[test]
    fn a_message_arriving_in_many_packets_keeps_times_near_each_offset() {
        let mut t = trace();
        for i in 0..10_000 {
            t.fed(1, 1, f64::from(i));
        }
        let at = t.time_of(1, 5_000);
        assert!((4_997.0..=5_001.0).contains(&at), "{at}");
        // Past every stamp: the last stamp's time, not the connection's last packet.
        t.last_ts = 123_456.0;
        assert_eq!(t.time_of(1, 20_000), 9_999.0);
    }

    #[test]
    fn members_are_kept_up_to_sixteen() {
        let mut t = trace();
        let mut m = said(false, Rpc::Other, None, 10);
        m.members = (0..20).map(|i| (format!("n{i}"), format!("10.0.0.{i}:7000"))).collect();
        t.message(m);
        assert_eq!(t.detail().members.len(), 16);
    }

    #[test]
    fn a_timeline_stays_bounded_and_keeps_its_span() {
        let mut t = Timeline::default();
        for i in 0..100_000 {
            t.add(f64::from(i) * 0.01);
        }
        assert!(t.samples.len() <= MAX_SAMPLES);
        assert!(t.samples.first() == Some(&0.0));
        assert!(t.samples.last().is_some_and(|l| *l > 999.0 - t.resolution));
        assert!(t.samples.windows(2).all(|w| w[1] - w[0] >= 0.05));
    }

    #[test]
    fn the_first_close_is_named() {
        let c = Closes {
            fin: [Some(2.0), Some(1.5)],
            rst: [None, None],
        };
        assert_eq!(c.first(), Some((1, 1.5)));
        let c = Closes {
            fin: [Some(2.0), None],
            rst: [None, Some(3.0)],
        };
        assert_eq!(c.first(), Some((0, 2.0)));
        assert_eq!(Closes::default().first(), None);
    }

    #[test]
    fn stamps_give_each_message_the_time_its_last_byte_arrived() {
        let mut t = Trace::new(
            "10.0.0.1:4000".parse().unwrap_or_else(|_| unreachable!()),
            "10.0.0.2:8300".parse().unwrap_or_else(|_| unreachable!()),
        );
        t.fed(0, 10, 1.0);
        t.fed(0, 10, 2.0);
        t.fed(0, 10, 3.0);
        assert_eq!(t.time_of(0, 10), 1.0);
        assert_eq!(t.time_of(0, 11), 2.0);
        assert_eq!(t.time_of(0, 30), 3.0);
        for i in 0..10_000 {
            t.fed(1, 1, f64::from(i));
        }
        assert!(t.live().stamps[1].len() <= MAX_STAMPS);
        assert_eq!(t.time_of(1, 10_000), 9999.0);
    }
}
