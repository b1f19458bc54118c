//! A long decode loop to put under a profiler, on the same workload as the `decode` benchmark:
//!
//! ```sh
//! cargo build --release -p raftwire-bench --example profile_decode
//! perf record -e cpu-clock target/release/examples/profile_decode 4096
//! perf annotate --stdio -l -s raftwire_bench::decode_stream
//! ```
//!
//! The first argument is the payload size in bytes (default 4096); a second argument `ref` decodes
//! borrowed views (`decode_stream_ref`) instead of owned frames.

use std::hint::black_box;

use raftwire_bench::{decode_stream, decode_stream_ref, stream};
use raftwire_codec::{HEADER_LEN, TRAILER_LEN};

fn main() {
    let payload: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4096);
    let count = (8 << 20) / (payload + HEADER_LEN + TRAILER_LEN);
    let buf = stream(payload, count);
    let by_ref = std::env::args().nth(2).is_some_and(|a| a == "ref");
    let result: usize = (0..1500)
        .map(|_| {
            if by_ref {
                decode_stream_ref(black_box(&buf))
            } else {
                decode_stream(black_box(&buf))
            }
        })
        .sum();
    // Frames decoded (owned) or the sum of their request ids (views).
    println!("{result}");
}
