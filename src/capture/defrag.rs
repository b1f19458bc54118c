//! IP defragmentation: a TCP segment sent in IP fragments (a path whose MTU is smaller than the
//! sender's, with path MTU discovery off or blocked) is put back together before it is read, so
//! its bytes are checked like any other segment's.
//!
//! etherparse's `IpDefragBuf` holds each datagram (its checks: 8-byte alignment, one end, at most
//! 64 KiB). Its pool is not used, because three things it leaves open are needed here: fragments
//! that overlap with *different* bytes (receivers disagree on which to keep, so the datagram's
//! bytes are unknown and it is given up, not silently rebuilt from the last copy), a bound on the
//! memory held for datagrams that never complete, and, when a datagram is given up, where its
//! TCP segment began (read from its first fragment) so its connection reports the hole.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use etherparse::defrag::IpDefragBuf;

use super::packet::{ip_fragment, tcp_segment, IpFragment, Skip, TcpSegment};

/// Bytes held for datagrams not yet complete, capture-wide: past it the oldest are given up.
pub const HELD_BYTES: usize = 4 << 20;
/// Datagrams in progress at once, capture-wide.
pub const HELD_DATAGRAMS: usize = 4096;
/// Capture seconds a datagram may wait for its missing fragments (Linux's `ipfrag_time`).
pub const MAX_WAIT: f64 = 30.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
}

struct Datagram {
    buf: IpDefragBuf,
    /// Fragments added so far.
    fragments: u64,
    /// Where its TCP segment begins, once the first fragment is in: (source, destination, seq).
    start: Option<(SocketAddr, SocketAddr, u32)>,
    /// When its first and latest fragments were captured.
    first_seen: f64,
    last_seen: f64,
    /// Arrival order, to give up the oldest first.
    order: u64,
}

/// Why a datagram was given up: what a person reading the report can do about it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// A fragment never came: it waited [`MAX_WAIT`] of capture time, or the capture ended first.
    Missing,
    /// A fragment was cut by the capture's snap length.
    Cut,
    /// Two fragments carry different bytes for the same part of the datagram.
    Disagreeing,
    /// Its fragments do not fit together: an offset that is not a multiple of 8, bytes past
    /// 64 KiB, or two different ends.
    Malformed,
    /// Given up to keep the memory held for reassembly bounded ([`HELD_BYTES`],
    /// [`HELD_DATAGRAMS`]).
    Bounds,
}

impl GaveUp {
    /// Every reason, in the order reports list them.
    pub const ALL: [GaveUp; 5] = [
        GaveUp::Missing,
        GaveUp::Cut,
        GaveUp::Disagreeing,
        GaveUp::Malformed,
        GaveUp::Bounds,
    ];

    /// What happened, and what to do about it, for a person: one clause, no inner punctuation
    /// beyond commas, to sit inside the report's lines.
    pub fn why(self) -> String {
        match self {
            GaveUp::Missing => format!(
                "a fragment of its datagram never came, within {MAX_WAIT} s of capture time or before the capture \
                 ended, so the capture or the path lost it"
            ),
            GaveUp::Cut => "a fragment was cut by the capture's snap length, so re-capture with `tcpdump -s 0`".into(),
            GaveUp::Disagreeing => "two fragments carry different bytes for the same part of the datagram, so which \
                 ones the receiver kept is unknown"
                .into(),
            GaveUp::Malformed => "its fragments do not fit together, with an offset that is not a multiple of 8, \
                 bytes past 64 KiB or two different ends"
                .into(),
            GaveUp::Bounds => format!(
                "it was given up to bound the memory held for reassembly, with over {} MiB or {HELD_DATAGRAMS} \
                 datagrams waiting at once",
                HELD_BYTES >> 20
            ),
        }
    }
}

/// A datagram given up: how many fragments it had, why, and the lost segment's start if known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GivenUp {
    pub fragments: u64,
    pub why: GaveUp,
    pub lost: Option<(SocketAddr, SocketAddr, u32)>,
    pub ts: f64,
}

