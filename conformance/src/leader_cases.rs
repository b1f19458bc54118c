//! The cases of the leader-id family (`SPEC.md` §5.7, revision 1.1): valid messages of every
//! type and shape, and a reject for each of the family's requirements and each reading of an
//! older requirement it makes. Built like the classic cases: a valid message encoded, one field
//! patched at a payload offset written out below, the frame resealed.

use raftwire_codec::craft::{reseal_in_place, RawFrame};
use raftwire_codec::*;

use crate::cases::Case;
use crate::cases::Verdict;

fn vote(term: u64, node: u64, committed: bool) -> LeaderVote {
    LeaderVote { term, node, committed }
}

fn log_id(term: u64, node: u64, index: u64) -> LogId {
    LogId { term, node, index }
}

fn nodes(ids: &[u64]) -> Vec<MemberNode> {
    ids.iter()
        .map(|&id| MemberNode {
            id,
            address: format!("10.0.0.{id}:21001"),
        })
        .collect()
}

/// A joint membership: voters {1,2,3} moving to {2,3,4}; node addresses are 14 bytes each.
fn joint() -> Membership {
    Membership {
        configs: vec![vec![1, 2, 3], vec![2, 3, 4]],
        nodes: nodes(&[1, 2, 3, 4]),
    }
}

fn data(m: &Membership) -> bytes::Bytes {
    m.to_entry_data().unwrap_or_else(|e| unreachable!("{e}"))
}

/// The family's valid messages, named, with the requirement each illustrates.
pub(crate) fn valid_messages() -> Vec<(&'static str, &'static str, Message)> {
    vec![
        (
            "vote",
            "LV-1",
            Message::Vote(VoteRequest {
                vote: vote(5, 2, false),
                last_log_id: Some(log_id(4, 1, 10)),
            }),
        ),
        (
            "vote_empty_log",
            "LV-2",
            Message::Vote(VoteRequest {
                vote: vote(1, 1, false),
                last_log_id: None,
            }),
        ),
        (
            "vote_response_granted",
            "LV-1",
            Message::VoteResponse(VoteResponse {
                vote: vote(5, 2, false),
                granted: true,
                last_log_id: Some(log_id(4, 1, 10)),
            }),
        ),
        (
            "vote_response_never_voted",
            "MSG-1",
            Message::VoteResponse(VoteResponse::default()),
        ),
        (
            "append",
            "AE-2",
            Message::Append(AppendRequest {
                vote: vote(5, 2, true),
                prev_log_id: Some(log_id(4, 1, 10)),
                leader_commit: Some(log_id(4, 1, 9)),
                entries: vec![
                    LogEntry {
                        log_id: log_id(4, 1, 11),
                        kind: LogEntryKind::Normal,
                        data: bytes::Bytes::from_static(b"set x=1"),
                    },
                    LogEntry {
                        log_id: log_id(5, 2, 12),
                        kind: LogEntryKind::Blank,
                        data: bytes::Bytes::new(),
                    },
                    LogEntry {
                        log_id: log_id(5, 2, 13),
                        kind: LogEntryKind::Membership,
                        data: data(&joint()),
                    },
                ],
            }),
        ),
        (
            "append_from_log_start",
            "AE-2",
            Message::Append(AppendRequest {
                vote: vote(1, 1, true),
                prev_log_id: None,
                leader_commit: None,
                entries: vec![LogEntry {
                    log_id: log_id(0, 0, 0),
                    kind: LogEntryKind::Membership,
                    data: data(&Membership {
                        configs: vec![vec![1]],
                        nodes: vec![MemberNode {
                            id: 1,
                            address: String::new(),
                        }],
                    }),
                }],
            }),
        ),
        (
            "append_heartbeat",
            "LV-2",
            Message::Append(AppendRequest {
                vote: vote(7, 3, true),
                prev_log_id: Some(log_id(7, 3, 40)),
                leader_commit: Some(log_id(7, 3, 40)),
                entries: Vec::new(),
            }),
        ),
        (
            "append_response_success",
            "FIELD-3",
            Message::AppendResponse(AppendResponse::Success),
        ),
        (
            "append_response_partial",
            "FIELD-3",
            Message::AppendResponse(AppendResponse::PartialSuccess(Some(log_id(4, 1, 11)))),
        ),
        (
            "append_response_conflict",
            "FIELD-3",
            Message::AppendResponse(AppendResponse::Conflict),
        ),
        (
            "append_response_higher_vote",
            "FIELD-3",
            Message::AppendResponse(AppendResponse::HigherVote(vote(6, 3, false))),
        ),
        (
            "leader_snapshot_first_chunk",
            "IS-3",
            Message::Snapshot(Box::new(SnapshotChunk {
                vote: vote(5, 2, true),
                total_size: 10,
                offset: 0,
                done: false,
                snapshot_id: "4-100-1".into(),
                meta: Some(SnapshotMeta {
                    last_log_id: Some(log_id(4, 1, 100)),
                    membership_log_id: Some(log_id(3, 1, 50)),
                    membership: Membership {
                        configs: vec![vec![1, 2, 3]],
                        nodes: nodes(&[1, 2, 3]),
                    },
                }),
                data: bytes::Bytes::from_static(b"abcd"),
            })),
        ),
        (
            "leader_snapshot_last_chunk",
            "IS-2",
            Message::Snapshot(Box::new(SnapshotChunk {
                vote: vote(5, 2, true),
                total_size: 10,
                offset: 4,
                done: true,
                snapshot_id: "4-100-1".into(),
                meta: None,
                data: bytes::Bytes::from_static(b"efghij"),
            })),
        ),
        (
            "leader_snapshot_uninitialised",
            "IS-4",
            Message::Snapshot(Box::new(SnapshotChunk {
                vote: vote(1, 1, true),
                total_size: 0,
                offset: 0,
                done: true,
                snapshot_id: "0".into(),
                meta: Some(SnapshotMeta::default()),
                data: bytes::Bytes::new(),
            })),
        ),
        (
            "snapshot_response",
            "LV-1",
            Message::SnapshotResponse(SnapshotResponse { vote: vote(5, 2, true) }),
        ),
    ]
}

