//! The borrowed frame view (`decode_ref`, `FrameRef`) as a transport uses it: decode in the read
//! buffer, read every field, keep a frame only when it must outlive the buffer. Its verdicts are
//! pinned to the owned decoder's here for every message type; `common::accept`/`reject` repeat the
//! comparison for every case of the body and frame rule tests, and the `decode_frame` fuzz
//! property for arbitrary bytes.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use raftwire_codec::*;

#[test]
fn every_message_type_viewed_equals_its_owned_decoding() {
    for message in every_message() {
        let input = Bytes::from(encoded(message.clone()));
        let view = decode_ref(&input).unwrap();
        assert_eq!(view.request_id, 1);
        assert_eq!(view.message_type(), message.message_type());
        assert_eq!(view.message.term(), message.term());
        assert_eq!(view.to_frame(&input), Frame::new(1, message.clone()));
        assert_eq!(view.message.to_owned_in(&input), message);
    }
}

#[test]
fn append_entries_fields_and_entries_are_read_from_the_frame() {
    let sent = append_entries();
    let input = Bytes::from(encoded(Message::AppendEntries(sent.clone())));
    let MessageRef::AppendEntries(ae) = decode_ref(&input).unwrap().message else {
        panic!("not an AppendEntries")
    };
    assert_eq!(
        (
            ae.term,
            ae.prev_log_index,
            ae.prev_log_term,
            ae.leader_commit,
            ae.leader_id
        ),
        (5, 10, 4, 9, &b"n1"[..])
    );
    assert!(!ae.is_heartbeat());
    assert_eq!(ae.entries.len(), 3);
    assert_eq!(ae.entries, sent.entries);
    let read: Vec<(u64, u64, EntryKind, Vec<u8>)> = ae
        .entries
        .iter()
        .map(|e| (e.index, e.term, e.kind, e.data.to_vec()))
        .collect();
    let expected: Vec<(u64, u64, EntryKind, Vec<u8>)> = sent
        .entries
        .iter()
        .map(|e| (e.index, e.term, e.kind, e.data.to_vec()))
        .collect();
    assert_eq!(read, expected);
    // Entry data is a slice of the input itself, not a copy.
    let range = input.as_ptr_range();
    for e in ae.entries {
        assert!(range.contains(&e.data.as_ptr()) || e.data.is_empty());
    }
    // An entry kept from a view owns a copy of its data (the view holds no buffer to share).
    let kept = ae.entries.iter().next().unwrap().to_entry();
    assert_eq!(kept, sent.entries.first().unwrap().to_entry());
    assert!(!range.contains(&kept.data.as_ptr()));
}

#[test]
fn a_configuration_entry_is_read_as_its_configuration() {
    let input = Bytes::from(encoded(Message::AppendEntries(append_entries())));
    let MessageRef::AppendEntries(ae) = decode_ref(&input).unwrap().message else {
        panic!("not an AppendEntries")
    };
    let kinds: Vec<(EntryKind, bool)> = ae
        .entries
        .iter()
        .map(|e| (e.kind, e.configuration().is_some()))
        .collect();
    assert_eq!(
        kinds,
        [
            (EntryKind::Command, false),
            (EntryKind::Noop, false),
            (EntryKind::Configuration, true)
        ]
    );
    let carried = ae.entries.iter().last().and_then(|e| e.configuration()).unwrap();
    assert_eq!(carried.to_owned_in(&input), configuration());
    assert_eq!(
        carried.servers().map(|s| s.id).collect::<Vec<_>>(),
        [&b"n1"[..], &b"n2"[..]]
    );
    // Only a hand-built entry can carry data that is no configuration: read as none.
    let built = Entry {
        index: 1,
        term: 1,
        kind: EntryKind::Configuration,
        data: Bytes::from_static(b"\x00\x01"),
    };
    assert_eq!(EntryRef::from(&built).configuration(), None);
}

