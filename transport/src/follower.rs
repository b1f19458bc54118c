//! A Raft follower small enough to read in one sitting: the node `raftwire serve` runs, so probes,
//! demos and other implementations' clients have a peer that answers every request as Raft says.
//!
//! It keeps what a follower's answers depend on (its term, its vote, the index and term of each
//! entry, its commit index, the snapshot point and the transfer in progress) and none of the
//! entries' or snapshots' data: memory stays bounded however long it runs. The log holds at most
//! [`Follower::LOG_CAP`] entries; committed entries beyond that are folded into the snapshot point,
//! and a leader that would grow the log further without committing is answered `Overloaded`.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use raftwire_codec::*;

use crate::handler::Handler;

/// A follower that is never a candidate: it votes, appends, installs snapshots and reports its
/// state, but starts no election (so it answers TimeoutNow `success = false`).
#[derive(Debug)]
pub struct Follower {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    term: u64,
    voted_for: Option<Bytes>,
    /// The last index and term folded into a snapshot (0, 0 for none).
    snapshot: (u64, u64),
    /// Terms of the entries after the snapshot point, in index order.
    terms: VecDeque<u64>,
    commit: u64,
    /// Snapshot transfer in progress: its id, point and bytes received so far.
    receiving: Option<Receiving>,
}

#[derive(Debug)]
struct Receiving {
    id: Bytes,
    point: (u64, u64),
    total: u64,
    stored: u64,
}

impl State {
    fn last_index(&self) -> u64 {
        self.snapshot.0 + self.terms.len() as u64
    }

    fn last_term(&self) -> u64 {
        self.terms.back().copied().unwrap_or(self.snapshot.1)
    }

    /// The term of the entry at `index`, if the log (or the snapshot point) holds it.
    fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot.0 {
            return Some(self.snapshot.1);
        }
        let offset = index.checked_sub(self.snapshot.0 + 1)?;
        self.terms.get(usize::try_from(offset).ok()?).copied()
    }

    /// A request's term: stale ones are refused (`false`); a newer one is adopted.
    fn observe(&mut self, term: u64) -> bool {
        if term < self.term {
            return false;
        }
        if term > self.term {
            self.term = term;
            self.voted_for = None;
        }
        true
    }

    /// Folds committed entries into the snapshot point until the log is within `cap`.
    fn compact(&mut self, cap: usize) {
        while self.terms.len() > cap && self.snapshot.0 < self.commit {
            let Some(term) = self.terms.pop_front() else { break };
            self.snapshot = (self.snapshot.0 + 1, term);
        }
    }
}

impl Follower {
    /// Entries kept before committed ones are folded into the snapshot point.
    pub const LOG_CAP: usize = 4096;

    /// A follower at `term` (at least 1: MSG-1 forbids a term of 0 in its answers) whose log holds
    /// `entries`, one per term in `1..=term`, all committed: the state of a node that has
    /// followed a cluster through `term` elections.
    pub fn new(term: u64) -> Follower {
        let term = term.max(1);
        let kept = term.min(Follower::LOG_CAP as u64);
        let first = term - kept + 1;
        Follower {
            state: Mutex::new(State {
                term,
                voted_for: None,
                snapshot: (first - 1, first - 1),
                terms: (first..=term).collect(),
                commit: term,
                receiving: None,
            }),
        }
    }

    /// The follower's term, last log index and commit index.
    pub fn status(&self) -> (u64, u64, u64) {
        match self.state.lock() {
            Ok(s) => (s.term, s.last_index(), s.commit),
            Err(_) => (0, 0, 0),
        }
    }

    fn vote(s: &mut State, r: &RequestVoteRequest) -> Message {
        let up_to_date = (r.last_log_term, r.last_log_index) >= (s.last_term(), s.last_index());
        let granted = if r.pre_vote {
            // A pre-vote changes nothing: would a vote for this term be granted?
            r.term > s.term && up_to_date
        } else if s.observe(r.term) {
            let free = s
                .voted_for
                .as_ref()
                .is_none_or(|v| v.as_ref() == r.candidate_id.as_bytes());
            if free && up_to_date {
                s.voted_for = Some(r.candidate_id.to_bytes());
            }
            free && up_to_date
        } else {
            false
        };
        Message::RequestVoteResponse(RequestVoteResponse { term: s.term, granted })
    }

