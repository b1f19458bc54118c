//! The cluster model a report shows (the JSON `cluster` object; its field names are a contract):
//! nodes with their release ranges, leaders by term, elections, leadership transfers, snapshots,
//! nodes that refused dials, and findings between nodes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::findings;
use super::nodes::{fmt, Nodes};
use super::trace::{EventKind, Trace};

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    /// Who led which term, in time order.
    pub leaders: Vec<Leader>,
    pub elections: Vec<Election>,
    pub leadership_transfers: Vec<Transfer>,
    pub snapshots: Vec<Snapshot>,
    /// Nodes that refused connections (SYN answered by RST).
    pub unreachable: Vec<Unreachable>,
    pub findings: Vec<Finding>,
    /// What the model could not see, one sentence each.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Node {
    /// Its listening address (or, for a node seen only dialing, the address it advertised).
    pub address: String,
    pub id: Option<String>,
    /// `hashicorp`, `rfw` (both, if it spoke both), as its connections were checked.
    pub dialects: Vec<String>,
    /// Its hashicorp/raft release, bracketed from what it wrote.
    pub release: ReleaseRange,
    /// The wire features the range is bracketed from, each with the connection that showed it.
    pub evidence: Vec<String>,
    /// `leader` (led some term), `candidate` (asked for votes).
    pub roles: Vec<String>,
    pub connections_accepted: u64,
    pub connections_dialed: u64,
    /// Seconds since the capture's first packet.
    pub first_seen: Option<f64>,
    pub last_seen: Option<f64>,
}

