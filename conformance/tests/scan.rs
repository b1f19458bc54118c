//! The resynchronising scanner: every frame after an error is still found and checked, and every
//! skipped byte is counted.

use bytes::BytesMut;
use raftwire_codec::*;
use raftwire_conformance::*;

fn frame(rid: u64) -> Vec<u8> {
    let f = Frame::new(
        rid,
        Message::TimeoutNow(TimeoutNowRequest {
            term: 1,
            leader_id: Id::try_from("n1").unwrap(),
        }),
    );
    f.to_bytes().unwrap().to_vec()
}

fn summary(events: &[Event]) -> (Vec<u64>, Vec<(ErrorCode, u64)>, u64) {
    let mut ids = vec![];
    let mut errors = vec![];
    let mut skipped = 0;
    for e in events {
        match e {
            Event::Frame { frame, .. } => ids.push(frame.request_id),
            Event::Error { error: e, .. } => errors.push((e.code, e.offset)),
            Event::Skipped { len, .. } => skipped += len,
            Event::Interleaved { .. } => {}
        }
    }
    (ids, errors, skipped)
}

#[test]
fn clean_stream_every_chunking() {
    let stream: Vec<u8> = (1..=5).flat_map(frame).collect();
    for chunk in [1, 2, 3, 7, 40, 1000] {
        let mut s = Scanner::new(Limits::default());
        let mut events = vec![];
        for c in stream.chunks(chunk) {
            s.feed(c, &mut |e| events.push(e));
        }
        s.finish(&mut |e| events.push(e));
        assert_eq!(summary(&events), (vec![1, 2, 3, 4, 5], vec![], 0), "chunk {chunk}");
    }
}

#[test]
fn garbage_between_frames_is_skipped_counted_and_scanning_resumes() {
    let f = frame(1);
    let mut stream = f.clone();
    stream.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    stream.extend_from_slice(&frame(2));
    let events = scan_all(&stream, Limits::default());
    assert_eq!(
        summary(&events),
        (vec![1, 2], vec![(ErrorCode::BadMarker, f.len() as u64)], 18)
    );
    assert!(events.contains(&Event::Skipped {
        offset: f.len() as u64,
        len: 18
    }));
}

#[test]
fn interleaved_writers_are_detected_and_both_frames_around_them_recovered() {
    // Writer A's frame is cut by writer B's whole frame: A | B | rest of A | C.
    let a = frame(1);
    let b = frame(2);
    let c = frame(3);
    let cut = 30;
    let mut stream = a[..cut].to_vec();
    stream.extend_from_slice(&b);
    stream.extend_from_slice(&a[cut..]);
    stream.extend_from_slice(&c);
    let events = scan_all(&stream, Limits::default());
    let (ids, errors, skipped) = summary(&events);
    assert_eq!(ids, vec![2, 3], "B and C recovered; A's bytes never accepted");
    assert_eq!(errors[0], (ErrorCode::PayloadCrcMismatch, (a.len() - 4) as u64));
    assert_eq!(skipped, a.len() as u64, "exactly A's bytes were skipped");
    assert!(
        events.contains(&Event::Interleaved {
            frame: 0,
            at: cut as u64
        }),
        "diagnosis names the cut: {events:?}"
    );
}

#[test]
fn truncated_last_frame_is_reported_at_its_start() {
    let f = frame(1);
    let mut stream = f.clone();
    stream.extend_from_slice(&f[..10]);
    let events = scan_all(&stream, Limits::default());
    assert_eq!(
        summary(&events),
        (vec![1], vec![(ErrorCode::TruncatedFrame, f.len() as u64)], 10)
    );
}

#[test]
fn a_marker_with_a_bad_header_crc_is_not_a_resync_point() {
    let mut stream = b"xx".to_vec();
    stream.extend_from_slice(&MARKER);
    stream.extend_from_slice(&[0u8; 30]);
    stream.extend_from_slice(&frame(4));
    let (ids, errors, skipped) = summary(&scan_all(&stream, Limits::default()));
    assert_eq!((ids, errors.len(), skipped), (vec![4], 1, 36));
}

#[test]
fn buffering_stays_within_one_maximal_frame() {
    let limits = Limits::with_max_payload_len(100);
    let mut s = Scanner::new(limits);
    let mut n = 0;
    let mut junk = BytesMut::new();
    junk.extend_from_slice(&vec![0xAB; 10_000]);
    s.feed(&junk, &mut |_| n += 1);
    // The junk is one error plus (at the end) one skipped run, however it was chunked.
    s.finish(&mut |_| n += 1);
    assert_eq!(n, 2);
    assert_eq!(s.offset(), 10_000);
}

/// The scanner holds the frame still arriving, and nothing once it is whole.
#[test]
fn the_scanner_holds_only_the_frame_still_arriving() {
    let f = frame(1);
    let mut s = Scanner::new(Limits::default());
    let mut found = 0;
    s.feed(&f[..10], &mut |_| found += 1);
    assert_eq!((s.buffered(), found), (10, 0));
    s.feed(&f[10..], &mut |_| found += 1);
    assert_eq!((s.buffered(), found), (0, 1));
    assert_eq!(s.offset(), f.len() as u64);
}

/// While hunting for the next frame, a marker split across two chunks is still found.
#[test]
fn a_marker_split_across_chunks_is_found_while_resynchronising() {
    let f = frame(7);
    let garbage = [0x55u8; 40];
    let stream = [&garbage[..], &f[..]].concat();
    for cut in 40..44 {
        let mut s = Scanner::new(Limits::default());
        let mut events = Vec::new();
        s.feed(&stream[..cut], &mut |e| events.push(e));
        s.feed(&stream[cut..], &mut |e| events.push(e));
        s.finish(&mut |e| events.push(e));
        let (ids, _, skipped) = summary(&events);
        assert_eq!((ids, skipped), (vec![7], 40), "cut at {cut}");
    }
}

/// An error carries the bytes around it: up to 16 before and 16 after the offending byte.
#[test]
fn an_error_shows_sixteen_bytes_either_side() {
    let mut bad = [frame(1), frame(2), frame(3)].concat();
    let at = frame(1).len() + 30;
    bad[at] ^= 0xff;
    let mut errors = Vec::new();
    let mut s = Scanner::new(Limits::default());
    s.feed(&bad, &mut |e| {
        if let Event::Error { error, context, .. } = e {
            errors.push((error.offset, context.offset, context.bytes.len()));
        }
    });
    s.finish(&mut |_| {});
    let (offset, start, len) = errors[0];
    assert_eq!(start, offset - 16, "{errors:?}");
    assert_eq!(len, 32, "{errors:?}");
}
