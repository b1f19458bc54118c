//! The stream checker: `SPEC.md` §6 over one connection's two directions.

use std::collections::HashMap;

use bytes::Bytes;
use raftwire_codec::{Frame, Message, MessageType};

use crate::rules::{Level, StreamCode, MAX_IN_FLIGHT};

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// From the peer that opened the connection: requests.
    ClientToServer,
    /// From the peer that accepted it: responses.
    ServerToClient,
}

impl Direction {
    /// `client_to_server` or `server_to_client`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client_to_server",
            Direction::ServerToClient => "server_to_client",
        }
    }
}

/// A stream rule broken at a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamViolation {
    /// Direction the offending frame travelled in.
    pub direction: Direction,
    /// Offset of the offending frame within that direction's stream.
    pub offset: u64,
    /// What was broken.
    pub code: StreamCode,
    /// Specifics for a person.
    pub message: String,
}

impl StreamViolation {
    /// The rule's level.
    pub fn level(&self) -> Level {
        self.code.level()
    }
}

/// What the checker needs to remember of a frame (not its data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    /// Type.
    pub message_type: MessageType,
    /// Request id.
    pub request_id: u64,
    /// Term, except for Error.
    pub term: Option<u64>,
    /// For snapshot chunks (InstallSnapshot, Snapshot), the chunk's identity and position.
    pub chunk: Option<ChunkInfo>,
}

/// The identity and position of a snapshot chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkInfo {
    /// InstallSnapshot or Snapshot: a transfer is continued by chunks of its own type.
    pub message_type: MessageType,
    /// Snapshot id.
    pub snapshot_id: Bytes,
    /// Last included index (InstallSnapshot; 0 for Snapshot, whose first chunk alone says it).
    pub last_included_index: u64,
    /// Last included term (as the index).
    pub last_included_term: u64,
    /// Total size.
    pub total_size: u64,
    /// Offset of this chunk.
    pub offset: u64,
    /// Length of this chunk's data.
    pub len: u64,
    /// Last chunk.
    pub done: bool,
}

impl From<&Frame> for FrameInfo {
    fn from(f: &Frame) -> Self {
        let chunk = match &f.message {
            Message::Snapshot(s) => Some(ChunkInfo {
                message_type: MessageType::Snapshot,
                snapshot_id: Bytes::copy_from_slice(s.snapshot_id.as_bytes()),
                last_included_index: 0,
                last_included_term: 0,
                total_size: s.total_size,
                offset: s.offset,
                len: s.data.len() as u64,
                done: s.done,
            }),
            Message::InstallSnapshot(s) => Some(ChunkInfo {
                message_type: MessageType::InstallSnapshot,
                snapshot_id: s.snapshot_id.to_bytes(),
                last_included_index: s.last_included_index,
                last_included_term: s.last_included_term,
                total_size: s.total_size,
                offset: s.offset,
                len: s.data.len() as u64,
                done: s.done,
            }),
            _ => None,
        };
        FrameInfo {
            message_type: f.message_type(),
            request_id: f.request_id,
            term: f.message.term(),
            chunk,
        }
    }
}

#[derive(Debug, Clone)]
struct Outstanding {
    message_type: MessageType,
}

/// Checks the stream rules over one connection, fed frame by frame in the order they happened.
#[derive(Debug, Default)]
pub struct ConnectionChecker {
    outstanding: HashMap<u64, Outstanding>,
    snapshot_in_flight: Option<u64>,
    transfer: Option<ChunkInfo>,
    last_request_term: Option<u64>,
    last_response_term: Option<u64>,
    violations: Vec<StreamViolation>,
    /// Only one direction was captured: rules that pair requests with responses cannot be judged.
    one_sided: bool,
}

impl ConnectionChecker {
    /// A checker for a fresh connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// A checker for a connection of which only one direction was captured: it checks direction,
    /// chunk order and terms, and leaves alone every rule that needs the other direction.
    pub fn one_sided() -> Self {
        ConnectionChecker {
            one_sided: true,
            ..Self::default()
        }
    }

    /// True if a request with this id is outstanding.
    pub fn is_outstanding(&self, request_id: u64) -> bool {
        self.outstanding.contains_key(&request_id)
    }

