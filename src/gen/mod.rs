//! `raftwire gen`: synthetic, deterministic cluster traffic with optional injected faults.

mod cluster;
mod faults;
mod pcap;
mod traffic;

use std::path::Path;

pub use faults::Fault;
use raftwire_conformance::Direction;

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
    let mut traffic = cluster::simulate(seed, rounds);
    let injected = fault.map(|f| faults::inject(&mut traffic, f, seed)).transpose()?;
    let faults_text = |record: &faults::FaultRecord| {
        serde_json::to_string_pretty(&[record])
            .map(|t| t + "\n")
            .map_err(|e| e.to_string())
    };
    if out.extension().is_some_and(|e| e == "pcap") {
        let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let mut w = std::io::BufWriter::new(file);
        pcap::write(&traffic, &mut w)
            .and_then(|()| std::io::Write::flush(&mut w))
            .map_err(|e| format!("{}: {e}", out.display()))?;
        let mut faults = None;
        if let Some(record) = injected {
            let path = out.with_extension("faults.json");
            std::fs::write(&path, faults_text(&record)?).map_err(|e| format!("{}: {e}", path.display()))?;
            faults = Some(path);
        }
        return Ok(Written {
            connections: traffic.connections.len(),
            faults,
        });
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for c in &traffic.connections {
        eprintln!(
            "{}: {} -> {}, {} segments",
            c.name,
            c.client,
            c.server,
            c.segments.len()
        );
        for (dir, suffix) in [(Direction::ClientToServer, "c2s"), (Direction::ServerToClient, "s2c")] {
            let path = out.join(format!("{}.{suffix}.bin", c.name));
            std::fs::write(&path, c.stream(dir)).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let mut faults = None;
    if let Some(record) = injected {
        let path = out.join("faults.json");
        std::fs::write(&path, faults_text(&record)?).map_err(|e| format!("{}: {e}", path.display()))?;
        faults = Some(path);
    }
    Ok(Written {
        connections: traffic.connections.len(),
        faults,
    })
}
