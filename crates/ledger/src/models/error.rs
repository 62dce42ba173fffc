//! Why a model registration or upload is refused. Every variant is bad input from a publisher or
//! an uploader (or a publisher short of the deposit); none is a bug.

use surety_types::ModelId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelsError {
    #[error("no model {0}")]
    UnknownModel(ModelId),
    #[error("model {0} is not active (its files are not all uploaded, or were rejected)")]
    NotActive(ModelId),
    #[error("the manifest does not decode: {0}")]
    ManifestDecode(String),
    #[error("the manifest bytes are not the canonical encoding of the manifest they decode to")]
    ManifestNotCanonical,
    #[error("the manifest is for engine version {got}; this chain runs version {expected}")]
    EngineVersion { got: u32, expected: u32 },
    #[error("the model name must be 1 to {max} bytes, got {got}")]
    NameLength { got: usize, max: usize },
    #[error("the architecture is out of bounds: {0}")]
    Architecture(String),
    #[error("a model has 1 to {max} files, got {got}")]
    FileCount { got: usize, max: usize },
    #[error("wrong files for a {architecture} model: {reason}")]
    FileKinds {
        architecture: &'static str,
        reason: String,
    },
    #[error("file {file} is empty")]
    EmptyFile { file: u32 },
    #[error("file {file}: chunk size {got} is outside 1..={max} bytes")]
    ChunkSize { file: u32, got: u32, max: u32 },
    #[error("file {file}: {bytes} bytes in chunks of {chunk_bytes} is more than {max} chunks")]
    TooManyChunks {
        file: u32,
        bytes: u64,
        chunk_bytes: u32,
        max: u64,
    },
    #[error("file {file} is {bytes} bytes; the chain allows at most {max}")]
    FileTooLarge { file: u32, bytes: u64, max: u64 },
    #[error("the lineage description is {got} bytes; the limit is {max}")]
    LineageTooLong { got: usize, max: usize },
    #[error("model {0} is already registered (uploading or active)")]
    AlreadyRegistered(ModelId),
    #[error("the parent model {0} is not registered")]
    UnknownParent(ModelId),
    #[error("the parent model {0} is not active (still uploading, rejected or expired)")]
    ParentNotActive(ModelId),
    #[error("the registration's sizes or heights overflow")]
    Overflow,
    #[error("a chunk must carry 1 to {max} bytes, got {got}")]
    ChunkBytes { got: usize, max: u32 },
    #[error("model {0} is not accepting uploads (it is active, rejected or expired)")]
    NotUploading(ModelId),
    #[error("model {model} has {files} files; there is no file {file}")]
    UnknownFile {
        model: ModelId,
        file: u32,
        files: u32,
    },
    #[error("file {file} has {chunks} chunks; there is no chunk {index}")]
    ChunkIndex { file: u32, index: u32, chunks: u64 },
    #[error("chunk {index} of file {file} must be {expected} bytes, got {got}")]
    ChunkLength {
        file: u32,
        index: u32,
        expected: u64,
        got: usize,
    },
    #[error(
        "the proof is for leaf {proof_index} of {proof_leaves}; chunk {index} of file {file} \
         is leaf {index} of {chunks}"
    )]
    ProofPosition {
        file: u32,
        index: u32,
        chunks: u64,
        proof_index: u64,
        proof_leaves: u64,
    },
    #[error(
        "chunk {index} of file {file} does not match the file's committed chunks root: {reason}"
    )]
    BadProof {
        file: u32,
        index: u32,
        reason: String,
    },
    #[error("chunk {index} of file {file} is already stored")]
    ChunkStored { file: u32, index: u32 },
    #[error("publishing: {0}")]
    Publish(String),
    #[error("model {model} does not load from its stored files: {reason}")]
    Load { model: ModelId, reason: String },
    #[error("the registration deposit: {0}")]
    Deposit(#[from] crate::bank::BankError),
}
