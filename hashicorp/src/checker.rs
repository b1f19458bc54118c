//! Checking a hashicorp/raft connection as its bytes arrive, in any chunking, with memory bounded
//! by the message being read (at most about twice it, see below) rather than by the connection.
//!
//! NetworkTransport has no framing: nothing says where a message ends until it has been parsed
//! whole. So the checker keeps, per direction, only the bytes not yet judged (the message still
//! arriving or, after a desync, the resynchronisation candidate still arriving) and takes every
//! decision only once more bytes could not change it: a parse that is whole or invalid, never one
//! that merely ran out of input. The findings are therefore the same whatever the chunking, and
//! the same as [`check`](crate::check) on the whole streams.
//!
//! Two bounds keep that cheap. A message (or candidate) is awaited for at most [`MAX_PENDING`]
//! bytes; past that it is judged as not a message, so garbage that claims a huge length cannot
//! make the checker hold the stream. And a judgement that had to wait is retried only once the
//! held bytes have doubled (or reached the size it needs), so a large message arriving in small
//! segments is parsed a logarithmic number of times, not once per segment.

use std::collections::VecDeque;

use crate::diagnose::{in_requests, in_responses};
use crate::messages;
use crate::stream::{
    prefix, request_at, request_at_with, response_at, response_decoded_at, Attempt, Connection, Direction,
};

/// Most bytes held per direction while one message (or resynchronisation candidate) completes.
/// hashicorp/raft sets no limit; an AppendEntries of 64 entries of Consul's largest values
/// (512 KiB) stays under it.
pub const MAX_PENDING: usize = 32 << 20;

/// How many bytes the desync diagnosis reads (the longest foreign-protocol banner and an HTTP
/// request line): with fewer, it waits, unless the stream has ended.
const DIAGNOSIS_BYTES: usize = 64;

/// One direction's unjudged bytes and where its judging stands. The bytes are the side's own
/// (`Vec<u8>`: what waits between feeds) or, when nothing waits, the caller's own slice, judged
/// in place: a stream fed in large pieces is never copied (#16), only the unjudged tail is kept.
#[derive(Debug, Default)]
struct Side<B = Vec<u8>> {
    /// Bytes received and not yet judged; `buf[0]` is at stream offset `start`.
    buf: B,
    start: u64,
    /// Bytes still to pass over unparsed (InstallSnapshot data), and whether they count as
    /// skipped (they do in the response direction, where a request does not belong).
    pass: u64,
    pass_is_skip: bool,
    /// Resynchronising after the desync at this stream offset.
    desync_from: Option<u64>,
    /// Nothing more is judged: a message cut by the end of the stream, or an encrypted stream.
    stopped: bool,
    /// The stream has ended: whatever is short is truncated.
    ended: bool,
    /// The last judgement waited for more bytes: retry once `buf` holds this many.
    retry_len: usize,
    /// The last message's `Term` and offset: one node writes each direction, and a node's term
    /// never goes back (HC-8).
    last_term: Option<(u64, u64)>,
}

/// What judging the held bytes came to.
enum Held {
    /// The first `n` bytes are judged (all of them with `usize::MAX`).
    Judged(usize),
    /// Bytes before `n` are judged; the judgement at `n` waits for more.
    Waiting(usize),
}

impl<B> Side<B> {
    /// The same side holding `buf` instead; returns the bytes it held.
    fn with_buf<C>(self, buf: C) -> (Side<C>, B) {
        let Side {
            buf: old,
            start,
            pass,
            pass_is_skip,
            desync_from,
            stopped,
            ended,
            retry_len,
            last_term,
        } = self;
        let side = Side {
            buf,
            start,
            pass,
            pass_is_skip,
            desync_from,
            stopped,
            ended,
            retry_len,
            last_term,
        };
        (side, old)
    }
}

impl Side {
    /// True when `bytes` can be judged where they lie: nothing waits before them and judging
    /// goes on (a stopped side only counts).
    fn judges_in_place(&self) -> bool {
        self.buf.is_empty() && !self.stopped
    }

    /// Passes over what must be passed at the start of `bytes`; returns how many bytes.
    fn pass_fresh(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(usize::try_from(self.pass).unwrap_or(usize::MAX));
        self.pass -= n as u64;
        self.start += n as u64;
        n
    }

