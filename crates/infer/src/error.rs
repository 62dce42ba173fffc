//! The engine's one error type. Model files, tokenizer files and activations handed to
//! [`crate::execute_step`] all come from outside, so every way they can be wrong is a typed
//! error here rather than a panic.

use crate::tensor::DType;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("model file is malformed: {0}")]
    Malformed(String),
    #[error("model file is {actual} bytes, the limit is {limit} bytes")]
    TooLarge { actual: u64, limit: u64 },
    #[error("tensor `{0}` is missing from the model")]
    MissingTensor(String),
    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    TensorShape {
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },
    #[error("tensor `{name}` has unsupported dtype {dtype}")]
    UnsupportedDType { name: String, dtype: String },
    #[error("model metadata `{0}` is missing or has the wrong type")]
    MissingMetadata(String),
    #[error("model configuration is not supported: {0}")]
    UnsupportedConfig(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("input has {actual} tokens, the limit is {limit}")]
    InputTooLong { actual: usize, limit: usize },
    #[error("input is empty")]
    EmptyInput,
    #[error("token id {id} is outside the vocabulary of {vocab} tokens")]
    TokenOutOfRange { id: u32, vocab: usize },
    #[error("step {index} does not exist: the program has {count} steps")]
    StepOutOfRange { index: usize, count: usize },
    #[error("activation slot `{0}` is missing")]
    MissingSlot(String),
    #[error("activation slot `{slot}` holds {actual:?}, the step needs {expected:?}")]
    SlotDType {
        slot: String,
        expected: DType,
        actual: DType,
    },
    #[error("activation slot `{slot}` has shape {actual:?}: {reason}")]
    SlotShape {
        slot: String,
        actual: Vec<usize>,
        reason: String,
    },
    #[error("sample {index} does not exist: the dataset has {count} samples")]
    SampleOutOfRange { index: usize, count: usize },
    #[error("activation is malformed: {0}")]
    MalformedActivation(String),
}

pub type Result<T, E = InferError> = std::result::Result<T, E>;
