//! Models state: one record per registered model (manifest, files, lineage, status), the
//! uploaded chunks of its files, and an index of uploads by the height they expire at.

use crate::models::msg::{Lineage, ModelFile};
use crate::store::{key, schedule_key, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount, Height, ModelId};

/// A registered model, as the registry stores it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ModelRecord {
    /// The model's id: the hash of its manifest.
    pub id: ModelId,
    /// The manifest's name (also inside `manifest`), for listings.
    pub name: String,
    /// `surety_infer::ModelManifest`, borsh-encoded.
    #[serde(with = "surety_types::encoding::hex_bytes")]
    pub manifest: Vec<u8>,
    /// Who registered it and paid the deposit.
    pub publisher: AccountId,
    /// The files' commitments, in registration order.
    pub files: Vec<ModelFile>,
    /// Where the model came from.
    pub lineage: Lineage,
    /// Steps in the model's program: the length of every trace of it.
    pub steps: u64,
    /// The model takes text (it has a tokenizer).
    pub text: bool,
    /// The height of the registration.
    pub registered: Height,
    /// Where the model is in its life: uploading, active, rejected or expired.
    pub status: ModelStatus,
}

/// A registered model's life: uploading until its last chunk lands or the upload expires;
/// then active, rejected or expired.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ModelStatus {
    /// Its files are being uploaded chunk by chunk.
    Uploading {
        /// Chunks uploaded so far, across all files.
        chunks_stored: u64,
        /// Chunks in all files together.
        chunks_total: u64,
        /// Escrowed by the publisher (in `Pool::ModelDeposits`) until the upload ends.
        deposit: Amount,
        /// At the end of this block an unfinished upload expires.
        expires: Height,
    },
    /// Every chunk landed and the files make the manifest's model: it is served.
    Active {
        /// The height it became active.
        height: Height,
    },
    /// Every chunk matched its commitment but the files do not make the manifest's model.
    Rejected {
        /// Why the files do not make the manifest's model.
        reason: String,
    },
    /// The last chunk had not landed by the upload's expiry; its chunks were deleted. The id
    /// may be registered again.
    Expired {
        /// The height it expired at.
        height: Height,
    },
}

impl ModelStatus {
    /// The upload ended without making the model: the id may be registered again.
    pub fn is_failed(&self) -> bool {
        matches!(
            self,
            ModelStatus::Rejected { .. } | ModelStatus::Expired { .. }
        )
    }
}

fn model_key(id: &ModelId) -> Vec<u8> {
    key("models/model", &[&id.0])
}

/// The record of model `id`, if registered.
pub fn model(store: &Store, id: &ModelId) -> Option<ModelRecord> {
    store.get(&model_key(id))
}

pub(super) fn set_model(store: &mut Store, record: &ModelRecord) {
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

/// Prefix of every stored chunk: `models/chunk/<model 32>/<file u32 be>/<index u32 be>`.
pub const CHUNK_PREFIX: &[u8] = b"models/chunk/";

/// The state key of chunk `index` of file `file` of `model`.
pub fn chunk_key(model: &ModelId, file: u32, index: u32) -> Vec<u8> {
    key(
        "models/chunk",
        &[&model.0, &file.to_be_bytes(), &index.to_be_bytes()],
    )
}

/// The prefix of every chunk key of `model`.
pub fn model_chunks_prefix(model: &ModelId) -> Vec<u8> {
    let mut prefix = key("models/chunk", &[&model.0]);
    prefix.push(b'/');
    prefix
}

/// Parse a chunk key back into (model, file, index); `None` if it is not one.
pub fn parse_chunk_key(key: &[u8]) -> Option<(ModelId, u32, u32)> {
    let rest = key.strip_prefix(CHUNK_PREFIX)?;
    // 32 id bytes, '/', 4 file bytes, '/', 4 index bytes.
    if rest.len() != 32 + 1 + 4 + 1 + 4 || rest[32] != b'/' || rest[37] != b'/' {
        return None;
    }
    let model = ModelId(rest[..32].try_into().ok()?);
    let file = u32::from_be_bytes(rest[33..37].try_into().ok()?);
    let index = u32::from_be_bytes(rest[38..42].try_into().ok()?);
    Some((model, file, index))
}

/// A stored chunk's bytes, as uploaded (raw, not borsh-wrapped: chunks are the bulk of the
/// state and are served to downloaders as they are).
pub fn chunk<'a>(store: &'a Store, model: &ModelId, file: u32, index: u32) -> Option<&'a [u8]> {
    store.get_raw(&chunk_key(model, file, index))
}

/// True if chunk `index` of file `file` of `model` is stored.
pub fn has_chunk(store: &Store, model: &ModelId, file: u32, index: u32) -> bool {
    chunk(store, model, file, index).is_some()
}

pub(super) fn set_chunk(store: &mut Store, model: &ModelId, file: u32, index: u32, bytes: &[u8]) {
    store.put_raw(chunk_key(model, file, index), bytes.to_vec());
}

/// The whole of file `file` of `model`, assembled from its stored chunks; `None` if the record
/// has no such file or a chunk is missing.
pub fn assemble_file(store: &Store, record: &ModelRecord, file: u32) -> Option<Vec<u8>> {
    let commitment = record.files.get(file as usize)?;
    let mut bytes = Vec::with_capacity(usize::try_from(commitment.bytes).ok()?);
    for index in 0..u32::try_from(commitment.chunk_count()).ok()? {
        bytes.extend_from_slice(chunk(store, &record.id, file, index)?);
    }
    (bytes.len() as u64 == commitment.bytes).then_some(bytes)
}

/// The chunk indices of file `file` of `model` not yet stored, in order (for resuming
/// uploads); at most `limit` of them.
pub fn missing_chunks(store: &Store, record: &ModelRecord, file: u32, limit: usize) -> Vec<u32> {
    let Some(commitment) = record.files.get(file as usize) else {
        return Vec::new();
    };
    let count = u32::try_from(commitment.chunk_count()).unwrap_or(u32::MAX);
    (0..count)
        .filter(|&index| !has_chunk(store, &record.id, file, index))
        .take(limit)
        .collect()
}

const EXPIRY: &str = "models/expiry";

/// The upload of `id` expires at the end of block `height`.
pub(super) fn set_expiry(store: &mut Store, height: Height, id: &ModelId) {
    store.put(schedule_key(EXPIRY, height, &id.0), &());
}

pub(super) fn clear_expiry(store: &mut Store, height: Height, id: &ModelId) {
    store.delete(&schedule_key(EXPIRY, height, &id.0));
}

/// Uploads that expire at the end of `height`, removing their entries.
pub(super) fn take_expiring(store: &mut Store, height: Height) -> Vec<ModelId> {
    store
        .take_scheduled(EXPIRY, height)
        .into_iter()
        .map(ModelId)
        .collect()
}

/// Every (expiry height, model) entry of the index, for invariants.
pub fn all_expiries(store: &Store) -> Vec<(Height, ModelId)> {
    store
        .scheduled(EXPIRY)
        .into_iter()
        .map(|(height, id)| (height, ModelId(id)))
        .collect()
}
