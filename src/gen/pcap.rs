//! Writing generated traffic as a pcap file (Ethernet, IPv4, TCP with a handshake, MSS-sized
//! segments, ACKs and a FIN exchange), so tests and benchmarks have realistic captures without
//! tcpdump. Serialisation by pcap-parser, packet building by etherparse.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};
use raftwire_conformance::Direction;

use super::traffic::{Connection, Traffic};

/// Largest TCP payload per packet (Ethernet MTU 1500 less IPv4 and TCP headers with timestamps).
const MSS: usize = 1448;

struct Packet {
    time_us: u64,
    bytes: Vec<u8>,
}

fn mac(addr: &SocketAddr) -> [u8; 6] {
    match addr.ip() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            [0x02, 0x00, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [0x02, 0x00, o[12], o[13], o[14], o[15]]
        }
    }
}

#[derive(Clone, Copy)]
enum Flags {
    Syn,
    SynAck,
    Ack,
    Data,
    Fin,
}

fn tcp_packet(from: SocketAddr, to: SocketAddr, seq: u32, ack: u32, flags: Flags, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (from.ip(), to.ip()) else {
        unreachable!("generated addresses are IPv4")
    };
    let b = PacketBuilder::ethernet2(mac(&from), mac(&to))
        .ipv4(src.octets(), dst.octets(), 64)
        .tcp(from.port(), to.port(), seq, 65535);
    let b = match flags {
        Flags::Syn => b.syn(),
        Flags::SynAck => b.syn().ack(ack),
        Flags::Ack => b.ack(ack),
        Flags::Data => b.ack(ack).psh(),
        Flags::Fin => b.ack(ack).fin(),
    };
    let mut out = Vec::with_capacity(54 + payload.len());
    b.write(&mut out, payload)
        .unwrap_or_else(|e| unreachable!("in-memory write: {e}"));
    out
}

/// One connection's packets in time order, made a segment at a time: the handshake, each
/// segment's MSS-sized packets and the peer's ACK, then the FIN exchange.
struct ConnectionPackets<'a> {
    segments: std::slice::Iter<'a, super::traffic::Segment>,
    client: SocketAddr,
    server: SocketAddr,
    /// Next byte to send, per side.
    seq: [u32; 2],
    last: u64,
    /// Packets made and not yet taken, and whether the FIN exchange has been made.
    ready: std::collections::VecDeque<Packet>,
    closed: bool,
}

impl<'a> ConnectionPackets<'a> {
    fn new(c: &'a Connection) -> Option<Self> {
        let (Ok(client), Ok(server)) = (c.client.parse::<SocketAddr>(), c.server.parse::<SocketAddr>()) else {
            return None;
        };
        let start = c.segments.first().map_or(0, |s| s.time_us).saturating_sub(30);
        // Initial sequence numbers derived from the ports.
        let mut seq = [
            u32::from(client.port()).wrapping_mul(0x9E37_79B9),
            u32::from(server.port()).wrapping_mul(0x85EB_CA6B),
        ];
        let mut ready = std::collections::VecDeque::new();
        let mut push = |t: u64, bytes: Vec<u8>| ready.push_back(Packet { time_us: t, bytes });
        push(start, tcp_packet(client, server, seq[0], 0, Flags::Syn, &[]));
        seq[0] = seq[0].wrapping_add(1);
        push(
            start + 10,
            tcp_packet(server, client, seq[1], seq[0], Flags::SynAck, &[]),
        );
        seq[1] = seq[1].wrapping_add(1);
        push(start + 20, tcp_packet(client, server, seq[0], seq[1], Flags::Ack, &[]));
        Some(ConnectionPackets {
            segments: c.segments.iter(),
            client,
            server,
            seq,
            last: start + 20,
            ready,
            closed: false,
        })
    }

    /// Makes the next segment's packets (or the FIN exchange); false when all are made.
    fn make_more(&mut self) -> bool {
        let (client, server) = (self.client, self.server);
        let seq = &mut self.seq;
        let mut push = |t: u64, bytes: Vec<u8>| self.ready.push_back(Packet { time_us: t, bytes });
        if let Some(s) = self.segments.next() {
            let (from, to, me, peer) = match s.direction {
                Direction::ClientToServer => (client, server, 0, 1),
                Direction::ServerToClient => (server, client, 1, 0),
            };
            let mut t = s.time_us.max(self.last);
            for chunk in s.bytes.chunks(MSS) {
                push(t, tcp_packet(from, to, seq[me], seq[peer], Flags::Data, chunk));
                seq[me] = seq[me].wrapping_add(chunk.len() as u32);
                t += 1;
            }
            push(t + 5, tcp_packet(to, from, seq[peer], seq[me], Flags::Ack, &[]));
            self.last = t + 5;
            return true;
        }
        if self.closed {
            return false;
        }
        self.closed = true;
        let last = self.last;
        push(last + 10, tcp_packet(client, server, seq[0], seq[1], Flags::Fin, &[]));
        seq[0] = seq[0].wrapping_add(1);
        push(last + 20, tcp_packet(server, client, seq[1], seq[0], Flags::Fin, &[]));
        seq[1] = seq[1].wrapping_add(1);
        push(last + 30, tcp_packet(client, server, seq[0], seq[1], Flags::Ack, &[]));
        true
    }
}

impl Iterator for ConnectionPackets<'_> {
    type Item = Packet;

    fn next(&mut self) -> Option<Packet> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Some(p);
            }
            if !self.make_more() {
                return None;
            }
        }
    }
}

/// Writes `traffic` as a little-endian, microsecond pcap with Ethernet link type.
///
/// The connections' packets are merged by time as they are made (at the same microsecond, the
/// earlier connection first, then each connection's own order), so only the traffic is held in
/// memory, not every packet of the capture as well.
pub fn write(traffic: &Traffic, w: &mut impl Write) -> std::io::Result<()> {
    use std::cmp::Reverse;
    let mut streams: Vec<ConnectionPackets<'_>> =
        traffic.connections.iter().filter_map(ConnectionPackets::new).collect();
    let mut heads: Vec<Option<Packet>> = streams.iter_mut().map(Iterator::next).collect();
    let mut order: std::collections::BinaryHeap<Reverse<(u64, usize)>> = heads
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.as_ref().map(|p| Reverse((p.time_us, i))))
        .collect();
    let mut header = PcapHeader::new();
    header.snaplen = 65535;
    header.network = Linktype::ETHERNET;
    let bytes = header
        .to_vec_raw()
        .map_err(|e| std::io::Error::other(format!("pcap header: {e:?}")))?;
    w.write_all(&bytes)?;
    while let Some(Reverse((_, i))) = order.pop() {
        let Some(p) = heads.get_mut(i).and_then(Option::take) else {
            continue;
        };
        if let Some(next) = streams.get_mut(i).and_then(Iterator::next) {
            order.push(Reverse((next.time_us, i)));
            if let Some(slot) = heads.get_mut(i) {
                *slot = Some(next);
            }
        }
        let block = LegacyPcapBlock {
            ts_sec: (p.time_us / 1_000_000) as u32,
            ts_usec: (p.time_us % 1_000_000) as u32,
            caplen: p.bytes.len() as u32,
            origlen: p.bytes.len() as u32,
            data: &p.bytes,
        };
        let bytes = block
            .to_vec_raw()
            .map_err(|e| std::io::Error::other(format!("pcap record: {e:?}")))?;
        w.write_all(&bytes)?;
    }
    Ok(())
}
