//! Which node each end of each connection is. A node is known by its listening address (the
//! server end of the connections it accepts) and, where the wire carries it, its id. A dialer's
//! client port is ephemeral, so it is mapped to its node only by what its requests say (RPCHeader
//! `ID`/`Addr`, `Leader`, `Candidate`), and only when everything it says agrees: unknown stays
//! unknown, never guessed from an IP address.

use std::collections::BTreeMap;

use raftwire_hashicorp::release::{Feature, Range};

use super::trace::Trace;

/// One node as the model builds it.
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    pub address: String,
    pub id: Option<String>,
    /// Conflicting ids were claimed for it (then `id` is `None`).
    pub id_conflict: bool,
    /// Other addresses it advertised (RPCHeader `Addr`), which identify it too.
    pub aliases: Vec<String>,
    pub release: Range,
    /// The features it wrote, each with the first connection that showed it.
    pub evidence: BTreeMap<Feature, String>,
    /// Seen only dialing (no connection to it was captured).
    pub dial_only: bool,
    pub accepted: u64,
    pub dialed: u64,
    pub first_seen: f64,
    pub last_seen: f64,
    /// The dialects its connections were checked as.
    pub dialects: Vec<&'static str>,
}

/// The nodes of a capture and, per connection (index into the traces), its two ends' nodes.
#[derive(Debug, Default)]
pub struct Nodes {
    pub list: Vec<NodeState>,
    /// Per trace: (client node, server node), indices into `list`.
    pub ends: Vec<(Option<usize>, Option<usize>)>,
}

impl Nodes {
    fn find(&self, name: &str) -> Option<usize> {
        self.list
            .iter()
            .position(|n| n.address == name || n.aliases.iter().any(|a| a == name))
    }

    fn find_id(&self, id: &str) -> Option<usize> {
        self.list.iter().position(|n| n.id.as_deref() == Some(id))
    }

    fn set_id(&mut self, node: usize, ids: &[String]) {
        let n = &mut self.list[node];
        for id in ids {
            match &n.id {
                None if !n.id_conflict => n.id = Some(id.clone()),
                Some(have) if have != id => {
                    n.id = None;
                    n.id_conflict = true;
                }
                _ => {}
            }
        }
    }

    fn alias(&mut self, node: usize, addrs: &[String]) {
        for a in addrs {
            let taken = self.find(a).is_some();
            let n = &mut self.list[node];
            if !taken && n.address != *a {
                n.aliases.push(a.clone());
            }
        }
    }

    /// The node a dialer's claims name, if they all name one.
    fn dialer(&self, t: &Trace) -> Option<usize> {
        let claims = &t.detail().claims[0];
        let mut found: Option<usize> = None;
        let named = claims
            .addrs
            .iter()
            .map(|a| self.find(a))
            .chain(claims.ids.iter().map(|i| self.find_id(i)));
        for n in named {
            match (n, found) {
                (None, _) => {}
                (Some(n), None) => found = Some(n),
                (Some(n), Some(f)) if n != f => return None,
                _ => {}
            }
        }
        found
    }

    fn touch(&mut self, node: usize, t: &Trace) {
        let n = &mut self.list[node];
        if n.first_seen.is_nan() || t.first_ts < n.first_seen {
            n.first_seen = t.first_ts;
        }
        n.last_seen = n.last_seen.max(t.last_ts);
    }

    /// Builds the nodes from every connection's trace.
    pub fn build(traces: &[Trace]) -> Nodes {
        let mut nodes = Nodes::default();
        let new_node = |address: String| NodeState {
            address,
            first_seen: f64::NAN,
            ..NodeState::default()
        };
        // Every listening address that carried Raft traffic is a node, with what it says of itself.
        for t in traces.iter().filter(|t| t.data) {
            let Some(server) = t.server.map(|s| s.to_string()) else {
                continue;
            };
            if nodes.find(&server).is_none() {
                nodes.list.push(new_node(server));
            }
        }
        for t in traces.iter().filter(|t| t.data) {
            let Some(s) = t.server.and_then(|s| nodes.find(&s.to_string())) else {
                continue;
            };
            nodes.set_id(s, &t.detail().claims[1].ids);
            nodes.alias(s, &t.detail().claims[1].addrs);
        }
        // Configurations (RFW/1) list each member's id with its address.
        for t in traces {
            for (id, address) in &t.detail().members {
                if let Some(n) = nodes.find(address) {
                    nodes.set_id(n, std::slice::from_ref(id));
                }
            }
        }
        // Dialers: named by their requests. A dialer that names an address no connection was
        // captured to is a node seen only dialing.
        for t in traces.iter().filter(|t| t.data) {
            // Only a dialer that names no known node at all (not one whose names disagree).
            let claims = &t.detail().claims[0];
            let names_none = claims.addrs.iter().all(|a| nodes.find(a).is_none())
                && claims.ids.iter().all(|i| nodes.find_id(i).is_none());
            if names_none {
                let own: Vec<&String> = claims
                    .addrs
                    .iter()
                    .filter(|a| a.parse::<std::net::SocketAddr>().is_ok())
                    .collect();
                if let [only] = own.as_slice() {
                    let mut n = new_node((*only).clone());
                    n.dial_only = true;
                    nodes.list.push(n);
                }
            }
            if let Some(c) = nodes.dialer(t) {
                nodes.set_id(c, &t.detail().claims[0].ids);
                nodes.alias(c, &t.detail().claims[0].addrs);
            }
        }
        for t in traces {
            let server = t.server.and_then(|s| nodes.find(&s.to_string()));
            let client = if t.data { nodes.dialer(t) } else { None };
            nodes.ends.push((client, server));
            let name = format!("{} -> {}", fmt(t.client), fmt(t.server));
            for (end, node) in [(0, client), (1, server)] {
                let Some(node) = node else { continue };
                if !t.data && end == 1 {
                    continue;
                }
                nodes.touch(node, t);
                let n = &mut nodes.list[node];
                if let Some(d) = t.dialect.filter(|d| !n.dialects.contains(d)) {
                    n.dialects.push(d);
                }
                if end == 0 {
                    n.dialed += 1;
                } else {
                    n.accepted += 1;
                }
                for seen in &t.detail().features[end] {
                    n.release.narrow(seen.feature);
                    n.evidence.entry(seen.feature).or_insert_with(|| name.clone());
                }
            }
        }
        nodes
    }
}

/// An address as reports show it.
pub fn fmt(a: Option<std::net::SocketAddr>) -> String {
    a.map_or_else(|| "?".to_string(), |a| a.to_string())
}
