//! # raftwire-transport
//!
//! A reference tokio transport for Raft RPCs over RFW/1, built on `raftwire-codec`'s
//! `tokio_util::codec::Framed` integration. It exists to prove the codec in a real transport and to
//! reproduce, end to end, the failure raftwire was built for: two RPCs writing to one connection
//! without coordination, and the clean recovery from it.
//!
//! - [`Server`] dispatches requests to a [`Handler`] and answers each with the request's id. It
//!   drops a connection on any decode error or stream-rule violation (SPEC.md RECV-1), recording
//!   the error code and offset, and executes each request id at most once (a retried RPC is
//!   answered from the first execution).
//! - [`Client`] sends RPCs with one of two [`Policy`]s: a connection per RPC (the isolation
//!   hashicorp/raft users fell back to), or one multiplexed connection whose responses are matched
//!   by request id (what RFW/1's request id makes safe). After any failure it retries the RPC, with
//!   the same request id, on a fresh dedicated connection, with bounded attempts and backoff.
//! - [`Follower`] is a small but real Raft follower (terms, votes, log matching, snapshots, no
//!   data kept), the node `raftwire serve` runs; [`MemoryHandler`] is a stand-in for tests.
//! - [`ClientConfig::interleave_writes`] is the fault: concurrent RPCs on the multiplexed
//!   connection write their frames in small pieces without a lock, so their bytes interleave.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod follower;
mod handler;
mod server;

pub use client::{Client, ClientConfig, ClientStats, ConnState, Policy, TransportError, WriteLog};
pub use follower::Follower;
pub use handler::{Answer, AsyncHandler, Handler, MemoryHandler};
pub use server::{Dropped, Server, ServerOptions, ServerStats};
