//! Models: the registry of models by the commitment to their exact weights and architecture
//! (DESIGN §3 "models"; docs/models.md).
//!
//! A publisher registers a model's manifest (`model_id = H(manifest)`) with a commitment to
//! each of its files: length, chunk size and the Merkle root over the chunks' hashes. Anyone
//! then uploads the chunks, each with its inclusion proof; every node stores every chunk, so
//! any validator can re-execute any step of the model and any operator can download it from
//! the network. When the last chunk lands the ledger loads the files with the inference engine
//! and compares the model they make with the manifest: equal, the model is active; different
//! (or not loadable), it is rejected and its chunks are deleted. The publisher escrows a deposit
//! per MiB of files at registration: returned on activation, burned on rejection or when the
//! upload has not finished `model_upload_blocks` after registration (the upload then expires and
//! its chunks are deleted). A rejected or expired id may be registered again, so nobody can hold
//! an id with file commitments that no bytes match. The module owns the model records and the
//! chunks; it never reads a file or the network: bytes arrive in transactions (or, at genesis,
//! from the node).

pub mod error;
pub mod event;
pub mod invariants;
pub mod msg;
pub mod publish;
pub mod state;

pub use error::ModelsError;
pub use event::ModelsEvent;
pub use msg::{FileKind, Lineage, ModelFile, RegisterModel, Training, UploadModelChunk};
pub use publish::Publication;
pub use state::{ModelRecord, ModelStatus};

use crate::bank::{self, Pool};
use crate::context::BlockContext;
use crate::params::Params;
use crate::store::Store;
use msg::{
    chunk_hash, ARCHITECTURE_LAYERS_MAX, FILE_CHUNKS_MAX, LINEAGE_TEXT_BYTES_MAX,
    MANIFEST_BYTES_MAX, MODEL_CHUNK_BYTES_MAX, MODEL_FILES_MAX, MODEL_NAME_BYTES_MAX,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use surety_infer::{Architecture, ModelManifest};
use surety_types::{AccountId, Amount, ArithmeticError, ModelId};

/// Longest rejection reason kept in a model's record, in bytes (the rest is cut).
pub const REJECTION_REASON_BYTES_MAX: usize = 512;

/// Loaded active models, by id. Not state: each entry is a pure function of the model's
/// registered files, so every node's cache agrees with every other's. An entry can outlive a
/// discarded block that activated it; that is harmless, because the model an id names is fixed
/// by the manifest the id hashes (weights root, tokenizer hash, architecture), and readers
/// check the record is active before they look here.
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

impl ModelCache {
    fn get(&self, id: &ModelId) -> Option<Arc<surety_infer::Model>> {
        // A panic while holding the lock cannot leave the map half-written (inserts are
        // single calls), so a poisoned lock is still a sound map.
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    fn insert(&self, id: ModelId, model: Arc<surety_infer::Model>) {
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, model);
    }

    /// Whether `id` is loaded (for tests and metrics).
    pub fn contains(&self, id: &ModelId) -> bool {
        self.get(id).is_some()
    }
}

/// The manifest inside a registration: bounded, canonical, for this engine.
pub fn decode_manifest(bytes: &[u8]) -> Result<ModelManifest, ModelsError> {
    let manifest: ModelManifest = surety_types::encoding::decode_bounded(bytes, MANIFEST_BYTES_MAX)
        .map_err(|e| ModelsError::ManifestDecode(e.to_string()))?;
    if surety_types::encoding::encode(&manifest) != bytes {
        return Err(ModelsError::ManifestNotCanonical);
    }
    if manifest.engine_version != surety_infer::ENGINE_VERSION {
        return Err(ModelsError::EngineVersion {
            got: manifest.engine_version,
            expected: surety_infer::ENGINE_VERSION,
        });
    }
    if manifest.name.is_empty() || manifest.name.len() > MODEL_NAME_BYTES_MAX {
        return Err(ModelsError::NameLength {
            got: manifest.name.len(),
            max: MODEL_NAME_BYTES_MAX,
        });
    }
    Ok(manifest)
}

/// The architecture's name as manifests and errors spell it (`bert`, `llama`, `mlp`, …).
pub fn architecture_name(architecture: &Architecture) -> &'static str {
    match architecture {
        Architecture::Bert(_) => "bert",
        Architecture::Llama(_) => "llama",
        Architecture::Mlp(_) => "mlp",
        Architecture::Cnn(_) => "cnn",
    }
}