impl GivenUp {
    /// What was lost and why, for a person (`inspect` and `streams` print it).
    pub fn describe(&self) -> String {
        let (n, why) = (self.fragments, self.why.why());
        match self.lost {
            Some((src, dst, seq)) => format!(
                "{src} -> {dst}: the TCP segment at sequence number {seq} came in {n} IP fragment(s) that were not \
                 put together: {why}"
            ),
            None => {
                format!(
                    "{n} IP fragment(s) of a TCP segment whose first fragment is missing were not put together: {why}"
                )
            }
        }
    }

    /// Whether to tell a reader filtering on `ports` (none: every port) about it: a segment on
    /// one of them, or of unknown ports when there is no filter.
    pub fn on_ports(&self, ports: &[u16]) -> bool {
        match self.marker() {
            Some(m) => m.on_ports(ports),
            None => ports.is_empty(),
        }
    }

    /// The marker its connection is given: a segment known only by where it began.
    pub fn marker(&self) -> Option<TcpSegment<'static>> {
        let (src, dst, seq) = self.lost?;
        Some(TcpSegment {
            src,
            dst,
            seq,
            ack_number: 0,
            syn: false,
            ack: false,
            fin: false,
            rst: false,
            payload: &[],
            missing: 0,
            lost: Some(self.why),
            ts: self.ts,
        })
    }
}

/// Datagrams given up that `inspect` and `streams` describe one by one; past it they count them.
pub const DESCRIBED_AT_MOST: u64 = 100;

/// Tells a person about datagrams given up ([`GivenUp::describe`]), each on one line up to
/// [`DESCRIBED_AT_MOST`], then only how many more: a capture full of fragments that never
/// complete would otherwise print a line for every one.
#[derive(Default)]
pub struct Telling {
    described: u64,
    more: u64,
}

impl Telling {
    /// Describes (or counts) those of `given_up` on `ports` to `say`.
    pub fn tell(&mut self, given_up: &[GivenUp], ports: &[u16], mut say: impl FnMut(String)) {
        for g in given_up.iter().filter(|g| g.on_ports(ports)) {
            if self.described < DESCRIBED_AT_MOST {
                self.described += 1;
                say(g.describe());
            } else {
                self.more += 1;
            }
        }
    }

    /// The count of those not described, if any.
    pub fn close(self, mut say: impl FnMut(String)) {
        if self.more > 0 {
            say(format!(
                "{} more TCP segment(s) came in IP fragments that were not put together (only the first \
                 {DESCRIBED_AT_MOST} are described)",
                self.more
            ));
        }
    }
}

/// Puts fragmented TCP segments back together, within fixed bounds.
#[derive(Default)]
pub struct Defragmenter {
    open: HashMap<Key, Datagram>,
    /// The open datagrams by arrival: the oldest is found without a scan.
    by_age: BTreeMap<u64, Key>,
    held: usize,
    next_order: u64,
    /// The last datagram completed: the segment handed out borrows it.
    done: Vec<u8>,
    given_up: Vec<GivenUp>,
    /// Fragments that went into a complete datagram.
    pub reassembled_fragments: u64,
}

