//! `--record FILE.pcapng`: every connection the probe opened, written as the TCP packets that
//! carried it (handshake, the bytes each side wrote in the segments they were read or written in,
//! ACKs, FIN or RST), so `raftwire validate` can hold the probe's own traffic, and the node's
//! answers, to the spec, and Wireshark can show a case's exchange. Each connection's SYN carries
//! a comment naming its case. Written as the run goes, one connection at a time.
//!
//! The packets are rebuilt from what the sockets saw (the kernel's own segments are not visible
//! to a program): boundaries are those of our writes and reads, split at 1448-byte segments.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etherparse::PacketBuilder;
use pcap_parser::pcapng::{EnhancedPacketBlock, InterfaceDescriptionBlock, SectionHeaderBlock};
use pcap_parser::{Linktype, OptionCode, PcapNGOption, ToVec};

/// What happened on a connection, in order, with the time since the run began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The probe wrote these bytes.
    Sent(Vec<u8>),
    /// The probe read these bytes.
    Received(Vec<u8>),
    /// The probe shut down its sending side (FIN).
    ProbeFin,
    /// The node closed its side (FIN).
    NodeFin,
    /// The connection was reset.
    NodeRst,
}

/// One connection's events, for the recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The probe's end.
    pub client: SocketAddr,
    /// The node's end.
    pub server: SocketAddr,
    /// When it was opened, since the run began.
    pub opened: Duration,
    /// What happened, each with its time since the run began.
    pub events: Vec<(Duration, Event)>,
}

/// Largest TCP payload per packet.
const MSS: usize = 1448;

/// Writes traces as a pcapng capture.
pub struct Recorder<W: Write> {
    out: W,
    /// Wall-clock time of the run's start, in microseconds since the epoch.
    epoch_us: u64,
}

fn mac(addr: &SocketAddr) -> [u8; 6] {
    let o = match addr.ip() {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

#[derive(Clone, Copy)]
enum Flags {
    Syn,
    SynAck,
    Ack,
    Data,
    Fin,
    Rst,
}

fn packet(from: SocketAddr, to: SocketAddr, seq: u32, ack: u32, flags: Flags, payload: &[u8]) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2(mac(&from), mac(&to));
    let ip = match (from.ip(), to.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), 64),
        (s, d) => {
            // One end of a TCP connection is never v4 and the other v6; map both to v6.
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
                IpAddr::V6(v) => v.octets(),
            };
            eth.ipv6(v6(s), v6(d), 64)
        }
    };
    let b = ip.tcp(from.port(), to.port(), seq, 65535);
    let b = match flags {
        Flags::Syn => b.syn(),
        Flags::SynAck => b.syn().ack(ack),
        Flags::Ack => b.ack(ack),
        Flags::Data => b.ack(ack).psh(),
        Flags::Fin => b.ack(ack).fin(),
        Flags::Rst => b.ack(ack).rst(),
    };
    let mut out = Vec::with_capacity(74 + payload.len());
    // Writing into a Vec cannot fail; a payload over 64 KiB cannot happen (MSS).
    let _ = b.write(&mut out, payload);
    out
}

impl<W: Write> Recorder<W> {
    /// Starts a capture: the section and interface headers.
    pub fn new(mut out: W) -> std::io::Result<Recorder<W>> {
        let mut shb = SectionHeaderBlock {
            block_type: 0,
            block_len1: 0,
            bom: 0,
            major_version: 1,
            minor_version: 0,
            section_len: -1,
            options: Vec::new(),
            block_len2: 0,
        };
        let mut idb = InterfaceDescriptionBlock {
            block_type: 0,
            block_len1: 0,
            linktype: Linktype::ETHERNET,
            reserved: 0,
            snaplen: 0,
            options: Vec::new(),
            block_len2: 0,
            if_tsresol: 6,
            if_tsoffset: 0,
        };
        let bad = |e| std::io::Error::other(format!("writing the capture header: {e:?}"));
        out.write_all(&shb.to_vec().map_err(bad)?)?;
        out.write_all(&idb.to_vec().map_err(bad)?)?;
        let epoch_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        Ok(Recorder { out, epoch_us })
    }

