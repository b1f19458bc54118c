//! Runs the selected cases one after another, each on a fresh connection, with a sanity exchange
//! before the first and two for each (while its connection is open, after it is closed), and
//! judges every case's outcome.

use std::net::SocketAddr;
use std::time::Duration;

use crate::case::{Answer, Case, Expect, Level};
use crate::exchange::{exchange, End, Exchange, Setting};
use crate::record::Trace;
use crate::report::{CaseResult, Outcome, Report, Summary};
use crate::{Dialect, Seen};

/// How a run behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long to wait for an answer or a close (per case, after its bytes are sent), and for
    /// a connection to open.
    pub timeout: Duration,
    /// Also run cases whose terms are not stale for the node (they may change its state).
    pub disruptive: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(5),
            disruptive: false,
        }
    }
}

/// Why a run could not start.
#[derive(Debug)]
pub enum ProbeError {
    /// The node could not be reached at all.
    Connect(String),
    /// A `--cases` prefix selects nothing.
    NoSuchCase(String),
    /// A file could not be written (a reproducer).
    Output(String),
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeError::Connect(why) => f.write_str(why),
            ProbeError::NoSuchCase(p) => write!(f, "{p:?} selects no case (see --list)"),
            ProbeError::Output(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ProbeError {}

/// Whether `id` is selected by `prefix`: it starts with it, and not in the middle of a number
/// (`rfw/FRAME-1` selects `rfw/FRAME-1/bad-marker`, not `rfw/FRAME-10/slow-drip`).
fn selects(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        !(rest.starts_with(|c: char| c.is_ascii_digit()) && prefix.ends_with(|c: char| c.is_ascii_digit()))
    })
}

/// The cases selected by one of `prefixes` (all of them for none) and by none of `skip`, in
/// table order; an error names a prefix that selects nothing, so a typo never yields an empty,
/// passing run (or a case run that was meant to be left out).
pub fn select(cases: Vec<Case>, prefixes: &[String], skip: &[String]) -> Result<Vec<Case>, ProbeError> {
    if let Some(p) = prefixes
        .iter()
        .chain(skip)
        .find(|p| !cases.iter().any(|c| selects(p, &c.id)))
    {
        return Err(ProbeError::NoSuchCase(p.clone()));
    }
    Ok(cases
        .into_iter()
        .filter(|c| prefixes.is_empty() || prefixes.iter().any(|p| selects(p, &c.id)))
        .filter(|c| !skip.iter().any(|p| selects(p, &c.id)))
        .collect())
}

/// Where each connection's trace goes, with the name of what it was for.
pub type TraceSink<'a> = &'a mut dyn FnMut(&Trace, &str);

/// The sanity exchange: a valid request the node must answer. The node's term, or why not.
pub(crate) fn sanity(
    addr: SocketAddr,
    dialect: &dyn Dialect,
    request_id: u64,
    setting: Setting,
    sink: &mut Option<TraceSink<'_>>,
    label: &str,
) -> Result<Option<u64>, String> {
    let (request, wanted) = dialect.sanity(request_id);
    let (ex, _) = exchange(
        addr,
        dialect,
        &[crate::Step::Send(request)],
        &|a: &[Seen]| !a.is_empty(),
        setting,
    )
    .map_err(|e| format!("could not connect: {}", e.0))?;
    if let (Some(sink), Some(trace)) = (sink.as_mut(), &ex.trace) {
        sink(trace, &format!("raftwire probe: sanity exchange {label}"));
    }
    let timeout = setting.timeout;
    match ex.answers.first() {
        Some(a) if matches(&wanted, a) => Ok(a.term),
        _ => Err(describe(&ex, timeout)),
    }
}

fn matches(wanted: &Answer, seen: &Seen) -> bool {
    seen.kind == wanted.kind && (wanted.id.is_none() || wanted.id == seen.id)
}

/// Whether `seen` is exactly `wanted`, each answer once: in any order where answers carry ids,
/// in request order where they do not (hashicorp/raft answers in order, and order is all that
/// pairs an answer with its request).
fn exactly(wanted: &[Answer], seen: &[Seen]) -> bool {
    if wanted.iter().all(|w| w.id.is_none()) {
        return wanted.len() == seen.len() && wanted.iter().zip(seen).all(|(w, s)| matches(w, s));
    }
    let mut left: Vec<&Seen> = seen.iter().collect();
    for w in wanted {
        match left.iter().position(|s| matches(w, s)) {
            Some(i) => {
                left.swap_remove(i);
            }
            None => return false,
        }
    }
    left.is_empty()
}

