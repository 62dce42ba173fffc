//! Bank transactions.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount};

/// Move tokens from the signer's account to another account.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transfer {
    /// The recipient; not the signer.
    pub to: AccountId,
    /// Tokens to move; more than zero.
    pub amount: Amount,
}
