//! FRAME-1 .. FRAME-10: one accepted and one rejected case per requirement, with the exact code
//! and byte offset a receiver must report.

mod common;

use bytes::Bytes;
use common::*;
use raftwire_codec::craft::RawFrame;
use raftwire_codec::*;

fn timeout_now() -> Vec<u8> {
    encoded(Message::TimeoutNow(TimeoutNowRequest {
        term: 5,
        leader_id: id("n1"),
    }))
}

#[test]
fn frame_1_marker_accepted_and_every_wrong_byte_rejected_at_its_offset() {
    accept(&timeout_now());
    for i in 0..4 {
        let mut b = timeout_now();
        b[i] ^= 0x20;
        let e = assert_rejected(&b, ErrorCode::BadMarker, "FRAME-1", i as u64);
        assert_eq!(e.found, b[i] as u64);
    }
}

#[test]
fn frame_1_marker_is_not_a_hashicorp_stream_start() {
    // rpc types 0-4, msgpack strings (responses) and maps: none may start the marker.
    let first = MARKER[0];
    assert!(first > 4);
    assert!(!(0xA0..=0xBF).contains(&first) && !(0xD9..=0xDB).contains(&first));
    assert!(!(0x80..=0x8F).contains(&first) && first != 0xDE && first != 0xDF);
    // A hashicorp response ("\xA0" + map) is rejected on its first byte.
    assert_rejected(&[0xA0, 0x85, 0xA4, b'A'], ErrorCode::BadMarker, "FRAME-1", 0);
}

/// FRAME-2 and VER-1: only version 1 is spoken; the version byte is judged on arrival.
#[test]
fn frame_2_ver_1_version_1_accepted_other_versions_rejected() {
    accept(&timeout_now());
    let mut f = RawFrame::parse(&timeout_now()).unwrap().reseal();
    f.version = 2;
    assert_rejected(&f.bytes(), ErrorCode::UnsupportedVersion, "FRAME-2", 4);
    // Judged as soon as the version byte arrives, before the rest of the header.
    let e = decode_prefix(&Bytes::from(f.bytes()[..5].to_vec()), 0, &Limits::default()).unwrap_err();
    assert_eq!(e.code, ErrorCode::UnsupportedVersion);
}

#[test]
fn frame_3_header_crc_checked_before_any_other_header_field() {
    accept(&timeout_now());
    let mut b = timeout_now();
    b[17] ^= 0x01; // corrupt the length: caught by the header CRC, not by waiting for a payload
    let e = assert_rejected(&b, ErrorCode::HeaderCrcMismatch, "FRAME-3", 20);
    assert_ne!(
        e.found,
        match e.expected {
            Expected::Exactly(v) => v,
            _ => unreachable!(),
        }
    );
    // Only the header has arrived: the corruption is reported, no payload is awaited.
    let head = Bytes::from(b[..HEADER_LEN].to_vec());
    assert_eq!(
        decode_prefix(&head, 0, &Limits::default()).unwrap_err().code,
        ErrorCode::HeaderCrcMismatch
    );
}

