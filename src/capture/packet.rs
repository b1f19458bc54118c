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
    /// The segment was IP-fragmented and could not be put together, for this reason: only its
    /// start is known (`seq`).
    pub lost: Option<super::defrag::GaveUp>,
    /// When it was captured: seconds since the capture's first packet.
    pub ts: f64,
}

impl TcpSegment<'_> {
    /// True if one of its ends is on one of `ports`, or `ports` is empty (no `--port` filter).
    pub fn on_ports(&self, ports: &[u16]) -> bool {
        ports.is_empty() || ports.iter().any(|p| *p == self.src.port() || *p == self.dst.port())
    }
}

/// Why a packet yields no TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not IP, or IP but not TCP.
    NotTcp,
    /// A fragment of an IP datagram carrying TCP: the segment is read once the datagram is
    /// put together ([`super::defrag::Defragmenter`]).
    Fragment,
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

/// One IP fragment of a datagram that carries TCP: what IP defragmentation needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpFragment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The datagram's identification (16 bits for IPv4, 32 for IPv6).
    pub id: u32,
    /// Where this fragment's bytes start in the datagram's payload.
    pub offset: etherparse::IpFragOffset,
    /// More fragments follow (false on the last one).
    pub more: bool,
    /// This fragment's part of the datagram's payload.
    pub payload: &'a [u8],
    /// The capture's snap length cut this fragment's bytes.
    pub cut: bool,
}

/// The fragment `data` is, if it is a fragment of a datagram carrying TCP.
pub fn ip_fragment(link_type: i32, data: &[u8]) -> Option<IpFragment<'_>> {
    let sliced = link_slice(link_type, data).ok()?;
    match &sliced.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let (h, p) = (ip.header(), ip.payload());
            (p.fragmented && p.ip_number == etherparse::IpNumber::TCP).then(|| IpFragment {
                src: h.source_addr().into(),
                dst: h.destination_addr().into(),
                id: u32::from(h.identification()),
                offset: h.fragments_offset(),
                more: h.more_fragments(),
                payload: p.payload,
                cut: p.incomplete,
            })
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let p = ip.payload();
            let frag = ip.extensions().clone().into_iter().find_map(|e| match e {
                etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(f),
                _ => None,
            })?;
            (p.fragmented && p.ip_number == etherparse::IpNumber::TCP).then(|| IpFragment {
                src: ip.header().source_addr().into(),
                dst: ip.header().destination_addr().into(),
                id: frag.identification(),
                offset: frag.fragment_offset(),
                more: frag.more_fragments(),
                payload: p.payload,
                cut: p.incomplete,
            })
        }
        _ => None,
    }
}

/// The packet sliced from its link layer down, by link type.
fn link_slice(link_type: i32, data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    Ok(match link_type {
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
    })
}

/// Splits `data` (a packet of link type `link_type`, of which `missing` bytes at the end were not
/// captured) down to its TCP segment. A fragment of a TCP datagram is `Skip::Fragment`:
/// [`super::defrag::Defragmenter`] puts those together.
pub fn tcp_segment(link_type: i32, data: &[u8], missing: u32) -> Result<TcpSegment<'_>, Skip> {
    let sliced = link_slice(link_type, data)?;
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
        let carries = |p: &etherparse::LaxIpPayloadSlice<'_>| p.ip_number == etherparse::IpNumber::TCP;
        let tcp = match &sliced.net {
            Some(LaxNetSlice::Ipv4(ip)) => carries(ip.payload()),
            Some(LaxNetSlice::Ipv6(ip)) => carries(ip.payload()),
            _ => false,
        };
        // Another protocol's fragments are not this reader's business.
        return Err(if tcp { Skip::Fragment } else { Skip::NotTcp });
    }
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Ok(TcpSegment {
            missing: if missing == 0 {
                0
            } else {
                let captured = usize::from(tcp.data_offset()) * 4 + tcp.payload().len();
                missing.min(u32::try_from(declared.saturating_sub(captured)).unwrap_or(u32::MAX))
            },
            ..segment(src_ip, dst_ip, tcp)
        }),
        Some(_) => Err(Skip::NotTcp),
        None => Err(if sliced.stop_err.is_some() {
            Skip::Malformed
        } else {
            Skip::NotTcp
        }),
    }
}

/// The TCP segment that is a reassembled datagram's whole payload (`payload`), sent from `src` to
/// `dst`.
pub fn tcp_in(src: IpAddr, dst: IpAddr, payload: &[u8]) -> Result<TcpSegment<'_>, Skip> {
    let tcp = etherparse::TcpSlice::from_slice(payload).map_err(|_| Skip::Malformed)?;
    Ok(segment(src, dst, &tcp))
}

/// The segment a TCP header and its payload make, sent from `src` to `dst` (nothing missing).
fn segment<'a>(src: IpAddr, dst: IpAddr, tcp: &etherparse::TcpSlice<'a>) -> TcpSegment<'a> {
    TcpSegment {
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack_number: tcp.acknowledgment_number(),
        syn: tcp.syn(),
        ack: tcp.ack(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: tcp.payload(),
        missing: 0,
        lost: None,
        ts: 0.0,
    }
}
