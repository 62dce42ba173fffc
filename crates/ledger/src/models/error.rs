//! Why a model registration or upload is refused. Every variant is bad input from a publisher or
//! an uploader (or a publisher short of the deposit); none is a bug.

use surety_types::ModelId;

/// Why a model registration, a chunk upload, or loading a registered model is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelsError {
    /// No model is registered under this id.
    #[error("no model {0}")]
    UnknownModel(ModelId),
    /// The model is registered but not active, so it serves no jobs or services.
    #[error("model {0} is not active (its files are not all uploaded, or were rejected)")]
    NotActive(ModelId),
    /// The manifest bytes do not decode (the decoder's reason given).
    #[error("the manifest does not decode: {0}")]
    ManifestDecode(String),
    /// The manifest decodes but is not in canonical form, so its id (its hash) would not be
    /// unique.
    #[error("the manifest bytes are not the canonical encoding of the manifest they decode to")]
    ManifestNotCanonical,
    /// The manifest targets another inference engine version than the chain runs.
    #[error("the manifest is for engine version {got}; this chain runs version {expected}")]
    EngineVersion {
        /// The manifest's engine version.
        got: u32,
        /// The chain's (`surety_infer::ENGINE_VERSION`).
        expected: u32,
    },
    /// The model name is empty or longer than `MODEL_NAME_BYTES_MAX`.
    #[error("the model name must be 1 to {max} bytes, got {got}")]
    NameLength {
        /// The name's length in bytes.
        got: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The architecture's sizes (layers, widths) are out of the chain's bounds (which, given).
    #[error("the architecture is out of bounds: {0}")]
    Architecture(String),
    /// The registration lists no files or more than `MODEL_FILES_MAX`.
    #[error("a model has 1 to {max} files, got {got}")]
    FileCount {
        /// Files listed.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// The files' kinds do not fit the architecture (a missing tokenizer, a second weights
    /// file, …).
    #[error("wrong files for a {architecture} model: {reason}")]
    FileKinds {
        /// The manifest's architecture name.
        architecture: &'static str,
        /// What is missing or extra.
        reason: String,
    },
    /// A file of zero bytes.
    #[error("file {file} is empty")]
    EmptyFile {
        /// The file's index in the registration.
        file: u32,
    },
    /// A file's chunk size is zero or above `MODEL_CHUNK_BYTES_MAX`.
    #[error("file {file}: chunk size {got} is outside 1..={max} bytes")]
    ChunkSize {
        /// The file's index.
        file: u32,
        /// Its chunk size in bytes.
        got: u32,
        /// The limit in bytes.
        max: u32,
    },
    /// A file would be cut into more than `FILE_CHUNKS_MAX` chunks.
    #[error("file {file}: {bytes} bytes in chunks of {chunk_bytes} is more than {max} chunks")]
    TooManyChunks {
        /// The file's index.
        file: u32,
        /// Its size in bytes.
        bytes: u64,
        /// Its chunk size in bytes.
        chunk_bytes: u32,
        /// The chunk limit.
        max: u64,
    },
    /// A file is larger than the chain allows.
    #[error("file {file} is {bytes} bytes; the chain allows at most {max}")]
    FileTooLarge {
        /// The file's index.
        file: u32,
        /// Its size in bytes.
        bytes: u64,
        /// The limit in bytes.
        max: u64,
    },
    /// The lineage's free text is longer than `LINEAGE_TEXT_BYTES_MAX`.
    #[error("the lineage description is {got} bytes; the limit is {max}")]
    LineageTooLong {
        /// Its length in bytes.
        got: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A model with this id (this manifest) is already uploading or active.
    #[error("model {0} is already registered (uploading or active)")]
    AlreadyRegistered(ModelId),
    /// The lineage names a parent model that is not registered.
    #[error("the parent model {0} is not registered")]
    UnknownParent(ModelId),
    /// The lineage's parent model is registered but not active.
    #[error("the parent model {0} is not active (still uploading, rejected or expired)")]
    ParentNotActive(ModelId),
    /// The registration's total size, deposit or expiry height overflows.
    #[error("the registration's sizes or heights overflow")]
    Overflow,
    /// An upload carries no bytes or more than `MODEL_CHUNK_BYTES_MAX`.
    #[error("a chunk must carry 1 to {max} bytes, got {got}")]
    ChunkBytes {
        /// Bytes carried.
        got: usize,
        /// The limit in bytes.
        max: u32,
    },
    /// The model takes no uploads: it is active, rejected or expired.
    #[error("model {0} is not accepting uploads (it is active, rejected or expired)")]
    NotUploading(ModelId),
    /// An upload names a file the registration does not have.
    #[error("model {model} has {files} files; there is no file {file}")]
    UnknownFile {
        /// The model.
        model: ModelId,
        /// The file index named.
        file: u32,
        /// Files the registration has.
        files: u32,
    },
    /// An upload names a chunk past the end of its file.
    #[error("file {file} has {chunks} chunks; there is no chunk {index}")]
    ChunkIndex {
        /// The file's index.
        file: u32,
        /// The chunk index named.
        index: u32,
        /// Chunks the file has.
        chunks: u64,
    },
    /// An upload's bytes are not the length its chunk must have (every chunk is `chunk_bytes`
    /// but the last, which holds the remainder).
    #[error("chunk {index} of file {file} must be {expected} bytes, got {got}")]
    ChunkLength {
        /// The file's index.
        file: u32,
        /// The chunk's index.
        index: u32,
        /// The length the chunk must have.
        expected: u64,
        /// The length uploaded.
        got: usize,
    },
    /// An upload's Merkle proof is for another position than the chunk it carries.
    #[error(
        "the proof is for leaf {proof_index} of {proof_leaves}; chunk {index} of file {file} \
         is leaf {index} of {chunks}"
    )]
    ProofPosition {
        /// The file's index.
        file: u32,
        /// The chunk's index.
        index: u32,
        /// Chunks (leaves) the file has.
        chunks: u64,
        /// The leaf index the proof is for.
        proof_index: u64,
        /// The leaf count the proof is for.
        proof_leaves: u64,
    },
    /// An upload's chunk does not hash to the file's committed chunks root along its proof.
    #[error(
        "chunk {index} of file {file} does not match the file's committed chunks root: {reason}"
    )]
    BadProof {
        /// The file's index.
        file: u32,
        /// The chunk's index.
        index: u32,
        /// Why the proof fails.
        reason: String,
    },
    /// The chunk was uploaded already.
    #[error("chunk {index} of file {file} is already stored")]
    ChunkStored {
        /// The file's index.
        file: u32,
        /// The chunk's index.
        index: u32,
    },
    /// A publisher's files do not match the registration they are cut for (what differs, given).
    #[error("publishing: {0}")]
    Publish(String),
    /// An active model's stored files do not build the model its manifest names: the
    /// registered files are wrong, not the request.
    #[error("model {model} does not load from its stored files: {reason}")]
    Load {
        /// The model.
        model: ModelId,
        /// Why the build fails.
        reason: String,
    },
    /// The publisher cannot pay the registration deposit.
    #[error("the registration deposit: {0}")]
    Deposit(#[from] crate::bank::BankError),
}