    fn flag(&mut self, direction: Direction, offset: u64, code: StreamCode, message: String) {
        self.violations.push(StreamViolation {
            direction,
            offset,
            code,
            message,
        });
    }

    /// A frame in the client->server direction at `offset`.
    pub fn client_frame(&mut self, offset: u64, f: &FrameInfo) {
        let dir = Direction::ClientToServer;
        if f.message_type.is_response() {
            let msg = format!(
                "{} (request id {}) sent by the client: responses travel server->client only",
                f.message_type, f.request_id
            );
            self.flag(dir, offset, StreamCode::WrongDirection, msg);
            return;
        }
        if let Some(term) = f.term {
            if let Some(last) = self.last_request_term.filter(|&last| term < last) {
                let msg = format!("{} has term {term} after a request with term {last}", f.message_type);
                self.flag(dir, offset, StreamCode::RequestTermRegressed, msg);
            }
            self.last_request_term = Some(self.last_request_term.map_or(term, |l| l.max(term)));
        }
        if self.one_sided {
            if let Some(chunk) = &f.chunk {
                self.check_chunk_order(offset, chunk);
            }
            return;
        }
        if self.outstanding.contains_key(&f.request_id) {
            let msg = format!("request id {} is already outstanding", f.request_id);
            self.flag(dir, offset, StreamCode::DuplicateRequestId, msg);
            return;
        }
        if let Some(chunk) = &f.chunk {
            if let Some(prev) = self.snapshot_in_flight {
                let msg = format!("snapshot chunk sent while request {prev}'s chunk is unanswered");
                self.flag(dir, offset, StreamCode::SnapshotChunkInFlight, msg);
            }
            self.snapshot_in_flight = Some(f.request_id);
            self.check_chunk_order(offset, chunk);
        }
        self.outstanding.insert(
            f.request_id,
            Outstanding {
                message_type: f.message_type,
            },
        );
        if self.outstanding.len() == MAX_IN_FLIGHT + 1 {
            let msg = format!(
                "{} requests outstanding (more than {MAX_IN_FLIGHT})",
                self.outstanding.len()
            );
            self.flag(dir, offset, StreamCode::TooManyInFlight, msg);
        }
    }

    fn check_chunk_order(&mut self, offset: u64, c: &ChunkInfo) {
        let dir = Direction::ClientToServer;
        match (&self.transfer, c.offset) {
            (Some(t), 0) if !t.done => {
                let msg = format!(
                    "snapshot {:?} restarted at offset 0 while {:?} was at {} of {} bytes",
                    String::from_utf8_lossy(&c.snapshot_id),
                    String::from_utf8_lossy(&t.snapshot_id),
                    t.offset + t.len,
                    t.total_size
                );
                self.flag(dir, offset, StreamCode::SnapshotAbandoned, msg);
            }
            (_, 0) => {}
            (Some(t), _)
                if !t.done
                    && t.message_type == c.message_type
                    && t.snapshot_id == c.snapshot_id
                    && t.total_size == c.total_size
                    && t.last_included_index == c.last_included_index
                    && t.last_included_term == c.last_included_term
                    && t.offset + t.len == c.offset => {}
            (Some(t), _) => {
                let msg = if t.done {
                    format!("chunk at offset {} after the transfer finished", c.offset)
                } else if t.message_type != c.message_type
                    || t.snapshot_id != c.snapshot_id
                    || t.total_size != c.total_size
                    || t.last_included_index != c.last_included_index
                    || t.last_included_term != c.last_included_term
                {
                    format!(
                        "chunk of snapshot {:?} does not continue transfer {:?}",
                        String::from_utf8_lossy(&c.snapshot_id),
                        String::from_utf8_lossy(&t.snapshot_id)
                    )
                } else {
                    format!("chunk at offset {}, expected offset {}", c.offset, t.offset + t.len)
                };
                self.flag(dir, offset, StreamCode::SnapshotChunkOutOfOrder, msg);
            }
            (None, _) => {
                let msg = format!(
                    "chunk at offset {} with no transfer in progress (the first chunk has offset 0)",
                    c.offset
                );
                self.flag(dir, offset, StreamCode::SnapshotChunkOutOfOrder, msg);
            }
        }
        self.transfer = Some(c.clone());
    }

