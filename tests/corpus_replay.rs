//! Replays every committed corpus file through the same target functions the cargo-fuzz targets
//! call, on stable and without libFuzzer, so the corpus (seeds and regressions) guards CI.

use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use raftwire_codec::fuzzing::{self, Interleaving};
use raftwire_codec::Frame;

/// The targets, as `fuzz/fuzz_targets/*.rs` define them. Typed targets decode their input the way
/// libfuzzer-sys does (`arbitrary_take_rest`) and skip inputs it cannot build.
/// A target's body over raw fuzzer input.
type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("decode_frame", fuzzing::decode_frame),
    ("decode_stream", fuzzing::decode_stream),
    ("roundtrip", |d| {
        if let Ok(f) = Frame::arbitrary_take_rest(Unstructured::new(d)) {
            fuzzing::roundtrip(&f)
        }
    }),
    ("interleave", |d| {
        if let Ok(i) = Interleaving::arbitrary_take_rest(Unstructured::new(d)) {
            fuzzing::interleave(&i);
        }
    }),
    ("scan_stream", raftwire_conformance::fuzzing::scan_stream),
    ("hashicorp_stream", |d| {
        raftwire_hashicorp::fuzz_check(d);
    }),
    ("hashicorp_splice", raftwire_hashicorp::fuzz_splice),
    ("check_stream", |d| {
        if let Ok(e) = Vec::<(bool, Frame)>::arbitrary_take_rest(Unstructured::new(d)) {
            raftwire_conformance::fuzzing::check_stream(&e)
        }
    }),
];

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

#[test]
fn every_corpus_file_passes_its_target() {
    for (target, run) in TARGETS {
        let seeds = files(&Path::new("corpus").join(target));
        assert!(!seeds.is_empty(), "corpus/{target} is empty");
        let regressions = files(&Path::new("corpus/regressions").join(target));
        for path in seeds.iter().chain(&regressions) {
            let data = std::fs::read(path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} fails on {}", path.display());
        }
    }
}

#[test]
fn every_fuzz_target_has_a_corpus_and_a_replay() {
    let mut defined: Vec<String> = files(Path::new("fuzz/fuzz_targets"))
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    defined.sort();
    let mut replayed: Vec<String> = TARGETS.iter().map(|(t, _)| t.to_string()).collect();
    replayed.sort();
    assert_eq!(defined, replayed);
}

#[test]
fn committed_seeds_are_what_raftwire_corpus_generates() {
    let dir = tempfile::tempdir().unwrap();
    assert_cmd::Command::cargo_bin("raftwire")
        .unwrap()
        .args(["corpus", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    for (target, _) in TARGETS {
        for fresh in files(&dir.path().join(target)) {
            let committed = Path::new("corpus").join(target).join(fresh.file_name().unwrap());
            assert_eq!(
                std::fs::read(&committed).ok(),
                std::fs::read(&fresh).ok(),
                "{} is stale: run `raftwire corpus`",
                committed.display()
            );
        }
    }
}
