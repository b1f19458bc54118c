//! Checks the hashicorp/raft streams of a directory (`raftwire streams` output) a number of times,
//! for profilers that count instructions (`valgrind --tool=callgrind`: repeatable whatever else the
//! machine runs) or sample (`perf record`).
//!
//! usage: cargo run --release -p raftwire-bench --example profile_hashicorp -- DIR [ROUNDS]

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: profile_hashicorp DIR [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(1);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    names.retain(|p| p.to_string_lossy().ends_with(".c2s.bin"));
    names.sort();
    let conns: Vec<(Vec<u8>, Vec<u8>)> = names
        .iter()
        .filter_map(|c2s| {
            let s2c = PathBuf::from(c2s.to_string_lossy().replace(".c2s.bin", ".s2c.bin"));
            Some((std::fs::read(c2s).ok()?, std::fs::read(s2c).ok()?))
        })
        .collect();
    let mut messages = 0u64;
    for _ in 0..rounds {
        for (a, b) in &conns {
            let c = raftwire_hashicorp::check(a, b);
            messages += c.requests.by_type.values().sum::<u64>() + c.responses.by_type.values().sum::<u64>();
        }
    }
    println!("{messages} messages checked");
}
