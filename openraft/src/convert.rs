//! openraft's types in the leader-id family's bodies (`SPEC.md` §5.7) and back, field by field:
//! nothing travels as an opaque blob but the application's own command bytes.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use openraft::{BasicNode, CommittedLeaderId, EntryPayload, LeaderId, StoredMembership};
use raftwire_codec as rfw;

use crate::data::DataCodec;
use crate::RfwTypes;

pub(crate) fn vote_to(v: &openraft::Vote<u64>) -> rfw::LeaderVote {
    rfw::LeaderVote {
        term: v.leader_id.term,
        node: v.leader_id.node_id,
        committed: v.committed,
    }
}

pub(crate) fn vote_from(v: rfw::LeaderVote) -> openraft::Vote<u64> {
    openraft::Vote {
        leader_id: LeaderId::new(v.term, v.node),
        committed: v.committed,
    }
}

pub(crate) fn log_id_to(l: &openraft::LogId<u64>) -> rfw::LogId {
    rfw::LogId {
        term: l.leader_id.term,
        node: l.leader_id.node_id,
        index: l.index,
    }
}

pub(crate) fn log_id_from(l: rfw::LogId) -> openraft::LogId<u64> {
    openraft::LogId::new(CommittedLeaderId::new(l.term, l.node), l.index)
}

pub(crate) fn opt_to(l: &Option<openraft::LogId<u64>>) -> Option<rfw::LogId> {
    l.as_ref().map(log_id_to)
}

pub(crate) fn opt_from(l: Option<rfw::LogId>) -> Option<openraft::LogId<u64>> {
    l.map(log_id_from)
}

pub(crate) fn membership_to(m: &openraft::Membership<u64, BasicNode>) -> rfw::Membership {
    rfw::Membership {
        configs: m
            .get_joint_config()
            .iter()
            .map(|s| s.iter().copied().collect())
            .collect(),
        nodes: m
            .nodes()
            .map(|(id, n)| rfw::MemberNode {
                id: *id,
                address: n.addr.clone(),
            })
            .collect(),
    }
}

pub(crate) fn membership_from(m: rfw::Membership) -> openraft::Membership<u64, BasicNode> {
    let configs: Vec<BTreeSet<u64>> = m.configs.into_iter().map(|c| c.into_iter().collect()).collect();
    let nodes: BTreeMap<u64, BasicNode> = m
        .nodes
        .into_iter()
        .map(|n| (n.id, BasicNode { addr: n.address }))
        .collect();
    openraft::Membership::new(configs, nodes)
}

/// openraft's entries as the family's. The commands are encoded one after another into a single
/// buffer and each entry's data is a slice of it: one allocation for all of them, not one each.
///
/// `per_command` is what a command took last time (updated here): the buffer starts at that
/// times the entries, so a batch like the last one is written without growing it.
pub(crate) fn entries_to<C: RfwTypes>(
    entries: &[openraft::Entry<C>],
    codec: &dyn DataCodec<C::D>,
    per_command: &mut usize,
) -> Result<Vec<rfw::LogEntry>, String> {
    let mut commands = Vec::with_capacity(per_command.saturating_mul(entries.len()));
    let mut spans = Vec::with_capacity(entries.len());
    for e in entries {
        spans.push(match &e.payload {
            EntryPayload::Normal(d) => {
                let start = commands.len();
                codec.encode_into(d, &mut commands)?;
                Some(start..commands.len())
            }
            _ => None,
        });
    }
    if let Some(per) = commands.len().checked_div(entries.len()) {
        *per_command = per;
    }
    let commands = Bytes::from(commands);
    // A loop, not `collect` into a `Result`: that cannot say its length and grew the vector by
    // doubling.
    let mut out = Vec::with_capacity(entries.len());
    for (e, span) in entries.iter().zip(spans) {
        let (kind, data) = match (&e.payload, span) {
            (EntryPayload::Normal(_), Some(span)) => (rfw::LogEntryKind::Normal, commands.slice(span)),
            (EntryPayload::Membership(m), _) => (
                rfw::LogEntryKind::Membership,
                membership_to(m).to_entry_data().map_err(|e| e.to_string())?,
            ),
            _ => (rfw::LogEntryKind::Blank, Bytes::new()),
        };
        out.push(rfw::LogEntry {
            log_id: log_id_to(&e.log_id),
            kind,
            data,
        });
    }
    Ok(out)
}

/// The family's entries as openraft's, each command decoded by `codec`.
pub(crate) fn entries_from<C: RfwTypes>(
    entries: &[rfw::LogEntry],
    codec: &dyn DataCodec<C::D>,
) -> Result<Vec<openraft::Entry<C>>, String> {
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        out.push(entry_from::<C>(e, codec)?);
    }
    Ok(out)
}

pub(crate) fn entry_from<C: RfwTypes>(
    e: &rfw::LogEntry,
    codec: &dyn DataCodec<C::D>,
) -> Result<openraft::Entry<C>, String> {
    let payload = match e.kind {
        rfw::LogEntryKind::Blank => EntryPayload::Blank,
        rfw::LogEntryKind::Normal => EntryPayload::Normal(codec.decode(&e.data)?),
        rfw::LogEntryKind::Membership => {
            // Checked when the frame was decoded (AE-5, MEM-1, MEM-2).
            let m = e.membership().ok_or("a membership entry without a membership")?;
            EntryPayload::Membership(membership_from(m))
        }
    };
    Ok(openraft::Entry {
        log_id: log_id_from(e.log_id),
        payload,
    })
}

pub(crate) fn meta_to(m: &openraft::SnapshotMeta<u64, BasicNode>) -> rfw::SnapshotMeta {
    rfw::SnapshotMeta {
        last_log_id: opt_to(&m.last_log_id),
        membership_log_id: opt_to(m.last_membership.log_id()),
        membership: membership_to(m.last_membership.membership()),
    }
}

pub(crate) fn meta_from(m: rfw::SnapshotMeta, snapshot_id: String) -> openraft::SnapshotMeta<u64, BasicNode> {
    openraft::SnapshotMeta {
        last_log_id: opt_from(m.last_log_id),
        last_membership: StoredMembership::new(opt_from(m.membership_log_id), membership_from(m.membership)),
        snapshot_id,
    }
}

pub(crate) fn append_response_from(r: rfw::AppendResponse) -> openraft::raft::AppendEntriesResponse<u64> {
    use openraft::raft::AppendEntriesResponse as A;
    match r {
        rfw::AppendResponse::Success => A::Success,
        rfw::AppendResponse::PartialSuccess(m) => A::PartialSuccess(opt_from(m)),
        rfw::AppendResponse::Conflict => A::Conflict,
        rfw::AppendResponse::HigherVote(v) => A::HigherVote(vote_from(v)),
    }
}

pub(crate) fn append_response_to(r: &openraft::raft::AppendEntriesResponse<u64>) -> rfw::AppendResponse {
    use openraft::raft::AppendEntriesResponse as A;
    match r {
        A::Success => rfw::AppendResponse::Success,
        A::PartialSuccess(m) => rfw::AppendResponse::PartialSuccess(opt_to(m)),
        A::Conflict => rfw::AppendResponse::Conflict,
        A::HigherVote(v) => rfw::AppendResponse::HigherVote(vote_to(v)),
    }
}
