//! `raftwire inspect`: a dissector view, one line per message (offset, direction, type, request
//! id, length, summary), errors, holes and skipped bytes inline, `--hex` for the bytes around
//! errors. Printed as the input is read, in capture order: memory holds what each connection's
//! checker holds, never a whole stream (#16).

mod capture;
mod dissector;
mod summary;

use std::io::{BufWriter, Read, StdoutLock, Write};
use std::path::Path;

use raftwire_codec::Limits;
use raftwire_conformance::Direction;

use crate::dialect::Dialect;
use crate::source::Kind;
use dissector::{Arrival, Dissector, Lines};

/// Standard output, written line by line; a reader that went away (`| head`) ends the output
/// quietly, any other write error is reported once at the end.
pub struct Out {
    w: BufWriter<StdoutLock<'static>>,
    /// The reader went away: nothing more is written.
    pub closed: bool,
    error: Option<std::io::Error>,
}

impl Out {
    fn stdout() -> Out {
        Out {
            w: BufWriter::with_capacity(64 << 10, std::io::stdout().lock()),
            closed: false,
            error: None,
        }
    }

    fn line(&mut self, parts: std::fmt::Arguments<'_>) {
        if self.closed {
            return;
        }
        if let Err(e) = self.w.write_fmt(parts).and_then(|()| self.w.write_all(b"\n")) {
            self.fail(e);
        }
    }

    fn fail(&mut self, e: std::io::Error) {
        self.closed = true;
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            self.error.get_or_insert(e);
        }
    }

    fn finish(mut self) -> Result<(), String> {
        if !self.closed {
            if let Err(e) = self.w.flush() {
                self.fail(e);
            }
        }
        self.error.map_or(Ok(()), |e| Err(format!("writing the output: {e}")))
    }
}

/// A raw stream's lines: as they are, no heading.
struct Raw<'o>(&'o mut Out);

impl Lines for Raw<'_> {
    fn heading(&mut self, _dialect: &'static str) {}
    fn text(&mut self, line: String) {
        self.0.line(format_args!("{line}"));
    }
}

/// Dissects a raw stream file or every connection of a capture, in the dialect each speaks.
pub fn run(path: &Path, limits: Limits, ports: &[u16], hex: bool, dialect: Dialect) -> Result<(), String> {
    let source = crate::source::Source::open(path)?;
    let kind = source.kind()?;
    if kind == Kind::Empty {
        return Err(format!("{}: empty: there is nothing to inspect", source.name));
    }
    let mut out = Out::stdout();
    if matches!(kind, Kind::Pcap | Kind::Pcapng) {
        let shown = capture::inspect(&source, ports, limits, hex, dialect, &mut out)?;
        if shown == 0 {
            return Err(format!(
                "{}: no TCP connection with data{}",
                source.name,
                if ports.is_empty() { "" } else { " on the given --port" }
            ));
        }
    } else {
        raw(&source, limits, hex, dialect, &mut out)?;
    }
    out.finish()
}

/// A raw stream file, read in pieces: the request direction, or the response direction when its
/// first byte starts a hashicorp response (a msgpack error string).
fn raw(
    source: &crate::source::Source,
    limits: Limits,
    hex: bool,
    dialect: Dialect,
    out: &mut Out,
) -> Result<(), String> {
    let mut reader = source.reader()?;
    let mut dissector = Dissector::new(dialect, limits, hex).unlabelled();
    let mut buf = vec![0u8; 1 << 20];
    let mut dir = None;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("{}: {e}", source.name)),
        };
        let chunk = &buf[..n];
        let d = *dir.get_or_insert(match chunk.first() {
            Some(0xa0..=0xbf | 0xda | 0xdb) => Direction::ServerToClient,
            _ => Direction::ClientToServer,
        });
        dissector.arrive(d, Arrival::Data(chunk), &mut Raw(out));
        if out.closed {
            return Ok(());
        }
    }
    dissector.finish(&mut Raw(out));
    Ok(())
}
