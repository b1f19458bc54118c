//! One line describing an RFW/1 message's fields.

use raftwire_codec::{Frame, Message};

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
    }
}