    /// [`settle`](Self::settle) after judging `fresh` in place (nothing was held): keeps the
    /// bytes not yet judged.
    fn settle_fresh(&mut self, held: Held, fresh: &[u8]) {
        let n = match held {
            Held::Judged(n) | Held::Waiting(n) => n.min(fresh.len()),
        };
        self.buf.extend_from_slice(fresh.get(n..).unwrap_or_default());
        self.start += n as u64;
        self.settle(match held {
            Held::Judged(_) => Held::Judged(0),
            Held::Waiting(_) => Held::Waiting(0),
        });
    }

    /// Appends `bytes`, first passing over what must be; returns how many bytes were passed over.
    fn push(&mut self, mut bytes: &[u8]) -> u64 {
        let mut passed = 0;
        if self.buf.is_empty() && self.pass > 0 {
            let n = bytes.len().min(usize::try_from(self.pass).unwrap_or(usize::MAX));
            self.pass -= n as u64;
            self.start += n as u64;
            passed = n as u64;
            bytes = bytes.get(n..).unwrap_or_default();
        }
        if self.stopped {
            self.start += bytes.len() as u64;
        } else {
            self.buf.extend_from_slice(bytes);
        }
        passed
    }

    /// True if enough has arrived since the last wait to judge again.
    fn ready(&self) -> bool {
        self.ended || self.buf.len() >= self.retry_len
    }

    /// Drops what `held` says is judged and sets when to retry a waiting judgement.
    fn settle(&mut self, held: Held) {
        let (n, waiting) = match held {
            Held::Judged(n) => (n, false),
            Held::Waiting(n) => (n, true),
        };
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.start += n as u64;
        self.retry_len = if waiting {
            let held = self.buf.len();
            (2 * held).max(held + 1).min(MAX_PENDING + 1)
        } else {
            0
        };
    }
}

impl<B: std::ops::Deref<Target = [u8]>> Side<B> {
    /// True when a parse that ran out of input at `at` must wait for more: the stream goes on and
    /// the wait stays within [`MAX_PENDING`].
    fn can_wait(&self, at: usize) -> bool {
        !self.ended && self.buf.len().saturating_sub(at) <= MAX_PENDING
    }

    /// True when the bytes from `at` are too few for a decision that reads `n` of them.
    fn short(&self, at: usize, n: usize) -> bool {
        self.can_wait(at) && self.buf.len().saturating_sub(at) < n
    }

    fn offset(&self, at: usize) -> u64 {
        self.start + at as u64
    }

    /// Passes over held bytes still to be passed; returns the new position, or `None` if the
    /// held bytes run out first.
    fn pass_held(&mut self, at: usize, skipped: &mut u64) -> Option<usize> {
        let n = (self.buf.len() - at).min(usize::try_from(self.pass).unwrap_or(usize::MAX));
        self.pass -= n as u64;
        if self.pass_is_skip {
            *skipped += n as u64;
        }
        (self.pass == 0).then_some(at + n)
    }

    /// The request at `at`; one needs its type byte and the first byte of its map before it can
    /// be judged at all, so with fewer (and more to come) it needs more.
    fn request_at(&self, at: usize) -> Option<Attempt<(u8, crate::messages::Decoded, usize)>> {
        self.request_at_with(at, false)
    }

    /// [`request_at`](Self::request_at), with the facts' texts if `facts` (for an observer).
    fn request_at_with(&self, at: usize, facts: bool) -> Option<Attempt<(u8, crate::messages::Decoded, usize)>> {
        if self.short(at, 2) {
            Some(Attempt::NeedsMore)
        } else {
            request_at_with(&self.buf, at, facts)
        }
    }

    /// The stream ended inside the message at `offset`: reported, and nothing more is judged.
    fn cut_short(&mut self, dir: &mut Direction, offset: u64, message: &str) -> Held {
        dir.find(offset, "hc_truncated", "MUST", message.to_string());
        self.stopped = true;
        Held::Judged(usize::MAX)
    }

    /// Where the next message starts, from `at`: past bytes still to be passed over and, while
    /// resynchronising, at the next trustworthy message. `Err` ends this judging: the side has
    /// stopped, or the held bytes run out first.
    fn next_message(
        &mut self,
        at: usize,
        skipped: &mut u64,
        candidate: impl Fn(&Side<B>, usize) -> Candidate,
    ) -> Result<usize, Held> {
        if self.stopped {
            return Err(Held::Judged(usize::MAX));
        }
        let mut at = at;
        if self.pass > 0 {
            at = self.pass_held(at, skipped).ok_or(Held::Judged(usize::MAX))?;
        }
        if self.desync_from.is_some() {
            at = self.resync(at, skipped, candidate)?;
        }
        if at >= self.buf.len() {
            return Err(Held::Judged(at));
        }
        Ok(at)
    }

