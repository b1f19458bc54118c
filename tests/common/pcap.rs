//! Writing pcap files for tests, independently of the `gen` command: hostile captures are made
//! here, by code that shares nothing with the reader under test but etherparse's packet builder.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};

use etherparse::PacketBuilder;

/// One TCP connection to put in a capture.
#[derive(Debug, Clone)]
pub struct Conn {
    pub client: SocketAddrV4,
    pub server: SocketAddrV4,
    /// Writes in order: (from the client?, bytes). Each write is one or more segments.
    pub writes: Vec<(bool, Vec<u8>)>,
    /// Send the SYN handshake first.
    pub handshake: bool,
    /// End with FINs from both sides.
    pub close: bool,
}

impl Conn {
    pub fn new(client: (u8, u16), server: (u8, u16)) -> Conn {
        Conn {
            client: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, client.0), client.1),
            server: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, server.0), server.1),
            writes: Vec::new(),
            handshake: true,
            close: true,
        }
    }

    pub fn c2s(mut self, bytes: impl Into<Vec<u8>>) -> Conn {
        self.writes.push((true, bytes.into()));
        self
    }

    pub fn s2c(mut self, bytes: impl Into<Vec<u8>>) -> Conn {
        self.writes.push((false, bytes.into()));
        self
    }
}

/// A pcap file being built: Ethernet link type, microsecond timestamps.
pub struct Pcap {
    out: Vec<u8>,
    snaplen: u32,
    time: u32,
}

#[derive(Clone, Copy)]
enum Flag {
    Syn,
    SynAck,
    Data,
    Fin,
    Rst,
}

/// A connection being written packet by packet, at times the test chooses.
pub struct Flow {
    pub conn: Conn,
    seq: [u32; 2],
}

impl Pcap {
    /// A capture whose packets are cut at `snaplen` bytes (65535 for whole packets).
    pub fn new(snaplen: u32) -> Pcap {
        let mut out = Vec::new();
        out.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&snaplen.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        Pcap { out, snaplen, time: 0 }
    }

    /// Appends one captured frame as it is.
    pub fn frame(&mut self, frame: &[u8]) {
        self.time += 10;
        let caplen = (frame.len() as u32).min(self.snaplen);
        self.out.extend_from_slice(&(self.time / 1_000_000).to_le_bytes());
        self.out.extend_from_slice(&(self.time % 1_000_000).to_le_bytes());
        self.out.extend_from_slice(&caplen.to_le_bytes());
        self.out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&frame[..caplen as usize]);
    }

    /// A TCP data segment from `from` to `to` as two IPv4 fragments in Ethernet frames (the first
    /// carrying `first` bytes of the IP payload, a multiple of 8), to add (or leave out) one by one.
    pub fn fragments(from: SocketAddrV4, to: SocketAddrV4, seq: u32, payload: &[u8], first: usize) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        let mut ip = Vec::new();
        PacketBuilder::ipv4(from.ip().octets(), to.ip().octets(), 64)
            .tcp(from.port(), to.port(), seq, 65535)
            .ack(1)
            .write(&mut ip, payload)
            .unwrap();
        let (header, _) = etherparse::Ipv4Header::from_slice(&ip).unwrap();
        let body = &ip[header.header_len()..];
        let mac = |a: &SocketAddrV4| {
            let o = a.ip().octets();
            [2, 0, o[0], o[1], o[2], o[3]]
        };
        for (part, offset, more) in [(&body[..first], 0, true), (&body[first..], first, false)] {
            let mut h = header.clone();
            h.more_fragments = more;
            h.fragment_offset = etherparse::IpFragOffset::try_new((offset / 8) as u16).unwrap();
            h.set_payload_len(part.len()).unwrap();
            h.header_checksum = h.calc_header_checksum();
            let mut frame = Vec::new();
            frame.extend_from_slice(&mac(&to));
            frame.extend_from_slice(&mac(&from));
            frame.extend_from_slice(&0x0800u16.to_be_bytes());
            h.write(&mut frame).unwrap();
            frame.extend_from_slice(part);
            frames.push(frame);
        }
        frames
    }

    /// The sequence number a connection's client starts its data with (after the SYN).
    pub fn client_isn(c: &Conn) -> u32 {
        u32::from(c.client.port()).wrapping_mul(2_654_435_761).wrapping_add(1)
    }

    fn packet(&mut self, from: SocketAddrV4, to: SocketAddrV4, seq: u32, flag: Flag, payload: &[u8]) {
        let mac = |a: &SocketAddrV4| {
            let o = a.ip().octets();
            [2, 0, o[0], o[1], o[2], o[3]]
        };
        let b = PacketBuilder::ethernet2(mac(&from), mac(&to))
            .ipv4(from.ip().octets(), to.ip().octets(), 64)
            .tcp(from.port(), to.port(), seq, 65535);
        let b = match flag {
            Flag::Syn => b.syn(),
            Flag::SynAck => b.syn().ack(1),
            Flag::Data => b.ack(1).psh(),
            Flag::Fin => b.ack(1).fin(),
            Flag::Rst => b.rst(),
        };
        let mut p = Vec::new();
        b.write(&mut p, payload).unwrap();
        self.frame(&p);
    }

    /// Adds a connection, its packets in order (segments of at most 1448 bytes).
    pub fn conn(&mut self, c: &Conn) -> &mut Pcap {
        let isn = |a: &SocketAddrV4| u32::from(a.port()).wrapping_mul(2_654_435_761);
        // Data starts after the SYN, whether or not this call writes the handshake.
        let mut seq = [isn(&c.client).wrapping_add(1), isn(&c.server).wrapping_add(1)];
        let ends = [c.client, c.server];
        if c.handshake {
            self.packet(c.client, c.server, seq[0].wrapping_sub(1), Flag::Syn, &[]);
            self.packet(c.server, c.client, seq[1].wrapping_sub(1), Flag::SynAck, &[]);
        }
        for (from_client, bytes) in &c.writes {
            let i = usize::from(!from_client);
            for chunk in bytes.chunks(1448) {
                self.packet(ends[i], ends[1 - i], seq[i], Flag::Data, chunk);
                seq[i] = seq[i].wrapping_add(chunk.len() as u32);
            }
        }
        if c.close {
            for i in 0..2 {
                self.packet(ends[i], ends[1 - i], seq[i], Flag::Fin, &[]);
            }
        }
        self
    }

    /// The next packet is captured at `micros` microseconds (each packet after it 10 µs later).
    pub fn at(&mut self, micros: u32) -> &mut Pcap {
        self.time = micros.saturating_sub(10);
        self
    }

    /// Starts a connection written packet by packet (its handshake, if it has one).
    pub fn open(&mut self, c: &Conn) -> Flow {
        let isn = |a: &SocketAddrV4| u32::from(a.port()).wrapping_mul(2_654_435_761);
        let seq = [isn(&c.client).wrapping_add(1), isn(&c.server).wrapping_add(1)];
        if c.handshake {
            self.packet(c.client, c.server, seq[0].wrapping_sub(1), Flag::Syn, &[]);
            self.packet(c.server, c.client, seq[1].wrapping_sub(1), Flag::SynAck, &[]);
        }
        Flow { conn: c.clone(), seq }
    }

    /// One segment of `bytes` (at most 1448) on a flow, from its client or its server.
    pub fn send(&mut self, f: &mut Flow, from_client: bool, bytes: &[u8]) -> &mut Pcap {
        let i = usize::from(!from_client);
        let ends = [f.conn.client, f.conn.server];
        for chunk in bytes.chunks(1448) {
            self.packet(ends[i], ends[1 - i], f.seq[i], Flag::Data, chunk);
            f.seq[i] = f.seq[i].wrapping_add(chunk.len() as u32);
        }
        self
    }

    /// A FIN, or with `reset` a RST, from one end of a flow.
    pub fn end(&mut self, f: &Flow, from_client: bool, reset: bool) -> &mut Pcap {
        let i = usize::from(!from_client);
        let ends = [f.conn.client, f.conn.server];
        let flag = if reset { Flag::Rst } else { Flag::Fin };
        self.packet(ends[i], ends[1 - i], f.seq[i], flag, &[]);
        self
    }

    /// A dial refused: the client's SYN answered by the server's RST.
    pub fn refused(&mut self, c: &Conn) -> &mut Pcap {
        self.packet(c.client, c.server, 1, Flag::Syn, &[]);
        self.packet(c.server, c.client, 0, Flag::Rst, &[]);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.out.clone()
    }

    pub fn write(&self, path: &std::path::Path) {
        std::fs::write(path, &self.out).unwrap();
    }
}

