//! Reading pcap and pcapng captures: packets to TCP segments to per-connection byte streams,
//! each validated like a pair of raw stream files, but in capture order.

mod connection;
pub mod defrag;
pub mod extract;
pub mod packet;
pub mod reassembly;
mod shards;
pub mod tracker;
pub mod unrecognised;

use indicatif::{ProgressBar, ProgressStyle};
use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use raftwire_codec::Limits;

use defrag::Defragmenter;
use packet::{supported_link_type, Skip, TcpSegment};
use shards::Shards;
use tracker::{Caps, Settings, Tracker};

use crate::report::{Collected, Unchecked};
use crate::source::Source;

/// What to read and how.
pub struct Options {
    pub limits: Limits,
    /// Only TCP connections with one end on these ports (all, if empty).
    pub ports: Vec<u16>,
    pub progress: bool,
    pub dialect: crate::dialect::Dialect,
    /// Threads validating connections (the capture is read on one more); 1 runs everything on
    /// the calling thread.
    pub jobs: usize,
}

/// Counts of what the capture held besides the connections reported: the report's own type.
pub type Stats = crate::report::CaptureReport;

/// Hands `emit` the TCP segments of one captured packet this validation looks at: its own, the
/// segment of an IP datagram it completes, and the markers of fragmented segments given up (each
/// tells its connection where bytes are missing). What the packet is otherwise is counted in
/// `stats`.
fn segments_of(
    stats: &mut Stats,
    ports: &[u16],
    defrag: &mut Defragmenter,
    packet: (i32, &[u8], u32, f64),
    emit: &mut dyn FnMut(&TcpSegment<'_>),
) {
    if let Some(seg) = segment_of(stats, ports, defrag, packet) {
        emit(&seg);
    }
    given_up(stats, ports, defrag.take_given_up(), emit);
}

/// Counts the fragments of datagrams given up, and hands their markers to `emit`.
fn given_up(stats: &mut Stats, ports: &[u16], given_up: Vec<defrag::GivenUp>, emit: &mut dyn FnMut(&TcpSegment<'_>)) {
    for g in given_up {
        stats.fragments += g.fragments;
        stats.fragments_by_reason.add(g.why, g.fragments);
        if let Some(m) = g.marker().filter(|m| m.on_ports(ports)) {
            emit(&m);
        }
    }
}

/// The TCP segment of one captured packet (or of the datagram it completes), if it is one this
/// validation looks at; what it is otherwise is counted in `stats`.
fn segment_of<'a>(
    stats: &mut Stats,
    ports: &[u16],
    defrag: &'a mut Defragmenter,
    (link_type, data, missing, ts): (i32, &'a [u8], u32, f64),
) -> Option<TcpSegment<'a>> {
    stats.packets += 1;
    // Cut by the snap length: TCP bytes missing, or headers too short to read. (A record whose
    // original length is larger for another reason, such as a link header chopped by editcap,
    // lost nothing that is checked.)
    let cut = |stats: &mut Stats| {
        stats.truncated_packets += 1;
        stats.snap_length = stats.snap_length.max(data.len() as u64);
    };
    let seg = match defrag.packet(link_type, data, missing, ts) {
        Ok(Some(mut s)) => {
            s.ts = ts;
            if s.missing > 0 {
                cut(stats);
            }
            s
        }
        // A fragment whose datagram is not complete yet: counted when its fate is known.
        Ok(None) => return None,
        Err(Skip::Malformed) if missing > 0 => {
            cut(stats);
            stats.malformed += 1;
            return None;
        }
        Err(skip) => {
            *match skip {
                Skip::NotTcp => &mut stats.not_tcp,
                Skip::Malformed => &mut stats.malformed,
                Skip::Fragment => &mut stats.fragments,
            } += 1;
            return None;
        }
    };
    if !seg.on_ports(ports) {
        stats.other_ports += 1;
        return None;
    }
    Some(seg)
}

/// A packet's capture time: whole seconds since the epoch and nanoseconds, kept apart so times
/// relative to the first packet keep their full resolution (an f64 of seconds since the epoch
/// resolves only about 0.2 µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    /// `raw` units of `1/units` seconds since the epoch, plus `offset` seconds.
    fn new(raw: u64, units: u64, offset: i64) -> Timestamp {
        let units = units.max(1);
        let frac = u128::from(raw % units) * 1_000_000_000 / u128::from(units);
        Timestamp {
            secs: i64::try_from(raw / units).unwrap_or(i64::MAX).saturating_add(offset),
            nanos: u32::try_from(frac).unwrap_or(0),
        }
    }

    /// Seconds from `first` to this.
    pub fn since(self, first: Timestamp) -> f64 {
        self.secs.saturating_sub(first.secs) as f64 + (f64::from(self.nanos) - f64::from(first.nanos)) / 1e9
    }
}

