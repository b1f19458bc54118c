//! Fuzz target bodies as plain functions, shared by the cargo-fuzz targets (`fuzz/`) and by the
//! stable `cargo test` that replays `corpus/`. Each asserts a property, not just "no panic";
//! a violated property panics, which libFuzzer reports as a crash.

use bytes::{Bytes, BytesMut};

use crate::{
    decode_prefix, decode_ref_at, encode_with, EncodeError, ErrorCode, Frame, Limits, Progress, StreamDecoder,
    StreamRefDecoder,
};

/// The limits every target decodes with: small enough that a length driving an allocation before
/// its bound is checked shows up under `-malloc_limit_mb`.
pub const LIMITS: Limits = Limits {
    max_payload_len: 64 * 1024,
};

/// Decodes `input` frame by frame from a complete buffer: the reference the incremental decoder
/// must agree with. Returns the frames and how decoding stopped.
fn one_shot(input: &Bytes) -> (Vec<(Frame, usize)>, Option<crate::DecodeError>, usize) {
    let mut frames = Vec::new();
    let mut at = 0;
    loop {
        if at == input.len() {
            return (frames, None, at);
        }
        match decode_prefix(&input.slice(at..), at as u64, &LIMITS) {
            Ok(Progress::Frame { frame, len }) => {
                frames.push((frame, len));
                at += len;
            }
            Ok(Progress::NeedMore { .. }) => return (frames, None, at),
            Err(e) => return (frames, Some(e), at),
        }
    }
}

/// `decode_frame`: arbitrary bytes into the one-shot decoder. Never panics; an accepted frame
/// re-encodes to exactly the bytes it was decoded from (ENC-1); an error points inside the input.
/// The borrowed view ([`decode_ref_at`]) reaches exactly the same verdict: the same error, or a
/// view whose owned form is the same frame; and the inlined header check accepts a header
/// exactly when the full judgement does.
pub fn decode_frame(data: &[u8]) {
    let input = Bytes::copy_from_slice(data);
    let owned = decode_prefix(&input, 0, &LIMITS);
    let viewed = decode_ref_at(&input, 0, &LIMITS).map(|p| match p {
        Progress::Frame { frame, len } => Progress::Frame {
            frame: frame.to_frame(&input),
            len,
        },
        Progress::NeedMore { needed } => Progress::NeedMore { needed },
    });
    assert_eq!(viewed, owned, "the borrowed view and the owned decoder disagree");
    if let Some(head) = data.first_chunk::<{ crate::HEADER_LEN }>() {
        let judged = match crate::header::judge_header(head, 0, &LIMITS) {
            Ok(crate::HeaderProgress::Complete(h)) => Some(h),
            _ => None,
        };
        assert_eq!(
            crate::header::valid_header(head, &LIMITS),
            judged,
            "the fast header check and the full judgement disagree"
        );
    }
    match owned {
        Ok(Progress::Frame { frame, len }) => {
            let mut again = BytesMut::new();
            let encoded = encode_with(&frame, &mut again, &LIMITS);
            assert!(encoded.is_ok(), "accepted frame refused by the encoder: {encoded:?}");
            assert_eq!(&again[..], &data[..len], "accepted a non-canonical frame");
        }
        Ok(Progress::NeedMore { needed }) => {
            assert!(
                needed > 0 && data.len() + needed <= LIMITS.max_frame_len(),
                "implausible need: {needed}"
            );
        }
        Err(e) => assert!(
            e.offset < data.len() as u64,
            "error offset {} outside {} input bytes",
            e.offset,
            data.len()
        ),
    }
}

