//! A small Raft cluster, simulated just enough to produce the traffic a real one would: pre-vote
//! and election, a leader's no-op, pipelined replication with heartbeats, a follower that falls
//! behind and is repaired with a conflict hint, a membership change, a snapshot streamed in chunks
//! to a late joiner, a leadership transfer, and a node shutting down.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use raftwire_codec::*;

use super::traffic::{Endpoints, Sink};
use raftwire_conformance::Direction;

/// xorshift64*, so a seed always gives the same traffic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    pub fn bytes(&mut self, n: usize) -> Bytes {
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        Bytes::from(v)
    }
}

fn id(s: &str) -> Id {
    Id::try_from(s).unwrap_or_else(|_| unreachable!("static ids are 1-255 bytes"))
}

fn addr(node: usize) -> String {
    format!("10.0.0.{node}:7000")
}

/// A connection the simulation has used: its id for the sink and its last request id.
struct Conn {
    id: usize,
    last_request_id: u64,
}

/// Runs the cluster, handing each frame to the sink as it is sent.
struct Sim<'s> {
    rng: Rng,
    now: u64,
    conns: BTreeMap<String, Conn>,
    next_port: u16,
    sink: &'s mut dyn Sink,
}

impl Sim<'_> {
    /// Connection `name`, opened (a new client port) on first use.
    fn conn(&mut self, name: &str, client: usize, server: usize) -> &mut Conn {
        if !self.conns.contains_key(name) {
            let port = self.next_port;
            self.next_port += 1;
            let id = self.conns.len();
            self.sink.open(
                id,
                &Endpoints {
                    name: name.to_string(),
                    client: format!("10.0.0.{client}:{port}"),
                    server: addr(server),
                },
            );
            self.conns.insert(name.to_string(), Conn { id, last_request_id: 0 });
        }
        self.conns
            .get_mut(name)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    fn tick(&mut self, max_us: u64) -> u64 {
        self.now += self.rng.range(20, max_us);
        self.now
    }

    /// Sends `request` on connection `name` and returns its request id.
    fn send(&mut self, name: &str, client: usize, server: usize, request: Message) -> u64 {
        let conn = self.conn(name, client, server);
        conn.last_request_id += 1;
        let (id, rid) = (conn.id, conn.last_request_id);
        let t = self.tick(300);
        self.sink
            .frame(id, t, Direction::ClientToServer, &Frame::new(rid, request));
        rid
    }

    fn answer(&mut self, name: &str, rid: u64, response: Message) {
        let t = self.tick(400);
        if let Some(c) = self.conns.get(name) {
            self.sink
                .frame(c.id, t, Direction::ServerToClient, &Frame::new(rid, response));
        }
    }

    /// A request answered right away.
    fn call(&mut self, name: &str, client: usize, server: usize, request: Message, response: Message) {
        let rid = self.send(name, client, server, request);
        self.answer(name, rid, response);
    }
}

fn configuration(members: &[(usize, Suffrage)]) -> Configuration {
    Configuration {
        servers: members
            .iter()
            .map(|&(n, suffrage)| Server {
                suffrage,
                id: id(&format!("n{n}")),
                address: id(&addr(n)),
            })
            .collect(),
    }
}

/// The leader's log, as much of it as the simulation may still send: entries older than any a
/// follower can still ask for are forgotten, so memory does not grow with `--rounds`.
#[derive(Default)]
struct Log {
    /// Entries from index `forgotten + 1` on.
    forgotten: u64,
    entries: VecDeque<Entry>,
}

impl Log {
    /// The last index.
    fn last(&self) -> u64 {
        self.forgotten + self.entries.len() as u64
    }

    /// Appends an entry at the next index.
    fn push(&mut self, term: u64, kind: EntryKind, data: Bytes) {
        let index = self.last() + 1;
        self.entries.push_back(Entry {
            index,
            term,
            kind,
            data,
        });
    }

    /// The term of entry `index` (0 for index 0, which precedes the log).
    fn term_at(&self, index: u64) -> u64 {
        index
            .checked_sub(self.forgotten + 1)
            .and_then(|at| self.entries.get(at as usize))
            .map_or(0, |e| e.term)
    }

    /// The entries after `index`.
    fn after(&self, index: u64) -> Vec<Entry> {
        let skip = index.saturating_sub(self.forgotten) as usize;
        self.entries.iter().skip(skip).cloned().collect()
    }

