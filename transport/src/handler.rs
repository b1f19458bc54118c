//! What the server does with a request.

use raftwire_codec::*;

/// Answers requests. Called at most once per request id, however often a client retries it.
pub trait Handler: Send + Sync + 'static {
    /// The response to `request` (a typed response, or `Message::Error`).
    fn handle(&self, request: &Frame) -> Message;
}

/// A stand-in Raft peer: grants votes, accepts entries and snapshot chunks, and answers with
/// values derived from the request, so a test can check each response belongs to its request.
#[derive(Debug, Default)]
pub struct MemoryHandler;

impl Handler for MemoryHandler {
    fn handle(&self, request: &Frame) -> Message {
        match &request.message {
            Message::RequestVote(r) => Message::RequestVoteResponse(RequestVoteResponse {
                term: r.term,
                granted: true,
            }),
            Message::AppendEntries(r) => Message::AppendEntriesResponse(AppendEntriesResponse {
                term: r.term,
                success: true,
                last_log_index: r.entries.last().map_or(r.prev_log_index, |e| e.index),
                conflict_index: 0,
                conflict_term: 0,
            }),
            Message::InstallSnapshot(r) => Message::InstallSnapshotResponse(InstallSnapshotResponse {
                term: r.term,
                success: true,
                bytes_stored: r.offset + r.data.len() as u64,
            }),
            Message::TimeoutNow(r) => Message::TimeoutNowResponse(TimeoutNowResponse {
                term: r.term,
                success: true,
            }),
            _ => Message::Error(ErrorResponse {
                code: ErrorResponseCode::Unsupported,
                message: "not a request".into(),
            }),
        }
    }
}