    fn write(&mut self, at: Duration, data: &[u8], comment: Option<&str>) -> std::io::Result<()> {
        let ts = self.epoch_us + at.as_micros() as u64;
        let mut options = Vec::new();
        if let Some(c) = comment {
            options.push(PcapNGOption {
                code: OptionCode::Comment,
                len: c.len() as u16,
                value: std::borrow::Cow::Owned(c.as_bytes().to_vec()),
            });
        }
        let mut epb = EnhancedPacketBlock {
            block_type: 0,
            block_len1: 0,
            if_id: 0,
            ts_high: (ts >> 32) as u32,
            ts_low: ts as u32,
            caplen: data.len() as u32,
            origlen: data.len() as u32,
            data,
            options,
            block_len2: 0,
        };
        let block = epb
            .to_vec()
            .map_err(|e| std::io::Error::other(format!("writing a packet: {e:?}")))?;
        self.out.write_all(&block)
    }

    /// Writes one connection, its SYN commented with `comment` (the case it belongs to).
    pub fn connection(&mut self, trace: &Trace, comment: &str) -> std::io::Result<()> {
        let (c, s) = (trace.client, trace.server);
        // Initial sequence numbers from the ports, as any would do.
        let mut seq = [
            u32::from(c.port()).wrapping_mul(0x9E37_79B9),
            u32::from(s.port()).wrapping_mul(0x85EB_CA6B),
        ];
        let t0 = trace.opened;
        self.write(t0, &packet(c, s, seq[0], 0, Flags::Syn, &[]), Some(comment))?;
        seq[0] = seq[0].wrapping_add(1);
        self.write(t0, &packet(s, c, seq[1], seq[0], Flags::SynAck, &[]), None)?;
        seq[1] = seq[1].wrapping_add(1);
        self.write(t0, &packet(c, s, seq[0], seq[1], Flags::Ack, &[]), None)?;
        let (mut probe_fin, mut node_end) = (false, false);
        for (at, e) in &trace.events {
            match e {
                Event::Sent(bytes) | Event::Received(bytes) => {
                    let (from, to, me) = if matches!(e, Event::Sent(_)) {
                        (c, s, 0)
                    } else {
                        (s, c, 1)
                    };
                    for chunk in bytes.chunks(MSS) {
                        self.write(*at, &packet(from, to, seq[me], seq[1 - me], Flags::Data, chunk), None)?;
                        seq[me] = seq[me].wrapping_add(chunk.len() as u32);
                    }
                    self.write(*at, &packet(to, from, seq[1 - me], seq[me], Flags::Ack, &[]), None)?;
                }
                Event::ProbeFin => {
                    self.write(*at, &packet(c, s, seq[0], seq[1], Flags::Fin, &[]), None)?;
                    seq[0] = seq[0].wrapping_add(1);
                    probe_fin = true;
                }
                Event::NodeFin => {
                    self.write(*at, &packet(s, c, seq[1], seq[0], Flags::Fin, &[]), None)?;
                    seq[1] = seq[1].wrapping_add(1);
                    node_end = true;
                }
                Event::NodeRst => {
                    self.write(*at, &packet(s, c, seq[1], seq[0], Flags::Rst, &[]), None)?;
                    return Ok(());
                }
            }
        }
        // The probe closes every connection when its case is decided.
        let end = trace.events.last().map_or(t0, |(t, _)| *t);
        if !probe_fin {
            self.write(end, &packet(c, s, seq[0], seq[1], Flags::Fin, &[]), None)?;
            seq[0] = seq[0].wrapping_add(1);
        }
        if !node_end {
            self.write(end, &packet(s, c, seq[1], seq[0], Flags::Fin, &[]), None)?;
            seq[1] = seq[1].wrapping_add(1);
        }
        self.write(end, &packet(c, s, seq[0], seq[1], Flags::Ack, &[]), None)
    }

    /// Flushes the capture.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use pcap_parser::pcapng::Block;
    use pcap_parser::{PcapBlockOwned, PcapError};

    use super::*;

    /// (microseconds since the epoch, a comment, the TCP flags "SAFPR" present, seq, payload).
    type Packet = (u64, Option<String>, String, u32, Vec<u8>);