    fn append(s: &mut State, r: &AppendEntriesRequest) -> Message {
        let refuse = |s: &State, conflict_index: u64, conflict_term: u64| {
            Message::AppendEntriesResponse(AppendEntriesResponse {
                term: s.term,
                success: false,
                last_log_index: s.last_index(),
                conflict_index,
                conflict_term,
            })
        };
        if !s.observe(r.term) {
            return refuse(s, 0, 0);
        }
        if r.prev_log_index > s.last_index() {
            // Short log: the leader should resend from our end.
            return refuse(s, s.last_index() + 1, 0);
        }
        // Entries at or before the snapshot point are committed, so they match (Log Matching).
        if r.prev_log_index >= s.snapshot.0 {
            let ours = s.term_at(r.prev_log_index).unwrap_or(0);
            if ours != r.prev_log_term {
                let mut first = r.prev_log_index;
                while first > s.snapshot.0 + 1 && s.term_at(first - 1) == Some(ours) {
                    first -= 1;
                }
                return refuse(s, first, ours);
            }
        }
        let mut last_new = r.prev_log_index;
        for e in r.entries.iter() {
            last_new = e.index;
            if e.index <= s.snapshot.0 {
                continue;
            }
            match s.term_at(e.index) {
                Some(t) if t == e.term => continue,
                Some(_) => {
                    // A conflicting entry and everything after it go (never a committed one:
                    // a leader's log holds every committed entry).
                    let keep = usize::try_from(e.index - s.snapshot.0 - 1).unwrap_or(usize::MAX);
                    s.terms.truncate(keep);
                }
                None => {}
            }
            if s.terms.len() >= 2 * Follower::LOG_CAP {
                return Message::Error(ErrorResponse {
                    code: ErrorResponseCode::Overloaded,
                    message: format!("log full: {} uncommitted entries", s.terms.len()),
                });
            }
            s.terms.push_back(e.term);
        }
        if r.leader_commit > s.commit {
            s.commit = r.leader_commit.min(last_new).max(s.commit);
        }
        s.compact(Follower::LOG_CAP);
        Message::AppendEntriesResponse(AppendEntriesResponse {
            term: s.term,
            success: true,
            last_log_index: s.last_index(),
            conflict_index: 0,
            conflict_term: 0,
        })
    }

    fn install(s: &mut State, r: &InstallSnapshotRequest) -> Message {
        let answer = |s: &State, success: bool, bytes_stored: u64| {
            Message::InstallSnapshotResponse(InstallSnapshotResponse {
                term: s.term,
                success,
                bytes_stored,
            })
        };
        if !s.observe(r.term) {
            return answer(s, false, 0);
        }
        if r.offset == 0 {
            s.receiving = Some(Receiving {
                id: r.snapshot_id.to_bytes(),
                point: (r.last_included_index, r.last_included_term),
                total: r.total_size,
                stored: 0,
            });
        }
        let point = (r.last_included_index, r.last_included_term);
        let Some(t) = s.receiving.as_mut() else {
            return answer(s, false, 0);
        };
        if t.id.as_ref() != r.snapshot_id.as_bytes()
            || t.point != point
            || t.total != r.total_size
            || t.stored != r.offset
        {
            // Not the next chunk of the transfer in progress: say how much we hold.
            let stored = t.stored;
            return answer(s, false, stored);
        }
        t.stored += r.data.len() as u64;
        let stored = t.stored;
        if r.done {
            s.receiving = None;
            // An older point than the one we hold changes nothing.
            if point.0 > s.snapshot.0 {
                if s.term_at(point.0) == Some(point.1) {
                    // Our log continues the snapshot: keep what follows it.
                    let covered = usize::try_from(point.0 - s.snapshot.0).unwrap_or(usize::MAX);
                    s.terms.drain(..covered.min(s.terms.len()));
                } else {
                    s.terms.clear();
                }
                s.snapshot = point;
                s.commit = s.commit.max(point.0);
            }
        }
        answer(s, true, stored)
    }
}

