use crate::bank::BankError;
use surety_types::{Amount, ArithmeticError, Epoch, OperatorId, Ratio, Shares};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StakingError {
    #[error("this account is already registered as an operator")]
    AlreadyOperator,
    #[error("consensus key is already used by operator {0}")]
    ConsensusKeyTaken(OperatorId),
    #[error("no operator {0}")]
    UnknownOperator(OperatorId),
    #[error("the signer is not an operator")]
    NotOperator,
    #[error("self-bond {given} is below the minimum {minimum}")]
    SelfBondTooSmall { given: Amount, minimum: Amount },
    #[error("commission may change by at most {max} per change, asked for {asked}")]
    CommissionChangeTooLarge { max: Ratio, asked: Ratio },
    #[error("commission was already changed in epoch {0}; one change per epoch")]
    CommissionChangedThisEpoch(Epoch),
    #[error("metadata field {field} is {length} bytes, the limit is {limit}")]
    MetadataTooLong {
        field: &'static str,
        length: usize,
        limit: usize,
    },
    #[error("amount must be greater than zero")]
    ZeroAmount,
    #[error("amount is too small to buy a single share")]
    AmountTooSmall,
    #[error("operator {0} has been slashed to zero and takes no new stake")]
    OperatorDepleted(OperatorId),
    #[error(
        "operator {0} is frozen by a pending slash: no stake may leave or join until it applies"
    )]
    OperatorFrozen(OperatorId),
    #[error("operator {0} is tombstoned")]
    Tombstoned(OperatorId),
    #[error("delegation holds {held:?}, asked for {asked:?}")]
    InsufficientShares { held: Shares, asked: Shares },
    #[error("source and destination are the same operator")]
    SameOperator,
    #[error("this stake arrived at {0} by a redelegation that has not completed; chained hops are not allowed")]
    ChainedRedelegation(OperatorId),
    #[error("the operator is not jailed")]
    NotJailed,
    #[error("jailed until epoch {until}, now {now}")]
    StillJailed { until: Epoch, now: Epoch },
    #[error("self-bond {have} is below the minimum {minimum}; bond more before unjailing")]
    SelfBondBelowMinimum { have: Amount, minimum: Amount },
    #[error("no unbonding entry is ready to withdraw")]
    NothingToWithdraw,
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error(transparent)]
    Arithmetic(#[from] ArithmeticError),
}