/// Steps in the architecture's program. The counts that shape the program are bounded first
/// (as the engine bounds them when it loads weights), so a hostile manifest cannot make the
/// registry build a program of 2^60 layers.
pub fn program_steps(architecture: &Architecture) -> Result<u64, ModelsError> {
    let bounded = match architecture {
        Architecture::Bert(config) => (1..=ARCHITECTURE_LAYERS_MAX).contains(&config.layers),
        Architecture::Llama(config) => (1..=ARCHITECTURE_LAYERS_MAX).contains(&config.layers),
        Architecture::Mlp(config) => (2..=64).contains(&config.widths.len()),
        Architecture::Cnn(config) => {
            config.convs.len() <= 32 && (1..=32).contains(&config.dense.len())
        }
    };
    if !bounded {
        return Err(ModelsError::Architecture(format!(
            "a {} model's layer counts are out of bounds (bert/llama: 1..={ARCHITECTURE_LAYERS_MAX} \
             layers; mlp: 2..=64 widths; cnn: 0..=32 convolutions and 1..=32 dense layers)",
            architecture_name(architecture)
        )));
    }
    Ok(architecture.program().len() as u64)
}

/// The files an architecture needs: BERT, MLP and CNN one safetensors file (and a
/// tokenizer.json exactly when the manifest names a tokenizer); Llama one GGUF file, which
/// holds its tokenizer too.
fn check_file_kinds(manifest: &ModelManifest, files: &[ModelFile]) -> Result<(), ModelsError> {
    let count = |kind: FileKind| files.iter().filter(|f| f.kind == kind).count();
    let architecture = architecture_name(&manifest.architecture);
    let wrong = |reason: &str| ModelsError::FileKinds {
        architecture,
        reason: reason.to_string(),
    };
    match &manifest.architecture {
        Architecture::Llama(_) => {
            if files.len() != 1 || count(FileKind::Gguf) != 1 {
                return Err(wrong("it needs exactly one gguf file"));
            }
            if manifest.tokenizer.is_none() {
                return Err(wrong(
                    "its tokenizer comes from the gguf file; the manifest must name it",
                ));
            }
        }
        Architecture::Bert(_) | Architecture::Mlp(_) | Architecture::Cnn(_) => {
            let tokenizers = usize::from(manifest.tokenizer.is_some());
            if count(FileKind::Safetensors) != 1 || count(FileKind::Gguf) != 0 {
                return Err(wrong(
                    "it needs exactly one safetensors file and no gguf file",
                ));
            }
            if count(FileKind::TokenizerJson) != tokenizers {
                return Err(wrong(if tokenizers == 1 {
                    "the manifest names a tokenizer: it needs one tokenizer_json file"
                } else {
                    "the manifest names no tokenizer: it takes no tokenizer_json file"
                }));
            }
        }
    }
    Ok(())
}

/// Everything about a registration that needs no state; returns the manifest and the length of
/// its program.
fn check_registration(msg: &RegisterModel) -> Result<(ModelManifest, u64), ModelsError> {
    let manifest = decode_manifest(&msg.manifest)?;
    if msg.files.is_empty() || msg.files.len() > MODEL_FILES_MAX {
        return Err(ModelsError::FileCount {
            got: msg.files.len(),
            max: MODEL_FILES_MAX,
        });
    }
    check_file_kinds(&manifest, &msg.files)?;
    for (file, commitment) in (0u32..).zip(&msg.files) {
        if commitment.bytes == 0 {
            return Err(ModelsError::EmptyFile { file });
        }
        if commitment.chunk_bytes == 0 || commitment.chunk_bytes > MODEL_CHUNK_BYTES_MAX {
            return Err(ModelsError::ChunkSize {
                file,
                got: commitment.chunk_bytes,
                max: MODEL_CHUNK_BYTES_MAX,
            });
        }
        if commitment.chunk_count() > FILE_CHUNKS_MAX {
            return Err(ModelsError::TooManyChunks {
                file,
                bytes: commitment.bytes,
                chunk_bytes: commitment.chunk_bytes,
                max: FILE_CHUNKS_MAX,
            });
        }
    }
    let text = msg.lineage.training.text_bytes();
    if text > LINEAGE_TEXT_BYTES_MAX {
        return Err(ModelsError::LineageTooLong {
            got: text,
            max: LINEAGE_TEXT_BYTES_MAX,
        });
    }
    let steps = program_steps(&manifest.architecture)?;
    Ok((manifest, steps))
}

