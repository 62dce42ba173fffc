//! Disputes invariants: the bond pool holds exactly the bonds of open disputes, and the
//! bisection interval never inverts. (That every open dispute's job says so is the jobs
//! module's invariant: the court does not know jobs.)

use super::state::{self, Challenger};
use crate::bank::{self, Pool};
use crate::store::Store;
use surety_types::Amount;

/// Check the disputes invariants (module doc) against `store`.
pub fn check(store: &Store) -> Result<(), String> {
    let mut bonds = Amount::ZERO;
    for dispute in state::disputes_from(store, 0, usize::MAX) {
        if dispute.agreed > dispute.disagreed || dispute.disagreed >= dispute.steps {
            return Err(format!(
                "dispute {} has interval [{}, {}] over {} steps",
                dispute.id, dispute.agreed, dispute.disagreed, dispute.steps
            ));
        }
        if !dispute.is_open() {
            continue;
        }
        if let Challenger::Account(_) = dispute.challenger {
            bonds = bonds
                .checked_add(dispute.bond)
                .map_err(|_| "bond sum overflows")?;
        }
    }
    let pool = bank::pool_balance(store, Pool::DisputeBonds);
    if pool != bonds {
        return Err(format!(
            "dispute bond pool holds {pool}, open disputes' bonds add up to {bonds}"
        ));
    }
    Ok(())
}
