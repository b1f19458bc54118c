//! The message bodies of RFW/1: one module per RPC family, one type per body layout.

mod append_entries;
mod borrowed;
mod configuration;
mod entries;
mod error_response;
mod id;
mod install_snapshot;
mod leader;
mod request_vote;
mod timeout_now;

pub use append_entries::{AppendEntriesRef, AppendEntriesRequest, AppendEntriesResponse, Entry, EntryKind};
pub use borrowed::MessageRef;
pub use configuration::{Configuration, ConfigurationRef, Server, ServerRef, Servers, Suffrage};
pub use entries::{Entries, EntriesRef, EntryRef, Iter as EntriesIter};
pub use error_response::{ErrorResponse, ErrorResponseCode, ErrorResponseRef, MAX_ERROR_MESSAGE_LEN};
pub use id::{Id, InvalidId};
pub use install_snapshot::{InstallSnapshotRef, InstallSnapshotRequest, InstallSnapshotResponse};
pub use leader::{
    AppendRef, AppendRequest, AppendResponse, LeaderVote, LogEntry, LogEntryKind, LogEntryRef, LogId, MemberNode,
    Membership, MembershipRef, SnapshotChunk, SnapshotChunkRef, SnapshotMeta, SnapshotMetaRef, SnapshotResponse,
    VoteRequest, VoteResponse,
};
pub use request_vote::{RequestVoteRef, RequestVoteRequest, RequestVoteResponse};
pub use timeout_now::{TimeoutNowRef, TimeoutNowRequest, TimeoutNowResponse};

use std::ops::Range;

use bytes::Bytes;

use crate::error::EncodeError;
use crate::header::MessageType;
use crate::wire::{end, PResult, WireError, Writer};

/// Any RFW/1 message body. The variant fixes the frame's type byte.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Message {
    /// RequestVote request.
    RequestVote(RequestVoteRequest),
    /// RequestVote response.
    RequestVoteResponse(RequestVoteResponse),
    /// AppendEntries request.
    AppendEntries(AppendEntriesRequest),
    /// AppendEntries response.
    AppendEntriesResponse(AppendEntriesResponse),
    /// One InstallSnapshot chunk. Boxed: it is the largest body by far, and every decoded frame
    /// is moved a few times on its way out, so the enum is kept at the size of the others.
    InstallSnapshot(Box<InstallSnapshotRequest>),
    /// InstallSnapshot response.
    InstallSnapshotResponse(InstallSnapshotResponse),
    /// TimeoutNow request.
    TimeoutNow(TimeoutNowRequest),
    /// TimeoutNow response.
    TimeoutNowResponse(TimeoutNowResponse),
    /// Error response, in place of any typed response.
    Error(ErrorResponse),
    /// Vote request of the leader-id family (revision 1.1).
    Vote(VoteRequest),
    /// Vote response of the leader-id family.
    VoteResponse(VoteResponse),
    /// Append request of the leader-id family.
    Append(AppendRequest),
    /// Append response of the leader-id family.
    AppendResponse(AppendResponse),
    /// One Snapshot chunk of the leader-id family (boxed, as InstallSnapshot).
    Snapshot(Box<SnapshotChunk>),
    /// Snapshot response of the leader-id family.
    SnapshotResponse(SnapshotResponse),
}

