//! Two real hashicorp/raft streams spliced at fuzzer-chosen points, as an unlocked second writer
//! would: never a panic, the same findings in any chunking, nothing outside the stream, and no
//! false alarm on a real stream left whole.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| raftwire_hashicorp::fuzz_splice(data));
