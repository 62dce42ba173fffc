use surety_types::{Hash, JobId, OperatorId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisputesError {
    #[error("{0}")]
    Invalid(String),
    #[error("no dispute {0}")]
    UnknownDispute(u64),
    #[error("dispute {0} is resolved")]
    Resolved(u64),
    #[error("job {0} is not open to challenge (challenges are taken while its window is open)")]
    NotChallengeable(JobId),
    #[error("operator {operator} has no standing result for job {job}")]
    NoResult { job: JobId, operator: OperatorId },
    #[error("the challenge states the same output as the result: nothing to dispute")]
    SameOutput,
    #[error("the signer is a party of neither side of dispute {0}")]
    NotAParty(u64),
    #[error("one account cannot be both sides of a dispute")]
    SelfChallenge,
    #[error("dispute {dispute} asks for leaf {expected}, not {got}")]
    WrongIndex {
        dispute: u64,
        expected: u64,
        got: u64,
    },
    #[error("this party has already revealed its leaf for this move")]
    AlreadyRevealed,
    #[error("the step hash is not leaf {index} of the party's trace root: {reason}")]
    BadProof { index: u64, reason: String },
    #[error("dispute {0} is not waiting for the referee's input")]
    NotAwaitingInput(u64),
    #[error("the input is {got} bytes, the limit is {limit}")]
    InputTooLarge { got: u64, limit: u64 },
    #[error(
        "chunk at offset {got} does not continue the upload at {expected} (offset 0 restarts)"
    )]
    WrongOffset { expected: u64, got: u64 },
    #[error(
        "the uploaded activation hashes to {got}, the step both parties agree on is {expected}"
    )]
    InputMismatch { expected: Hash, got: Hash },
    #[error("the uploaded activation does not decode: {0}")]
    BadInput(String),
    #[error(transparent)]
    Models(#[from] crate::models::ModelsError),
    #[error(transparent)]
    Bank(#[from] crate::bank::BankError),
    #[error(transparent)]
    Arithmetic(#[from] surety_types::ArithmeticError),
}
