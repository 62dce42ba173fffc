//! Service transactions: an operator allocates part of its stake to a model's service, and
//! schedules a decrease that takes effect only once its slashing window has passed.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, ModelId};

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Allocate {
    pub model: ModelId,
    /// Added to the signer's operator's allocation to this model's service.
    pub amount: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Deallocate {
    pub model: ModelId,
    /// Taken off the allocation once the slashing window has passed.
    pub amount: Amount,
}
