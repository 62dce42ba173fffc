//! Model registry transactions: register a manifest with its files' commitments, then upload
//! the files in chunks.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::merkle::MerkleProof;
use surety_types::{Hash, ModelId};

/// Largest chunk of a model file carried by one transaction, in bytes (below `TX_BYTES_MAX`
/// with room for the proof and the envelope).
pub const MODEL_CHUNK_BYTES_MAX: u32 = 48 * 1024;
/// Most files one model may have.
pub const MODEL_FILES_MAX: usize = 4;
/// Longest free-text lineage field, in bytes.
pub const LINEAGE_TEXT_BYTES_MAX: usize = 1024;
/// Largest encoded manifest, in bytes (a manifest is an architecture's numbers and a few
/// hashes; this bounds every list inside it).
pub const MANIFEST_BYTES_MAX: usize = 16 * 1024;
/// Longest model name, in bytes.
pub const MODEL_NAME_BYTES_MAX: usize = 128;
/// Most layers an architecture may declare (the engine refuses more at load time; the registry
/// refuses them before building the program, whose length grows with them).
pub const ARCHITECTURE_LAYERS_MAX: u64 = 1024;
/// Most chunks in one file: chunk indices are `u32`.
pub const FILE_CHUNKS_MAX: u64 = u32::MAX as u64;

/// What a model file holds, which fixes how the engine reads it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// Weights in safetensors (BERT, MLP, CNN).
    Safetensors,
    /// Weights and tokenizer in one GGUF file (Llama).
    Gguf,
    /// A Hugging Face `tokenizer.json`.
    TokenizerJson,
}

/// A model file's commitment: its length and the Merkle root over its chunks' hashes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ModelFile {
    /// What the file holds.
    pub kind: FileKind,
    /// The file's length in bytes.
    pub bytes: u64,
    /// Every chunk but the last has exactly this many bytes.
    pub chunk_bytes: u32,
    /// `MerkleTree::from_leaves` over `chunk_hash(chunk)` of every chunk, in order.
    pub chunks_root: Hash,
}

/// Where a model came from.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Lineage {
    /// The model this one was derived from (fine-tuned, quantised, or trained from).
    pub parent: Option<ModelId>,
    /// How the model was made from its parent, if it has one.
    pub training: Training,
}

/// How a model was trained or derived, as its publisher claims it (only `Federated` is
/// checked against this chain's own records).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Training {
    /// Published as is (no training claimed on this chain).
    #[default]
    Published,
    /// Derived off-chain; a description of how (dataset, recipe, quantisation).
    OffChain {
        /// Dataset, recipe or quantisation, at most `LINEAGE_TEXT_BYTES_MAX` bytes.
        description: String,
    },
    /// The result of a federated-learning task round on this chain.
    Federated {
        /// The federated-learning task.
        task: u64,
        /// The task's round that produced the model.
        round: u64,
    },
}

/// Register a model: its manifest, its files' commitments and its lineage. The publisher pays
/// a deposit, returned when every chunk has been uploaded and the files make the manifest's
/// model, burned if they do not or the upload expires.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegisterModel {
    /// `surety_infer::ModelManifest`, borsh-encoded; `model_id = H(manifest)`. Hex in JSON.
    #[serde(with = "surety_types::encoding::hex_bytes")]
    pub manifest: Vec<u8>,
    /// The files the model is built from, by commitment (the bytes follow in uploads).
    pub files: Vec<ModelFile>,
    /// Where the model came from.
    pub lineage: Lineage,
}

/// Upload one chunk of a registered model's file, with its proof against the file's
/// committed chunks root. Anyone may upload; the last chunk activates (or rejects) the model.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct UploadModelChunk {
    /// The model being uploaded.
    pub model: ModelId,
    /// Index into the registration's `files`.
    pub file: u32,
    /// The chunk's index in its file.
    pub index: u32,
    /// Hex in JSON.
    #[serde(with = "surety_types::encoding::hex_bytes")]
    pub bytes: Vec<u8>,
    /// Proof of `chunk_hash(bytes)` at `index` against the file's `chunks_root`.
    pub proof: MerkleProof,
}

/// The Merkle leaf of a chunk.
pub fn chunk_hash(bytes: &[u8]) -> Hash {
    Hash::of("surety.model-chunk", bytes)
}

impl ModelFile {
    /// How many chunks the file is cut into.
    pub fn chunk_count(&self) -> u64 {
        self.bytes.div_ceil(u64::from(self.chunk_bytes.max(1)))
    }

    /// The length chunk `index` must have: `chunk_bytes`, except the last, which holds the
    /// remainder. `None` past the end.
    pub fn chunk_len(&self, index: u32) -> Option<u64> {
        let count = self.chunk_count();
        let index = u64::from(index);
        if index >= count {
            return None;
        }
        let before = index.checked_mul(u64::from(self.chunk_bytes))?;
        Some(
            self.bytes
                .checked_sub(before)?
                .min(u64::from(self.chunk_bytes)),
        )
    }
}

impl Training {
    /// The free text the lineage carries, for the length limit.
    pub fn text_bytes(&self) -> usize {
        match self {
            Training::OffChain { description } => description.len(),
            Training::Published | Training::Federated { .. } => 0,
        }
    }
}
