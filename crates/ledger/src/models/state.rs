//! Models state: one record per registered model (manifest, files, lineage, status), and the
//! uploaded chunks of its files.

use crate::models::msg::{Lineage, ModelFile};
use crate::store::{key, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Height, ModelId};

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ModelRecord {
    pub id: ModelId,
    /// The manifest's name (also inside `manifest`), for listings.
    pub name: String,
    /// `surety_infer::ModelManifest`, borsh-encoded.
    #[serde(with = "crate::jobs::state::hex_bytes")]
    pub manifest: Vec<u8>,
    pub publisher: AccountId,
    pub files: Vec<ModelFile>,
    pub lineage: Lineage,
    /// Steps in the model's program: the length of every trace of it.
    pub steps: u64,
    /// The model takes text (it has a tokenizer).
    pub text: bool,
    pub registered: Height,
    pub status: ModelStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ModelStatus {
    Uploading {
        chunks_stored: u64,
        chunks_total: u64,
    },
    Active {
        height: Height,
    },
    /// Every chunk matched its commitment but the files do not make the manifest's model.
    Rejected {
        reason: String,
    },
}

fn model_key(id: &ModelId) -> Vec<u8> {
    key("models/model", &[&id.0])
}

pub fn model(store: &Store, id: &ModelId) -> Option<ModelRecord> {
    store.get(&model_key(id))
}

pub fn set_model(store: &mut Store, record: &ModelRecord) {
    store.put(model_key(&record.id), record);
}

/// Every registered model, in id order.
pub fn all_models(store: &Store) -> Vec<ModelRecord> {
    store
        .prefix_values::<ModelRecord>(b"models/model/")
        .into_iter()
        .map(|(_, record)| record)
        .collect()
}
