//! Every named case produces the verdict it declares, and together they cover every error code
//! and every frame-level requirement.

use std::collections::BTreeSet;

use bytes::Bytes;
use raftwire_codec::{decode_all, decode_ref_at, ErrorCode, Limits, Progress};
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
        assert_eq!(viewed(&case.bytes), case.verdict, "{} (borrowed view)", case.name);
    }
}

/// The verdict of walking `bytes` with the borrowed view decoder, frame by frame.
fn viewed(bytes: &[u8]) -> Verdict {
    let (mut at, mut frames) = (0, 0);
    while at < bytes.len() {
        match decode_ref_at(bytes, at, &Limits::default()) {
            Ok(Progress::Frame { len, .. }) => {
                at += len;
                frames += 1;
            }
            Ok(Progress::NeedMore { .. }) => {
                return Verdict::Reject {
                    code: ErrorCode::TruncatedFrame,
                    offset: at as u64,
                }
            }
            Err(e) => {
                return Verdict::Reject {
                    code: e.code,
                    offset: e.offset,
                }
            }
        }
    }
    Verdict::Accept { frames }
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