impl Defragmenter {
    /// The TCP segment of a captured packet: its own, or (for a fragment) the segment of the
    /// datagram it completes, or `None` while its datagram waits for more. Datagrams given up on
    /// the way are kept until [`Defragmenter::take_given_up`] takes them: call it after every
    /// packet.
    pub fn packet<'s>(
        &'s mut self,
        link_type: i32,
        data: &'s [u8],
        missing: u32,
        ts: f64,
    ) -> Result<Option<TcpSegment<'s>>, Skip> {
        match tcp_segment(link_type, data, missing) {
            Err(Skip::Fragment) => {}
            other => return other.map(Some),
        }
        let Some(f) = ip_fragment(link_type, data) else {
            return Err(Skip::Malformed);
        };
        self.expire(ts);
        if !self.fragment(&f, ts) {
            return Ok(None);
        }
        let mut seg = super::packet::tcp_in(f.src, f.dst, &self.done)?;
        seg.ts = ts;
        Ok(Some(seg))
    }

    /// Adds a fragment; true when it completed its datagram (then in `self.done`).
    fn fragment(&mut self, f: &IpFragment<'_>, ts: f64) -> bool {
        let key = Key {
            src: f.src,
            dst: f.dst,
            id: f.id,
        };
        if !self.open.contains_key(&key) {
            self.make_room();
            let order = self.next_order;
            self.next_order += 1;
            self.by_age.insert(order, key);
            self.open.insert(
                key,
                Datagram {
                    buf: IpDefragBuf::new(etherparse::IpNumber::TCP, Vec::new(), Vec::new()),
                    fragments: 0,
                    start: None,
                    first_seen: ts,
                    last_seen: ts,
                    order,
                },
            );
        }
        let Some(d) = self.open.get_mut(&key) else {
            return false;
        };
        d.fragments += 1;
        d.last_seen = ts;
        if f.offset.value() == 0 {
            if let (Some(sp), Some(dp), Some(seq)) = (be16(f.payload, 0), be16(f.payload, 2), be32(f.payload, 4)) {
                d.start = Some((SocketAddr::new(f.src, sp), SocketAddr::new(f.dst, dp), seq));
            }
        }
        let before = d.buf.data().len();
        // A fragment whose bytes the snap length cut (shorter than its IP header says: a record
        // cut only in its link-layer trailer lost nothing), or that says something else than one
        // already in about the same bytes, leaves the datagram's bytes unknown.
        let unknown = if f.cut {
            Some(GaveUp::Cut)
        } else if !agrees(&d.buf, f) {
            Some(GaveUp::Disagreeing)
        } else if d.buf.add(f.offset, f.more, f.payload).is_err() {
            Some(GaveUp::Malformed)
        } else {
            None
        };
        self.held = (self.held + d.buf.data().len()).saturating_sub(before);
        if let Some(why) = unknown {
            self.give_up(key, ts, why);
            return false;
        }
        if !d.buf.is_complete() {
            // Held bytes are bounded after each fragment: the oldest datagrams go first.
            while self.held > HELD_BYTES && !self.by_age.is_empty() {
                self.give_up_oldest(GaveUp::Bounds);
            }
            return false;
        }
        let Some(d) = self.open.remove(&key) else {
            return false;
        };
        self.by_age.remove(&d.order);
        self.held = self.held.saturating_sub(d.buf.data().len());
        self.reassembled_fragments += d.fragments;
        (self.done, _) = d.buf.take_bufs();
        true
    }

    /// Gives up the oldest datagrams until one more fits.
    fn make_room(&mut self) {
        while !self.by_age.is_empty() && self.open.len() >= HELD_DATAGRAMS {
            self.give_up_oldest(GaveUp::Bounds);
        }
    }

    /// Gives up the datagram that began first, as of its latest fragment.
    fn give_up_oldest(&mut self, why: GaveUp) {
        if let Some((_, key)) = self.by_age.pop_first() {
            let ts = self.open.get(&key).map_or(0.0, |d| d.last_seen);
            self.give_up(key, ts, why);
        }
    }

    /// Gives up datagrams that waited longer than [`MAX_WAIT`] for a fragment: the oldest first,
    /// stopping at the first that has not (capture times may step back a little, so one that
    /// arrived later but began earlier waits for the next check).
    fn expire(&mut self, now: f64) {
        while let Some((_, &key)) = self.by_age.first_key_value() {
            if self.open.get(&key).is_some_and(|d| now - d.first_seen <= MAX_WAIT) {
                return;
            }
            self.by_age.pop_first();
            self.give_up(key, now, GaveUp::Missing);
        }
    }

    fn give_up(&mut self, key: Key, ts: f64, why: GaveUp) {
        if let Some(d) = self.open.remove(&key) {
            self.by_age.remove(&d.order);
            self.held = self.held.saturating_sub(d.buf.data().len());
            self.given_up.push(GivenUp {
                fragments: d.fragments,
                why,
                lost: d.start,
                ts,
            });
        }
    }

    /// The datagrams given up since the last call.
    pub fn take_given_up(&mut self) -> Vec<GivenUp> {
        std::mem::take(&mut self.given_up)
    }

    /// The capture has ended: every datagram still waiting is given up, oldest first.
    pub fn finish(&mut self) -> Vec<GivenUp> {
        while !self.by_age.is_empty() {
            self.give_up_oldest(GaveUp::Missing);
        }
        self.take_given_up()
    }
}

