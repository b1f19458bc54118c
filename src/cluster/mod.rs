//! The cluster view: what the connections of a capture say together about its nodes, their
//! releases, leaders, elections and the failures between them. Connections are judged one by
//! one elsewhere; this module only reads what they contributed ([`Trace`]), so it knows nothing
//! of packets, reassembly or the command line.

mod findings;
pub mod latency;
pub mod model;
mod nodes;
pub mod said;
pub mod trace;

use std::collections::BinaryHeap;

pub use model::{Cluster, Options};
pub use trace::Trace;

use crate::report::{keep_first, Order, Ranked};

/// Most connections the model takes in, in report order; the rest are counted in its notes.
/// A finished trace costs about half a KiB (a few KiB for a connection with many events), so this
/// keeps the model within about 20 MiB whatever the capture (tests/memory.rs).
pub const MAX_TRACES: usize = 30_000;

/// Traces as connections finish, bounded like the connection reports: the first [`MAX_TRACES`] in
/// report order are kept, whatever the number of threads.
#[derive(Default)]
pub struct Traces {
    kept: BinaryHeap<Ranked<Trace>>,
    dropped: u64,
}

impl Traces {
    pub fn push(&mut self, order: Order, mut t: Trace) {
        t.compact();
        if keep_first(&mut self.kept, Ranked(order, t), MAX_TRACES).is_some() {
            self.dropped += 1;
        }
    }

    pub fn merge(&mut self, other: Traces, order: impl Fn(Order) -> Order) {
        self.dropped += other.dropped;
        for Ranked(o, t) in other.kept {
            self.push(order(o), t);
        }
    }

    /// The traces in report order, and how many were left out.
    pub fn finish(self) -> (Vec<Trace>, u64) {
        let mut v = self.kept.into_vec();
        v.sort_unstable();
        (v.into_iter().map(|Ranked(_, t)| t).collect(), self.dropped)
    }
}

/// Per trace, the nodes at its (client, server) ends, by address.
pub type Ends = Vec<(Option<String>, Option<String>)>;

/// Builds the cluster model of one capture whose last packet came `end` seconds after its first:
/// the model, the traces it was built from in report order, and their ends.
pub fn build(traces: Traces, end: f64, opts: Options) -> (Cluster, Vec<Trace>, Ends) {
    let (traces, dropped) = traces.finish();
    let mut notes = Vec::new();
    if dropped > 0 {
        notes.push(format!(
            "{dropped} connection(s) past the first {MAX_TRACES} are not part of the cluster model (memory bound)"
        ));
    }
    let (cluster, nodes) = model::build(&traces, end, opts, notes);
    let ends = nodes
        .ends
        .iter()
        .map(|(c, s)| {
            (
                c.map(|c| nodes.list[c].address.clone()),
                s.map(|s| nodes.list[s].address.clone()),
            )
        })
        .collect();
    (cluster, traces, ends)
}
