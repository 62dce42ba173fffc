//! Job transactions: a client submits a job, assigned operators (and auditors) commit signed
//! results, and anyone may submit two different signed results as evidence.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::merkle::MerkleProof;
pub use surety_types::result::{ResultStatement, SignedResult};
use surety_types::{Amount, ModelId};

/// A job's input.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum JobInput {
    /// Text, tokenised by the ledger with the model's registered tokenizer (text models).
    Text(String),
    /// A `surety_infer::Activation`, borsh-encoded, checked against the model's input shape.
    Activation(Vec<u8>),
}

/// Submit an inference job: the fee is escrowed and, at the next block, `replicas` operators
/// are drawn from the model's service, weighted by their allocations (DESIGN §5 steps 1–2).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SubmitJob {
    /// The active model to run.
    pub model: ModelId,
    /// The input to run it on.
    pub input: JobInput,
    /// Escrowed from the client; paid out when the job is final, refunded if it fails.
    pub max_fee: Amount,
    /// Blocks each assigned operator has to commit its result.
    pub deadline_blocks: u64,
    /// How many operators compute the job independently (1 to `replicas_max`).
    pub replicas: u32,
}

/// Commit an assigned operator's (or auditor's) signed result for a job, with its output and
/// the proof that the output is its trace's last leaf.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitResult {
    /// The signed statement: job, output hash, trace root and step count.
    pub result: SignedResult,
    /// The output activation, borsh-encoded; its hash is `result.statement.output_hash`.
    pub output: Vec<u8>,
    /// Proof that `output_hash` is the last leaf of `trace_root`.
    pub output_proof: MerkleProof,
}
