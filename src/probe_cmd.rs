//! `raftwire probe`: the CLI around `raftwire-probe` (target resolution, case selection, output
//! formats, progress on a terminal).

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use raftwire_probe::fuzz::FuzzOptions;
use raftwire_probe::record::Recorder;
use raftwire_probe::{Case, Options, ProbeError, Report};

use std::path::PathBuf;

use crate::{emit, Format};

/// What `probe` was asked: its command-line arguments.
#[derive(clap::Args)]
pub struct Request {
    /// The node, HOST:PORT (required unless --list).
    pub target: Option<String>,
    /// The wire the node speaks.
    #[arg(long, default_value = "rfw", value_parser = ["rfw", "hashicorp"])]
    pub dialect: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Seconds to wait for an answer or a close, per case (and for a connection).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Only cases whose id starts with one of these (repeatable, or comma-separated):
    /// `rfw/FRAME-7`, `rfw/STREAM` (`rfw/FRAME-1` does not select `rfw/FRAME-10/...`).
    #[arg(long = "cases", value_delimiter = ',')]
    pub cases: Vec<String>,
    /// Leave out cases whose id starts with one of these (repeatable, or comma-separated).
    #[arg(long = "skip", value_delimiter = ',')]
    pub skip: Vec<String>,
    /// Send this file's bytes as the only case (a reproducer saved by --fuzz, or your own),
    /// with the sanity exchanges around it: exit 1 if the node dies or hangs.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cases", "skip", "list"])]
    pub replay: Option<PathBuf>,
    /// Write every connection the probe opened (cases and sanity exchanges) as a pcapng
    /// capture, each SYN commented with its case: `raftwire validate` checks it, Wireshark
    /// shows it.
    #[arg(long, value_name = "FILE.pcapng")]
    pub record: Option<PathBuf>,
    /// Instead of the cases, send this many mutations of valid, stale requests, each on its
    /// own connection, with the sanity exchanges after each: an input after which the node
    /// hangs or dies is saved (and minimised while the node is alive) under --findings, for
    /// --replay.
    #[arg(long, value_name = "N", conflicts_with_all = ["cases", "skip", "list", "replay", "record"])]
    pub fuzz: Option<usize>,
    /// The fuzzer's seed (printed at the start of every run): the same seed sends the same inputs.
    #[arg(long, requires = "fuzz")]
    pub seed: Option<u64>,
    /// Where --fuzz saves reproducers.
    #[arg(long, value_name = "DIR", default_value = "probe-findings")]
    pub findings: PathBuf,
    /// Seconds --fuzz waits for a node that died to come back (restarted by a supervisor)
    /// before minimising its input; 0 stops at the first death.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub restart_wait: f64,
    /// --fuzz stops after this many findings.
    #[arg(long, default_value_t = 10)]
    pub max_findings: usize,
    /// List the cases (id, level, requirement, what is sent) and exit (with --format json, as JSON).
    #[arg(long)]
    pub list: bool,
    /// Also run cases whose terms are not stale for the node: they may change its state.
    #[arg(long)]
    pub disruptive: bool,
    /// Count SHOULD-level and raced (non-strict) results as failures.
    #[arg(long)]
    pub strict: bool,
}

fn listing(cases: &[Case]) -> String {
    let mut out = String::new();
    for c in cases {
        let runs = if c.max_term > 0 {
            format!(
                "  [term {}: needs a node past term {}, or --disruptive]",
                c.max_term, c.max_term
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{:<48} {:<6} {}{runs}\n    {}\n",
            c.id,
            c.level.as_str(),
            c.requirement,
            c.summary
        ));
    }
    out
}

/// The most a reproducer file may hold: far more than any case sends.
const MAX_REPLAY: u64 = 64 << 20;

fn replay(dialect: &str, path: &std::path::Path) -> Result<Case, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_REPLAY + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_REPLAY {
        return Err(format!(
            "{}: more than {MAX_REPLAY} bytes: not a reproducer",
            path.display()
        ));
    }
    if bytes.is_empty() {
        return Err(format!("{}: empty: nothing to send", path.display()));
    }
    let name = path
        .file_name()
        .map_or("input".into(), |n| n.to_string_lossy().into_owned());
    Ok(Case::replay(dialect, &name, bytes))
}

/// `--list --format json`: the cases for tools (`probe.sh` reads it).
fn listing_json(cases: &[Case]) -> String {
    let list: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "requirement": c.requirement,
                "level": c.level.as_str(),
                "summary": c.summary,
                "max_term": c.max_term,
            })
        })
        .collect();
    serde_json::to_string_pretty(&list).unwrap_or_default()
}

fn resolve(target: &str) -> Result<SocketAddr, String> {
    target
        .to_socket_addrs()
        .map_err(|e| format!("{target}: not an address to probe (HOST:PORT): {e}"))?
        .next()
        .ok_or_else(|| format!("{target}: resolves to no address"))
}

