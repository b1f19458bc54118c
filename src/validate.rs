//! Validating raw stream files: scan each direction (resynchronising after errors), then check
//! the stream rules over the connection, pairing responses with requests without timing.

use std::io::Read;
use std::path::PathBuf;

use raftwire_codec::Limits;
use raftwire_conformance::{check_one_direction, check_untimed, Direction, FrameInfo, Scanner};

use crate::cluster::said::{from_hashicorp, observe_rfw};
use crate::cluster::Trace;
use crate::dialect::Dialect;
use crate::direction::DirectionAcc;
use crate::input::RawConnection;
use crate::report::{Collected, ConnectionReport, Directions, Report};
use crate::source::Source;

/// Validates every input: captures connection by connection, raw files as connections.
pub fn run(
    inputs: &[PathBuf],
    limits: Limits,
    ports: &[u16],
    dialect: Dialect,
    strict: bool,
    jobs: usize,
    cluster: crate::cluster::Options,
) -> Result<Report, String> {
    let inputs = crate::input::collect(inputs)?;
    let mut report = Report::default();
    let mut all = Collected::default();
    for (input, source) in inputs.captures.iter().enumerate() {
        let opts = crate::capture::Options {
            limits,
            ports: ports.to_vec(),
            progress: true,
            dialect,
            jobs,
        };
        let (connections, stats, unchecked) = crate::capture::validate(source, opts)?;
        if stats.packets == 0 {
            return Err(format!(
                "{}: the capture holds no packets: there is nothing to check",
                source.name
            ));
        }
        if connections.is_empty() {
            // Nothing was checked: say so and fail, rather than report a vacuous "conforming".
            let shown: Vec<String> = unchecked
                .listed
                .iter()
                .filter(|c| c.bytes_client_to_server + c.bytes_server_to_client > 0)
                .take(3)
                .map(|c| {
                    let (dir, first) = if c.first_bytes_client_to_server.is_empty() {
                        ("server_to_client", &c.first_bytes_server_to_client)
                    } else {
                        ("client_to_server", &c.first_bytes_client_to_server)
                    };
                    if first.is_empty() {
                        format!("{} -> {}: its first bytes are not in the capture", c.client, c.server)
                    } else {
                        format!("{} -> {}: {dir} starts {first}", c.client, c.server)
                    }
                })
                .collect();
            return Err(format!(
                "{}: no Raft connection found: no RFW/1 marker and no hashicorp/raft message ({} packets, {} TCP connection(s) of other traffic{}{}{}{}{})",
                source.name,
                stats.packets,
                unchecked.with_data,
                if shown.is_empty() { String::new() } else { format!(": {}", shown.join("; ")) },
                if stats.fragments > 0 {
                    format!("; {} IP fragment(s), not reassembled", stats.fragments)
                } else {
                    String::new()
                },
                if stats.truncated_packets > 0 {
                    format!(
                        "; {} packet(s) cut at snap length {}, {} too short for their headers: re-capture with `tcpdump -s 0`",
                        stats.truncated_packets, stats.snap_length, stats.malformed
                    )
                } else {
                    String::new()
                },
                if stats.other_ports > 0 {
                    format!(", {} packets on other ports", stats.other_ports)
                } else {
                    String::new()
                },
                if ports.is_empty() { "" } else { "; check --port" }
            ));
        }
        all.merge(connections, |(_, closed, opened)| (input, closed, opened));
        report.captures.push(stats);
        report.unchecked_connections.add(unchecked);
    }
    let raw = in_parallel(&inputs.raw, jobs, |conn| validate_raw(conn, limits, dialect));
    for (i, r) in raw.into_iter().enumerate() {
        all.push((inputs.captures.len() + i, 0, 0), r?);
    }
    let traces = std::mem::take(&mut all.traces);
    (report.connections, report.connections_not_listed) = all.finish();
    report.cluster = Some(cluster_of(&mut report, traces, cluster, !inputs.raw.is_empty()));
    report.summarise(strict);
    Ok(report)
}

