//! Safetensors model files: `load_safetensors` (the header parse and tensor expansion). No
//! panic, no unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use surety_infer::safetensors_loader::load_safetensors;

fuzz_target!(|data: &[u8]| {
    let _ = load_safetensors(data);
});
