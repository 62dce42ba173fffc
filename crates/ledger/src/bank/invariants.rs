//! Token conservation: every token ever created is in exactly one account or pool.

use super::state::{self, Pool};
use crate::store::Store;
use surety_types::Amount;

/// Token conservation: the balances of all accounts plus all pools equal the total supply.
pub fn check(store: &Store) -> Result<(), String> {
    let mut total = Amount::ZERO;
    for (id, account) in state::all_accounts(store) {
        total = total
            .checked_add(account.balance)
            .map_err(|_| format!("overflow summing {id}"))?;
    }
    for pool in Pool::ALL {
        total = total
            .checked_add(state::pool(store, pool))
            .map_err(|_| "overflow summing pools")?;
    }
    let supply = state::supply(store);
    if total != supply {
        return Err(format!("supply {supply} != balances + pools {total}"));
    }
    Ok(())
}
