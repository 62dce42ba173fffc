//! Service transactions: an operator allocates part of its stake to a model's service, and
//! schedules a decrease that takes effect only once its slashing window has passed.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, ModelId};

/// Allocate part of the signer's operator's bonded stake to a model's service, which makes
/// it eligible for that model's jobs and audits and puts the allocation at risk for faults in
/// them.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Allocate {
    /// The active model whose service takes the stake.
    pub model: ModelId,
    /// Added to the signer's operator's allocation to this model's service.
    pub amount: Amount,
}

/// Schedule a decrease of the signer's operator's allocation to a model's service; it takes
/// effect `evidence_max_age_epochs + 1` epochs later, so it cannot outrun a slash.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Deallocate {
    /// The model whose service the stake leaves.
    pub model: ModelId,
    /// Taken off the allocation once the slashing window has passed.
    pub amount: Amount,
}
