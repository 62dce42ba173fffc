//! Rewards invariants: the rewards pool holds exactly what operators' `outstanding` says, and
//! each operator's `outstanding` (in staking's accumulator) covers every claim its delegators
//! could make now; the fee collector is empty at every block end.

use crate::bank::{self, Pool};
use crate::staking;
use crate::store::Store;
use surety_types::Amount;

/// Check the rewards invariants (module doc) against `store`.
pub fn check(store: &Store) -> Result<(), String> {
    let mut outstanding = Amount::ZERO;
    for operator in staking::state::all_operators(store) {
        let pool = staking::accumulator::operator_rewards(store, &operator.id);
        let mut owed = Amount::ZERO;
        for (_, delegation) in staking::state::delegations_to(store, &operator.id) {
            owed = owed
                .checked_add(staking::accumulator::owed(store, &operator.id, &delegation))
                .map_err(|e| e.to_string())?;
        }
        if owed > pool.outstanding {
            return Err(format!(
                "{}: delegators are owed {owed}, only {} credited",
                operator.id, pool.outstanding
            ));
        }
        outstanding = outstanding
            .checked_add(pool.outstanding)
            .map_err(|e| e.to_string())?;
    }
    let held = bank::pool_balance(store, Pool::Rewards);
    if held != outstanding {
        return Err(format!(
            "rewards pool holds {held}, operators are owed {outstanding}"
        ));
    }
    if !bank::pool_balance(store, Pool::FeeCollector).is_zero() {
        return Err("fee collector not emptied at block end".into());
    }
    Ok(())
}
