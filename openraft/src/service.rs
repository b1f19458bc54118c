//! The server side: decoded requests handed to openraft's `Raft`, its answers encoded.

use std::future::Future;
use std::io::Cursor;
use std::sync::{Arc, Mutex};

use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{Raft, Snapshot, Vote};
use raftwire_codec as rfw;
use raftwire_codec::{ErrorResponse, ErrorResponseCode, Frame, Message};
use raftwire_transport::{Answer, AsyncHandler};

use crate::convert::*;
use crate::data::{DataCodec, Json};
use crate::RfwTypes;

/// Largest snapshot a node accepts by default (1 GiB): what a transfer may hold in memory.
pub const DEFAULT_MAX_SNAPSHOT: u64 = 1 << 30;

/// A snapshot being received: the chunks so far, in order, and the first chunk's metadata.
struct Incoming {
    snapshot_id: String,
    total_size: u64,
    meta: rfw::SnapshotMeta,
    data: Vec<u8>,
}

/// The RPC entry points a [`RaftService`] hands requests to: openraft's [`Raft`], or anything that
/// answers as one (a benchmark's sink, a test's recorder). Errors are text for the Error answer.
pub trait RaftApi<C: RfwTypes>: Clone + Send + Sync + 'static {
    /// `Raft::vote`.
    fn vote(&self, rpc: VoteRequest<u64>) -> impl Future<Output = Result<VoteResponse<u64>, String>> + Send;
    /// `Raft::append_entries`.
    fn append_entries(
        &self,
        rpc: AppendEntriesRequest<C>,
    ) -> impl Future<Output = Result<AppendEntriesResponse<u64>, String>> + Send;
    /// `Raft::install_full_snapshot`.
    fn install_full_snapshot(
        &self,
        vote: Vote<u64>,
        snapshot: Snapshot<C>,
    ) -> impl Future<Output = Result<SnapshotResponse<u64>, String>> + Send;
    /// The node's vote now (the answer to a snapshot chunk before the last).
    fn current_vote(&self) -> Vote<u64>;
}

impl<C: RfwTypes> RaftApi<C> for Raft<C> {
    async fn vote(&self, rpc: VoteRequest<u64>) -> Result<VoteResponse<u64>, String> {
        Raft::vote(self, rpc).await.map_err(|e| e.to_string())
    }

    async fn append_entries(&self, rpc: AppendEntriesRequest<C>) -> Result<AppendEntriesResponse<u64>, String> {
        Raft::append_entries(self, rpc).await.map_err(|e| e.to_string())
    }

    async fn install_full_snapshot(
        &self,
        vote: Vote<u64>,
        snapshot: Snapshot<C>,
    ) -> Result<SnapshotResponse<u64>, String> {
        Raft::install_full_snapshot(self, vote, snapshot)
            .await
            .map_err(|e| e.to_string())
    }

    fn current_vote(&self) -> Vote<u64> {
        self.metrics().borrow().vote
    }
}

/// Serves one openraft node's RPCs: give it to `raftwire_transport::Server::start_async`.
pub struct RaftService<C: RfwTypes, K: DataCodec<C::D> = Json, R: RaftApi<C> = Raft<C>> {
    raft: R,
    _types: std::marker::PhantomData<fn() -> C>,
    codec: Arc<K>,
    max_snapshot: u64,
    /// One transfer at a time per node (a leader sends one snapshot at a time to a follower).
    incoming: Arc<Mutex<Option<Incoming>>>,
}

impl<C: RfwTypes, K: DataCodec<C::D> + Default, R: RaftApi<C>> RaftService<C, K, R> {
    /// Serves `raft`, commands decoded with `K`'s default.
    pub fn new(raft: R) -> Self {
        RaftService::with_codec(raft, K::default())
    }
}

impl<C: RfwTypes, K: DataCodec<C::D>, R: RaftApi<C>> RaftService<C, K, R> {
    /// Serves `raft`, commands decoded with `codec`.
    pub fn with_codec(raft: R, codec: K) -> Self {
        RaftService {
            raft,
            _types: std::marker::PhantomData,
            codec: Arc::new(codec),
            max_snapshot: DEFAULT_MAX_SNAPSHOT,
            incoming: Arc::default(),
        }
    }

    /// Refuses snapshots larger than `bytes`.
    pub fn with_max_snapshot(mut self, bytes: u64) -> Self {
        self.max_snapshot = bytes;
        self
    }
}

