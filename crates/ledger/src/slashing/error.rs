//! Why slashing refuses evidence or an offence ([`SlashingError`]).

use crate::bank::BankError;
use crate::staking::StakingError;
use surety_types::vote::EquivocationError;
use surety_types::{ArithmeticError, Epoch, Height, JobId, OperatorId};

/// Why evidence, or a reported offence, is refused. Evidence comes from anyone, so every
/// variant but `Arithmetic` is bad input; an offence a hook reports that is `AlreadyPenalised`
/// is no error to the reporter (jobs ignores it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlashingError {
    /// The two votes are not a double sign (same vote, different heights or rounds, a bad
    /// signature, different keys).
    #[error("invalid equivocation evidence: {0}")]
    InvalidEquivocation(#[from] EquivocationError),
    /// The votes are for another chain (the chain id named).
    #[error("evidence is for chain {0:?}, this is another chain")]
    WrongChain(String),
    /// The two signed results are not result equivocation (the reason given).
    #[error("invalid result equivocation evidence: {0}")]
    InvalidResultEvidence(String),
    /// No operator signs consensus votes with the votes' key.
    #[error("no operator uses this consensus key")]
    UnknownConsensusKey,
    /// No operator has this id.
    #[error("no operator {0}")]
    UnknownOperator(OperatorId),
    /// The offence is at a height after the current one.
    #[error("offence at height {offence} is in the future (now {now})")]
    FutureOffence {
        /// The offence's height.
        offence: Height,
        /// The current height.
        now: Height,
    },
    /// The offence is older than `evidence_max_age_epochs`: its slash could have been missed
    /// by stake that has since left.
    #[error("offence in epoch {offence} is older than the evidence age limit (now epoch {now})")]
    EvidenceTooOld {
        /// The offence's epoch.
        offence: Epoch,
        /// The current epoch.
        now: Epoch,
    },
    /// The evidence names a job that is not in state. A job leaves state only once evidence
    /// about it is too old (docs/market.md, "Pruning"), and the ledger keeps no trace of it
    /// after, so it cannot tell such a job from one never submitted: either way nothing about
    /// it can be slashed any more.
    #[error(
        "no job {0} in state: evidence about it is too old (a job is pruned once the evidence \
         age has passed for everyone who worked on it), or it never existed"
    )]
    JobTooOldOrUnknown(JobId),
    /// The operator already has a fault in the offence's window with a base fraction at least as
    /// large: only the largest counts (max, not sum).
    #[error("operator {0} is already penalised at least as much for this window")]
    AlreadyPenalised(OperatorId),
    /// Jailing or slashing the operator's stake failed.
    #[error(transparent)]
    Staking(#[from] StakingError),
    /// Paying out the slashed tokens failed.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// A fraction, amount or epoch over- or underflowed.
    #[error(transparent)]
    Arithmetic(#[from] ArithmeticError),
}
