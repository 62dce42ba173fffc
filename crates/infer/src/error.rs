//! The engine's one error type. Model files, tokenizer files and activations handed to
//! [`crate::execute_step`] all come from outside, so every way they can be wrong is a typed
//! error here rather than a panic.

use crate::tensor::DType;

/// Everything that can be wrong with a model, an input or an activation.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// A model file that does not parse.
    #[error("model file is malformed: {0}")]
    Malformed(String),
    /// A model file past the size limit.
    #[error("model file is {actual} bytes, the limit is {limit} bytes")]
    TooLarge {
        /// Its size in bytes.
        actual: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A tensor the architecture needs is absent.
    #[error("tensor `{0}` is missing from the model")]
    MissingTensor(String),
    /// A tensor with the wrong shape for the architecture.
    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    TensorShape {
        /// The tensor.
        name: String,
        /// The shape the architecture needs.
        expected: Vec<usize>,
        /// The shape in the file.
        actual: Vec<usize>,
    },
    /// A tensor stored in a type the engine does not read.
    #[error("tensor `{name}` has unsupported dtype {dtype}")]
    UnsupportedDType {
        /// The tensor.
        name: String,
        /// The type named in the file.
        dtype: String,
    },
    /// A metadata key is missing or holds the wrong type.
    #[error("model metadata `{0}` is missing or has the wrong type")]
    MissingMetadata(String),
    /// A configuration outside what the engine supports (or its limits).
    #[error("model configuration is not supported: {0}")]
    UnsupportedConfig(String),
    /// The tokenizer file or an encoding failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// More tokens than the model's positions.
    #[error("input has {actual} tokens, the limit is {limit}")]
    InputTooLong {
        /// Tokens given.
        actual: usize,
        /// Tokens allowed.
        limit: usize,
    },
    /// An empty input, or one whose length does not fit the shape.
    #[error("input is empty")]
    EmptyInput,
    /// A token id past the vocabulary.
    #[error("token id {id} is outside the vocabulary of {vocab} tokens")]
    TokenOutOfRange {
        /// The token id.
        id: u32,
        /// The vocabulary size.
        vocab: usize,
    },
    /// A step index past the program.
    #[error("step {index} does not exist: the program has {count} steps")]
    StepOutOfRange {
        /// The index asked for.
        index: usize,
        /// Steps in the program.
        count: usize,
    },
    /// An activation slot a step reads is absent.
    #[error("activation slot `{0}` is missing")]
    MissingSlot(String),
    /// An activation slot of the wrong element type.
    #[error("activation slot `{slot}` holds {actual:?}, the step needs {expected:?}")]
    SlotDType {
        /// The slot.
        slot: String,
        /// The type the step reads.
        expected: DType,
        /// The type it holds.
        actual: DType,
    },
    /// An activation slot of the wrong shape.
    #[error("activation slot `{slot}` has shape {actual:?}: {reason}")]
    SlotShape {
        /// The slot.
        slot: String,
        /// Its shape.
        actual: Vec<usize>,
        /// What the step needs.
        reason: String,
    },
    /// A sample index past the dataset.
    #[error("sample {index} does not exist: the dataset has {count} samples")]
    SampleOutOfRange {
        /// The index asked for.
        index: usize,
        /// Samples in the dataset.
        count: usize,
    },
    /// Activation bytes that do not decode, or break a limit.
    #[error("activation is malformed: {0}")]
    MalformedActivation(String),
}

/// The engine's result type.
pub type Result<T, E = InferError> = std::result::Result<T, E>;
