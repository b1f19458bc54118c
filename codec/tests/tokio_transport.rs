//! The codec as a transport uses it: `tokio_util::codec::Framed` over a byte pipe.

mod common;

use bytes::BytesMut;
use common::*;
use futures_util::{SinkExt, StreamExt};
use raftwire_codec::*;
use tokio_util::codec::{Decoder, Encoder, Framed};

#[tokio::test]
async fn frames_cross_a_framed_pipe_in_both_directions() {
    let (a, b) = tokio::io::duplex(64);
    let mut client = Framed::new(a, RfwCodec::default());
    let mut server = Framed::new(b, RfwCodec::default());
    let requests: Vec<Frame> = every_message()
        .into_iter()
        .filter(|m| !m.message_type().is_response())
        .enumerate()
        .map(|(i, m)| Frame::new(i as u64 + 1, m))
        .collect();
    let sent = requests.clone();
    let writer = tokio::spawn(async move {
        for f in &sent {
            client.send(f).await.unwrap();
        }
        let reply = client.next().await.unwrap().unwrap();
        (client, reply)
    });
    for want in &requests {
        assert_eq!(&server.next().await.unwrap().unwrap(), want);
    }
    let answer = Frame::new(
        3,
        Message::TimeoutNowResponse(TimeoutNowResponse { term: 5, success: true }),
    );
    server.send(&answer).await.unwrap();
    let (_, reply) = writer.await.unwrap();
    assert_eq!(reply, answer);
}

#[tokio::test]
async fn corrupt_bytes_end_the_stream_with_a_typed_error() {
    let (mut a, b) = tokio::io::duplex(1024);
    let mut server = Framed::new(b, RfwCodec::default());
    let mut bytes = encoded(every_message().remove(0));
    bytes[30] ^= 0xFF;
    tokio::io::AsyncWriteExt::write_all(&mut a, &bytes).await.unwrap();
    match server.next().await {
        Some(Err(CodecError::Decode(e))) => assert_eq!(
            (e.code, e.offset),
            (ErrorCode::PayloadCrcMismatch, bytes.len() as u64 - 4)
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn decoder_waits_on_partial_input_and_rejects_eof_inside_a_frame() {
    let bytes = encoded(every_message().remove(2));
    let mut codec = RfwCodec::default();
    let mut buf = BytesMut::from(&bytes[..bytes.len() - 1]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    match codec.decode_eof(&mut buf) {
        Err(CodecError::Decode(e)) => assert_eq!(e.code, ErrorCode::TruncatedFrame),
        other => panic!("{other:?}"),
    }
    buf.extend_from_slice(&bytes[bytes.len() - 1..]);
    let frame = RfwCodec::default().decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        frame,
        decode(&bytes.clone().into()).unwrap(),
        "the whole frame, once its last byte is in"
    );
    assert!(buf.is_empty(), "and nothing left over");
}

#[test]
fn encoder_refuses_oversize_frames_with_a_typed_error_and_writes_nothing() {
    let mut codec = RfwCodec::new(Limits::with_max_payload_len(16));
    let mut dst = BytesMut::new();
    let big = Frame::new(1, Message::AppendEntries(append_entries()));
    match codec.encode(&big, &mut dst) {
        Err(CodecError::Encode(EncodeError::PayloadTooLarge { max: 16, .. })) => {}
        other => panic!("{other:?}"),
    }
    assert!(dst.is_empty());
    // And the decoder with the same limit refuses the same frame, from its header alone.
    let mut buf = BytesMut::from(&encoded(big.message)[..HEADER_LEN]);
    match codec.decode(&mut buf) {
        Err(CodecError::Decode(e)) => assert_eq!(e.code, ErrorCode::LengthOverLimit),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_decoder_tells_the_payload_crc_of_the_frame_it_just_decoded() {
    let mut codec = RfwCodec::default();
    let mut src = BytesMut::new();
    let messages: Vec<Message> = every_message().into_iter().take(3).collect();
    let mut crcs = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let bytes = Frame::new(i as u64 + 1, m.clone()).to_bytes().unwrap();
        crcs.push(u32::from_be_bytes(bytes[bytes.len() - 4..].try_into().unwrap()));
        src.extend_from_slice(&bytes);
    }
    for crc in crcs {
        codec.decode(&mut src).unwrap().unwrap();
        assert_eq!(codec.last_payload_crc(), crc);
    }
}

#[test]
fn a_partial_frame_leaves_room_for_its_rest_and_for_reading_ahead() {
    // A frame larger than what arrived: the buffer is made to hold the rest of it, and (since it
    // had to grow) 64 KiB more, so the next reads can bring several frames in one allocation.
    static DATA: [u8; 10_000] = [7; 10_000];
    let bytes = Frame::new(
        1,
        Message::InstallSnapshot(Box::new(install_snapshot(0, &DATA, 10_000))),
    )
    .to_bytes()
    .unwrap();
    let mut codec = RfwCodec::default();
    let mut buf = BytesMut::with_capacity(4096);
    buf.extend_from_slice(&bytes[..4096]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() >= bytes.len(), "room for the whole frame");
    assert!(buf.capacity() - buf.len() >= 64 * 1024, "and the read ahead");
    // A buffer that already has room for the rest is left as it is.
    let mut roomy = BytesMut::with_capacity(bytes.len() + 10);
    roomy.extend_from_slice(&bytes[..4096]);
    let before = roomy.capacity();
    assert!(codec.decode(&mut roomy).unwrap().is_none());
    assert_eq!(roomy.capacity(), before, "no growth when the frame already fits");
}

/// A frame whose body breaks a rule is reported at its own offsets and taken from the buffer
/// whole, whether it was decoded in place (a heartbeat) or split off (an append with entries): a
/// caller that goes on decoding finds the next frame, at the offset the codec reports.
#[test]
fn a_frame_with_a_bad_body_is_taken_whole_and_the_next_one_decodes() {
    let heartbeat = Message::AppendEntries(AppendEntriesRequest {
        entries: Entries::default(),
        ..append_entries()
    });
    for bad in [heartbeat, Message::AppendEntries(append_entries())] {
        // The term (the body's first field) made 0: MSG-1.
        let broken = patched(bad, 0, &[0; 8]);
        let good = Frame::new(9, every_message().remove(1));
        let mut buf = BytesMut::from(&broken[..]);
        encode(&good, &mut buf).unwrap();
        let mut codec = RfwCodec::default();
        match codec.decode(&mut buf) {
            Err(CodecError::Decode(e)) => {
                assert_eq!((e.code, e.offset), (ErrorCode::ZeroTerm, HEADER_LEN as u64), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(codec.offset(), broken.len() as u64);
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(good));
        assert!(buf.is_empty());
    }
}