    /// A frame in the server->client direction at `offset`.
    pub fn server_frame(&mut self, offset: u64, f: &FrameInfo) {
        let dir = Direction::ServerToClient;
        if !f.message_type.is_response() {
            let msg = format!(
                "{} (request id {}) sent by the server: requests travel client->server only",
                f.message_type, f.request_id
            );
            self.flag(dir, offset, StreamCode::WrongDirection, msg);
            return;
        }
        if self.one_sided {
            self.check_response_term(offset, f);
            return;
        }
        let Some(req) = self.outstanding.remove(&f.request_id) else {
            let msg = format!(
                "{} for request id {}, which is not outstanding",
                f.message_type, f.request_id
            );
            self.flag(dir, offset, StreamCode::UnsolicitedResponse, msg);
            return;
        };
        if self.snapshot_in_flight == Some(f.request_id) {
            self.snapshot_in_flight = None;
        }
        if let Some(answers) = f.message_type.answers() {
            if answers != req.message_type {
                let msg = format!(
                    "{} answers request {}, a {}",
                    f.message_type, f.request_id, req.message_type
                );
                self.flag(dir, offset, StreamCode::ResponseTypeMismatch, msg);
            }
        }
        self.check_response_term(offset, f);
    }

    fn check_response_term(&mut self, offset: u64, f: &FrameInfo) {
        if let Some(term) = f.term {
            if let Some(last) = self.last_response_term.filter(|&last| term < last) {
                let msg = format!("{} has term {term} after a response with term {last}", f.message_type);
                self.flag(
                    Direction::ServerToClient,
                    offset,
                    StreamCode::ResponseTermRegressed,
                    msg,
                );
            }
            self.last_response_term = Some(self.last_response_term.map_or(term, |l| l.max(term)));
        }
    }

    /// The violations found since the last call, oldest first: a receiver enforcing the rules as
    /// frames arrive (a transport's server) takes them as it goes, so none accumulate.
    pub fn take_violations(&mut self) -> Vec<StreamViolation> {
        std::mem::take(&mut self.violations)
    }

    /// Ends the connection: outstanding requests are reported (STREAM-9, informational).
    /// `client_end` is the client direction's length, where they are reported.
    pub fn finish(mut self, client_end: u64) -> Vec<StreamViolation> {
        let mut ids: Vec<_> = self.outstanding.iter().map(|(id, o)| (*id, o.message_type)).collect();
        ids.sort();
        for (id, ty) in ids {
            let msg = format!("{ty} request id {id} was never answered");
            self.flag(
                Direction::ClientToServer,
                client_end,
                StreamCode::UnansweredAtClose,
                msg,
            );
        }
        self.violations
    }
}

/// Checks a connection whose directions were captured separately, without timing: responses are
/// matched lazily, reading requests only as far as needed for each response to find its request.
/// This is the most lenient order consistent with both streams, so every violation it reports
/// holds in every order the capture could have happened in.
pub fn check_untimed(
    client: &[(u64, FrameInfo)],
    server: &[(u64, FrameInfo)],
    client_end: u64,
) -> Vec<StreamViolation> {
    let mut checker = ConnectionChecker::new();
    let mut next = client.iter().peekable();
    for (offset, f) in server {
        if f.message_type.is_response() {
            while !checker.is_outstanding(f.request_id) {
                let Some((o, req)) = next.next() else { break };
                checker.client_frame(*o, req);
            }
        }
        checker.server_frame(*offset, f);
    }
    for (o, req) in next {
        checker.client_frame(*o, req);
    }
    let mut v = checker.finish(client_end);
    v.sort_by_key(|v| (v.direction, v.offset));
    v
}

/// Checks a single captured direction with [`ConnectionChecker::one_sided`].
pub fn check_one_direction(direction: Direction, frames: &[(u64, FrameInfo)]) -> Vec<StreamViolation> {
    let mut checker = ConnectionChecker::one_sided();
    for (offset, f) in frames {
        match direction {
            Direction::ClientToServer => checker.client_frame(*offset, f),
            Direction::ServerToClient => checker.server_frame(*offset, f),
        }
    }
    checker.finish(0)
}
