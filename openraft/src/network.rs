//! The client side: openraft's `RaftNetworkFactory` and `RaftNetwork` over raftwire-transport.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, RPCError, RaftError, ReplicationClosed, StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, SnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, OptionalSend, Snapshot, Vote};
use raftwire_codec as rfw;
use raftwire_codec::Message;
use raftwire_transport::{Client, ClientConfig, TransportError};

use crate::convert::*;
use crate::data::{DataCodec, Json};
use crate::RfwTypes;

/// Default snapshot chunk size: well under RFW/1's 16 MiB default payload limit.
pub const DEFAULT_CHUNK: usize = 1 << 20;

/// Makes an [`RfwNetwork`] per target node. Connections are kept per address and shared by
/// every network made for it.
pub struct RfwNetworkFactory<C: RfwTypes, K: DataCodec<C::D> = Json> {
    clients: Arc<Mutex<HashMap<String, Arc<Client>>>>,
    config: ClientConfig,
    codec: Arc<K>,
    chunk: usize,
    _types: PhantomData<fn() -> C>,
}

/// A clone shares the connections (and their statistics).
impl<C: RfwTypes, K: DataCodec<C::D>> Clone for RfwNetworkFactory<C, K> {
    fn clone(&self) -> Self {
        RfwNetworkFactory {
            clients: self.clients.clone(),
            config: self.config.clone(),
            codec: self.codec.clone(),
            chunk: self.chunk,
            _types: PhantomData,
        }
    }
}

impl<C: RfwTypes, K: DataCodec<C::D> + Default> Default for RfwNetworkFactory<C, K> {
    fn default() -> Self {
        RfwNetworkFactory::new(ClientConfig::default(), K::default())
    }
}

impl<C: RfwTypes, K: DataCodec<C::D>> RfwNetworkFactory<C, K> {
    /// A factory whose connections use `config` and whose commands cross as `codec` says.
    pub fn new(config: ClientConfig, codec: K) -> Self {
        RfwNetworkFactory {
            clients: Arc::default(),
            config,
            codec: Arc::new(codec),
            chunk: DEFAULT_CHUNK,
            _types: PhantomData,
        }
    }

    /// Snapshot chunks of at most `bytes` bytes (at least 1).
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk = bytes.max(1);
        self
    }

    /// The transport client for `addr`, for statistics (attempts, failures) in tests and logs.
    pub fn client(&self, addr: &str) -> Option<Arc<Client>> {
        self.clients.lock().ok()?.get(addr).cloned()
    }
}

impl<C: RfwTypes, K: DataCodec<C::D>> RaftNetworkFactory<C> for RfwNetworkFactory<C, K> {
    type Network = RfwNetwork<C, K>;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Self::Network {
        let client = node.addr.parse::<SocketAddr>().ok().and_then(|addr| {
            let mut clients = self.clients.lock().ok()?;
            Some(
                clients
                    .entry(node.addr.clone())
                    .or_insert_with(|| Arc::new(Client::new(addr, self.config.clone())))
                    .clone(),
            )
        });
        RfwNetwork {
            target,
            addr: node.addr.clone(),
            client,
            codec: self.codec.clone(),
            chunk: self.chunk,
            per_command: 0,
            _types: PhantomData,
        }
    }
}

/// The network to one target node.
pub struct RfwNetwork<C: RfwTypes, K: DataCodec<C::D> = Json> {
    target: u64,
    addr: String,
    client: Option<Arc<Client>>,
    codec: Arc<K>,
    chunk: usize,
    /// Bytes a command took in the last Append: the next one's buffer is sized from it.
    per_command: usize,
    _types: PhantomData<fn() -> C>,
}

/// Why an RPC got no usable answer, before it is put in openraft's error types.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("node {0}'s address {1:?} is not an IP address and port")]
    BadAddress(u64, String),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("node {node} answered with an Error: {code:?} {message}")]
    Remote {
        node: u64,
        code: rfw::ErrorResponseCode,
        message: String,
    },
    #[error("node {node} answered a {request} with a {response}")]
    WrongAnswer {
        node: u64,
        request: &'static str,
        response: &'static str,
    },
    #[error("{0}")]
    Refused(String),
}

impl CallError {
    /// Worth waiting before the next attempt (openraft backs off) rather than retrying at once:
    /// no answer, or a node that says it cannot answer now (shutting down, overloaded).
    fn unreachable(&self) -> bool {
        matches!(
            self,
            CallError::BadAddress(..)
                | CallError::Transport(_)
                | CallError::Remote {
                    code: rfw::ErrorResponseCode::Unavailable | rfw::ErrorResponseCode::Overloaded,
                    ..
                }
        )
    }
}