    /// Forgets the entries before `index`.
    fn forget_before(&mut self, index: u64) {
        while self.forgotten + 1 < index && self.entries.pop_front().is_some() {
            self.forgotten += 1;
        }
    }
}

fn ae_ok(term: u64, last: u64) -> Message {
    Message::AppendEntriesResponse(AppendEntriesResponse {
        term,
        success: true,
        last_log_index: last,
        conflict_index: 0,
        conflict_term: 0,
    })
}

/// Runs the whole cluster for `seed`, handing its traffic to `sink`. `rounds` scales the
/// replication phase; memory does not grow with it.
pub fn simulate(seed: u64, rounds: usize, sink: &mut dyn Sink) {
    let mut s = Sim {
        rng: Rng::new(seed),
        now: 1_000_000,
        conns: BTreeMap::new(),
        next_port: 40000,
        sink,
    };
    let mut log = Log::default();

    // Election: n1 pre-votes (fresh voters answer term 0), then campaigns for term 1.
    for peer in [2, 3] {
        let name = format!("n1-n{peer}");
        let rv = |pre_vote| {
            Message::RequestVote(RequestVoteRequest {
                term: 1,
                last_log_index: 0,
                last_log_term: 0,
                pre_vote,
                leadership_transfer: false,
                candidate_id: id("n1"),
            })
        };
        s.call(
            &name,
            1,
            peer,
            rv(true),
            Message::RequestVoteResponse(RequestVoteResponse { term: 0, granted: true }),
        );
        s.call(
            &name,
            1,
            peer,
            rv(false),
            Message::RequestVoteResponse(RequestVoteResponse { term: 1, granted: true }),
        );
    }
    let term = 1;
    log.push(term, EntryKind::Noop, Bytes::new());
    let config = configuration(&[(1, Suffrage::Voter), (2, Suffrage::Voter), (3, Suffrage::Voter)]);
    log.push(
        term,
        EntryKind::Configuration,
        config.to_entry_data().unwrap_or_default(),
    );
    let mut matched = BTreeMap::from([(2usize, 0u64), (3, 0)]);

    // Replication: batches of commands pipelined on a dedicated connection per follower, with
    // heartbeats on the ordinary one. n3 misses a batch once and is repaired via the conflict hint.
    for round in 0..rounds {
        let batch = s.rng.range(1, 12);
        for _ in 0..batch {
            let size = if s.rng.range(0, 40) == 0 {
                s.rng.range(16_000, 70_000)
            } else {
                s.rng.range(8, 600)
            } as usize;
            let data = s.rng.bytes(size);
            log.push(term, EntryKind::Command, data);
        }
        let commit = log.last() - batch;
        for peer in [2usize, 3] {
            let from = matched[&peer];
            let prev_term = log.term_at(from);
            let req = AppendEntriesRequest {
                term,
                prev_log_index: from,
                prev_log_term: prev_term,
                leader_commit: commit,
                leader_id: id("n1"),
                entries: log.after(from).into(),
            };
            let pipe = format!("n1-n{peer}-pipeline");
            if peer == 3 && round == rounds / 2 {
                // Lost on the way: n3 answers a later request with a conflict hint.
                let rid = s.send(&pipe, 1, peer, Message::AppendEntries(req.clone()));
                let hint = AppendEntriesResponse {
                    term,
                    success: false,
                    last_log_index: from.saturating_sub(2),
                    conflict_index: from.saturating_sub(2).max(1),
                    conflict_term: if from > 2 { term } else { 0 },
                };
                s.answer(&pipe, rid, Message::AppendEntriesResponse(hint));
                let back = from.saturating_sub(2);
                let retry = AppendEntriesRequest {
                    prev_log_index: back,
                    prev_log_term: log.term_at(back),
                    entries: log.after(back).into(),
                    ..req
                };
                let rid = s.send(&pipe, 1, peer, Message::AppendEntries(retry));
                s.answer(&pipe, rid, ae_ok(term, log.last()));
            } else {
                // Pipelined: send now, answer after the heartbeat below.
                let rid = s.send(&pipe, 1, peer, Message::AppendEntries(req));
                let hb = AppendEntriesRequest {
                    term,
                    prev_log_index: from,
                    prev_log_term: prev_term,
                    leader_commit: commit,
                    leader_id: id("n1"),
                    entries: vec![].into(),
                };
                let name = format!("n1-n{peer}");
                s.call(&name, 1, peer, Message::AppendEntries(hb), ae_ok(term, from));
                s.answer(&pipe, rid, ae_ok(term, log.last()));
            }
            matched.insert(peer, log.last());
        }
        // The oldest entry a follower may be sent again is two before the least it holds.
        let least = matched.values().copied().min().unwrap_or(0);
        log.forget_before(least.saturating_sub(2));
    }

    // Membership change: n4 joins as a non-voter; its empty log is repaired with a snapshot.
    let joined = configuration(&[
        (1, Suffrage::Voter),
        (2, Suffrage::Voter),
        (3, Suffrage::Voter),
        (4, Suffrage::Nonvoter),
    ]);
    log.push(
        term,
        EntryKind::Configuration,
        joined.to_entry_data().unwrap_or_default(),
    );
    let last = log.last();
    let probe = AppendEntriesRequest {
        term,
        prev_log_index: last - 1,
        prev_log_term: term,
        leader_commit: last - 1,
        leader_id: id("n1"),
        entries: log.after(last - 1).into(),
    };
    let refuse = AppendEntriesResponse {
        term,
        success: false,
        last_log_index: 0,
        conflict_index: 1,
        conflict_term: 0,
    };
    s.call(
        "n1-n4",
        1,
        4,
        Message::AppendEntries(probe),
        Message::AppendEntriesResponse(refuse),
    );
    let snapshot_len = s.rng.range(20_000, 90_000) as usize;
    let snapshot = s.rng.bytes(snapshot_len);
    let total = snapshot.len() as u64;
    let mut offset = 0u64;
    while offset < total || total == 0 {
        let len = s.rng.range(4_096, 16_384).min(total - offset);
        let chunk = InstallSnapshotRequest {
            term,
            last_included_index: last,
            last_included_term: term,
            total_size: total,
            offset,
            done: offset + len == total,
            leader_id: id("n1"),
            snapshot_id: id(&format!("1-{last}-{seed}")),
            configuration: if offset == 0 {
                joined.clone()
            } else {
                Configuration::default()
            },
            data: snapshot.slice(offset as usize..(offset + len) as usize),
        };
        offset += len;
        let stored = InstallSnapshotResponse {
            term,
            success: true,
            bytes_stored: offset,
        };
        s.call(
            "n1-n4-snapshot",
            1,
            4,
            Message::InstallSnapshot(Box::new(chunk)),
            Message::InstallSnapshotResponse(stored),
        );
        if total == 0 {
            break;
        }
    }

    // Leadership transfer to n2: TimeoutNow, then n2's election in term 2.
    s.call(
        "n1-n2",
        1,
        2,
        Message::TimeoutNow(TimeoutNowRequest {
            term,
            leader_id: id("n1"),
        }),
        Message::TimeoutNowResponse(TimeoutNowResponse { term, success: true }),
    );
    let term = 2;
    for peer in [1usize, 3, 4] {
        let vote = RequestVoteRequest {
            term,
            last_log_index: last,
            last_log_term: 1,
            pre_vote: false,
            leadership_transfer: true,
            candidate_id: id("n2"),
        };
        let name = format!("n2-n{peer}");
        let granted = peer != 4; // non-voters do not vote
        s.call(
            &name,
            2,
            peer,
            Message::RequestVote(vote),
            Message::RequestVoteResponse(RequestVoteResponse { term, granted }),
        );
    }
    log.push(term, EntryKind::Noop, Bytes::new());
    for peer in [1usize, 3, 4] {
        let name = format!("n2-n{peer}");
        let req = AppendEntriesRequest {
            term,
            prev_log_index: last,
            prev_log_term: 1,
            leader_commit: last,
            leader_id: id("n2"),
            entries: log.after(last).into(),
        };
        s.call(&name, 2, peer, Message::AppendEntries(req), ae_ok(term, last + 1));
    }
    // n3 shuts down: n2's next heartbeat is refused with an Error response.
    let hb = AppendEntriesRequest {
        term,
        prev_log_index: last + 1,
        prev_log_term: term,
        leader_commit: last + 1,
        leader_id: id("n2"),
        entries: vec![].into(),
    };
    let bye = ErrorResponse {
        code: ErrorResponseCode::Unavailable,
        message: "raft is shutting down".into(),
    };
    s.call("n2-n3", 2, 3, Message::AppendEntries(hb), Message::Error(bye));
}