#[test]
fn snapshot_chunks_expose_their_configuration_server_by_server() {
    let sent = install_snapshot(0, b"first", 12);
    let input = Bytes::from(encoded(Message::InstallSnapshot(Box::new(sent.clone()))));
    let MessageRef::InstallSnapshot(chunk) = decode_ref(&input).unwrap().message else {
        panic!("not an InstallSnapshot")
    };
    assert_eq!((chunk.offset, chunk.done, chunk.data), (0, false, &b"first"[..]));
    assert_eq!((chunk.leader_id, chunk.snapshot_id), (&b"n1"[..], &b"snap-100"[..]));
    let servers: Vec<ServerRef> = chunk.configuration.servers().collect();
    assert_eq!(servers.len(), chunk.configuration.len());
    let expected: Vec<ServerRef> = sent
        .configuration
        .servers
        .iter()
        .map(|s| ServerRef {
            suffrage: s.suffrage,
            id: s.id.as_bytes(),
            address: s.address.as_bytes(),
        })
        .collect();
    assert_eq!(servers, expected);
    assert_eq!(chunk.configuration.to_owned_in(&input), sent.configuration);
    // A later chunk carries no configuration.
    let later = Bytes::from(encoded(Message::InstallSnapshot(Box::new(install_snapshot(
        5, b"mid", 12,
    )))));
    let MessageRef::InstallSnapshot(chunk) = decode_ref(&later).unwrap().message else {
        panic!("not an InstallSnapshot")
    };
    assert!(chunk.configuration.is_empty());
    assert_eq!(chunk.configuration.servers().count(), 0);
}

#[test]
fn to_frame_shares_the_buffer_it_is_given_and_copies_otherwise() {
    let long = "a-server-id-longer-than-twenty-three-bytes";
    let message = Message::TimeoutNow(TimeoutNowRequest {
        term: 2,
        leader_id: id(long),
    });
    let input = Bytes::from(encoded(message.clone()));
    let view = decode_ref(&input).unwrap();
    let Message::TimeoutNow(shared) = view.to_frame(&input).message else {
        panic!()
    };
    assert!(input.as_ptr_range().contains(&shared.leader_id.as_bytes().as_ptr()));
    // Given some other buffer, the field is copied: never misread, never a panic.
    let elsewhere = Bytes::from_static(b"unrelated");
    let Message::TimeoutNow(copied) = view.to_frame(&elsewhere).message else {
        panic!()
    };
    assert_eq!(copied.leader_id.as_bytes(), long.as_bytes());
    assert!(!input.as_ptr_range().contains(&copied.leader_id.as_bytes().as_ptr()));
}

#[test]
fn decode_ref_at_walks_a_read_buffer_with_offsets_relative_to_it() {
    let mut buf = BytesMut::new();
    let messages = every_message();
    for (i, m) in messages.iter().enumerate() {
        encode(&Frame::new(i as u64 + 1, m.clone()), &mut buf).unwrap();
    }
    let mut corrupt = buf.to_vec();
    let whole = buf.freeze();
    let limits = Limits::default();
    let (mut at, mut seen) = (0, Vec::new());
    while at < whole.len() {
        match decode_ref_at(&whole, at, &limits).unwrap() {
            Progress::Frame { frame, len } => {
                seen.push(frame.to_frame(&whole));
                at += len;
            }
            Progress::NeedMore { .. } => panic!("a whole buffer needs nothing more"),
        }
    }
    let sent: Vec<Frame> = messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| Frame::new(i as u64 + 1, m))
        .collect();
    assert_eq!(seen, sent);
    // A short buffer needs exactly the missing bytes; a corrupt payload byte in the third frame
    // is reported at that frame's payload CRC, counted from the start of the buffer.
    let last = whole.len() - sent.last().unwrap().to_bytes().unwrap().len();
    assert_eq!(
        decode_ref_at(&whole[..whole.len() - 3], last, &limits),
        Ok(Progress::NeedMore { needed: 3 })
    );
    let third = sent[0].to_bytes().unwrap().len() + sent[1].to_bytes().unwrap().len();
    let third_len = sent[2].to_bytes().unwrap().len();
    corrupt[third + HEADER_LEN] ^= 0x40;
    let e = decode_ref_at(&corrupt, third, &limits).unwrap_err();
    assert_eq!(e.code, ErrorCode::PayloadCrcMismatch);
    assert_eq!(e.offset, (third + third_len - TRAILER_LEN) as u64);
    assert_eq!(Err(e), decode_at(&Bytes::from(corrupt), third, &limits));
}

