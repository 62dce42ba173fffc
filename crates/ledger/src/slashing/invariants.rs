//! Slashing invariants: an operator is frozen exactly while it has slashes queued, and no
//! window's slash took more than the stake that was at risk.

use super::state;
use crate::staking;
use crate::store::Store;

/// Check the slashing invariants (module doc) against `store`.
pub fn check(store: &Store) -> Result<(), String> {
    let faults = state::all_faults(store);
    for operator in staking::state::all_operators(store) {
        let queued = store
            .prefix_entries(b"slashing/due/")
            .iter()
            .filter(|(key, _)| key.ends_with(&operator.id.0))
            .count() as u32;
        if queued != operator.pending_slashes {
            return Err(format!(
                "{}: {} slashes queued, {} pending",
                operator.id, queued, operator.pending_slashes
            ));
        }
    }
    for fault in faults {
        if fault.slashed > fault.at_risk {
            return Err(format!(
                "{}: slashed {} > stake at risk {}",
                fault.operator, fault.slashed, fault.at_risk
            ));
        }
    }
    Ok(())
}
