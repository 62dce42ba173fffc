//! Services: shared security (DESIGN §3 "services"). An operator allocates part of its
//! bonded stake to a model's service; it is then assigned that model's jobs and audits in
//! proportion to its allocation, and a fault in the service is slashed at most the
//! allocation. A decrease takes effect only after `evidence_max_age_epochs + 1` epochs, when
//! no offence committed while the stake was allocated can still be reported: de-allocating
//! is no escape from a slash.

pub mod error;
pub mod event;
pub mod invariants;
pub mod msg;
pub mod state;

pub use error::ServicesError;
pub use event::ServicesEvent;
pub use msg::{Allocate, Deallocate};
pub use state::Allocation;

use crate::context::BlockContext;
use crate::params::Params;
use crate::staking;
use crate::store::Store;
use surety_types::{AccountId, Amount, ModelId, OperatorId};

/// Execute an [`Allocate`]: add to the signer's operator's allocation to an active model's
/// service, within its bonded stake and at least `service_allocation_min`.
pub fn execute_allocate(
    store: &mut Store,
    params: &Params,
    signer: &AccountId,
    msg: &Allocate,
) -> Result<(), ServicesError> {
    let operator_id = OperatorId::from(*signer);
    let operator =
        staking::state::operator(store, &operator_id).ok_or(ServicesError::NotOperator)?;
    if operator.jailed || operator.tombstoned {
        return Err(ServicesError::Jailed(operator_id));
    }
    crate::models::active(store, &msg.model)?;
    let allocated = state::total(store, &operator_id);
    let new_total = allocated.checked_add(msg.amount)?;
    if new_total > operator.tokens {
        return Err(ServicesError::AboveStake {
            requested: msg.amount,
            allocated,
            stake: operator.tokens,
        });
    }
    let mut allocation = state::allocation(store, &msg.model, &operator_id).unwrap_or(Allocation {
        operator: operator_id,
        model: msg.model,
        amount: Amount::ZERO,
        leaving: Amount::ZERO,
    });
    allocation.amount = allocation.amount.checked_add(msg.amount)?;
    let staying = allocation.amount.checked_sub(allocation.leaving)?;
    let min = params.services.service_allocation_min;
    if staying < min {
        return Err(ServicesError::BelowMinimum { min, got: staying });
    }
    state::set_allocation(store, &allocation);
    state::set_total(store, &operator_id, new_total);
    store.emit(ServicesEvent::ServiceAllocated {
        operator: operator_id,
        model: msg.model,
        amount: msg.amount,
    });
    Ok(())
}

/// Execute a [`Deallocate`]: mark part of an allocation as leaving (no longer counted for
/// new work, still slashable) and schedule its removal for when no offence from before this
/// block can still be reported.
pub fn execute_deallocate(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &Deallocate,
) -> Result<(), ServicesError> {
    let operator_id = OperatorId::from(*signer);
    let mut allocation =
        state::allocation(store, &msg.model, &operator_id).ok_or(ServicesError::NoAllocation {
            operator: operator_id,
            model: msg.model,
        })?;
    let available = allocation.amount.checked_sub(allocation.leaving)?;
    if msg.amount > available {
        return Err(ServicesError::DeallocateTooMuch {
            requested: msg.amount,
            available,
        });
    }
    let staying = available.checked_sub(msg.amount)?;
    let min = params.services.service_allocation_min;
    if !staying.is_zero() && staying < min {
        return Err(ServicesError::BelowMinimum { min, got: staying });
    }
    allocation.leaving = allocation.leaving.checked_add(msg.amount)?;
    state::set_allocation(store, &allocation);
    // Applied at the end of the epoch before `effective_epoch`: by then every offence from
    // before this block is past the evidence age limit, so it was reported against the
    // full allocation.
    let effective_epoch = ctx
        .epoch
        .plus(params.slashing.evidence_max_age_epochs)?
        .plus(1)?;
    let sequence = state::next_sequence(store);
    state::schedule_decrease(
        store,
        effective_epoch,
        sequence,
        &state::Decrease {
            operator: operator_id,
            model: msg.model,
            amount: msg.amount,
        },
    );
    store.emit(ServicesEvent::DeallocationScheduled {
        operator: operator_id,
        model: msg.model,
        amount: msg.amount,
        effective_epoch,
    });
    Ok(())
}

