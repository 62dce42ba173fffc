//! Slashing transactions: evidence that anyone may submit.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::vote::SignedVote;

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub enum Evidence {
    /// Two conflicting consensus statements signed by one validator's consensus key.
    DoubleSign {
        first: SignedVote,
        second: SignedVote,
    },
}
