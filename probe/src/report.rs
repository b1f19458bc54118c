//! What a probe run found, as text, JSON and JUnit. The JSON field names are a contract (other
//! tools read them): `summary.{passed, failed, skipped, target_alive}` and
//! `cases[].{id, requirement, level, result, expected, observed, duration_ms}`.

use serde::Serialize;

use crate::case::Level;

fn level_name<S: serde::Serializer>(level: &Level, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(level.as_str())
}

/// A case's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// An acceptable outcome.
    Passed,
    /// A MUST was broken, or the node died or hung during the case.
    Failed,
    /// A SHOULD was broken, or a tolerated outcome of a race: a failure only with `--strict`.
    NonStrict,
    /// Recorded, never judged.
    Informational,
    /// Not run: not selected as runnable (its terms would not be stale for the node without
    /// `--disruptive`), or the node was no longer alive.
    Skipped,
}

impl Outcome {
    /// As in the JSON and the text report.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::NonStrict => "non-strict",
            Outcome::Informational => "informational",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    /// The case's stable id.
    pub id: String,
    /// The requirement it checks.
    pub requirement: String,
    /// MUST, SHOULD or INFO.
    #[serde(serialize_with = "level_name")]
    pub level: Level,
    /// The verdict.
    pub result: Outcome,
    /// What was acceptable.
    pub expected: String,
    /// What the node did (or why the case was skipped).
    pub observed: String,
    /// How long the case took, sanity exchange after it excluded.
    pub duration_ms: u64,
    /// The probe's end of the case's connection (`127.0.0.1:51234`): to find it in the node's
    /// logs or in a `--record` capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// Counts, and whether the node was alive at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Cases passed.
    pub passed: usize,
    /// Cases failed.
    pub failed: usize,
    /// Cases non-strict.
    pub non_strict: usize,
    /// Cases informational.
    pub informational: usize,
    /// Cases skipped.
    pub skipped: usize,
    /// The node answered the last sanity exchange.
    pub target_alive: bool,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The address probed.
    pub target: String,
    /// The dialect spoken.
    pub dialect: String,
    /// The node's term, from the first sanity exchange.
    pub node_term: Option<u64>,
    /// Counts.
    pub summary: Summary,
    /// Every case, in run order.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// Recomputes the counts from the cases.
    pub(crate) fn tally(&mut self) {
        let count = |o: Outcome| self.cases.iter().filter(|c| c.result == o).count();
        self.summary = Summary {
            passed: count(Outcome::Passed),
            failed: count(Outcome::Failed),
            non_strict: count(Outcome::NonStrict),
            informational: count(Outcome::Informational),
            skipped: count(Outcome::Skipped),
            target_alive: self.summary.target_alive,
        };
    }

    /// 0 when every MUST passed (and, with `strict`, every SHOULD) and the node is alive; else 1.
    pub fn exit_code(&self, strict: bool) -> i32 {
        let failing = self.summary.failed + if strict { self.summary.non_strict } else { 0 };
        if failing == 0 && self.summary.target_alive {
            0
        } else {
            1
        }
    }

    /// The JSON report.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// One case as a line of the text report (and the lines explaining a failure).
    pub fn text_line(c: &CaseResult) -> String {
        let mark = match c.result {
            Outcome::Passed => "PASS",
            Outcome::Failed => "FAIL",
            Outcome::NonStrict => "NON-STRICT",
            Outcome::Informational => "INFO",
            Outcome::Skipped => "SKIP",
        };
        let mut s = format!(
            "{mark:<10} {} ({} {}) {} ms",
            c.id,
            c.level.as_str(),
            c.requirement,
            c.duration_ms
        );
        match c.result {
            Outcome::Passed => {}
            Outcome::Skipped => s.push_str(&format!("\n           {}", c.observed)),
            _ => s.push_str(&format!(
                "\n           expected: {}\n           observed: {}",
                c.expected, c.observed
            )),
        }
        s
    }

    /// The summary line of the text report.
    pub fn text_summary(&self) -> String {
        let s = &self.summary;
        format!(
            "{}: {} passed, {} failed, {} non-strict, {} informational, {} skipped; target {}",
            self.target,
            s.passed,
            s.failed,
            s.non_strict,
            s.informational,
            s.skipped,
            if s.target_alive {
                "alive"
            } else {
                "NOT ALIVE (died or hung)"
            }
        )
    }

