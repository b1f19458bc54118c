//! From a captured frame to a TCP segment: link layer by link type, then IPv4/IPv6 and TCP with
//! etherparse (lax, so a snaplen-cut packet still yields its TCP header and the bytes it has).

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

/// The TCP part of a packet.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    /// The acknowledgement number (meaningful when `ack` is set).
    pub ack_number: u32,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
    /// Payload bytes the capture's snap length cut off the end of `payload`.
    pub missing: u32,
    /// The segment was IP-fragmented and is not in the capture (not reassembled): only its start
    /// is known (`seq`).
    pub lost: bool,
    /// When it was captured: seconds since the capture's first packet.
    pub ts: f64,
}

/// Why a packet yields no TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not IP, or IP but not TCP.
    NotTcp,
    /// An IP fragment: TCP reassembly would need IP defragmentation first.
    Fragment,
    /// The first fragment of an IPv4 datagram carrying TCP: its header names the connection and
    /// where in it the lost segment began, though not how long it was.
    FirstFragment { src: SocketAddr, dst: SocketAddr, seq: u32 },
    /// Too short to hold the headers it claims.
    Malformed,
}

/// Link types this reader understands (pcap LINKTYPE_* values).
pub fn supported_link_type(link_type: i32) -> bool {
    matches!(link_type, 0 | 1 | 101 | 108 | 113 | 228 | 229 | 276)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Splits `data` (a packet of link type `link_type`, of which `missing` bytes at the end were not
/// captured) down to its TCP segment.
pub fn tcp_segment(link_type: i32, data: &[u8], missing: u32) -> Result<TcpSegment<'_>, Skip> {
    let sliced = match link_type {
        1 => LaxSlicedPacket::from_ethernet(data).map_err(|_| Skip::Malformed)?,
        // Raw IP.
        101 | 228 | 229 => LaxSlicedPacket::from_ip(data).map_err(|_| Skip::Malformed)?,
        // BSD loopback: a 4-byte address family (host order for NULL, network order for LOOP).
        0 | 108 => LaxSlicedPacket::from_ip(data.get(4..).ok_or(Skip::Malformed)?).map_err(|_| Skip::Malformed)?,
        // Linux cooked capture v1: protocol at 14, payload at 16.
        113 => {
            let proto = be16(data, 14).ok_or(Skip::Malformed)?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(16..).ok_or(Skip::Malformed)?)
        }
        // Linux cooked capture v2: protocol at 0, payload at 20.
        276 => {
            let proto = be16(data, 0).ok_or(Skip::Malformed)?;
            LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(20..).ok_or(Skip::Malformed)?)
        }
        _ => return Err(Skip::NotTcp),
    };
    // The TCP bytes the IP header says the packet carried: with the TCP bytes captured, how much
    // the capture lacks (the record's own lengths also count bytes cut elsewhere, e.g. a link
    // header chopped by `editcap -C`).
    let declared = match &sliced.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4)
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            usize::from(ip.header().payload_length()).saturating_sub(ip.extensions().slice().len())
        }
        _ => usize::MAX,
    };
    let (src_ip, dst_ip, fragmented): (IpAddr, IpAddr, bool) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            let p = ip.payload();
            if p.fragmented && h.fragments_offset().value() == 0 && p.ip_number == etherparse::IpNumber::TCP {
                if let (Some(sp), Some(dp), Some(seq)) = (be16(p.payload, 0), be16(p.payload, 2), p.payload.get(4..8)) {
                    return Err(Skip::FirstFragment {
                        src: SocketAddr::new(h.source_addr().into(), sp),
                        dst: SocketAddr::new(h.destination_addr().into(), dp),
                        seq: u32::from_be_bytes(seq.try_into().unwrap_or_default()),
                    });
                }
            }
            (
                h.source_addr().into(),
                h.destination_addr().into(),
                ip.is_payload_fragmented(),
            )
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let h = ip.header();
            (
                h.source_addr().into(),
                h.destination_addr().into(),
                ip.payload().fragmented,
            )
        }
        _ => return Err(Skip::NotTcp),
    };
    if fragmented {
        return Err(Skip::Fragment);
    }
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Ok(TcpSegment {
            missing: if missing == 0 {
                0
            } else {
                let captured = usize::from(tcp.data_offset()) * 4 + tcp.payload().len();
                missing.min(u32::try_from(declared.saturating_sub(captured)).unwrap_or(u32::MAX))
            },
            src: SocketAddr::new(src_ip, tcp.source_port()),
            dst: SocketAddr::new(dst_ip, tcp.destination_port()),
            seq: tcp.sequence_number(),
            ack_number: tcp.acknowledgment_number(),
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            payload: tcp.payload(),
            lost: false,
            ts: 0.0,
        }),
        Some(_) => Err(Skip::NotTcp),
        None => Err(if sliced.stop_err.is_some() {
            Skip::Malformed
        } else {
            Skip::NotTcp
        }),
    }
}
