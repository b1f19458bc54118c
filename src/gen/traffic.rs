//! Generated traffic: connections as timed segments per direction, written as raw streams (and,
//! later, as packet captures).

use raftwire_codec::Frame;
use raftwire_conformance::Direction;

/// Bytes one side wrote at one moment.
#[derive(Debug, Clone)]
pub struct Segment {
    pub time_us: u64,
    pub direction: Direction,
    pub bytes: Vec<u8>,
}

/// One TCP connection.
#[derive(Debug, Clone)]
pub struct Connection {
    pub name: String,
    pub client: String,
    pub server: String,
    pub segments: Vec<Segment>,
}

impl Connection {
    pub fn push(&mut self, time_us: u64, direction: Direction, frame: &Frame) {
        let bytes = frame
            .to_bytes()
            .map(|b| b.to_vec())
            .unwrap_or_else(|e| unreachable!("generated frames are valid: {e}"));
        self.segments.push(Segment {
            time_us,
            direction,
            bytes,
        });
    }

    /// One direction's whole stream.
    pub fn stream(&self, direction: Direction) -> Vec<u8> {
        self.segments
            .iter()
            .filter(|s| s.direction == direction)
            .flat_map(|s| s.bytes.iter().copied())
            .collect()
    }

    /// Offsets of each segment within its direction's stream, in segment order.
    pub fn offsets(&self) -> Vec<u64> {
        let mut next = [0u64; 2];
        self.segments
            .iter()
            .map(|s| {
                let slot = &mut next[s.direction as usize];
                let at = *slot;
                *slot += s.bytes.len() as u64;
                at
            })
            .collect()
    }
}

/// A whole capture's worth of connections.
#[derive(Debug, Clone)]
pub struct Traffic {
    pub connections: Vec<Connection>,
}