impl Message {
    /// The frame type this message is sent as.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::RequestVote(_) => MessageType::RequestVote,
            Message::RequestVoteResponse(_) => MessageType::RequestVoteResponse,
            Message::AppendEntries(_) => MessageType::AppendEntries,
            Message::AppendEntriesResponse(_) => MessageType::AppendEntriesResponse,
            Message::InstallSnapshot(_) => MessageType::InstallSnapshot,
            Message::InstallSnapshotResponse(_) => MessageType::InstallSnapshotResponse,
            Message::TimeoutNow(_) => MessageType::TimeoutNow,
            Message::TimeoutNowResponse(_) => MessageType::TimeoutNowResponse,
            Message::Error(_) => MessageType::Error,
            Message::Vote(_) => MessageType::Vote,
            Message::VoteResponse(_) => MessageType::VoteResponse,
            Message::Append(_) => MessageType::Append,
            Message::AppendResponse(_) => MessageType::AppendResponse,
            Message::Snapshot(_) => MessageType::Snapshot,
            Message::SnapshotResponse(_) => MessageType::SnapshotResponse,
        }
    }

    /// About how many payload bytes the message encodes to (exact for the bulk of it: entries and
    /// snapshot data; a small allowance for the fixed fields and ids). For sizing buffers only.
    pub fn size_hint(&self) -> usize {
        const FIXED: usize = 96;
        match self {
            Message::AppendEntries(m) => FIXED + m.entries.iter().map(|e| 21 + e.data.len()).sum::<usize>(),
            Message::Append(m) => FIXED + m.entries.iter().map(|e| 29 + e.data.len()).sum::<usize>(),
            Message::InstallSnapshot(m) => FIXED + 512 + m.data.len(),
            Message::Snapshot(m) => FIXED + 512 + m.data.len(),
            Message::Error(m) => FIXED + m.message.len(),
            _ => FIXED,
        }
    }

    /// The sender's term: for every message but `Error` and an AppendResponse without a vote.
    pub fn term(&self) -> Option<u64> {
        match self {
            Message::RequestVote(m) => Some(m.term),
            Message::RequestVoteResponse(m) => Some(m.term),
            Message::AppendEntries(m) => Some(m.term),
            Message::AppendEntriesResponse(m) => Some(m.term),
            Message::InstallSnapshot(m) => Some(m.term),
            Message::InstallSnapshotResponse(m) => Some(m.term),
            Message::TimeoutNow(m) => Some(m.term),
            Message::TimeoutNowResponse(m) => Some(m.term),
            Message::Error(_) => None,
            Message::Vote(m) => Some(m.vote.term),
            Message::VoteResponse(m) => Some(m.vote.term),
            Message::Append(m) => Some(m.vote.term),
            Message::AppendResponse(m) => m.term(),
            Message::Snapshot(m) => Some(m.vote.term),
            Message::SnapshotResponse(m) => Some(m.vote.term),
        }
    }

    /// Decodes a whole payload as the body of `ty`: every byte must belong to the body (FRAME-9).
    /// `p` is the payload, a slice of `payload` (the buffer zero-copy fields are sliced from).
    /// Each body is checked by its borrowed view's decoder, the one validation path, and only
    /// then made owned. Per variant, not through a whole [`MessageRef`]: building the 120-byte
    /// view enum and then matching on it again measured 40 to 56 ns a 64 B frame.
    #[inline]
    pub(crate) fn decode_body(ty: MessageType, p: &[u8], payload: &Bytes) -> Result<Message, WireError> {
        Ok(match ty {
            MessageType::RequestVote => Message::RequestVote(whole(RequestVoteRef::decode(p))?.to_owned_in(payload)),
            MessageType::RequestVoteResponse => Message::RequestVoteResponse(whole(RequestVoteResponse::decode(p))?),
            MessageType::AppendEntries => {
                Message::AppendEntries(whole(AppendEntriesRef::decode(p))?.to_owned_in(payload))
            }
            MessageType::AppendEntriesResponse => {
                Message::AppendEntriesResponse(whole(AppendEntriesResponse::decode(p))?)
            }
            MessageType::InstallSnapshot => {
                Message::InstallSnapshot(Box::new(whole(InstallSnapshotRef::decode(p))?.to_owned_in(payload)))
            }
            MessageType::InstallSnapshotResponse => {
                Message::InstallSnapshotResponse(whole(InstallSnapshotResponse::decode(p))?)
            }
            MessageType::TimeoutNow => Message::TimeoutNow(whole(TimeoutNowRef::decode(p))?.to_owned_in(payload)),
            MessageType::TimeoutNowResponse => Message::TimeoutNowResponse(whole(TimeoutNowResponse::decode(p))?),
            MessageType::Error => Message::Error(whole(ErrorResponseRef::decode(p))?.to_owned()),
            MessageType::Vote => Message::Vote(whole(VoteRequest::decode(p))?),
            MessageType::VoteResponse => Message::VoteResponse(whole(VoteResponse::decode(p))?),
            MessageType::Append => Message::Append(whole(AppendRef::decode(p))?.to_owned_in(payload)),
            MessageType::AppendResponse => Message::AppendResponse(whole(AppendResponse::decode(p))?),
            MessageType::Snapshot => {
                Message::Snapshot(Box::new(whole(SnapshotChunkRef::decode(p))?.to_owned_in(payload)))
            }
            MessageType::SnapshotResponse => Message::SnapshotResponse(whole(SnapshotResponse::decode(p))?),
        })
    }

    /// Whether the owned form of a `ty` body, the payload `p`, keeps a handle on its frame: a
    /// zero-copy field too long to be held inline (an id over 23 bytes, an entry region over
    /// [`entries::INLINE_REGION`] bytes, a leader-id family Append's entries, a snapshot chunk's
    /// data). Responses, votes, errors, heartbeats and single small entries keep nothing, and a
    /// decoder that owns its read buffer decodes those in place (`frame::take_owned`). Read
    /// from the payload's length and a byte or two, before anything is checked: for a malformed
    /// payload the answer is only a guess, which costs a copy or a split, never a different
    /// result.
    #[inline]
    pub(crate) fn owned_keeps_frame(ty: MessageType, p: &[u8]) -> bool {
        match ty {
            MessageType::RequestVote => RequestVoteRef::owned_keeps_frame(p),
            MessageType::AppendEntries => AppendEntriesRef::owned_keeps_frame(p),
            MessageType::TimeoutNow => TimeoutNowRef::owned_keeps_frame(p),
            MessageType::Append => AppendRef::owned_keeps_frame(p),
            MessageType::InstallSnapshot | MessageType::Snapshot => true,
            MessageType::RequestVoteResponse
            | MessageType::AppendEntriesResponse
            | MessageType::InstallSnapshotResponse
            | MessageType::TimeoutNowResponse
            | MessageType::Error
            | MessageType::Vote
            | MessageType::VoteResponse
            | MessageType::AppendResponse
            | MessageType::SnapshotResponse => false,
        }
    }

    /// [`Message::decode_body`] for a decoder that owns `frame`, a buffer holding this frame
    /// alone (its payload at `payload`): the message's bulk field (an AppendEntries' entries, a
    /// snapshot chunk's data) takes `frame`'s own handle instead of a new one, so decoding costs
    /// no reference-count traffic beyond the handle the caller already paid for.
    #[inline]
    pub(crate) fn decode_body_owning(
        ty: MessageType,
        frame: Bytes,
        payload: Range<usize>,
    ) -> Result<Message, WireError> {
        let p = frame.get(payload).unwrap_or_default();
        Ok(match ty {
            MessageType::AppendEntries => {
                let view = whole(AppendEntriesRef::decode(p))?;
                match view.entries.span_in(&frame) {
                    Some(span) => {
                        let head = view.owned_head(&frame);
                        Message::AppendEntries(head.with_entries(Entries::from_frame(frame, span)))
                    }
                    None => Message::AppendEntries(view.to_owned_in(&frame)),
                }
            }
            MessageType::InstallSnapshot => {
                let (mut chunk, span) = whole(InstallSnapshotRef::decode(p))?.owned_but_data(&frame);
                if let Some(span) = span {
                    chunk.data = crate::wire::narrow(frame, span);
                }
                Message::InstallSnapshot(Box::new(chunk))
            }
            _ => Message::decode_body(ty, p, &frame)?,
        })
    }

    pub(crate) fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Message::RequestVote(m) => m.encode(w),
            Message::RequestVoteResponse(m) => m.encode(w),
            Message::AppendEntries(m) => m.encode(w),
            Message::AppendEntriesResponse(m) => m.encode(w),
            Message::InstallSnapshot(m) => m.encode(w),
            Message::InstallSnapshotResponse(m) => m.encode(w),
            Message::TimeoutNow(m) => m.encode(w),
            Message::TimeoutNowResponse(m) => m.encode(w),
            Message::Error(m) => m.encode(w),
            Message::Vote(m) => m.encode(w),
            Message::VoteResponse(m) => m.encode(w),
            Message::Append(m) => m.encode(w),
            Message::AppendResponse(m) => m.encode(w),
            Message::Snapshot(m) => m.encode(w),
            Message::SnapshotResponse(m) => m.encode(w),
        }
    }
}

