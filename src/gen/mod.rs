//! `raftwire gen`: synthetic, deterministic cluster traffic with optional injected faults.

mod census;
mod cluster;
mod faults;
mod pcap;
mod streams;
mod traffic;

use std::path::Path;

use census::Census;
pub use faults::Fault;
use raftwire_codec::Frame;
use raftwire_conformance::Direction;
use traffic::{Endpoints, Segment, Sink};

/// How many replication rounds the generated cluster runs by default.
pub const ROUNDS: usize = 24;

/// What `write` wrote.
pub struct Written {
    pub connections: usize,
    /// Where the injected fault's record went.
    pub faults: Option<std::path::PathBuf>,
}

/// Generates the traffic and writes it: as a pcap file when `out` ends in `.pcap` (with
/// `OUT.faults.json` beside it), otherwise as raw streams in the directory `out` (with
/// `faults.json` in it). Another capture format is refused rather than taken for a directory.
///
/// Two passes over the deterministic simulation: a census (what connections, how many segments
/// each, where the fault goes), then the writing pass, which writes every frame as it is sent.
/// Memory is bounded by a round of traffic whatever `rounds` is (`tests/memory.rs`).
pub fn write(seed: u64, rounds: usize, fault: Option<Fault>, out: &Path) -> Result<Written, String> {
    if let Some(ext) = out.extension().and_then(|e| e.to_str()) {
        if ["pcapng", "cap", "pcapnp", "gz", "zst"].contains(&ext) {
            return Err(format!(
                "{}: gen writes a pcap file (--out NAME.pcap) or a directory of raw streams, not .{ext}; \
                 convert a pcap with `editcap -F pcapng NAME.pcap NAME.pcapng`",
                out.display()
            ));
        }
    }
    let mut census = Census::default();
    cluster::simulate(seed, rounds, &mut census);
    let plan = fault.map(|f| faults::Plan::new(&census, f, seed)).transpose()?;
    let pcap_file = out.extension().is_some_and(|e| e == "pcap");
    let faults_path = if pcap_file {
        out.with_extension("faults.json")
    } else {
        out.join("faults.json")
    };
    let failed = |e: std::io::Error| format!("{}: {e}", out.display());
    let output: Box<dyn Output> = if pcap_file {
        let file = std::fs::File::create(out).map_err(failed)?;
        Box::new(pcap::PcapOutput::new(std::io::BufWriter::new(file)).map_err(failed)?)
    } else {
        std::fs::create_dir_all(out).map_err(failed)?;
        Box::new(streams::StreamsOutput::new(out))
    };
    let mut writing = Writing {
        census: &census,
        ranks: ranks(&census),
        extra: plan
            .as_ref()
            .map(|p| (0..census.connections.len()).map(|id| p.extra_segments(id)).collect()),
        injector: plan.map(faults::Injector::new),
        output,
    };
    cluster::simulate(seed, rounds, &mut writing);
    let record = writing.finish()?;
    let mut faults = None;
    if let Some(record) = record {
        let text = serde_json::to_string_pretty(&[record])
            .map(|t| t + "\n")
            .map_err(|e| e.to_string())?;
        std::fs::write(&faults_path, text).map_err(|e| format!("{}: {e}", faults_path.display()))?;
        faults = Some(faults_path);
    }
    Ok(Written {
        connections: census.connections.len(),
        faults,
    })
}

/// Each connection's place in name order, by id.
fn ranks(census: &Census) -> Vec<usize> {
    let mut ranks = vec![0; census.connections.len()];
    for (rank, id) in census.by_name().into_iter().enumerate() {
        ranks[id] = rank;
    }
    ranks
}

/// What the writing pass does with each connection's segments, faults already in.
trait Output {
    /// Connection `id`, `rank` in name order, will carry `segments` segments.
    fn open(&mut self, id: usize, endpoints: &Endpoints, rank: usize, segments: usize);
    /// One segment of connection `id`.
    fn segment(&mut self, id: usize, segment: &Segment);
    /// Nothing still to come has a time before `time_us`.
    fn settled(&mut self, time_us: u64);
    /// Everything has been given: write what waits, flush, report the first error.
    fn finish(&mut self) -> std::io::Result<()>;
}

impl<W: std::io::Write> Output for pcap::PcapOutput<W> {
    fn open(&mut self, id: usize, endpoints: &Endpoints, rank: usize, segments: usize) {
        pcap::PcapOutput::open(self, id, endpoints, rank, segments)
    }
    fn segment(&mut self, id: usize, segment: &Segment) {
        pcap::PcapOutput::segment(self, id, segment)
    }
    fn settled(&mut self, time_us: u64) {
        pcap::PcapOutput::settled(self, time_us)
    }
    fn finish(&mut self) -> std::io::Result<()> {
        pcap::PcapOutput::finish(self)
    }
}

/// The writing pass: the simulation's frames, through the fault injector, to the output.
struct Writing<'c> {
    census: &'c Census,
    ranks: Vec<usize>,
    /// Segments the fault adds, per connection.
    extra: Option<Vec<usize>>,
    injector: Option<faults::Injector>,
    output: Box<dyn Output>,
}

impl Writing<'_> {
    fn finish(mut self) -> Result<Option<faults::FaultRecord>, String> {
        let output = &mut self.output;
        let record = match self.injector.as_mut() {
            Some(injector) => Some(injector.finish(&mut |_| {})?),
            None => None,
        };
        output.finish().map_err(|e| e.to_string())?;
        Ok(record)
    }
}

impl Sink for Writing<'_> {
    fn open(&mut self, id: usize, endpoints: &Endpoints) {
        let counted = self.census.connections.get(id).map_or(0, |c| c.segments);
        let extra = self.extra.as_ref().and_then(|e| e.get(id).copied()).unwrap_or(0);
        let rank = self.ranks.get(id).copied().unwrap_or(id);
        self.output.open(id, endpoints, rank, counted + extra);
    }

    fn frame(&mut self, id: usize, time_us: u64, direction: Direction, frame: &Frame) {
        let segment = Segment::of(time_us, direction, frame);
        let output = &mut self.output;
        let mut settled = time_us;
        match (self.injector.as_mut(), self.census.connections.get(id)) {
            (Some(injector), Some(counted)) => {
                injector.pass(id, &counted.endpoints, segment, &mut |s| output.segment(id, &s));
                settled = settled.min(injector.holding_since().unwrap_or(u64::MAX));
            }
            _ => output.segment(id, &segment),
        }
        output.settled(settled);
    }
}
