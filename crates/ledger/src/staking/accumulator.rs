//! The reward-per-share accumulator of each operator's pool (DESIGN §3 "rewards"). It lives in
//! staking because staking changes shares: a delegation must be settled before its shares
//! change ([`settle`]), and a pool that empties hands its dust on (`pool_emptied`). The
//! rewards module, one layer up, credits the accumulator ([`credit`]) when it pays an operator.
//!
//! Claiming is O(1): a delegation remembers the accumulator value at its last settlement, and
//! is owed `shares × (accumulator now − accumulator then)`. Because rewards accrue per share
//! and a slash changes tokens, not shares, the figure stays exact across slashes.
//!
//! Rounding rule: the accumulator is floored, and each credit gives the pool's delegators
//! `ceil(increment × shares / SCALE)` — never less than their claims can add up to, never more
//! than the reward. The rest goes back to the caller at once, and per-claim flooring dust stays
//! in `outstanding` until the pool empties, when it goes to the community pool. No token
//! appears or vanishes.

use super::state::{self, Delegation};
use super::StakingEvent;
use crate::bank::{self, BankError, Pool};
use crate::store::{key, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::amount::{mul_div_ceil, mul_div_floor};
use surety_types::{AccountId, Amount, OperatorId, Shares};

/// Fixed-point scale of the reward-per-share accumulator.
pub const REWARD_SCALE: u128 = 1_000_000_000_000_000_000;

/// One operator pool's accumulator.
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
    // The key keeps its original `rewards/` prefix: the state layout did not change when the
    // accumulator moved into staking.
    key("rewards/operator", &[&operator.0])
}

/// The accumulator of `operator`'s pool.
pub fn operator_rewards(store: &Store, operator: &OperatorId) -> OperatorRewards {
    store.get(&operator_key(operator)).unwrap_or_default()
}

fn set_operator_rewards(store: &mut Store, operator: &OperatorId, rewards: &OperatorRewards) {
    store.put(operator_key(operator), rewards);
}

/// What `delegation` (in `operator`'s pool) has earned since its last settlement.
pub fn owed(store: &Store, operator: &OperatorId, delegation: &Delegation) -> Amount {
    if delegation.shares.is_zero() {
        return Amount::ZERO;
    }
    let pool = operator_rewards(store, operator);
    let growth = pool
        .reward_per_share
        .saturating_sub(delegation.reward_snapshot);
    Amount::new(
        mul_div_floor(delegation.shares.get(), growth, REWARD_SCALE)
            .expect("owed rewards fit in an amount"),
    )
}

/// What `delegator`'s delegation to `operator` has earned and not yet been paid.
pub fn pending(store: &Store, operator: &OperatorId, delegator: &AccountId) -> Amount {
    owed(
        store,
        operator,
        &state::delegation(store, operator, delegator),
    )
}

/// Pay `delegator` what its delegation has earned and restart its count from now (the caller
/// stores the updated delegation). Called before any change to a delegation's shares.
pub fn settle(
    store: &mut Store,
    operator: &OperatorId,
    delegator: &AccountId,
    delegation: &mut Delegation,
) -> Result<Amount, BankError> {
    let owed = owed(store, operator, delegation);
    let mut pool = operator_rewards(store, operator);
    if !owed.is_zero() {
        pool.outstanding = pool
            .outstanding
            .checked_sub(owed)
            .expect("rounding rule: credited rewards cover every claim");
        set_operator_rewards(store, operator, &pool);
        bank::pool_to_account(store, Pool::Rewards, delegator, owed)?;
        store.emit(StakingEvent::RewardsPaid {
            delegator: *delegator,
            operator: *operator,
            amount: owed,
        });
    }
    delegation.reward_snapshot = pool.reward_per_share;
    Ok(owed)
}

/// The pool has no shares left, so nobody can claim its flooring dust: send it to the
/// community pool.
pub(super) fn pool_emptied(store: &mut Store, operator: &OperatorId) -> Result<(), BankError> {
    let mut pool = operator_rewards(store, operator);
    if !pool.outstanding.is_zero() {
        bank::pool_to_pool(store, Pool::Rewards, Pool::Community, pool.outstanding)?;
        pool.outstanding = Amount::ZERO;
        set_operator_rewards(store, operator, &pool);
    }
    Ok(())
}

/// Credit `amount` (held in `from`) to the delegators of a pool with `shares` shares through
/// its accumulator; returns how much was credited (moved from `from` to the rewards pool).
/// The rest stays in `from`: nothing is credited to a pool without shares, or when the
/// accumulator would overflow, since nobody could be owed it.
pub fn credit(
    store: &mut Store,
    from: Pool,
    operator: &OperatorId,
    shares: Shares,
    amount: Amount,
) -> Result<Amount, BankError> {
    let mut pool = operator_rewards(store, operator);
    let increment = if shares.is_zero() {
        None
    } else {
        mul_div_floor(amount.get(), REWARD_SCALE, shares.get())
            .ok()
            .and_then(|inc| pool.reward_per_share.checked_add(inc).map(|acc| (inc, acc)))
    };
    let Some((increment, accumulator)) = increment else {
        return Ok(Amount::ZERO);
    };
    let credited = Amount::new(mul_div_ceil(increment, shares.get(), REWARD_SCALE)?);
    debug_assert!(credited <= amount);
    pool.reward_per_share = accumulator;
    pool.outstanding = pool.outstanding.checked_add(credited)?;
    set_operator_rewards(store, operator, &pool);
    bank::pool_to_pool(store, from, Pool::Rewards, credited)?;
    Ok(credited)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owed_rewards_grow_with_the_accumulator_and_reset_on_settlement() {
        let mut store = Store::new();
        let operator = OperatorId([9; 32]);
        let delegator = AccountId([1; 32]);
        let mut delegation = Delegation {
            shares: Shares::new(100),
            reward_snapshot: 0,
        };
        settle(&mut store, &operator, &delegator, &mut delegation).unwrap();
        // 3 tokens for 300 shares: 0.01 per share; this delegation holds 100 → owed 1.
        set_operator_rewards(
            &mut store,
            &operator,
            &OperatorRewards {
                reward_per_share: REWARD_SCALE / 100,
                outstanding: Amount::new(3),
            },
        );
        bank::mint_to_pool(&mut store, Pool::Rewards, Amount::new(3)).unwrap();
        assert_eq!(owed(&store, &operator, &delegation), Amount::new(1));
        assert_eq!(
            settle(&mut store, &operator, &delegator, &mut delegation),
            Ok(Amount::new(1))
        );
        assert_eq!(owed(&store, &operator, &delegation), Amount::ZERO);
        assert_eq!(
            operator_rewards(&store, &operator).outstanding,
            Amount::new(2)
        );
        assert_eq!(bank::balance(&store, &delegator), Amount::new(1));
    }
}
