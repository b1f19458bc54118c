//! Findings between nodes, each from evidence only (HASHICORP.md "Cluster view" gives every code
//! and its rule): a node whose release range merely admits an old release is never flagged.

use std::collections::BTreeMap;

use raftwire_hashicorp::release::{Feature, Release};

use super::model::{Finding, Unreachable};
use super::nodes::{fmt, Nodes};
use super::trace::Trace;

/// A request left unanswered counts as the likely cause of a close that follows it within this
/// many seconds (an old node closes at once when it cannot decode a request).
const CLOSE_AFTER: f64 = 1.0;

fn connection(t: &Trace) -> String {
    format!("{} -> {}", fmt(t.client), fmt(t.server))
}

fn node_name(nodes: &Nodes, n: Option<usize>, fallback: Option<std::net::SocketAddr>) -> String {
    n.map_or_else(|| fmt(fallback), |n| nodes.list[n].address.clone())
}

/// Election safety: two nodes sent AppendEntries in the same term.
pub fn two_leaders(nodes: &Nodes, term: u64, seen: &[(f64, Option<usize>)], out: &mut Vec<Finding>) {
    let mut distinct: Vec<usize> = seen.iter().filter_map(|s| s.1).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 {
        return;
    }
    let names: Vec<String> = distinct.iter().map(|n| nodes.list[*n].address.clone()).collect();
    out.push(Finding {
        code: "cluster_two_leaders".into(),
        level: "MUST".into(),
        nodes: names.clone(),
        connection: None,
        offset: None,
        at: seen.iter().map(|s| s.0).reduce(f64::min),
        message: format!(
            "{} all sent AppendEntries in term {term}: Raft allows one leader per term (election safety), so \
             either the cluster elected two leaders or a node replicates in a term it did not win",
            names.join(" and ")
        ),
    });
}

/// Dials answered by a reset, per node: the node was down or not listening.
pub fn refused(nodes: &Nodes, traces: &[Trace], out: &mut Vec<Finding>) -> Vec<Unreachable> {
    let mut by_node: BTreeMap<usize, Unreachable> = BTreeMap::new();
    for (t, &(_, server)) in traces.iter().zip(&nodes.ends) {
        let refused = t.syn && !t.syn_ack && !t.data && t.closes.rst[1].is_some();
        let Some(s) = server.filter(|_| refused) else { continue };
        let at = t.closes.rst[1].unwrap_or(t.first_ts);
        let u = by_node.entry(s).or_insert_with(|| Unreachable {
            node: nodes.list[s].address.clone(),
            refused_dials: 0,
            first: at,
            last: at,
            dialers: Vec::new(),
        });
        u.refused_dials += 1;
        u.first = u.first.min(at);
        u.last = u.last.max(at);
        let dialer = fmt(t.client.map(|c| std::net::SocketAddr::new(c.ip(), 0))).replace(":0", "");
        if !u.dialers.contains(&dialer) && u.dialers.len() < 16 {
            u.dialers.push(dialer);
        }
    }
    let list: Vec<Unreachable> = by_node.into_values().collect();
    for u in &list {
        out.push(Finding {
            code: "cluster_node_unreachable".into(),
            level: "INFO".into(),
            nodes: vec![u.node.clone()],
            connection: None,
            offset: None,
            at: Some(u.first),
            message: format!(
                "{} refused {} dial(s) (SYN answered by RST) between {:.3} s and {:.3} s: the node was down or not \
                 listening",
                u.node, u.refused_dials, u.first, u.last
            ),
        });
    }
    list
}

/// A request carrying a feature the receiving node's release cannot decode, where the receiver's
/// release is known (from what it wrote) to be one of those.
/// Returns the (receiver, feature) pairs it reported.
pub fn incompatible(nodes: &Nodes, traces: &[Trace], out: &mut Vec<Finding>) -> Vec<(usize, Feature)> {
    // One finding per (receiver, sender, feature): the first connection, and how many showed it.
    let mut seen: BTreeMap<(usize, Option<usize>, Feature), (usize, usize)> = BTreeMap::new();
    for (i, (t, &(client, server))) in traces.iter().zip(&nodes.ends).enumerate() {
        let Some(s) = server else { continue };
        for f in &t.detail().features[0] {
            let Some((lo, hi, _)) = f.feature.unreadable_by() else {
                continue;
            };
            // Evidence that contradicts itself (a node upgraded during the capture) proves nothing.
            let r = nodes.list[s].release;
            if !r.contradictory() && r.within(lo, hi) {
                seen.entry((s, client, f.feature)).or_insert((i, 0)).1 += 1;
            }
        }
    }
    let mut flagged = Vec::new();
    for ((s, client, feature), (first, count)) in seen {
        flagged.push((s, feature));
        let t = &traces[first];
        let Some(at) = t.detail().features[0].iter().find(|x| x.feature == feature) else {
            continue;
        };
        let Some((_, _, consequence)) = feature.unreadable_by() else {
            continue;
        };
        let receiver = &nodes.list[s];
        let range = describe_range(receiver.release.min, receiver.release.max);
        let code = if feature == Feature::AppendedAtNew {
            "cluster_incompatible_time_format"
        } else {
            "cluster_incompatible_rpc"
        };
        let sender = node_name(nodes, client, t.client);
        let more = if count > 1 {
            format!(" ({count} connections between them show it)")
        } else {
            String::new()
        };
        out.push(Finding {
            code: code.into(),
            level: "MUST".into(),
            nodes: vec![sender.clone(), receiver.address.clone()],
            connection: Some(connection(t)),
            offset: Some(at.offset),
            at: Some(at.ts),
            message: format!(
                "{sender} sent {} to {}, whose release is {range} by what it wrote ({}): {consequence}{more}",
                feature.describe(),
                receiver.address,
                receiver
                    .evidence
                    .keys()
                    .map(|f| f.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        });
    }
    flagged
}

fn describe_range(min: Option<Release>, max: Option<Release>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a} to {b}"),
        (None, Some(b)) => format!("at most {b}"),
        (Some(a), None) => format!("at least {a}"),
        (None, None) => "unknown".into(),
    }
}

