//! Staking invariants: every pool's shares equal the sum of its delegations; no delegation is
//! worth more than its pool; the bonded and unbonding pools hold exactly what operators and
//! unbonding entries say they do.

use super::state;
use crate::bank::{self, Pool};
use crate::store::Store;
use surety_types::{Amount, Shares};

/// Check the staking invariants (module doc) against `store`; the message names the first
/// that is broken.
pub fn check(store: &Store) -> Result<(), String> {
    let mut bonded = Amount::ZERO;
    for operator in state::all_operators(store) {
        let delegations = state::delegations_to(store, &operator.id);
        let mut shares = Shares::ZERO;
        let mut worth = Amount::ZERO;
        for (_, delegation) in &delegations {
            shares = shares
                .checked_add(delegation.shares)
                .map_err(|e| e.to_string())?;
            worth = worth
                .checked_add(operator.tokens_for(delegation.shares))
                .map_err(|e| e.to_string())?;
        }
        if shares != operator.shares {
            return Err(format!(
                "{}: delegations hold {shares:?}, pool says {:?}",
                operator.id, operator.shares
            ));
        }
        if worth > operator.tokens {
            return Err(format!(
                "{}: delegations worth {worth} > pool tokens {}",
                operator.id, operator.tokens
            ));
        }
        if operator.shares.is_zero() && !operator.tokens.is_zero() {
            return Err(format!("{}: tokens without shares", operator.id));
        }
        bonded = bonded
            .checked_add(operator.tokens)
            .map_err(|e| e.to_string())?;
    }
    if bonded != bank::pool_balance(store, Pool::Bonded) {
        return Err(format!(
            "operators hold {bonded}, bonded pool {}",
            bank::pool_balance(store, Pool::Bonded)
        ));
    }
    let mut unbonding = Amount::ZERO;
    for entry in state::all_unbondings(store) {
        if entry.balance > entry.initial {
            return Err(format!("unbonding entry {} grew", entry.id));
        }
        unbonding = unbonding
            .checked_add(entry.balance)
            .map_err(|e| e.to_string())?;
    }
    if unbonding != bank::pool_balance(store, Pool::Unbonding) {
        return Err(format!(
            "unbonding entries hold {unbonding}, unbonding pool {}",
            bank::pool_balance(store, Pool::Unbonding)
        ));
    }
    Ok(())
}
