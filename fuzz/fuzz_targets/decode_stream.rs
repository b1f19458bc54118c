//! Bytes fed to the incremental decoder in input-drawn chunk sizes: bounded memory, same frames and error as one-shot decoding.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use raftwire_codec::fuzzing::{decode_stream, reseal_mutation};

fuzz_target!(|data: &[u8]| decode_stream(data));

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let size = fuzzer_mutate(data, size, max_size);
    // The first two bytes choose the chunking; frames start after them.
    reseal_mutation(&mut data[..size], 2, seed);
    size
});
