//! Fuzz target bodies for the scanner and the stream checker (see `raftwire_codec::fuzzing`).

use raftwire_codec::fuzzing::LIMITS;
use raftwire_codec::{encode_with, Frame};

use crate::checker::{ConnectionChecker, FrameInfo};
use crate::rules::StreamCode;
use crate::scan::{Event, Scanner};

/// `scan_stream`: the resynchronising scanner over arbitrary bytes in arbitrary chunks. Never
/// panics, never buffers more than one maximal frame, and accounts for every byte: each one is in
/// exactly one accepted frame or one skipped run, in order, and each accepted frame is the exact
/// bytes at its offset.
pub fn scan_stream(data: &[u8]) {
    let (seed, stream) = match data {
        [a, rest @ ..] => (*a as usize, rest),
        _ => return,
    };
    let mut events = Vec::new();
    let mut s = Scanner::new(LIMITS);
    let mut step = seed;
    let mut rest = stream;
    while !rest.is_empty() {
        step = step.wrapping_mul(29).wrapping_add(11);
        let n = (1 + step % 211).min(rest.len());
        s.feed(&rest[..n], &mut |e| events.push(e));
        assert!(
            s.buffered() <= LIMITS.max_frame_len(),
            "scanner buffered {} bytes",
            s.buffered()
        );
        rest = &rest[n..];
    }
    s.finish(&mut |e| events.push(e));
    let mut covered = 0u64;
    for e in &events {
        match e {
            Event::Frame { offset, len, frame } => {
                assert_eq!(*offset, covered, "gap or overlap before the frame at {offset}");
                let mut again = bytes::BytesMut::new();
                assert!(encode_with(frame, &mut again, &LIMITS).is_ok());
                assert_eq!(&again[..], &stream[*offset as usize..*offset as usize + len]);
                covered += *len as u64;
            }
            Event::Skipped { offset, len } => {
                assert_eq!(*offset, covered, "gap or overlap before the skipped run at {offset}");
                assert!(*len > 0);
                covered += len;
            }
            Event::Interleaved { frame, at } => {
                assert!(*frame == covered && at > frame, "diagnosis {frame}/{at} at {covered}")
            }
            Event::Error { error: e, .. } => assert!(
                e.offset >= covered && e.offset < stream.len() as u64,
                "error at {} ({covered} covered)",
                e.offset
            ),
        }
    }
    assert_eq!(covered, stream.len() as u64, "bytes unaccounted for");
}

/// `check_stream`: the stream checker over an arbitrary sequence of frames in either direction.
/// Never panics, and responses never outnumber requests: every accepted request is answered by
/// exactly one matched response or reported unanswered at close.
pub fn check_stream(events: &[(bool, Frame)]) {
    let mut c = ConnectionChecker::new();
    let (mut co, mut so) = (0u64, 0u64);
    let mut requests = 0usize;
    let mut responses = 0usize;
    for (to_server, f) in events {
        let info = FrameInfo::from(f);
        if *to_server {
            requests += usize::from(!info.message_type.is_response());
            c.client_frame(co, &info);
            co += 1;
        } else {
            responses += usize::from(info.message_type.is_response());
            c.server_frame(so, &info);
            so += 1;
        }
    }
    let v = c.finish(co);
    let count = |code| v.iter().filter(|x| x.code == code).count();
    let accepted_requests = requests - count(StreamCode::DuplicateRequestId);
    let matched = responses - count(StreamCode::UnsolicitedResponse);
    assert_eq!(
        accepted_requests,
        matched + count(StreamCode::UnansweredAtClose),
        "{v:?}"
    );
}