impl Handler for Follower {
    fn handle(&self, request: &Frame) -> Message {
        let Ok(mut s) = self.state.lock() else {
            return Message::Error(ErrorResponse {
                code: ErrorResponseCode::Internal,
                message: "state lock poisoned".into(),
            });
        };
        match &request.message {
            Message::RequestVote(r) => Follower::vote(&mut s, r),
            Message::AppendEntries(r) => Follower::append(&mut s, r),
            Message::InstallSnapshot(r) => Follower::install(&mut s, r),
            Message::TimeoutNow(r) => {
                s.observe(r.term);
                // This node never campaigns, so it never starts the election asked for.
                Message::TimeoutNowResponse(TimeoutNowResponse {
                    term: s.term,
                    success: false,
                })
            }
            _ => Message::Error(ErrorResponse {
                code: ErrorResponseCode::Unsupported,
                message: "not a request".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Id {
        Id::try_from(s).unwrap()
    }

    fn append(f: &Follower, term: u64, prev: (u64, u64), entries: &[(u64, u64)], commit: u64) -> Message {
        let entries = entries
            .iter()
            .map(|&(index, term)| Entry {
                index,
                term,
                kind: EntryKind::Command,
                data: Bytes::from_static(b"x"),
            })
            .collect();
        f.handle(&Frame::new(
            1,
            Message::AppendEntries(AppendEntriesRequest {
                term,
                prev_log_index: prev.0,
                prev_log_term: prev.1,
                leader_commit: commit,
                leader_id: id("leader"),
                entries,
            }),
        ))
    }

    fn ae(term: u64, success: bool, last_log_index: u64, conflict_index: u64, conflict_term: u64) -> Message {
        Message::AppendEntriesResponse(AppendEntriesResponse {
            term,
            success,
            last_log_index,
            conflict_index,
            conflict_term,
        })
    }

    fn vote(f: &Follower, term: u64, last: (u64, u64), pre_vote: bool, candidate: &str) -> Message {
        f.handle(&Frame::new(
            1,
            Message::RequestVote(RequestVoteRequest {
                term,
                last_log_index: last.0,
                last_log_term: last.1,
                pre_vote,
                leadership_transfer: false,
                candidate_id: id(candidate),
            }),
        ))
    }

    fn granted(term: u64, granted: bool) -> Message {
        Message::RequestVoteResponse(RequestVoteResponse { term, granted })
    }

    #[test]
    fn a_stale_leader_is_refused_and_changes_nothing() {
        let f = Follower::new(5);
        assert_eq!(append(&f, 1, (5, 5), &[(6, 1)], 6), ae(5, false, 5, 0, 0));
        assert_eq!(f.status(), (5, 5, 5));
    }

    #[test]
    fn entries_that_continue_the_log_are_appended_and_committed_up_to_the_last_new_one() {
        let f = Follower::new(5);
        assert_eq!(append(&f, 6, (5, 5), &[(6, 6), (7, 6)], 100), ae(6, true, 7, 0, 0));
        assert_eq!(f.status(), (6, 7, 7));
        // A repeat of entries already held changes nothing and still succeeds.
        assert_eq!(append(&f, 6, (5, 5), &[(6, 6)], 7), ae(6, true, 7, 0, 0));
        assert_eq!(f.status(), (6, 7, 7));
    }

    #[test]
    fn a_short_log_asks_for_the_entries_after_its_end() {
        let f = Follower::new(5);
        assert_eq!(append(&f, 6, (9, 6), &[], 9), ae(6, false, 5, 6, 0));
    }

    #[test]
    fn a_mismatched_previous_entry_names_the_first_index_of_its_term() {
        let f = Follower::new(5);
        append(&f, 6, (5, 5), &[(6, 6), (7, 6), (8, 6)], 5);
        assert_eq!(append(&f, 7, (8, 7), &[], 5), ae(7, false, 8, 6, 6));
        assert_eq!(append(&f, 7, (3, 2), &[], 5), ae(7, false, 8, 3, 3));
    }

    #[test]
    fn a_conflicting_entry_replaces_it_and_everything_after_it() {
        let f = Follower::new(5);
        append(&f, 6, (5, 5), &[(6, 6), (7, 6), (8, 6)], 5);
        assert_eq!(append(&f, 7, (6, 6), &[(7, 7)], 5), ae(7, true, 7, 0, 0));
        assert_eq!(
            append(&f, 7, (7, 6), &[], 5),
            ae(7, false, 7, 7, 7),
            "index 7 is now of term 7"
        );
    }

    #[test]
    fn votes_follow_term_log_and_who_was_voted_for() {
        let f = Follower::new(5);
        assert_eq!(vote(&f, 4, (9, 4), false, "a"), granted(5, false), "stale term");
        assert_eq!(vote(&f, 6, (4, 4), false, "a"), granted(6, false), "log behind ours");
        assert_eq!(vote(&f, 6, (5, 5), false, "b"), granted(6, true));
        assert_eq!(
            vote(&f, 6, (5, 5), false, "c"),
            granted(6, false),
            "already voted in term 6"
        );
        assert_eq!(
            vote(&f, 6, (5, 5), false, "b"),
            granted(6, true),
            "the same candidate again"
        );
        assert_eq!(
            vote(&f, 8, (5, 5), true, "c"),
            granted(6, true),
            "a pre-vote keeps our term"
        );
        assert_eq!(
            vote(&f, 6, (5, 5), true, "c"),
            granted(6, false),
            "a pre-vote for our own term"
        );
        assert_eq!(f.status().0, 6);
    }

    fn chunk(f: &Follower, snapshot: &str, offset: u64, data: &'static [u8], total: u64) -> Message {
        f.handle(&Frame::new(
            1,
            Message::InstallSnapshot(Box::new(InstallSnapshotRequest {
                term: 9,
                last_included_index: 40,
                last_included_term: 8,
                total_size: total,
                offset,
                done: offset + data.len() as u64 == total,
                leader_id: id("leader"),
                snapshot_id: id(snapshot),
                configuration: Configuration::default(),
                data: Bytes::from_static(data),
            })),
        ))
    }

    fn stored(success: bool, bytes_stored: u64) -> Message {
        Message::InstallSnapshotResponse(InstallSnapshotResponse {
            term: 9,
            success,
            bytes_stored,
        })
    }

    #[test]
    fn a_snapshot_is_installed_chunk_by_chunk_and_replaces_a_log_it_does_not_continue() {
        let f = Follower::new(5);
        assert_eq!(chunk(&f, "s1", 4, b"efgh", 10), stored(false, 0), "no transfer started");
        assert_eq!(chunk(&f, "s1", 0, b"abcd", 10), stored(true, 4));
        assert_eq!(chunk(&f, "s1", 6, b"gh", 10), stored(false, 4), "a gap");
        assert_eq!(chunk(&f, "s2", 4, b"efgh", 10), stored(false, 4), "another snapshot");
        assert_eq!(f.status(), (9, 5, 5), "nothing installed before the last chunk");
        assert_eq!(chunk(&f, "s1", 4, b"efghij", 10), stored(true, 10));
        assert_eq!(f.status(), (9, 40, 40));
        assert_eq!(append(&f, 9, (40, 8), &[(41, 9)], 41), ae(9, true, 41, 0, 0));
    }

    #[test]
    fn after_a_snapshot_conflicts_and_truncations_count_from_its_point() {
        let f = Follower::new(5);
        assert_eq!(chunk(&f, "s1", 0, b"abcdefghij", 10), stored(true, 10));
        // The log after the snapshot point (40, 8): 41, 42 of term 8, 43 of term 9.
        append(&f, 9, (40, 8), &[(41, 8), (42, 8), (43, 9)], 40);
        assert_eq!(f.status(), (9, 43, 40));
        // A mismatch at 42: the first index of term 8 after the point is 41, not the point.
        assert_eq!(append(&f, 9, (42, 7), &[], 41), ae(9, false, 43, 41, 8));
        // A conflicting entry at 42 replaces 42 and 43, nothing before.
        assert_eq!(append(&f, 10, (41, 8), &[(42, 10)], 41), ae(10, true, 42, 0, 0));
        assert_eq!(
            append(&f, 10, (41, 8), &[], 41),
            ae(10, true, 42, 0, 0),
            "41 is still there"
        );
    }

    #[test]
    fn a_later_snapshot_our_log_continues_keeps_what_follows_it() {
        let f = Follower::new(5);
        assert_eq!(chunk(&f, "s1", 0, b"abcdefghij", 10), stored(true, 10));
        append(&f, 9, (40, 8), &[(41, 9), (42, 9), (43, 9), (44, 9)], 44);
        let later = |offset: u64, data: &'static [u8]| {
            f.handle(&Frame::new(
                1,
                Message::InstallSnapshot(Box::new(InstallSnapshotRequest {
                    term: 9,
                    last_included_index: 42,
                    last_included_term: 9,
                    total_size: 4,
                    offset,
                    done: offset + data.len() as u64 == 4,
                    leader_id: id("leader"),
                    snapshot_id: id("s2"),
                    configuration: Configuration::default(),
                    data: Bytes::from_static(data),
                })),
            ))
        };
        assert_eq!(later(0, b"wxyz"), stored(true, 4));
        assert_eq!(f.status(), (9, 44, 44), "43 and 44 follow the new point and are kept");
        assert_eq!(append(&f, 9, (44, 9), &[], 44), ae(9, true, 44, 0, 0));
    }

    #[test]
    fn a_chunk_that_differs_in_any_one_way_does_not_continue_the_transfer() {
        let base = InstallSnapshotRequest {
            term: 9,
            last_included_index: 40,
            last_included_term: 8,
            total_size: 10,
            offset: 4,
            done: false,
            leader_id: id("leader"),
            snapshot_id: id("s1"),
            configuration: Configuration::default(),
            data: Bytes::from_static(b"ef"),
        };
        let variants: [fn(&mut InstallSnapshotRequest); 5] = [
            |r| r.snapshot_id = id("s2"),
            |r| r.last_included_index = 41,
            |r| r.last_included_term = 9,
            |r| r.total_size = 11,
            |r| r.offset = 5,
        ];
        for (k, change) in variants.iter().enumerate() {
            let f = Follower::new(5);
            assert_eq!(chunk(&f, "s1", 0, b"abcd", 10), stored(true, 4));
            let mut r = base.clone();
            change(&mut r);
            let answer = f.handle(&Frame::new(1, Message::InstallSnapshot(Box::new(r))));
            assert_eq!(answer, stored(false, 4), "variant {k}");
            let same = f.handle(&Frame::new(1, Message::InstallSnapshot(Box::new(base.clone()))));
            assert_eq!(same, stored(true, 6), "variant {k}: the transfer goes on");
        }
    }

    #[test]
    fn committed_entries_are_folded_so_the_log_stays_bounded() {
        let f = Follower::new(1);
        let cap = Follower::LOG_CAP as u64;
        let batch: Vec<(u64, u64)> = (2..=3 * cap).map(|i| (i, 1)).collect();
        for part in batch.chunks(100) {
            let prev = part[0].0 - 1;
            append(&f, 1, (prev, 1), part, part[part.len() - 1].0);
        }
        assert_eq!(f.status(), (1, 3 * cap, 3 * cap));
        let s = f.state.lock().unwrap();
        assert_eq!(s.terms.len(), Follower::LOG_CAP);
        assert_eq!(s.snapshot, (2 * cap, 1));
    }

    #[test]
    fn a_leader_that_never_commits_cannot_grow_the_log_without_bound() {
        let f = Follower::new(1);
        let cap = Follower::LOG_CAP as u64;
        let batch: Vec<(u64, u64)> = (2..=3 * cap).map(|i| (i, 1)).collect();
        let mut refused = None;
        for part in batch.chunks(100) {
            let prev = part[0].0 - 1;
            if let Message::Error(e) = append(&f, 1, (prev, 1), part, 1) {
                refused = Some(e.code);
                break;
            }
        }
        assert_eq!(refused, Some(ErrorResponseCode::Overloaded));
        assert!(f.state.lock().unwrap().terms.len() <= 2 * Follower::LOG_CAP);
    }
}
