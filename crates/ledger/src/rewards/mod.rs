//! Rewards: each block's fees plus inflation go to the active validators in proportion to
//! their stake; the operator takes its commission and the rest goes to the pool's delegators
//! through a reward-per-share accumulator (DESIGN §3).
//!
//! The accumulator itself, and the settlement of a delegation before its shares change, belong
//! to staking (`staking::accumulator`), the layer below: this module credits it. What the
//! accumulator cannot credit (rounding, a pool without shares) goes to the community pool at
//! once. No token appears or vanishes.

pub mod error;
pub mod event;
pub mod invariants;
pub mod msg;

pub use error::RewardsError;
pub use event::RewardsEvent;
pub use msg::ClaimRewards;

use crate::bank::{self, Pool};
use crate::context::BlockContext;
use crate::params::Params;
use crate::staking;
use crate::store::Store;
use surety_types::amount::mul_div_floor;
use surety_types::{AccountId, Amount, OperatorId};

/// Execute a [`ClaimRewards`]: pay the signer what its delegation to the operator earned.
pub fn execute_claim(
    store: &mut Store,
    signer: &AccountId,
    msg: &ClaimRewards,
) -> Result<(), RewardsError> {
    staking::claim(store, &msg.operator, signer)?
        .then_some(())
        .ok_or(RewardsError::NoDelegation(msg.operator))
}

/// Inflation minted for one block: `supply × rate / blocks_per_year` (burned tokens excluded).
pub fn block_inflation(store: &Store, params: &Params) -> Amount {
    let live = bank::total_supply(store).saturating_sub(bank::pool_balance(store, Pool::Burned));
    params
        .rewards
        .inflation_per_year
        .mul_floor(live)
        .checked_div(u128::from(params.rewards.blocks_per_year))
        .expect("blocks_per_year is validated non-zero at genesis (Params::validate)")
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
    let total_power: u128 = set.iter().map(|v| v.power.get()).sum();
    let mut paid = Amount::ZERO;
    if total_power > 0 {
        for validator in &set {
            let portion = Amount::new(mul_div_floor(
                total.get(),
                validator.power.get(),
                total_power,
            )?);
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
    store.emit(RewardsEvent::RewardsDistributed { minted, total });
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
    let credited = staking::accumulator::credit(
        store,
        Pool::FeeCollector,
        id,
        operator.shares,
        for_delegators,
    )?;
    bank::pool_to_pool(
        store,
        Pool::FeeCollector,
        Pool::Community,
        for_delegators.checked_sub(credited)?,
    )?;
    store.emit(RewardsEvent::OperatorRewarded {
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
        bank::mint_to_account(&mut store, &AccountId([1; 32]), Amount::new(1_000_000_000)).unwrap();
        bank::account_to_pool(
            &mut store,
            &AccountId([1; 32]),
            Pool::Burned,
            Amount::new(500_000_000),
        )
        .unwrap();
        let mut params = Params::default();
        params.rewards.inflation_per_year = surety_types::Ratio::from_percent(10).unwrap();
        params.rewards.blocks_per_year = 1_000;
        // 10% of the 500,000,000 live tokens, over 1,000 blocks.
        assert_eq!(block_inflation(&store, &params), Amount::new(50_000));
    }
}
