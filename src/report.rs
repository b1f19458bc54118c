//! The validation report: one model, rendered as text, JSON or JUnit. The JSON field names are a
//! documented, stable schema (README "JSON report"); add fields, never rename them.

use std::collections::BTreeMap;

use serde::Serialize;

/// The whole report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub summary: Summary,
    pub connections: Vec<ConnectionReport>,
    /// One entry per pcap/pcapng input: what it held besides the connections reported.
    pub captures: Vec<CaptureReport>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct CaptureReport {
    pub file: String,
    pub packets: u64,
    /// Packets that are not TCP (or not IP), ignored.
    pub not_tcp: u64,
    /// IP fragments, ignored (no IP defragmentation).
    pub fragments: u64,
    /// Packets too short for the headers they claim.
    pub malformed: u64,
    /// Packets cut by the capture's snap length (their missing bytes show up as gaps).
    pub truncated_packets: u64,
    /// TCP packets on ports other than `--port`.
    pub other_ports: u64,
    /// TCP connections that carried data but no RFW/1 frame (other protocols), not reported.
    pub ignored_connections: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// No MUST-level violation (and, with `--strict`, no SHOULD-level one).
    pub conforming: bool,
    pub connections: usize,
    pub frames: u64,
    /// Violations that count against conformance (informational notes excluded).
    pub violations: usize,
    pub bytes_skipped: u64,
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
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Directions {
    pub client_to_server: DirectionReport,
    pub server_to_client: DirectionReport,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct DirectionReport {
    pub bytes: u64,
    pub frames: u64,
    pub frames_by_type: BTreeMap<String, u64>,
    pub bytes_skipped: u64,
    pub violations: Vec<Violation>,
    /// Violations beyond the per-direction cap, counted but not listed.
    pub violations_omitted: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// Byte offset within this direction's stream.
    pub offset: u64,
    pub code: String,
    pub requirement: String,
    /// `MUST`, `SHOULD` or `INFO`.
    pub level: String,
    pub message: String,
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
    /// Counts against conformance at this strictness.
    pub fn fails(&self, strict: bool) -> bool {
        self.level == "MUST" || (strict && self.level == "SHOULD")
    }
}

impl Report {
    /// Fills in the summary from the connections.
    pub fn summarise(&mut self, strict: bool) {
        let dirs = || {
            self.connections
                .iter()
                .flat_map(|c| [&c.directions.client_to_server, &c.directions.server_to_client])
        };
        let violations = dirs()
            .flat_map(|d| d.violations.iter())
            .filter(|v| v.fails(strict))
            .count();
        self.summary = Summary {
            conforming: violations == 0,
            connections: self.connections.len(),
            frames: dirs().map(|d| d.frames).sum(),
            violations,
            bytes_skipped: dirs().map(|d| d.bytes_skipped).sum(),
        };
    }
}
