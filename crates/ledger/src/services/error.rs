use surety_types::{Amount, ModelId, OperatorId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServicesError {
    #[error("amount must be above zero")]
    ZeroAmount,
    #[error("the signer is not a registered operator")]
    NotOperator,
    #[error("operator {0} is jailed and cannot take on a service")]
    Jailed(OperatorId),
    #[error(
        "allocating {requested} would bring the operator's allocations to more than its \
         {stake} bonded tokens (already allocated: {allocated})"
    )]
    AboveStake {
        requested: Amount,
        allocated: Amount,
        stake: Amount,
    },
    #[error("an allocation must be at least {min} (would be {got})")]
    BelowMinimum { min: Amount, got: Amount },
    #[error("operator {operator} has no allocation to model {model}")]
    NoAllocation {
        operator: OperatorId,
        model: ModelId,
    },
    #[error(
        "cannot deallocate {requested}: only {available} is allocated and not already leaving"
    )]
    DeallocateTooMuch {
        requested: Amount,
        available: Amount,
    },
    #[error(transparent)]
    Models(#[from] crate::models::ModelsError),
    #[error(transparent)]
    Arithmetic(#[from] surety_types::ArithmeticError),
}