/// A body parser's result, with the body required to end the payload (FRAME-9).
#[inline(always)]
pub(crate) fn whole<T>(r: PResult<'_, T>) -> Result<T, WireError> {
    let (rest, value) = r.map_err(unwrap_nom)?;
    end(rest).map_err(unwrap_nom)?;
    Ok(value)
}

/// Complete-mode parsers never return `Incomplete`; if one ever did, it is still a short body.
pub(crate) fn unwrap_nom(e: nom::Err<WireError>) -> WireError {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => WireError {
            remaining: 0,
            code: crate::error::ErrorCode::TruncatedBody,
            field: "body",
            found: 0,
            expected: crate::error::Expected::AtLeast(1),
        },
    }
}

impl Configuration {
    /// The configuration encoded as a configuration log entry's data (AE-5).
    pub fn to_entry_data(&self) -> Result<Bytes, EncodeError> {
        let mut buf = bytes::BytesMut::new();
        let mut w = Writer::new(&mut buf, 0);
        if self.is_empty() {
            w.check(
                Err(crate::wire::Violation::new(
                    crate::error::ErrorCode::NoVoter,
                    0,
                    crate::error::Expected::AtLeast(1),
                )),
                "server_count",
            )?;
        }
        self.encode(&mut w)?;
        Ok(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{decode, Frame, HEADER_LEN, TRAILER_LEN};

    /// Whether decoding `message` into an owned frame, from a buffer nothing else holds, leaves
    /// a handle on that buffer in the message (the oracle), and what `owned_keeps_frame` said
    /// from the payload alone.
    fn kept_and_predicted(message: Message) -> (bool, bool) {
        let ty = message.message_type();
        let bytes = Frame::new(1, message).to_bytes().unwrap();
        let buffer = Bytes::from(bytes.to_vec());
        let payload = &buffer[HEADER_LEN..buffer.len() - TRAILER_LEN];
        let predicted = Message::owned_keeps_frame(ty, payload);
        let frame = decode(&buffer).unwrap();
        let kept = !buffer.is_unique();
        drop(frame);
        (kept, predicted)
    }

    fn id_of(len: usize) -> Id {
        Id::new(vec![b'n'; len]).unwrap()
    }

    /// Every id length around the inline limit, and for AppendEntries every entry region length
    /// around the inline one: the prediction agrees with what the owning decoder does, in both
    /// directions (a wrong "keeps nothing" would copy bulk data; a wrong "keeps" would cost a
    /// reference count the frame did not need).
    #[test]
    fn the_prediction_is_what_the_owning_decoder_does_for_ids_and_entry_regions() {
        for id_len in 1..=40 {
            let vote = Message::RequestVote(RequestVoteRequest {
                term: 2,
                last_log_index: 1,
                last_log_term: 1,
                pre_vote: false,
                leadership_transfer: false,
                candidate_id: id_of(id_len),
            });
            let (kept, predicted) = kept_and_predicted(vote);
            assert_eq!(predicted, kept, "RequestVote, id of {id_len}");
            assert_eq!(kept, id_len > 23, "RequestVote, id of {id_len}");
            let timeout = Message::TimeoutNow(TimeoutNowRequest {
                term: 2,
                leader_id: id_of(id_len),
            });
            let (kept, predicted) = kept_and_predicted(timeout);
            assert_eq!(predicted, kept, "TimeoutNow, id of {id_len}");
            for data in [None, Some(0), Some(5), Some(11), Some(12), Some(40)] {
                for second in [false, true] {
                    let entries: Vec<Entry> = data
                        .into_iter()
                        .chain(second.then_some(0))
                        .enumerate()
                        .map(|(i, len)| Entry {
                            index: 4 + i as u64,
                            term: 2,
                            kind: EntryKind::Command,
                            data: Bytes::from(vec![7; len]),
                        })
                        .collect();
                    let region: usize = entries.iter().map(|e| 21 + e.data.len()).sum();
                    let append = Message::AppendEntries(AppendEntriesRequest {
                        term: 2,
                        prev_log_index: 3,
                        prev_log_term: 1,
                        leader_commit: 3,
                        leader_id: id_of(id_len),
                        entries: entries.into(),
                    });
                    let (kept, predicted) = kept_and_predicted(append);
                    let what = format!("AppendEntries, id of {id_len}, region of {region}");
                    assert_eq!(predicted, kept, "{what}");
                    assert_eq!(kept, id_len > 23 || region > entries::INLINE_REGION, "{what}");
                }
            }
        }
    }

    /// The leader-id family's Append keeps its frame when it has entries with data (each entry's
    /// data shares it); the prediction may say "keeps" for entries without data (it reads only
    /// the count) but never "keeps nothing" for a message that does keep it.
    #[test]
    fn the_prediction_never_misses_an_append_that_keeps_its_frame() {
        let vote = LeaderVote {
            term: 5,
            node: 1,
            committed: true,
        };
        let mut heartbeats_predicted = 0;
        for prev in [
            None,
            Some(LogId {
                term: 1,
                node: 1,
                index: 3,
            }),
        ] {
            for commit in [
                None,
                Some(LogId {
                    term: 1,
                    node: 1,
                    index: 2,
                }),
            ] {
                for lens in [&[][..], &[0], &[1], &[5, 0], &[0, 0]] {
                    let first = prev.map_or(0, |p| p.index + 1);
                    let entries = lens
                        .iter()
                        .enumerate()
                        .map(|(i, &len)| LogEntry {
                            log_id: LogId {
                                term: 5,
                                node: 1,
                                index: first + i as u64,
                            },
                            kind: LogEntryKind::Normal,
                            data: Bytes::from(vec![3; len]),
                        })
                        .collect();
                    let message = Message::Append(AppendRequest {
                        vote,
                        prev_log_id: prev,
                        leader_commit: commit,
                        entries,
                    });
                    let (kept, predicted) = kept_and_predicted(message);
                    let what = format!("prev {prev:?}, commit {commit:?}, data {lens:?}");
                    assert!(predicted || !kept, "{what}");
                    assert_eq!(kept, lens.iter().any(|&n| n > 0), "{what}");
                    assert_eq!(predicted, !lens.is_empty(), "{what}");
                    heartbeats_predicted += usize::from(lens.is_empty() && !predicted);
                }
            }
        }
        assert_eq!(heartbeats_predicted, 4, "every heartbeat is decoded in place");
    }
}