    fn read(capture: &[u8]) -> Vec<Packet> {
        let mut reader = pcap_parser::create_reader(1 << 16, capture).unwrap();
        let mut out = Vec::new();
        loop {
            match reader.next() {
                Ok((n, block)) => {
                    if let PcapBlockOwned::NG(Block::EnhancedPacket(epb)) = block {
                        let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let comment = epb
                            .options
                            .iter()
                            .find(|o| o.code == OptionCode::Comment)
                            .map(|o| String::from_utf8_lossy(&o.value[..o.len as usize]).into_owned());
                        let p = etherparse::SlicedPacket::from_ethernet(epb.data).unwrap();
                        let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else {
                            panic!("not TCP")
                        };
                        let flags: String = [
                            (t.syn(), 'S'),
                            (t.ack(), 'A'),
                            (t.fin(), 'F'),
                            (t.psh(), 'P'),
                            (t.rst(), 'R'),
                        ]
                        .iter()
                        .filter(|(on, _)| *on)
                        .map(|(_, c)| *c)
                        .collect();
                        out.push((ts, comment, flags, t.sequence_number(), t.payload().to_vec()));
                    }
                    reader.consume(n);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
                Err(e) => panic!("{e:?}"),
            }
        }
        out
    }

    fn trace(events: Vec<Event>) -> Trace {
        Trace {
            client: "127.0.0.1:40000".parse().unwrap(),
            server: "127.0.0.1:7070".parse().unwrap(),
            opened: Duration::from_millis(5),
            events: events
                .into_iter()
                .enumerate()
                .map(|(i, e)| (Duration::from_millis(10 + i as u64), e))
                .collect(),
        }
    }

    #[test]
    fn a_connection_is_its_handshake_its_bytes_and_its_close() {
        let mut rec = Recorder::new(Vec::new()).unwrap();
        let started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64;
        let big = vec![7u8; 2000];
        rec.connection(
            &trace(vec![
                Event::Sent(big.clone()),
                Event::Received(b"ok".to_vec()),
                Event::NodeFin,
            ]),
            "case one",
        )
        .unwrap();
        let packets = read(&rec.finish().unwrap());
        let flags: Vec<&str> = packets.iter().map(|p| p.2.as_str()).collect();
        assert_eq!(flags, ["S", "SA", "A", "AP", "AP", "A", "AP", "A", "AF", "AF", "A"]);
        assert_eq!(packets[0].1.as_deref(), Some("case one"));
        assert!(packets[1..].iter().all(|p| p.1.is_none()));
        // The 2,000 bytes in two segments of at most 1448, in order, then the answer.
        assert_eq!((packets[3].4.len(), packets[4].4.len()), (1448, 552));
        assert_eq!(packets[4].3, packets[3].3.wrapping_add(1448));
        assert_eq!(packets[6].4, b"ok");
        // The probe's FIN comes after its 2,000 bytes; the node's after its 2.
        assert_eq!(packets[9].3, packets[3].3.wrapping_add(2000));
        assert_eq!(packets[8].3, packets[6].3.wrapping_add(2));
        // Times: now, in order, the events' own offsets.
        assert!(packets.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(
            packets[0].0 >= started && packets[0].0 < started + 5_000_000,
            "{} vs {started}",
            packets[0].0
        );
        assert_eq!(packets[3].0 - packets[0].0, 5_000);
    }

    #[test]
    fn a_probe_fin_is_not_sent_twice_and_a_reset_ends_the_connection() {
        let mut rec = Recorder::new(Vec::new()).unwrap();
        rec.connection(&trace(vec![Event::Sent(b"x".to_vec()), Event::ProbeFin]), "half-closed")
            .unwrap();
        rec.connection(&trace(vec![Event::Sent(b"y".to_vec()), Event::NodeRst]), "reset")
            .unwrap();
        let packets = read(&rec.finish().unwrap());
        let flags: Vec<&str> = packets.iter().map(|p| p.2.as_str()).collect();
        assert_eq!(
            flags,
            ["S", "SA", "A", "AP", "A", "AF", "AF", "A", "S", "SA", "A", "AP", "A", "AR"]
        );
    }
}