/// Mempool admission of a registration: the manifest decodes (bounded, canonical, this
/// engine's version), the files suit the architecture, chunk sizes and lineage are in bounds.
pub fn check_register_shape(msg: &RegisterModel) -> Result<(), ModelsError> {
    check_registration(msg).map(|_| ())
}

/// Mempool admission of an upload: a chunk of 1 to `MODEL_CHUNK_BYTES_MAX` bytes.
pub fn check_upload_shape(msg: &UploadModelChunk) -> Result<(), ModelsError> {
    if msg.bytes.is_empty() || msg.bytes.len() > MODEL_CHUNK_BYTES_MAX as usize {
        return Err(ModelsError::ChunkBytes {
            got: msg.bytes.len(),
            max: MODEL_CHUNK_BYTES_MAX,
        });
    }
    Ok(())
}

/// The deposit for files of `bytes` bytes in all: `model_deposit_per_mib` per MiB, rounded up,
/// and at least `model_deposit_min`.
pub fn registration_deposit(params: &Params, bytes: u64) -> Result<Amount, ArithmeticError> {
    let mib = u128::from(bytes.div_ceil(1 << 20));
    let by_size = params.models.model_deposit_per_mib.checked_mul(mib)?;
    Ok(by_size.max(params.models.model_deposit_min))
}

/// Register a model: an id not uploading or active, files within the chain's size limit, a
/// registered parent, the deposit escrowed. The model waits for its chunks in `Uploading`
/// until `model_upload_blocks` after this block.
pub fn execute_register(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &RegisterModel,
) -> Result<(), ModelsError> {
    register(store, params, ctx, signer, msg, true)
}

/// Register a genesis model: as a transaction would, but without a deposit (the genesis file
/// is the chain's own word, and its models are uploaded in the same breath).
pub fn register_at_genesis(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    publisher: &AccountId,
    msg: &RegisterModel,
) -> Result<(), ModelsError> {
    register(store, params, ctx, publisher, msg, false)
}

fn register(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &RegisterModel,
    with_deposit: bool,
) -> Result<(), ModelsError> {
    let (manifest, steps) = check_registration(msg)?;
    let id = manifest.model_id();
    if state::model(store, &id).is_some_and(|record| !record.status.is_failed()) {
        return Err(ModelsError::AlreadyRegistered(id));
    }
    let (chunks_total, bytes_total) = file_totals(params, msg)?;
    check_parent(store, msg)?;
    let deposit = if with_deposit {
        registration_deposit(params, bytes_total).map_err(|_| ModelsError::Overflow)?
    } else {
        Amount::ZERO
    };
    if !deposit.is_zero() {
        bank::account_to_pool(store, signer, Pool::ModelDeposits, deposit)?;
    }
    let expires = ctx
        .height
        .plus(params.models.model_upload_blocks)
        .map_err(|_| ModelsError::Overflow)?;
    state::set_expiry(store, expires, &id);
    let record = ModelRecord {
        id,
        name: manifest.name.clone(),
        manifest: msg.manifest.clone(),
        publisher: *signer,
        files: msg.files.clone(),
        lineage: msg.lineage.clone(),
        steps,
        text: manifest.tokenizer.is_some(),
        registered: ctx.height,
        status: ModelStatus::Uploading {
            chunks_stored: 0,
            chunks_total,
            deposit,
            expires,
        },
    };
    state::set_model(store, &record);
    store.emit(ModelsEvent::ModelRegistered {
        model: id,
        publisher: *signer,
        deposit,
        expires,
    });
    Ok(())
}

