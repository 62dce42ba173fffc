//! The events the bank module emits, in receipts (transactions) and block outcomes (hooks).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount};

/// Something the bank module did. In JSON, `{"type": "<snake_case name>", …fields}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BankEvent {
    /// Tokens moved between two accounts.
    Transfer {
        /// The sender (the transaction's signer).
        from: AccountId,
        /// The recipient.
        to: AccountId,
        /// Tokens moved.
        amount: Amount,
    },
    /// A transaction paid its fee (into the fee collector).
    FeePaid {
        /// The transaction's signer, who paid.
        payer: AccountId,
        /// The fee, now in the fee collector.
        amount: Amount,
    },
}