/// Inclusive bounds on a node's hashicorp/raft release; null where the evidence sets none.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ReleaseRange {
    pub min: Option<String>,
    pub max: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Leader {
    pub term: u64,
    pub node: Option<String>,
    /// Seconds since the capture's first packet.
    pub first_seen: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Election {
    pub term: u64,
    /// A pre-vote round (RequestPreVote), which changes no term.
    pub pre_vote: bool,
    pub candidate: Option<String>,
    pub first_seen: f64,
    /// Started by a leadership transfer (RequestVote `LeadershipTransfer`).
    pub leadership_transfer: bool,
    pub asked: Vec<String>,
    pub granted: Vec<String>,
    pub denied: Vec<String>,
    /// Asked, and no answer was captured (the connection closed, or the capture ended).
    pub unanswered: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Transfer {
    pub from: Option<String>,
    pub to: Option<String>,
    pub at: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot {
    pub from: Option<String>,
    pub to: Option<String>,
    pub term: u64,
    pub size: u64,
    pub at: f64,
    pub success: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unreachable {
    pub node: String,
    pub refused_dials: u64,
    pub first: f64,
    pub last: f64,
    /// The nodes that dialed (where their ephemeral ports could be mapped: never here, a refused
    /// dial carries no data), as client addresses.
    pub dialers: Vec<String>,
}

/// A finding between nodes, with a stable code.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    pub code: String,
    /// MUST, SHOULD or INFO, as for a connection's violations.
    pub level: String,
    pub nodes: Vec<String>,
    /// `client -> server`, where one connection shows it.
    pub connection: Option<String>,
    /// Offset in the client-to-server stream of that connection.
    pub offset: Option<u64>,
    /// Seconds since the capture's first packet.
    pub at: Option<f64>,
    pub message: String,
}

/// Settings of the model.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A follower that receives only heartbeats for longer than this (seconds) while its peers
    /// receive entries is stalled.
    pub stall_after: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { stall_after: 5.0 }
    }
}

/// Most items listed in each of the model's lists; the rest are counted in `notes`.
pub const MAX_ITEMS: usize = 1000;

fn name(nodes: &Nodes, n: Option<usize>) -> Option<String> {
    n.map(|n| nodes.list[n].address.clone())
}

fn cap<T>(list: &mut Vec<T>, what: &str, notes: &mut Vec<String>) {
    if list.len() > MAX_ITEMS {
        notes.push(format!(
            "{} {what} not listed (only the first {MAX_ITEMS})",
            list.len() - MAX_ITEMS
        ));
        list.truncate(MAX_ITEMS);
    }
}

/// Builds the model from every connection's trace (`end` = the capture's last packet time).
pub fn build(traces: &[Trace], end: f64, opts: Options, mut notes: Vec<String>) -> (Cluster, Nodes) {
    let nodes = Nodes::build(traces);
    let mut leaders: BTreeMap<u64, Vec<(f64, Option<usize>)>> = BTreeMap::new();
    let mut elections: BTreeMap<(u64, bool, Option<usize>, bool), Election> = BTreeMap::new();
    let mut transfers = Vec::new();
    let mut snapshots = Vec::new();
    let mut roles: BTreeMap<usize, Vec<&'static str>> = BTreeMap::new();
    for (t, &(client, server)) in traces.iter().zip(&nodes.ends) {
        let to = name(&nodes, server).unwrap_or_else(|| fmt(t.server));
        for e in &t.detail().events {
            match &e.kind {
                EventKind::Leads { term } => {
                    leaders.entry(*term).or_default().push((e.ts, client));
                    if let Some(c) = client {
                        roles.entry(c).or_default().push("leader");
                    }
                }
                EventKind::Vote {
                    pre,
                    term,
                    transfer,
                    granted,
                } => {
                    if let Some(c) = client {
                        roles.entry(c).or_default().push("candidate");
                    }
                    let el = elections
                        .entry((*term, *pre, client, *transfer))
                        .or_insert_with(|| Election {
                            term: *term,
                            pre_vote: *pre,
                            candidate: name(&nodes, client),
                            first_seen: e.ts,
                            leadership_transfer: *transfer,
                            asked: Vec::new(),
                            granted: Vec::new(),
                            denied: Vec::new(),
                            unanswered: Vec::new(),
                        });
                    el.first_seen = el.first_seen.min(e.ts);
                    for (list, add) in [
                        (&mut el.asked, true),
                        (&mut el.granted, *granted == Some(true)),
                        (&mut el.denied, *granted == Some(false)),
                        (&mut el.unanswered, granted.is_none()),
                    ] {
                        if add && !list.contains(&to) {
                            list.push(to.clone());
                        }
                    }
                }
                EventKind::TimeoutNow => transfers.push(Transfer {
                    from: name(&nodes, client),
                    to: Some(to.clone()),
                    at: e.ts,
                }),
                EventKind::Snapshot { term, size, success } => snapshots.push(Snapshot {
                    from: name(&nodes, client),
                    to: Some(to.clone()),
                    term: *term,
                    size: *size,
                    at: e.ts,
                    success: *success,
                }),
            }
        }
        if t.detail().events_dropped > 0 {
            notes.push(format!(
                "{} -> {}: {} events past the first {} of this connection not modelled",
                fmt(t.client),
                fmt(t.server),
                t.detail().events_dropped,
                super::trace::MAX_EVENTS
            ));
        }
    }
    let mut out = Cluster::default();
    let mut found = Vec::new();
    for (term, mut seen) in leaders {
        seen.sort_by(|a, b| a.0.total_cmp(&b.0));
        let first = seen[0];
        out.leaders.push(Leader {
            term,
            node: name(&nodes, first.1),
            first_seen: first.0,
        });
        findings::two_leaders(&nodes, term, &seen, &mut found);
    }
    out.leaders
        .sort_by(|a, b| a.first_seen.total_cmp(&b.first_seen).then(a.term.cmp(&b.term)));
    out.elections = elections.into_values().collect();
    out.elections.sort_by(|a, b| a.first_seen.total_cmp(&b.first_seen));
    transfers.sort_by(|a, b| a.at.total_cmp(&b.at));
    snapshots.sort_by(|a, b| a.at.total_cmp(&b.at));
    out.leadership_transfers = transfers;
    out.snapshots = snapshots;
    out.unreachable = findings::refused(&nodes, traces, &mut found);
    let flagged = findings::incompatible(&nodes, traces, &mut found);
    findings::closed_unanswered(&nodes, traces, &flagged, &mut found);
    findings::versions(&nodes, traces, &mut found);
    findings::silent(&nodes, end, opts.stall_after, &mut found);
    findings::release_changed(&nodes, &mut found);
    findings::stalls(&nodes, traces, end, opts.stall_after, &mut found);
    found.sort_by(|a, b| {
        let at = |f: &Finding| f.at.unwrap_or(f64::INFINITY);
        at(a).total_cmp(&at(b)).then(a.code.cmp(&b.code))
    });
    out.findings = found;
    for (i, n) in nodes.list.iter().enumerate() {
        let mut r: Vec<String> = roles.get(&i).into_iter().flatten().map(|s| s.to_string()).collect();
        r.sort();
        r.dedup();
        let mut evidence: Vec<String> = n
            .evidence
            .iter()
            .map(|(f, conn)| format!("{} (first on {conn})", f.describe()))
            .collect();
        if n.release.contradictory() {
            evidence.push("the features contradict each other: no single release writes all of them".into());
        }
        if n.id_conflict {
            evidence.push("more than one ID was claimed for this address".into());
        }
        out.nodes.push(Node {
            address: n.address.clone(),
            id: n.id.clone(),
            dialects: n.dialects.iter().map(|d| d.to_string()).collect(),
            release: ReleaseRange {
                min: n.release.min.map(|r| r.to_string()),
                max: n.release.max.map(|r| r.to_string()),
            },
            evidence,
            roles: r,
            connections_accepted: n.accepted,
            connections_dialed: n.dialed,
            first_seen: Some(n.first_seen).filter(|t| t.is_finite()),
            last_seen: Some(n.last_seen).filter(|_| n.first_seen.is_finite()),
        });
    }
    let unmapped = traces
        .iter()
        .zip(&nodes.ends)
        .filter(|(t, (c, _))| t.data && t.detail().requests > 0 && c.is_none())
        .count();
    if unmapped > 0 {
        notes.push(format!(
            "{unmapped} connection(s) whose dialer could not be mapped to a node: its requests name no known \
             address or id (raft <= 1.3.6 names its sender only in AppendEntries, InstallSnapshot and RequestVote), \
             or name more than one"
        ));
    }
    cap(&mut out.nodes, "nodes", &mut notes);
    cap(&mut out.leaders, "leaders", &mut notes);
    cap(&mut out.elections, "elections", &mut notes);
    cap(&mut out.leadership_transfers, "leadership transfers", &mut notes);
    cap(&mut out.snapshots, "snapshots", &mut notes);
    cap(&mut out.findings, "findings", &mut notes);
    out.notes = notes;
    (out, nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_capped_with_a_note_only_past_the_cap() {
        let mut notes = Vec::new();
        let mut full: Vec<u32> = (0..MAX_ITEMS as u32).collect();
        cap(&mut full, "nodes", &mut notes);
        assert_eq!((full.len(), notes.len()), (MAX_ITEMS, 0));
        let mut over: Vec<u32> = (0..MAX_ITEMS as u32 + 3).collect();
        cap(&mut over, "nodes", &mut notes);
        assert_eq!(over.len(), MAX_ITEMS);
        assert_eq!(notes, [format!("3 nodes not listed (only the first {MAX_ITEMS})")]);
    }
}
