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

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SubmitJob {
    pub model: ModelId,
    pub input: JobInput,
    /// Escrowed from the client; paid out when the job is final, refunded if it fails.
    pub max_fee: Amount,
    /// Blocks each assigned operator has to commit its result.
    pub deadline_blocks: u64,
    pub replicas: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitResult {
    pub result: SignedResult,
    /// The output activation, borsh-encoded; its hash is `result.statement.output_hash`.
    pub output: Vec<u8>,
    /// Proof that `output_hash` is the last leaf of `trace_root`.
    pub output_proof: MerkleProof,
}
