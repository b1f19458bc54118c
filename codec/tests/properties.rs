//! Properties over generated messages and mutated frames: canonical round trips, chunking
//! independence, and that no input makes the decoder panic or accept a non-canonical frame.

mod common;

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use common::*;
use raftwire_codec::*;

/// xorshift64*: deterministic, so a failure reproduces from its iteration number.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn generated_frames(count: usize, seed: u64) -> Vec<Frame> {
    let mut rng = Rng(seed);
    let mut frames = Vec::new();
    while frames.len() < count {
        let n = 64 + rng.below(600);
        let raw = rng.bytes(n);
        if let Ok(f) = Frame::arbitrary(&mut Unstructured::new(&raw)) {
            frames.push(f);
        }
    }
    frames
}

/// ENC-1: decode(encode(m)) == m and encode(decode(b)) == b.
#[test]
fn enc_1_every_generated_message_round_trips_canonically() {
    for (i, frame) in generated_frames(3000, 0x5eed).into_iter().enumerate() {
        let bytes = frame
            .to_bytes()
            .unwrap_or_else(|e| panic!("#{i}: generated frame refused: {e}\n{frame:?}"));
        let back = decode(&bytes).unwrap_or_else(|e| panic!("#{i}: {e}\n{frame:?}"));
        assert_eq!(back, frame, "#{i}");
        assert_eq!(back.to_bytes().unwrap(), bytes, "#{i}: re-encoding differs");
    }
}

#[test]
fn generated_messages_cover_every_type() {
    let mut seen = std::collections::BTreeSet::new();
    for f in generated_frames(500, 7) {
        seen.insert(f.message_type());
    }
    assert_eq!(seen.len(), MessageType::ALL.len(), "{seen:?}");
}

#[test]
fn mutated_frames_never_panic_and_anything_accepted_is_canonical() {
    let mut rng = Rng(0xC0FFEE);
    let seeds: Vec<Vec<u8>> = every_message().into_iter().map(encoded).collect();
    for _ in 0..20_000 {
        let mut b = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(b.len());
            b[at] = rng.next() as u8;
        }
        // Half the time, repair lengths and CRCs so the mutation reaches the body parsers.
        if rng.below(2) == 0 {
            raftwire_codec::craft::reseal_in_place(&mut b);
        }
        let input = Bytes::from(b.clone());
        if let Ok(frame) = decode(&input) {
            assert_eq!(frame.to_bytes().unwrap(), input, "accepted a non-canonical frame");
        }
    }
}

fn stream_of(frames: &[Frame]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for f in frames {
        encode(f, &mut buf).unwrap();
    }
    buf.to_vec()
}

#[test]
fn every_split_point_gives_the_same_frames_as_whole_buffer_decoding() {
    let frames: Vec<Frame> = every_message()
        .into_iter()
        .enumerate()
        .map(|(i, m)| Frame::new(i as u64 + 1, m))
        .collect();
    let stream = stream_of(&frames);
    assert_eq!(
        decode_all(&Bytes::from(stream.clone()), &Limits::default()).unwrap(),
        frames
    );
    for split in 0..=stream.len() {
        let mut d = StreamDecoder::default();
        let mut out = Vec::new();
        d.feed(&stream[..split], |f| out.push(f)).unwrap();
        d.feed(&stream[split..], |f| out.push(f)).unwrap();
        d.finish().unwrap();
        assert_eq!(out, frames, "split at {split}");
        assert_eq!(d.offset(), stream.len() as u64);
    }
}

#[test]
fn random_chunkings_give_the_same_frames() {
    let frames = generated_frames(200, 99);
    let stream = stream_of(&frames);
    let mut rng = Rng(3);
    for _ in 0..50 {
        let mut d = StreamDecoder::default();
        let mut out = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let n = (1 + rng.below(200)).min(rest.len());
            d.feed(&rest[..n], |f| out.push(f)).unwrap();
            rest = &rest[n..];
        }
        d.finish().unwrap();
        assert_eq!(out, frames);
    }
}

