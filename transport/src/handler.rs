//! What the server does with a request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use raftwire_codec::*;

/// Answers requests. Called at most once per request id, however often a client retries it.
pub trait Handler: Send + Sync + 'static {
    /// The response to `request` (a typed response, or `Message::Error`).
    fn handle(&self, request: &Frame) -> Message;
}

/// The answer an [`AsyncHandler`] will give.
pub type Answer = Pin<Box<dyn Future<Output = Message> + Send + 'static>>;

/// A [`Handler`] whose answers take waiting for (a Raft library's RPC entry points are async).
/// Same contract: called at most once per request id.
pub trait AsyncHandler: Send + Sync + 'static {
    /// The response to `request`, when it is ready.
    fn handle(&self, request: Frame) -> Answer;
}

/// A [`Handler`] seen as an [`AsyncHandler`] whose answers are ready at once.
pub(crate) struct Ready(pub(crate) Arc<dyn Handler>);

impl AsyncHandler for Ready {
    fn handle(&self, request: Frame) -> Answer {
        let answer = self.0.handle(&request);
        Box::pin(std::future::ready(answer))
    }
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
