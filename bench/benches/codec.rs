//! Criterion benchmarks. Each group measures raftwire next to its ceiling (or the encoding it is
//! compared with) over the same bytes, in the same run; `bench/report.py` turns the medians into
//! the ratios of BENCHMARKS.md. `cargo bench -p raftwire-bench -- --quick` runs them briefly (CI).

use std::hint::black_box;

use bytes::Buf;
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use raftwire_bench::*;
use raftwire_codec::{
    decode_header, decode_ref, decode_ref_at, encode, Frame, HeaderProgress, Limits, MessageRef, Progress,
    StreamDecoder, StreamRefDecoder, HEADER_LEN, TRAILER_LEN,
};
use tokio_util::codec::Decoder;

/// About 8 MiB of frames per decode workload: past L2, inside L3.
const WORKLOAD: usize = 8 << 20;

/// Records each group's bytes and frames per iteration for the report.
fn note(group: &str, bytes: usize, frames: usize) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("raftwire-workloads.tsv");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{group}\t")))
        .map(|l| format!("{l}\n"))
        .collect();
    text.push_str(&format!("{group}\t{bytes}\t{frames}\n"));
    let _ = std::fs::write(path, text);
}

fn decode(c: &mut Criterion) {
    for (name, payload) in [("16B", 16), ("64B", 64), ("4KiB", 4096), ("1MiB", 1 << 20)] {
        let frame_len = payload + HEADER_LEN + TRAILER_LEN;
        let count = (WORKLOAD / frame_len).max(8);
        let buf = stream(payload, count);
        let group_name = format!("decode/{name}");
        note(&group_name, buf.len(), count);
        let mut g = c.benchmark_group(&group_name);
        g.throughput(Throughput::Bytes(buf.len() as u64));
        g.bench_function("crc32fast_ceiling", |b| {
            b.iter(|| crc_each_frame(black_box(&buf), frame_len))
        });
        g.bench_function("strict_floor", |b| b.iter(|| check_each_frame(black_box(&buf))));
        g.bench_function("raftwire", |b| b.iter(|| decode_stream(black_box(&buf))));
        g.bench_function("raftwire_ref", |b| b.iter(|| decode_stream_ref(black_box(&buf))));
        g.finish();
    }
}

fn versus_length_delimited(c: &mut Criterion) {
    let payload = 64;
    let count = WORKLOAD / (payload + 28);
    let ours = stream(payload, count);
    // The same payloads, merely length-delimited (u32 big-endian prefix), no checks at all.
    let mut naive = BytesMut::new();
    for i in 0..count {
        let body = frame_with_payload(payload, i as u64 + 1).to_bytes().unwrap_or_default();
        let p = &body[HEADER_LEN..body.len() - TRAILER_LEN];
        naive.extend_from_slice(&(p.len() as u32).to_be_bytes());
        naive.extend_from_slice(p);
    }
    let naive = naive.freeze();
    note("vs_length_delimited/64B", ours.len(), count);
    let mut g = c.benchmark_group("vs_length_delimited/64B");
    g.throughput(Throughput::Elements(count as u64));
    g.bench_function("length_delimited_codec", |b| {
        b.iter(|| {
            let mut codec = tokio_util::codec::LengthDelimitedCodec::new();
            let mut src = BytesMut::from(&naive[..]);
            let mut n = 0;
            while let Ok(Some(f)) = codec.decode(&mut src) {
                n += f.len();
            }
            n
        })
    });
    // The naive split plus only the checks a strict codec cannot skip (header, payload CRC) and
    // no decoding: the best any owned, checksummed codec could do against the naive one.
    g.bench_function("split_and_check_floor", |b| {
        b.iter(|| {
            let limits = Limits::default();
            let mut src = BytesMut::from(&ours[..]);
            let mut n = 0;
            while let Ok(HeaderProgress::Complete(h)) = decode_header(&src, 0, &limits) {
                if src.len() < h.frame_len() {
                    break;
                }
                let f = src.split_to(h.frame_len()).freeze();
                let (body, crc) = f.split_at(f.len() - TRAILER_LEN);
                n += usize::from(crc32fast::hash(&body[HEADER_LEN..]).to_be_bytes() == crc);
            }
            n
        })
    });
    // What a transport using borrowed views does with the same read buffer: walk the frames in
    // place, handle each, then drop the consumed bytes once.
    g.bench_function("raftwire_ref", |b| {
        b.iter(|| {
            let limits = Limits::default();
            let mut src = BytesMut::from(&ours[..]);
            let (mut at, mut n) = (0, 0);
            while let Ok(Progress::Frame { frame, len }) = decode_ref_at(&src, at, &limits) {
                n += frame.request_id as usize;
                at += len;
            }
            src.advance(at);
            n
        })
    });
    g.bench_function("raftwire", |b| {
        b.iter(|| {
            let mut codec = raftwire_codec::RfwCodec::default();
            let mut src = BytesMut::from(&ours[..]);
            let mut n = 0;
            while let Ok(Some(f)) = codec.decode(&mut src) {
                n += f.request_id as usize;
            }
            n
        })
    });
    g.finish();
}

