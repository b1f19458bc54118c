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

/// The built-in check fails a vector whose bytes do not give its expected verdict: a frame vector
/// and a stream vector, each given another vector's bytes.
#[test]
fn the_builtin_check_fails_a_vector_that_does_not_hold() {
    let all = vectors::all();
    let accepted = all
        .iter()
        .find(|v| v.spec.frames.is_some() && vectors::decode_verdict(&v.bytes) == *v.spec.frames.as_ref().unwrap())
        .unwrap();
    let rejected = all
        .iter()
        .find(|v| {
            v.spec.frames.is_some()
                && v.bytes != accepted.bytes
                && vectors::decode_verdict(&v.bytes) != vectors::decode_verdict(&accepted.bytes)
        })
        .unwrap();
    let mut swapped = accepted.clone();
    swapped.bytes = rejected.bytes.clone();
    assert!(
        vectors::check_builtin(&swapped).is_err(),
        "{} with {}'s bytes",
        accepted.spec.id,
        rejected.spec.id
    );
    let stream = all.iter().find(|v| v.spec.stream.is_some()).unwrap();
    let mut broken = stream.clone();
    broken.bytes.truncate(broken.bytes.len() / 2);
    assert!(
        vectors::check_builtin(&broken).is_err(),
        "{} cut in half",
        stream.spec.id
    );
}
