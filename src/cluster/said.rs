//! What one message said, in the terms the cluster view uses, whatever the dialect: hashicorp/raft
//! messages come from its checker ([`from_hashicorp`]), RFW/1 frames from the scanner
//! ([`from_rfw`]). The trace never sees either format.

use std::borrow::Cow;

use raftwire_codec::{Frame, Message};
use raftwire_hashicorp::messages;
use raftwire_hashicorp::release::FeatureSet;
use raftwire_hashicorp::Observed;

/// The kind of RPC a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    Append {
        entries: u64,
    },
    Vote {
        pre: bool,
        transfer: bool,
    },
    /// An InstallSnapshot (its first chunk, for RFW/1) of `size` bytes.
    Snapshot {
        size: u64,
    },
    /// A later chunk of an RFW/1 snapshot.
    SnapshotChunk,
    TimeoutNow,
    Other,
}

/// A message as the cluster view reads it, borrowing what it can from the frame it came from: it
/// is made for every message a capture holds, so it allocates nothing for the usual one.
#[derive(Debug, Clone, PartialEq)]
pub struct Said<'f> {
    pub response: bool,
    pub rpc: Rpc,
    /// The report's name of the request (a response's is its request's), for latencies.
    pub name: &'static str,
    /// Where it starts and ends in its direction's stream.
    pub offset: u64,
    pub end: u64,
    /// Written as its writer's library writes it and confirmed by what follows: only such
    /// messages are evidence.
    pub clean: bool,
    pub term: Option<u64>,
    /// The id its writer gives as its own (a hashicorp header's `ID`; an RFW/1 request's leader or
    /// candidate id) and its addresses (a hashicorp header's `Addr`, a request's `Leader`,
    /// `Candidate`).
    pub id: Option<Cow<'f, str>>,
    pub addrs: [Option<Cow<'f, str>>; 3],
    pub granted: Option<bool>,
    pub success: Option<bool>,
    /// hashicorp/raft release features it shows.
    pub features: FeatureSet,
    /// RFW/1 pairs responses with requests by id; hashicorp/raft by order (`None`).
    pub request_id: Option<u64>,
    /// Cluster members (id, address) it lists: an RFW/1 configuration.
    pub members: Vec<(String, String)>,
    /// An answer that accepts the request's leader without stating a term: the leader-id
    /// family's AppendResponse other than HigherVote (SPEC.md §5.7).
    pub accepts_leader: bool,
}

fn owned(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn text(b: &[u8]) -> Option<Cow<'_, str>> {
    Some(String::from_utf8_lossy(b))
}

/// A message the hashicorp checker decoded.
pub fn from_hashicorp(o: Observed) -> Said<'static> {
    let d = o.decoded;
    let name = d.name;
    let f = d.facts;
    let rpc = match o.rpc {
        messages::APPEND_ENTRIES => Rpc::Append { entries: f.entries },
        messages::REQUEST_VOTE | messages::REQUEST_PRE_VOTE => Rpc::Vote {
            pre: o.rpc == messages::REQUEST_PRE_VOTE,
            transfer: f.leadership_transfer,
        },
        messages::INSTALL_SNAPSHOT => Rpc::Snapshot {
            size: d.snapshot_size.unwrap_or(0),
        },
        messages::TIMEOUT_NOW => Rpc::TimeoutNow,
        _ => Rpc::Other,
    };
    let (leader, candidate) = if o.response {
        (None, None)
    } else {
        (f.leader, f.candidate)
    };
    Said {
        response: o.response,
        rpc,
        name,
        offset: o.offset,
        end: o.end,
        clean: o.clean,
        term: d.term,
        id: f.id.map(Cow::Owned),
        addrs: [
            f.addr.map(Cow::Owned),
            leader.map(Cow::Owned),
            candidate.map(Cow::Owned),
        ],
        granted: f.granted,
        success: f.success,
        features: f.features,
        request_id: None,
        members: Vec::new(),
        accepts_leader: false,
    }
}