/// The chunks and bytes of a registration's files in all, refusing a file above
/// `model_file_bytes_max`.
fn file_totals(params: &Params, msg: &RegisterModel) -> Result<(u64, u64), ModelsError> {
    let max = params.models.model_file_bytes_max;
    let mut chunks_total: u64 = 0;
    let mut bytes_total: u64 = 0;
    for (file, commitment) in (0u32..).zip(&msg.files) {
        if commitment.bytes > max {
            return Err(ModelsError::FileTooLarge {
                file,
                bytes: commitment.bytes,
                max,
            });
        }
        // At most MODEL_FILES_MAX files of at most u32::MAX chunks each: cannot overflow.
        chunks_total = chunks_total
            .checked_add(commitment.chunk_count())
            .expect("at most four files of u32::MAX chunks each");
        // At most MODEL_FILES_MAX files of at most `max` (a u64) bytes: checked all the same.
        bytes_total = bytes_total
            .checked_add(commitment.bytes)
            .ok_or(ModelsError::Overflow)?;
    }
    Ok((chunks_total, bytes_total))
}

/// The parent a registration names, if any, must be active: a lineage names a model that
/// exists, and since an active record never changes, no re-registration can close a cycle
/// through it.
fn check_parent(store: &Store, msg: &RegisterModel) -> Result<(), ModelsError> {
    let Some(parent) = msg.lineage.parent else {
        return Ok(());
    };
    match state::model(store, &parent) {
        None => Err(ModelsError::UnknownParent(parent)),
        Some(record) if !matches!(record.status, ModelStatus::Active { .. }) => {
            Err(ModelsError::ParentNotActive(parent))
        }
        Some(_) => Ok(()),
    }
}

/// Store one chunk of an uploading model, after checking it against its file's commitment.
/// Anyone may upload: a chunk proves itself. The last chunk activates the model if its files
/// make the manifest's model (returning the publisher's deposit), and rejects it (deleting its
/// chunks, burning the deposit) if they do not; either way the transaction succeeds, since
/// every chunk matched what the publisher committed to.
pub fn execute_upload(
    store: &mut Store,
    _params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
    _signer: &AccountId,
    msg: &UploadModelChunk,
) -> Result<(), ModelsError> {
    check_upload_shape(msg)?;
    let mut record = state::model(store, &msg.model).ok_or(ModelsError::UnknownModel(msg.model))?;
    let ModelStatus::Uploading {
        chunks_stored,
        chunks_total,
        deposit,
        expires,
    } = record.status
    else {
        return Err(ModelsError::NotUploading(msg.model));
    };
    check_chunk(store, &record, msg)?;
    state::set_chunk(store, &msg.model, msg.file, msg.index, &msg.bytes);
    let chunks_stored = chunks_stored
        .checked_add(1)
        .filter(|stored| *stored <= chunks_total)
        .expect("an uploading model stores fewer chunks than it has (invariant)");
    if chunks_stored < chunks_total {
        record.status = ModelStatus::Uploading {
            chunks_stored,
            chunks_total,
            deposit,
            expires,
        };
        state::set_model(store, &record);
        return Ok(());
    }
    state::clear_expiry(store, expires, &record.id);
    match load_record(store, &record) {
        Ok(model) => activate(store, ctx, cache, record, model, deposit),
        Err(reason) => reject(store, record, reason, deposit),
    }
}

/// Check an uploaded chunk against its file's commitment in `record`: the file exists, the
/// index and length fit it, the proof is for that position and proves the bytes, and the chunk
/// is not stored yet. Changes nothing.
fn check_chunk(
    store: &Store,
    record: &ModelRecord,
    msg: &UploadModelChunk,
) -> Result<(), ModelsError> {
    let (file, index) = (msg.file, msg.index);
    let commitment = record
        .files
        .get(file as usize)
        .ok_or(ModelsError::UnknownFile {
            model: msg.model,
            file,
            files: record.files.len() as u32,
        })?;
    let chunks = commitment.chunk_count();
    let expected = commitment.chunk_len(index).ok_or(ModelsError::ChunkIndex {
        file,
        index,
        chunks,
    })?;
    if msg.bytes.len() as u64 != expected {
        return Err(ModelsError::ChunkLength {
            file,
            index,
            expected,
            got: msg.bytes.len(),
        });
    }
    if msg.proof.index != u64::from(index) || msg.proof.leaf_count != chunks {
        return Err(ModelsError::ProofPosition {
            file,
            index,
            chunks,
            proof_index: msg.proof.index,
            proof_leaves: msg.proof.leaf_count,
        });
    }
    if state::has_chunk(store, &msg.model, file, index) {
        return Err(ModelsError::ChunkStored { file, index });
    }
    msg.proof
        .verify(&commitment.chunks_root, chunk_hash(&msg.bytes).as_bytes())
        .map_err(|e| ModelsError::BadProof {
            file,
            index,
            reason: e.to_string(),
        })?;
    Ok(())
}