/// What the node did, for a person.
fn describe(ex: &Exchange, timeout: Duration) -> String {
    let answers = if ex.answers.is_empty() {
        "no answer".to_string()
    } else {
        let list: Vec<String> = ex
            .answers
            .iter()
            .map(|a| match a.id {
                Some(id) => format!("{} to request {id} ({})", a.kind, a.detail),
                None => format!("{} ({})", a.kind, a.detail),
            })
            .collect();
        format!("answered {}", list.join(", "))
    };
    let end = match ex.end {
        End::Closed => "then closed the connection (FIN)".to_string(),
        End::Reset => "then reset the connection".to_string(),
        End::Open { timed_out: true } => format!("and kept the connection open for {timeout:?} (timeout)"),
        End::Open { timed_out: false } => "(connection still open)".to_string(),
    };
    let mut s = format!("{answers}, {end}, after {} ms", ex.elapsed.as_millis());
    if ex.unsent > 0 {
        s.push_str(&format!("; {} bytes could not be sent: the node had closed", ex.unsent));
    }
    if let Some(m) = &ex.malformed {
        s.push_str(&format!("; {m}"));
    }
    s
}

/// The raw verdict, before the level decides how it counts.
enum Verdict {
    Pass,
    Tolerated,
    Fail,
}

fn verdict(expect: &Expect, ex: &Exchange) -> Verdict {
    if ex.malformed.is_some() {
        return Verdict::Fail;
    }
    let closed = matches!(ex.end, End::Closed | End::Reset);
    let typed = ex.answers.iter().any(|a| !a.error);
    match expect {
        Expect::Answered(wanted) if exactly(wanted, &ex.answers) => Verdict::Pass,
        Expect::Answered(_) => Verdict::Fail,
        Expect::Closed if closed && !typed => Verdict::Pass,
        Expect::Closed => Verdict::Fail,
        Expect::ClosedOr(wanted) => {
            // Closing after answering a prefix of the race's requests is the strict outcome too:
            // the node answered what was fair, then caught the violation.
            let fair = ex
                .answers
                .iter()
                .all(|a| a.error || wanted.iter().any(|w| matches(w, a)));
            if closed && fair && ex.answers.len() < wanted.len() {
                Verdict::Pass
            } else if exactly(wanted, &ex.answers) {
                Verdict::Tolerated
            } else {
                Verdict::Fail
            }
        }
    }
}

/// When reading can stop: the answers alone decide it.
fn decided(expect: &Expect) -> impl Fn(&[Seen]) -> bool + '_ {
    move |seen: &[Seen]| match expect {
        Expect::Answered(wanted) | Expect::ClosedOr(wanted) => seen.len() >= wanted.len(),
        // Only the node's close (or the timeout) decides.
        Expect::Closed => seen.iter().any(|a| !a.error),
    }
}

fn outcome(level: Level, v: Verdict) -> Outcome {
    match (level, v) {
        (Level::Info, _) => Outcome::Informational,
        (_, Verdict::Pass) => Outcome::Passed,
        (_, Verdict::Tolerated) | (Level::Should, Verdict::Fail) => Outcome::NonStrict,
        (Level::Must, Verdict::Fail) => Outcome::Failed,
    }
}

/// What the sanity exchanges say of the node after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Health {
    /// It answered both.
    Alive,
    /// It did not answer while the input's connection was open, and did once it was closed.
    Hung(String),
    /// It did not answer once the input's connection was closed: killed, or hung for good.
    Died(String),
}

/// tlsfuzzer's rule, twice: a sanity exchange while the input's connection is still `open` (a
/// node that hangs on an input it is still waiting on), then one after it is closed (a node the
/// input killed). The input after which the node stops answering is the one to blame.
pub(crate) fn aftermath(
    addr: SocketAddr,
    dialect: &dyn Dialect,
    open: std::net::TcpStream,
    setting: Setting,
    sink: &mut Option<TraceSink<'_>>,
    what: &str,
    sanity_id: &mut u64,
) -> Health {
    *sanity_id -= 2;
    let during = sanity(addr, dialect, *sanity_id + 1, setting, sink, &format!("during {what}"));
    drop(open);
    let after = sanity(addr, dialect, *sanity_id, setting, sink, &format!("after {what}"));
    match (during, after) {
        (_, Err(why)) => Health::Died(why),
        (Err(why), Ok(_)) => Health::Hung(why),
        (Ok(_), Ok(_)) => Health::Alive,
    }
}

/// The node's term from a sanity exchange: `Ok(None)` if its answer carries none, `Err` why not
/// (a connection refused says "could not connect").
pub(crate) fn node_term(addr: SocketAddr, dialect: &dyn Dialect, setting: Setting) -> Result<Option<u64>, String> {
    sanity(addr, dialect, u64::MAX, setting, &mut None, "before fuzzing")
}

