//! Rewards: each block's fees plus inflation go to the active validators in proportion to
//! their stake; the operator takes its commission and the rest goes to the pool's delegators
//! through a reward-per-share accumulator (DESIGN §3).
//!
//! Claiming is O(1): a delegation remembers the accumulator value at its last settlement, and
//! is owed `shares × (accumulator now − accumulator then)`. Because rewards accrue per share
//! and a slash changes tokens, not shares, the figure stays exact across slashes. Delegations
//! are settled before their shares change ([`settle`]).
//!
//! Rounding rule: the accumulator is floored, and each distribution credits the pool's
//! delegators with `ceil(increment × shares / SCALE)` — never less than their claims can add
//! up to, never more than the reward. The rest of each reward goes to the community pool at
//! once, and per-claim flooring dust stays in `outstanding` until the pool empties, when it
//! too goes to the community pool. No token appears or vanishes.

pub mod error;
pub mod invariants;
pub mod msg;
pub mod state;

pub use error::RewardsError;
pub use msg::ClaimRewards;

use crate::bank::{self, Pool};
use crate::params::Params;
use crate::staking::{self, Delegation};
use crate::store::Store;
use crate::{BlockContext, Event};
use surety_types::amount::{mul_div_ceil, mul_div_floor};
use surety_types::{AccountId, Amount, OperatorId};

/// Fixed-point scale of the reward-per-share accumulator.
pub const REWARD_SCALE: u128 = 1_000_000_000_000_000_000;

/// What `delegation` (in `operator`'s pool) has earned since its last settlement.
pub fn owed(store: &Store, operator: &OperatorId, delegation: &Delegation) -> Amount {
    let pool = state::operator_rewards(store, operator);
    if delegation.shares.is_zero() {
        return Amount::ZERO;
    }
    let growth = pool.reward_per_share - delegation.reward_snapshot;
    Amount(
        mul_div_floor(delegation.shares.0, growth, REWARD_SCALE)
            .expect("owed rewards fit in an amount"),
    )
}

/// What `delegator`'s delegation to `operator` has earned and not yet been paid.
pub fn pending(store: &Store, operator: &OperatorId, delegator: &AccountId) -> Amount {
    owed(
        store,
        operator,
        &staking::state::delegation(store, operator, delegator),
    )
}