#[test]
fn frame_4_every_defined_type_accepted_undefined_types_rejected() {
    for m in every_message() {
        accept(&encoded(m));
    }
    // The defined types, read from SPEC.md §4's table rather than from the code under test.
    let spec = include_str!("../../conformance/SPEC.md");
    let table = spec
        .split("## 4. Message types")
        .nth(1)
        .and_then(|s| s.split("## 5.").next())
        .unwrap();
    let defined: Vec<u8> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `0x"))
        .filter_map(|l| u8::from_str_radix(l.get(..2)?, 16).ok())
        .collect();
    assert_eq!(
        defined,
        [0x01, 0x02, 0x03, 0x04, 0x80, 0x81, 0x82, 0x83, 0x84, 0x11, 0x12, 0x13, 0x91, 0x92, 0x93],
        "SPEC.md's table as read"
    );
    for ty in 0..=255u8 {
        let f = RawFrame::new(ty, vec![]);
        let e = reject(&f.bytes());
        assert_eq!(
            MessageType::from_byte(ty).is_some(),
            defined.contains(&ty),
            "type {ty:#04x}"
        );
        if !defined.contains(&ty) {
            assert_eq!(
                (e.code, e.offset, e.requirement()),
                (ErrorCode::UnknownType, 5, "FRAME-4")
            );
            assert_eq!(e.found, ty as u64);
        } else {
            assert_ne!(e.code, ErrorCode::UnknownType);
        }
    }
}

#[test]
fn frame_5_reserved_flags_rejected() {
    accept(&timeout_now());
    for bit in 0..16 {
        let mut f = RawFrame::parse(&timeout_now()).unwrap().reseal();
        f.flags = 1 << bit;
        assert_rejected(&f.bytes(), ErrorCode::ReservedFlags, "FRAME-5", 6);
    }
}

#[test]
fn frame_6_request_id_zero_rejected_any_other_accepted() {
    for rid in [1u64, 2, u64::MAX] {
        let mut f = RawFrame::parse(&timeout_now()).unwrap().reseal();
        f.request_id = rid;
        assert_eq!(accept(&f.bytes()).request_id, rid);
    }
    let mut f = RawFrame::parse(&timeout_now()).unwrap().reseal();
    f.request_id = 0;
    assert_rejected(&f.bytes(), ErrorCode::ZeroRequestId, "FRAME-6", 8);
    let e = Frame::new(
        0,
        Message::TimeoutNowResponse(TimeoutNowResponse { term: 1, success: true }),
    )
    .to_bytes();
    assert_eq!(e.unwrap_err().code(), Some(ErrorCode::ZeroRequestId));
}

#[test]
fn frame_7_length_limit_checked_from_the_header_alone() {
    let b = timeout_now();
    let payload_len = (b.len() - HEADER_LEN - TRAILER_LEN) as u32;
    let at_limit = Limits::with_max_payload_len(payload_len);
    assert_eq!(
        decode_with(&Bytes::from(b.clone()), &at_limit).unwrap(),
        decode(&Bytes::from(b.clone())).unwrap(),
        "a payload exactly at the limit is accepted, and decoded as without one"
    );
    let below = Limits::with_max_payload_len(payload_len - 1);
    let e = decode_with(&Bytes::from(b.clone()), &below).unwrap_err();
    assert_eq!(
        (e.code, e.offset, e.requirement()),
        (ErrorCode::LengthOverLimit, 16, "FRAME-7")
    );
    // A header announcing 4 GiB is rejected with the header alone: nothing is awaited or allocated.
    let mut huge = RawFrame::new(MessageType::AppendEntries as u8, vec![]);
    huge.payload_len = Some(u32::MAX);
    let head = Bytes::from(huge.bytes()[..HEADER_LEN].to_vec());
    let e = decode_prefix(&head, 0, &Limits::default()).unwrap_err();
    assert_eq!(
        (e.code, e.found, e.expected),
        (
            ErrorCode::LengthOverLimit,
            u32::MAX as u64,
            Expected::AtMost(DEFAULT_MAX_PAYLOAD_LEN as u64)
        )
    );
}

#[test]
fn frame_7_encoder_refuses_payload_over_limit_and_leaves_nothing_behind() {
    let f = Frame::new(
        1,
        Message::TimeoutNow(TimeoutNowRequest {
            term: 5,
            leader_id: id("n1"),
        }),
    );
    let mut dst = bytes::BytesMut::from(&b"prefix"[..]);
    let e = encode_with(&f, &mut dst, &Limits::with_max_payload_len(3)).unwrap_err();
    assert!(matches!(e, EncodeError::PayloadTooLarge { len: 11, max: 3 }), "{e}");
    assert_eq!(&dst[..], b"prefix");
}

#[test]
fn frame_8_payload_crc_mismatch_reported_at_the_crc() {
    let good = timeout_now();
    accept(&good);
    let mut b = good.clone();
    b[HEADER_LEN + 3] ^= 0x80;
    assert_rejected(
        &b,
        ErrorCode::PayloadCrcMismatch,
        "FRAME-8",
        (good.len() - TRAILER_LEN) as u64,
    );
    let mut b = good.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    assert_rejected(
        &b,
        ErrorCode::PayloadCrcMismatch,
        "FRAME-8",
        (good.len() - TRAILER_LEN) as u64,
    );
}

#[test]
fn frame_9_trailing_bytes_in_payload_or_after_the_frame_rejected() {
    let good = timeout_now();
    let mut f = RawFrame::parse(&good).unwrap().reseal();
    f.payload.push(0);
    let body_len = good.len() - HEADER_LEN - TRAILER_LEN;
    assert_rejected(
        &f.bytes(),
        ErrorCode::TrailingBytes,
        "FRAME-9",
        (HEADER_LEN + body_len) as u64,
    );
    let mut two = good.clone();
    two.push(0xC1);
    assert_rejected(&two, ErrorCode::TrailingBytes, "FRAME-9", good.len() as u64);
}

#[test]
fn frame_10_truncation_at_every_byte_is_incomplete_not_an_error() {
    for m in every_message() {
        let b = encoded(m);
        for cut in 0..b.len() {
            let prefix = Bytes::from(b[..cut].to_vec());
            match decode_prefix(&prefix, 0, &Limits::default()) {
                Ok(Progress::NeedMore { needed }) => assert!(needed >= 1 && cut + needed <= b.len()),
                other => panic!("cut at {cut}: {other:?}"),
            }
            // Handed over as a whole buffer, the same prefix is a truncated frame (FRAME-10).
            if cut > 0 {
                assert_rejected(&b[..cut], ErrorCode::TruncatedFrame, "FRAME-10", 0);
            }
        }
    }
}

#[test]
fn frame_10_stream_ending_inside_a_frame_is_reported_at_its_start() {
    let one = timeout_now();
    let mut stream = one.clone();
    stream.extend_from_slice(&one[..10]);
    let mut d = StreamDecoder::default();
    let mut n = 0;
    d.feed(&stream, |_| n += 1).unwrap();
    assert_eq!(n, 1);
    let e = d.finish().unwrap_err();
    assert_eq!(
        (e.code, e.offset, e.requirement()),
        (ErrorCode::TruncatedFrame, one.len() as u64, "FRAME-10")
    );
    let e = decode_all(&Bytes::from(stream), &Limits::default()).unwrap_err();
    assert_eq!((e.code, e.offset), (ErrorCode::TruncatedFrame, one.len() as u64));
}

#[test]
fn errors_display_code_requirement_offset_and_advice() {
    let mut b = timeout_now();
    b[HEADER_LEN] ^= 1;
    let text = reject(&b).to_string();
    assert!(
        text.contains("payload_crc_mismatch") && text.contains("FRAME-8"),
        "{text}"
    );
    assert!(text.starts_with(&format!("byte {}", b.len() - 4)), "{text}");
    assert!(text.contains("corrupted"), "{text}");
    for code in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_name(code.as_str()), Some(*code));
    }
}

/// ENC-1: the encoding is canonical, down to SPEC.md's worked example.
#[test]
fn enc_1_spec_appendix_a_example_is_byte_exact() {
    let frame = Frame::new(
        7,
        Message::TimeoutNow(TimeoutNowRequest {
            term: 5,
            leader_id: id("n1"),
        }),
    );
    let expected: Vec<u8> = "c1524657 01 04 0000 0000000000000007 0000000b c1d72c6f 0000000000000005 026e31 f57dd3a3"
        .split_whitespace()
        .flat_map(|h| {
            (0..h.len())
                .step_by(2)
                .map(move |i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        })
        .collect();
    assert_eq!(frame.to_bytes().unwrap().to_vec(), expected);
    assert_eq!(accept(&expected), frame);
}

/// RECV-2: a frame is delivered whole or not at all.
#[test]
fn recv_2_no_partial_acceptance_of_a_frame_with_a_bad_later_entry() {
    // Entries 1 and 2 are fine; entry 3's index breaks AE-2. Nothing of the frame is delivered.
    let mut b = encoded(Message::AppendEntries(append_entries()));
    b[HEADER_LEN + 88..HEADER_LEN + 96].copy_from_slice(&99u64.to_be_bytes());
    raftwire_codec::craft::reseal_in_place(&mut b);
    let mut d = StreamDecoder::default();
    let mut delivered = Vec::new();
    let e = d.feed(&b, |f| delivered.push(f)).unwrap_err();
    assert_eq!(e.code, ErrorCode::EntryIndexGap);
    assert!(delivered.is_empty());
}
