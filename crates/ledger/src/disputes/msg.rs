//! Dispute transactions: a challenge (with a bond) against a job's result, the parties' moves
//! in the bisection, and the activation the referee needs for the one disputed step.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::merkle::MerkleProof;
use surety_types::{Hash, JobId, OperatorId};

/// Challenge an operator's result for a job within its challenge window, with one's own
/// claimed output and trace root. The challenger puts up `challenge_bond`, forfeited if it
/// loses. (Auditors and disagreeing replicas do not challenge: their disputes open by
/// themselves, without a bond.)
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Challenge {
    /// The job whose result is challenged.
    pub job: JobId,
    /// The operator whose result is challenged.
    pub operator: OperatorId,
    /// The challenger's own claims about the job, from its own execution.
    pub output_hash: Hash,
    /// The challenger's trace root over the same steps.
    pub trace_root: Hash,
    /// Proof that `output_hash` is the last leaf of `trace_root`.
    pub output_proof: MerkleProof,
}

/// One party's move: its step hash at the index the dispute asks for, proven against the
/// trace root it committed to.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RevealStep {
    /// The dispute.
    pub dispute: u64,
    /// The leaf index the current move asks for.
    pub index: u64,
    /// The party's activation hash at that step.
    pub step_hash: Hash,
    /// Proof of `step_hash` at `index` against the party's trace root.
    pub proof: MerkleProof,
}

/// Part of the activation before the disputed step, written at `offset`; when all `total`
/// bytes are in, the ledger decodes it, checks its hash against the agreed step hash and runs
/// the disputed step.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProvideStepInput {
    /// The dispute.
    pub dispute: u64,
    /// The activation's full length in bytes.
    pub total: u64,
    /// Where this chunk starts; 0 restarts the upload.
    pub offset: u64,
    /// The chunk, at most `INPUT_CHUNK_BYTES_MAX` bytes.
    pub bytes: Vec<u8>,
}
