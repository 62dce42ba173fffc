use crate::bank::BankError;
use crate::staking::StakingError;
use surety_types::vote::EquivocationError;
use surety_types::{ArithmeticError, Epoch, Height, OperatorId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlashingError {
    #[error("invalid equivocation evidence: {0}")]
    InvalidEquivocation(#[from] EquivocationError),
    #[error("evidence is for chain {0:?}, this is another chain")]
    WrongChain(String),
    #[error("invalid result equivocation evidence: {0}")]
    InvalidResultEvidence(String),
    #[error("no operator uses this consensus key")]
    UnknownConsensusKey,
    #[error("no operator {0}")]
    UnknownOperator(OperatorId),
    #[error("offence at height {offence} is in the future (now {now})")]
    FutureOffence { offence: Height, now: Height },
    #[error("offence in epoch {offence} is older than the evidence age limit (now epoch {now})")]
    EvidenceTooOld { offence: Epoch, now: Epoch },
    #[error("operator {0} is already penalised at least as much for this window")]
    AlreadyPenalised(OperatorId),
    #[error(transparent)]
    Staking(#[from] StakingError),
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error(transparent)]
    Arithmetic(#[from] ArithmeticError),
}
