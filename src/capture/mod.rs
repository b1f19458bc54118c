//! Reading pcap and pcapng captures: packets to TCP segments to per-connection byte streams,
//! each validated like a pair of raw stream files, but in capture order.

mod connection;
pub mod extract;
mod packet;
pub mod reassembly;
mod shards;
mod tracker;
pub mod unrecognised;

use indicatif::{ProgressBar, ProgressStyle};
use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use raftwire_codec::Limits;

use packet::{supported_link_type, tcp_segment, Skip, TcpSegment};
use shards::Shards;
use tracker::{Settings, Tracker};

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

/// The TCP segment of one captured packet, if it is one this validation looks at; what it is
/// otherwise is counted in `stats`.
fn segment_of<'a>(
    stats: &mut Stats,
    ports: &[u16],
    link_type: i32,
    data: &'a [u8],
    cut: bool,
) -> Option<TcpSegment<'a>> {
    stats.packets += 1;
    stats.truncated_packets += u64::from(cut);
    let seg = match tcp_segment(link_type, data) {
        Ok(s) => s,
        Err(skip) => {
            *match skip {
                Skip::NotTcp => &mut stats.not_tcp,
                Skip::Fragment => &mut stats.fragments,
                Skip::Malformed => &mut stats.malformed,
            } += 1;
            return None;
        }
    };
    if !ports.is_empty() && !ports.iter().any(|p| *p == seg.src.port() || *p == seg.dst.port()) {
        stats.other_ports += 1;
        return None;
    }
    Some(seg)
}

/// Reads every packet of a pcap or pcapng file, handing each to `on_packet` with its link type and
/// whether the snap length cut it. Every reader error advances or ends the read: a truncated last
/// record, a record longer than any plausible packet or an unknown link type is an error, never a
/// loop (pcap readers have had exactly these bugs: rusticata/pcap-parser#3, #20, #29).
pub fn read_packets(
    source: &Source,
    progress: bool,
    mut on_packet: impl FnMut(i32, &[u8], bool),
) -> Result<(), String> {
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
    // Link type per pcapng interface (or the single one of a legacy pcap).
    let mut interfaces: Vec<i32> = Vec::new();
    let mut stalled = 0u32;
    let mut shown = 0u64;
    loop {
        match reader.next() {
            Ok((consumed, block)) => {
                stalled = 0;
                match block {
                    PcapBlockOwned::LegacyHeader(h) => interfaces = vec![h.network.0],
                    PcapBlockOwned::Legacy(b) => {
                        let lt = interfaces.first().copied().unwrap_or(1);
                        on_packet(lt, b.data, b.origlen > b.caplen);
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => interfaces.push(idb.linktype.0),
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let Some(lt) = interfaces.get(epb.if_id as usize).copied() else {
                            return Err(fail(format!("packet on undeclared interface {}", epb.if_id)));
                        };
                        let data = epb.data.get(..epb.caplen as usize).unwrap_or(epb.data);
                        on_packet(lt, data, epb.origlen > epb.caplen);
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let lt = interfaces.first().copied().unwrap_or(1);
                        on_packet(lt, spb.data, false);
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
                if stalled > 2 || reader.reader_exhausted() {
                    return Err(fail(format!(
                        "capture truncated inside a record at byte {}",
                        reader.consumed()
                    )));
                }
                reader.refill().map_err(|e| fail(format!("read error: {e}")))?;
            }
            Err(PcapError::UnexpectedEof) => {
                return Err(fail(format!(
                    "capture truncated inside a record at byte {}",
                    reader.consumed()
                )))
            }
            Err(PcapError::BufferTooSmall) => {
                return Err(fail(format!(
                    "record at byte {} is larger than 1 MiB: not a plausible packet (corrupt capture?)",
                    reader.consumed()
                )))
            }
            Err(e) => {
                let what = e.to_string();
                return Err(fail(format!("malformed capture at byte {}: {what}", reader.consumed())));
            }
        }
    }
    bar.finish_and_clear();
    Ok(())
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
    };
    let ports = &opts.ports;
    let (mut closed, held) = if opts.jobs <= 1 {
        let mut tracker = Tracker::new(settings);
        read_packets(source, opts.progress, |lt, data, cut| {
            if let Some(seg) = segment_of(&mut stats, ports, lt, data, cut) {
                tracker.segment(&seg, stats.packets);
            }
        })?;
        tracker.finish()
    } else {
        let mut shards = Shards::start(&settings, opts.jobs)?;
        let read = read_packets(source, opts.progress, |lt, data, cut| {
            if let Some(seg) = segment_of(&mut stats, ports, lt, data, cut) {
                shards.segment(&seg, stats.packets);
            }
        });
        // Join the workers even when the read failed, so no thread outlives the call.
        let done = shards.finish();
        read?;
        done?
    };
    let (foreign, not_listed, unchecked) = held.resolve(!opts.ports.is_empty());
    for (order, report) in foreign {
        closed.push(order, report);
    }
    closed.count_unlisted(&not_listed);
    stats.ignored_connections = unchecked.with_data as u64;
    Ok((closed, stats, unchecked))
}
