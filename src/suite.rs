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
    /// A directory of vectors, or `None` for the built-in set.
    pub vectors: Option<PathBuf>,
    pub decoder_cmd: Option<String>,
    pub filters: Vec<String>,
    pub strict: bool,
    pub baseline: Option<PathBuf>,
    pub timeout: Duration,
    /// Decoders run at once.
    pub jobs: usize,
}

/// Most bytes of a decoder's stdout or stderr kept; the rest is read and dropped, so a chatty
/// decoder never blocks on a full pipe (which would look like a hang).
const KEEP: usize = 64 << 10;

/// Reads a pipe to its end on a thread of its own, keeping the first [`KEEP`] bytes.
fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => return kept,
                Ok(n) => {
                    let room = KEEP.saturating_sub(kept.len()).min(n);
                    kept.extend_from_slice(buf.get(..room).unwrap_or_default());
                }
            }
        }
    })
}

/// Ends a decoder that overran its time, and everything it started: it runs in a process group
/// of its own (`sh -c` and its children), and the whole group is killed.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) with a negative pid signals the process group we created for this
            // child (process_group(0) made it the group leader); it touches no memory of ours.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Why a decoder run did not give a verdict.
pub enum RunError {
    /// The decoder failed this vector (timeout, bad exit, no or bad verdict).
    Vector(String),
    /// The decoder cannot be run at all (`sh` reports the command missing or not executable):
    /// the whole run is unusable, exit 2.
    Unrunnable(String),
}