/// The last chunk is in and the files make the manifest's model: return the publisher's
/// deposit, mark the model active and cache it.
fn activate(
    store: &mut Store,
    ctx: &BlockContext,
    cache: &ModelCache,
    mut record: ModelRecord,
    model: surety_infer::Model,
    deposit: Amount,
) -> Result<(), ModelsError> {
    if !deposit.is_zero() {
        bank::pool_to_account(store, Pool::ModelDeposits, &record.publisher, deposit)?;
    }
    record.status = ModelStatus::Active { height: ctx.height };
    state::set_model(store, &record);
    cache.insert(record.id, Arc::new(model));
    store.emit(ModelsEvent::ModelActivated {
        model: record.id,
        deposit_returned: deposit,
    });
    Ok(())
}

/// The last chunk is in but the files do not make the manifest's model: burn the deposit,
/// delete the chunks and mark the model rejected, saying why.
fn reject(
    store: &mut Store,
    mut record: ModelRecord,
    reason: String,
    deposit: Amount,
) -> Result<(), ModelsError> {
    bank::pool_to_pool(store, Pool::ModelDeposits, Pool::Burned, deposit)?;
    delete_chunks(store, &record);
    let reason = bounded_reason(reason);
    record.status = ModelStatus::Rejected {
        reason: reason.clone(),
    };
    state::set_model(store, &record);
    store.emit(ModelsEvent::ModelRejected {
        model: record.id,
        reason,
        deposit_burned: deposit,
    });
    Ok(())
}

/// End of block: uploads whose time ran out expire. Their chunks are deleted and their deposits
/// burned; the id may be registered again.
pub fn end_block(store: &mut Store, ctx: &BlockContext) -> Result<(), ModelsError> {
    for id in state::take_expiring(store, ctx.height) {
        let Some(mut record) = state::model(store, &id) else {
            continue;
        };
        let ModelStatus::Uploading {
            deposit, expires, ..
        } = record.status
        else {
            continue;
        };
        if expires != ctx.height {
            continue;
        }
        bank::pool_to_pool(store, Pool::ModelDeposits, Pool::Burned, deposit)?;
        delete_chunks(store, &record);
        record.status = ModelStatus::Expired { height: ctx.height };
        state::set_model(store, &record);
        store.emit(ModelsEvent::ModelExpired {
            model: id,
            deposit_burned: deposit,
        });
    }
    Ok(())
}

/// Delete the chunks of `record` that are stored: work in proportion to what was uploaded (and
/// paid for), never to the chunk count a registration claims, which may be in the billions.
fn delete_chunks(store: &mut Store, record: &ModelRecord) {
    for key in store.prefix_keys(&state::model_chunks_prefix(&record.id)) {
        store.delete(&key);
    }
}

/// Cut a reason to `REJECTION_REASON_BYTES_MAX` bytes at a character boundary.
fn bounded_reason(mut reason: String) -> String {
    if reason.len() > REJECTION_REASON_BYTES_MAX {
        // The last boundary at or below the limit; 0 always is one.
        let end = (0..=REJECTION_REASON_BYTES_MAX)
            .rev()
            .find(|&end| reason.is_char_boundary(end))
            .unwrap_or(0);
        reason.truncate(end);
    }
    reason
}

