//! Real MiniLM for the market's network tests and benchmark (`tests/it/market.rs` uses
//! it and `benches/market.rs` includes this file): the model, "another checkpoint" of it for an operator
//! that serves the wrong weights, its registration at a localnet's genesis, and polling helpers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use surety_infer::models::bert;
use surety_infer::safetensors_loader::load_safetensors;
use surety_infer::tokenizer::TextTokenizer;
use surety_infer::{Model, StorageType, WeightStore};
use surety_ledger::jobs::JobStatus;
use surety_ledger::models::msg::{FileKind, Lineage, MODEL_CHUNK_BYTES_MAX};
use surety_ledger::models::publish::Publication;
use surety_node::localnet::LocalnetModel;

pub(crate) const MINILM: &str = "all-minilm-l6-v2";

/// Where `scripts/fetch-models` put the models: `SURETY_MODELS_DIR`, or `models/` in the
/// workspace.
pub(crate) fn models_dir() -> PathBuf {
    match std::env::var_os("SURETY_MODELS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
    }
}

pub(crate) struct MiniLm {
    pub(crate) model: Arc<Model>,
    /// Another checkpoint: one bias of layer 3 moved, everything else identical. An operator
    /// serving it disputes a step in the middle of the trace.
    pub(crate) other: Arc<Model>,
    pub(crate) weights: PathBuf,
    pub(crate) tokenizer: PathBuf,
}

impl MiniLm {
    pub(crate) fn load(folder: &Path) -> MiniLm {
        let weights = std::fs::read(folder.join("model.safetensors")).unwrap();
        let config = std::fs::read_to_string(folder.join("config.json")).unwrap();
        let tokenizer = std::fs::read_to_string(folder.join("tokenizer.json")).unwrap();
        let model = bert::load("all-MiniLM-L6-v2", &weights, &config, &tokenizer, true).unwrap();
        let original = load_safetensors(&weights).unwrap();
        let mut other_weights = WeightStore::new();
        for name in original.names() {
            let weight = original.get(name).unwrap();
            // Integer tensors, which no step reads, are left out.
            if weight.leaf.storage != StorageType::F32 {
                continue;
            }
            let mut values = weight.values.clone();
            if name == "encoder.layer.3.output.dense.bias" {
                values.iter_mut().for_each(|v| *v += 0.01);
            }
            other_weights
                .insert_f32(name, weight.shape.clone(), &values)
                .unwrap();
        }
        let other = Model::new(
            "all-MiniLM-L6-v2",
            model.manifest().architecture.clone(),
            other_weights,
            Some(TextTokenizer::from_json(&tokenizer).unwrap()),
        )
        .unwrap();
        assert_ne!(other.model_id(), model.model_id());
        MiniLm {
            model: Arc::new(model),
            other: Arc::new(other),
            weights: folder.join("model.safetensors"),
            tokenizer: folder.join("tokenizer.json"),
        }
    }

    /// MiniLM's registration and files, for `LocalnetOptions::models`.
    pub(crate) fn localnet_model(&self) -> LocalnetModel {
        let weights = std::fs::read(&self.weights).unwrap();
        let tokenizer = std::fs::read(&self.tokenizer).unwrap();
        let publication = Publication::new(
            self.model.manifest(),
            &[
                (FileKind::Safetensors, weights.as_slice()),
                (FileKind::TokenizerJson, tokenizer.as_slice()),
            ],
            Lineage::default(),
            MODEL_CHUNK_BYTES_MAX,
        )
        .unwrap();
        LocalnetModel {
            registration: publication.register.clone(),
            files: vec![self.weights.clone(), self.tokenizer.clone()],
        }
    }
}

/// Poll `done` every 20 ms until it holds; fail after `timeout`.
pub(crate) async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The job is final or failed: nothing more happens to it.
pub(crate) fn settled(status: &JobStatus) -> bool {
    matches!(status, JobStatus::Final { .. } | JobStatus::Failed { .. })
}