/// The tokio codec hands each frame's own buffer to the message's entries or chunk data, or
/// decodes a frame that keeps nothing of it in place (`take_owned`): whatever the chunking,
/// every field must come out as it was sent.
#[test]
fn the_tokio_codec_gives_the_same_frames_at_any_chunking() {
    use tokio_util::codec::Decoder;
    let mut frames = generated_frames(200, 41);
    frames.extend(
        every_message()
            .into_iter()
            .enumerate()
            .map(|(i, m)| Frame::new(i as u64 + 1, m)),
    );
    let stream = stream_of(&frames);
    let mut rng = Rng(5);
    for round in 0..50 {
        let mut codec = RfwCodec::default();
        let mut src = BytesMut::new();
        let mut out = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let n = if round == 0 {
                rest.len()
            } else {
                (1 + rng.below(300)).min(rest.len())
            };
            src.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(frame) = codec.decode(&mut src).unwrap() {
                out.push(frame);
            }
        }
        assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
        assert_eq!(out, frames, "round {round}");
        assert_eq!(codec.offset(), stream.len() as u64);
    }
}

#[test]
fn owned_chunks_give_the_same_frames_at_every_split_point() {
    let frames: Vec<Frame> = every_message()
        .into_iter()
        .enumerate()
        .map(|(i, m)| Frame::new(i as u64 + 1, m))
        .collect();
    let stream = Bytes::from(stream_of(&frames));
    for split in 0..=stream.len() {
        let mut d = StreamDecoder::default();
        let mut out = Vec::new();
        d.feed_bytes(stream.slice(..split), |f| out.push(f)).unwrap();
        d.feed_bytes(stream.slice(split..), |f| out.push(f)).unwrap();
        d.finish().unwrap();
        assert_eq!(out, frames, "split at {split}");
        assert_eq!((d.offset(), d.buffered()), (stream.len() as u64, 0));
    }
}

#[test]
fn owned_and_borrowed_chunks_mixed_give_the_same_frames() {
    let frames = generated_frames(200, 7);
    let stream = Bytes::from(stream_of(&frames));
    let mut rng = Rng(11);
    for _ in 0..50 {
        let mut d = StreamDecoder::default();
        let mut out = Vec::new();
        let mut at = 0;
        while at < stream.len() {
            let n = (1 + rng.below(3000)).min(stream.len() - at);
            if rng.below(2) == 0 {
                d.feed_bytes(stream.slice(at..at + n), |f| out.push(f)).unwrap();
            } else {
                d.feed(&stream[at..at + n], |f| out.push(f)).unwrap();
            }
            at += n;
        }
        d.finish().unwrap();
        assert_eq!(out, frames);
    }
}

#[test]
fn frames_inside_an_owned_chunk_are_decoded_in_place() {
    let frames = vec![
        Frame::new(1, Message::AppendEntries(append_entries())),
        Frame::new(2, Message::AppendEntries(append_entries())),
    ];
    let stream = Bytes::from(stream_of(&frames));
    let first_len = encoded(Message::AppendEntries(append_entries())).len();
    // The first frame lies inside the first chunk; the second straddles both.
    let cut = first_len + 10;
    let mut d = StreamDecoder::default();
    d.push_bytes(stream.slice(..cut)).unwrap();
    let Ok(Progress::Frame { frame, .. }) = d.next_frame() else {
        panic!("first frame")
    };
    let Message::AppendEntries(ae) = frame.message else {
        panic!()
    };
    let data = e_data_owner(&ae);
    let range = stream.as_ptr() as usize..stream.as_ptr() as usize + cut;
    assert!(range.contains(&(data.as_ptr() as usize)), "a whole frame was copied");
    assert_eq!(d.next_frame().unwrap(), Progress::NeedMore { needed: 14 });
    assert_eq!(d.buffered(), 10, "only the straddling frame's first bytes are kept");
    // A second chunk is refused while the first is unread; accepted once it is.
    d.push_bytes(stream.slice(cut..)).unwrap();
    assert!(d.push_bytes(Bytes::from_static(b"more")).is_err());
    assert!(matches!(d.next_frame(), Ok(Progress::Frame { len, .. }) if len == stream.len() - first_len));
    d.finish().unwrap();
}

#[test]
fn an_owned_chunk_of_garbage_is_judged_without_being_copied() {
    let limits = Limits::with_max_payload_len(64);
    let mut d = StreamDecoder::new(limits);
    // A header announcing a 64-byte payload, then far more than one frame of garbage.
    let mut f = raftwire_codec::craft::RawFrame::new(MessageType::AppendEntries as u8, vec![0u8; 64]);
    f.payload_crc = Some(0);
    let mut offered = f.bytes();
    offered.extend_from_slice(&[0u8; 100_000]);
    d.push_bytes(Bytes::from(offered)).unwrap();
    assert_eq!(d.next_frame().unwrap_err().code, ErrorCode::PayloadCrcMismatch);
    // Over the limit: rejected from the header alone.
    let mut d = StreamDecoder::new(limits);
    let mut f = raftwire_codec::craft::RawFrame::new(MessageType::AppendEntries as u8, vec![0u8; 65]);
    f.payload_crc = Some(0);
    d.push_bytes(Bytes::from(f.bytes())).unwrap();
    assert_eq!(d.next_frame().unwrap_err().code, ErrorCode::LengthOverLimit);
}

