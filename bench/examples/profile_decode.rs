//! A long decode loop to put under a profiler, on the same workload as the `decode` benchmark:
//!
//! ```sh
//! cargo build --release -p raftwire-bench --example profile_decode
//! perf record -e cpu-clock target/release/examples/profile_decode 4096
//! perf annotate --stdio -l -s raftwire_bench::decode_stream
//! ```
//!
//! The first argument is the payload size in bytes (default 4096); a second argument `ref` decodes
//! borrowed views (`decode_stream_ref`) instead of owned frames, `codec` decodes with the tokio
//! `RfwCodec` and `length_delimited` with tokio-util's `LengthDelimitedCodec` over the same
//! payloads (the `vs_length_delimited` benchmark's two sides, to compare under a profiler).
//! `versus` times the two alternately over 8 MiB; `versus-in-cache KIB` does the same over KIB
//! kibibytes of frames decoded again and again (the same frames per round in all), to tell a gap in
//! memory traffic (RFW/1 reads 92 bytes a frame to `LengthDelimitedCodec`'s 68) from one in work.

use std::hint::black_box;

use bytes::BytesMut;
use raftwire_bench::{decode_stream, decode_stream_ref, stream};
use raftwire_codec::{RfwCodec, HEADER_LEN, TRAILER_LEN};
use tokio_util::codec::{Decoder, LengthDelimitedCodec};

fn main() {
    let payload: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4096);
    let count = (8 << 20) / (payload + HEADER_LEN + TRAILER_LEN);
    let buf = stream(payload, count);
    let mode = std::env::args().nth(2).unwrap_or_default();
    let naive = length_delimited(&buf);
    if mode == "versus" {
        return versus(&buf, &naive, count);
    }
    if mode == "versus-in-cache" {
        let kib: usize = std::env::args()
            .nth(3)
            .and_then(|a| a.parse().ok())
            .unwrap_or(32)
            .clamp(1, 8 << 10);
        let frames = ((kib << 10) / (payload + HEADER_LEN + TRAILER_LEN)).max(1);
        let cached = stream(payload, frames);
        let cached_naive = length_delimited(&cached);
        return versus_reps(&cached, &cached_naive, frames, (8 << 20) / (kib << 10));
    }
    // ROUNDS=N decodes the workload N times instead of 1500 (a few rounds are enough under
    // `valgrind --tool=callgrind`, whose instruction counts do not depend on the machine's load).
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1500);
    let result: usize = (0..rounds)
        .map(|_| match mode.as_str() {
            "ref" => decode_stream_ref(black_box(&buf)),
            "codec" => with_codec(RfwCodec::default(), black_box(&buf), |f| f.request_id as usize),
            "length_delimited" => with_codec(LengthDelimitedCodec::new(), black_box(&naive), |f| f.len()),
            _ => decode_stream(black_box(&buf)),
        })
        .sum();
    // Frames decoded (owned) or the sum of their request ids (views).
    println!("{result}");
}

/// Decodes all of `input` with `codec` the way `Framed` would, summing `weigh` over the frames.
fn with_codec<C: Decoder>(mut codec: C, input: &[u8], weigh: impl Fn(C::Item) -> usize) -> usize {
    let mut src = BytesMut::from(input);
    let mut n = 0;
    while let Ok(Some(f)) = codec.decode(&mut src) {
        n += weigh(f);
    }
    n
}

/// The payloads of a stream of RFW/1 frames, each behind a u32 big-endian length.
fn length_delimited(frames: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(len) = frames.get(at + 16..at + 20).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
        let len = u32::from_be_bytes(len) as usize;
        let Some(payload) = frames.get(at + HEADER_LEN..at + HEADER_LEN + len) else {
            break;
        };
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(payload);
        at += HEADER_LEN + len + TRAILER_LEN;
    }
    out
}

/// `RfwCodec` and `LengthDelimitedCodec` timed in alternation, 21 rounds each: the median time per
/// frame of each and the median of the per-round ratios (above 1 = `RfwCodec` faster). A quick,
/// steadier reading than two separate runs on a noisy machine; criterion's benchmark is the record.
fn versus(buf: &[u8], naive: &[u8], count: usize) {
    versus_reps(buf, naive, count, 1)
}

/// [`versus`] with each timed round decoding the input `reps` times.
fn versus_reps(buf: &[u8], naive: &[u8], count: usize, reps: usize) {
    let time = |f: &dyn Fn() -> usize| {
        let start = std::time::Instant::now();
        for _ in 0..20 * reps {
            black_box(f());
        }
        start.elapsed().as_secs_f64() * 1e9 / (20 * reps * count) as f64
    };
    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..21 {
        let t = time(&|| with_codec(LengthDelimitedCodec::new(), black_box(naive), |f| f.len()));
        let o = time(&|| with_codec(RfwCodec::default(), black_box(buf), |f| f.request_id as usize));
        ours.push(o);
        theirs.push(t);
        ratios.push(t / o);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "RfwCodec {:.2} ns/frame, LengthDelimitedCodec {:.2} ns/frame, ratio {:.3}x (range {:.3}-{:.3})",
        median(&mut ours),
        median(&mut theirs),
        median(&mut ratios),
        ratios[0],
        ratios[ratios.len() - 1]
    );
}