    /// The whole text report.
    pub fn text(&self) -> String {
        let mut out: Vec<String> = self.cases.iter().map(Report::text_line).collect();
        out.push(self.text_summary());
        out.join("\n") + "\n"
    }

    /// JUnit XML: one suite, one test case per probe case. A non-strict result fails only with
    /// `strict`; skipped cases are skipped with their reason.
    pub fn junit(&self, strict: bool) -> String {
        use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
        let mut out = Junit::new("raftwire probe");
        let mut suite = TestSuite::new(format!("{} {}", self.dialect, self.target));
        for c in &self.cases {
            let fails = c.result == Outcome::Failed || strict && c.result == Outcome::NonStrict;
            let status = if fails {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("{} {}: {}", c.level.as_str(), c.requirement, c.observed));
                s.set_type(c.result.as_str());
                s.set_description(format!("expected: {}\nobserved: {}", c.expected, c.observed));
                s
            } else if c.result == Outcome::Skipped {
                let mut s = TestCaseStatus::skipped();
                s.set_message(c.observed.clone());
                s
            } else {
                TestCaseStatus::success()
            };
            let mut case = TestCase::new(c.id.clone(), status);
            case.set_time(std::time::Duration::from_millis(c.duration_ms));
            suite.add_test_case(case);
        }
        if !self.summary.target_alive {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message("the node stopped answering the sanity exchange");
            suite.add_test_case(TestCase::new("target_alive", s));
        }
        out.add_test_suite(suite);
        out.to_string().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(alive: bool) -> Report {
        let case = |id: &str, result: Outcome| CaseResult {
            id: id.into(),
            requirement: "FRAME-1".into(),
            level: Level::Must,
            result,
            expected: "a close".into(),
            observed: "an answer".into(),
            duration_ms: 3,
            client: None,
        };
        let mut r = Report {
            target: "127.0.0.1:1".into(),
            dialect: "rfw".into(),
            node_term: Some(5),
            summary: Summary {
                target_alive: alive,
                ..Summary::default()
            },
            cases: vec![
                case("rfw/a", Outcome::Passed),
                case("rfw/b", Outcome::Failed),
                case("rfw/c", Outcome::NonStrict),
                case("rfw/d", Outcome::Skipped),
            ],
        };
        r.tally();
        r
    }

    #[test]
    fn text_says_each_result_and_why() {
        let r = report(true);
        assert_eq!(Report::text_line(&r.cases[0]), "PASS       rfw/a (MUST FRAME-1) 3 ms");
        assert_eq!(
            Report::text_line(&r.cases[1]),
            "FAIL       rfw/b (MUST FRAME-1) 3 ms\n           expected: a close\n           observed: an answer"
        );
        assert_eq!(
            Report::text_line(&r.cases[3]),
            "SKIP       rfw/d (MUST FRAME-1) 3 ms\n           an answer"
        );
        assert_eq!(
            r.text_summary(),
            "127.0.0.1:1: 1 passed, 1 failed, 1 non-strict, 0 informational, 1 skipped; target alive"
        );
        assert!(report(false)
            .text_summary()
            .ends_with("target NOT ALIVE (died or hung)"));
        let all = r.text();
        assert_eq!(all.lines().count(), 1 + 3 + 2 + 3 + 1, "{all}");
        assert!(all.starts_with("PASS ") && all.ends_with("target alive\n"), "{all}");
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(json["summary"]["failed"], 1);
        assert_eq!(json["cases"][2]["result"], "non-strict");
        assert!(json["cases"][0].get("client").is_none(), "no client: not in the JSON");
    }

    #[test]
    fn exit_codes_follow_failures_strictness_and_life() {
        let mut r = report(true);
        assert_eq!(r.exit_code(false), 1);
        r.cases.remove(1);
        r.tally();
        assert_eq!(r.exit_code(false), 0);
        assert_eq!(r.exit_code(true), 1, "non-strict fails with --strict");
        r.summary.target_alive = false;
        assert_eq!(r.exit_code(false), 1);
    }

    #[test]
    fn junit_fails_what_fails_skips_what_was_skipped_and_says_when_the_node_died() {
        let xml = report(true).junit(false);
        assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
        assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
        assert_eq!(xml.matches("<skipped").count(), 1, "{xml}");
        assert_eq!(report(true).junit(true).matches("<failure").count(), 2);
        let dead = report(false).junit(false);
        assert!(dead.contains("name=\"target_alive\""), "{dead}");
        assert_eq!(dead.matches("<failure").count(), 2);
    }
}
