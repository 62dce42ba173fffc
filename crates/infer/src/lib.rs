//! Surety's inference engine (DESIGN §4): it runs registered models so that every node gets
//! the same output bytes, on any x86-64 or ARM64 machine, with any thread count, at any batch
//! position, and commits to every intermediate activation so that a wrong answer can be
//! proven with one step of recomputation. It loads safetensors and GGUF weights and HF
//! tokenizers from bytes handed to it, runs BERT-style encoders, Llama-style decoders and
//! MLP/CNN classifiers as ordered lists of steps, hashes the activation after every step into a
//! trace root, and recomputes any single step for the ledger's referee ([`execute_step`]).
//!
//! It must never: read files, the clock, the environment or OS randomness; use unordered maps;
//! fuse multiply-add or pick arithmetic by CPU feature at run time; call the platform libm;
//! split a reduction across threads; panic on a malformed model file or activation. The
//! rules behind the bits are in [`kernels`]; the numbers they fix are versioned by
//! [`model::ENGINE_VERSION`].

#![deny(missing_docs, unreachable_pub)]

pub mod error;
pub mod gguf;
pub mod kernels;
pub mod model;
pub mod models;
pub mod program;
pub mod safetensors_loader;
pub mod tensor;
pub mod tokenizer;
pub mod train;
pub mod weights;

pub use error::InferError;
pub use kernels::Executor;
pub use model::{
    execute_step, execute_step_with, Architecture, Model, ModelManifest, Run, Trace, ENGINE_VERSION,
};
pub use program::{Op, Program, Step};
pub use tensor::{Activation, DType, Data, Tensor};
pub use weights::{StorageType, TensorLeaf, WeightStore};
