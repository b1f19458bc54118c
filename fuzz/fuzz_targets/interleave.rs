//! Two writers interleaved on one connection: only intact original frames are accepted, and the first cut frame is reported.
#![no_main]
use libfuzzer_sys::fuzz_target;
use raftwire_codec::fuzzing::{interleave, Interleaving};

fuzz_target!(|input: Interleaving| {
    interleave(&input);
});
