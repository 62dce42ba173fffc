//! Models, their commitment, and traced execution (DESIGN §3 "models", §4, §5 step 6).
//!
//! A [`Model`] is an architecture (which fixes its [`Program`]), its weights and, for text
//! models, its tokenizer. Its [`ModelManifest`] names all three by hash; `model_id` is the hash
//! of the manifest's canonical encoding. [`Model::run`] executes the program step by step and
//! returns a [`Trace`]: the hash of the activation after every step and their Merkle root.
//! [`execute_step`] recomputes one step from its input activation alone.

use crate::error::{InferError, Result};
use crate::kernels::Executor;
use crate::models::{bert::BertConfig, llama::LlamaConfig, mlp::CnnConfig, mlp::MlpConfig};
use crate::program::{run_step, Program};
use crate::tensor::Activation;
use crate::tokenizer::TextTokenizer;
use crate::weights::WeightStore;
use borsh::{BorshDeserialize, BorshSerialize};
use surety_types::merkle::{MerkleProof, MerkleTree};
use surety_types::{Hash, ModelId};

/// Version of the numeric rules (lane count, reduction trees, op definitions). Two engines
/// with the same version give the same bits; a change to any kernel's arithmetic bumps it.
pub const ENGINE_VERSION: u32 = 1;

const MANIFEST_DOMAIN: &str = "surety.infer.manifest";

/// What a model computes; each variant builds its own program.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub enum Architecture {
    /// BERT-style encoder with mean pooling (sentence embeddings).
    Bert(BertConfig),
    /// Llama-style decoder (greedy text generation).
    Llama(LlamaConfig),
    /// Multi-layer perceptron classifier.
    Mlp(MlpConfig),
    /// Convolutional classifier.
    Cnn(CnnConfig),
}

impl Architecture {
    /// Most rows (tokens, or MLP inputs) any activation of this model may have. Bounds the
    /// work a referee does on an activation handed to it: attention is quadratic in rows.
    pub fn rows_max(&self) -> usize {
        match self {
            Architecture::Bert(config) => config.max_positions as usize,
            Architecture::Llama(config) => config.sequence_max(),
            Architecture::Mlp(_) => crate::models::mlp::MLP_ROWS_MAX,
            // Image activations are [channels, height, width]; flattened ones one row.
            Architecture::Cnn(config) => config.channels.max(
                config
                    .convs
                    .iter()
                    .map(|c| c.out_channels)
                    .max()
                    .unwrap_or(1),
            ) as usize,
        }
    }

    /// The program this architecture runs.
    pub fn program(&self) -> Program {
        match self {
            Architecture::Bert(config) => config.program(),
            Architecture::Llama(config) => config.program(),
            Architecture::Mlp(config) => config.program(),
            Architecture::Cnn(config) => config.program(),
        }
    }
}

/// Everything that identifies a model; `model_id = H(manifest)`.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct ModelManifest {
    /// The model's name.
    pub name: String,
    /// The [`ENGINE_VERSION`] whose numeric rules the model runs under.
    pub engine_version: u32,
    /// The architecture and its configuration.
    pub architecture: Architecture,
    /// Merkle root over the tensors (see [`crate::weights`]).
    pub weights_root: Hash,
    /// Tensors in the weights file (all committed).
    pub tensor_count: u64,
    /// Hash of the canonical tokenizer.json, for text models.
    pub tokenizer: Option<Hash>,
}

impl ModelManifest {
    /// `H(manifest)`.
    pub fn model_id(&self) -> ModelId {
        ModelId::from(Hash::of(
            MANIFEST_DOMAIN,
            &surety_types::encoding::encode(self),
        ))
    }
}

/// A loaded model.
pub struct Model {
    manifest: ModelManifest,
    weights: WeightStore,
    program: Program,
    tokenizer: Option<TextTokenizer>,
}

/// The per-step activation hashes of one run and their Merkle tree.
#[derive(Clone, Debug)]
pub struct Trace {
    /// `step_hashes[i]` is the hash of the activation after step `i`.
    pub step_hashes: Vec<Hash>,
    tree: MerkleTree,
}

impl Trace {
    /// The trace of these step hashes.
    pub fn from_step_hashes(step_hashes: Vec<Hash>) -> Trace {
        let tree = MerkleTree::from_leaves(&step_hashes.iter().map(|h| h.0).collect::<Vec<_>>());
        Trace { step_hashes, tree }
    }

    /// `trace_root`: the Merkle root over the step hashes (each hash is a leaf's bytes).
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// Inclusion proof of step `index`'s hash; verify with
    /// `proof.verify(&trace_root, step_hash.as_bytes())`.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        self.tree.proof(index)
    }

    /// Steps in the trace.
    pub fn len(&self) -> usize {
        self.step_hashes.len()
    }

    /// Whether the trace has no steps.
    pub fn is_empty(&self) -> bool {
        self.step_hashes.is_empty()
    }
}