/// One Ethernet/IPv4/TCP packet as a pcap record (checksums are not checked by the reader).
pub fn record(
    out: &mut impl std::io::Write,
    from: ([u8; 4], u16),
    to: ([u8; 4], u16),
    seq_ack: (u32, u32),
    flags: u8,
    data: &[u8],
) {
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&from.1.to_be_bytes());
    tcp.extend_from_slice(&to.1.to_be_bytes());
    tcp.extend_from_slice(&seq_ack.0.to_be_bytes());
    tcp.extend_from_slice(&seq_ack.1.to_be_bytes());
    tcp.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(data);
    let mut p = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0, 0x45, 0];
    p.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    p.extend_from_slice(&from.0);
    p.extend_from_slice(&to.0);
    p.extend_from_slice(&tcp);
    for v in [0u32, 0, p.len() as u32, p.len() as u32] {
        out.write_all(&v.to_le_bytes()).unwrap();
    }
    out.write_all(&p).unwrap();
}

/// A legacy pcap file at `path` of `n` short connections to 10.0.0.9:7000, each a handshake, one RFW/1 request
/// and its response, and the FIN exchange, with real sequence and acknowledgement numbers; the
/// `i`th comes from 10.0.0.`host(i)`. Written as it is made: a test that measures a child's memory
/// must stay small itself (a child started by a large process can inherit its peak RSS).
pub fn short_connections(path: &std::path::Path, n: u32, host: impl Fn(u32) -> u8) {
    use std::io::Write;
    let (c2s, s2c) = (super::rfw::request(1), super::rfw::response(1));
    let mut pcap = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        pcap.write_all(&v.to_le_bytes()).unwrap();
    }
    let server = ([10, 0, 0, 9], 7000);
    for i in 0..n {
        let client = ([10, 0, 0, host(i)], 10_000 + (i / 2 % 50_000) as u16);
        let (a, b) = (1000u32, 5000u32);
        let (ca, sb) = (a + 1 + c2s.len() as u32, b + 1 + s2c.len() as u32);
        let out = &mut pcap;
        record(out, client, server, (a, 0), 0x02, &[]);
        record(out, server, client, (b, a + 1), 0x12, &[]);
        record(out, client, server, (a + 1, b + 1), 0x18, &c2s);
        record(out, server, client, (b + 1, ca), 0x18, &s2c);
        record(out, client, server, (ca, sb), 0x11, &[]);
        record(out, server, client, (sb, ca + 1), 0x11, &[]);
        record(out, client, server, (ca + 1, sb + 1), 0x10, &[]);
    }
    pcap.flush().unwrap();
}
