//! A probe case is data: what to send, on one fresh connection, and which outcomes are
//! acceptable. The runner has one code path for every case; a dialect only builds the table.

use std::time::Duration;

/// How binding the requirement a case checks is: the conformance crate's levels (MUST fails the
/// run, SHOULD is `non-strict`, INFO records what the node does where the specification leaves
/// a choice and never fails).
pub use raftwire_conformance::Level;

/// One thing done on the case's connection, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes at once.
    Send(Vec<u8>),
    /// Write these bytes one at a time, `gap` apart: a receiver must treat every valid prefix as
    /// incomplete, never as an error (FRAME-10).
    Drip {
        /// The bytes.
        bytes: Vec<u8>,
        /// Pause between two bytes.
        gap: Duration,
    },
    /// Wait before the next step.
    Pause(Duration),
    /// Wait until this many answers in all have arrived (or the timeout passes) before the next
    /// step: for a request that may only be sent once an earlier one is answered.
    AwaitAnswers(usize),
    /// Shut down our sending direction (a FIN): the node sees its input end here.
    HalfClose,
}

/// An answer a case waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The request id it must carry (RFW/1), or `None` where answers are matched by position
    /// (hashicorp/raft, whose answers carry no id).
    pub id: Option<u64>,
    /// The answer's kind, as the dialect names it (`AppendEntriesResponse`).
    pub kind: &'static str,
}

/// The acceptable outcomes of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Exactly these answers (RFW/1: in any order, matched by id), and nothing else. The
    /// connection may stay open.
    Answered(Vec<Answer>),
    /// The node closes the connection (FIN or reset) within the timeout, without answering any
    /// request with a typed response. An error answer before closing is allowed (RFW/1 RECV-1 lets
    /// a server say `Malformed` first).
    Closed,
    /// As [`Expect::Closed`], but a node that answers all of these instead is `non-strict`, not
    /// failed: the case has a race the node may fairly have won (it answered the first request
    /// before it read the second).
    ClosedOr(Vec<Answer>),
}

impl Expect {
    /// What the report prints as expected.
    pub fn describe(&self, timeout: Duration) -> String {
        let list = |answers: &[Answer]| -> String {
            let parts: Vec<String> = answers
                .iter()
                .map(|a| match a.id {
                    Some(id) => format!("{} to request {id}", a.kind),
                    None => a.kind.to_string(),
                })
                .collect();
            parts.join(", ")
        };
        let closed = format!("the node closes the connection within {timeout:?} without a typed answer");
        match self {
            Expect::Answered(answers) => format!("exactly: {}", list(answers)),
            Expect::Closed => closed,
            Expect::ClosedOr(answers) => format!("{closed} (non-strict: {})", list(answers)),
        }
    }
}

/// One case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Stable id: `dialect/REQUIREMENT/name`; `--cases` selects by prefix.
    pub id: String,
    /// The requirement checked (SPEC.md FRAME-1, HASHICORP.md HC-2, ...).
    pub requirement: &'static str,
    /// How binding it is.
    pub level: Level,
    /// What is sent, for a person.
    pub summary: String,
    /// What is done on the connection.
    pub steps: Vec<Step>,
    /// What is acceptable.
    pub expect: Expect,
    /// The highest term the case's requests carry. The probe changes no state only while every
    /// term it sends is below the node's (a stale term is refused as a whole): a case whose
    /// terms are not stale for the node runs only with `--disruptive`.
    pub max_term: u64,
}

impl Case {
    /// A reproducer (a file of bytes saved by `--fuzz`, or written by hand) as a case: its bytes
    /// sent on a fresh connection, the outcome recorded. Like every case it is followed by a sanity
    /// exchange, so a reproducer that kills or hangs the node fails.
    pub fn replay(dialect: &str, name: &str, bytes: Vec<u8>) -> Case {
        Case {
            id: format!("{dialect}/replay/{name}"),
            requirement: "replay",
            level: Level::Info,
            summary: format!("the {} bytes of {name}", bytes.len()),
            steps: vec![Step::Send(bytes)],
            expect: Expect::Closed,
            max_term: 0,
        }
    }
}
