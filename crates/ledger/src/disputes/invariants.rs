//! Disputes invariants: the bond pool holds exactly the bonds of open disputes, the
//! bisection interval never inverts, and every open dispute has something due ahead
//! ([`check_due`], which needs the height). (That every open dispute's job says so is the jobs
//! module's invariant: the court does not know jobs.)

use super::state::{self, Challenger, Phase};
use crate::bank::{self, Pool};
use crate::store::Store;
use surety_types::{Amount, Height};

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

/// Every open dispute has something still due after `height`, the last block applied: its
/// move or input deadline is above it and in the due index. Otherwise nothing would ever move
/// it again (a step-0 dispute opened in an end hook for a height the court had passed was
/// such a one, found by the review of the void fallback).
pub fn check_due(store: &Store, height: Height) -> Result<(), String> {
    for dispute in state::disputes_from(store, 0, usize::MAX) {
        let deadline = match dispute.phase {
            Phase::Bisect { deadline, .. } | Phase::AwaitInput { deadline } => deadline,
            Phase::Resolved { .. } => continue,
        };
        if deadline <= height || !state::is_scheduled(store, deadline, dispute.id) {
            return Err(format!(
                "open dispute {} is due at {deadline}, which is not ahead of height {height} in \
                 the due index: nothing would move it again",
                dispute.id
            ));
        }
    }
    Ok(())
}
