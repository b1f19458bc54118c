//! Structure-aware: an arbitrary valid message encodes and decodes back equal, byte for byte.
#![no_main]
use libfuzzer_sys::fuzz_target;
use raftwire_codec::Frame;

fuzz_target!(|frame: Frame| raftwire_codec::fuzzing::roundtrip(&frame));
