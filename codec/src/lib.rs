//! # raftwire-codec
//!
//! A strict, zero-copy, incremental codec for **RFW/1**, the framed Raft wire format specified in
//! `conformance/SPEC.md`. Every frame carries a boundary marker, a version, a type, a request id,
//! a length checked against a limit before any payload is awaited, a CRC over the header and a
//! CRC over the payload; every message body is fixed-order, fixed-width big-endian, and checked
//! field by field. Anything else is an error with a stable code, the `SPEC.md` requirement it
//! enforces, and the absolute byte offset of the offending field.
//!
//! ```
//! use bytes::BytesMut;
//! use raftwire_codec::{decode, encode, Frame, Id, Message, TimeoutNowRequest};
//!
//! let frame = Frame::new(7, Message::TimeoutNow(TimeoutNowRequest {
//!     term: 3,
//!     leader_id: Id::try_from("node-1").unwrap(),
//! }));
//! let mut wire = BytesMut::new();
//! encode(&frame, &mut wire).unwrap();
//! assert_eq!(decode(&wire.freeze()).unwrap(), frame);
//! ```
//!
//! Layers, each speaking only to the one below: [`wire`](crate) field parsers (nom), message
//! bodies ([`message`]), the frame header, frames ([`decode`], [`encode`]; and borrowed views,
//! [`decode_ref`], for a transport that handles each frame while its buffer lives), the incremental
//! [`StreamDecoder`] and, with the `tokio` feature, `RfwCodec` for `tokio_util::codec::Framed`.
//! Stream rules (which frames may follow which) live in `raftwire-conformance`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod craft;
mod error;
mod frame;
mod frame_ref;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod header;
mod header_crc;
mod limits;
pub mod message;
mod stream;
mod stream_ref;
#[cfg(feature = "tokio")]
mod tokio_codec;
mod wire;

pub use error::{DecodeError, EncodeError, ErrorCode, Expected};
pub use frame::{decode, decode_all, decode_at, decode_prefix, decode_with, encode, encode_with, Frame, Progress};
pub use frame_ref::{decode_ref, decode_ref_at, decode_ref_with, FrameRef};
pub use header::{decode_header, FrameHeader, HeaderProgress, MessageType, HEADER_LEN, MARKER, TRAILER_LEN, VERSION};
pub use limits::{Limits, DEFAULT_MAX_PAYLOAD_LEN};
pub use message::{
    AppendEntriesRef, AppendEntriesRequest, AppendEntriesResponse, Configuration, ConfigurationRef, Entries,
    EntriesRef, Entry, EntryKind, EntryRef, ErrorResponse, ErrorResponseCode, ErrorResponseRef, Id, InstallSnapshotRef,
    InstallSnapshotRequest, InstallSnapshotResponse, Message, MessageRef, RequestVoteRef, RequestVoteRequest,
    RequestVoteResponse, Server, ServerRef, Suffrage, TimeoutNowRef, TimeoutNowRequest, TimeoutNowResponse,
    MAX_ERROR_MESSAGE_LEN,
};
pub use message::{
    AppendRef, AppendRequest, AppendResponse, LeaderVote, LogEntry, LogEntryKind, LogEntryRef, LogId, MemberNode,
    Membership, MembershipRef, SnapshotChunk, SnapshotChunkRef, SnapshotMeta, SnapshotMetaRef, SnapshotResponse,
    VoteRequest, VoteResponse,
};
pub use stream::StreamDecoder;
pub use stream_ref::StreamRefDecoder;
#[cfg(feature = "tokio")]
pub use tokio_codec::{CodecError, RfwCodec};
