//! The stream rules of `SPEC.md` §6 as data: code, requirement, level and the sentence checked.

/// How binding a rule is; reports grade results like Autobahn's pass / non-strict / fail / info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// MUST: a violation fails conformance.
    Must,
    /// SHOULD: a violation is reported as non-strict; fails only under `--strict`.
    Should,
    /// Informational: worth knowing, never a failure.
    Info,
}

impl Level {
    /// `MUST`, `SHOULD` or `INFO`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::Info => "INFO",
        }
    }
}

/// A stream-level rule violation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum StreamCode {
    /// STREAM-1.
    WrongDirection,
    /// STREAM-2.
    DuplicateRequestId,
    /// STREAM-3.
    UnsolicitedResponse,
    /// STREAM-4.
    ResponseTypeMismatch,
    /// STREAM-5 (MUST).
    SnapshotChunkInFlight,
    /// STREAM-5 (SHOULD).
    TooManyInFlight,
    /// STREAM-6 (MUST).
    SnapshotChunkOutOfOrder,
    /// STREAM-6 (SHOULD).
    SnapshotAbandoned,
    /// STREAM-7.
    RequestTermRegressed,
    /// STREAM-8.
    ResponseTermRegressed,
    /// STREAM-9.
    UnansweredAtClose,
}

impl StreamCode {
    /// Every stream code.
    pub const ALL: &'static [StreamCode] = &[
        StreamCode::WrongDirection,
        StreamCode::DuplicateRequestId,
        StreamCode::UnsolicitedResponse,
        StreamCode::ResponseTypeMismatch,
        StreamCode::SnapshotChunkInFlight,
        StreamCode::TooManyInFlight,
        StreamCode::SnapshotChunkOutOfOrder,
        StreamCode::SnapshotAbandoned,
        StreamCode::RequestTermRegressed,
        StreamCode::ResponseTermRegressed,
        StreamCode::UnansweredAtClose,
    ];

    /// Stable name, as in `SPEC.md` §9.
    pub fn as_str(self) -> &'static str {
        self.info().0
    }

    /// The requirement enforced.
    pub fn requirement(self) -> &'static str {
        self.info().1
    }

    /// How binding it is.
    pub fn level(self) -> Level {
        self.info().2
    }

    /// The requirement sentence this code checks.
    pub fn sentence(self) -> &'static str {
        self.info().3
    }

    fn info(self) -> (&'static str, &'static str, Level, &'static str) {
        use Level::*;
        use StreamCode::*;
        match self {
            WrongDirection => ("wrong_direction", "STREAM-1", Must, "The client->server direction carries only requests and the server->client direction only responses."),
            DuplicateRequestId => ("duplicate_request_id", "STREAM-2", Must, "A client does not reuse the request id of a request still outstanding on the connection."),
            UnsolicitedResponse => ("unsolicited_response", "STREAM-3", Must, "Every response carries the request id of an outstanding request."),
            ResponseTypeMismatch => ("response_type_mismatch", "STREAM-4", Must, "A typed response answers a request of the type it names; Error may answer any request."),
            SnapshotChunkInFlight => ("snapshot_chunk_in_flight", "STREAM-5", Must, "At most one snapshot chunk (InstallSnapshot or Snapshot) is outstanding on a connection."),
            TooManyInFlight => ("too_many_in_flight", "STREAM-5", Should, "A client has at most 128 requests outstanding on one connection."),
            SnapshotChunkOutOfOrder => ("snapshot_chunk_out_of_order", "STREAM-6", Must, "Each snapshot chunk continues the transfer in progress: same snapshot, offset = previous offset + previous length."),
            SnapshotAbandoned => ("snapshot_abandoned", "STREAM-6", Should, "A new snapshot transfer starts only after the previous one finished."),
            RequestTermRegressed => ("term_regressed", "STREAM-7", Must, "Request terms in the client->server direction never decrease."),
            ResponseTermRegressed => ("term_regressed", "STREAM-8", Should, "Typed response terms in the server->client direction never decrease."),
            UnansweredAtClose => ("unanswered_at_close", "STREAM-9", Info, "Requests outstanding when the connection closed were never answered."),
        }
    }
}

/// The SHOULD-level cap on outstanding requests (STREAM-5).
pub const MAX_IN_FLIGHT: usize = 128;