/// An RFW/1 frame at `offset`, `len` bytes long. An AppendEntries' entries are searched for
/// configurations only if `members` (reading every entry of every frame costs; the caller asks
/// until it has a configuration).
pub fn from_rfw(frame: &Frame, offset: u64, len: usize, members: bool) -> Said<'_> {
    let mut s = Said {
        response: frame.message_type().is_response(),
        rpc: Rpc::Other,
        // A response is named by the request it answers.
        name: frame.message_type().answers().unwrap_or(frame.message_type()).name(),
        offset,
        end: offset + len as u64,
        clean: true,
        term: frame.message.term(),
        id: None,
        addrs: [None, None, None],
        granted: None,
        success: None,
        features: FeatureSet::default(),
        request_id: Some(frame.request_id),
        members: Vec::new(),
        accepts_leader: false,
    };
    match &frame.message {
        Message::RequestVote(v) => {
            s.rpc = Rpc::Vote {
                pre: v.pre_vote,
                transfer: v.leadership_transfer,
            };
            s.id = text(v.candidate_id.as_bytes());
        }
        Message::AppendEntries(a) => {
            s.rpc = Rpc::Append {
                entries: a.entries.len() as u64,
            };
            s.id = text(a.leader_id.as_bytes());
            for e in a.entries.iter().filter(|_| members) {
                if let Some(c) = e.configuration() {
                    s.members.extend(c.servers().map(|m| (owned(m.id), owned(m.address))));
                }
            }
        }
        Message::InstallSnapshot(i) => {
            s.rpc = if i.offset == 0 {
                Rpc::Snapshot { size: i.total_size }
            } else {
                Rpc::SnapshotChunk
            };
            s.id = text(i.leader_id.as_bytes());
            if members {
                s.members.extend(
                    i.configuration
                        .servers
                        .iter()
                        .map(|m| (owned(m.id.as_bytes()), owned(m.address.as_bytes()))),
                );
            }
        }
        Message::TimeoutNow(t) => {
            s.rpc = Rpc::TimeoutNow;
            s.id = text(t.leader_id.as_bytes());
        }
        Message::RequestVoteResponse(r) => s.granted = Some(r.granted),
        Message::AppendEntriesResponse(r) => s.success = Some(r.success),
        Message::InstallSnapshotResponse(r) => s.success = Some(r.success),
        Message::TimeoutNowResponse(r) => s.success = Some(r.success),
        Message::Error(_) => s.name = "",
        // The leader-id family (SPEC.md §5.7): node ids are numbers, memberships list nodes.
        Message::Vote(v) => {
            s.rpc = Rpc::Vote {
                pre: false,
                transfer: false,
            };
            s.id = Some(Cow::Owned(v.vote.node.to_string()));
        }
        Message::Append(a) => {
            s.rpc = Rpc::Append {
                entries: a.entries.len() as u64,
            };
            s.id = Some(Cow::Owned(a.vote.node.to_string()));
            for m in a.entries.iter().filter(|_| members).filter_map(|e| e.membership()) {
                s.members
                    .extend(m.nodes.into_iter().map(|n| (n.id.to_string(), n.address)));
            }
        }
        Message::Snapshot(c) => {
            s.rpc = if c.offset == 0 {
                Rpc::Snapshot { size: c.total_size }
            } else {
                Rpc::SnapshotChunk
            };
            s.id = Some(Cow::Owned(c.vote.node.to_string()));
            if let Some(meta) = c.meta.as_ref().filter(|_| members) {
                s.members.extend(
                    meta.membership
                        .nodes
                        .iter()
                        .map(|n| (n.id.to_string(), n.address.clone())),
                );
            }
        }
        Message::VoteResponse(r) => s.granted = Some(r.granted),
        Message::AppendResponse(r) => {
            use raftwire_codec::AppendResponse as A;
            s.success = Some(matches!(r, A::Success | A::PartialSuccess(_)));
            // Every answer but HigherVote comes from a follower that took the leader's vote.
            s.accepts_leader = !matches!(r, A::HigherVote(_));
        }
        Message::SnapshotResponse(_) => {}
    }
    if s.rpc == (Rpc::Append { entries: 0 }) {
        s.name = match s.name {
            "AppendEntries" => "AppendEntries(heartbeat)",
            "Append" => "Append(heartbeat)",
            other => other,
        };
    }
    s
}

/// What an RFW/1 scanner event tells the cluster view: a frame's content, or a version byte the
/// receiver would reject (VER-1).
pub fn observe_rfw(trace: &mut super::Trace, end: usize, e: &raftwire_conformance::Event) {
    match e {
        raftwire_conformance::Event::Frame { offset, len, frame } => {
            let members = trace.detail().members.is_empty();
            trace.message(from_rfw(frame, *offset, *len, members))
        }
        raftwire_conformance::Event::Error { error, .. }
            if error.code == raftwire_codec::ErrorCode::UnsupportedVersion =>
        {
            trace.version(end, u8::try_from(error.found).unwrap_or(u8::MAX));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raftwire_codec::{AppendEntriesRequest, Id};

    #[test]
    fn an_rfw_append_entries_without_entries_is_a_heartbeat() {
        let ae = |entries: Vec<raftwire_codec::Entry>| {
            Frame::new(
                7,
                Message::AppendEntries(AppendEntriesRequest {
                    term: 3,
                    prev_log_index: 0,
                    prev_log_term: 0,
                    leader_commit: 0,
                    leader_id: Id::try_from("n1").unwrap_or_else(|_| unreachable!()),
                    entries: entries.into(),
                }),
            )
        };
        let heartbeat = ae(vec![]);
        let s = from_rfw(&heartbeat, 100, 50, true);
        assert_eq!(
            (s.name, s.rpc, s.end),
            ("AppendEntries(heartbeat)", Rpc::Append { entries: 0 }, 150)
        );
        assert_eq!((s.id.as_deref(), s.request_id, s.term), (Some("n1"), Some(7), Some(3)));
        let one = raftwire_codec::Entry {
            index: 1,
            term: 3,
            kind: raftwire_codec::EntryKind::Noop,
            data: bytes::Bytes::new(),
        };
        let with_one = ae(vec![one]);
        let s = from_rfw(&with_one, 0, 10, true);
        assert_eq!((s.name, s.rpc), ("AppendEntries", Rpc::Append { entries: 1 }));
    }
}