fn versus_encodings(c: &mut Criterion) {
    for n in [1usize, 16, 256] {
        let (ours, pb, mp) = append_entries_three_ways(n, 128);
        let group_name = format!("vs_encodings/{n}x128B");
        note(&group_name, ours.len(), 1);
        let mut g = c.benchmark_group(&group_name);
        g.throughput(Throughput::Elements(1));
        // Each decodes the message and then reads every entry's index and data, so lazily read
        // entries (raftwire) and materialised ones (prost, rmp-serde) do the same work.
        g.bench_function("raftwire", |b| {
            b.iter(|| match raftwire_codec::decode(black_box(&ours)).map(|f| f.message) {
                Ok(raftwire_codec::Message::AppendEntries(m)) => {
                    m.entries.iter().map(|e| e.index as usize + e.data.len()).sum::<usize>()
                }
                _ => 0,
            })
        });
        // What any decoder of the format must do for this frame: judge the header, check the
        // payload CRC. It bounds the one-entry ratios.
        g.bench_function("strict_floor", |b| b.iter(|| check_each_frame(black_box(&ours))));
        g.bench_function("raftwire_ref", |b| {
            b.iter(|| match decode_ref(black_box(&ours)).map(|f| f.message) {
                Ok(MessageRef::AppendEntries(m)) => {
                    m.entries.iter().map(|e| e.index as usize + e.data.len()).sum::<usize>()
                }
                _ => 0,
            })
        });
        g.bench_function("prost", |b| {
            b.iter(|| {
                <eraftpb::Message as prost::Message>::decode(black_box(pb.clone()))
                    .map(|m| m.entries.iter().map(|e| e.index as usize + e.data.len()).sum::<usize>())
            })
        });
        g.bench_function("rmp_serde", |b| {
            b.iter(|| {
                rmp_serde::from_slice::<hashicorp::AppendEntriesRequest>(black_box(&mp))
                    .map(|m| m.entries.iter().map(|e| e.index as usize + e.data.len()).sum::<usize>())
            })
        });
        g.finish();
    }
}

fn encode_frames(c: &mut Criterion) {
    for (name, payload) in [("16B", 16), ("64B", 64), ("4KiB", 4096), ("1MiB", 1 << 20)] {
        let frame_len = payload + HEADER_LEN + TRAILER_LEN;
        let count = (WORKLOAD / frame_len).max(8);
        let frames: Vec<Frame> = (0..count).map(|i| frame_with_payload(payload, i as u64 + 1)).collect();
        let wire = stream(payload, count);
        let group_name = format!("encode/{name}");
        note(&group_name, wire.len(), count);
        let mut g = c.benchmark_group(&group_name);
        g.throughput(Throughput::Bytes(wire.len() as u64));
        let mut out = BytesMut::with_capacity(wire.len());
        g.bench_function("memcpy_crc32fast_ceiling", |b| {
            b.iter(|| {
                out.clear();
                let mut acc = 0;
                for f in wire.chunks(frame_len) {
                    out.extend_from_slice(f);
                    acc ^= crc32fast::hash(&out[out.len() - f.len()..]);
                }
                acc
            })
        });
        g.bench_function("raftwire", |b| {
            b.iter(|| {
                out.clear();
                for f in &frames {
                    let _ = encode(black_box(f), &mut out);
                }
                out.len()
            })
        });
        g.finish();
    }
}