/// The family's rejects. Payload offsets (see the layouts in `SPEC.md` §5.7):
/// `vote`: committed 16, last_log_id's present flag 17, its term 18.
/// `append`: committed 16, prev_log_id 17 (term 18), leader_commit 42 (term 43), count 67,
/// entry 1 at 71 (index 87, kind 95, data length 96, data 100), entry 2 at 107 (node 115),
/// entry 3 at 136 (kind 160, data length 161, membership 165: second voter 177, node count 219,
/// second node id 245; the second set's last voter 211).
/// `leader_snapshot_first_chunk`: done 33, total_size 17, meta_present 43, membership_log_id 69
/// (index 86), data length 196. `leader_snapshot_last_chunk`: meta_present 43.
/// A first and only chunk: payload vote 0, sizes 17, done 33, id 34, meta 37, last_log_id 38
/// (present, 25 bytes), membership_log_id 63 (present or not), then `membership` and empty data.
fn single_chunk_snapshot(membership_log_id: bool, membership: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    p.extend_from_slice(&0u64.to_be_bytes());
    p.extend_from_slice(&0u64.to_be_bytes());
    p.push(1);
    p.extend_from_slice(&[0, 1, b'0']);
    p.push(1);
    for present in [true, membership_log_id] {
        p.push(present as u8);
        if present {
            p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
            p.extend_from_slice(&5u64.to_be_bytes());
        }
    }
    p.extend_from_slice(membership);
    p.extend_from_slice(&0u32.to_be_bytes());
    p
}

