//! Job transactions: a client submits a job, assigned operators (and auditors) commit signed
//! results, and anyone may submit two different signed results as evidence.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::merkle::MerkleProof;
pub use surety_types::result::{ResultStatement, SignedResult};
use surety_types::vrf::VrfProof;
use surety_types::{Amount, Hash, JobId, ModelId, OperatorId};

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

/// Most items one [`SealResults`] or [`RevealResults`] carries: an operator batches every
/// seal (or reveal) it owes into one transaction per block, so two transactions per result
/// do not halve throughput. A full batch of seals (64 bytes each) fits in one transaction of
/// `tx::TX_BYTES_MAX`, envelope included (1,024 would not: a node batching that many would
/// have all of them refused). Reveals carry outputs: they are batched by size as well.
pub const BATCH_ITEMS_MAX: usize = 1000;

/// A hiding commitment to one result (DESIGN §5 step 3): made before any result of the job
/// is revealed, so nobody can copy another's answer.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Seal {
    /// The job.
    pub job: JobId,
    /// [`seal_commitment`] of the operator's statement and a secret salt.
    pub commitment: Hash,
}

/// Seal results for jobs the signer's operator is assigned to or has claimed to audit. Each
/// item applies on its own: a refused one is an event, the rest stand.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SealResults {
    /// The signer's operator.
    pub operator: OperatorId,
    /// 1 to [`BATCH_ITEMS_MAX`] seals, at most one per job.
    pub seals: Vec<Seal>,
}

/// Open one seal once the job's seal phase is over.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Reveal {
    /// The job.
    pub job: JobId,
    /// The salt the seal was made with.
    pub salt: [u8; 32],
    /// The result the seal commits to: an assignee's, or an auditor's.
    pub result: CommitResult,
}

/// Reveal sealed results of jobs whose seal phase is over. Each item applies on its own.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RevealResults {
    /// The signer's operator.
    pub operator: OperatorId,
    /// 1 to [`BATCH_ITEMS_MAX`] reveals, at most one per job.
    pub reveals: Vec<Reveal>,
}

/// The seal of `operator`'s `statement` with `salt`: binding (the operator cannot open it to
/// another statement) and hiding (the salt is secret until the reveal). The operator is in it,
/// so another operator cannot copy a seal and open it after the owner reveals.
pub fn seal_commitment(
    operator: &OperatorId,
    statement: &ResultStatement,
    salt: &[u8; 32],
) -> Hash {
    let statement = borsh::to_vec(statement).expect("a statement always encodes");
    Hash::of_parts("surety.result-seal.v1", &[&operator.0, &statement, salt])
}

/// A claim to audit a job: the claimant's VRF proof over [`audit_alpha`], whose output selects
/// it with probability `audit_rate · weight / pool weight` (docs/market.md, "Audits: private
/// sortition").
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AuditClaim {
    /// The job, in its claim window.
    pub job: JobId,
    /// The claimant's ECVRF proof (RFC 9381) over the job's [`audit_alpha`], with its account
    /// key.
    pub proof: VrfProof,
}

/// Most claims one [`ClaimAudits`] carries: a claim is 112 bytes (a job id and an 80-byte
/// proof), so a full batch fits in one transaction of `tx::TX_BYTES_MAX`, envelope included.
pub const CLAIM_ITEMS_MAX: usize = 500;

/// Claim audits of jobs whose claim window is open: every operator its VRF selects audits.
/// Each item applies on its own.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ClaimAudits {
    /// The signer's operator.
    pub operator: OperatorId,
    /// 1 to [`CLAIM_ITEMS_MAX`] claims, at most one per job.
    pub claims: Vec<AuditClaim>,
}

/// What an auditor's VRF is evaluated on for `job` once its assignees have sealed: the chain,
/// the job, the digest of the seals (`seals`, [`seals_digest`]) and the seed of a block
/// `audit_seed_delay` after the last seal. Nobody can compute any operator's output but that
/// operator; it exists only once every assignee has committed to its result, so no assignee
/// knows its auditors when it seals; and no assignee can grind its salt against it (which
/// would let it get its partners selected), since the seed comes later. No proposer can move an
/// honest operator's outcome: its own VRF is not computable by anyone else (docs/market.md,
/// "Audits: private sortition").
pub fn audit_alpha(chain_id: &str, job: &JobId, seals: &Hash, seed: &Hash) -> Vec<u8> {
    let mut alpha = b"surety.audit.v3".to_vec();
    alpha.extend_from_slice(&(chain_id.len() as u64).to_be_bytes());
    alpha.extend_from_slice(chain_id.as_bytes());
    alpha.extend_from_slice(&job.0);
    alpha.extend_from_slice(&seals.0);
    alpha.extend_from_slice(&seed.0);
    alpha
}

/// The digest of a job's live assignees' seals, in assignment order: fixed by the last seal.
pub fn seals_digest<'a>(seals: impl IntoIterator<Item = &'a Hash>) -> Hash {
    let parts: Vec<&[u8]> = seals.into_iter().map(|s| s.0.as_slice()).collect();
    Hash::of_parts("surety.audit-seals.v1", &parts)
}
