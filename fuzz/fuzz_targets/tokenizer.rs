//! `tokenizer.json` files that come with an uploaded model: `TextTokenizer::from_json` (the
//! Hugging Face `tokenizers` parser), then encoding and decoding a fixed text with what
//! parsed. No panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use surety_infer::tokenizer::TextTokenizer;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tokenizer) = TextTokenizer::from_json(json) {
        if let Ok(ids) = tokenizer.encode("Hello, world: 12 pigs") {
            let _ = tokenizer.decode(&ids);
        }
        let _ = tokenizer.hash();
    }
});
