//! GGUF model files (uploaded chunk by chunk, then parsed): `load_gguf`, the in-memory parser.
//! A file that parses also goes through `TextTokenizer::from_gguf`, which builds a
//! tokenizer from the metadata. No panic, no unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use surety_infer::gguf::load_gguf;
use surety_infer::tokenizer::TextTokenizer;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = load_gguf(data) {
        let _ = TextTokenizer::from_gguf(&file);
    }
});