/// Build the model that `files` make, and require it to be the one `manifest` names. Used at
/// activation, when a node loads an active model from state, and by downloaders checking what
/// they fetched. Pure: the same bytes give the same model or the same error on every node.
pub fn build_model(
    manifest: &ModelManifest,
    files: &[(FileKind, &[u8])],
) -> Result<surety_infer::Model, String> {
    let file_of = |kind: FileKind| files.iter().find(|(k, _)| *k == kind).map(|(_, b)| *b);
    let (weights, tokenizer) = match &manifest.architecture {
        Architecture::Llama(_) => {
            let bytes = file_of(FileKind::Gguf).ok_or("no gguf file")?;
            let gguf = surety_infer::gguf::load_gguf(bytes).map_err(|e| format!("gguf: {e}"))?;
            let tokenizer = surety_infer::tokenizer::TextTokenizer::from_gguf(&gguf)
                .map_err(|e| format!("gguf tokenizer: {e}"))?;
            (gguf.weights, Some(tokenizer))
        }
        Architecture::Bert(_) | Architecture::Mlp(_) | Architecture::Cnn(_) => {
            let bytes = file_of(FileKind::Safetensors).ok_or("no safetensors file")?;
            let weights = surety_infer::safetensors_loader::load_safetensors(bytes)
                .map_err(|e| format!("safetensors: {e}"))?;
            let tokenizer = match file_of(FileKind::TokenizerJson) {
                None => None,
                Some(bytes) => {
                    let json = std::str::from_utf8(bytes)
                        .map_err(|e| format!("tokenizer.json is not UTF-8: {e}"))?;
                    Some(
                        surety_infer::tokenizer::TextTokenizer::from_json(json)
                            .map_err(|e| format!("tokenizer.json: {e}"))?,
                    )
                }
            };
            (weights, tokenizer)
        }
    };
    let model = surety_infer::Model::new(
        &manifest.name,
        manifest.architecture.clone(),
        weights,
        tokenizer,
    )
    .map_err(|e| format!("the weights do not fit the architecture: {e}"))?;
    let made = model.manifest();
    if made != manifest {
        let field = if made.weights_root != manifest.weights_root {
            format!(
                "weights root is {}, the manifest says {}",
                made.weights_root, manifest.weights_root
            )
        } else if made.tensor_count != manifest.tensor_count {
            format!(
                "tensor count is {}, the manifest says {}",
                made.tensor_count, manifest.tensor_count
            )
        } else if made.tokenizer != manifest.tokenizer {
            format!(
                "tokenizer hash is {:?}, the manifest says {:?}",
                made.tokenizer, manifest.tokenizer
            )
        } else {
            "the architecture differs".to_string()
        };
        return Err(format!(
            "the files do not make the registered model: {field}"
        ));
    }
    Ok(model)
}

