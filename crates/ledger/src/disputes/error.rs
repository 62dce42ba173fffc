//! Why the court refuses a challenge, a move or the referee's input ([`DisputesError`]).

use surety_types::{Hash, JobId, OperatorId};

/// Why a challenge, a bisection move or the referee's input is refused. Every variant but
/// `Arithmetic` is bad input from a party or a challenger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisputesError {
    /// A message outside the court's bounds (which, said in the text).
    #[error("{0}")]
    Invalid(String),
    /// No dispute has this id.
    #[error("no dispute {0}")]
    UnknownDispute(u64),
    /// The dispute is resolved and takes no more moves.
    #[error("dispute {0} is resolved")]
    Resolved(u64),
    /// The job is not in its challenge window (not yet committed, disputed already, or final).
    #[error("job {0} is not open to challenge (challenges are taken while its window is open)")]
    NotChallengeable(JobId),
    /// The job has had as many disputes as a bonded challenge may add to (staked
    /// disagreements still open): its finality cannot be held back any longer.
    #[error(
        "job {job} has had {disputes} disputes, the most a challenge may add to is {limit} \
         (disputes_per_job_max)"
    )]
    TooManyDisputes {
        /// The job.
        job: JobId,
        /// Its disputes so far.
        disputes: u64,
        /// `disputes_per_job_max`.
        limit: u32,
    },
    /// The challenged operator has no result standing for the job.
    #[error("operator {operator} has no standing result for job {job}")]
    NoResult {
        /// The job.
        job: JobId,
        /// The operator named.
        operator: OperatorId,
    },
    /// The challenge states the output the result states: there is nothing to dispute.
    #[error("the challenge states the same output as the result: nothing to dispute")]
    SameOutput,
    /// The signer is neither the defendant nor the challenger.
    #[error("the signer is a party of neither side of dispute {0}")]
    NotAParty(u64),
    /// Challenger and defendant are the same account.
    #[error("one account cannot be both sides of a dispute")]
    SelfChallenge,
    /// A reveal for another leaf than the one the current move asks for.
    #[error("dispute {dispute} asks for leaf {expected}, not {got}")]
    WrongIndex {
        /// The dispute.
        dispute: u64,
        /// The leaf index the move asks for.
        expected: u64,
        /// The index revealed.
        got: u64,
    },
    /// The party already revealed its leaf for the current move.
    #[error("this party has already revealed its leaf for this move")]
    AlreadyRevealed,
    /// The revealed step hash is not the party's trace root's leaf at the index.
    #[error("the step hash is not leaf {index} of the party's trace root: {reason}")]
    BadProof {
        /// The leaf index.
        index: u64,
        /// Why the Merkle proof fails.
        reason: String,
    },
    /// The dispute is not at the step where the referee needs the step's input.
    #[error("dispute {0} is not waiting for the referee's input")]
    NotAwaitingInput(u64),
    /// The stated input length is above the limit.
    #[error("the input is {got} bytes, the limit is {limit}")]
    InputTooLarge {
        /// The stated length in bytes.
        got: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// An input chunk that does not continue the upload where it stands.
    #[error(
        "chunk at offset {got} does not continue the upload at {expected} (offset 0 restarts)"
    )]
    WrongOffset {
        /// Bytes written so far (the next offset).
        expected: u64,
        /// The chunk's offset.
        got: u64,
    },
    /// The uploaded activation is not the one both parties agreed on before the disputed step.
    #[error(
        "the uploaded activation hashes to {got}, the step both parties agree on is {expected}"
    )]
    InputMismatch {
        /// The agreed step hash.
        expected: Hash,
        /// The uploaded activation's hash.
        got: Hash,
    },
    /// The uploaded bytes are not an activation (the decoder's reason).
    #[error("the uploaded activation does not decode: {0}")]
    BadInput(String),
    /// The disputed model cannot be loaded for the referee.
    #[error(transparent)]
    Models(#[from] crate::models::ModelsError),
    /// Moving a bond failed.
    #[error(transparent)]
    Bank(#[from] crate::bank::BankError),
    /// A height, length or index over- or underflowed.
    #[error(transparent)]
    Arithmetic(#[from] surety_types::ArithmeticError),
}
