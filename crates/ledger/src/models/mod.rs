//! Models: the registry of models by the commitment to their exact weights and architecture
//! (DESIGN §3 "models").

pub mod error;
pub mod invariants;
pub mod msg;
pub mod state;

pub use error::ModelsError;
pub use msg::{RegisterModel, UploadModelChunk};
pub use state::{ModelRecord, ModelStatus};

use crate::params::Params;
use crate::store::Store;
use crate::BlockContext;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use surety_types::{AccountId, ModelId};

/// Loaded active models, by id. Not state: each entry is a pure function of the model's
/// registered files, so every node's cache agrees with every other's.
#[derive(Clone, Default)]
pub struct ModelCache {
    loaded: Arc<Mutex<BTreeMap<ModelId, Arc<surety_infer::Model>>>>,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loaded = self.loaded.lock().map(|m| m.len()).unwrap_or(0);
        write!(f, "ModelCache({loaded} loaded)")
    }
}

pub fn check_register_shape(_msg: &RegisterModel) -> Result<(), ModelsError> {
    Err(ModelsError::Invalid(
        "model registration is not built yet".into(),
    ))
}

pub fn check_upload_shape(_msg: &UploadModelChunk) -> Result<(), ModelsError> {
    Err(ModelsError::Invalid("model upload is not built yet".into()))
}

pub fn execute_register(
    _store: &mut Store,
    _params: &Params,
    _ctx: &BlockContext,
    _signer: &AccountId,
    _msg: &RegisterModel,
) -> Result<(), ModelsError> {
    Err(ModelsError::Invalid(
        "model registration is not built yet".into(),
    ))
}

pub fn execute_upload(
    _store: &mut Store,
    _params: &Params,
    _cache: &ModelCache,
    _signer: &AccountId,
    _msg: &UploadModelChunk,
) -> Result<(), ModelsError> {
    Err(ModelsError::Invalid("model upload is not built yet".into()))
}

/// The registered record of an active model.
pub fn active(store: &Store, id: &ModelId) -> Result<ModelRecord, ModelsError> {
    let record = state::model(store, id).ok_or(ModelsError::UnknownModel(*id))?;
    match record.status {
        ModelStatus::Active { .. } => Ok(record),
        _ => Err(ModelsError::NotActive(*id)),
    }
}

/// The loaded model of an active registered model, from the cache or its files.
pub fn loaded(
    store: &Store,
    cache: &ModelCache,
    id: &ModelId,
) -> Result<Arc<surety_infer::Model>, ModelsError> {
    active(store, id)?;
    if let Some(model) = cache.loaded.lock().expect("cache lock").get(id) {
        return Ok(model.clone());
    }
    Err(ModelsError::Invalid(
        "model loading is not built yet".into(),
    ))
}
