//! Injected faults, each recorded with where it was injected and where (and as what) a validator
//! must report it, so tests can assert exact offsets.

use clap::ValueEnum;
use raftwire_codec::craft::RawFrame;
use raftwire_conformance::Direction;
use serde::Serialize;

use super::census::Census;
use super::cluster::Rng;
use super::traffic::{Endpoints, Segment};

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

/// Where a fault goes: the `request`-th request (from 0) of connection `connection`, the
/// busiest request direction of the traffic (the last of the busiest in name order), never its
/// first or last request.
pub struct Plan {
    fault: Fault,
    rng: Rng,
    connection: usize,
    request: usize,
}

impl Plan {
    /// Places `fault` in the traffic `census` counted.
    pub fn new(census: &Census, fault: Fault, seed: u64) -> Result<Plan, String> {
        let mut rng = Rng::new(seed ^ 0xFA17);
        let connection = census
            .by_name()
            .into_iter()
            .max_by_key(|&id| census.connections[id].requests)
            .ok_or("no traffic to inject a fault into")?;
        let requests = census.connections[connection].requests;
        if requests < 3 {
            return Err("too little traffic to inject a fault into".into());
        }
        let request = 1 + (rng.next() as usize) % (requests - 2);
        Ok(Plan {
            fault,
            rng,
            connection,
            request,
        })
    }

    /// How many segments the fault adds to its connection: an interleaved request is cut in two.
    pub fn extra_segments(&self, connection: usize) -> usize {
        usize::from(connection == self.connection && self.fault == Fault::Interleave)
    }
}

/// A request cut by the next one, waiting for it: its head and tail, and the responses that
/// came in between (they follow the tail, as they followed the request).
struct Held {
    head: Segment,
    tail: Segment,
    between: Vec<Segment>,
}

/// Puts a planned fault into the traffic as it streams past, and records it.
pub struct Injector {
    plan: Plan,
    /// Requests seen on the planned connection, and their bytes so far (the next one's offset).
    requests: usize,
    offset: u64,
    held: Option<Held>,
    record: Option<FaultRecord>,
}

impl Injector {
    pub fn new(plan: Plan) -> Injector {
        Injector {
            plan,
            requests: 0,
            offset: 0,
            held: None,
            record: None,
        }
    }

    /// The earliest time of a segment held back, if any: nothing before it can be settled.
    pub fn holding_since(&self) -> Option<u64> {
        self.held.as_ref().map(|h| h.head.time_us)
    }

    /// Passes `segment` of connection `id` on to `out`, changed, held or as it is.
    pub fn pass(&mut self, id: usize, endpoints: &Endpoints, mut segment: Segment, out: &mut dyn FnMut(Segment)) {
        if id != self.plan.connection {
            return out(segment);
        }
        if let Some(held) = self.held.as_mut() {
            if segment.direction != Direction::ClientToServer {
                return held.between.push(segment);
            }
            if let Some(held) = self.held.take() {
                // The next request's bytes land inside the held one's payload.
                out(held.head);
                segment.time_us = held.tail.time_us;
                out(segment);
                out(held.tail);
                held.between.into_iter().for_each(&mut *out);
            }
            return;
        }
        if segment.direction != Direction::ClientToServer {
            return out(segment);
        }
        let (nth, frame_offset) = (self.requests, self.offset);
        self.requests += 1;
        self.offset += segment.bytes.len() as u64;
        if nth != self.plan.request {
            return out(segment);
        }
        let fault = self.plan.fault;
        let len = segment.bytes.len() as u64;
        // 24-byte header, 4-byte trailer: a place inside the payload.
        let inside = (segment.bytes.len().saturating_sub(28)).max(1);
        let record = |code: &str, injected: u64, reported: u64| FaultRecord {
            fault: format!("{fault:?}"),
            connection: endpoints.name.clone(),
            client: endpoints.client.clone(),
            server: endpoints.server.clone(),
            direction: Direction::ClientToServer.as_str().to_string(),
            injected_at: injected,
            frame_offset,
            code: code.to_string(),
            reported_at: reported,
        };
        match fault {
            Fault::BitFlip => {
                let at = 24 + (self.plan.rng.next() as usize) % inside;
                if let Some(byte) = segment.bytes.get_mut(at) {
                    *byte ^= 1 << (self.plan.rng.next() % 8);
                }
                self.record = Some(record(
                    "payload_crc_mismatch",
                    frame_offset + at as u64,
                    frame_offset + len - 4,
                ));
                out(segment);
            }
            Fault::UnknownType => {
                if let Some(raw) = RawFrame::parse(&segment.bytes) {
                    let mut raw = raw.reseal();
                    raw.message_type = 0x05;
                    segment.bytes = raw.bytes();
                    self.record = Some(record("unknown_type", frame_offset + 5, frame_offset + 5));
                }
                out(segment);
            }
            Fault::Interleave => {
                let cut = (24 + (self.plan.rng.next() as usize) % inside).min(segment.bytes.len());
                let tail = Segment {
                    time_us: segment.time_us,
                    direction: Direction::ClientToServer,
                    bytes: segment.bytes.split_off(cut),
                };
                self.record = Some(record(
                    "payload_crc_mismatch",
                    frame_offset + cut as u64,
                    frame_offset + len - 4,
                ));
                self.held = Some(Held {
                    head: segment,
                    tail,
                    between: Vec::new(),
                });
            }
        }
    }

    /// At the end of the traffic: a request still waiting for the next one (there was none) is
    /// passed on whole, and the fault is reported as not injected.
    pub fn finish(&mut self, out: &mut dyn FnMut(Segment)) -> Result<FaultRecord, String> {
        if let Some(mut held) = self.held.take() {
            held.head.bytes.extend_from_slice(&held.tail.bytes);
            out(held.head);
            held.between.into_iter().for_each(&mut *out);
            return Err("no second request to interleave with".into());
        }
        self.record
            .take()
            .ok_or_else(|| "the fault found no frame to go into".into())
    }
}