/// The cluster model of the captures, and each listed connection's two nodes.
fn cluster_of(
    report: &mut Report,
    traces: crate::cluster::Traces,
    opts: crate::cluster::Options,
    raw: bool,
) -> crate::cluster::Cluster {
    let end = report.captures.iter().map(|c| c.last_packet_time).fold(0.0, f64::max);
    let (mut cluster, traces, ends) = crate::cluster::build(traces, end, opts);
    if raw {
        cluster.notes.push(
            "raw stream files have no packet times: their times are 0, their latencies, stalls and closes are not \
             judged, and their nodes are known only where the file names carry the addresses (as `raftwire streams` \
             writes them)"
                .into(),
        );
    }
    if report.captures.len() > 1 {
        cluster.notes.push(
            "several captures: their connections form one model, and each capture's times count from its own first packet"
                .into(),
        );
    }
    let mut by_pair = std::collections::HashMap::new();
    for (t, e) in traces.iter().zip(ends) {
        let names = match (&t.names, t.client, t.server) {
            (Some(n), _, _) => Some(n.clone()),
            (None, Some(c), Some(s)) => Some((c.to_string(), s.to_string())),
            _ => None,
        };
        if let Some(names) = names {
            by_pair.entry(names).or_insert(e);
        }
    }
    for c in &mut report.connections {
        if let Some((client, server)) = by_pair.get(&(c.client.clone(), c.server.clone())) {
            c.client_node.clone_from(client);
            c.server_node.clone_from(server);
        }
    }
    cluster
}

/// `f` over every item on up to `jobs` threads, results in the items' order. Raw connections are
/// independent of each other, so a directory of them (what `raftwire streams` writes) is checked
/// on every core.
fn in_parallel<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = jobs.min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { return mine };
                        mine.push((i, f(item)));
                    }
                })
            })
            .collect();
        // A panic is a bug: pass it on rather than drop that thread's connections.
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

struct Scanned {
    acc: DirectionAcc,
    frames: Vec<(u64, FrameInfo)>,
}

/// Hands an input to `on_chunk` in fixed-size chunks, so memory stays bounded whatever its size.
fn read_chunks(source: &Source, mut on_chunk: impl FnMut(&[u8])) -> Result<(), String> {
    let mut reader = source.reader()?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => on_chunk(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("{}: {e}", source.name)),
        }
    }
}

/// Scans a whole stream, telling `trace` what each frame says (as `end`, 0 client, 1 server):
/// memory stays bounded by one frame.
fn scan_file(source: &Source, limits: Limits, trace: &mut Trace, end: usize) -> Result<Scanned, String> {
    let mut s = Scanned {
        acc: DirectionAcc::default(),
        frames: Vec::new(),
    };
    let mut scanner = Scanner::new(limits);
    read_chunks(source, |chunk| {
        s.acc.report.bytes += chunk.len() as u64;
        scanner.feed(chunk, &mut |e| {
            observe_rfw(trace, end, &e);
            s.frames.extend(s.acc.record(e))
        });
    })?;
    scanner.finish(&mut |e| {
        observe_rfw(trace, end, &e);
        s.frames.extend(s.acc.record(e))
    });
    Ok(s)
}

/// Reads two inputs in alternating chunks, handing each to `on_chunk` with its input's index (0 or
/// 1): a connection's directions side by side, so a checker that pairs responses with requests
/// holds little of either.
fn read_alternating(
    a: Option<&Source>,
    b: Option<&Source>,
    mut on_chunk: impl FnMut(usize, &[u8]),
) -> Result<(), String> {
    let open = |s: Option<&Source>| s.map(|s| s.reader().map(|r| (r, s.name.clone()))).transpose();
    let mut readers = [open(a)?, open(b)?];
    let mut buf = vec![0u8; 256 * 1024];
    while readers.iter().any(Option::is_some) {
        for (i, slot) in readers.iter_mut().enumerate() {
            let Some((reader, name)) = slot else { continue };
            match reader.read(&mut buf) {
                Ok(0) => *slot = None,
                Ok(n) => on_chunk(i, buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("{name}: {e}")),
            }
        }
    }
    Ok(())
}