    /// Looks for the next trustworthy message from `at` while resynchronising: `Ok(q)` when found,
    /// `Err(held)` when there is none (yet).
    fn resync(
        &mut self,
        at: usize,
        skipped: &mut u64,
        candidate: impl Fn(&Side<B>, usize) -> Candidate,
    ) -> Result<usize, Held> {
        let from = self.desync_from.unwrap_or_else(|| self.offset(at));
        for q in at..self.buf.len() {
            match candidate(self, q) {
                Candidate::Yes => {
                    *skipped += self.offset(q).saturating_sub(from);
                    self.desync_from = None;
                    return Ok(q);
                }
                // Bytes before it are skipped whatever it turns out to be.
                Candidate::Pending => return Err(Held::Waiting(q)),
                Candidate::No => {}
            }
        }
        if self.ended {
            *skipped += self.offset(self.buf.len()).saturating_sub(from);
            self.desync_from = None;
            return Err(Held::Judged(usize::MAX));
        }
        Err(Held::Waiting(self.buf.len()))
    }
}

/// How many keys a request map of rpc type `t` can have: the required keys of the header and the
/// body at the least, all of them at the most (HASHICORP.md: the field sets per release).
fn request_map_sizes(t: u8) -> std::ops::RangeInclusive<usize> {
    let (min, max) = messages::map_size_range(t, false);
    min..=max
}

/// Whether the bytes at `p` begin a request: an rpc type, then a map header with as many keys as
/// that type's map can have. `None`: too few bytes to tell.
fn request_start(buf: &[u8], p: usize) -> Option<bool> {
    let t = *buf.get(p)?;
    if t > 4 {
        return Some(false);
    }
    let m = *buf.get(p + 1)?;
    let size = match m {
        0x80..=0x8f => usize::from(m & 0x0f),
        0xde => usize::from(u16::from_be_bytes([*buf.get(p + 2)?, *buf.get(p + 3)?])),
        0xdf => return Some(false),
        _ => return Some(false),
    };
    Some(request_map_sizes(t).contains(&size))
}

/// Whether the bytes at `p` begin a response: an error string (never nil, never str8, which
/// go-msgpack does not write).
fn response_start(buf: &[u8], p: usize) -> Option<bool> {
    Some(matches!(*buf.get(p)?, 0xa0..=0xbf | 0xda | 0xdb))
}

/// Which direction's messages a side holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Own {
    Requests,
    Responses,
}

impl<B: std::ops::Deref<Target = [u8]>> Side<B> {
    /// Whether what follows a message ending at `p` confirms it: the end of the stream, the start
    /// of a message of this direction, or a whole message of the other direction (written here by
    /// mistake: named where it stands). Anything else means the message's end, or what follows
    /// it, was written by another writer.
    fn follows(&self, p: usize, own: Own) -> Candidate {
        if p >= self.buf.len() {
            return if self.ended { Candidate::Yes } else { Candidate::Pending };
        }
        let start = match own {
            Own::Requests => request_start(&self.buf, p),
            Own::Responses => response_start(&self.buf, p),
        };
        match start {
            Some(true) => return Candidate::Yes,
            None if self.can_wait(p) => return Candidate::Pending,
            _ => {}
        }
        // Another protocol's bytes (HTTP, TLS, SSH...) are named as what they are. Whether they
        // are one is judged from as many bytes as the diagnosis reads, or the end of the stream:
        // never from fewer, so the decision is the same in any chunking.
        let rest = self.buf.get(p..).unwrap_or_default();
        if crate::diagnose::foreign(rest).is_some() {
            return Candidate::Yes;
        }
        if rest.len() < DIAGNOSIS_BYTES && self.can_wait(p) {
            return Candidate::Pending;
        }
        let other = match own {
            Own::Requests => response_at(&self.buf, p).map(|a| matches!(a, Attempt::Whole(_))),
            Own::Responses => match request_at(&self.buf, p) {
                Some(Attempt::Whole(_)) => Some(true),
                Some(Attempt::NeedsMore) => None,
                _ => Some(false),
            },
        };
        match other {
            Some(true) => Candidate::Yes,
            None if self.can_wait(p) => Candidate::Pending,
            _ if own == Own::Requests
                && self.can_wait(p)
                && matches!(response_at(&self.buf, p), Some(Attempt::NeedsMore)) =>
            {
                Candidate::Pending
            }
            _ => Candidate::No,
        }
    }

