//! Connections whose bytes did not show them to be Raft traffic, held until the whole capture has
//! been read: only then is it known whether their server port is one where a Raft connection was
//! recognised. There they are checked, and found to break the port's protocol (a corrupted first
//! frame, a foreign client); elsewhere they are listed as not checked. Either way every TCP
//! connection of a capture is accounted for, and none is dropped silently.
//!
//! Memory stays bounded: the first [`MAX_LISTED`] in report order are kept with their first
//! bytes, the rest only counted per server port (which decides how they count).

use std::collections::{BTreeMap, BinaryHeap};
use std::net::SocketAddr;

use crate::report::{
    ConnectionReport, DirectionReport, Directions, NotListed, Order, Ranked, Unchecked, UncheckedConnection, Violation,
    MAX_LISTED,
};

/// How many first bytes of each direction are kept to judge a connection (a response with an
/// error string of up to 31 bytes, then its map); the first [`SHOWN`] are shown.
pub const HEAD: usize = 40;
const SHOWN: usize = 16;

/// What is kept of a connection not recognised as Raft traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Bytes per direction (client to server, server to client).
    pub bytes: [u64; 2],
    /// The first [`HEAD`] bytes per direction.
    pub head: [Vec<u8>; 2],
}

/// Counts of the pending connections past the cap on one server port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Overflow {
    with_data: usize,
    without_data: usize,
}

/// The held connections of (one shard of) a capture, and the server ports of the connections
/// recognised as Raft traffic.
#[derive(Default)]
pub struct Held {
    kept: BinaryHeap<Ranked<Pending>>,
    overflow: BTreeMap<u16, Overflow>,
    /// Server ports of recognised connections, true where one of them spoke hashicorp/raft
    /// (which decides the requirement a foreign connection there breaks).
    pub raft_ports: BTreeMap<u16, bool>,
}

impl Held {
    pub fn push(&mut self, order: Order, p: Pending) {
        self.kept.push(Ranked(order, p));
        if self.kept.len() > MAX_LISTED {
            // The latest in report order gives way, as in `Collected`, so the kept set does not
            // depend on how connections were spread over threads.
            if let Some(Ranked(_, last)) = self.kept.pop() {
                let o = self.overflow.entry(last.server.port()).or_default();
                if last.bytes.iter().any(|b| *b > 0) {
                    o.with_data += 1;
                } else {
                    o.without_data += 1;
                }
            }
        }
    }

    /// Takes in `other`, whose orders are re-numbered by `order`.
    pub fn merge(&mut self, other: Held, order: impl Fn(Order) -> Order) {
        for (port, hashicorp) in other.raft_ports {
            *self.raft_ports.entry(port).or_default() |= hashicorp;
        }
        for (port, o) in other.overflow {
            let mine = self.overflow.entry(port).or_default();
            mine.with_data += o.with_data;
            mine.without_data += o.without_data;
        }
        for Ranked(o, p) in other.kept {
            self.push(order(o), p);
        }
    }

    /// Decides each held connection: one with data on a Raft port (a recognised connection's
    /// server port, or any port when `--port` chose them) is checked and breaks FRAME-1/HC-5;
    /// the rest are listed as not checked. Checked ones come back as reports in report order,
    /// with counts of those past the cap.
    pub fn resolve(self, ports_given: bool) -> (Vec<(Order, ConnectionReport)>, NotListed, Unchecked) {
        let is_raft_port = |port: u16| ports_given || self.raft_ports.contains_key(&port);
        let mut checked = Vec::new();
        let mut unchecked = Unchecked::default();
        let mut kept = self.kept.into_vec();
        kept.sort_unstable();
        for Ranked(order, p) in kept {
            let has_data = p.bytes.iter().any(|b| *b > 0);
            if has_data && is_raft_port(p.server.port()) {
                let hashicorp = self.raft_ports.get(&p.server.port()).copied().unwrap_or(false);
                checked.push((order, foreign_report(&p, hashicorp)));
            } else {
                unchecked.connections += 1;
                unchecked.with_data += usize::from(has_data);
                unchecked.listed.push(listing(&p, has_data));
            }
        }
        let mut not_listed = NotListed::default();
        for (port, o) in self.overflow {
            unchecked.connections += o.without_data;
            unchecked.not_listed += o.without_data;
            if is_raft_port(port) {
                not_listed.connections += o.with_data;
                not_listed.with_violations += o.with_data;
                not_listed.must += o.with_data;
            } else {
                unchecked.connections += o.with_data;
                unchecked.with_data += o.with_data;
                unchecked.not_listed += o.with_data;
            }
        }
        (checked, not_listed, unchecked)
    }
}

