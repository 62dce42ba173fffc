use surety_types::{Amount, JobId, ModelId, OperatorId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobsError {
    #[error("{0}")]
    Invalid(String),
    #[error("no job {0}")]
    UnknownJob(JobId),
    #[error("fee {got} is outside the allowed {min}..={max}")]
    FeeOutOfRange {
        got: Amount,
        min: Amount,
        max: Amount,
    },
    #[error("replicas must be 1..={max}, got {got}")]
    Replicas { got: u32, max: u32 },
    #[error("deadline must be {min}..={max} blocks, got {got}")]
    Deadline { got: u64, min: u64, max: u64 },
    #[error("input is {got} bytes, the limit is {limit}")]
    InputTooLarge { got: u64, limit: u64 },
    #[error("output is {got} bytes, the limit is {limit}")]
    OutputTooLarge { got: u64, limit: u64 },
    #[error("input is not valid for this model: {0}")]
    BadInput(String),
    #[error("model {0} takes no text input (submit an activation)")]
    NotTextModel(ModelId),
    #[error("model {0}: generation (Llama) jobs are not served by the market yet")]
    Unsupported(ModelId),
    #[error("model {model} has {eligible} eligible operators, the job asks for {replicas}")]
    NotEnoughOperators {
        model: ModelId,
        eligible: usize,
        replicas: u32,
    },
    #[error("operator {operator} has no open assignment or audit for job {job}")]
    NotAssigned { job: JobId, operator: OperatorId },
    #[error("the result is signed for operator {operator}, not by the transaction's signer")]
    NotSigner { operator: OperatorId },
    #[error("the result's signature does not verify")]
    BadResultSignature,
    #[error("the result claims {got} steps, the model's program has {expected}")]
    WrongSteps { got: u64, expected: u64 },
    #[error("the output does not hash to the stated output hash")]
    OutputMismatch,
    #[error("the output hash is not the last leaf of the trace root: {0}")]
    BadOutputProof(String),
    #[error(transparent)]
    Models(#[from] crate::models::ModelsError),
    #[error(transparent)]
    Bank(#[from] crate::bank::BankError),
    #[error(transparent)]
    Rewards(#[from] crate::rewards::RewardsError),
    #[error(transparent)]
    Slashing(#[from] crate::slashing::SlashingError),
    #[error(transparent)]
    Disputes(#[from] crate::disputes::DisputesError),
    #[error(transparent)]
    Arithmetic(#[from] surety_types::ArithmeticError),
}