/// Fees of the jobs `operator` holds that are not yet final or failed: what it could pocket by
/// cheating on all of them at once (docs/market.md, "Fees in flight"). The jobs module adds
/// and releases them; while any is in flight, the operator's deallocations wait.
pub fn fees_in_flight(store: &Store, operator: &OperatorId) -> Amount {
    state::fees_in_flight(store, operator)
}

/// `operator` took on work worth `amount` of fees. Saturates: a hook may not fail, and the sum
/// is bounded by the fees escrowed, far below `u128::MAX`.
pub fn add_fees_in_flight(store: &mut Store, operator: &OperatorId, amount: Amount) {
    let total = state::fees_in_flight(store, operator).saturating_add(amount);
    state::set_fees_in_flight(store, operator, total);
}

/// Work worth `amount` of fees that `operator` held has ended (final, failed, missed or proven
/// wrong).
pub fn release_fees_in_flight(store: &mut Store, operator: &OperatorId, amount: Amount) {
    let held = state::fees_in_flight(store, operator);
    debug_assert!(held >= amount, "a released share was in flight");
    state::set_fees_in_flight(store, operator, held.saturating_sub(amount));
}

/// End of block: at an epoch end, apply the decreases that take effect in the next epoch. A
/// decrease of an operator with fees in flight or frozen stake (an open dispute, a pending
/// slash) waits an epoch more, and again, until neither holds: a result it committed before
/// the decrease, proven wrong after, must still find the allocation to slash (otherwise it
/// would deallocate right after being assigned long jobs and cheat on them for free).
pub fn end_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
) -> Result<(), ServicesError> {
    if !ctx.is_epoch_end(params) {
        return Ok(());
    }
    for decrease in state::take_decreases(store, ctx.epoch.next()) {
        let busy = !state::fees_in_flight(store, &decrease.operator).is_zero()
            || staking::state::operator(store, &decrease.operator).is_some_and(|o| o.is_frozen());
        if busy {
            let later = ctx.epoch.next().saturating_plus(1);
            let sequence = state::next_sequence(store);
            state::schedule_decrease(store, later, sequence, &decrease);
            store.emit(ServicesEvent::DeallocationPostponed {
                operator: decrease.operator,
                model: decrease.model,
                effective_epoch: later,
            });
            continue;
        }
        let Some(mut allocation) = state::allocation(store, &decrease.model, &decrease.operator)
        else {
            continue;
        };
        let amount = decrease.amount.min(allocation.leaving);
        allocation.amount = allocation.amount.checked_sub(amount)?;
        allocation.leaving = allocation.leaving.checked_sub(amount)?;
        state::set_allocation(store, &allocation);
        let total = state::total(store, &decrease.operator).checked_sub(amount)?;
        state::set_total(store, &decrease.operator, total);
        store.emit(ServicesEvent::ServiceDeallocated {
            operator: decrease.operator,
            model: decrease.model,
            amount,
        });
    }
    Ok(())
}

/// The most a fault in `model`'s service may slash `operator` (its whole allocation, leaving
/// part included), or `None` if it has no allocation there.
pub fn slashable(store: &Store, model: &ModelId, operator: &OperatorId) -> Option<Amount> {
    state::allocation(store, model, operator).map(|allocation| allocation.amount)
}

/// Operators that may be given `model`'s work now, with their weight: the allocation not
/// leaving, capped by the operator's bonded tokens (a slash may have lowered them). Jailed,
/// tombstoned and frozen operators are skipped. In operator order.
pub fn eligible(store: &Store, model: &ModelId) -> Vec<(OperatorId, Amount)> {
    eligible_with_family(store, model)
        .into_iter()
        .map(|(operator, weight, _)| (operator, weight))
        .collect()
}

/// [`eligible`], with each operator's declared family (`OperatorMetadata::family`): what the
/// market needs to keep an operator from auditing its own family.
pub fn eligible_with_family(
    store: &Store,
    model: &ModelId,
) -> Vec<(OperatorId, Amount, Option<AccountId>)> {
    state::allocations_to(store, model)
        .into_iter()
        .filter_map(|allocation| {
            let operator = staking::state::operator(store, &allocation.operator)?;
            if operator.jailed || operator.tombstoned || operator.is_frozen() {
                return None;
            }
            let weight = allocation
                .amount
                .saturating_sub(allocation.leaving)
                .min(operator.tokens);
            (!weight.is_zero()).then_some((allocation.operator, weight, operator.metadata.family))
        })
        .collect()
}
