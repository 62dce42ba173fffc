//! GGUF model files (uploaded chunk by chunk, then parsed): `load_gguf`, the in-memory parser.
//! No panic, no unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use surety_infer::gguf::load_gguf;

fuzz_target!(|data: &[u8]| {
    let _ = load_gguf(data);
});
