//! # raftwire-openraft
//!
//! An [openraft](https://docs.rs/openraft/0.9) network over RFW/1. openraft ships no wire format:
//! every application writes its own network, and hand-written ones have truncated payloads,
//! ignored chunk offsets and mis-sized messages (openraft issues #173, #1496, #951). This crate
//! is that network, strict: openraft's votes, log ids, entries (blank, normal, membership
//! including joint configurations and node addresses) and snapshots travel in the typed bodies of
//! RFW/1's leader-id family (`SPEC.md` §5.7), every frame checked on arrival, carried by
//! `raftwire-transport` (multiplexed or per-RPC connections, retries with the same request id,
//! an exactly-once server).
//!
//! - [`RfwNetworkFactory`] implements `RaftNetworkFactory` / `RaftNetwork` (0.9):
//!   `append_entries`, `vote`, and `full_snapshot` (the whole snapshot in chunks, so each chunk
//!   carries the total size RFW/1 checks).
//! - [`RaftService`] is the server side: a `raftwire_transport::AsyncHandler` that hands decoded
//!   requests to `Raft::append_entries`, `Raft::vote` and `Raft::install_full_snapshot` (any
//!   [`RaftApi`]: openraft's `Raft`, or a stand-in for tests and benchmarks), reassembling a
//!   snapshot from its chunks in memory (bounded, 1 GiB by default).
//! - [`memory`] is an in-memory node (log store, key-value state machine, server) for tests,
//!   examples and benchmarks.
//! - The application's command type crosses through a [`DataCodec`]; [`Json`] is the serde
//!   default.
//!
//! The type configuration must use openraft's defaults where RFW/1 is specific: `u64` node ids,
//! [`openraft::BasicNode`] (its address is what the network dials), [`openraft::Entry`] and an
//! in-memory `Cursor<Vec<u8>>` for snapshot data ([`RfwTypes`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod convert;
mod data;
pub mod memory;
mod network;
mod service;

pub use data::{DataCodec, Json};
pub use network::{RfwNetwork, RfwNetworkFactory};
pub use service::{RaftApi, RaftService};

/// What a type configuration must fix for the RFW/1 network: u64 node ids (the leader-id family
/// compares leader ids on the wire), [`openraft::BasicNode`], openraft's own entry type and
/// snapshots held in memory.
pub trait RfwTypes:
    openraft::RaftTypeConfig<
    NodeId = u64,
    Node = openraft::BasicNode,
    Entry = openraft::Entry<Self>,
    SnapshotData = std::io::Cursor<Vec<u8>>,
    AsyncRuntime = openraft::TokioRuntime,
>
{
}

impl<C> RfwTypes for C where
    C: openraft::RaftTypeConfig<
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<C>,
        SnapshotData = std::io::Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
    >
{
}