/// The server closed a connection with requests unanswered. Right after a request carrying a
/// feature newer than anything that server has shown, the feature is the likely cause (SHOULD);
/// otherwise it is noted (INFO): a node shutting down does the same.
/// `flagged`: the (receiver, feature) pairs already reported as incompatible.
pub fn closed_unanswered(nodes: &Nodes, traces: &[Trace], flagged: &[(usize, Feature)], out: &mut Vec<Finding>) {
    for (t, &(client, server)) in traces.iter().zip(&nodes.ends) {
        let Some((1, closed)) = t.closes.first() else { continue };
        let Some(req) = t.detail().first_unanswered.as_ref() else {
            continue;
        };
        let receiver = node_name(nodes, server, t.server);
        let sender = node_name(nodes, client, t.client);
        let how = if t.closes.rst[1] == Some(closed) {
            "reset"
        } else {
            "closed"
        };
        let known = server.map(|s| nodes.list[s].release);
        // Newer than anything it showed: the feature's first release is above every release the
        // receiver's own writing proves it has.
        let newer = req.features.iter().find(|f| {
            let (Some(since), _) = f.written_by() else { return false };
            let shown = known.and_then(|r| r.min);
            f.unreadable_by().is_some() && shown.is_none_or(|m| m < since)
        });
        let already = newer.is_some_and(|f| server.is_some_and(|s| flagged.contains(&(s, f))));
        if already {
            // The incompatibility is the finding; this close is its consequence.
            continue;
        }
        let (code, level, cause) = match newer {
            Some(f) if closed - req.ts <= CLOSE_AFTER => (
                "cluster_closed_after_new_feature",
                "SHOULD",
                format!(
                    ": the request carries {}, newer than anything {receiver} has written, so {receiver} probably \
                     could not decode it (an older release closes the connection on a decode error)",
                    f.describe()
                ),
            ),
            _ => ("cluster_closed_unanswered", "INFO", String::new()),
        };
        out.push(Finding {
            code: code.into(),
            level: level.into(),
            nodes: vec![sender, receiver.clone()],
            connection: Some(connection(t)),
            offset: Some(req.offset),
            at: Some(closed),
            message: format!(
                "{receiver} {how} the connection at {closed:.3} s with {} request(s) unanswered, the first a {} sent at \
                 {:.3} s (offset {}){cause}",
                t.detail().unanswered,
                req.name,
                req.ts,
                req.offset
            ),
        });
    }
}

