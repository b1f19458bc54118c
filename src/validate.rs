//! Validating raw stream files: scan each direction (resynchronising after errors), then check
//! the stream rules over the connection.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use raftwire_codec::Limits;
use raftwire_conformance::{check_one_direction, check_untimed, Direction, Event, FrameInfo, Scanner, StreamViolation};

use crate::input::RawConnection;
use crate::report::{ConnectionReport, DirectionReport, Directions, Excerpt, Violation};

/// What scanning one direction produced.
#[derive(Debug, Default)]
pub struct DirectionScan {
    pub report: DirectionReport,
    pub frames: Vec<(u64, FrameInfo)>,
}

impl DirectionScan {
    fn record(&mut self, event: Event) {
        let r = &mut self.report;
        match event {
            Event::Frame { offset, frame, .. } => {
                r.frames += 1;
                *r.frames_by_type
                    .entry(frame.message_type().name().to_string())
                    .or_default() += 1;
                self.frames.push((offset, FrameInfo::from(&frame)));
            }
            Event::Error(e) => r.violations.push(Violation {
                offset: e.offset,
                code: e.code.as_str().to_string(),
                requirement: e.requirement().to_string(),
                level: "MUST".to_string(),
                message: e.to_string(),
                excerpt: None,
            }),
            Event::Interleaved { frame, at } => r.violations.push(Violation {
                offset: at,
                code: "interleaved_writers".to_string(),
                requirement: "RECV-1".to_string(),
                level: "INFO".to_string(),
                message: format!(
                    "the frame at offset {frame} is cut at offset {at} by another frame whose header verifies: \
                     two writers are sharing this connection without a lock and their bytes interleave"
                ),
                excerpt: None,
            }),
            Event::Skipped { len, .. } => r.bytes_skipped += len,
        }
    }

    /// The role the content suggests: a stream whose first frame is a response is server->client.
    fn looks_like_responses(&self) -> bool {
        self.frames.first().is_some_and(|(_, f)| f.message_type.is_response())
    }
}

/// Scans a whole stream from a reader in fixed-size chunks: memory stays bounded by one frame.
pub fn scan_reader(mut r: impl Read, limits: Limits) -> std::io::Result<DirectionScan> {
    let mut scan = DirectionScan::default();
    let mut scanner = Scanner::new(limits);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        scan.report.bytes += n as u64;
        scanner.feed(&buf[..n], &mut |e| scan.record(e));
    }
    scanner.finish(&mut |e| scan.record(e));
    Ok(scan)
}

fn scan_file(path: &Path, limits: Limits) -> Result<DirectionScan, String> {
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    scan_reader(f, limits).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads up to 16 bytes either side of `offset` for the report's hex excerpt.
fn excerpt(path: &Path, offset: u64) -> Option<Excerpt> {
    let mut f = File::open(path).ok()?;
    let start = offset.saturating_sub(16);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::with_capacity(32);
    f.take(offset - start + 16).read_to_end(&mut bytes).ok()?;
    Some(Excerpt { start, bytes })
}

fn add_stream_violations(dirs: &mut Directions, violations: Vec<StreamViolation>) {
    for v in violations {
        let d = match v.direction {
            Direction::ClientToServer => &mut dirs.client_to_server,
            Direction::ServerToClient => &mut dirs.server_to_client,
        };
        d.violations.push(Violation {
            offset: v.offset,
            code: v.code.as_str().to_string(),
            requirement: v.code.requirement().to_string(),
            level: v.code.level().as_str().to_string(),
            message: v.message,
            excerpt: None,
        });
    }
}

/// Validates one raw connection.
pub fn validate_raw(conn: &RawConnection, limits: Limits) -> Result<ConnectionReport, String> {
    let scan = |p: &Option<std::path::PathBuf>| p.as_deref().map(|p| scan_file(p, limits)).transpose();
    let mut client = scan(&conn.client)?;
    let mut server = scan(&conn.server)?;
    let mut client_path = conn.client.clone();
    let mut server_path = conn.server.clone();
    if let Some(path) = &conn.unknown {
        let s = scan_file(path, limits)?;
        if s.looks_like_responses() {
            server = Some(s);
            server_path = Some(path.clone());
        } else {
            client = Some(s);
            client_path = Some(path.clone());
        }
    }
    let stream_violations = match (&client, &server) {
        (Some(c), Some(s)) => check_untimed(&c.frames, &s.frames, c.report.bytes),
        (Some(c), None) => check_one_direction(Direction::ClientToServer, &c.frames),
        (None, Some(s)) => check_one_direction(Direction::ServerToClient, &s.frames),
        (None, None) => Vec::new(),
    };
    let mut directions = Directions {
        client_to_server: client.map(|s| s.report).unwrap_or_default(),
        server_to_client: server.map(|s| s.report).unwrap_or_default(),
    };
    add_stream_violations(&mut directions, stream_violations);
    for (d, path) in [
        (&mut directions.client_to_server, &client_path),
        (&mut directions.server_to_client, &server_path),
    ] {
        d.violations.sort_by_key(|v| v.offset);
        if let Some(path) = path {
            for v in &mut d.violations {
                v.excerpt = excerpt(path, v.offset);
            }
        }
    }
    let name = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    Ok(ConnectionReport {
        client: name(&client_path),
        server: name(&server_path),
        dialect: "rfw".to_string(),
        directions,
    })
}