/// A membership of node 1 alone: as a learner (no voter set) or as the voter.
fn node_one(voter: bool) -> Vec<u8> {
    let mut m = if voter {
        vec![0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    } else {
        vec![0, 0]
    };
    m.extend_from_slice(&[0, 1]);
    m.extend_from_slice(&1u64.to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m
}

pub(crate) fn rejects(messages: &[(&'static str, &'static str, Message)]) -> Vec<Case> {
    let encoded = |name: &str| -> Vec<u8> {
        messages
            .iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|(_, _, m)| Frame::new(1, m.clone()).to_bytes().ok())
            .map(|b| b.to_vec())
            .unwrap_or_default()
    };
    let patch = |name: &str, at: usize, bytes: &[u8]| {
        let mut b = encoded(name);
        if let Some(field) = b.get_mut(HEADER_LEN + at..HEADER_LEN + at + bytes.len()) {
            field.copy_from_slice(bytes);
        }
        reseal_in_place(&mut b);
        b
    };
    let u64be = |v: u64| v.to_be_bytes();
    let h = HEADER_LEN as u64;
    // The `append` payload with its third entry's data replaced (the data length follows).
    let append_payload = {
        let b = encoded("append");
        b.get(HEADER_LEN..b.len() - TRAILER_LEN).unwrap_or_default().to_vec()
    };
    let with_membership = |data: &[u8]| {
        let mut p = append_payload.get(..161).unwrap_or_default().to_vec();
        p.extend_from_slice(&(data.len() as u32).to_be_bytes());
        p.extend_from_slice(data);
        RawFrame::new(MessageType::Append as u8, p).bytes()
    };
    let table: Vec<(&str, &'static str, Vec<u8>, ErrorCode, u64)> = vec![
        (
            "vote_zero_term",
            "MSG-1",
            patch("vote", 0, &u64be(0)),
            ErrorCode::ZeroTerm,
            h,
        ),
        (
            "vote_committed",
            "LV-1",
            patch("vote", 16, &[1]),
            ErrorCode::BadVoteCommit,
            h + 16,
        ),
        (
            "append_uncommitted",
            "LV-1",
            patch("append", 16, &[0]),
            ErrorCode::BadVoteCommit,
            h + 16,
        ),
        (
            "snapshot_uncommitted",
            "LV-1",
            patch("leader_snapshot_first_chunk", 16, &[0]),
            ErrorCode::BadVoteCommit,
            h + 16,
        ),
        (
            "vote_present_flag_2",
            "FIELD-2",
            patch("vote", 17, &[2]),
            ErrorCode::BadBool,
            h + 17,
        ),
        (
            "vote_last_log_of_a_later_term",
            "LV-2",
            patch("vote", 18, &u64be(6)),
            ErrorCode::LogIdAfterVote,
            h + 18,
        ),
        (
            "vote_last_log_of_a_later_leader_in_the_term",
            "LV-2",
            patch("vote", 18, &[u64be(5), u64be(3)].concat()),
            ErrorCode::LogIdAfterVote,
            h + 18,
        ),
        (
            "append_prev_log_after_vote",
            "LV-2",
            patch("append", 18, &u64be(6)),
            ErrorCode::LogIdAfterVote,
            h + 18,
        ),
        (
            "append_commit_after_vote",
            "LV-2",
            patch("append", 43, &u64be(6)),
            ErrorCode::LogIdAfterVote,
            h + 43,
        ),
        (
            "append_entry_index_gap",
            "AE-2",
            patch("append", 87, &u64be(12)),
            ErrorCode::EntryIndexGap,
            h + 87,
        ),
        (
            "append_entry_leader_below_prev",
            "AE-3",
            patch("append", 71, &u64be(3)),
            ErrorCode::EntryTermOrder,
            h + 71,
        ),
        (
            "append_entry_leader_above_vote",
            "AE-3",
            patch("append", 115, &u64be(3)),
            ErrorCode::EntryTermOrder,
            h + 107,
        ),
        (
            "append_entry_leader_decreasing",
            "AE-3",
            patch("append", 136, &u64be(4)),
            ErrorCode::EntryTermOrder,
            h + 136,
        ),
        (
            "append_entry_kind_3",
            "FIELD-3",
            patch("append", 95, &[3]),
            ErrorCode::UnknownEnum,
            h + 95,
        ),
        (
            "append_blank_entry_with_data",
            "AE-4",
            patch("append", 95, &[1]),
            ErrorCode::EntryDataNotEmpty,
            h + 100,
        ),
        (
            "append_membership_voters_out_of_order",
            "MEM-1",
            patch("append", 177, &u64be(1)),
            ErrorCode::IdsOutOfOrder,
            h + 177,
        ),
        (
            "append_membership_nodes_out_of_order",
            "MEM-1",
            patch("append", 245, &u64be(1)),
            ErrorCode::IdsOutOfOrder,
            h + 245,
        ),
        (
            "append_membership_voter_without_node",
            "MEM-2",
            patch("append", 211, &u64be(5)),
            ErrorCode::VoterWithoutNode,
            h + 219,
        ),
        (
            "append_membership_with_no_voter_set",
            "AE-5",
            with_membership(&[0, 0, 0, 0]),
            ErrorCode::NoVoter,
            h + 165,
        ),
        (
            "append_membership_set_without_voters",
            "CONF-1",
            with_membership(&[0, 1, 0, 0, 0, 0]),
            ErrorCode::NoVoter,
            h + 167,
        ),
        (
            "append_membership_entry_empty",
            "AE-5",
            with_membership(&[]),
            ErrorCode::TruncatedBody,
            h + 165,
        ),
        (
            // FIELD-1 bounds a count by its smallest element (29 bytes an entry): 28 bytes
            // cannot hold one entry, whatever they say.
            "append_entry_count_past_the_payload",
            "FIELD-1",
            {
                let b = encoded("append_heartbeat");
                let mut p = b.get(HEADER_LEN..b.len() - TRAILER_LEN).unwrap_or_default().to_vec();
                if let Some(count) = p.get_mut(67..71) {
                    count.copy_from_slice(&1u32.to_be_bytes());
                }
                p.extend_from_slice(&[0; 28]);
                RawFrame::new(MessageType::Append as u8, p).bytes()
            },
            ErrorCode::TruncatedBody,
            h + 67,
        ),
        (
            "append_response_result_4",
            "FIELD-3",
            patch("append_response_success", 0, &[4]),
            ErrorCode::UnknownEnum,
            h,
        ),
        (
            "append_response_success_with_a_field",
            "FRAME-9",
            RawFrame::new(MessageType::AppendResponse as u8, vec![0, 0]).bytes(),
            ErrorCode::TrailingBytes,
            h + 1,
        ),
        (
            "leader_snapshot_first_chunk_without_meta",
            "IS-3",
            patch("leader_snapshot_first_chunk", 43, &[0]),
            ErrorCode::ConfigurationPlacement,
            h + 43,
        ),
        (
            "leader_snapshot_later_chunk_with_meta",
            "IS-3",
            patch("leader_snapshot_last_chunk", 43, &[1]),
            ErrorCode::ConfigurationPlacement,
            h + 43,
        ),
        (
            "leader_snapshot_membership_after_its_point",
            "IS-4",
            patch("leader_snapshot_first_chunk", 86, &u64be(101)),
            ErrorCode::BadSnapshotPoint,
            h + 69,
        ),
        (
            "leader_snapshot_learners_without_voters",
            "IS-4",
            RawFrame::new(
                MessageType::Snapshot as u8,
                single_chunk_snapshot(true, &node_one(false)),
            )
            .bytes(),
            ErrorCode::BadSnapshotPoint,
            h + 88,
        ),
        (
            // Without a membership log id the membership is the uninitialised one: empty.
            "leader_snapshot_members_without_their_log_id",
            "IS-4",
            RawFrame::new(
                MessageType::Snapshot as u8,
                single_chunk_snapshot(false, &node_one(true)),
            )
            .bytes(),
            ErrorCode::BadSnapshotPoint,
            h + 64,
        ),
        (
            "leader_snapshot_done_too_early",
            "IS-2",
            patch("leader_snapshot_first_chunk", 33, &[1]),
            ErrorCode::ChunkDoneMismatch,
            h + 196,
        ),
        (
            "leader_snapshot_past_its_size",
            "IS-1",
            patch("leader_snapshot_first_chunk", 17, &u64be(3)),
            ErrorCode::ChunkOutOfBounds,
            h + 196,
        ),
        (
            "unknown_type_beside_the_family",
            "VER-2",
            RawFrame::new(
                0x14,
                encoded("vote").get(HEADER_LEN..HEADER_LEN + 42).unwrap_or_default(),
            )
            .bytes(),
            ErrorCode::UnknownType,
            5,
        ),
    ];
    table
        .into_iter()
        .map(|(name, requirement, bytes, code, offset)| Case {
            name: format!("reject_{name}"),
            requirement,
            bytes,
            verdict: Verdict::Reject { code, offset },
        })
        .collect()
}
