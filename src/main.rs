//! `raftwire`: validate, inspect and generate Raft wire traffic (RFW/1).

mod capture;
mod cluster;
mod corpus;
mod dialect;
mod direction;
mod gen;
mod html;
mod input;
mod inspect;
mod probe_cmd;
mod render;
mod report;
mod serve;
mod source;
mod suite;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use raftwire_codec::Limits;

#[derive(Parser)]
#[command(
    name = "raftwire",
    version,
    about = "Protocol fuzzing and conformance toolkit for Raft wire traffic"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Junit,
}

/// How inputs are read: shared by `validate` and `inspect`.
#[derive(clap::Args)]
struct Reading {
    /// Largest accepted payload in bytes (FRAME-7).
    #[arg(long, default_value_t = raftwire_codec::DEFAULT_MAX_PAYLOAD_LEN)]
    max_payload: u32,
    /// In captures, only TCP connections with an end on this port (repeatable, or comma-separated).
    #[arg(long = "port", value_delimiter = ',')]
    ports: Vec<u16>,
    /// The wire: RFW/1, hashicorp/raft NetworkTransport, or decided per connection.
    #[arg(long, value_enum, default_value_t = dialect::Dialect::Auto)]
    dialect: dialect::Dialect,
}

impl Reading {
    fn limits(&self) -> Limits {
        Limits::with_max_payload_len(self.max_payload)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Check captured streams (RFW/1 or hashicorp/raft): every message, every stream rule.
    ///
    /// INPUT is a pcap or pcapng capture, a raw one-direction stream file, a pair NAME.c2s.bin +
    /// NAME.s2c.bin (the two directions of one connection), or a directory of such files.
    /// Exit status: 0 conforming (everything checked, no violation), 1 violations found, 2
    /// unreadable input, nothing to check, or usage error, 3 no violation in what was checked but
    /// part of the capture could not be checked (packets cut at the snap length, holes, a capture
    /// file cut short): the report says what.
    Validate {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Count SHOULD-level violations as failures too.
        #[arg(long)]
        strict: bool,
        /// Threads validating connections, besides the one reading a capture (default: one per
        /// core). The report is the same for any number.
        #[arg(long, short = 'j')]
        jobs: Option<std::num::NonZeroUsize>,
        /// Cluster view: a follower that receives only heartbeats from its leader for longer than
        /// this many seconds, while its peers receive entries, is reported as stalled.
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
        stall_after: f64,
        /// Also write the report as one self-contained HTML page (verdict, cluster timeline,
        /// connections, every violation with its bytes) to FILE, alongside --format's output.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        #[command(flatten)]
        reading: Reading,
    },
    /// Dissect a raw stream file or a capture: one line per frame, errors inline.
    Inspect {
        input: PathBuf,
        /// Show the bytes around each error.
        #[arg(long)]
        hex: bool,
        #[command(flatten)]
        reading: Reading,
    },
    /// Write synthetic but realistic cluster traffic as a pcap or raw streams (deterministic per seed).
    Gen {
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// FILE.pcap for a capture (Ethernet/IPv4/TCP), or a directory for NAME.c2s.bin /
        /// NAME.s2c.bin raw streams (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Replication rounds to simulate (scales the traffic: about 17-20 KiB of capture per round).
        #[arg(long, default_value_t = gen::ROUNDS)]
        rounds: usize,
        /// Inject a fault into one connection; its location is written to NAME.faults.json beside a
        /// capture, or to faults.json in a directory of streams.
        #[arg(long, value_enum)]
        fault: Option<gen::Fault>,
    },
    /// Write each TCP connection of a pcap/pcapng capture as raw per-direction stream files.
    Streams {
        /// The capture.
        capture: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Only connections with an end on this port (repeatable, or comma-separated).
        #[arg(long = "port", value_delimiter = ',')]
        ports: Vec<u16>,
    },
    /// Run the conformance vectors against the built-in codec or an external decoder.
    ///
    /// Exit status: 0 all selected vectors pass (or, with --baseline, no regression), 1 failures,
    /// 2 unusable input, including a filter that selects no vector.
    Conformance {
        /// Directory of vectors (default: the built-in set, the same as conformance/vectors).
        #[arg(long)]
        vectors: Option<PathBuf>,
        /// External decoder: a shell command that reads a frame vector's bytes on stdin and prints
        /// its verdict as JSON (see conformance/README.md). Stream vectors are skipped.
        #[arg(long)]
        decoder_cmd: Option<String>,
        /// Only vectors whose id starts with, or whose requirement is, this (repeatable):
        /// `FRAME-8`, `AE`, `stream_5`.
        #[arg(long = "filter")]
        filters: Vec<String>,
        /// Count SHOULD-level (non-strict) failures as failures.
        #[arg(long)]
        strict: bool,
        /// Gate on regressions only: failures recorded in this baseline (from --write-baseline) are tolerated.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Record this run's results as a baseline file.
        #[arg(long)]
        write_baseline: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Seconds an external decoder may take per vector (fractions allowed: 0.5). A decoder
        /// takes milliseconds; one that overruns is killed with its process group and fails that
        /// vector.
        #[arg(long, default_value_t = 2.0)]
        timeout: f64,
        /// Decoders run at once (default: one per core).
        #[arg(long, short = 'j')]
        jobs: Option<std::num::NonZeroUsize>,
    },
    /// Decode one direction's bytes from stdin and print the verdict as JSON: the reference for the
    /// `--decoder-cmd` contract (`raftwire conformance --decoder-cmd "raftwire decode"`).
    Decode,
    /// Regenerate the conformance vectors.
    Vectors {
        /// Output directory.
        #[arg(long, default_value = "conformance/vectors")]
        out: PathBuf,
    },
    /// Run conformance cases against a live node: malformed and valid traffic on fresh
    /// connections, each outcome judged against what the specification allows.
    ///
    /// It sends malformed traffic on purpose: point it only at nodes you own. Requests carry
    /// stale terms (term 1), so a node past its first term refuses them and changes nothing;
    /// cases whose terms would not be stale for the node are skipped unless --disruptive. A
    /// sanity exchange while each case's connection is open, and another after it is closed,
    /// tell which case hung or killed the node.
    /// Exit status: 0 every MUST passed and the node is alive (with --strict, every SHOULD too),
    /// 1 a case failed or the node died or hung, 2 could not connect, or usage error.
    Probe(probe_cmd::Request),
    /// Run the reference RFW/1 node: a follower with a small in-memory log that answers every
    /// request as Raft says, for probes, demos and testing other implementations' clients.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: String,
        /// The follower's term; its log holds one committed entry per term up to it, so requests
        /// of a lower term are stale to it.
        #[arg(long, default_value_t = 5)]
        term: u64,
        /// Connections served at once; more wait in the accept backlog.
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
    },
    /// Write the fuzz targets' seed corpora (deterministic) under DIR/<target>/.
    Corpus {
        /// Output directory (the repository keeps them in `corpus/`).
        #[arg(long, default_value = "corpus")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("raftwire: {message}");
            ExitCode::from(2)
        }
    }
}

