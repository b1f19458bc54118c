//! `raftwire conformance`: runs the committed vectors against the built-in codec, or against any
//! external decoder (`--decoder-cmd`), and grades each one like Autobahn: pass, fail, non-strict
//! (a SHOULD-level vector that failed) or informational.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use raftwire_conformance::vectors::{self, FrameVerdict, Vector};
use serde::{Deserialize, Serialize};

/// A vector's grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grade {
    Pass,
    Fail,
    NonStrict,
    Informational,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: String,
    pub requirement: String,
    pub level: String,
    pub grade: Grade,
    /// What went wrong (empty on a pass).
    pub detail: String,
    /// With `--baseline`: the failure is not in the baseline (a regression).
    pub regression: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SuiteReport {
    pub summary: BTreeMap<String, usize>,
    pub results: Vec<Outcome>,
}

/// A recorded run, for `--baseline`.
#[derive(Debug, Serialize, Deserialize)]
struct Baseline {
    results: BTreeMap<String, Grade>,
}

pub struct Options {
    pub vectors: PathBuf,
    pub decoder_cmd: Option<String>,
    pub filters: Vec<String>,
    pub strict: bool,
    pub baseline: Option<PathBuf>,
    pub timeout: Duration,
}

/// Runs an external decoder on one frame vector: the vector's bytes on stdin, a JSON verdict on
/// stdout (README of raftwire-conformance: "Testing another implementation").
fn external(cmd: &str, bytes: &[u8], timeout: Duration) -> Result<FrameVerdict, String> {
    let mut child = Command::new("sh")
        .args(["-c", cmd])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run decoder: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("decoder did not finish within {timeout:?}"));
            }
        }
    }
    let _ = writer.join();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Err(format!(
            "decoder printed no verdict (exit {:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "decoder printed an unreadable verdict ({e}): {}",
            String::from_utf8_lossy(&out.stdout).trim()
        )
    })
}

/// Compares a decoder's verdict with the expected one. `frames_before` is compared only when the
/// decoder reports it (it is optional in the contract).
fn agrees(expected: &FrameVerdict, got: &FrameVerdict) -> bool {
    match (expected, got) {
        (FrameVerdict::Accept { frames: a }, FrameVerdict::Accept { frames: b }) => a == b,
        (
            FrameVerdict::Reject {
                code: c1,
                offset: o1,
                frames_before: f1,
            },
            FrameVerdict::Reject {
                code: c2,
                offset: o2,
                frames_before: f2,
            },
        ) => c1 == c2 && o1 == o2 && (*f2 == 0 || f1 == f2),
        _ => false,
    }
}

fn describe(v: &FrameVerdict) -> String {
    match v {
        FrameVerdict::Accept { frames } => format!("accept {} frame(s)", frames.len()),
        FrameVerdict::Reject { code, offset, .. } => format!("reject {code} at {offset}"),
    }
}

fn selected(v: &Vector, filters: &[String]) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| {
            v.spec.id.starts_with(f.as_str())
                || v.spec.requirement == *f
                || v.spec.requirement.starts_with(&format!("{f}-"))
        })
}

fn run_one(v: &Vector, opts: &Options) -> (Grade, String) {
    let result = match (&opts.decoder_cmd, &v.spec.frames) {
        (Some(_), None) => {
            return (
                Grade::Skipped,
                "stream vector: needs a stream checker, not a decoder".into(),
            )
        }
        (Some(cmd), Some(expected)) => match external(cmd, &v.bytes, opts.timeout) {
            Ok(got) if agrees(expected, &got) => Ok(()),
            Ok(got) => Err(format!("expected {}, got {}", describe(expected), describe(&got))),
            Err(e) => Err(e),
        },
        (None, _) => vectors::check_builtin(v).map_err(|got| match &v.spec.frames {
            Some(expected) => format!("expected {}, {got}", describe(expected)),
            None => format!(
                "expected {}, {got}",
                serde_json::to_string(&v.spec.stream).unwrap_or_default()
            ),
        }),
    };
    match result {
        Ok(()) => (Grade::Pass, String::new()),
        Err(detail) => {
            let grade = match v.spec.level.as_str() {
                "MUST" => Grade::Fail,
                "SHOULD" => Grade::NonStrict,
                _ => Grade::Informational,
            };
            (grade, detail)
        }
    }
}