/// `decode_stream`: bytes fed to the incremental decoder in chunk sizes drawn from the first two
/// input bytes, some borrowed (`push`), some owned (`push_bytes`). Never panics; never buffers
/// more than one maximal frame; yields exactly the frames, and the error, of one-shot decoding
/// the same bytes. The borrowed-view decoder ([`StreamRefDecoder`]) fed the same chunk sizes
/// must do the same, and end the stream with the same verdict.
pub fn decode_stream(data: &[u8]) {
    let (seed, stream) = match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => return,
    };
    let input = Bytes::copy_from_slice(stream);
    let (want, want_error, _) = one_shot(&input);

    let mut d = StreamDecoder::new(LIMITS);
    let mut got = Vec::new();
    let mut got_error = None;
    let mut rest = stream;
    let mut step = seed as usize;
    'feed: while !rest.is_empty() {
        step = step.wrapping_mul(31).wrapping_add(7);
        let n = (1 + step % 97).min(rest.len());
        // Borrowed chunks (copied in) and owned ones (decoded in place), mixed.
        let took = if step % 3 == 0 {
            let at = stream.len() - rest.len();
            match d.push_bytes(input.slice(at..at + n)) {
                Ok(()) => n,
                Err(_) => panic!("an owned chunk was refused after the decoder needed more"),
            }
        } else {
            d.push(&rest[..n])
        };
        rest = &rest[took..];
        loop {
            match d.next_frame() {
                Ok(Progress::Frame { frame, .. }) => got.push(frame),
                Ok(Progress::NeedMore { .. }) => {
                    assert!(
                        d.buffered() <= LIMITS.max_frame_len(),
                        "buffered {} bytes",
                        d.buffered()
                    );
                    break;
                }
                Err(e) => {
                    got_error = Some(e);
                    break 'feed;
                }
            }
        }
        if took == 0 {
            break;
        }
    }
    let want_frames: Vec<Frame> = want.into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, want_frames, "incremental and one-shot decoding disagree on frames");
    assert_eq!(
        got_error, want_error,
        "incremental and one-shot decoding disagree on the error"
    );

    let mut v = StreamRefDecoder::new(LIMITS);
    let mut viewed = Vec::new();
    let mut viewed_error = None;
    let mut rest = stream;
    let mut step = seed as usize;
    while !rest.is_empty() {
        step = step.wrapping_mul(31).wrapping_add(7);
        let (chunk, after) = rest.split_at((1 + step % 97).min(rest.len()));
        // Owned copies of every field: the view lives only for the call.
        if let Err(e) = v.feed(chunk, |f| viewed.push(f.to_frame(&Bytes::new()))) {
            viewed_error = Some(e);
            break;
        }
        assert!(
            v.buffered() <= LIMITS.max_frame_len(),
            "view decoder holds {} bytes",
            v.buffered()
        );
        rest = after;
    }
    assert_eq!(viewed, want_frames, "view and one-shot decoding disagree on frames");
    assert_eq!(
        viewed_error, want_error,
        "view and one-shot decoding disagree on the error"
    );
    assert_eq!(
        v.finish(),
        d.finish(),
        "view and owned decoders end the stream differently"
    );
}

/// `roundtrip`: a structure-aware message (built by `arbitrary`) encodes and decodes back equal,
/// and re-encodes to the same bytes. The encoder may refuse only what it must (request id 0, a
/// payload over the limit); the `Arbitrary` impls build valid messages otherwise.
pub fn roundtrip(frame: &Frame) {
    let mut buf = BytesMut::new();
    match encode_with(frame, &mut buf, &LIMITS) {
        Ok(()) => {
            let bytes = buf.freeze();
            match decode_prefix(&bytes, 0, &LIMITS) {
                Ok(Progress::Frame { frame: back, len }) => {
                    assert_eq!(len, bytes.len());
                    assert_eq!(&back, frame, "decode(encode(m)) != m");
                }
                other => panic!("encoder output rejected: {other:?}"),
            }
        }
        Err(EncodeError::PayloadTooLarge { .. }) => {}
        Err(EncodeError::Invalid(e)) if e.code == ErrorCode::ZeroRequestId => assert_eq!(frame.request_id, 0),
        Err(e) => panic!("encoder refused a generated message: {e}\n{frame:?}"),
    }
}

/// Two frame sequences written by two writers that share one connection without a lock, and the
/// sizes of the runs each writer gets in before the other interrupts it.
#[derive(Debug, Clone, arbitrary::Arbitrary)]
pub struct Interleaving {
    /// Writer A's frames.
    pub a: Vec<Frame>,
    /// Writer B's frames.
    pub b: Vec<Frame>,
    /// Run lengths, alternating A, B, A, ...
    pub runs: Vec<u16>,
}

fn encode_all(frames: &[Frame]) -> (Vec<u8>, Vec<(usize, Vec<u8>)>) {
    let mut stream = Vec::new();
    let mut starts = Vec::new();
    for f in frames {
        let mut buf = BytesMut::new();
        if encode_with(f, &mut buf, &LIMITS).is_ok() {
            starts.push((stream.len(), buf.to_vec()));
            stream.extend_from_slice(&buf);
        }
    }
    (stream, starts)
}

