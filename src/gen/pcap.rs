//! Writing generated traffic as a pcap file (Ethernet, IPv4, TCP with a handshake, MSS-sized
//! segments, ACKs and a FIN exchange), so tests and benchmarks have realistic captures without
//! tcpdump, written as the traffic is simulated. Serialisation by pcap-parser, packet building by etherparse.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};
use raftwire_conformance::Direction;

use super::traffic::{Endpoints, Segment};

/// Largest TCP payload per packet (Ethernet MTU 1500 less IPv4 and TCP headers with timestamps).
const MSS: usize = 1448;

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

/// One connection's TCP state: the handshake when its first segment comes, each segment's
/// MSS-sized packets and the peer's ACK, and the FIN exchange after its last segment.
struct ConnectionPackets {
    client: SocketAddr,
    server: SocketAddr,
    /// Where the connection sorts among the capture's (by name): the tie-break at one microsecond.
    rank: usize,
    /// Next byte to send, per side.
    seq: [u32; 2],
    last: u64,
    /// Segments still to come; the handshake is made before the first.
    remaining: usize,
    opened: bool,
}

impl ConnectionPackets {
    /// Makes the handshake, its first segment at `first_us`.
    fn handshake(&mut self, first_us: u64, push: &mut impl FnMut(u64, Vec<u8>)) {
        let (client, server) = (self.client, self.server);
        let start = first_us.saturating_sub(30);
        // Initial sequence numbers derived from the ports.
        let seq = &mut self.seq;
        *seq = [
            u32::from(client.port()).wrapping_mul(0x9E37_79B9),
            u32::from(server.port()).wrapping_mul(0x85EB_CA6B),
        ];
        push(start, tcp_packet(client, server, seq[0], 0, Flags::Syn, &[]));
        seq[0] = seq[0].wrapping_add(1);
        push(
            start + 10,
            tcp_packet(server, client, seq[1], seq[0], Flags::SynAck, &[]),
        );
        seq[1] = seq[1].wrapping_add(1);
        push(start + 20, tcp_packet(client, server, seq[0], seq[1], Flags::Ack, &[]));
        self.last = start + 20;
        self.opened = true;
    }

    /// Makes one segment's packets, and the FIN exchange after the last.
    fn segment(&mut self, s: &Segment, push: &mut impl FnMut(u64, Vec<u8>)) {
        if !self.opened {
            self.handshake(s.time_us, push);
        }
        let (client, server) = (self.client, self.server);
        let seq = &mut self.seq;
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
        self.remaining = self.remaining.saturating_sub(1);
        if self.remaining == 0 {
            self.close(push);
        }
    }

    fn close(&mut self, push: &mut impl FnMut(u64, Vec<u8>)) {
        let (client, server, last) = (self.client, self.server, self.last);
        let seq = &mut self.seq;
        push(last + 10, tcp_packet(client, server, seq[0], seq[1], Flags::Fin, &[]));
        seq[0] = seq[0].wrapping_add(1);
        push(last + 20, tcp_packet(server, client, seq[1], seq[0], Flags::Fin, &[]));
        seq[1] = seq[1].wrapping_add(1);
        push(last + 30, tcp_packet(client, server, seq[0], seq[1], Flags::Ack, &[]));
    }
}

/// A packet made and not yet written, ordered by (time, rank, made): `made` counts packets as
/// they are made, which keeps a connection's own order.
type Waiting = (u64, usize, u64, Vec<u8>);

/// How far before a segment's time its connection's packets can start: a new connection's
/// handshake begins 30 µs before its first segment.
const LOOKBEHIND_US: u64 = 30;

/// Writes the traffic as a little-endian, microsecond pcap with Ethernet link type, as it is
/// simulated.
///
/// Packets are ordered by time (at the same microsecond, the connection first in name order, then
/// each connection's own order). They wait in a heap only until the simulation has passed them:
/// nothing still to come can start more than [`LOOKBEHIND_US`] before the time the simulation
/// has reached, so memory holds a few segments' packets, not the capture.
pub struct PcapOutput<W: Write> {
    w: W,
    connections: Vec<Option<ConnectionPackets>>,
    waiting: BinaryHeap<Reverse<Waiting>>,
    made: u64,
    error: Option<std::io::Error>,
}

impl<W: Write> PcapOutput<W> {
    pub fn new(mut w: W) -> std::io::Result<Self> {
        let mut header = PcapHeader::new();
        header.snaplen = 65535;
        header.network = Linktype::ETHERNET;
        let bytes = header
            .to_vec_raw()
            .map_err(|e| std::io::Error::other(format!("pcap header: {e:?}")))?;
        w.write_all(&bytes)?;
        Ok(PcapOutput {
            w,
            connections: Vec::new(),
            waiting: BinaryHeap::new(),
            made: 0,
            error: None,
        })
    }