#[test]
fn stream_decoder_never_buffers_more_than_one_maximal_frame() {
    let limits = Limits::with_max_payload_len(64);
    let mut d = StreamDecoder::new(limits);
    // Garbage that happens to start like a header: a valid prefix of a 64-byte frame, then more.
    let mut f = raftwire_codec::craft::RawFrame::new(MessageType::AppendEntries as u8, vec![0u8; 64]);
    f.payload_crc = Some(0);
    let bytes = f.bytes();
    let mut offered = bytes.clone();
    offered.extend_from_slice(&[0u8; 1000]);
    let took = d.push(&offered);
    assert_eq!(took, limits.max_frame_len());
    assert!(d.buffered() <= limits.max_frame_len());
    assert_eq!(d.next_frame().unwrap_err().code, ErrorCode::PayloadCrcMismatch);
}

/// RECV-1: after an error the decoder stops; it never guesses where the next frame starts.
#[test]
fn recv_1_stream_decoder_reports_absolute_offsets_and_stays_failed() {
    let good = encoded(every_message().remove(0));
    let mut stream = good.clone();
    stream.extend_from_slice(&good);
    stream[good.len() + 2] = b'X';
    let mut d = StreamDecoder::default();
    let mut n = 0;
    let e = d.feed(&stream, |_| n += 1).unwrap_err();
    assert_eq!((n, e.code, e.offset), (1, ErrorCode::BadMarker, good.len() as u64 + 2));
    assert_eq!(
        d.next_frame().unwrap_err(),
        e,
        "a failed decoder must not guess a way forward"
    );
}

#[test]
fn entry_data_is_a_zero_copy_slice_of_the_input() {
    let bytes = Bytes::from(encoded(Message::AppendEntries(append_entries())));
    let frame = decode(&bytes).unwrap();
    let Message::AppendEntries(ae) = frame.message else {
        panic!()
    };
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    for e in ae.entries.iter().filter(|e| !e.data.is_empty()) {
        assert!(range.contains(&(e.data.as_ptr() as usize)), "entry data was copied");
    }
    assert!(
        range.contains(&(e_data_owner(&ae).as_ptr() as usize)),
        "to_entry copied"
    );
    // Short ids are held inline (copying up to 23 bytes is cheaper than a shared handle);
    // longer ones are slices of the input.
    assert!(!range.contains(&(ae.leader_id.as_bytes().as_ptr() as usize)));
    let mut long = append_entries();
    long.leader_id = Id::try_from("a-server-id-longer-than-twenty-three-bytes").unwrap();
    let bytes = Bytes::from(encoded(Message::AppendEntries(long)));
    let Message::AppendEntries(ae) = decode(&bytes).unwrap().message else {
        panic!()
    };
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    assert!(
        range.contains(&(ae.leader_id.as_bytes().as_ptr() as usize)),
        "long id was copied"
    );
}

/// The data of the first non-empty entry, taken as an owned `Entry`.
fn e_data_owner(ae: &AppendEntriesRequest) -> Bytes {
    ae.entries
        .iter()
        .find(|e| !e.data.is_empty())
        .map(|e| e.to_entry().data)
        .unwrap_or_default()
}

/// `first` and `last` of decoded entries, whichever way they are held (none, one small entry held
/// inline, several sharing the frame), are the entries that were sent.
#[test]
fn first_and_last_of_decoded_entries_are_the_ones_sent() {
    for n in [0usize, 1, 3] {
        let mut m = append_entries();
        let sent: Vec<Entry> = m.entries.iter().take(n).map(|e| e.to_entry()).collect();
        m.entries = sent.clone().into();
        let bytes = Bytes::from(encoded(Message::AppendEntries(m)));
        let Message::AppendEntries(ae) = decode(&bytes).unwrap().message else {
            panic!()
        };
        assert_eq!(ae.entries.len(), n);
        assert_eq!(
            ae.entries.first().map(|e| e.to_entry()),
            sent.first().cloned(),
            "{n} entries"
        );
        assert_eq!(
            ae.entries.last().map(|e| e.to_entry()),
            sent.last().cloned(),
            "{n} entries"
        );
    }
}