/// What [`Model::run`] returns.
pub struct Run {
    /// The activation after the last step: the program's output slot alone.
    pub output: Activation,
    /// The per-step hashes and their root.
    pub trace: Trace,
}

impl Model {
    /// Assemble a model, checking that every weight the program reads is present.
    pub fn new(
        name: &str,
        architecture: Architecture,
        weights: WeightStore,
        tokenizer: Option<TextTokenizer>,
    ) -> Result<Model> {
        match &architecture {
            Architecture::Bert(config) => config.check(&weights)?,
            Architecture::Llama(config) => config.check(&weights)?,
            Architecture::Mlp(config) => config.check(&weights)?,
            Architecture::Cnn(config) => config.check(&weights)?,
        }
        let program = architecture.program();
        for step in &program.steps {
            for weight in step.weights() {
                weights.get(weight)?;
            }
        }
        let manifest = ModelManifest {
            name: name.to_string(),
            engine_version: ENGINE_VERSION,
            weights_root: weights.weights_root(),
            tensor_count: weights.len() as u64,
            tokenizer: tokenizer.as_ref().map(TextTokenizer::hash),
            architecture,
        };
        Ok(Model {
            manifest,
            weights,
            program,
            tokenizer,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }

    /// `H(manifest)`.
    pub fn model_id(&self) -> ModelId {
        self.manifest.model_id()
    }

    /// The weights root of the manifest.
    pub fn weights_root(&self) -> Hash {
        self.manifest.weights_root
    }

    /// The weights.
    pub fn weights(&self) -> &WeightStore {
        &self.weights
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The tokenizer, for text models.
    pub fn tokenizer(&self) -> Result<&TextTokenizer> {
        self.tokenizer
            .as_ref()
            .ok_or_else(|| InferError::Tokenizer("model has no tokenizer".into()))
    }

    /// Run every step on `input`, hashing the activation after each.
    pub fn run(&self, executor: &Executor, input: Activation) -> Result<Run> {
        self.check_input(&input)?;
        let mut activation = input;
        let mut step_hashes = Vec::with_capacity(self.program.len());
        for index in 0..self.program.len() {
            activation = run_step(executor, &self.weights, &self.program, index, activation)?;
            step_hashes.push(activation.hash());
        }
        Ok(Run {
            output: activation,
            trace: Trace::from_step_hashes(step_hashes),
        })
    }

    /// Run steps `0..=last` and return the activation after `last` (the input of step
    /// `last + 1`), for a referee or a test that needs an intermediate activation.
    pub fn activation_after(
        &self,
        executor: &Executor,
        input: Activation,
        last: usize,
    ) -> Result<Activation> {
        self.check_input(&input)?;
        if last >= self.program.len() {
            return Err(InferError::StepOutOfRange {
                index: last,
                count: self.program.len(),
            });
        }
        let mut activation = input;
        for index in 0..=last {
            activation = run_step(executor, &self.weights, &self.program, index, activation)?;
        }
        Ok(activation)
    }

    fn check_input(&self, input: &Activation) -> Result<()> {
        match &self.manifest.architecture {
            Architecture::Bert(config) => config.check_input(input),
            Architecture::Llama(config) => config.check_input(input),
            Architecture::Mlp(config) => config.check_input(input),
            Architecture::Cnn(config) => config.check_input(input),
        }
    }
}

/// Recompute step `step_index` of `model` from the activation before it (for step 0, the
/// model input) and return the activation after it. This is the referee of a dispute
/// (DESIGN §5 step 6): its result's [`Activation::hash`] is compared with the parties' claims.
pub fn execute_step(
    model: &Model,
    step_index: usize,
    input_activation: &Activation,
) -> Result<Activation> {
    let executor = Executor::new(1)?;
    execute_step_with(model, &executor, step_index, input_activation)
}

/// [`execute_step`] on the given executor's threads (the bits are the same).
pub fn execute_step_with(
    model: &Model,
    executor: &Executor,
    step_index: usize,
    input_activation: &Activation,
) -> Result<Activation> {
    if step_index == 0 {
        model.check_input(input_activation)?;
    }
    let rows_max = model.manifest.architecture.rows_max();
    for (slot, tensor) in &input_activation.slots {
        if tensor.shape.first().is_some_and(|&rows| rows > rows_max) {
            return Err(InferError::SlotShape {
                slot: slot.clone(),
                actual: tensor.shape.clone(),
                reason: format!("more than the model's {rows_max} rows"),
            });
        }
    }
    run_step(
        executor,
        &model.weights,
        &model.program,
        step_index,
        input_activation.clone(),
    )
}
