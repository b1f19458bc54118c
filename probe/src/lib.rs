//! # raftwire-probe
//!
//! A live conformance runner, in the line of h2spec, tlsfuzzer and Autobahn|Testsuite, for Raft
//! transports: it connects to a running node, sends each case's bytes on a fresh connection and
//! judges what the node does (answers, closes, resets, or says nothing) against the set of
//! outcomes the specification allows.
//!
//! - A [`Case`] is data: an id tied to a requirement, a level, the steps, the acceptable outcomes.
//!   A [`Dialect`] supplies the table and reads the node's answers; the runner has one code path.
//! - Before the first case, and twice for every case (while its connection is still open, then
//!   after it is closed), the runner makes a **sanity exchange** (a valid request the node must
//!   answer, on a new connection), so a case that hangs or kills the node is named, and
//!   `target_alive` says whether it survived the run.
//! - Requests carry stale terms, so a node refuses them without changing state; a case whose terms
//!   would not be stale for the node it meets is skipped unless the run is `disruptive`.
//! - [`fuzz`] sends mutations of valid requests instead, and [`record`] writes every connection as
//!   a pcapng capture that `raftwire validate` checks.
//!
//! Point it only at nodes you own: it sends malformed traffic on purpose.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod case;
mod exchange;
mod foreign;
pub mod fuzz;
pub mod hashicorp;
pub mod record;
pub mod report;
pub mod rfw;
mod runner;

pub use case::{Answer, Case, Expect, Level, Step};
pub use exchange::End;
pub use report::{CaseResult, Outcome, Report, Summary};
pub use runner::{run, select, Options, ProbeError, TraceSink};

/// An answer the node sent, as the dialect read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The request id it carries (RFW/1), `None` for dialects without ids.
    pub id: Option<u64>,
    /// Its kind (`AppendEntriesResponse`, `Error`).
    pub kind: String,
    /// The node's term, where the answer carries one.
    pub term: Option<u64>,
    /// An error answer (RFW/1 `Error`, a hashicorp/raft error string) rather than a typed one.
    pub error: bool,
    /// A short description for the report.
    pub detail: String,
}

/// A wire format the probe speaks.
pub trait Dialect {
    /// As in `--dialect` and case ids.
    fn name(&self) -> &'static str;

    /// The sanity request (carrying `request_id` where the dialect has ids) and the answer the
    /// node must give it. It must change no state on a node past its first term.
    fn sanity(&self, request_id: u64) -> (Vec<u8>, Answer);

    /// Every case, in the order they run.
    fn cases(&self) -> Vec<Case>;

    /// The complete answers in `received`, given what was `sent` on the same connection; an
    /// error (for the report) if the node's bytes break the dialect. `ended`: the node closed its
    /// side, so an answer cut short is an error rather than one still arriving.
    fn answers(&self, sent: &[u8], received: &[u8], ended: bool) -> Result<Vec<Seen>, String>;

    /// Valid requests that change nothing (stale terms), for `--fuzz` to mutate.
    fn fuzz_seeds(&self) -> Vec<Vec<u8>>;

    /// Repairs, after a mutation, what would stop the input at the first check (RFW/1: length
    /// and CRCs), most of the time: `seed` decides.
    fn repair(&self, _input: &mut [u8], _seed: u32) {}

    /// Whether a node at `node_term` might act on `input` in a way that changes its state: a
    /// request it could read with a term that is not stale, or one with no term to check. Best
    /// effort, erring towards yes; `--fuzz` sends such inputs only with `--disruptive`.
    fn may_disrupt(&self, input: &[u8], node_term: u64) -> bool;
}

/// The dialect named `name` (`rfw`, `hashicorp`).
pub fn dialect(name: &str) -> Option<Box<dyn Dialect>> {
    match name {
        "rfw" => Some(Box::new(rfw::Rfw)),
        "hashicorp" => Some(Box::new(hashicorp::Hashicorp)),
        _ => None,
    }
}