    /// Whether a trustworthy message starts inside the `len` bytes of the message at `at`
    /// (`Pending` while one may, once more bytes arrive).
    fn swallows(&self, at: usize, len: usize, candidate: impl Fn(&Side<B>, usize) -> Candidate) -> Candidate {
        for q in at + 1..at + len {
            match candidate(self, q) {
                Candidate::No => {}
                found => return found,
            }
        }
        Candidate::No
    }

    /// At the end of the stream: true if a trustworthy message starts after `at`.
    fn resumes_after(&self, at: usize, candidate: impl Fn(&Side<B>, usize) -> Candidate) -> bool {
        (at + 1..self.buf.len()).any(|q| matches!(candidate(self, q), Candidate::Yes))
    }

    /// HC-8: a direction's terms never go back. A regression is reported once, at the message
    /// that goes back; the order then continues from it.
    fn term_order(&mut self, dir: &mut Direction, offset: u64, d: &messages::Decoded) {
        // A zero term is reported as such (HC-8, hc_zero_term) and says nothing of the order.
        let Some(term) = d.term.filter(|t| *t > 0) else { return };
        if let Some((last, at)) = self.last_term {
            if term < last {
                dir.find(
                    offset,
                    "hc_term_regressed",
                    "MUST",
                    format!(
                        "{} has Term {term}, after Term {last} at offset {at}: one node writes this direction and \
                         its term never goes back, so one of the two was written by another writer (or spliced)",
                        d.name
                    ),
                );
            }
        }
        self.last_term = Some((term, offset));
    }
}

/// Whether a position can be where a stream resumes.
enum Candidate {
    Yes,
    No,
    /// Cannot tell until more bytes arrive.
    Pending,
}

/// A message the checker decoded, handed to an observer (the cluster view) as soon as it is
/// judged: see [`Checker::observe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// A response (server to client), or a request.
    pub response: bool,
    /// The rpc type (of the request a response answers).
    pub rpc: u8,
    /// Where it starts and ends in its direction's stream.
    pub offset: u64,
    /// Offset of its last byte plus one.
    pub end: u64,
    /// Written as the library writes it, and confirmed by what follows: only such messages are
    /// evidence of what a node did.
    pub clean: bool,
    /// A response carrying a non-empty error string.
    pub error: bool,
    /// What it says.
    pub decoded: messages::Decoded,
}

/// A hashicorp/raft connection checked incrementally: feed each direction's bytes in capture
/// order with [`requests`](Self::requests) and [`responses`](Self::responses), then
/// [`finish`](Self::finish).
#[derive(Debug, Default)]
pub struct Checker {
    c: Connection,
    keep_messages: bool,
    requests: Side,
    responses: Side,
    /// The client's stream prefix (Consul, Nomad, TLS) has been judged.
    started: bool,
    /// Where the InstallSnapshot data being passed over began, and its size, for a truncation
    /// finding.
    snapshot_at: u64,
    snapshot_size: u64,
    /// Types of the requests not yet answered, oldest first.
    unanswered: VecDeque<u8>,
    requests_seen: usize,
    answered: usize,
    request_hints: Vec<&'static str>,
    response_hints: Vec<&'static str>,
    /// Decoded messages not yet taken by [`take_observed`](Self::take_observed), when observing.
    observed: Option<Vec<Observed>>,
}

impl Checker {
    /// A checker. With `keep_messages`, every decoded message is listed in
    /// [`Direction::messages`](crate::Direction::messages): a dissector's view, which grows with
    /// the connection.
    pub fn new(keep_messages: bool) -> Checker {
        Checker {
            keep_messages,
            ..Checker::default()
        }
    }

    /// Also keeps every decoded message until [`take_observed`](Self::take_observed) takes it
    /// (call that after each feed: what is kept grows until then).
    pub fn observe(mut self) -> Checker {
        self.observed = Some(Vec::new());
        self
    }