    /// Connection `id` with `endpoints`, `rank` in name order, carrying `segments` segments.
    pub fn open(&mut self, id: usize, endpoints: &Endpoints, rank: usize, segments: usize) {
        let (Ok(client), Ok(server)) = (endpoints.client.parse(), endpoints.server.parse()) else {
            return;
        };
        if self.connections.len() <= id {
            self.connections.resize_with(id + 1, || None);
        }
        let mut c = ConnectionPackets {
            client,
            server,
            rank,
            seq: [0; 2],
            last: 0,
            remaining: segments,
            opened: false,
        };
        if segments == 0 {
            let mut made = Vec::new();
            c.handshake(0, &mut |t, p| made.push((t, p)));
            c.close(&mut |t, p| made.push((t, p)));
            made.into_iter().for_each(|(t, p)| self.wait(t, rank, p));
        }
        self.connections[id] = Some(c);
    }

    /// Makes the packets of `segment` of connection `id`.
    pub fn segment(&mut self, id: usize, segment: &Segment) {
        let Some(Some(c)) = self.connections.get_mut(id) else {
            return;
        };
        let rank = c.rank;
        let mut made = Vec::new();
        c.segment(segment, &mut |t, p| made.push((t, p)));
        made.into_iter().for_each(|(t, p)| self.wait(t, rank, p));
    }

    fn wait(&mut self, time_us: u64, rank: usize, packet: Vec<u8>) {
        self.made += 1;
        self.waiting.push(Reverse((time_us, rank, self.made, packet)));
    }

    /// The simulation has reached `time_us`: writes every packet that nothing to come can precede.
    pub fn settled(&mut self, time_us: u64) {
        let horizon = time_us.saturating_sub(LOOKBEHIND_US);
        while self.waiting.peek().is_some_and(|Reverse((t, ..))| *t < horizon) {
            self.write_next();
        }
    }

    fn write_next(&mut self) {
        let Some(Reverse((time_us, _, _, bytes))) = self.waiting.pop() else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        let block = LegacyPcapBlock {
            ts_sec: (time_us / 1_000_000) as u32,
            ts_usec: (time_us % 1_000_000) as u32,
            caplen: bytes.len() as u32,
            origlen: bytes.len() as u32,
            data: &bytes,
        };
        let written = block
            .to_vec_raw()
            .map_err(|e| std::io::Error::other(format!("pcap record: {e:?}")))
            .and_then(|b| self.w.write_all(&b));
        if let Err(e) = written {
            self.error = Some(e);
        }
    }

    /// Writes what is left and flushes.
    pub fn finish(&mut self) -> std::io::Result<()> {
        while !self.waiting.is_empty() {
            self.write_next();
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => self.w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(port: u16) -> Endpoints {
        Endpoints {
            name: format!("c{port}"),
            client: format!("10.0.0.1:{port}"),
            server: "10.0.0.2:7000".into(),
        }
    }

    /// (time, client port) of each packet a client sent, in file order.
    fn sent(pcap: &[u8]) -> Vec<(u64, u16)> {
        let mut out = Vec::new();
        let mut at = 24;
        while at + 16 <= pcap.len() {
            let word = |k: usize| u32::from_le_bytes(pcap[at + k..at + k + 4].try_into().unwrap());
            let (time, len) = (u64::from(word(0)) * 1_000_000 + u64::from(word(4)), word(8) as usize);
            let packet = &pcap[at + 16..at + 16 + len];
            // Ethernet 14 + IPv4 20: the TCP source port.
            let port = u16::from_be_bytes([packet[34], packet[35]]);
            if port != 7000 {
                out.push((time, port));
            }
            at += 16 + len;
        }
        out
    }

    /// Packets are written in time order; at one microsecond, the connection first in name order
    /// (its rank) goes first, whatever order the connections were opened in; nothing is written
    /// before the simulation has passed it, and everything is written at the end.
    #[test]
    fn packets_are_merged_by_time_then_rank() {
        let mut file = Vec::new();
        let mut out = PcapOutput::new(&mut file).unwrap();
        out.open(0, &endpoints(40001), 1, 1);
        out.open(1, &endpoints(40000), 0, 1);
        let segment = |t| Segment {
            time_us: t,
            direction: raftwire_conformance::Direction::ClientToServer,
            bytes: vec![1, 2, 3],
        };
        out.segment(0, &segment(1000));
        out.segment(1, &segment(1000));
        out.settled(1000);
        assert!(out.waiting.iter().all(|w| w.0 .0 >= 970), "written once passed");
        out.finish().unwrap();
        let sent = sent(&file);
        assert_eq!(sent.len(), 2 * 5, "per client: SYN, ACK, data, FIN, the last ACK");
        assert!(sent.windows(2).all(|w| w[0].0 <= w[1].0), "time order: {sent:?}");
        for pair in sent.windows(2).filter(|w| w[0].0 == w[1].0 && w[0].1 != w[1].1) {
            assert_eq!(pair[0].1, 40000, "the first in name order first: {sent:?}");
        }
        assert_eq!(sent[0], (970, 40000));
    }
}