fn incremental(c: &mut Criterion) {
    for (name, payload) in [("64B", 64), ("4KiB", 4096)] {
        let count = WORKLOAD / (payload + HEADER_LEN + TRAILER_LEN);
        let buf = stream(payload, count);
        let group_name = format!("incremental/{name}");
        note(&group_name, buf.len(), count);
        let mut g = c.benchmark_group(&group_name);
        g.throughput(Throughput::Bytes(buf.len() as u64));
        g.bench_function("one_shot", |b| b.iter(|| decode_stream(black_box(&buf))));
        g.bench_function("one_shot_ref", |b| b.iter(|| decode_stream_ref(black_box(&buf))));
        // Borrowed views of borrowed 1460-byte segments: a frame inside a segment is viewed
        // where it lies, a straddling one is assembled in one reused buffer.
        g.bench_function("chunked_1460_ref", |b| {
            b.iter(|| {
                let mut d = StreamRefDecoder::new(Limits::default());
                let mut n = 0;
                for chunk in buf.chunks(1460) {
                    let _ = d.feed(chunk, |f| n += f.request_id as usize);
                }
                n
            })
        });
        // What a transport reading a socket does: each 1460-byte segment arrives as an owned
        // chunk (`BytesMut::split().freeze()`); frames inside it are decoded in place, a frame
        // that straddles two segments is copied (at 4 KiB, every frame does).
        g.bench_function("chunked_1460_owned", |b| {
            b.iter(|| {
                let mut d = StreamDecoder::new(Limits::default());
                let mut n = 0;
                let mut at = 0;
                while at < buf.len() {
                    let end = (at + 1460).min(buf.len());
                    let _ = d.feed_bytes(buf.slice(at..end), |_| n += 1);
                    at = end;
                }
                n
            })
        });
        // Only the copying a frame larger than a segment forces: 1460-byte segments put back
        // into contiguous frames, nothing decoded. One-shot time plus this is the floor of
        // chunked decoding when frames straddle segments.
        let frame_len = payload + HEADER_LEN + TRAILER_LEN;
        if frame_len > 1460 {
            g.bench_function("reassembly_copy_floor", |b| {
                b.iter(|| {
                    let mut held = BytesMut::with_capacity(2 * frame_len);
                    let mut n = 0;
                    for chunk in buf.chunks(1460) {
                        held.extend_from_slice(chunk);
                        while held.len() >= frame_len {
                            n += black_box(held.split_to(frame_len).freeze()).len();
                        }
                    }
                    n
                })
            });
            // The same copy into one reused buffer: what the view decoder cannot avoid.
            g.bench_function("reassembly_copy_floor_ref", |b| {
                b.iter(|| {
                    let mut held = Vec::with_capacity(frame_len);
                    let mut n = 0;
                    for chunk in buf.chunks(1460) {
                        let take = (frame_len - held.len()).min(chunk.len());
                        held.extend_from_slice(&chunk[..take]);
                        if held.len() == frame_len {
                            n += black_box(&held).len();
                            held.clear();
                            held.extend_from_slice(&chunk[take..]);
                        }
                    }
                    n
                })
            });
        }
        // Borrowed segments, every byte copied into the decoder's buffer.
        g.bench_function("chunked_1460_copied", |b| {
            b.iter(|| {
                let mut d = StreamDecoder::new(Limits::default());
                let mut n = 0;
                for chunk in buf.chunks(1460) {
                    let _ = d.feed(chunk, |_| n += 1);
                }
                n
            })
        });
        g.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = decode, versus_length_delimited, versus_encodings, encode_frames, incremental }
criterion_main!(benches);