/// Load a registered model from its stored chunks (every chunk must be present).
fn load_record(store: &Store, record: &ModelRecord) -> Result<surety_infer::Model, String> {
    let manifest = decode_manifest(&record.manifest).map_err(|e| e.to_string())?;
    let contents = (0u32..)
        .zip(&record.files)
        .map(|(file, _)| {
            state::assemble_file(store, record, file)
                .ok_or_else(|| format!("file {file} is not fully stored"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let files: Vec<(FileKind, &[u8])> = record
        .files
        .iter()
        .zip(&contents)
        .map(|(commitment, bytes)| (commitment.kind, bytes.as_slice()))
        .collect();
    build_model(&manifest, &files)
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
    let record = active(store, id)?;
    if let Some(model) = cache.get(id) {
        return Ok(model);
    }
    let model = load_record(store, &record)
        .map(Arc::new)
        .map_err(|reason| ModelsError::Load { model: *id, reason })?;
    cache.insert(*id, model.clone());
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use msg::ModelFile;
    use surety_infer::models::mlp::MlpConfig;
    use surety_types::Hash;

    fn manifest(architecture: Architecture, tokenizer: Option<Hash>) -> ModelManifest {
        ModelManifest {
            name: "m".into(),
            engine_version: surety_infer::ENGINE_VERSION,
            architecture,
            weights_root: Hash::ZERO,
            tensor_count: 2,
            tokenizer,
        }
    }

    fn file(kind: FileKind) -> ModelFile {
        ModelFile {
            kind,
            bytes: 100,
            chunk_bytes: 10,
            chunks_root: Hash::ZERO,
        }
    }

    fn registration(manifest: &ModelManifest, files: Vec<ModelFile>) -> RegisterModel {
        RegisterModel {
            manifest: surety_types::encoding::encode(manifest),
            files,
            lineage: Lineage::default(),
        }
    }

    fn mlp() -> Architecture {
        Architecture::Mlp(MlpConfig {
            widths: vec![4, 3, 2],
        })
    }

    #[test]
    fn a_chunk_length_is_the_chunk_size_except_the_remainder_at_the_end() {
        let f = ModelFile {
            bytes: 25,
            ..file(FileKind::Safetensors)
        };
        assert_eq!(f.chunk_count(), 3);
        assert_eq!(f.chunk_len(0), Some(10));
        assert_eq!(f.chunk_len(2), Some(5));
        assert_eq!(f.chunk_len(3), None);
    }

    #[test]
    fn an_mlp_takes_one_safetensors_file_and_no_tokenizer() {
        let plain = manifest(mlp(), None);
        assert!(
            check_register_shape(&registration(&plain, vec![file(FileKind::Safetensors)])).is_ok()
        );
        for files in [
            vec![],
            vec![file(FileKind::Gguf)],
            vec![file(FileKind::Safetensors), file(FileKind::TokenizerJson)],
            vec![file(FileKind::Safetensors), file(FileKind::Safetensors)],
        ] {
            assert!(check_register_shape(&registration(&plain, files)).is_err());
        }
        let text = manifest(mlp(), Some(Hash::ZERO));
        assert!(check_register_shape(&registration(
            &text,
            vec![file(FileKind::TokenizerJson), file(FileKind::Safetensors)]
        ))
        .is_ok());
        assert!(matches!(
            check_register_shape(&registration(&text, vec![file(FileKind::Safetensors)])),
            Err(ModelsError::FileKinds { .. })
        ));
    }

    #[test]
    fn a_manifest_from_another_engine_version_is_refused() {
        let mut other = manifest(mlp(), None);
        other.engine_version += 1;
        assert!(matches!(
            check_register_shape(&registration(&other, vec![file(FileKind::Safetensors)])),
            Err(ModelsError::EngineVersion { .. })
        ));
    }

    #[test]
    fn a_manifest_with_trailing_bytes_or_garbage_is_refused() {
        let mut msg = registration(&manifest(mlp(), None), vec![file(FileKind::Safetensors)]);
        msg.manifest.push(0);
        assert!(matches!(
            check_register_shape(&msg),
            Err(ModelsError::ManifestDecode(_))
        ));
        msg.manifest = vec![0xff; 40];
        assert!(check_register_shape(&msg).is_err());
    }

    #[test]
    fn an_architecture_of_absurdly_many_layers_is_refused_before_its_program_is_built() {
        let huge = Architecture::Mlp(MlpConfig {
            widths: vec![1; 65],
        });
        assert!(matches!(
            check_register_shape(&registration(
                &manifest(huge, None),
                vec![file(FileKind::Safetensors)]
            )),
            Err(ModelsError::Architecture(_))
        ));
        let empty = Architecture::Mlp(MlpConfig { widths: vec![] });
        assert!(check_register_shape(&registration(
            &manifest(empty, None),
            vec![file(FileKind::Safetensors)]
        ))
        .is_err());
    }

    #[test]
    fn chunk_sizes_lineage_text_and_empty_files_are_bounded() {
        let m = manifest(mlp(), None);
        let with = |f: ModelFile| registration(&m, vec![f]);
        let zero = ModelFile {
            chunk_bytes: 0,
            ..file(FileKind::Safetensors)
        };
        let big = ModelFile {
            chunk_bytes: MODEL_CHUNK_BYTES_MAX + 1,
            ..file(FileKind::Safetensors)
        };
        let empty = ModelFile {
            bytes: 0,
            ..file(FileKind::Safetensors)
        };
        assert!(matches!(
            check_register_shape(&with(zero)),
            Err(ModelsError::ChunkSize { .. })
        ));
        assert!(matches!(
            check_register_shape(&with(big)),
            Err(ModelsError::ChunkSize { .. })
        ));
        assert!(matches!(
            check_register_shape(&with(empty)),
            Err(ModelsError::EmptyFile { .. })
        ));
        let mut long = with(file(FileKind::Safetensors));
        long.lineage.training = Training::OffChain {
            description: "x".repeat(LINEAGE_TEXT_BYTES_MAX + 1),
        };
        assert!(matches!(
            check_register_shape(&long),
            Err(ModelsError::LineageTooLong { .. })
        ));
    }

    #[test]
    fn a_long_rejection_reason_is_cut_at_a_character_boundary() {
        let reason = bounded_reason("é".repeat(REJECTION_REASON_BYTES_MAX));
        assert!(reason.len() <= REJECTION_REASON_BYTES_MAX);
        assert!(reason.chars().all(|c| c == 'é'));
    }
}