/// Reads every packet of a pcap or pcapng file, handing each to `on_packet` with its link type, how
/// many of its bytes the snap length cut off, and its timestamp (seconds since the epoch, in the
/// resolution and with the offset its interface declares). Every reader error advances or ends the read:
/// a record longer than any plausible packet or an unknown link type is an error, never a loop
/// (pcap readers have had exactly these bugs: rusticata/pcap-parser#3, #20, #29). A file that
/// ends inside a record ends the read there: returns where, and the packets before it count.
pub fn read_packets(
    source: &Source,
    progress: bool,
    mut on_packet: impl FnMut(i32, &[u8], u32, Option<Timestamp>),
) -> Result<Option<u64>, String> {
    let fail = |what: String| format!("{}: {what}", source.name);
    let size = source.size.unwrap_or(0);
    let mut reader = create_reader(1 << 20, source.reader()?)
        .map_err(|e| fail(format!("not a readable pcap or pcapng capture ({e})")))?;
    let bar = if progress && size > 64 << 20 {
        let bar = ProgressBar::new(size);
        let style = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}");
        bar.set_style(style.unwrap_or_else(|_| ProgressStyle::default_bar()));
        bar
    } else {
        ProgressBar::hidden()
    };
    // Link type per pcapng interface (or the single one of a legacy pcap), with its timestamp
    // resolution (units per second) and offset (seconds).
    let mut interfaces: Vec<i32> = Vec::new();
    let mut clocks: Vec<(u64, i64)> = Vec::new();
    let mut stalled = 0u32;
    let mut shown = 0u64;
    let mut truncated_at = None;
    // Set once a pcapng section header is read: the byte order of its block lengths.
    let mut pcapng_big_endian: Option<bool> = None;
    loop {
        match reader.next() {
            Ok((consumed, block)) => {
                stalled = 0;
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        interfaces = vec![h.network.0];
                        clocks = vec![(
                            if h.is_nanosecond_precision() {
                                1_000_000_000
                            } else {
                                1_000_000
                            },
                            0,
                        )];
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let lt = interfaces.first().copied().unwrap_or(1);
                        let data = b.data.get(..b.caplen as usize).unwrap_or(b.data);
                        let units = clocks.first().map_or(1_000_000, |c| c.0);
                        let ts = Timestamp::new(u64::from(b.ts_sec) * units + u64::from(b.ts_usec), units, 0);
                        on_packet(lt, data, b.origlen.saturating_sub(b.caplen), Some(ts));
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                        interfaces.clear();
                        clocks.clear();
                        pcapng_big_endian = Some(shb.big_endian());
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(idb.linktype.0);
                        // An unusable resolution (over 2^64 units per second) is read as microseconds.
                        clocks.push((
                            idb.ts_resolution().filter(|r| *r > 0).unwrap_or(1_000_000),
                            idb.ts_offset(),
                        ));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let Some(lt) = interfaces.get(epb.if_id as usize).copied() else {
                            return Err(fail(format!("packet on undeclared interface {}", epb.if_id)));
                        };
                        let (units, offset) = clocks.get(epb.if_id as usize).copied().unwrap_or((1_000_000, 0));
                        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let ts = Timestamp::new(raw, units, offset);
                        let data = epb.data.get(..epb.caplen as usize).unwrap_or(epb.data);
                        on_packet(lt, data, epb.origlen.saturating_sub(epb.caplen), Some(ts));
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        // A simple packet block has no timestamp: it takes the previous packet's.
                        let lt = interfaces.first().copied().unwrap_or(1);
                        on_packet(lt, spb.data, 0, None);
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                if let Some(lt) = interfaces.iter().find(|lt| !supported_link_type(**lt)) {
                    return Err(fail(format!(
                        "unsupported link type {lt} (supported: Ethernet, Linux cooked v1/v2, raw IP, BSD loopback)"
                    )));
                }
                reader.consume(consumed);
                // Updating the bar reads the clock: once per MiB, not once per packet.
                let at = reader.consumed() as u64;
                if at >> 20 != shown >> 20 {
                    shown = at;
                    bar.set_position(at);
                }
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                // Every refill must make progress, or the record can never complete.
                stalled += 1;
                if reader.reader_exhausted() {
                    truncated_at =
                        Some(cut_or_corrupt(reader.data(), reader.consumed(), pcapng_big_endian).map_err(fail)?);
                    break;
                }
                if stalled > 2 {
                    return Err(fail(format!(
                        "capture truncated inside a record at byte {}",
                        reader.consumed()
                    )));
                }
                reader.refill().map_err(|e| fail(format!("read error: {e}")))?;
            }
            Err(PcapError::UnexpectedEof) => {
                truncated_at = Some(cut_or_corrupt(reader.data(), reader.consumed(), pcapng_big_endian).map_err(fail)?);
                break;
            }
            Err(PcapError::BufferTooSmall) => {
                return Err(fail(format!(
                    "record at byte {} is larger than 1 MiB: not a plausible packet (corrupt capture?)",
                    reader.consumed()
                )))
            }
            Err(e) => {
                let mut what = bounded(&e.to_string());
                if let Some(len) = block_len(reader.data(), pcapng_big_endian).filter(|l| *l < 12 || l % 4 != 0) {
                    what = format!("block length {len}: a pcapng block is at least 12 bytes long and a multiple of 4");
                }
                return Err(fail(format!("malformed capture at byte {}: {what}", reader.consumed())));
            }
        }
    }
    bar.finish_and_clear();
    Ok(truncated_at)
}

