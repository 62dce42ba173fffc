//! Text to token ids and back, through the Hugging Face `tokenizers` crate.
//!
//! A tokenizer is committed in the model manifest by the hash of its canonical
//! `tokenizer.json` text. For a GGUF model, whose vocabulary and merges live in metadata, that
//! text is built here from the metadata, with the pre-tokenizer the model was trained with.

use crate::error::{InferError, Result};
use crate::gguf::GgufFile;
use serde_json::{json, Map, Value};
use std::str::FromStr;
use surety_types::Hash;

/// Largest tokenizer.json accepted.
pub const TOKENIZER_BYTES_MAX: usize = 64 << 20;
/// Longest text accepted for encoding, in bytes.
pub const TEXT_BYTES_MAX: usize = 1 << 20;

const TOKENIZER_DOMAIN: &str = "surety.infer.tokenizer";

/// An HF tokenizer with the hash of its canonical tokenizer.json.
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    hash: Hash,
}

impl TextTokenizer {
    /// From the text of a `tokenizer.json`. Padding and truncation settings in the file are
    /// dropped: the engine runs one sequence at a time and refuses, rather than cuts, input
    /// longer than the model allows.
    pub fn from_json(json: &str) -> Result<TextTokenizer> {
        if json.len() > TOKENIZER_BYTES_MAX {
            return Err(InferError::Tokenizer(format!(
                "tokenizer.json is {} bytes, the limit is {TOKENIZER_BYTES_MAX}",
                json.len()
            )));
        }
        // `tokenizers` panics instead of failing on a JSON syntax error inside `"decoder"` (its
        // decoder deserializer `expect`s; found by fuzzing): refuse text that is not JSON first.
        serde_json::from_str::<serde::de::IgnoredAny>(json)
            .map_err(|e| InferError::Tokenizer(format!("tokenizer.json: {e}")))?;
        let mut inner = tokenizers::Tokenizer::from_str(json)
            .map_err(|e| InferError::Tokenizer(format!("tokenizer.json: {e}")))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| InferError::Tokenizer(format!("tokenizer.json: {e}")))?;
        Ok(TextTokenizer {
            inner,
            hash: Hash::of(TOKENIZER_DOMAIN, json.as_bytes()),
        })
    }

    /// Byte-level BPE tokenizer of a GGUF `gpt2` model (SmolLM2 uses pre-tokenizer `smollm`:
    /// digits split one by one, then the GPT-2 byte-level split).
    pub fn from_gguf(file: &GgufFile) -> Result<TextTokenizer> {
        let model = file.string("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(InferError::Tokenizer(format!(
                "GGUF tokenizer model `{model}`"
            )));
        }
        let tokens = file.strings("tokenizer.ggml.tokens")?;
        let merges = file.strings("tokenizer.ggml.merges")?;
        let types = file.ints("tokenizer.ggml.token_type").unwrap_or_default();
        let pre = file.string("tokenizer.ggml.pre").unwrap_or("gpt2");
        let mut vocab = Map::new();
        let mut added = Vec::new();
        for (id, token) in tokens.iter().enumerate() {
            vocab.insert(token.to_string(), json!(id));
            // Type 3 is a control token, 4 user-defined: both match as whole strings.
            if matches!(types.get(id), Some(3) | Some(4)) {
                added.push(json!({
                    "id": id, "content": token, "single_word": false, "lstrip": false,
                    "rstrip": false, "normalized": false, "special": true
                }));
            }
        }
        let byte_level = json!({
            "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true
        });
        let pre_tokenizer = match pre {
            "smollm" => json!({
                "type": "Sequence",
                "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level]
            }),
            "gpt2" | "default" => byte_level.clone(),
            other => {
                return Err(InferError::Tokenizer(format!(
                    "GGUF pre-tokenizer `{other}`"
                )));
            }
        };
        let document = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tokenizer,
            "post_processor": null,
            "decoder": byte_level,
            "model": {
                "type": "BPE", "dropout": null, "unk_token": null,
                "continuing_subword_prefix": null, "end_of_word_suffix": null,
                "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": Value::Object(vocab),
                "merges": merges,
            }
        });
        // serde_json's map keeps keys sorted (no preserve_order feature), so this text, and
        // its hash, are a function of the metadata alone.
        TextTokenizer::from_json(&document.to_string())
    }

    /// Token ids of `text`, with the special tokens the tokenizer's template adds.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        if text.len() > TEXT_BYTES_MAX {
            return Err(InferError::Tokenizer(format!(
                "text is {} bytes, the limit is {TEXT_BYTES_MAX}",
                text.len()
            )));
        }
        let encoding = self
            .inner
            .encode(text, true)
            .map_err(|e| InferError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of token ids.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| InferError::Tokenizer(e.to_string()))
    }

    /// The id of token string `token`, if it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The hash committed in the manifest.
    pub fn hash(&self) -> Hash {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (`fuzz/`, target `tokenizer`): a syntax error inside `"decoder"` made
    /// the `tokenizers` crate panic rather than return an error.
    #[test]
    fn a_syntax_error_inside_the_decoder_is_an_error_not_a_panic() {
        assert!(matches!(
            TextTokenizer::from_json(r#"{"decoder":{]}"#),
            Err(InferError::Tokenizer(_))
        ));
    }
}
