//! Dispute transactions: a challenge (with a bond) against a job's result, the parties' moves
//! in the bisection, and the activation the referee needs for the one disputed step.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::merkle::MerkleProof;
use surety_types::{Hash, JobId, OperatorId};

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Challenge {
    pub job: JobId,
    /// The operator whose result is challenged.
    pub operator: OperatorId,
    /// The challenger's own claims about the job, from its own execution.
    pub output_hash: Hash,
    pub trace_root: Hash,
    /// Proof that `output_hash` is the last leaf of `trace_root`.
    pub output_proof: MerkleProof,
}

/// One party's move: its step hash at the index the dispute asks for, proven against the
/// trace root it committed to.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RevealStep {
    pub dispute: u64,
    pub index: u64,
    pub step_hash: Hash,
    pub proof: MerkleProof,
}

/// Part of the activation before the disputed step, written at `offset`; when all `total`
/// bytes are in, the ledger decodes it, checks its hash against the agreed step hash and runs
/// the disputed step.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProvideStepInput {
    pub dispute: u64,
    pub total: u64,
    pub offset: u64,
    pub bytes: Vec<u8>,
}