/// Checks a hashicorp/raft connection's streams as they are read, side by side (the checker waits
/// for the requests a response may answer): memory stays bounded by the message being read, and
/// what each message says goes to `trace`.
fn check_hashicorp_files(
    client: Option<&Source>,
    server: Option<&Source>,
    trace: &mut Trace,
) -> Result<raftwire_hashicorp::Connection, String> {
    let mut checker = raftwire_hashicorp::Checker::new(false).observe();
    read_alternating(client, server, |side, chunk| {
        if side == 0 {
            checker.requests(chunk);
        } else {
            checker.responses(chunk);
        }
        for o in checker.take_observed() {
            trace.message(from_hashicorp(o));
        }
    })?;
    let (checked, last) = checker.finish_observed();
    for o in last {
        trace.message(from_hashicorp(o));
    }
    trace.dialect = Some("hashicorp");
    trace.finish();
    Ok(checked)
}

/// The trace of a raw connection: no times, and its addresses where `raftwire streams` wrote
/// them into the file names.
fn untimed(conn: &RawConnection) -> Trace {
    match crate::capture::extract::parse_pair(&conn.name) {
        Some((client, server)) => Trace::untimed(Some(client), Some(server)),
        None => Trace::untimed(None, None),
    }
}

fn head(s: Option<&Source>) -> &[u8] {
    s.map_or(&[], |s| s.head.as_slice())
}

fn name(s: Option<&Source>) -> String {
    s.map(|s| s.name.clone()).unwrap_or_default()
}

/// Validates one raw connection.
fn validate_raw(conn: &RawConnection, limits: Limits, dialect: Dialect) -> Result<ConnectionReport, String> {
    if dialect != Dialect::Rfw {
        // The dialect is judged from the first bytes alone; either way the files are streamed.
        let mut client = conn.client.as_ref();
        let mut server = conn.server.as_ref();
        if let Some(source) = &conn.unknown {
            if matches!(source.head.first(), Some(0xa0..=0xbf | 0xda | 0xdb)) {
                server = Some(source);
            } else {
                client = Some(source);
            }
        }
        let hashicorp = dialect == Dialect::Hashicorp
            || crate::dialect::detect_final(head(client), head(server)) == Dialect::Hashicorp;
        if hashicorp {
            let mut trace = untimed(conn);
            let checked = check_hashicorp_files(client, server, &mut trace)?;
            let mut report = crate::dialect::hashicorp_report(name(client), name(server), checked);
            trace.names = Some((report.client.clone(), report.server.clone()));
            report.trace = Some(Box::new(trace));
            return Ok(report);
        }
    }
    let mut trace = untimed(conn);
    let mut scan = |p: &Option<Source>, end| p.as_ref().map(|p| scan_file(p, limits, &mut trace, end)).transpose();
    let mut client = scan(&conn.client, 0)?;
    let mut server = scan(&conn.server, 1)?;
    let mut client_name = name(conn.client.as_ref());
    let mut server_name = name(conn.server.as_ref());
    if let Some(source) = &conn.unknown {
        // Its role is known only once it is read: what it says is not part of the cluster view.
        let s = scan_file(source, limits, &mut Trace::default(), 0)?;
        // The role the content suggests: a stream whose first frame is a response is server->client.
        if s.frames.first().is_some_and(|(_, f)| f.message_type.is_response()) {
            server = Some(s);
            server_name = source.name.clone();
        } else {
            client = Some(s);
            client_name = source.name.clone();
        }
    }
    let stream_violations = match (&client, &server) {
        (Some(c), Some(s)) => check_untimed(&c.frames, &s.frames, c.acc.report.bytes),
        (Some(c), None) => check_one_direction(Direction::ClientToServer, &c.frames),
        (None, Some(s)) => check_one_direction(Direction::ServerToClient, &s.frames),
        (None, None) => Vec::new(),
    };
    let mut c = client.map(|s| s.acc).unwrap_or_default();
    let mut s = server.map(|s| s.acc).unwrap_or_default();
    for v in stream_violations {
        match v.direction {
            Direction::ClientToServer => c.stream_violation(v, false),
            Direction::ServerToClient => s.stream_violation(v, false),
        }
    }
    trace.dialect = Some("rfw");
    trace.names = Some((client_name.clone(), server_name.clone()));
    trace.finish();
    Ok(ConnectionReport {
        client: client_name,
        server: server_name,
        dialect: "rfw".to_string(),
        notes: Vec::new(),
        directions: Directions {
            client_to_server: c.finish(),
            server_to_client: s.finish(),
        },
        client_node: None,
        server_node: None,
        latency: Default::default(),
        latency_samples: Vec::new(),
        trace: Some(Box::new(trace)),
    })
}