/// Pay `delegator` what its delegation has earned and restart its count from now (the caller
/// stores the updated delegation). Called before any change to a delegation's shares.
pub fn settle(
    store: &mut Store,
    operator: &OperatorId,
    delegator: &AccountId,
    delegation: &mut Delegation,
) -> Result<Amount, bank::BankError> {
    let owed = owed(store, operator, delegation);
    let mut pool = state::operator_rewards(store, operator);
    if !owed.is_zero() {
        pool.outstanding = pool
            .outstanding
            .checked_sub(owed)
            .expect("rounding rule: credited rewards cover every claim");
        state::set_operator_rewards(store, operator, &pool);
        bank::pool_to_account(store, Pool::Rewards, delegator, owed)?;
        store.emit(Event::RewardsPaid {
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
pub fn pool_emptied(store: &mut Store, operator: &OperatorId) -> Result<(), bank::BankError> {
    let mut pool = state::operator_rewards(store, operator);
    if !pool.outstanding.is_zero() {
        bank::pool_to_pool(store, Pool::Rewards, Pool::Community, pool.outstanding)?;
        pool.outstanding = Amount::ZERO;
        state::set_operator_rewards(store, operator, &pool);
    }
    Ok(())
}

pub fn execute_claim(
    store: &mut Store,
    signer: &AccountId,
    msg: &ClaimRewards,
) -> Result<(), RewardsError> {
    let mut delegation = staking::state::delegation(store, &msg.operator, signer);
    if delegation.shares.is_zero() {
        return Err(RewardsError::NoDelegation(msg.operator));
    }
    settle(store, &msg.operator, signer, &mut delegation)?;
    staking::state::set_delegation(store, &msg.operator, signer, &delegation);
    Ok(())
}

/// Inflation minted for one block: `supply × rate / blocks_per_year` (burned tokens excluded).
pub fn block_inflation(store: &Store, params: &Params) -> Amount {
    let live = bank::total_supply(store).saturating_sub(bank::pool_balance(store, Pool::Burned));
    Amount(params.inflation_per_year.mul_floor(live).0 / params.blocks_per_year as u128)
}

/// End of block: mint inflation, then pay everything in the fee collector to the active set.
pub fn end_block(
    store: &mut Store,
    params: &Params,
    _ctx: &BlockContext,
) -> Result<(), RewardsError> {
    let minted = block_inflation(store, params);
    bank::mint_to_pool(store, Pool::FeeCollector, minted)?;
    let total = bank::pool_balance(store, Pool::FeeCollector);
    if total.is_zero() {
        return Ok(());
    }
    let set = staking::state::active_set(store);
    let total_power: u128 = set.iter().map(|v| v.power.0).sum();
    let mut paid = Amount::ZERO;
    if total_power > 0 {
        for validator in &set {
            let portion = Amount(mul_div_floor(total.0, validator.power.0, total_power)?);
            reward_operator(store, &validator.operator, portion)?;
            paid = paid.checked_add(portion)?;
        }
    }
    bank::pool_to_pool(
        store,
        Pool::FeeCollector,
        Pool::Community,
        total.checked_sub(paid)?,
    )?;
    store.emit(Event::RewardsDistributed { minted, total });
    Ok(())
}

/// Pay `amount` from `from` (job fees, audit rewards) to one operator as a reward: its
/// commission to its account, the rest to its delegators, like block rewards.
pub fn pay_operator(
    store: &mut Store,
    from: Pool,
    id: &OperatorId,
    amount: Amount,
) -> Result<(), RewardsError> {
    if amount.is_zero() {
        return Ok(());
    }
    bank::pool_to_pool(store, from, Pool::FeeCollector, amount)?;
    reward_operator(store, id, amount)
}

/// Pay `portion` (held in the fee collector) to one operator: commission to its account, the
/// rest to its delegators through the accumulator.
fn reward_operator(
    store: &mut Store,
    id: &OperatorId,
    portion: Amount,
) -> Result<(), RewardsError> {
    let operator = staking::state::operator(store, id).expect("active validators are operators");
    let commission = operator.commission.mul_floor(portion);
    bank::pool_to_account(store, Pool::FeeCollector, &id.account(), commission)?;
    let for_delegators = portion.checked_sub(commission)?;
    let mut pool = state::operator_rewards(store, id);
    let increment = if operator.shares.is_zero() {
        None
    } else {
        mul_div_floor(for_delegators.0, REWARD_SCALE, operator.shares.0)
            .ok()
            .and_then(|inc| pool.reward_per_share.checked_add(inc).map(|acc| (inc, acc)))
    };
    let credited = match increment {
        Some((increment, accumulator)) => {
            let credited = Amount(mul_div_ceil(increment, operator.shares.0, REWARD_SCALE)?);
            debug_assert!(credited <= for_delegators);
            pool.reward_per_share = accumulator;
            pool.outstanding = pool.outstanding.checked_add(credited)?;
            state::set_operator_rewards(store, id, &pool);
            bank::pool_to_pool(store, Pool::FeeCollector, Pool::Rewards, credited)?;
            credited
        }
        // No shares to credit, or an accumulator that would overflow: nobody can be owed it.
        None => Amount::ZERO,
    };
    bank::pool_to_pool(
        store,
        Pool::FeeCollector,
        Pool::Community,
        for_delegators.checked_sub(credited)?,
    )?;
    store.emit(Event::OperatorRewarded {
        operator: *id,
        commission,
        delegators: credited,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflation_is_the_yearly_rate_spread_over_the_year_and_skips_burned_tokens() {
        let mut store = Store::new();
        bank::mint_to_account(&mut store, &AccountId([1; 32]), Amount(1_000_000_000)).unwrap();
        bank::account_to_pool(
            &mut store,
            &AccountId([1; 32]),
            Pool::Burned,
            Amount(500_000_000),
        )
        .unwrap();
        let params = Params {
            inflation_per_year: surety_types::Ratio::from_percent(10).unwrap(),
            blocks_per_year: 1_000,
            ..Params::default()
        };
        // 10% of the 500,000,000 live tokens, over 1,000 blocks.
        assert_eq!(block_inflation(&store, &params), Amount(50_000));
    }

    #[test]
    fn owed_rewards_grow_with_the_accumulator_and_reset_on_settlement() {
        let mut store = Store::new();
        let operator = OperatorId([9; 32]);
        let delegator = AccountId([1; 32]);
        let mut delegation = Delegation {
            shares: surety_types::Shares(100),
            reward_snapshot: 0,
        };
        settle(&mut store, &operator, &delegator, &mut delegation).unwrap();
        // 3 tokens for 300 shares: 0.01 per share; this delegation holds 100 → owed 1.
        state::set_operator_rewards(
            &mut store,
            &operator,
            &state::OperatorRewards {
                reward_per_share: REWARD_SCALE / 100,
                outstanding: Amount(3),
            },
        );
        bank::mint_to_pool(&mut store, Pool::Rewards, Amount(3)).unwrap();
        assert_eq!(owed(&store, &operator, &delegation), Amount(1));
        assert_eq!(
            settle(&mut store, &operator, &delegator, &mut delegation),
            Ok(Amount(1))
        );
        assert_eq!(owed(&store, &operator, &delegation), Amount::ZERO);
        assert_eq!(
            state::operator_rewards(&store, &operator).outstanding,
            Amount(2)
        );
        assert_eq!(bank::balance(&store, &delegator), Amount(1));
    }
}
