//! Generated traffic as the simulation hands it out: connections opened, then frames in time
//! order, to a [`Sink`] that writes (or counts) them as they come, so nothing holds the whole
//! capture (a 570 MB capture once took 863 MiB to generate).

use raftwire_codec::Frame;
use raftwire_conformance::Direction;

/// One TCP connection's name and endpoints.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub name: String,
    pub client: String,
    pub server: String,
}

/// Bytes one side wrote at one moment.
#[derive(Debug, Clone)]
pub struct Segment {
    pub time_us: u64,
    pub direction: Direction,
    pub bytes: Vec<u8>,
}

impl Segment {
    /// The frame's encoding as one segment.
    pub fn of(time_us: u64, direction: Direction, frame: &Frame) -> Segment {
        let bytes = frame
            .to_bytes()
            .map(|b| b.to_vec())
            .unwrap_or_else(|e| unreachable!("generated frames are valid: {e}"));
        Segment {
            time_us,
            direction,
            bytes,
        }
    }
}

/// Where the simulation's traffic goes. Connections are numbered from 0 in order of first use;
/// frames arrive in time order across the whole capture. A sink keeps its first error to itself
/// (reported by its own `finish`), so the simulation needs no error path.
pub trait Sink {
    /// Connection `id` is used for the first time.
    fn open(&mut self, id: usize, endpoints: &Endpoints);
    /// One side of connection `id` wrote `frame` at `time_us`.
    fn frame(&mut self, id: usize, time_us: u64, direction: Direction, frame: &Frame);
}
