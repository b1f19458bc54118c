//! `raftwire streams`: a capture's TCP connections written out as raw per-direction stream
//! files (`CLIENT-SERVER.c2s.bin` / `.s2c.bin`), reassembled exactly as `validate` sees them, so
//! they can be validated, inspected, or compared with `tshark -z follow,tcp,raw`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use super::read_packets;
use super::reassembly::{Piece, Reassembler};
use super::tracker::{key, roles};
use crate::source::Source;

struct Streams {
    client: SocketAddr,
    server: SocketAddr,
    reasm: [Reassembler; 2],
    bytes: [Vec<u8>; 2],
    gaps: u64,
}

fn take(pieces: Vec<Piece>, out: &mut Vec<u8>, gaps: &mut u64) {
    for p in pieces {
        match p {
            Piece::Data { bytes, .. } => out.extend_from_slice(&bytes),
            Piece::Gap { .. } => *gaps += 1,
        }
    }
}

/// An address as part of a file name: `10.0.0.1_40000`; an IPv6 address by its eight groups
/// joined with dots, `0.0.0.0.0.0.0.1_40000` for `[::1]:40000` (no `:`, which some file systems
/// refuse, and no leading dot, which hides a file).
fn name(a: &SocketAddr) -> String {
    let ip = match a.ip() {
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => ip
            .segments()
            .iter()
            .map(|g| format!("{g:x}"))
            .collect::<Vec<_>>()
            .join("."),
    };
    format!("{ip}_{}", a.port())
}

/// The addresses in a connection's file name stem as [`name`] writes them
/// (`[PREFIX-]CLIENT-SERVER`, e.g. `10.0.0.1_40000-10.0.0.2_7000`), if it has them.
pub fn parse_pair(stem: &str) -> Option<(SocketAddr, SocketAddr)> {
    let parse = |part: &str| -> Option<SocketAddr> {
        let (ip, port) = part.rsplit_once('_')?;
        let port: u16 = port.parse().ok()?;
        let ip: std::net::IpAddr = if ip.matches('.').count() == 7 {
            ip.replace('.', ":").parse().ok()?
        } else {
            ip.parse().ok()?
        };
        Some(SocketAddr::new(ip, port))
    };
    let mut parts = stem.rsplitn(3, '-');
    let server = parse(parts.next()?)?;
    let client = parse(parts.next()?)?;
    Some((client, server))
}

/// One connection's reassembled directions.
pub struct Extracted {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Client->server and server->client bytes, as captured.
    pub bytes: [Vec<u8>; 2],
    /// Holes in the capture (their bytes are simply absent from `bytes`).
    pub gaps: u64,
}

/// Reassembles every TCP connection with data (on `ports`, if given), in order of first packet.
pub fn streams(source: &Source, ports: &[u16]) -> Result<Vec<Extracted>, String> {
    let mut conns: HashMap<(SocketAddr, SocketAddr), Streams> = HashMap::new();
    let mut order = Vec::new();
    let truncated_at = read_packets(source, true, |lt, data, missing, _| {
        let Ok(seg) = super::packet::tcp_segment(lt, data, missing) else {
            return;
        };
        if !ports.is_empty() && !ports.iter().any(|p| *p == seg.src.port() || *p == seg.dst.port()) {
            return;
        }
        let k = key(seg.src, seg.dst);
        let c = conns.entry(k).or_insert_with(|| {
            order.push(k);
            let (client, server) = roles(&seg, ports);
            Streams {
                client,
                server,
                reasm: [Reassembler::new(4 << 20), Reassembler::new(4 << 20)],
                bytes: [Vec::new(), Vec::new()],
                gaps: 0,
            }
        });
        let i = usize::from(seg.src != c.client);
        let pieces = c.reasm[i].segment(seg.seq, seg.syn, seg.payload, u64::from(seg.missing));
        take(pieces, &mut c.bytes[i], &mut c.gaps);
    })?;
    if let Some(at) = truncated_at {
        eprintln!(
            "{}: the capture file ends inside a packet record at byte {at} (tcpdump killed, or the file was cut short): the packets before it were read",
            source.name
        );
    }
    let mut out = Vec::new();
    for k in order {
        let Some(mut c) = conns.remove(&k) else { continue };
        for i in 0..2 {
            let pieces = c.reasm[i].finish();
            take(pieces, &mut c.bytes[i], &mut c.gaps);
        }
        if c.bytes.iter().any(|b| !b.is_empty()) {
            out.push(Extracted {
                client: c.client,
                server: c.server,
                bytes: c.bytes,
                gaps: c.gaps,
            });
        }
    }
    Ok(out)
}

/// Writes every TCP connection with data (on `ports`, if given) into `out`; returns how many.
pub fn extract(source: &Source, ports: &[u16], out: &Path) -> Result<usize, String> {
    let all = streams(source, ports)?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut written = 0;
    for c in all {
        let stem = format!("{}-{}", name(&c.client), name(&c.server));
        for (i, dir) in ["c2s", "s2c"].iter().enumerate() {
            let p = out.join(format!("{stem}.{dir}.bin"));
            std::fs::write(&p, &c.bytes[i]).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        if c.gaps > 0 {
            eprintln!(
                "{stem}: {} gap(s) in the capture; the files hold only the captured bytes",
                c.gaps
            );
        }
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::name;

    #[test]
    fn file_names_of_addresses_are_readable_and_safe() {
        assert_eq!(name(&"10.0.0.1:40000".parse().unwrap()), "10.0.0.1_40000");
        assert_eq!(name(&"[::1]:40000".parse().unwrap()), "0.0.0.0.0.0.0.1_40000");
        assert_eq!(
            name(&"[fe80::1ff:fe23:4567:890a]:7000".parse().unwrap()),
            "fe80.0.0.0.1ff.fe23.4567.890a_7000"
        );
    }
}
