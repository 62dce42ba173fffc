//! Why the bank refuses an operation ([`BankError`]) or a transaction's charge ([`FeeError`]).

use super::Pool;
use surety_types::{Amount, ArithmeticError};

/// Why a bank operation (a transfer, a fee, a payment out of a pool) is refused. Every variant
/// but `Arithmetic` is bad input a user can fix; none leaves a partial change behind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    /// The paying account holds less than the transfer asks.
    #[error("insufficient funds: need {needed}, have {available}")]
    InsufficientFunds {
        /// Tokens the operation moves.
        needed: Amount,
        /// The account's balance.
        available: Amount,
    },
    /// A module account (pool) holds less than a payment out of it asks: for a pool the ledger
    /// funds itself, a sign of a bug elsewhere.
    #[error("pool {pool:?} holds {available}, cannot pay {needed}")]
    PoolShort {
        /// The pool that was asked to pay.
        pool: Pool,
        /// Tokens the payment moves.
        needed: Amount,
        /// The pool's balance.
        available: Amount,
    },
    /// A transfer or payment of zero tokens, which would change nothing but cost a fee.
    #[error("amount must be greater than zero")]
    ZeroAmount,
    /// A transfer whose recipient is its sender.
    #[error("cannot transfer to the sending account")]
    SelfTransfer,
    /// A sum past `u128::MAX` or a difference below zero (total supply bounds every real amount).
    #[error(transparent)]
    Arithmetic(#[from] ArithmeticError),
}

/// Why a transaction could not be charged; any of these leaves the state untouched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    /// The transaction's nonce is not the signer's next one (replayed, or sent out of order).
    #[error("nonce {got} is not the account's next nonce {expected}")]
    BadNonce {
        /// The account's next nonce.
        expected: u64,
        /// The nonce the transaction carries.
        got: u64,
    },
    /// The fee is below the chain's `min_tx_fee`.
    #[error("fee {given} is below the minimum {minimum}")]
    FeeTooLow {
        /// The fee the transaction offers.
        given: Amount,
        /// The bank parameters' minimum fee.
        minimum: Amount,
    },
    /// The signer cannot pay the fee (or the fee collector would overflow).
    #[error("cannot pay the fee: balance {balance}, fee {fee}")]
    CannotPayFee {
        /// The signer's balance.
        balance: Amount,
        /// The fee the transaction offers.
        fee: Amount,
    },
}