/// Runs the suite. `Err` for unusable input (no vectors, nothing matched, a bad baseline).
pub fn run(opts: &Options) -> Result<(SuiteReport, bool), String> {
    let all = vectors::load(&opts.vectors)?;
    let chosen: Vec<&Vector> = all.iter().filter(|v| selected(v, &opts.filters)).collect();
    if chosen.is_empty() {
        return Err(format!(
            "no vector matched {:?} ({} vectors in {})",
            opts.filters,
            all.len(),
            opts.vectors.display()
        ));
    }
    let baseline: Option<Baseline> = opts
        .baseline
        .as_ref()
        .map(|p| {
            std::fs::read(p)
                .map_err(|e| format!("{}: {e}", p.display()))
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", p.display())))
        })
        .transpose()?;
    let mut report = SuiteReport::default();
    for v in chosen {
        let (grade, detail) = run_one(v, opts);
        let failing = grade == Grade::Fail || (opts.strict && grade == Grade::NonStrict);
        let known = baseline
            .as_ref()
            .and_then(|b| b.results.get(&v.spec.id))
            .is_some_and(|g| *g == grade);
        report.results.push(Outcome {
            id: v.spec.id.clone(),
            requirement: v.spec.requirement.clone(),
            level: v.spec.level.clone(),
            grade,
            detail,
            regression: failing && baseline.is_some() && !known,
        });
    }
    for o in &report.results {
        *report
            .summary
            .entry(format!("{:?}", o.grade).to_lowercase())
            .or_default() += 1;
    }
    let ran = report.results.iter().filter(|o| o.grade != Grade::Skipped).count();
    if ran == 0 {
        return Err(format!(
            "no vector ran: all {} selected vectors were skipped",
            report.results.len()
        ));
    }
    let ok = report.results.iter().all(|o| {
        let failing = o.grade == Grade::Fail || (opts.strict && o.grade == Grade::NonStrict);
        !failing || (baseline.is_some() && !o.regression)
    });
    Ok((report, ok))
}

/// Writes the run as a baseline file.
pub fn write_baseline(report: &SuiteReport, path: &Path) -> Result<(), String> {
    let b = Baseline {
        results: report.results.iter().map(|o| (o.id.clone(), o.grade)).collect(),
    };
    let text = serde_json::to_string_pretty(&b).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// Text report, grouped by requirement.
pub fn text(report: &SuiteReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut by_req: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for o in &report.results {
        by_req.entry(&o.requirement).or_default().push(o);
    }
    for (req, outcomes) in by_req {
        let _ = writeln!(out, "{req} [{}]", outcomes.first().map_or("", |o| o.level.as_str()));
        for o in outcomes {
            let grade = match o.grade {
                Grade::Pass => "PASS",
                Grade::Fail => "FAIL",
                Grade::NonStrict => "NON-STRICT",
                Grade::Informational => "INFO",
                Grade::Skipped => "SKIP",
            };
            let regression = if o.regression { " (regression)" } else { "" };
            let detail = if o.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", o.detail)
            };
            let _ = writeln!(out, "  {grade} {}{regression}{detail}", o.id);
        }
    }
    let n = |k: &str| report.summary.get(k).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "conformance: {} passed, {} failed, {} skipped ({} non-strict, {} informational)",
        n("pass"),
        n("fail") + n("nonstrict"),
        n("skipped"),
        n("nonstrict"),
        n("informational")
    );
    out
}

/// JUnit XML: one suite per requirement, one case per vector.
pub fn junit(report: &SuiteReport) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for o in &report.results {
        let status = match o.grade {
            Grade::Pass | Grade::Informational => TestCaseStatus::success(),
            Grade::Skipped => TestCaseStatus::skipped(),
            Grade::Fail | Grade::NonStrict => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(o.detail.clone()).set_type(format!("{:?}", o.grade));
                s
            }
        };
        suites
            .entry(&o.requirement)
            .or_insert_with(|| TestSuite::new(o.requirement.clone()))
            .add_test_case(TestCase::new(o.id.clone(), status));
    }
    let mut r = Report::new("raftwire conformance");
    r.add_test_suites(suites.into_values());
    r.to_string().unwrap_or_default()
}
