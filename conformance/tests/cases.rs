//! Every named case produces the verdict it declares, and together they cover every error code
//! and every frame-level requirement.

use std::collections::BTreeSet;

use bytes::Bytes;
use raftwire_codec::{decode_all, ErrorCode, Limits};
use raftwire_conformance::cases::{frame_cases, Verdict};

#[test]
fn every_case_gets_its_declared_verdict() {
    for case in frame_cases() {
        let got = match decode_all(&Bytes::from(case.bytes.clone()), &Limits::default()) {
            Ok(frames) => Verdict::Accept { frames: frames.len() },
            Err(e) => Verdict::Reject {
                code: e.code,
                offset: e.offset,
            },
        };
        assert_eq!(got, case.verdict, "{}", case.name);
    }
}

#[test]
fn rejects_cover_every_error_code_and_names_are_unique() {
    let cases = frame_cases();
    let codes: BTreeSet<ErrorCode> = cases
        .iter()
        .filter_map(|c| match c.verdict {
            Verdict::Reject { code, .. } => Some(code),
            _ => None,
        })
        .collect();
    for code in ErrorCode::ALL {
        assert!(codes.contains(code), "no case for {code}");
    }
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len());
}
