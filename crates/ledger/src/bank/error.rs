use super::Pool;
use surety_types::{Amount, ArithmeticError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    #[error("insufficient funds: need {needed}, have {available}")]
    InsufficientFunds { needed: Amount, available: Amount },
    #[error("pool {pool:?} holds {available}, cannot pay {needed}")]
    PoolShort {
        pool: Pool,
        needed: Amount,
        available: Amount,
    },
    #[error("amount must be greater than zero")]
    ZeroAmount,
    #[error("cannot transfer to the sending account")]
    SelfTransfer,
    #[error(transparent)]
    Arithmetic(#[from] ArithmeticError),
}
