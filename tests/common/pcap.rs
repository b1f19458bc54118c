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
        };
        let mut p = Vec::new();
        b.write(&mut p, payload).unwrap();
        self.time += 10;
        let caplen = (p.len() as u32).min(self.snaplen);
        self.out.extend_from_slice(&(self.time / 1_000_000).to_le_bytes());
        self.out.extend_from_slice(&(self.time % 1_000_000).to_le_bytes());
        self.out.extend_from_slice(&caplen.to_le_bytes());
        self.out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&p[..caplen as usize]);
    }

    /// Adds a connection, its packets in order (segments of at most 1448 bytes).
    pub fn conn(&mut self, c: &Conn) -> &mut Pcap {
        let isn = |a: &SocketAddrV4| u32::from(a.port()).wrapping_mul(2_654_435_761);
        let mut seq = [isn(&c.client), isn(&c.server)];
        let ends = [c.client, c.server];
        if c.handshake {
            self.packet(c.client, c.server, seq[0], Flag::Syn, &[]);
            self.packet(c.server, c.client, seq[1], Flag::SynAck, &[]);
            seq[0] = seq[0].wrapping_add(1);
            seq[1] = seq[1].wrapping_add(1);
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

    pub fn bytes(&self) -> Vec<u8> {
        self.out.clone()
    }

    pub fn write(&self, path: &std::path::Path) {
        std::fs::write(path, &self.out).unwrap();
    }
}