#[test]
fn a_view_is_exactly_one_frame_or_an_error() {
    let one = encoded(every_message().remove(0));
    let mut two = one.clone();
    two.extend_from_slice(&one);
    let e = decode_ref(&two).unwrap_err();
    assert_eq!((e.code, e.offset), (ErrorCode::TrailingBytes, one.len() as u64));
    let e = decode_ref(&one[..one.len() - 1]).unwrap_err();
    assert_eq!(e.code, ErrorCode::TruncatedFrame);
    assert_eq!(decode_ref(&[]).unwrap_err().code, ErrorCode::TruncatedFrame);
}

/// Frames a stream decoder hands out when fed `stream` in chunks of `size`, kept as owned frames.
fn viewed_in_chunks(stream: &[u8], size: usize) -> (Vec<Frame>, Result<(), DecodeError>, StreamRefDecoder) {
    let mut d = StreamRefDecoder::new(Limits::default());
    let mut frames = Vec::new();
    for chunk in stream.chunks(size) {
        if let Err(e) = d.feed(chunk, |f| frames.push(f.to_frame(&Bytes::copy_from_slice(chunk)))) {
            return (frames, Err(e), d);
        }
    }
    let end = d.finish();
    (frames, end, d)
}

#[test]
fn the_stream_view_decoder_yields_every_frame_whatever_the_chunking() {
    let sent: Vec<Frame> = every_message()
        .into_iter()
        .enumerate()
        .map(|(i, m)| Frame::new(i as u64 + 1, m))
        .collect();
    let mut stream = BytesMut::new();
    for f in &sent {
        encode(f, &mut stream).unwrap();
    }
    for size in (1..=64).chain([100, 1460, stream.len()]) {
        let (frames, end, d) = viewed_in_chunks(&stream, size);
        assert_eq!(frames, sent, "chunks of {size}");
        assert_eq!(end, Ok(()));
        assert_eq!((d.offset(), d.buffered()), (stream.len() as u64, 0));
    }
}

#[test]
fn the_stream_view_decoder_reports_a_bad_byte_as_it_arrives_and_stays_failed() {
    let good = encoded(every_message().remove(0));
    let mut stream = good.clone();
    stream.extend_from_slice(&good);
    // The second frame's marker is broken in its second byte.
    stream[good.len() + 1] ^= 0xff;
    let mut d = StreamRefDecoder::new(Limits::default());
    let mut n = 0;
    let cut = good.len() + 2;
    d.feed(&stream[..good.len() + 1], |_| n += 1).unwrap();
    assert_eq!(n, 1);
    // The bad byte arrives alone: reported now, at its own offset, not when more bytes come.
    let e = d.feed(&stream[good.len() + 1..cut], |_| n += 1).unwrap_err();
    assert_eq!((e.code, e.offset), (ErrorCode::BadMarker, good.len() as u64 + 1));
    assert_eq!(d.feed(&stream[cut..], |_| n += 1), Err(e.clone()));
    assert_eq!(d.finish(), Err(e));
    assert_eq!(n, 1);
}

#[test]
fn the_stream_view_decoder_holds_no_more_than_the_bytes_of_one_frame() {
    // A header announcing the largest payload allowed: nothing is reserved for it up front.
    let limits = Limits::default();
    let big = Frame::new(
        1,
        Message::InstallSnapshot(Box::new(InstallSnapshotRequest {
            data: Bytes::from(vec![3u8; limits.max_payload_len as usize - 200]),
            total_size: limits.max_payload_len as u64,
            ..install_snapshot(0, b"", 1)
        })),
    )
    .to_bytes()
    .unwrap();
    let mut d = StreamRefDecoder::new(limits);
    let mut seen = 0;
    let mut most = 0;
    for chunk in big.chunks(1460) {
        d.feed(chunk, |f| seen += f.to_frame(&Bytes::new()).request_id).unwrap();
        most = most.max(d.buffered());
    }
    assert_eq!(seen, 1);
    assert!(most < big.len(), "held {most} bytes of a {}-byte frame", big.len());
    // Cut short, the stream ends with the frame's truncation at its start.
    let (frames, end, _) = viewed_in_chunks(&big[..big.len() - 1], 1460);
    assert!(frames.is_empty());
    let e = end.unwrap_err();
    assert_eq!((e.code, e.offset), (ErrorCode::TruncatedFrame, 0));
}
