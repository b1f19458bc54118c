//! `raftwire streams`: a capture's TCP connections written out as raw per-direction stream
//! files (`CLIENT-SERVER.c2s.bin` / `.s2c.bin`), reassembled exactly as `validate` sees them, so
//! they can be validated, inspected, or compared with `tshark -z follow,tcp,raw`.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use super::read_packets;
use super::reassembly::{Piece, Reassembler};
use super::tracker::{key, roles};
use crate::source::Source;

/// Bytes a connection holds before they are written out, and all connections together: the
/// files are written as the capture is read, so memory stays bounded whatever its size.
const FLUSH_AT: usize = 64 << 10;
const PENDING_TOTAL: usize = 32 << 20;
/// Bytes held out of order per direction, and across the capture, before holes are declared.
const HOLD_LIMIT: usize = 4 << 20;
const HELD_TOTAL: usize = 32 << 20;

struct Streams {
    client: SocketAddr,
    server: SocketAddr,
    reasm: [Reassembler; 2],
    /// Bytes reassembled and not yet written, per direction.
    pending: [Vec<u8>; 2],
    /// The files exist (written to once: later writes append).
    created: bool,
    data: bool,
    gaps: u64,
}

fn take(pieces: Vec<Piece>, out: &mut Vec<u8>, gaps: &mut u64) -> usize {
    let mut added = 0;
    for p in pieces {
        match p {
            Piece::Data { bytes, .. } => {
                added += bytes.len();
                out.extend_from_slice(&bytes);
            }
            Piece::Gap { .. } => *gaps += 1,
        }
    }
    added
}

impl Streams {
    fn stem(&self) -> String {
        format!("{}-{}", name(&self.client), name(&self.server))
    }

    /// Writes what is pending to the connection's two files (created, emptied, on the first
    /// write); returns how many bytes that freed.
    fn write_out(&mut self, dir: &Path) -> Result<usize, String> {
        let stem = self.stem();
        let mut freed = 0;
        for (i, suffix) in ["c2s", "s2c"].iter().enumerate() {
            let path = dir.join(format!("{stem}.{suffix}.bin"));
            let fail = |e: std::io::Error| format!("{}: {e}", path.display());
            let mut file = if self.created {
                std::fs::OpenOptions::new().append(true).open(&path).map_err(fail)?
            } else {
                std::fs::File::create(&path).map_err(fail)?
            };
            file.write_all(&self.pending[i]).map_err(fail)?;
            freed += self.pending[i].len();
            self.pending[i] = Vec::new();
        }
        self.created = true;
        Ok(freed)
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

/// Writes every TCP connection with data (on `ports`, if given) into `out` as the capture is
/// read; returns how many.
pub fn extract(source: &Source, ports: &[u16], out: &Path) -> Result<usize, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut conns: HashMap<(SocketAddr, SocketAddr), Streams> = HashMap::new();
    let mut order = Vec::new();
    let (mut pending, mut held) = (0usize, 0usize);
    let mut failed: Option<String> = None;
    // Fragmented segments are put back together, as for `validate`.
    let mut defrag = super::defrag::Defragmenter::default();
    let mut telling = super::defrag::Telling::default();
    let truncated_at = read_packets(source, true, |lt, data, missing, _| {
        if failed.is_some() {
            return;
        }
        // A datagram given up shows as a gap in its stream, said here with why.
        telling.tell(&defrag.take_given_up(), ports, |line| {
            eprintln!("{}: {line}", source.name)
        });
        let Ok(Some(seg)) = defrag.packet(lt, data, missing, 0.0) else {
            return;
        };
        if !seg.on_ports(ports) {
            return;
        }
        let k = key(seg.src, seg.dst);
        let c = conns.entry(k).or_insert_with(|| {
            order.push(k);
            let (client, server) = roles(&seg, ports);
            Streams {
                client,
                server,
                reasm: [Reassembler::new(HOLD_LIMIT), Reassembler::new(HOLD_LIMIT)],
                pending: [Vec::new(), Vec::new()],
                created: false,
                data: false,
                gaps: 0,
            }
        });
        let i = usize::from(seg.src != c.client);
        if seg.ack {
            c.reasm[1 - i].acknowledge(seg.ack_number);
        }
        let before = c.reasm[i].held();
        let mut pieces = c.reasm[i].segment(seg.seq, seg.syn, seg.payload, u64::from(seg.missing));
        held = (held + c.reasm[i].held()).saturating_sub(before);
        if held > HELD_TOTAL {
            held -= c.reasm[i].held().min(held);
            pieces.extend(c.reasm[i].release());
        }
        let added = take(pieces, &mut c.pending[i], &mut c.gaps);
        c.data |= added > 0;
        pending += added;
        if c.pending.iter().map(Vec::len).sum::<usize>() >= FLUSH_AT {
            match c.write_out(out) {
                Ok(freed) => pending -= freed.min(pending),
                Err(e) => failed = Some(e),
            }
        }
        if pending > PENDING_TOTAL {
            for c in conns.values_mut().filter(|c| c.pending.iter().any(|p| !p.is_empty())) {
                match c.write_out(out) {
                    Ok(freed) => pending -= freed.min(pending),
                    Err(e) => failed = Some(e),
                }
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(at) = truncated_at {
        eprintln!(
            "{}: the capture file ends inside a packet record at byte {at} (tcpdump killed, or the file was cut short): the packets before it were read",
            source.name
        );
    }
    // Datagrams still waiting for a fragment when the capture ends.
    telling.tell(&defrag.finish(), ports, |line| eprintln!("{}: {line}", source.name));
    telling.close(|line| eprintln!("{}: {line}", source.name));
    let mut written = 0;
    for k in order {
        let Some(mut c) = conns.remove(&k) else { continue };
        for i in 0..2 {
            let pieces = c.reasm[i].finish();
            c.data |= take(pieces, &mut c.pending[i], &mut c.gaps) > 0;
        }
        if !c.data {
            continue;
        }
        c.write_out(out)?;
        if c.gaps > 0 {
            eprintln!(
                "{}: {} gap(s) in the capture; the files hold only the captured bytes",
                c.stem(),
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
