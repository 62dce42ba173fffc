//! Services invariants: each operator's recorded total is the sum of its allocations, and
//! what is leaving never exceeds what is allocated.

use super::state;
use crate::store::Store;
use std::collections::BTreeMap;
use surety_types::{Amount, OperatorId};

/// Check the services invariants (module doc) against `store`.
pub fn check(store: &Store) -> Result<(), String> {
    let mut sums: BTreeMap<OperatorId, Amount> = BTreeMap::new();
    for allocation in state::all_allocations(store) {
        if allocation.leaving > allocation.amount {
            return Err(format!(
                "allocation of {} to {} has {} leaving of {}",
                allocation.operator, allocation.model, allocation.leaving, allocation.amount
            ));
        }
        let sum = sums.entry(allocation.operator).or_default();
        *sum = sum
            .checked_add(allocation.amount)
            .map_err(|_| "allocation sum overflows")?;
    }
    let totals: BTreeMap<OperatorId, Amount> = state::all_totals(store).into_iter().collect();
    if totals != sums {
        return Err(format!(
            "recorded service totals {totals:?} differ from the allocations' sums {sums:?}"
        ));
    }
    Ok(())
}
