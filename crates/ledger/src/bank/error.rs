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

/// Why a transaction could not be charged; any of these leaves the state untouched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    #[error("nonce {got} is not the account's next nonce {expected}")]
    BadNonce { expected: u64, got: u64 },
    #[error("fee {given} is below the minimum {minimum}")]
    FeeTooLow { given: Amount, minimum: Amount },
    #[error("cannot pay the fee: balance {balance}, fee {fee}")]
    CannotPayFee { balance: Amount, fee: Amount },
}
