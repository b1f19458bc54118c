//! One line describing an RFW/1 message's fields.

use raftwire_codec::{AppendResponse, Frame, LeaderVote, LogId, Message};

/// One line describing a message's fields.
pub fn summary(frame: &Frame) -> String {
    match &frame.message {
        Message::RequestVote(m) => format!(
            "term={} last_log={}/{} candidate={}{}{}",
            m.term,
            m.last_log_index,
            m.last_log_term,
            m.candidate_id,
            if m.pre_vote { " pre-vote" } else { "" },
            if m.leadership_transfer {
                " leadership-transfer"
            } else {
                ""
            }
        ),
        Message::RequestVoteResponse(m) => format!("term={} granted={}", m.term, m.granted),
        Message::AppendEntries(m) => {
            let entries = match (m.entries.first(), m.entries.last()) {
                (Some(a), Some(b)) => format!(
                    "entries={}..={} ({}, {} bytes)",
                    a.index,
                    b.index,
                    m.entries.len(),
                    m.entries.iter().map(|e| e.data.len()).sum::<usize>()
                ),
                _ => "heartbeat".to_string(),
            };
            format!(
                "term={} prev={}/{} commit={} leader={} {entries}",
                m.term, m.prev_log_index, m.prev_log_term, m.leader_commit, m.leader_id
            )
        }
        Message::AppendEntriesResponse(m) => format!(
            "term={} success={} last_log={}{}",
            m.term,
            m.success,
            m.last_log_index,
            if m.success {
                String::new()
            } else {
                format!(" conflict={}/{}", m.conflict_index, m.conflict_term)
            }
        ),
        Message::InstallSnapshot(m) => format!(
            "term={} snapshot={} upto={}/{} chunk={}+{} of {}{}",
            m.term,
            m.snapshot_id,
            m.last_included_index,
            m.last_included_term,
            m.offset,
            m.data.len(),
            m.total_size,
            if m.done { " done" } else { "" }
        ),
        Message::InstallSnapshotResponse(m) => {
            format!("term={} success={} stored={}", m.term, m.success, m.bytes_stored)
        }
        Message::TimeoutNow(m) => format!("term={} leader={}", m.term, m.leader_id),
        Message::TimeoutNowResponse(m) => format!("term={} success={}", m.term, m.success),
        Message::Error(m) => format!("{:?}: {:?}", m.code, m.message),
        Message::Vote(m) => format!("vote={} last_log={}", vote(&m.vote), log_id(&m.last_log_id)),
        Message::VoteResponse(m) => format!(
            "vote={} granted={} last_log={}",
            vote(&m.vote),
            m.granted,
            log_id(&m.last_log_id)
        ),
        Message::Append(m) => {
            let entries = match (m.entries.first(), m.entries.last()) {
                (Some(a), Some(b)) => format!(
                    "entries={}..={} ({}, {} bytes)",
                    a.log_id.index,
                    b.log_id.index,
                    m.entries.len(),
                    m.entries.iter().map(|e| e.data.len()).sum::<usize>()
                ),
                _ => "heartbeat".to_string(),
            };
            format!(
                "vote={} prev={} commit={} {entries}",
                vote(&m.vote),
                log_id(&m.prev_log_id),
                log_id(&m.leader_commit)
            )
        }
        Message::AppendResponse(m) => match m {
            AppendResponse::Success => "success".to_string(),
            AppendResponse::PartialSuccess(l) => format!("partial-success matching={}", log_id(l)),
            AppendResponse::Conflict => "conflict".to_string(),
            AppendResponse::HigherVote(v) => format!("higher-vote={}", vote(v)),
        },
        Message::Snapshot(m) => format!(
            "vote={} snapshot={} chunk={}+{} of {}{}{}",
            vote(&m.vote),
            m.snapshot_id,
            m.offset,
            m.data.len(),
            m.total_size,
            m.meta
                .as_ref()
                .map(|meta| format!(" upto={}", log_id(&meta.last_log_id)))
                .unwrap_or_default(),
            if m.done { " done" } else { "" }
        ),
        Message::SnapshotResponse(m) => format!("vote={}", vote(&m.vote)),
    }
}

/// A leader-id family vote as openraft prints one: `T<term>-N<node>`, `:committed` when it is.
fn vote(v: &LeaderVote) -> String {
    format!("T{}-N{}{}", v.term, v.node, if v.committed { ":committed" } else { "" })
}

/// A leader-id family log id as `T<term>-N<node>.<index>`, `-` when absent.
fn log_id(l: &Option<LogId>) -> String {
    l.map_or("-".to_string(), |l| format!("T{}-N{}.{}", l.term, l.node, l.index))
}