fn rpc_error<E: std::error::Error>(e: CallError) -> RPCError<u64, BasicNode, E> {
    if e.unreachable() {
        RPCError::Unreachable(Unreachable::new(&e))
    } else {
        RPCError::Network(NetworkError::new(&e))
    }
}

impl<C: RfwTypes, K: DataCodec<C::D>> RfwNetwork<C, K> {
    async fn call(&self, message: Message, ttl: std::time::Duration) -> Result<Message, CallError> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| CallError::BadAddress(self.target, self.addr.clone()))?;
        let frame = match tokio::time::timeout(ttl, client.call(message)).await {
            Ok(r) => r?,
            Err(_) => return Err(CallError::Transport(TransportError::Timeout)),
        };
        match frame.message {
            Message::Error(e) => Err(CallError::Remote {
                node: self.target,
                code: e.code,
                message: e.message,
            }),
            m => Ok(m),
        }
    }

    fn wrong(&self, request: &'static str, response: &Message) -> CallError {
        CallError::WrongAnswer {
            node: self.target,
            request,
            response: response.message_type().name(),
        }
    }
}

impl<C: RfwTypes, K: DataCodec<C::D>> RaftNetwork<C> for RfwNetwork<C, K> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let entries = entries_to(&rpc.entries, self.codec.as_ref(), &mut self.per_command)
            .map_err(|e| rpc_error(CallError::Refused(e)))?;
        let message = Message::Append(rfw::AppendRequest {
            vote: vote_to(&rpc.vote),
            prev_log_id: opt_to(&rpc.prev_log_id),
            leader_commit: opt_to(&rpc.leader_commit),
            entries,
        });
        match self.call(message, option.hard_ttl()).await.map_err(rpc_error)? {
            Message::AppendResponse(r) => Ok(append_response_from(r)),
            other => Err(rpc_error(self.wrong("Append", &other))),
        }
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<C>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>> {
        // openraft 0.9 sends snapshots through `full_snapshot`, implemented below; its default
        // chunking through this method cannot say the snapshot's total size, which RFW/1 checks
        // every chunk against (IS-1, IS-2).
        Err(rpc_error(CallError::Refused(
            "raftwire-openraft sends whole snapshots (full_snapshot), not openraft's chunks".into(),
        )))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let message = Message::Vote(rfw::VoteRequest {
            vote: vote_to(&rpc.vote),
            last_log_id: opt_to(&rpc.last_log_id),
        });
        match self.call(message, option.hard_ttl()).await.map_err(rpc_error)? {
            Message::VoteResponse(r) => Ok(VoteResponse {
                vote: vote_from(r.vote),
                vote_granted: r.granted,
                last_log_id: opt_from(r.last_log_id),
            }),
            other => Err(rpc_error(self.wrong("Vote", &other))),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<u64>,
        snapshot: Snapshot<C>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<C, Fatal<u64>>> {
        let data = Bytes::from(snapshot.snapshot.into_inner());
        let total = data.len() as u64;
        let snapshot_id = snapshot.meta.snapshot_id.clone();
        let mut meta = Some(meta_to(&snapshot.meta));
        let send = async {
            let mut offset = 0usize;
            loop {
                let end = (offset + self.chunk).min(data.len());
                let chunk = rfw::SnapshotChunk {
                    vote: vote_to(&vote),
                    total_size: total,
                    offset: offset as u64,
                    done: end == data.len(),
                    snapshot_id: snapshot_id.clone(),
                    meta: meta.take(),
                    data: data.slice(offset..end),
                };
                let done = chunk.done;
                let answer = self.call(Message::Snapshot(Box::new(chunk)), option.hard_ttl()).await?;
                let Message::SnapshotResponse(r) = answer else {
                    return Err(self.wrong("Snapshot", &answer));
                };
                let theirs = vote_from(r.vote);
                // A follower whose vote is newer refuses the leader: stop sending.
                if done || theirs > vote {
                    return Ok(SnapshotResponse::new(theirs));
                }
                offset = end;
            }
        };
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            sent = send => sent.map_err(|e| if e.unreachable() {
                StreamingError::Unreachable(Unreachable::new(&e))
            } else {
                StreamingError::Network(NetworkError::new(&e))
            }),
        }
    }
}
