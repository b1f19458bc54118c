//! [`MessageRef`]: any message body as a borrowed view of the frame it was decoded from.
//!
//! Why a second form: building the owned [`Message`] costs a shared handle on the frame (two
//! atomic operations) and moving a 112-byte value out through the decoder's `Result`s, which on
//! small and mid-size frames costs more than every check together (BENCHMARKS.md). A transport
//! that handles a frame while its read buffer is alive (writes the entries to its log, answers a
//! vote) needs neither. The view is checked by the same decoders as the owned form: the owned
//! form is built from it.

use bytes::Bytes;

use super::{
    whole, AppendEntriesRef, AppendEntriesResponse, ErrorResponseRef, InstallSnapshotRef, InstallSnapshotResponse,
    Message, RequestVoteRef, RequestVoteResponse, TimeoutNowRef, TimeoutNowResponse,
};
use super::{AppendRef, AppendResponse, SnapshotChunkRef, SnapshotResponse, VoteRequest, VoteResponse};
use crate::header::MessageType;
use crate::wire::WireError;

/// Any RFW/1 message body, borrowed from its frame. Bodies with no variable-length field are held
/// by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// RequestVote request.
    RequestVote(RequestVoteRef<'a>),
    /// RequestVote response.
    RequestVoteResponse(RequestVoteResponse),
    /// AppendEntries request.
    AppendEntries(AppendEntriesRef<'a>),
    /// AppendEntries response.
    AppendEntriesResponse(AppendEntriesResponse),
    /// One InstallSnapshot chunk.
    InstallSnapshot(InstallSnapshotRef<'a>),
    /// InstallSnapshot response.
    InstallSnapshotResponse(InstallSnapshotResponse),
    /// TimeoutNow request.
    TimeoutNow(TimeoutNowRef<'a>),
    /// TimeoutNow response.
    TimeoutNowResponse(TimeoutNowResponse),
    /// Error response, in place of any typed response.
    Error(ErrorResponseRef<'a>),
    /// Vote request of the leader-id family (revision 1.1).
    Vote(VoteRequest),
    /// Vote response of the leader-id family.
    VoteResponse(VoteResponse),
    /// Append request of the leader-id family.
    Append(AppendRef<'a>),
    /// Append response of the leader-id family.
    AppendResponse(AppendResponse),
    /// One Snapshot chunk of the leader-id family.
    Snapshot(SnapshotChunkRef<'a>),
    /// Snapshot response of the leader-id family.
    SnapshotResponse(SnapshotResponse),
}

impl<'a> MessageRef<'a> {
    /// The frame type this message was sent as.
    pub fn message_type(&self) -> MessageType {
        match self {
            MessageRef::RequestVote(_) => MessageType::RequestVote,
            MessageRef::RequestVoteResponse(_) => MessageType::RequestVoteResponse,
            MessageRef::AppendEntries(_) => MessageType::AppendEntries,
            MessageRef::AppendEntriesResponse(_) => MessageType::AppendEntriesResponse,
            MessageRef::InstallSnapshot(_) => MessageType::InstallSnapshot,
            MessageRef::InstallSnapshotResponse(_) => MessageType::InstallSnapshotResponse,
            MessageRef::TimeoutNow(_) => MessageType::TimeoutNow,
            MessageRef::TimeoutNowResponse(_) => MessageType::TimeoutNowResponse,
            MessageRef::Error(_) => MessageType::Error,
            MessageRef::Vote(_) => MessageType::Vote,
            MessageRef::VoteResponse(_) => MessageType::VoteResponse,
            MessageRef::Append(_) => MessageType::Append,
            MessageRef::AppendResponse(_) => MessageType::AppendResponse,
            MessageRef::Snapshot(_) => MessageType::Snapshot,
            MessageRef::SnapshotResponse(_) => MessageType::SnapshotResponse,
        }
    }

    /// The sender's term: for every message but `Error` and an AppendResponse without a vote.
    pub fn term(&self) -> Option<u64> {
        match self {
            MessageRef::RequestVote(m) => Some(m.term),
            MessageRef::RequestVoteResponse(m) => Some(m.term),
            MessageRef::AppendEntries(m) => Some(m.term),
            MessageRef::AppendEntriesResponse(m) => Some(m.term),
            MessageRef::InstallSnapshot(m) => Some(m.term),
            MessageRef::InstallSnapshotResponse(m) => Some(m.term),
            MessageRef::TimeoutNow(m) => Some(m.term),
            MessageRef::TimeoutNowResponse(m) => Some(m.term),
            MessageRef::Error(_) => None,
            MessageRef::Vote(m) => Some(m.vote.term),
            MessageRef::VoteResponse(m) => Some(m.vote.term),
            MessageRef::Append(m) => Some(m.vote.term),
            MessageRef::AppendResponse(m) => m.term(),
            MessageRef::Snapshot(m) => Some(m.vote.term),
            MessageRef::SnapshotResponse(m) => Some(m.vote.term),
        }
    }

    /// The owned message, its zero-copy fields shared from `buffer`, which should be the buffer
    /// this view was decoded from (a field outside it is copied, never lost or misread).
    #[inline]
    pub fn to_owned_in(&self, buffer: &Bytes) -> Message {
        match self {
            MessageRef::RequestVote(m) => Message::RequestVote(m.to_owned_in(buffer)),
            MessageRef::RequestVoteResponse(m) => Message::RequestVoteResponse(*m),
            MessageRef::AppendEntries(m) => Message::AppendEntries(m.to_owned_in(buffer)),
            MessageRef::AppendEntriesResponse(m) => Message::AppendEntriesResponse(*m),
            MessageRef::InstallSnapshot(m) => Message::InstallSnapshot(Box::new(m.to_owned_in(buffer))),
            MessageRef::InstallSnapshotResponse(m) => Message::InstallSnapshotResponse(*m),
            MessageRef::TimeoutNow(m) => Message::TimeoutNow(m.to_owned_in(buffer)),
            MessageRef::TimeoutNowResponse(m) => Message::TimeoutNowResponse(*m),
            MessageRef::Error(m) => Message::Error(m.to_owned()),
            MessageRef::Vote(m) => Message::Vote(*m),
            MessageRef::VoteResponse(m) => Message::VoteResponse(*m),
            MessageRef::Append(m) => Message::Append(m.to_owned_in(buffer)),
            MessageRef::AppendResponse(m) => Message::AppendResponse(*m),
            MessageRef::Snapshot(m) => Message::Snapshot(Box::new(m.to_owned_in(buffer))),
            MessageRef::SnapshotResponse(m) => Message::SnapshotResponse(*m),
        }
    }

    /// Decodes a whole payload `p` as the body of `ty` (FRAME-9: every byte belongs to it).
    #[inline(always)]
    pub(crate) fn decode_body(ty: MessageType, p: &'a [u8]) -> Result<MessageRef<'a>, WireError> {
        Ok(match ty {
            MessageType::RequestVote => MessageRef::RequestVote(whole(RequestVoteRef::decode(p))?),
            MessageType::RequestVoteResponse => MessageRef::RequestVoteResponse(whole(RequestVoteResponse::decode(p))?),
            MessageType::AppendEntries => MessageRef::AppendEntries(whole(AppendEntriesRef::decode(p))?),
            MessageType::AppendEntriesResponse => {
                MessageRef::AppendEntriesResponse(whole(AppendEntriesResponse::decode(p))?)
            }
            MessageType::InstallSnapshot => MessageRef::InstallSnapshot(whole(InstallSnapshotRef::decode(p))?),
            MessageType::InstallSnapshotResponse => {
                MessageRef::InstallSnapshotResponse(whole(InstallSnapshotResponse::decode(p))?)
            }
            MessageType::TimeoutNow => MessageRef::TimeoutNow(whole(TimeoutNowRef::decode(p))?),
            MessageType::TimeoutNowResponse => MessageRef::TimeoutNowResponse(whole(TimeoutNowResponse::decode(p))?),
            MessageType::Error => MessageRef::Error(whole(ErrorResponseRef::decode(p))?),
            MessageType::Vote => MessageRef::Vote(whole(VoteRequest::decode(p))?),
            MessageType::VoteResponse => MessageRef::VoteResponse(whole(VoteResponse::decode(p))?),
            MessageType::Append => MessageRef::Append(whole(AppendRef::decode(p))?),
            MessageType::AppendResponse => MessageRef::AppendResponse(whole(AppendResponse::decode(p))?),
            MessageType::Snapshot => MessageRef::Snapshot(whole(SnapshotChunkRef::decode(p))?),
            MessageType::SnapshotResponse => MessageRef::SnapshotResponse(whole(SnapshotResponse::decode(p))?),
        })
    }
}
