//! hashicorp/raft request and response streams: the msgpack reader and stream checker never panic and keep every finding inside its stream.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    raftwire_hashicorp::fuzz_check(data);
});