/// Writes the output. A reader that went away (`| head`, `less` quit) is not an error of ours:
/// the rest is dropped quietly and the exit status still says what was found.
fn emit(out: &str) -> Result<(), String> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("writing the output: {e}")),
        _ => Ok(()),
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Validate {
            inputs,
            format,
            strict,
            jobs,
            stall_after,
            html,
            reading,
        } => {
            let jobs = jobs
                .or_else(|| std::thread::available_parallelism().ok())
                .map_or(1, |n| n.get());
            if !(stall_after.is_finite() && stall_after > 0.0) {
                return Err(format!(
                    "--stall-after {stall_after}: must be a positive number of seconds"
                ));
            }
            let cluster = cluster::Options { stall_after };
            let report = validate::run(
                &inputs,
                reading.limits(),
                &reading.ports,
                reading.dialect,
                strict,
                jobs,
                cluster,
            )?;
            if let Some(path) = &html {
                std::fs::write(path, html::render(&report, strict))
                    .map_err(|e| format!("{}: writing the HTML report: {e}", path.display()))?;
            }
            let out = match format {
                Format::Text => render::text(&report, strict),
                Format::Json => render::json(&report),
                Format::Junit => render::junit(&report, strict),
            };
            emit(&out)?;
            Ok(match report.summary.verdict.as_str() {
                "conforming" => ExitCode::SUCCESS,
                "incomplete" => ExitCode::from(3),
                _ => ExitCode::from(1),
            })
        }
        Command::Gen {
            seed,
            out,
            rounds,
            fault,
        } => {
            let written = gen::write(seed, rounds, fault, &out)?;
            eprintln!("wrote {} connection(s) to {}", written.connections, out.display());
            if let Some(f) = written.faults {
                eprintln!("wrote the injected fault's location to {}", f.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Streams { capture, out, ports } => {
            let source = source::Source::open(&capture)?;
            if !matches!(source.kind()?, source::Kind::Pcap | source::Kind::Pcapng) {
                return Err(format!(
                    "{}: not a pcap or pcapng capture (it starts {:02x?})",
                    source.name, source.head
                ));
            }
            let n = capture::extract::extract(&source, &ports, &out)?;
            eprintln!("wrote {n} connection(s) to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Conformance {
            vectors,
            decoder_cmd,
            filters,
            strict,
            baseline,
            write_baseline,
            format,
            timeout,
            jobs,
        } => {
            if !(0.001..=3600.0).contains(&timeout) {
                return Err(format!("--timeout {timeout}: give seconds from 0.001 to 3600"));
            }
            let jobs = jobs
                .or_else(|| std::thread::available_parallelism().ok())
                .map_or(1, |n| n.get());
            let opts = suite::Options {
                vectors,
                decoder_cmd,
                filters,
                strict,
                baseline,
                timeout: std::time::Duration::from_secs_f64(timeout),
                jobs,
            };
            let (report, ok) = suite::run(&opts)?;
            if let Some(path) = write_baseline {
                suite::write_baseline(&report, &path)?;
            }
            let out = match format {
                Format::Text => suite::text(&report),
                Format::Json => serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?,
                Format::Junit => suite::junit(&report),
            };
            emit(&if out.ends_with('\n') { out } else { out + "\n" })?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Inspect { input, hex, reading } => {
            inspect::run(&input, reading.limits(), &reading.ports, hex, reading.dialect)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Decode => {
            let mut input = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut input).map_err(|e| format!("stdin: {e}"))?;
            let verdict = raftwire_conformance::vectors::decode_verdict(&input);
            emit(&format!(
                "{}\n",
                serde_json::to_string(&verdict).map_err(|e| e.to_string())?
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Vectors { out } => {
            let n = raftwire_conformance::vectors::write(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            eprintln!("wrote {n} files under {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Probe(request) => probe_cmd::run(request),
        Command::Serve {
            listen,
            term,
            max_connections,
        } => serve::run(&listen, term, max_connections),
        Command::Corpus { out } => {
            let n = corpus::write(&out)?;
            eprintln!("wrote {n} seed files under {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
