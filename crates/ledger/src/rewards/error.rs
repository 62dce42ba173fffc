//! Why a reward claim or a block's payout fails ([`RewardsError`]).

use crate::bank::BankError;
use surety_types::{ArithmeticError, OperatorId};

/// Why a reward claim (or a block's reward payout) fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewardsError {
    /// The signer has no delegation to this operator, so nothing to claim from.
    #[error("no delegation to operator {0}")]
    NoDelegation(OperatorId),
    /// Paying the reward failed.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// A reward sum over- or underflowed.
    #[error(transparent)]
    Arithmetic(#[from] ArithmeticError),
}
