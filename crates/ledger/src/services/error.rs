//! Why an allocation or de-allocation is refused ([`ServicesError`]).

use surety_types::{Amount, ModelId, OperatorId};

/// Why an allocation or de-allocation is refused. All but `Arithmetic` are bad input from the
/// operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServicesError {
    /// An allocation or de-allocation of nothing.
    #[error("amount must be above zero")]
    ZeroAmount,
    /// The signer has not registered an operator.
    #[error("the signer is not a registered operator")]
    NotOperator,
    /// A jailed operator takes on no new service.
    #[error("operator {0} is jailed and cannot take on a service")]
    Jailed(OperatorId),
    /// The operator's allocations together would exceed its bonded tokens: a bonded token
    /// backs at most one allocation.
    #[error(
        "allocating {requested} would bring the operator's allocations to more than its \
         {stake} bonded tokens (already allocated: {allocated})"
    )]
    AboveStake {
        /// Tokens the allocation adds.
        requested: Amount,
        /// Tokens already allocated across its services.
        allocated: Amount,
        /// The operator's bonded tokens.
        stake: Amount,
    },
    /// What would remain allocated is neither zero nor at least `service_allocation_min`.
    #[error("an allocation must be at least {min} (would be {got})")]
    BelowMinimum {
        /// The services parameters' minimum allocation.
        min: Amount,
        /// What the allocation would be.
        got: Amount,
    },
    /// A de-allocation from a service the operator has no allocation to.
    #[error("operator {operator} has no allocation to model {model}")]
    NoAllocation {
        /// The operator.
        operator: OperatorId,
        /// The model whose service it names.
        model: ModelId,
    },
    /// The de-allocation asks for more than is allocated and not already leaving.
    #[error(
        "cannot deallocate {requested}: only {available} is allocated and not already leaving"
    )]
    DeallocateTooMuch {
        /// Tokens the de-allocation asks for.
        requested: Amount,
        /// Tokens allocated and not already scheduled to leave.
        available: Amount,
    },
    /// The model is unknown or not active.
    #[error(transparent)]
    Models(#[from] crate::models::ModelsError),
    /// An amount or epoch over- or underflowed.
    #[error(transparent)]
    Arithmetic(#[from] surety_types::ArithmeticError),
}