pub fn run(r: Request) -> Result<ExitCode, String> {
    let dialect = raftwire_probe::dialect(&r.dialect)
        .ok_or_else(|| format!("--dialect {}: not a dialect the probe speaks", r.dialect))?;
    let cases = match &r.replay {
        Some(path) => vec![replay(dialect.name(), path)?],
        None => raftwire_probe::select(dialect.cases(), &r.cases, &r.skip).map_err(|e| e.to_string())?,
    };
    if r.list {
        let out = match r.format {
            Format::Json => listing_json(&cases) + "\n",
            _ => listing(&cases),
        };
        emit(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let target = r
        .target
        .clone()
        .ok_or("give the node to probe (HOST:PORT), or --list")?;
    if !(0.01..=3600.0).contains(&r.timeout) {
        return Err(format!("--timeout {}: give seconds from 0.01 to 3600", r.timeout));
    }
    let addr = resolve(&target)?;
    if let Some(inputs) = r.fuzz {
        return fuzz(&r, dialect.as_ref(), addr, &target, inputs);
    }
    let options = Options {
        timeout: Duration::from_secs_f64(r.timeout),
        disruptive: r.disruptive,
    };
    let text = matches!(r.format, Format::Text);
    // Text streams a line per case as it is decided; the other formats show a bar on a terminal.
    let bar = indicatif::ProgressBar::new(cases.len() as u64);
    if text {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut recorder = match &r.record {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let recorder =
                Recorder::new(std::io::BufWriter::new(file)).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(recorder)
        }
        None => None,
    };
    let mut record_error = None;
    let mut sink = |trace: &raftwire_probe::record::Trace, what: &str| {
        if let (Some(rec), None) = (recorder.as_mut(), &record_error) {
            record_error = rec.connection(trace, what).err();
        }
    };
    let mut write_error = None;
    let recording = r.record.is_some();
    let report: Result<Report, ProbeError> = raftwire_probe::run(
        addr,
        dialect.as_ref(),
        &cases,
        &options,
        &mut |c| {
            bar.inc(1);
            if text && write_error.is_none() {
                write_error = emit(&(Report::text_line(c) + "\n")).err();
            }
        },
        if recording { Some(&mut sink) } else { None },
    );
    bar.finish_and_clear();
    if let Some(e) = write_error {
        return Err(e);
    }
    if let (Some(path), Some(rec)) = (&r.record, recorder) {
        if let Some(e) = record_error {
            return Err(format!("{}: {e}", path.display()));
        }
        rec.finish().map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let report = report.map_err(|e| format!("{target}: {e}"))?;
    let out = match r.format {
        Format::Text => report.text_summary() + "\n",
        Format::Json => report.json() + "\n",
        Format::Junit => report.junit(r.strict),
    };
    emit(&out)?;
    Ok(ExitCode::from(report.exit_code(r.strict) as u8))
}

/// `--fuzz N`: the report lists the findings; the exit status is 1 if there is one.
fn fuzz(
    r: &Request,
    dialect: &dyn raftwire_probe::Dialect,
    addr: SocketAddr,
    target: &str,
    inputs: usize,
) -> Result<ExitCode, String> {
    if !(0.0..=3600.0).contains(&r.restart_wait) {
        return Err(format!(
            "--restart-wait {}: give seconds from 0 to 3600",
            r.restart_wait
        ));
    }
    let seed = r.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    // The seed first, so a run cut short can still be repeated.
    eprintln!("raftwire probe: fuzzing {target} with {inputs} inputs, --seed {seed}");
    let timeout = Duration::from_secs_f64(r.timeout);
    let options = FuzzOptions {
        inputs,
        seed,
        timeout,
        wait: timeout.min(Duration::from_millis(200)),
        disruptive: r.disruptive,
        out: r.findings.clone(),
        restart_wait: Duration::from_secs_f64(r.restart_wait),
        minimise_tries: 200,
        max_findings: r.max_findings.max(1),
    };
    let bar = indicatif::ProgressBar::new(inputs as u64);
    let report = raftwire_probe::fuzz::fuzz(addr, dialect, &options, &mut |n, found| {
        bar.set_position(n as u64);
        bar.set_message(format!("{} finding(s)", found.len()));
    })
    .map_err(|e| format!("{target}: {e}"))?;
    bar.finish_and_clear();
    let s = &report.summary;
    let out = match r.format {
        Format::Text => {
            let mut t: String = report.cases.iter().map(|c| Report::text_line(c) + "\n").collect();
            t.push_str(&format!(
                "{target}: {} inputs sent without harm, {} not sent (their terms might not be stale: --disruptive sends them), {} finding(s); target {}\n",
                s.passed,
                s.skipped,
                s.failed,
                if s.target_alive { "alive" } else { "NOT ALIVE" }
            ));
            t
        }
        Format::Json => report.json() + "\n",
        Format::Junit => report.junit(r.strict),
    };
    emit(&out)?;
    Ok(ExitCode::from(report.exit_code(r.strict) as u8))
}
