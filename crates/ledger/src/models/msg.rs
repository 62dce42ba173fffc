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
    pub kind: FileKind,
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
    pub training: Training,
}

#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Training {
    /// Published as is (no training claimed on this chain).
    #[default]
    Published,
    /// Derived off-chain; a description of how (dataset, recipe, quantisation).
    OffChain { description: String },
    /// The result of a federated-learning task round on this chain.
    Federated { task: u64, round: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegisterModel {
    /// `surety_infer::ModelManifest`, borsh-encoded; `model_id = H(manifest)`.
    pub manifest: Vec<u8>,
    pub files: Vec<ModelFile>,
    pub lineage: Lineage,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct UploadModelChunk {
    pub model: ModelId,
    /// Index into the registration's `files`.
    pub file: u32,
    pub index: u32,
    pub bytes: Vec<u8>,
    /// Proof of `chunk_hash(bytes)` at `index` against the file's `chunks_root`.
    pub proof: MerkleProof,
}

/// The Merkle leaf of a chunk.
pub fn chunk_hash(bytes: &[u8]) -> Hash {
    Hash::of("surety.model-chunk", bytes)
}