/// Runs an external decoder on one frame vector: the vector's bytes on stdin, a JSON verdict on
/// stdout, exit status 0 (conformance/README.md: "The contract").
fn external(cmd: &str, bytes: &[u8], timeout: Duration) -> Result<FrameVerdict, RunError> {
    let mut command = Command::new("sh");
    command
        .args(["-c", cmd])
        .env(
            "RFW_MAX_PAYLOAD_LEN",
            raftwire_codec::DEFAULT_MAX_PAYLOAD_LEN.to_string(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| RunError::Unrunnable(format!("could not run the decoder (sh -c {cmd:?}): {e}")))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        kill_group(&mut child);
        return Err(RunError::Unrunnable(
            "could not connect to the decoder's standard streams".into(),
        ));
    };
    let input = bytes.to_vec();
    // A decoder that exits without reading its input closes the pipe: not our error.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let (out, err) = (drain(stdout), drain(stderr));
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => {
                kill_group(&mut child);
                let _ = (writer.join(), out.join(), err.join());
                return Err(RunError::Vector(format!(
                    "decoder did not finish within {timeout:?} (killed, with its process group)"
                )));
            }
        }
    };
    let _ = writer.join();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&stderr);
    let stderr = stderr.trim();
    let stderr: String = stderr.chars().take(300).collect();
    match status.code() {
        Some(0) => {}
        // sh's own codes for a command it could not find or execute.
        Some(code @ (126 | 127)) => {
            return Err(RunError::Unrunnable(format!(
                "could not run the decoder: sh -c {cmd:?} exited {code} ({})",
                if stderr.is_empty() {
                    "command not found or not executable"
                } else {
                    &stderr
                }
            )))
        }
        Some(code) => {
            return Err(RunError::Vector(format!(
                "decoder exited with status {code}, not 0: {stderr}"
            )))
        }
        None => {
            #[cfg(unix)]
            let signal = std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0);
            #[cfg(not(unix))]
            let signal = 0;
            return Err(RunError::Vector(format!(
                "decoder was killed by signal {signal}: {stderr}"
            )));
        }
    }
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Err(RunError::Vector(format!("decoder printed no verdict: {stderr}")));
    }
    serde_json::from_slice(&stdout).map_err(|e| {
        RunError::Vector(format!(
            "decoder printed an unreadable verdict ({e}): {}",
            String::from_utf8_lossy(stdout.get(..stdout.len().min(300)).unwrap_or_default()).trim()
        ))
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

/// Why two verdicts disagree, naming the part that differs.
fn mismatch(expected: &FrameVerdict, got: &FrameVerdict) -> String {
    match (expected, got) {
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
        ) if c1 == c2 && o1 == o2 && f1 != f2 => format!(
            "expected {} with frames_before {f1}, got frames_before {f2}: the error is right, the count of valid \
             frames before it is not",
            describe(expected)
        ),
        _ => format!("expected {}, got {}", describe(expected), describe(got)),
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

/// A vector's grade and detail, or why the decoder cannot be run at all.
type RunResult = Result<(Grade, String), String>;

fn run_one(v: &Vector, opts: &Options) -> RunResult {
    let result = match (&opts.decoder_cmd, &v.spec.frames) {
        (Some(_), None) => {
            return Ok((
                Grade::Skipped,
                "stream vector: needs a stream checker, not a decoder".into(),
            ))
        }
        (Some(cmd), Some(expected)) => match external(cmd, &v.bytes, opts.timeout) {
            Ok(got) if agrees(expected, &got) => Ok(()),
            Ok(got) => Err(mismatch(expected, &got)),
            Err(RunError::Vector(e)) => Err(e),
            Err(RunError::Unrunnable(e)) => return Err(e),
        },
        (None, _) => vectors::check_builtin(v).map_err(|got| match &v.spec.frames {
            Some(expected) => format!("expected {}, {got}", describe(expected)),
            None => format!(
                "expected {}, {got}",
                serde_json::to_string(&v.spec.stream).unwrap_or_default()
            ),
        }),
    };
    Ok(match result {
        Ok(()) => (Grade::Pass, String::new()),
        Err(detail) => {
            let grade = match v.spec.level.as_str() {
                "MUST" => Grade::Fail,
                "SHOULD" => Grade::NonStrict,
                _ => Grade::Informational,
            };
            (grade, detail)
        }
    })
}

/// Runs the chosen vectors on up to `jobs` threads (a decoder per vector), results in their
/// order, with a progress bar on standard error when an external decoder runs. The first vector
/// that finds the decoder unrunnable ends the run.
fn run_all(chosen: &[&Vector], opts: &Options) -> Result<Vec<(Grade, String)>, String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let bar = if opts.decoder_cmd.is_some() {
        let bar = indicatif::ProgressBar::new(chosen.len() as u64);
        let style = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} vectors {elapsed}");
        bar.set_style(style.unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<RunResult>>> = Mutex::new(vec![None; chosen.len()]);
    let threads = if opts.decoder_cmd.is_some() {
        opts.jobs.clamp(1, chosen.len().max(1))
    } else {
        1
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(v) = chosen.get(i) else { return };
                let r = run_one(v, opts);
                let unrunnable = r.is_err();
                if let Ok(mut all) = results.lock() {
                    if let Some(slot) = all.get_mut(i) {
                        *slot = Some(r);
                    }
                }
                bar.inc(1);
                if unrunnable {
                    // Stop handing out vectors: the decoder cannot run at all.
                    next.store(chosen.len(), Ordering::Relaxed);
                    return;
                }
            });
        }
    });
    bar.finish_and_clear();
    let results = results.into_inner().unwrap_or_default();
    if let Some(Err(e)) = results.iter().flatten().find(|r| r.is_err()) {
        return Err(e.clone());
    }
    Ok(results
        .into_iter()
        .map(|r| r.and_then(Result::ok).unwrap_or((Grade::Skipped, "not run".into())))
        .collect())
}

/// Runs the suite. `Err` for unusable input (no vectors, nothing matched, a bad baseline).
pub fn run(opts: &Options) -> Result<(SuiteReport, bool), String> {
    if opts.decoder_cmd.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err("--decoder-cmd is empty: give the command that runs your decoder".into());
    }
    if opts.timeout.is_zero() {
        return Err("--timeout must be at least 1 ms".into());
    }
    // The vectors are built in (the same bytes as conformance/vectors, which a test checks), so
    // an installed raftwire runs them from any directory; --vectors DIR reads others.
    let (all, source) = match &opts.vectors {
        Some(dir) => (vectors::load(dir)?, dir.display().to_string()),
        None => (vectors::all(), "the built-in set".to_string()),
    };
    let chosen: Vec<&Vector> = all.iter().filter(|v| selected(v, &opts.filters)).collect();
    if chosen.is_empty() {
        return Err(format!(
            "no vector matched {:?} ({} vectors in {source})",
            opts.filters,
            all.len(),
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
    let outcomes = run_all(&chosen, opts)?;
    for (v, (grade, detail)) in chosen.iter().zip(outcomes) {
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