/// `interleave`: the bug this project exists for. The decoder accepts exactly the intact frames
/// before the first cut one, never a frame that was not written byte for byte, and reports an
/// error no earlier than the cut frame's first byte and no later than its last. Returns how many
/// intact frames the decoder had to accept (so a test can tell the check was not vacuous).
pub fn interleave(input: &Interleaving) -> usize {
    let (a, a_frames) = encode_all(&input.a);
    let (b, b_frames) = encode_all(&input.b);
    // Build the shared stream, remembering where every byte came from.
    let mut stream = Vec::with_capacity(a.len() + b.len());
    let mut origin: Vec<(bool, usize)> = Vec::with_capacity(a.len() + b.len());
    let (mut ai, mut bi) = (0usize, 0usize);
    let mut runs = input.runs.iter().map(|&r| r as usize + 1).cycle();
    let mut from_a = true;
    while ai < a.len() || bi < b.len() {
        let run = if input.runs.is_empty() {
            usize::MAX
        } else {
            runs.next().unwrap_or(usize::MAX)
        };
        let (src, pos) = if from_a { (&a, &mut ai) } else { (&b, &mut bi) };
        let end = pos.saturating_add(run).min(src.len());
        stream.extend_from_slice(&src[*pos..end]);
        origin.extend((*pos..end).map(|i| (from_a, i)));
        *pos = end;
        from_a = !from_a;
    }
    // Walk the intact frames from the start to the first one that is cut.
    let frame_at = |is_a: bool, off: usize| {
        let list = if is_a { &a_frames } else { &b_frames };
        list.iter().find(|(s, _)| *s == off).map(|(_, bytes)| bytes.clone())
    };
    let mut intact = Vec::new();
    let mut p = 0;
    let mut cut_frame_len = None;
    while p < stream.len() {
        let (is_a, off) = origin[p];
        match frame_at(is_a, off) {
            Some(bytes)
                if origin
                    .get(p..p + bytes.len())
                    .is_some_and(|o| o.iter().enumerate().all(|(k, &(s, x))| s == is_a && x == off + k)) =>
            {
                p += bytes.len();
                intact.push(bytes);
            }
            found => {
                cut_frame_len = found.map(|b| b.len());
                break;
            }
        }
    }
    let mut d = StreamDecoder::new(LIMITS);
    let mut accepted = Vec::new();
    let result = d.feed(&stream, |f| accepted.push(f)).and_then(|()| d.finish());
    let accepted_bytes: Vec<Vec<u8>> = accepted
        .iter()
        .filter_map(|f| f.to_bytes().ok().map(|b| b.to_vec()))
        .collect();
    assert_eq!(
        accepted_bytes, intact,
        "accepted frames differ from the intact frames before the first cut"
    );
    match (p == stream.len(), result) {
        (true, Ok(())) => {}
        (true, Err(e)) => panic!("intact interleaving rejected: {e}"),
        (false, Ok(())) => panic!("cut frame at {p} went unnoticed"),
        (false, Err(e)) => {
            assert!(
                e.offset >= p as u64,
                "error at {} before the first cut frame at {p}",
                e.offset
            );
            if let Some(len) = cut_frame_len {
                assert!(
                    e.offset < (p + len) as u64,
                    "error at {} after the cut frame [{p}, {})",
                    e.offset,
                    p + len
                );
            }
        }
    }
    intact.len()
}

/// The structure-aware half of the custom mutators: after libFuzzer mutates an input, repair the
/// length and both CRCs of every frame found by walking headers from `start`, so the mutation
/// reaches the body parsers instead of dying at a checksum. Skipped for one seed in eight, so the
/// checksum checks themselves stay exercised. Setting `RAFTWIRE_FUZZ_NO_RESEAL` disables it (to
/// measure what it buys).
pub fn reseal_mutation(data: &mut [u8], start: usize, seed: u32) {
    if seed % 8 == 0 || std::env::var_os("RAFTWIRE_FUZZ_NO_RESEAL").is_some() {
        return;
    }
    let mut at = start;
    while let Some(rest) = data.get_mut(at..) {
        let Some(len) = rest
            .get(16..20)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
        else {
            return;
        };
        // A mutated length that runs off the end is pulled back to what is there.
        let payload = (len as usize).min(rest.len().saturating_sub(crate::HEADER_LEN + crate::TRAILER_LEN));
        let frame_len = crate::HEADER_LEN + payload + crate::TRAILER_LEN;
        let Some(frame) = rest.get_mut(..frame_len) else { return };
        crate::craft::reseal_in_place(frame);
        at += frame_len;
    }
}
