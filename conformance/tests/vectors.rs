//! The committed vectors are exactly what the generator writes, the built-in codec and checker
//! pass every one, and together they cover every requirement of SPEC.md with an accepted and a
//! rejected vector.

use std::collections::BTreeSet;
use std::path::Path;

use raftwire_conformance::vectors::{self, FrameVerdict};

#[test]
fn committed_vectors_match_the_generator() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let fresh = vectors::files();
    for (name, bytes) in &fresh {
        let committed = std::fs::read(dir.join(name)).ok();
        assert!(
            committed.as_ref() == Some(bytes),
            "conformance/vectors/{name} is missing or stale: run `cargo run -- vectors`"
        );
    }
    let on_disk: usize = ["frames", "streams"]
        .iter()
        .map(|d| std::fs::read_dir(dir.join(d)).map(|r| r.count()).unwrap_or(0))
        .sum();
    assert_eq!(
        on_disk,
        fresh.len(),
        "conformance/vectors holds files the generator no longer writes"
    );
}

#[test]
fn the_built_in_implementation_passes_every_vector() {
    let loaded = vectors::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")).unwrap();
    assert!(loaded.len() > 80, "{}", loaded.len());
    for v in &loaded {
        assert_eq!(vectors::check_builtin(v), Ok(()), "{}", v.spec.id);
    }
}

#[test]
fn every_requirement_has_an_accepted_and_a_rejected_vector() {
    let all = vectors::all();
    let mut accepted = BTreeSet::new();
    let mut rejected = BTreeSet::new();
    for v in &all {
        let rejects = match (&v.spec.frames, &v.spec.stream) {
            (Some(FrameVerdict::Reject { .. }), _) => true,
            (_, Some(violations)) => !violations.is_empty(),
            _ => false,
        };
        if rejects { &mut rejected } else { &mut accepted }.insert(v.spec.requirement.clone());
        assert!(!v.spec.sentence.is_empty(), "{} has no requirement sentence", v.spec.id);
    }
    for r in raftwire_conformance::requirements::all() {
        assert!(accepted.contains(&r.id), "no accepted vector for {}", r.id);
        assert!(rejected.contains(&r.id), "no rejected vector for {}", r.id);
    }
}
