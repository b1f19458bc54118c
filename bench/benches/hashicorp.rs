//! hashicorp/raft dialect: raftwire's strict checker over the streams of a real raft 1.1.2
//! capture, in messages per second. `bench/hashicorp-vs-go.sh` extracts the streams
//! (`raftwire streams`), runs this with `RAFTWIRE_HC_STREAMS` pointing at them, and runs the Go
//! library's own decoding of the same bytes (`bench/hashicorp-go`) for the comparison.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// (c2s, s2c) of every connection in the directory.
fn connections(dir: &PathBuf) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    names.retain(|p| p.to_string_lossy().ends_with(".c2s.bin"));
    names.sort();
    names
        .iter()
        .filter_map(|c2s| {
            let s2c = PathBuf::from(c2s.to_string_lossy().replace(".c2s.bin", ".s2c.bin"));
            Some((std::fs::read(c2s).ok()?, std::fs::read(s2c).ok()?))
        })
        .collect()
}

fn messages(c: &raftwire_hashicorp::stream::Connection) -> u64 {
    c.requests.by_type.values().sum::<u64>() + c.responses.by_type.values().sum::<u64>()
}

fn hashicorp(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("RAFTWIRE_HC_STREAMS").map(PathBuf::from) else {
        eprintln!("hashicorp: RAFTWIRE_HC_STREAMS is not set; run bench/hashicorp-vs-go.sh");
        return;
    };
    let conns = connections(&dir);
    let checked: Vec<_> = conns
        .iter()
        .map(|(a, b)| raftwire_hashicorp::stream::check(a, b))
        .collect();
    let total: u64 = checked.iter().map(messages).sum();
    let findings: usize = checked
        .iter()
        .map(|c| c.requests.findings.len() + c.responses.findings.len())
        .sum();
    let bytes: usize = conns.iter().map(|(a, b)| a.len() + b.len()).sum();
    println!("raftwire\t{total}\t{bytes}\t{findings} findings");
    let mut g = c.benchmark_group("hashicorp/capture");
    g.throughput(Throughput::Elements(total));
    g.bench_function("raftwire_check", |b| {
        b.iter(|| {
            conns
                .iter()
                .map(|(a, b)| messages(&raftwire_hashicorp::stream::check(black_box(a), black_box(b))))
                .sum::<u64>()
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = hashicorp }
criterion_main!(benches);