/// True if `f` says the same as the fragments already in wherever it overlaps them.
fn agrees(buf: &IpDefragBuf, f: &IpFragment<'_>) -> bool {
    let start = usize::from(f.offset.byte_offset());
    let end = start + f.payload.len();
    buf.sections().iter().all(|s| {
        let (lo, hi) = (start.max(usize::from(s.start)), end.min(usize::from(s.end)));
        lo >= hi || buf.data().get(lo..hi) == f.payload.get(lo - start..hi - start)
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP segment (20-byte header, ACK set) from port 1000 to 2000.
    fn tcp(seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&1000u16.to_be_bytes());
        t.extend_from_slice(&2000u16.to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&0u32.to_be_bytes());
        t.extend_from_slice(&[5 << 4, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend_from_slice(payload);
        t
    }

    /// IPv4 fragments (raw IP link type) of `datagram`, cut every `size` bytes (a multiple of 8).
    fn v4(id: u16, datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
        datagram
            .chunks(size)
            .enumerate()
            .map(|(i, part)| {
                let offset = (i * size / 8) as u16;
                let more = (i + 1) * size < datagram.len();
                let flags = offset | if more { 0x2000 } else { 0 };
                let mut p = vec![0x45, 0];
                p.extend_from_slice(&((20 + part.len()) as u16).to_be_bytes());
                p.extend_from_slice(&id.to_be_bytes());
                p.extend_from_slice(&flags.to_be_bytes());
                p.extend_from_slice(&[64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
                p.extend_from_slice(part);
                p
            })
            .collect()
    }

    /// IPv6 fragments of `datagram` (a fragment extension header in each).
    fn v6(id: u32, datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
        datagram
            .chunks(size)
            .enumerate()
            .map(|(i, part)| {
                let more = (i + 1) * size < datagram.len();
                let mut p = vec![0x60, 0, 0, 0];
                p.extend_from_slice(&((8 + part.len()) as u16).to_be_bytes());
                p.extend_from_slice(&[44, 64]);
                p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
                p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
                let offset = ((i * size / 8) as u16) << 3 | u16::from(more);
                p.extend_from_slice(&[6, 0]);
                p.extend_from_slice(&offset.to_be_bytes());
                p.extend_from_slice(&id.to_be_bytes());
                p.extend_from_slice(part);
                p
            })
            .collect()
    }

    /// Feeds packets (raw IP), returning the payloads of the segments that came out.
    fn feed(d: &mut Defragmenter, packets: &[Vec<u8>], ts: f64) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        for p in packets {
            if let Ok(Some(seg)) = d.packet(101, p, 0, ts) {
                out.push((seg.seq, seg.payload.to_vec()));
            }
        }
        out
    }

    #[test]
    fn ipv4_and_ipv6_fragments_become_their_segment() {
        let payload: Vec<u8> = (0..500u32).map(|i| i as u8).collect();
        let segment = tcp(77, &payload);
        for packets in [v4(9, &segment, 160), v6(9, &segment, 160)] {
            let mut d = Defragmenter::default();
            assert_eq!(packets.len(), 4);
            let (head, last) = packets.split_at(3);
            assert!(feed(&mut d, head, 0.0).is_empty(), "nothing before the last fragment");
            assert_eq!(feed(&mut d, last, 0.0), vec![(77, payload.clone())]);
            assert_eq!(d.reassembled_fragments, 4);
            assert!(d.finish().is_empty());
        }
    }

    #[test]
    fn a_datagram_given_up_says_where_its_segment_began() {
        // 312 bytes: three fragments of 104.
        let segment = tcp(4242, &[7; 292]);
        let packets = v4(1, &segment, 104);
        assert_eq!(packets.len(), 3);
        let mut d = Defragmenter::default();
        // The first and last fragments, not the middle one.
        assert!(feed(&mut d, &[packets[0].clone(), packets[2].clone()], 5.0).is_empty());
        let given_up = d.finish();
        assert_eq!(given_up.len(), 1);
        let marker = given_up[0].marker().expect("the first fragment named the segment");
        assert_eq!(
            (marker.seq, marker.src.port(), marker.dst.port(), marker.lost),
            (4242, 1000, 2000, Some(GaveUp::Missing))
        );
        assert_eq!(given_up[0].fragments, 2);
        // Without its first fragment only the count is known.
        let mut d = Defragmenter::default();
        feed(&mut d, &packets[1..], 5.0);
        let given_up = d.finish();
        assert_eq!((given_up[0].fragments, given_up[0].marker()), (2, None));
    }

    #[test]
    fn waiting_and_holding_are_bounded() {
        let segment = tcp(1, &[1; 200]);
        // Held past MAX_WAIT seconds of capture time: given up when a later packet comes.
        let mut d = Defragmenter::default();
        feed(&mut d, &v4(1, &segment, 104)[..1], 0.0);
        feed(&mut d, &v4(2, &segment, 104)[..1], MAX_WAIT - 1.0);
        assert!(d.take_given_up().is_empty(), "not yet");
        feed(&mut d, &v4(3, &segment, 104)[..1], MAX_WAIT + 0.5);
        let expired = d.take_given_up();
        assert_eq!(expired.len(), 1, "only the datagram older than the wait");
        assert_eq!(expired[0].why, GaveUp::Missing);
        assert_eq!(d.open.len(), 2);
        // More datagrams in progress than HELD_DATAGRAMS: the oldest go first.
        let mut d = Defragmenter::default();
        for id in 0..=HELD_DATAGRAMS as u16 {
            feed(&mut d, &v4(id, &segment, 104)[..1], 0.0);
        }
        assert_eq!(d.open.len(), HELD_DATAGRAMS);
        assert!(!d.open.keys().any(|k| k.id == 0), "the first one was given up");
        let evicted = d.take_given_up();
        assert_eq!((evicted.len(), evicted[0].why), (1, GaveUp::Bounds));
        // More bytes than HELD_BYTES: the oldest go first, and what is held stays under it.
        let big = tcp(1, &vec![3; 60_000]);
        let mut d = Defragmenter::default();
        for id in 0..100u16 {
            let packets = v4(id, &big, 30_000);
            feed(&mut d, &packets[..2], 0.0);
            assert!(d.held <= HELD_BYTES, "{} held", d.held);
        }
        let evicted = d.take_given_up();
        assert!(d.open.len() < 100 && !evicted.is_empty());
        assert!(evicted.iter().all(|g| g.why == GaveUp::Bounds));
        // A datagram completed while others wait is still put together.
        let packets = v4(500, &segment, 104);
        assert_eq!(feed(&mut d, &packets, 0.0).len(), 1);
    }

    /// Random datagrams, cut at random 8-byte multiples, their fragments shuffled and some sent
    /// twice: each comes out once, exactly as it went in; with one fragment dropped, it never
    /// comes out and is given up at the end.
    #[test]
    fn any_fragmentation_in_any_order_gives_back_the_segment() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n.max(1) as u64) as usize
        };
        for round in 0..300u32 {
            let payload: Vec<u8> = (0..1 + next(3000)).map(|_| next(256) as u8).collect();
            let segment = tcp(round, &payload);
            let size = 8 * (1 + next(200));
            let mut packets = if round % 2 == 0 {
                v4(round as u16, &segment, size)
            } else {
                v6(round, &segment, size)
            };
            for _ in 0..next(3) {
                let copy = packets[next(packets.len())].clone();
                packets.push(copy);
            }
            for i in (1..packets.len()).rev() {
                packets.swap(i, next(i + 1));
            }
            let mut d = Defragmenter::default();
            let out = feed(&mut d, &packets, 0.0);
            let fragments = if round % 2 == 0 {
                v4(round as u16, &segment, size)
            } else {
                v6(round, &segment, size)
            };
            // Every copy that comes out is the segment. Duplicates arriving after completion
            // start a datagram of their own: given up at the end, or (every fragment duplicated)
            // the segment again, as a network that duplicates a datagram delivers it twice (TCP
            // reassembly drops the second copy).
            assert!(!out.is_empty(), "round {round}");
            assert!(out.iter().all(|o| *o == (round, payload.clone())), "round {round}");
            if fragments.len() == 1 {
                continue;
            }
            let mut d = Defragmenter::default();
            let dropped = next(fragments.len());
            let mut rest: Vec<Vec<u8>> = fragments
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != dropped)
                .map(|(_, p)| p.clone())
                .collect();
            for i in (1..rest.len()).rev() {
                rest.swap(i, next(i + 1));
            }
            assert!(
                feed(&mut d, &rest, 0.0).is_empty(),
                "round {round}: a datagram with a hole"
            );
            let given_up = d.finish();
            assert_eq!(given_up.len(), 1, "round {round}");
            assert_eq!(given_up[0].fragments as usize, rest.len());
            assert_eq!(given_up[0].why, GaveUp::Missing);
        }
    }

    #[test]
    fn datagrams_given_up_are_described_up_to_a_bound_then_counted() {
        let addr = |port| SocketAddr::new(IpAddr::from([10, 0, 0, 1]), port);
        let given_up: Vec<GivenUp> = (0..150u16)
            .map(|i| GivenUp {
                fragments: 2,
                why: GaveUp::Cut,
                lost: Some((addr(40000 + i), addr(if i % 2 == 0 { 7000 } else { 9000 }), 1)),
                ts: 0.0,
            })
            .collect();
        let mut lines = Vec::new();
        let mut telling = Telling::default();
        telling.tell(&given_up, &[7000], |l| lines.push(l));
        assert_eq!(lines.len(), 75, "those on the port asked for");
        telling.tell(&given_up, &[], |l| lines.push(l));
        assert_eq!(lines.len() as u64, DESCRIBED_AT_MOST);
        assert!(lines[0].starts_with("10.0.0.1:40000 -> 10.0.0.1:7000: the TCP segment at sequence number 1"));
        assert!(lines[0].ends_with("re-capture with `tcpdump -s 0`"), "{}", lines[0]);
        telling.close(|l| lines.push(l));
        assert!(lines[100].starts_with("125 more TCP segment(s)"), "{}", lines[100]);
    }

    #[test]
    fn overlapping_fragments_must_agree() {
        let segment = tcp(1, &[5; 200]);
        let packets = v4(1, &segment, 104);
        // The same middle fragment twice: fine.
        let mut d = Defragmenter::default();
        let twice = [
            packets[0].clone(),
            packets[1].clone(),
            packets[1].clone(),
            packets[2].clone(),
        ];
        assert_eq!(feed(&mut d, &twice, 0.0).len(), 1);
        // A second copy with one byte changed: the datagram is given up.
        let mut other = packets[1].clone();
        let last = other.len() - 1;
        other[last] ^= 1;
        let mut d = Defragmenter::default();
        let disagree = [packets[0].clone(), packets[1].clone(), other, packets[2].clone()];
        assert!(feed(&mut d, &disagree, 0.0).is_empty());
        let given_up = d.take_given_up();
        assert_eq!(given_up[0].fragments, 3, "given up at the disagreeing copy");
        assert_eq!(given_up[0].why, GaveUp::Disagreeing);
        // A fragment whose offset puts its end past the datagram's: the fragments do not fit.
        let mut d = Defragmenter::default();
        let mut past_end = packets[0].clone();
        past_end[6..8].copy_from_slice(&0x1ff8u16.to_be_bytes());
        assert!(feed(&mut d, &[packets[2].clone(), past_end], 0.0).is_empty());
        assert_eq!(d.take_given_up()[0].why, GaveUp::Malformed);
    }

    #[test]
    fn fragments_of_other_protocols_and_cut_fragments() {
        let segment = tcp(1, &[5; 200]);
        let mut packets = v4(1, &segment, 104);
        // UDP fragments are not TCP: not this reader's business, and not held.
        let mut udp = packets[0].clone();
        udp[9] = 17;
        let mut d = Defragmenter::default();
        assert_eq!(d.packet(101, &udp, 0, 0.0), Err(Skip::NotTcp));
        assert!(d.open.is_empty());
        // A fragment the snap length cut: its datagram cannot be put together.
        let cut = packets[1].len() - 10;
        packets[1].truncate(cut);
        let mut d = Defragmenter::default();
        assert!(d.packet(101, &packets[0], 0, 0.0).unwrap().is_none());
        assert!(d.packet(101, &packets[1], 10, 0.0).unwrap().is_none());
        let given_up = d.take_given_up();
        assert_eq!((given_up.len(), given_up[0].why), (1, GaveUp::Cut));
    }
}
