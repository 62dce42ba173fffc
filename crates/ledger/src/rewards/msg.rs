//! Rewards transactions.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::OperatorId;

/// Pay the signer's rewards from its delegation to `operator`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ClaimRewards {
    /// The operator whose pool the signer's delegation is in.
    pub operator: OperatorId,
}
