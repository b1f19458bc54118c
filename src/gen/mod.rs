//! `raftwire gen`: synthetic, deterministic cluster traffic with optional injected faults.

mod cluster;
mod faults;
mod traffic;

use std::path::Path;

pub use faults::Fault;
use raftwire_conformance::Direction;

/// How many replication rounds the generated cluster runs.
const ROUNDS: usize = 24;

/// Writes `NAME.c2s.bin` / `NAME.s2c.bin` per connection (and `faults.json` when a fault was
/// injected) into `out`. Returns the number of connections written.
pub fn write_raw(seed: u64, fault: Option<Fault>, out: &Path) -> Result<usize, String> {
    let mut traffic = cluster::simulate(seed, ROUNDS);
    let injected = fault.map(|f| faults::inject(&mut traffic, f, seed)).transpose()?;
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
    if let Some(record) = injected {
        let path = out.join("faults.json");
        let text = serde_json::to_string_pretty(&[record]).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(traffic.connections.len())
}
