//! Arbitrary bytes into the one-shot decoder: never panics; an accepted frame re-encodes to the same bytes.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use raftwire_codec::fuzzing::{decode_frame, reseal_mutation};

fuzz_target!(|data: &[u8]| decode_frame(data));

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let size = fuzzer_mutate(data, size, max_size);
    reseal_mutation(&mut data[..size], 0, seed);
    size
});
