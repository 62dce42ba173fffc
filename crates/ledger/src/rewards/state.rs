//! Rewards state: per operator, the reward-per-share accumulator and the tokens credited to
//! its delegators but not yet claimed. Each delegation's accumulator snapshot is kept in the
//! staking module's delegation record (`Delegation::reward_snapshot`), written only by
//! `rewards::settle`.

use crate::store::{key, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, OperatorId};

#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct OperatorRewards {
    /// Sum over distributions of `reward × SCALE / shares`, floored.
    pub reward_per_share: u128,
    /// Held for this pool's delegators in the rewards pool.
    pub outstanding: Amount,
}

fn operator_key(operator: &OperatorId) -> Vec<u8> {
    key("rewards/operator", &[&operator.0])
}

pub fn operator_rewards(store: &Store, operator: &OperatorId) -> OperatorRewards {
    store.get(&operator_key(operator)).unwrap_or_default()
}

pub fn set_operator_rewards(store: &mut Store, operator: &OperatorId, rewards: &OperatorRewards) {
    store.put(operator_key(operator), rewards);
}