/// Runs `cases` against `addr`, calling `on_case` as each result is known (for progress), and
/// handing every connection's trace to `sink` when there is one (`--record`).
pub fn run(
    addr: SocketAddr,
    dialect: &dyn Dialect,
    cases: &[Case],
    options: &Options,
    on_case: &mut dyn FnMut(&CaseResult),
    mut sink: Option<TraceSink<'_>>,
) -> Result<Report, ProbeError> {
    let timeout = options.timeout;
    let setting = Setting {
        timeout,
        epoch: std::time::Instant::now(),
        record: sink.is_some(),
    };
    // Sanity ids count down from the top, far from the cases' own ids.
    let mut sanity_id = u64::MAX;
    let mut report = Report {
        target: addr.to_string(),
        dialect: dialect.name().to_string(),
        node_term: None,
        summary: Summary::default(),
        cases: Vec::new(),
    };
    let mut alive = match sanity(addr, dialect, sanity_id, setting, &mut sink, "before the first case") {
        Ok(term) => {
            report.node_term = term;
            Ok(())
        }
        Err(why) if why.starts_with("could not connect") => return Err(ProbeError::Connect(why)),
        Err(why) => Err(format!(
            "the node did not answer the sanity exchange before the first case: {why}"
        )),
    };
    for case in cases {
        let expected = case.expect.describe(timeout);
        let skip = |why: String| CaseResult {
            client: None,
            id: case.id.clone(),
            requirement: case.requirement.to_string(),
            level: case.level,
            result: Outcome::Skipped,
            expected: expected.clone(),
            observed: why,
            duration_ms: 0,
        };
        let result = if let Err(why) = &alive {
            skip(why.clone())
        } else if !options.disruptive && case.max_term > 0 && report.node_term.is_none_or(|t| case.max_term >= t) {
            skip(format!(
                "its requests carry term {} and the node's term is {}: not stale, so they could change the node's state (run with --disruptive)",
                case.max_term,
                report.node_term.map_or("unknown".into(), |t| t.to_string())
            ))
        } else {
            let (ex, open) = match exchange(addr, dialect, &case.steps, &decided(&case.expect), setting) {
                Ok(done) => done,
                Err(e) => {
                    let why = format!("the node stopped accepting connections at {}: {}", case.id, e.0);
                    alive = Err(why.clone());
                    let mut r = skip(why);
                    r.result = Outcome::Failed;
                    on_case(&r);
                    report.cases.push(r);
                    continue;
                }
            };
            if let (Some(sink), Some(trace)) = (sink.as_mut(), &ex.trace) {
                sink(trace, &format!("raftwire probe: {}", case.id));
            }
            let mut r = CaseResult {
                client: ex.client.map(|c| c.to_string()),
                id: case.id.clone(),
                requirement: case.requirement.to_string(),
                level: case.level,
                result: outcome(case.level, verdict(&case.expect, &ex)),
                expected: expected.clone(),
                observed: describe(&ex, timeout),
                duration_ms: ex.elapsed.as_millis() as u64,
            };
            match aftermath(addr, dialect, open, setting, &mut sink, &case.id, &mut sanity_id) {
                Health::Alive => {}
                Health::Hung(why) => {
                    r.result = Outcome::Failed;
                    r.observed.push_str(&format!(
                        "; the node hung while this case's connection was open (sanity exchange: {why}), and answered again once it was closed"
                    ));
                }
                Health::Died(why) => {
                    r.result = Outcome::Failed;
                    r.observed.push_str(&format!(
                        "; then the node stopped answering (sanity exchange after this case: {why})"
                    ));
                    alive = Err(format!("the node stopped answering after {}", case.id));
                }
            }
            r
        };
        on_case(&result);
        report.cases.push(result);
    }
    report.summary.target_alive = alive.is_ok();
    report.tally();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::selects;

    #[test]
    fn a_prefix_never_ends_inside_a_number() {
        assert!(selects("rfw/FRAME-1", "rfw/FRAME-1/bad-marker"));
        assert!(!selects("rfw/FRAME-1", "rfw/FRAME-10/slow-drip"));
        assert!(selects("rfw/FRAME-10", "rfw/FRAME-10/slow-drip"));
        assert!(selects("rfw/STREAM", "rfw/STREAM-5/pipelined"));
        assert!(selects("rfw/FRAME-7/length", "rfw/FRAME-7/length-4gib"));
        assert!(selects("rfw/FRAME-4/unknown-type-0x", "rfw/FRAME-4/unknown-type-0x05"));
        assert!(!selects("rfw/FRAME-7", "rfw/FRAME-1/bad-marker"));
        assert!(selects("", "rfw/FRAME-1/bad-marker"));
    }
}

#[cfg(test)]
mod judging {
    use super::*;

    fn seen(id: u64, kind: &str, error: bool) -> Seen {
        Seen {
            id: Some(id),
            kind: kind.into(),
            term: Some(5),
            error,
            detail: String::new(),
        }
    }

