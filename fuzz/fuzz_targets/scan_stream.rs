//! The resynchronising scanner: never panics, bounded memory, every byte in exactly one frame or skipped run.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use raftwire_codec::fuzzing::reseal_mutation;

fuzz_target!(|data: &[u8]| raftwire_conformance::fuzzing::scan_stream(data));

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let size = fuzzer_mutate(data, size, max_size);
    reseal_mutation(&mut data[..size], 1, seed);
    size
});