    /// The messages decoded since the last call, in the order they were judged.
    pub fn take_observed(&mut self) -> Vec<Observed> {
        self.observed.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The findings so far, requests' then responses', each in the order found (new ones are
    /// only ever appended): a dissector prints those past the ones it has printed.
    pub fn findings(&self) -> [&[crate::Finding]; 2] {
        [&self.c.requests.findings, &self.c.responses.findings]
    }

    /// The next client-to-server bytes.
    pub fn requests(&mut self, bytes: &[u8]) {
        self.c.requests.bytes += bytes.len() as u64;
        let (seen, started) = (self.requests_seen, self.started);
        let mut bytes = bytes;
        if !self.started && self.requests.buf.is_empty() && bytes.len() >= 4 {
            // The stream's prefix judged from the caller's bytes, as `run_requests` judges it
            // from held ones (an encrypted stream is left to it).
            let mut notes = Vec::new();
            let (skip, encrypted) = prefix(bytes, &mut notes);
            if !encrypted {
                self.c.notes.append(&mut notes);
                self.started = true;
                self.requests.start += skip as u64;
                bytes = bytes.get(skip..).unwrap_or_default();
            }
        }
        if self.started && self.requests.judges_in_place() {
            let n = self.requests.pass_fresh(bytes);
            let fresh = bytes.get(n..).unwrap_or_default();
            let (mut side, own) = std::mem::take(&mut self.requests).with_buf(fresh);
            let found = self.c.requests.findings.len();
            let held = self.judge_requests(&mut side);
            keep_bytes(&mut self.c.requests.findings[found..], &side);
            self.requests = side.with_buf(own).0;
            self.requests.settle_fresh(held, fresh);
        } else {
            self.requests.push(bytes);
            self.run_requests();
        }
        if self.requests_seen > seen || self.started != started {
            // Responses may have been waiting for these requests: judge them again now.
            self.responses.retry_len = 0;
            self.run_responses();
        }
    }

    /// The next server-to-client bytes.
    pub fn responses(&mut self, bytes: &[u8]) {
        self.c.responses.bytes += bytes.len() as u64;
        if self.started && self.responses.judges_in_place() {
            let n = self.responses.pass_fresh(bytes);
            if self.responses.pass_is_skip {
                self.c.responses.skipped += n as u64;
            }
            let fresh = bytes.get(n..).unwrap_or_default();
            let (mut side, own) = std::mem::take(&mut self.responses).with_buf(fresh);
            let found = self.c.responses.findings.len();
            let held = self.judge_responses(&mut side);
            keep_bytes(&mut self.c.responses.findings[found..], &side);
            self.responses = side.with_buf(own).0;
            self.responses.settle_fresh(held, fresh);
            return;
        }
        let passed = self.responses.push(bytes);
        if self.responses.pass_is_skip {
            self.c.responses.skipped += passed;
        }
        self.run_responses();
    }

    /// Bytes held, not yet judged, in both directions.
    pub fn buffered(&self) -> usize {
        self.requests.buf.len() + self.responses.buf.len()
    }

    /// Both streams have ended: judges what is left and returns what the connection showed.
    pub fn finish(self) -> Connection {
        self.finish_observed().0
    }

    /// [`finish`](Self::finish), with the messages judged last (see [`observe`](Self::observe)).
    pub fn finish_observed(mut self) -> (Connection, Vec<Observed>) {
        self.requests.ended = true;
        self.run_requests();
        if self.requests.pass > 0 && !self.c.encrypted {
            let size = self.snapshot_size;
            self.c.requests.find(
                self.snapshot_at,
                "hc_truncated",
                "MUST",
                format!("the stream ends inside the {size} bytes of InstallSnapshot data that follow the request"),
            );
        }
        self.responses.ended = true;
        self.run_responses();
        let observed = self.take_observed();
        let mut c = self.c;
        if c.encrypted {
            return (c, observed);
        }
        if self.answered < self.requests_seen && c.responses.bytes > 0 {
            c.notes.push(format!(
                "{} request(s) unanswered when the capture ends (in flight at shutdown?)",
                self.requests_seen - self.answered
            ));
        }
        let mut hints = self.request_hints;
        for h in self.response_hints {
            if !hints.contains(&h) {
                hints.push(h);
            }
        }
        c.notes.extend(hints.into_iter().map(str::to_string));
        (c, observed)
    }

    fn run_requests(&mut self) {
        if !self.started {
            // The longest prefix judged: 0x03 or 0x04, then a TLS record header.
            if self.requests.short(0, 4) {
                return;
            }
            self.started = true;
            let (skip, encrypted) = prefix(&self.requests.buf, &mut self.c.notes);
            if encrypted {
                // Nothing can be checked in either direction; bytes are only counted.
                self.c.encrypted = true;
                for side in [&mut self.requests, &mut self.responses] {
                    side.stopped = true;
                    side.settle(Held::Judged(usize::MAX));
                }
                return;
            }
            self.requests.settle(Held::Judged(skip));
        }
        if self.requests.ready() {
            let mut side = std::mem::take(&mut self.requests);
            let found = self.c.requests.findings.len();
            let held = self.judge_requests(&mut side);
            keep_bytes(&mut self.c.requests.findings[found..], &side);
            self.requests = side;
            self.requests.settle(held);
        }
    }

    fn judge_requests<B: std::ops::Deref<Target = [u8]>>(&mut self, side: &mut Side<B>) -> Held {
        let observing = self.observed.is_some();
        let dir = &mut self.c.requests;
        let mut at = 0;
        loop {
            at = match side.next_message(at, &mut dir.skipped, request_candidate) {
                Ok(at) => at,
                Err(held) => return held,
            };
            let offset = side.offset(at);
            let attempt = side.request_at_with(at, observing);
            match attempt {
                Some(Attempt::Whole((t, d, len))) => {
                    // Everything that may wait for more bytes is decided first: a judgement that
                    // waits is made again, whole, and must not have recorded anything.
                    // What follows confirms where it ends (InstallSnapshot: its data follows,
                    // passed over unread, and its exact field set stands alone).
                    let snapshot = d.snapshot_size.is_some();
                    let confirmed = snapshot
                        || match side.follows(at + len, Own::Requests) {
                            Candidate::Pending => return Held::Waiting(at),
                            Candidate::Yes => true,
                            // `follows` said no from enough bytes to name what follows, too.
                            Candidate::No => false,
                        };
                    // Not written as the library writes, with a clean message inside it: this
                    // parse swallowed a genuine message.
                    let swallowed = confirmed
                        && !snapshot
                        && d.problems.iter().any(|p| !p.info)
                        && match side.swallows(at, len, request_candidate) {
                            Candidate::Pending => return Held::Waiting(at),
                            Candidate::Yes => true,
                            Candidate::No => false,
                        };
                    if !confirmed {
                        unconfirmed(dir, offset, &d, side.offset(at + len));
                        let next = in_requests(side.buf.get(at + len..).unwrap_or_default());
                        dir.find(side.offset(at + len), next.code, "MUST", next.message);
                    }
                    // Counted either way: the receiver acted on it.
                    dir.decoded(offset, &d, &mut self.request_hints, self.keep_messages);
                    side.term_order(dir, offset, &d);
                    let snapshot_size = d.snapshot_size;
                    if let Some(o) = &mut self.observed {
                        o.push(Observed {
                            response: false,
                            rpc: t,
                            offset,
                            end: offset + len as u64,
                            clean: confirmed && !swallowed && d.problems.iter().all(|p| p.info),
                            error: false,
                            decoded: d,
                        });
                    }
                    self.unanswered.push_back(t);
                    self.requests_seen += 1;
                    if !confirmed || swallowed {
                        // Its length is not trusted: the next message is looked for from its
                        // second byte, so a genuine one it swallowed is still found.
                        side.desync_from = Some(offset + len as u64);
                        at += 1;
                        continue;
                    }
                    at += len;
                    if let Some(size) = snapshot_size {
                        side.pass = size;
                        side.pass_is_skip = false;
                        self.snapshot_at = side.offset(at);
                        self.snapshot_size = size;
                    }
                    continue;
                }
                Some(Attempt::NeedsMore) if side.can_wait(at) => return Held::Waiting(at),
                Some(Attempt::NeedsMore) if side.ended => {
                    if !side.resumes_after(at, request_candidate) {
                        return side.cut_short(
                            dir,
                            offset,
                            "the stream ends inside a request (connection cut, or the capture is incomplete)",
                        );
                    }
                    // It claims more bytes than the rest of the stream, yet a trustworthy
                    // message follows: not a cut stream but lost framing. Resynchronise.
                    dir.find(offset, "hc_lost_framing", "MUST", claims_too_much(offset));
                    side.desync_from = Some(offset);
                    at += 1;
                    continue;
                }
                _ => {}
            }
            // Not a request: say what it is, then pass over a whole response written into the
            // wrong direction as one unit, or resynchronise on the next trustworthy request.
            let response = response_at(&side.buf, at);
            if side.short(at, DIAGNOSIS_BYTES) || matches!(response, Some(Attempt::NeedsMore)) && side.can_wait(at) {
                return Held::Waiting(at);
            }
            let whole = match response {
                Some(Attempt::Whole((_, len))) => Some(len),
                _ => None,
            };
            // Decided before anything is recorded: a judgement that waits is made again later.
            let confirmed = match whole.map(|len| side.follows(at + len, Own::Requests)) {
                Some(Candidate::Pending) => return Held::Waiting(at),
                Some(Candidate::Yes) => whole,
                _ => None,
            };
            let d = in_requests(side.buf.get(at..).unwrap_or_default());
            dir.find(offset, d.code, "MUST", d.message);
            if let Some(len) = confirmed {
                // A whole response, and a message (or the end) after it: passed over as one.
                dir.skipped += len as u64;
                at += len;
            } else {
                side.desync_from = Some(offset);
                at += 1;
            }
        }
    }

    fn run_responses(&mut self) {
        // Until the client's prefix is judged it is unknown whether the connection is encrypted.
        let side = &self.responses;
        if !self.started && side.can_wait(0) || !side.ready() {
            return;
        }
        let mut side = std::mem::take(&mut self.responses);
        let found = self.c.responses.findings.len();
        let held = self.judge_responses(&mut side);
        keep_bytes(&mut self.c.responses.findings[found..], &side);
        self.responses = side;
        self.responses.settle(held);
    }

    fn judge_responses<B: std::ops::Deref<Target = [u8]>>(&mut self, side: &mut Side<B>) -> Held {
        let requests_done = self.requests.ended || self.requests.stopped;
        let dir = &mut self.c.responses;
        let mut at = 0;
        loop {
            at = match side.next_message(at, &mut dir.skipped, response_candidate) {
                Ok(at) => at,
                Err(held) => return held,
            };
            let offset = side.offset(at);
            let expected = self.unanswered.front().copied();
            match response_decoded_at(&side.buf, at, expected, self.observed.is_some()) {
                Some(Attempt::Whole((err, decoded, len))) => {
                    let confirmed = match side.follows(at + len, Own::Responses) {
                        Candidate::Pending => return Held::Waiting(at),
                        Candidate::Yes => true,
                        Candidate::No => false,
                    };
                    match expected.zip(decoded) {
                        Some((t, d)) => {
                            self.unanswered.pop_front();
                            if !confirmed {
                                unconfirmed(dir, offset, &d, side.offset(at + len));
                            }
                            dir.decoded(offset, &d, &mut self.response_hints, self.keep_messages);
                            let error = !err.is_empty();
                            if error {
                                dir.find(
                                    offset,
                                    "hc_error_response",
                                    "INFO",
                                    format!("{} carries the error {:?}", d.name, String::from_utf8_lossy(err)),
                                );
                            }
                            side.term_order(dir, offset, &d);
                            if let Some(o) = &mut self.observed {
                                o.push(Observed {
                                    response: true,
                                    rpc: t,
                                    offset,
                                    end: offset + len as u64,
                                    clean: confirmed && d.problems.iter().all(|p| p.info),
                                    error,
                                    decoded: d,
                                });
                            }
                        }
                        // Its request may still be arriving: pair in request order, as a reader
                        // of the whole streams would.
                        None if !requests_done && side.can_wait(at) => return Held::Waiting(at),
                        None => dir.find(
                            offset,
                            "hc_unsolicited_response",
                            "MUST",
                            format!(
                                "response {} answers no request: responses outnumber the {} requests",
                                self.answered + 1,
                                self.requests_seen
                            ),
                        ),
                    }
                    self.answered += 1;
                    at += len;
                    continue;
                }
                Some(Attempt::NeedsMore) if side.can_wait(at) => return Held::Waiting(at),
                Some(Attempt::NeedsMore) if side.ended => {
                    if !side.resumes_after(at, response_candidate) {
                        return side.cut_short(dir, offset, "the stream ends inside a response");
                    }
                    dir.find(offset, "hc_malformed_response", "MUST", claims_too_much(offset));
                    side.desync_from = Some(offset);
                    at += 1;
                    continue;
                }
                _ => {}
            }
            // Not a response: say what it is, then pass over a whole request written into the
            // wrong direction (with any InstallSnapshot data it announces) as one unit, or
            // resynchronise on the next whole response.
            let request = side.request_at(at);
            if side.short(at, DIAGNOSIS_BYTES) || matches!(request, Some(Attempt::NeedsMore)) && side.can_wait(at) {
                return Held::Waiting(at);
            }
            let request = match request {
                Some(Attempt::Whole((t, d, len))) if d.snapshot_size.is_some() => Some((t, d, len)),
                Some(Attempt::Whole((t, d, len))) => match side.follows(at + len, Own::Responses) {
                    Candidate::Pending => return Held::Waiting(at),
                    Candidate::Yes => Some((t, d, len)),
                    Candidate::No => None,
                },
                _ => None,
            };
            let d = in_responses(side.buf.get(at..).unwrap_or_default());
            dir.find(offset, d.code, "MUST", d.message);
            if let Some((_, d, len)) = request {
                dir.skipped += len as u64;
                at += len;
                side.pass = d.snapshot_size.unwrap_or(0);
                side.pass_is_skip = true;
            } else {
                side.desync_from = Some(offset);
                at += 1;
            }
        }
    }
}

/// Bytes kept before and after a finding's offset, for a person to look at.
const KEPT_BEFORE: u64 = 16;
const KEPT_AFTER: u64 = 48;

/// Gives each of `findings` (just made) the bytes around its offset that `side` holds.
fn keep_bytes<B: std::ops::Deref<Target = [u8]>>(findings: &mut [crate::Finding], side: &Side<B>) {
    for f in findings.iter_mut().filter(|f| f.bytes.is_none()) {
        let from = f.offset.saturating_sub(KEPT_BEFORE).max(side.start);
        let to = (f.offset + KEPT_AFTER).min(side.start + side.buf.len() as u64);
        let held = usize::try_from(from - side.start)
            .ok()
            .zip(usize::try_from(to.saturating_sub(side.start)).ok())
            .and_then(|(a, b)| side.buf.get(a..b));
        if let Some(bytes) = held.filter(|b| !b.is_empty() && f.offset < to) {
            f.bytes = Some((from, bytes.to_vec()));
        }
    }
}

/// Requests resume at a whole request with nothing wrong with it (the next one a reader can
/// trust).
fn request_candidate<B: std::ops::Deref<Target = [u8]>>(side: &Side<B>, q: usize) -> Candidate {
    match side.request_at(q) {
        // During resynchronisation only exact field sets count (not even an unknown key), and
        // what follows must confirm it.
        Some(Attempt::Whole((_, d, len))) if d.problems.is_empty() && d.term != Some(0) => {
            if d.snapshot_size.is_some() {
                Candidate::Yes
            } else {
                side.follows(q + len, Own::Requests)
            }
        }
        Some(Attempt::NeedsMore) if side.can_wait(q) => Candidate::Pending,
        _ => Candidate::No,
    }
}

/// Responses resume at a whole response (an error string, then a map or nil).
fn response_candidate<B: std::ops::Deref<Target = [u8]>>(side: &Side<B>, q: usize) -> Candidate {
    if !matches!(side.buf.get(q), Some(0xa0..=0xbf | 0xda)) {
        return Candidate::No;
    }
    match response_at(&side.buf, q) {
        Some(Attempt::Whole((_, len))) => side.follows(q + len, Own::Responses),
        Some(Attempt::NeedsMore) if side.can_wait(q) => Candidate::Pending,
        _ => Candidate::No,
    }
}

/// The finding for a message start whose lengths claim more than the rest of a stream that goes
/// on with trustworthy messages.
fn claims_too_much(offset: u64) -> String {
    format!(
        "the message at offset {offset} claims more bytes than the rest of the stream holds, yet whole messages \
         follow: these bytes are another writer's (a length from the middle of another message), not a cut stream"
    )
}

/// A whole message whose end is not confirmed by what follows: reported, not counted.
fn unconfirmed(dir: &mut Direction, offset: u64, d: &messages::Decoded, next: u64) {
    dir.find(
        offset,
        "hc_unconfirmed",
        "MUST",
        format!(
            "{} parses whole, but the bytes after it (offset {next}) start no message: its end, or what follows it, \
             was written by another writer, so it may not be the message that was sent (its length is not trusted)",
            d.name
        ),
    );
}