/// `bytes` as space-separated hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// What the first bytes look like, if they are a protocol we can name.
fn looks_like(head: &[u8]) -> Option<raftwire_hashicorp::diagnose::Diagnosis> {
    raftwire_hashicorp::diagnose::foreign(head)
}

fn listing(p: &Pending, has_data: bool) -> UncheckedConnection {
    let named = p.head.iter().find_map(|h| looks_like(h));
    UncheckedConnection {
        client: p.client.to_string(),
        server: p.server.to_string(),
        bytes_client_to_server: p.bytes[0],
        bytes_server_to_client: p.bytes[1],
        first_bytes_client_to_server: hex(p.head[0].get(..SHOWN.min(p.head[0].len())).unwrap_or_default()),
        first_bytes_server_to_client: hex(p.head[1].get(..SHOWN.min(p.head[1].len())).unwrap_or_default()),
        looks_like: named.map(|d| d.code.trim_start_matches("hc_foreign_").to_string()),
        reason: if has_data {
            format!(
                "not Raft traffic (no RFW/1 marker, not hashicorp/raft), on port {} where no Raft connection was seen",
                p.server.port()
            )
        } else {
            "carried no data".to_string()
        },
    }
}

/// The report of a connection with data on a Raft port that is not Raft traffic: one MUST
/// violation at its first byte, naming what the bytes are where it can.
fn foreign_report(p: &Pending, hashicorp: bool) -> ConnectionReport {
    // Blame the direction that speaks first: the client's unless it sent nothing.
    let i = usize::from(p.bytes[0] == 0);
    let named = looks_like(&p.head[i]);
    let what = named.map_or_else(
        || "neither an RFW/1 marker nor the start of a hashicorp/raft message".to_string(),
        |d| d.message,
    );
    let message = format!(
        "this connection to port {port} is not Raft traffic, although other connections to port {port} are: \
         its first bytes ({}) are {what}. Every byte on a Raft port must belong to a Raft message \
         (a corrupted first frame, or another protocol's client on the Raft port)",
        hex(p.head[i].get(..SHOWN.min(p.head[i].len())).unwrap_or_default()),
        port = p.server.port(),
    );
    let direction = |j: usize| DirectionReport {
        bytes: p.bytes[j],
        bytes_skipped: p.bytes[j],
        violations: if j == i {
            vec![Violation {
                offset: 0,
                code: "foreign_protocol".into(),
                requirement: if hashicorp { "HC-5" } else { "FRAME-1" }.into(),
                level: "MUST".into(),
                message: message.clone(),
                after_capture_gap: false,
                frame_offset: None,
                excerpt: Some(crate::report::Excerpt {
                    start: 0,
                    bytes: p.head[j].clone(),
                }),
            }]
        } else {
            Vec::new()
        },
        ..DirectionReport::default()
    };
    ConnectionReport {
        client: p.client.to_string(),
        server: p.server.to_string(),
        dialect: "not raft".into(),
        notes: vec![format!(
            "not recognised as RFW/1 or hashicorp/raft: its {} byte(s) were not checked further",
            p.bytes[0] + p.bytes[1]
        )],
        directions: Directions {
            client_to_server: direction(0),
            server_to_client: direction(1),
        },
        client_node: None,
        server_node: None,
        latency: Default::default(),
        latency_samples: Vec::new(),
        trace: None,
    }
}