/// The reader wants more bytes at `at` and the file has none: either the file ends inside a
/// record (tcpdump killed, a copy cut short: `Ok(at)`, everything before it is checked), or the
/// block is all there and its fields claim more than its length, which is corruption (an EPB whose
/// captured length exceeds its block).
fn cut_or_corrupt(rest: &[u8], at: usize, pcapng_big_endian: Option<bool>) -> Result<u64, String> {
    match whole_pcapng_block(rest, pcapng_big_endian) {
        Some(len) => Err(format!(
            "malformed pcapng block at byte {at}: its fields claim more bytes than its length ({len} bytes; \
             e.g. a packet's captured length larger than its block): the file is corrupt"
        )),
        None => Ok(at as u64),
    }
}

/// The length of the pcapng block at the start of `rest` if all of it is there (in the section's
/// byte order), which tells a corrupt block from a file that ends inside one.
fn whole_pcapng_block(rest: &[u8], big_endian: Option<bool>) -> Option<u32> {
    block_len(rest, big_endian).filter(|len| *len >= 12 && *len as usize <= rest.len())
}

/// The declared length of the pcapng block at the start of `rest`.
fn block_len(rest: &[u8], big_endian: Option<bool>) -> Option<u32> {
    let raw: [u8; 4] = rest.get(4..8)?.try_into().ok()?;
    Some(if big_endian? {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    })
}

/// A reader error for a person: pcap-parser's parser errors carry the whole remaining input
/// (megabytes on one line), so only what precedes it is kept, and at most 200 characters.
fn bounded(what: &str) -> String {
    let what = what.split(", input [").next().unwrap_or(what);
    let what = what.split(" input: [").next().unwrap_or(what);
    let mut out: String = what.chars().take(200).collect();
    if out.len() < what.len() {
        out.push('…');
    }
    if out.contains("Internal parser error") {
        out.push_str(" (a block whose length or fields do not fit the pcapng format: the file is corrupt)");
    }
    out
}

/// Validates every Raft connection in a pcap or pcapng file, on `opts.jobs` threads; the rest
/// are listed as not checked.
pub fn validate(source: &Source, opts: Options) -> Result<(Collected, Stats, Unchecked), String> {
    let mut stats = Stats {
        file: source.name.clone(),
        ..Stats::default()
    };
    let settings = Settings {
        limits: opts.limits,
        ports: opts.ports.clone(),
        dialect: opts.dialect,
        caps: Caps::shared_by(opts.jobs),
    };
    let ports = &opts.ports;
    // Every segment of the capture, in capture order, to `segment` (with its packet number).
    let mut read = |segment: &mut dyn FnMut(&TcpSegment<'_>, u64)| {
        let mut defrag = Defragmenter::default();
        let truncated_at = read_packets(source, opts.progress, |lt, data, missing, ts| {
            let ts = stats.clock(ts);
            let at = stats.packets + 1;
            segments_of(&mut stats, ports, &mut defrag, (lt, data, missing, ts), &mut |seg| {
                segment(seg, at)
            });
        });
        let at = stats.packets;
        given_up(&mut stats, ports, defrag.finish(), &mut |seg| segment(seg, at));
        stats.reassembled_fragments = defrag.reassembled_fragments;
        truncated_at
    };
    let (mut closed, held, hit) = if opts.jobs <= 1 {
        let mut tracker = Tracker::new(settings);
        stats.file_truncated_at = read(&mut |seg, at| tracker.segment(seg, at))?;
        tracker.finish()
    } else {
        let mut shards = Shards::start(&settings, opts.jobs)?;
        let read = read(&mut |seg, at| shards.segment(seg, at));
        // Join the workers even when the read failed, so no thread outlives the call.
        let done = shards.finish();
        stats.file_truncated_at = read?;
        done?
    };
    stats.evicted_connections = hit.evicted;
    stats.released_bytes = hit.released;
    let (foreign, not_listed, unchecked) = held.resolve(!opts.ports.is_empty());
    for (order, report) in foreign {
        closed.push(order, report);
    }
    closed.count_unlisted(&not_listed);
    stats.ignored_connections = unchecked.with_data as u64;
    Ok((closed, stats, unchecked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_errors_are_cut_to_what_a_person_can_read() {
        let long = format!("Parser error: bad block, input [{}]", "1, ".repeat(10_000));
        assert_eq!(bounded(&long), "Parser error: bad block");
        let long = "x".repeat(500);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), 201, "200 characters and an ellipsis");
        assert!(cut.ends_with('…'));
        assert!(bounded("Internal parser error").contains("the file is corrupt"));
        assert_eq!(bounded("short"), "short");
    }
}
