//! The stream checker over arbitrary frame sequences: never panics; responses never outnumber requests.
#![no_main]
use libfuzzer_sys::fuzz_target;
use raftwire_codec::Frame;

fuzz_target!(|events: Vec<(bool, Frame)>| raftwire_conformance::fuzzing::check_stream(&events));