/// A follower that receives only heartbeats from its leader for longer than `after` seconds while
/// another follower of the same leader receives entries (hashicorp/raft#612: a stuck pipeline).
pub fn stalls(nodes: &Nodes, traces: &[Trace], end: f64, after: f64, out: &mut Vec<Finding>) {
    // (leader, follower) -> (entry times, heartbeat times)
    let mut pairs: BTreeMap<(usize, usize), (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (t, &(client, server)) in traces.iter().zip(&nodes.ends) {
        let (Some(l), Some(f)) = (client, server) else { continue };
        let p = pairs.entry((l, f)).or_default();
        p.0.extend(&t.detail().entries.samples);
        p.1.extend(&t.detail().heartbeats.samples);
    }
    for p in pairs.values_mut() {
        p.0.sort_by(f64::total_cmp);
        p.1.sort_by(f64::total_cmp);
    }
    for (&(l, f), (entries, beats)) in &pairs {
        // The quiet spells of this follower: from its last entries (or first heartbeat) to its
        // next entries (or the end of the capture).
        let mut from = match (entries.first(), beats.first()) {
            (Some(e), Some(b)) => e.min(*b),
            (None, Some(b)) => *b,
            _ => continue,
        };
        let mut spells = Vec::new();
        for &e in entries.iter().chain(std::iter::once(&end)) {
            if e - from > after {
                spells.push((from, e));
            }
            from = from.max(e);
        }
        for (a, b) in spells {
            let heartbeats = beats.iter().filter(|t| **t > a && **t < b).count();
            let peers: Vec<(usize, usize)> = pairs
                .iter()
                .filter(|((l2, f2), _)| *l2 == l && *f2 != f)
                // Entries a peer received once this follower was already overdue.
                .map(|((_, f2), (e2, _))| (*f2, e2.iter().filter(|t| **t > a + after && **t < b).count()))
                .filter(|(_, n)| *n > 0)
                .collect();
            if heartbeats < 2 || peers.is_empty() {
                continue;
            }
            let (leader, follower) = (&nodes.list[l].address, &nodes.list[f].address);
            let others: Vec<String> = peers
                .iter()
                .map(|(p, n)| format!("{} ({n})", nodes.list[*p].address))
                .collect();
            out.push(Finding {
                code: "cluster_replication_stall".into(),
                level: "SHOULD".into(),
                nodes: vec![leader.clone(), follower.clone()],
                connection: None,
                offset: None,
                at: Some(a),
                message: format!(
                    "from {a:.3} s to {b:.3} s ({:.1} s) {follower} received only heartbeats from the leader {leader} \
                     ({heartbeats} of them) while its peers received entries: {}; a follower that gets heartbeats but \
                     no entries is stuck (a stalled pipeline, hashicorp/raft#612)",
                    b - a,
                    others.join(", ")
                ),
            });
        }
    }
}

/// VER-1: one node wrote RFW frames of a version its peer does not speak (the peer rejects them
/// and closes). Peers agree on a version out of band; this shows they did not.
pub fn versions(nodes: &Nodes, traces: &[Trace], out: &mut Vec<Finding>) {
    let mut seen: BTreeMap<(String, String, u8), (usize, u64)> = BTreeMap::new();
    for (i, (t, &(client, server))) in traces.iter().zip(&nodes.ends).enumerate() {
        let ends = [node_name(nodes, client, t.client), node_name(nodes, server, t.server)];
        for (end, versions) in t.detail().versions.iter().enumerate() {
            for v in versions {
                seen.entry((ends[end].clone(), ends[1 - end].clone(), *v))
                    .or_insert((i, 0))
                    .1 += 1;
            }
        }
    }
    for ((writer, reader, v), (first, count)) in seen {
        let t = &traces[first];
        out.push(Finding {
            code: "cluster_version_mismatch".into(),
            level: "MUST".into(),
            nodes: vec![writer.clone(), reader.clone()],
            connection: Some(connection(t)),
            offset: None,
            at: Some(t.first_ts),
            message: format!(
                "{writer} wrote RFW version {v} frames to {reader} ({count} connection(s)), which speaks version 1 and \
                 rejects them (FRAME-2, VER-1): the two nodes run releases that do not agree on the wire version"
            ),
        });
    }
}

/// A node that went quiet: its last packet came more than `after` seconds before the capture's
/// end while other nodes were still talking (it stopped, crashed or was cut off).
pub fn silent(nodes: &Nodes, end: f64, after: f64, out: &mut Vec<Finding>) {
    let active = |n: &super::nodes::NodeState| n.first_seen.is_finite() && end - n.last_seen <= after;
    if !nodes.list.iter().any(active) {
        return;
    }
    for n in nodes.list.iter().filter(|n| n.first_seen.is_finite() && !active(n)) {
        out.push(Finding {
            code: "cluster_node_silent".into(),
            level: "INFO".into(),
            nodes: vec![n.address.clone()],
            connection: None,
            offset: None,
            at: Some(n.last_seen),
            message: format!(
                "{} was last seen at {:.3} s, {:.1} s before the capture ends while other nodes still talk: it \
                 stopped, crashed or was cut off",
                n.address,
                n.last_seen,
                end - n.last_seen
            ),
        });
    }
}

/// A node whose writing shows features of releases that never coexisted: most likely it was
/// restarted on another release during the capture (a rolling upgrade). Its range then proves
/// nothing, so no incompatibility is claimed for it.
pub fn release_changed(nodes: &Nodes, out: &mut Vec<Finding>) {
    for n in nodes.list.iter().filter(|n| n.release.contradictory()) {
        let (Some(min), Some(max)) = (n.release.min, n.release.max) else {
            continue;
        };
        out.push(Finding {
            code: "cluster_release_changed".into(),
            level: "INFO".into(),
            nodes: vec![n.address.clone()],
            connection: None,
            offset: None,
            at: None,
            message: format!(
                "{} wrote features of raft {min} or later and of raft {max} or earlier, which no single release writes: \
                 it was probably restarted on another release during the capture (a rolling upgrade); its release \
                 range is left as the evidence says, and no incompatibility is claimed for it",
                n.address
            ),
        });
    }
}