fn error(code: ErrorResponseCode, message: impl Into<String>) -> Message {
    Message::Error(ErrorResponse::cut(code, message))
}

impl<C: RfwTypes, K: DataCodec<C::D>, R: RaftApi<C>> AsyncHandler for RaftService<C, K, R> {
    fn handle(&self, request: Frame) -> Answer {
        let raft = self.raft.clone();
        let codec = self.codec.clone();
        let incoming = self.incoming.clone();
        let max_snapshot = self.max_snapshot;
        Box::pin(async move {
            match request.message {
                Message::Vote(v) => {
                    let req = VoteRequest::new(vote_from(v.vote), opt_from(v.last_log_id));
                    match raft.vote(req).await {
                        Ok(r) => Message::VoteResponse(rfw::VoteResponse {
                            vote: vote_to(&r.vote),
                            granted: r.vote_granted,
                            last_log_id: opt_to(&r.last_log_id),
                        }),
                        Err(e) => error(ErrorResponseCode::Unavailable, e),
                    }
                }
                Message::Append(a) => {
                    let entries = match entries_from::<C>(&a.entries, codec.as_ref()) {
                        Ok(e) => e,
                        Err(e) => return error(ErrorResponseCode::Malformed, format!("an entry's data: {e}")),
                    };
                    let req = AppendEntriesRequest {
                        vote: vote_from(a.vote),
                        prev_log_id: opt_from(a.prev_log_id),
                        leader_commit: opt_from(a.leader_commit),
                        entries,
                    };
                    match raft.append_entries(req).await {
                        Ok(r) => Message::AppendResponse(append_response_to(&r)),
                        Err(e) => error(ErrorResponseCode::Unavailable, e),
                    }
                }
                Message::Snapshot(chunk) => receive_chunk(&raft, &incoming, *chunk, max_snapshot).await,
                other => error(
                    ErrorResponseCode::Unsupported,
                    format!(
                        "an openraft node answers Vote, Append and Snapshot, not {}",
                        other.message_type()
                    ),
                ),
            }
        })
    }
}

/// Adds a chunk to the transfer in progress; installs the snapshot on the last one.
async fn receive_chunk<C: RfwTypes, R: RaftApi<C>>(
    raft: &R,
    incoming: &Mutex<Option<Incoming>>,
    chunk: rfw::SnapshotChunk,
    max_snapshot: u64,
) -> Message {
    let complete = {
        let Ok(mut slot) = incoming.lock() else {
            return error(ErrorResponseCode::Internal, "snapshot state poisoned");
        };
        if chunk.total_size > max_snapshot {
            *slot = None;
            return error(
                ErrorResponseCode::Overloaded,
                format!(
                    "snapshot of {} bytes exceeds this node's {max_snapshot}",
                    chunk.total_size
                ),
            );
        }
        if let Some(meta) = chunk.meta {
            // The first chunk (IS-3) starts a transfer, abandoning any other.
            *slot = Some(Incoming {
                snapshot_id: chunk.snapshot_id.clone(),
                total_size: chunk.total_size,
                meta,
                data: Vec::new(),
            });
        }
        let continues = slot.as_ref().is_some_and(|t| {
            t.snapshot_id == chunk.snapshot_id
                && t.total_size == chunk.total_size
                && t.data.len() as u64 == chunk.offset
        });
        if !continues {
            *slot = None;
            return error(
                ErrorResponseCode::Malformed,
                format!(
                    "chunk at {} of snapshot {:?} continues no transfer",
                    chunk.offset, chunk.snapshot_id
                ),
            );
        }
        let Some(transfer) = slot.as_mut() else {
            return error(ErrorResponseCode::Internal, "no transfer");
        };
        // Grows by what arrived, never by the claimed total (bounded above anyway).
        transfer.data.extend_from_slice(&chunk.data);
        if chunk.done {
            slot.take()
        } else {
            None
        }
    };
    let vote = vote_from(chunk.vote);
    match complete {
        None => Message::SnapshotResponse(rfw::SnapshotResponse {
            vote: vote_to(&raft.current_vote()),
        }),
        Some(t) => {
            let snapshot = Snapshot {
                meta: meta_from(t.meta, t.snapshot_id),
                snapshot: Box::new(Cursor::new(t.data)),
            };
            match raft.install_full_snapshot(vote, snapshot).await {
                Ok(r) => Message::SnapshotResponse(rfw::SnapshotResponse { vote: vote_to(&r.vote) }),
                Err(e) => error(ErrorResponseCode::Unavailable, e),
            }
        }
    }
}
