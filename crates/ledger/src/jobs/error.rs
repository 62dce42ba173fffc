//! Why a job transaction or hook fails ([`JobsError`]).

use surety_types::{Amount, JobId, ModelId, OperatorId};

/// Why a job transaction (submit, commit, challenge, evidence) is refused, or a job hook
/// fails. The module-named variants carry the lower layer's error; the rest are bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobsError {
    /// A message outside the market's bounds (which, said in the text).
    #[error("{0}")]
    Invalid(String),
    /// No job has this id.
    #[error("no job {0}")]
    UnknownJob(JobId),
    /// The job's fee is outside the jobs parameters' bounds.
    #[error("fee {got} is outside the allowed {min}..={max}")]
    FeeOutOfRange {
        /// The fee offered.
        got: Amount,
        /// The smallest fee allowed (`job_fee_min`).
        min: Amount,
        /// The largest fee allowed (`job_fee_max`).
        max: Amount,
    },
    /// The replica count is zero or above `replicas_max`.
    #[error("replicas must be 1..={max}, got {got}")]
    Replicas {
        /// Replicas asked for.
        got: u32,
        /// The limit.
        max: u32,
    },
    /// The commit deadline is outside the jobs parameters' bounds.
    #[error("deadline must be {min}..={max} blocks, got {got}")]
    Deadline {
        /// Blocks asked for.
        got: u64,
        /// `deadline_blocks_min`.
        min: u64,
        /// `deadline_blocks_max`.
        max: u64,
    },
    /// The job input is larger than the limit.
    #[error("input is {got} bytes, the limit is {limit}")]
    InputTooLarge {
        /// Its size in bytes.
        got: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A committed output is larger than the limit.
    #[error("output is {got} bytes, the limit is {limit}")]
    OutputTooLarge {
        /// Its size in bytes.
        got: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The input does not fit the model (shape, tokens; the reason given).
    #[error("input is not valid for this model: {0}")]
    BadInput(String),
    /// A text input for a model without a tokenizer.
    #[error("model {0} takes no text input (submit an activation)")]
    NotTextModel(ModelId),
    /// A job for a model the market does not serve yet.
    #[error("model {0}: generation (Llama) jobs are not served by the market yet")]
    Unsupported(ModelId),
    /// Fewer operators are eligible for the model's service than the job's replicas.
    #[error("model {model} has {eligible} eligible operators, the job asks for {replicas}")]
    NotEnoughOperators {
        /// The model.
        model: ModelId,
        /// Operators eligible now.
        eligible: usize,
        /// Replicas the job asks for.
        replicas: u32,
    },
    /// The signer has no open assignment or audit for the job.
    #[error("operator {operator} has no open assignment or audit for job {job}")]
    NotAssigned {
        /// The job.
        job: JobId,
        /// The signer's operator.
        operator: OperatorId,
    },
    /// The signed result names another operator than the signer's.
    #[error("the result is signed for operator {operator}, not by the transaction's signer")]
    NotSigner {
        /// The operator the result is signed for.
        operator: OperatorId,
    },
    /// The result statement's signature does not verify against its operator's key.
    #[error("the result's signature does not verify")]
    BadResultSignature,
    /// The result's step count is not the model program's.
    #[error("the result claims {got} steps, the model's program has {expected}")]
    WrongSteps {
        /// Steps the result claims.
        got: u64,
        /// Steps in the model's program.
        expected: u64,
    },
    /// The committed output does not hash to the statement's output hash.
    #[error("the output does not hash to the stated output hash")]
    OutputMismatch,
    /// The output hash is not proven to be the trace root's last leaf (the reason given).
    #[error("the output hash is not the last leaf of the trace root: {0}")]
    BadOutputProof(String),
    /// The job is not in the phase that takes this item (seals while `Assigned`, reveals while
    /// `Revealing`).
    #[error("job {job} is not taking {what} now")]
    WrongPhase {
        /// The job.
        job: JobId,
        /// What it is not taking.
        what: &'static str,
    },
    /// A reveal does not open the operator's seal (another statement, or another salt).
    #[error("the reveal does not open the operator's seal")]
    SealMismatch,
    /// An audit claim's VRF proof does not verify against the claimant's key and the job.
    #[error("the audit claim's VRF proof does not verify: {0}")]
    BadAuditProof(String),
    /// An audit claim whose VRF output does not select the claimant at its weight.
    #[error("operator {operator}'s VRF does not select it to audit job {job}")]
    NotSelected {
        /// The job.
        job: JobId,
        /// The claimant.
        operator: OperatorId,
    },
    /// The claimant may not audit the job.
    #[error("operator {operator} may not audit job {job}: {why}")]
    NotAuditCandidate {
        /// The job.
        job: JobId,
        /// The claimant.
        operator: OperatorId,
        /// Why not.
        why: &'static str,
    },
    /// The job's model is unknown, inactive or does not load.
    #[error(transparent)]
    Models(#[from] crate::models::ModelsError),
    /// Moving a fee, a refund or a bond failed.
    #[error(transparent)]
    Bank(#[from] crate::bank::BankError),
    /// Paying an operator its part of a fee failed.
    #[error(transparent)]
    Rewards(#[from] crate::rewards::RewardsError),
    /// Reporting a fault of an operator failed.
    #[error(transparent)]
    Slashing(#[from] crate::slashing::SlashingError),
    /// A party could not be frozen or released (see the staking error).
    #[error(transparent)]
    Staking(#[from] crate::staking::StakingError),
    /// The court refused a challenge or a move.
    #[error(transparent)]
    Disputes(#[from] crate::disputes::DisputesError),
    /// A height, count or amount over- or underflowed.
    #[error(transparent)]
    Arithmetic(#[from] surety_types::ArithmeticError),
}
