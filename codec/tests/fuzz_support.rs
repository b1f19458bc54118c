//! The helpers the fuzz targets stand on (`raftwire_codec::fuzzing`, the `Arbitrary` impls) do
//! what the targets rely on: a helper that silently does nothing makes a fuzz target vacuous, and
//! no crash would ever tell. Found by mutation testing (MUTANTS.md).

mod common;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use common::*;
use raftwire_codec::fuzzing::{self, Interleaving, LIMITS};
use raftwire_codec::*;

#[test]
fn the_fuzz_limits_admit_ordinary_frames_and_refuse_a_payload_over_64_kib() {
    let small = encoded(Message::AppendEntries(append_entries()));
    assert!(decode_with(&Bytes::from(small), &LIMITS).is_ok());
    let big = raw(MessageType::AppendEntries, &vec![0u8; 64 * 1024 + 1]);
    let e = decode_with(&Bytes::from(big), &LIMITS).unwrap_err();
    assert_eq!(e.code, ErrorCode::LengthOverLimit);
}

#[test]
fn the_interleave_oracle_checks_every_intact_frame() {
    let a: Vec<Frame> = every_message().into_iter().take(3).map(|m| Frame::new(1, m)).collect();
    let b: Vec<Frame> = every_message()
        .into_iter()
        .skip(3)
        .take(2)
        .map(|m| Frame::new(2, m))
        .collect();
    // No interleaving: all five frames are intact and must be accepted.
    let whole = Interleaving {
        a: a.clone(),
        b: b.clone(),
        runs: vec![],
    };
    assert_eq!(fuzzing::interleave(&whole), 5);
    // The second writer cuts into the first frame after 10 bytes: nothing before it is intact.
    let cut = Interleaving { a, b, runs: vec![9, 3] };
    assert_eq!(fuzzing::interleave(&cut), 0);
}

#[test]
fn reseal_mutation_repairs_the_crcs_a_mutation_broke() {
    let frame = encoded(Message::RequestVote(request_vote()));
    let mut mutated = frame.clone();
    // A mutated body byte: the payload CRC no longer matches.
    mutated[HEADER_LEN] ^= 0x01;
    assert!(decode(&Bytes::from(mutated.clone())).is_err());
    let mut two = [mutated.clone(), mutated.clone()].concat();
    // Seed 1 reseals (one seed in eight, a multiple of 8, is left alone).
    fuzzing::reseal_mutation(&mut two, 0, 1);
    let len = mutated.len();
    for f in [&two[..len], &two[len..]] {
        let decoded = decode(&Bytes::copy_from_slice(f));
        assert!(
            decoded.is_ok() || decoded.as_ref().is_err_and(|e| e.code != ErrorCode::PayloadCrcMismatch),
            "the CRC was repaired: {decoded:?}"
        );
    }
    assert_ne!(two[..len], mutated[..], "both frames were resealed");
    let mut untouched = mutated.clone();
    fuzzing::reseal_mutation(&mut untouched, 0, 8);
    assert_eq!(untouched, mutated, "seed 8 leaves the checksums to be tested");
}

#[test]
fn an_entry_view_equals_the_entry_it_was_read_from_and_no_other() {
    let req = append_entries();
    let entries = req.entries.to_vec();
    let bytes = Bytes::from(encoded(Message::AppendEntries(req)));
    let frame = decode(&bytes).unwrap();
    let Message::AppendEntries(got) = frame.message else {
        panic!("not an AppendEntries")
    };
    let views: Vec<_> = got.entries.iter().collect();
    assert_eq!(views.len(), entries.len());
    for (k, v) in views.iter().enumerate() {
        assert!(*v == entries[k], "entry {k}");
        assert!(*v != entries[(k + 1) % entries.len()], "entry {k} against another");
    }
}

#[test]
fn arbitrary_error_responses_always_fit_the_message_limit() {
    // ASCII after size prefixes of every first byte: some make `arbitrary` ask for long strings.
    let mut longest = 0;
    for prefix in 0..=255u8 {
        let mut data = vec![prefix, 0x00];
        data.extend(std::iter::repeat_n(b'a', 20_000));
        let mut u = Unstructured::new(&data);
        let e = ErrorResponse::arbitrary(&mut u).unwrap();
        longest = longest.max(e.message.len());
        assert!(
            e.message.len() <= usize::from(MAX_ERROR_MESSAGE_LEN),
            "{}",
            e.message.len()
        );
        assert!(encode(&Frame::new(1, Message::Error(e)), &mut bytes::BytesMut::new()).is_ok());
    }
    assert_eq!(
        longest,
        usize::from(MAX_ERROR_MESSAGE_LEN),
        "long strings were cut to the limit"
    );
}
