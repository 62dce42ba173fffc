//! Finding and loading the real models for integration tests.
//!
//! Models are looked for in `$SURETY_MODELS_DIR`, else `<repo>/models` (where
//! `scripts/fetch-models` puts them). A missing model fails the test with the command that
//! fetches it, unless `SURETY_SKIP_MODEL_TESTS=1`, which skips real-model tests explicitly
//! (for a quick run on a machine without the wheels; `scripts/ci-infer.sh` never sets it).
#![allow(dead_code)]

use std::path::PathBuf;
use surety_infer::Model;

pub fn models_dir() -> PathBuf {
    match std::env::var_os("SURETY_MODELS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
    }
}

/// The folder of model `name`, or `None` when real-model tests are explicitly skipped.
pub fn model_folder(name: &str) -> Option<PathBuf> {
    let folder = models_dir().join(name);
    if folder.is_dir() {
        return Some(folder);
    }
    if std::env::var_os("SURETY_SKIP_MODEL_TESTS").is_some_and(|v| v == "1") {
        eprintln!(
            "SURETY_SKIP_MODEL_TESTS=1: skipping, {} is missing",
            folder.display()
        );
        return None;
    }
    panic!(
        "model folder {} is missing: run scripts/fetch-models (or set SURETY_MODELS_DIR, or \
         SURETY_SKIP_MODEL_TESTS=1 to skip real-model tests on purpose)",
        folder.display()
    );
}

pub const MINILM: &str = "all-minilm-l6-v2";
pub const SMOLLM: &str = "smollm2-135m-instruct-q4_1";
pub const SMOLLM_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

pub struct MiniLmFiles {
    pub weights: Vec<u8>,
    pub config: String,
    pub tokenizer: String,
}

pub fn minilm_files() -> Option<MiniLmFiles> {
    let folder = model_folder(MINILM)?;
    let read = |name: &str| std::fs::read(folder.join(name)).expect("model file is readable");
    Some(MiniLmFiles {
        weights: read("model.safetensors"),
        config: String::from_utf8(read("config.json")).expect("utf-8"),
        tokenizer: String::from_utf8(read("tokenizer.json")).expect("utf-8"),
    })
}

pub fn load_minilm_from(files: &MiniLmFiles, weights: &[u8]) -> Model {
    surety_infer::models::bert::load(MINILM, weights, &files.config, &files.tokenizer, true)
        .expect("MiniLM loads")
}

pub fn smollm_bytes() -> Option<Vec<u8>> {
    let folder = model_folder(SMOLLM)?;
    Some(std::fs::read(folder.join(SMOLLM_FILE)).expect("model file is readable"))
}

pub fn data_dir() -> PathBuf {
    match std::env::var_os("SURETY_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data"),
    }
}

/// MNIST's training and test sets from `scripts/fetch-data`'s folder, or `None` when
/// real-data tests are explicitly skipped (`SURETY_SKIP_MODEL_TESTS=1`).
pub fn mnist() -> Option<(
    surety_infer::train::dataset::Dataset,
    surety_infer::train::dataset::Dataset,
)> {
    let folder = data_dir().join("mnist");
    if !folder.is_dir() {
        if std::env::var_os("SURETY_SKIP_MODEL_TESTS").is_some_and(|v| v == "1") {
            eprintln!(
                "SURETY_SKIP_MODEL_TESTS=1: skipping, {} is missing",
                folder.display()
            );
            return None;
        }
        panic!(
            "MNIST folder {} is missing: run scripts/fetch-data (or set SURETY_DATA_DIR, or \
             SURETY_SKIP_MODEL_TESTS=1 to skip real-data tests on purpose)",
            folder.display()
        );
    }
    let read = |name: &str| std::fs::read(folder.join(name)).expect("MNIST file reads");
    let load = |images, labels| {
        surety_infer::train::dataset::Dataset::from_idx(&read(images), &read(labels))
            .expect("MNIST parses")
    };
    Some((
        load("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        load("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    ))
}