    fn answer(id: u64, kind: &'static str) -> Answer {
        Answer { id: Some(id), kind }
    }

    fn ex(answers: Vec<Seen>, end: End) -> Exchange {
        Exchange {
            sent: Vec::new(),
            received: Vec::new(),
            answers,
            malformed: None,
            end,
            unsent: 0,
            elapsed: Duration::from_millis(4),
            client: None,
            trace: None,
        }
    }

    #[test]
    fn exactly_the_wanted_answers_in_any_order_by_id_in_order_without() {
        let want = [answer(1, "A"), answer(2, "B")];
        assert!(exactly(&want, &[seen(2, "B", false), seen(1, "A", false)]));
        assert!(!exactly(&want, &[seen(1, "A", false)]), "one missing");
        assert!(
            !exactly(&want, &[seen(1, "A", false), seen(2, "B", false), seen(3, "A", false)]),
            "one extra"
        );
        assert!(
            !exactly(&want, &[seen(1, "B", false), seen(2, "A", false)]),
            "kinds swapped"
        );
        assert!(
            !exactly(&want, &[seen(1, "A", false), seen(1, "B", false)]),
            "a wrong id"
        );
        let positional = [Answer { id: None, kind: "A" }, Answer { id: None, kind: "B" }];
        let mut a = seen(0, "A", false);
        a.id = None;
        let mut b = seen(0, "B", false);
        b.id = None;
        assert!(exactly(&positional, &[a.clone(), b.clone()]));
        assert!(!exactly(&positional, &[b, a]), "hashicorp answers in request order");
    }

    #[test]
    fn verdicts_follow_the_expectation() {
        let closed = |answers| verdict(&Expect::Closed, &ex(answers, End::Closed));
        assert!(matches!(closed(vec![]), Verdict::Pass));
        assert!(
            matches!(closed(vec![seen(1, "Error", true)]), Verdict::Pass),
            "Malformed, then closed"
        );
        assert!(
            matches!(closed(vec![seen(1, "A", false)]), Verdict::Fail),
            "it acted on the frame"
        );
        assert!(matches!(
            verdict(&Expect::Closed, &ex(vec![], End::Open { timed_out: true })),
            Verdict::Fail
        ));
        assert!(matches!(
            verdict(&Expect::Closed, &ex(vec![], End::Reset)),
            Verdict::Pass
        ));
        let mut bad = ex(vec![], End::Closed);
        bad.malformed = Some("garbage".into());
        assert!(matches!(verdict(&Expect::Closed, &bad), Verdict::Fail));
        let race = Expect::ClosedOr(vec![answer(1, "A"), answer(1, "A")]);
        assert!(matches!(
            verdict(&race, &ex(vec![seen(1, "A", false)], End::Closed)),
            Verdict::Pass
        ));
        assert!(matches!(
            verdict(
                &race,
                &ex(
                    vec![seen(1, "A", false), seen(1, "A", false)],
                    End::Open { timed_out: false }
                )
            ),
            Verdict::Tolerated
        ));
        assert!(matches!(
            verdict(&race, &ex(vec![seen(7, "A", false)], End::Closed)),
            Verdict::Fail
        ));
        let both = ex(vec![seen(1, "A", false), seen(1, "A", false)], End::Closed);
        assert!(
            matches!(verdict(&race, &both), Verdict::Tolerated),
            "both answered, then closed: the race was won, not the rule kept"
        );
    }

    #[test]
    fn reading_stops_when_the_answers_decide() {
        let closed = decided(&Expect::Closed);
        assert!(
            !closed(&[seen(1, "Error", true)]),
            "an error answer may come before the close"
        );
        assert!(closed(&[seen(1, "A", false)]), "a typed answer decides: the node acted");
        let two = Expect::Answered(vec![answer(1, "A"), answer(2, "B")]);
        let two = decided(&two);
        assert!(!two(&[seen(1, "A", false)]));
        assert!(two(&[seen(1, "A", false), seen(2, "B", false)]));
    }

    #[test]
    fn a_description_says_what_happened() {
        let mut e = ex(vec![seen(3, "A", false)], End::Closed);
        assert_eq!(
            describe(&e, Duration::from_secs(2)),
            "answered A to request 3 (), then closed the connection (FIN), after 4 ms"
        );
        e.unsent = 9;
        e.end = End::Open { timed_out: true };
        let d = describe(&e, Duration::from_secs(2));
        assert!(
            d.contains("kept the connection open for 2s (timeout)") && d.contains("9 bytes could not be sent"),
            "{d}"
        );
        assert_eq!(outcome(Level::Should, Verdict::Fail), Outcome::NonStrict);
        assert_eq!(outcome(Level::Info, Verdict::Fail), Outcome::Informational);
        assert_eq!(outcome(Level::Must, Verdict::Tolerated), Outcome::NonStrict);
    }
}
