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
        from: AccountId,
        to: AccountId,
        amount: Amount,
    },
    /// A transaction paid its fee (into the fee collector).
    FeePaid { payer: AccountId, amount: Amount },
}
