use crate::bank::BankError;
use surety_types::{ArithmeticError, OperatorId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewardsError {
    #[error("no delegation to operator {0}")]
    NoDelegation(OperatorId),
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error(transparent)]
    Arithmetic(#[from] ArithmeticError),
}
