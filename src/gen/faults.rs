//! Injected faults, each recorded with where it was injected and where (and as what) a validator
//! must report it, so tests can assert exact offsets.

use clap::ValueEnum;
use raftwire_codec::craft::RawFrame;
use raftwire_conformance::Direction;
use serde::Serialize;

use super::cluster::Rng;
use super::traffic::{Segment, Traffic};

/// A fault `raftwire gen --fault` can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Fault {
    /// One bit of one frame's payload flipped in transit.
    BitFlip,
    /// A frame whose type byte names no message (with a valid header CRC: a buggy or newer peer).
    UnknownType,
    /// Two writers sharing the connection without a lock: one frame cut by another.
    Interleave,
}

/// Where a fault went and how it must be reported.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    pub fault: String,
    pub connection: String,
    /// The connection's endpoints as they appear in a generated pcap.
    pub client: String,
    pub server: String,
    pub direction: String,
    /// Offset of the first byte the fault changed.
    pub injected_at: u64,
    /// Offset of the damaged frame's first byte.
    pub frame_offset: u64,
    /// The error a validator must report first, and where.
    pub code: String,
    pub reported_at: u64,
}

/// Injects `fault` into the busiest request direction of the traffic.
pub fn inject(traffic: &mut Traffic, fault: Fault, seed: u64) -> Result<FaultRecord, String> {
    let mut rng = Rng::new(seed ^ 0xFA17);
    let conn = traffic
        .connections
        .iter_mut()
        .max_by_key(|c| {
            c.segments
                .iter()
                .filter(|s| s.direction == Direction::ClientToServer)
                .count()
        })
        .ok_or("no traffic to inject a fault into")?;
    let offsets = conn.offsets();
    let requests: Vec<usize> = (0..conn.segments.len())
        .filter(|&i| conn.segments[i].direction == Direction::ClientToServer)
        .collect();
    if requests.len() < 3 {
        return Err("too little traffic to inject a fault into".into());
    }
    let pick = requests[1 + (rng.next() as usize) % (requests.len() - 2)];
    let frame_offset = offsets[pick];
    let record = |code: &str, injected: u64, reported: u64| FaultRecord {
        fault: format!("{fault:?}"),
        connection: conn.name.clone(),
        client: conn.client.clone(),
        server: conn.server.clone(),
        direction: Direction::ClientToServer.as_str().to_string(),
        injected_at: injected,
        frame_offset,
        code: code.to_string(),
        reported_at: reported,
    };
    let seg = &mut conn.segments[pick];
    let len = seg.bytes.len() as u64;
    match fault {
        Fault::BitFlip => {
            let at = 24 + (rng.next() as usize) % (seg.bytes.len() - 28);
            seg.bytes[at] ^= 1 << (rng.next() % 8);
            Ok(record(
                "payload_crc_mismatch",
                frame_offset + at as u64,
                frame_offset + len - 4,
            ))
        }
        Fault::UnknownType => {
            let mut raw = RawFrame::parse(&seg.bytes).ok_or("frame too short")?.reseal();
            raw.message_type = 0x05;
            seg.bytes = raw.bytes();
            Ok(record("unknown_type", frame_offset + 5, frame_offset + 5))
        }
        Fault::Interleave => {
            // The next request's bytes land inside this one's payload.
            let next = requests
                .iter()
                .copied()
                .find(|&i| i > pick)
                .ok_or("no second request")?;
            let other = conn.segments.remove(next);
            let seg = &mut conn.segments[pick];
            let cut = 24 + (rng.next() as usize) % (seg.bytes.len() - 28);
            let tail = seg.bytes.split_off(cut);
            let time_us = seg.time_us;
            conn.segments.insert(
                pick + 1,
                Segment {
                    time_us,
                    direction: other.direction,
                    bytes: other.bytes,
                },
            );
            conn.segments.insert(
                pick + 2,
                Segment {
                    time_us,
                    direction: Direction::ClientToServer,
                    bytes: tail,
                },
            );
            Ok(record(
                "payload_crc_mismatch",
                frame_offset + cut as u64,
                frame_offset + len - 4,
            ))
        }
    }
}
