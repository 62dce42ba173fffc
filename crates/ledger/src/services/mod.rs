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
///
/// Assignment asks for this once per job and per auditor drawn, and a scan reads every
/// allocation of the service and every one of its operators' records: O(operators) reads a
/// job. The result is memoised in the store ([`Store::memoised`]) for as long as no allocation
/// to `model` and no operator record is written (allocations, deallocations, jailing,
/// freezing, slashes, families change those): within a block of assignments it is computed
/// once, and it is always what [`eligible_with_family_scan`] would return.
pub fn eligible_with_family(
    store: &Store,
    model: &ModelId,
) -> Vec<(OperatorId, Amount, Option<AccountId>)> {
    let allocations = state::allocations_prefix(model);
    // Operator records: `staking/operator/<id>` (`staking::state::operator_key`).
    let operators = crate::store::key(staking::state::OPERATOR_PREFIX, &[b""]);
    let mut name = b"services/eligible/".to_vec();
    name.extend_from_slice(&model.0);
    store.memoised(&name, &[&allocations, &operators], |store| {
        eligible_with_family_scan(store, model)
    })
}

/// [`eligible_with_family`] read afresh from state, without the memo: it reads only the
/// allocations to `model` and the records of their operators (what the memo watches).
pub fn eligible_with_family_scan(
    store: &Store,
    model: &ModelId,
) -> Vec<(OperatorId, Amount, Option<AccountId>)> {
    scan(store, model, |operator| !operator.is_frozen())
}

/// The operators that may audit `model`'s jobs, with their weights and families: as
/// [`eligible_with_family`], but operators frozen only by an open dispute are in. Anyone can
/// cause that freeze with a bonded challenge; were those out of an epoch's audit pool, a cheat
/// could challenge honest operators just before an epoch's end to keep them from auditing it
/// for the whole epoch (docs/market.md, "Audits: private sortition"). An operator with a slash
/// pending is out, as it may not claim (`jobs`): in the pool's weight it would only lower every
/// other operator's chance.
pub fn audit_pool(store: &Store, model: &ModelId) -> Vec<(OperatorId, Amount, Option<AccountId>)> {
    scan(store, model, |operator| operator.pending_slashes == 0)
}

/// The allocations to `model` whose operator is neither jailed nor tombstoned and passes
/// `admit`, with their weights and families.
fn scan(
    store: &Store,
    model: &ModelId,
    admit: impl Fn(&staking::state::Operator) -> bool,
) -> Vec<(OperatorId, Amount, Option<AccountId>)> {
    state::allocations_to(store, model)
        .into_iter()
        .filter_map(|allocation| {
            let operator = staking::state::operator(store, &allocation.operator)?;
            if operator.jailed || operator.tombstoned || !admit(&operator) {
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

#[cfg(test)]
mod tests {
    //! The memoised [`eligible_with_family`] against a full scan, after every write a block can
    //! make to what it depends on, in every layer a write can sit in (transactions, batch items,
    //! hook items, dropped or kept) and on a copy of the store (the simulation's grinding).

    use super::*;
    use crate::staking::state::{operator_key, Operator, OperatorMetadata};
    use proptest::prelude::*;
    use surety_types::{Epoch, Ratio, Shares, SigningKey};

    const OPERATORS: u8 = 6;
    const MODELS: [ModelId; 2] = [ModelId([1; 32]), ModelId([2; 32])];

    fn operator_id(index: u8) -> OperatorId {
        OperatorId([index.saturating_add(10); 32])
    }

    fn operator_record(store: &Store, index: u8) -> Operator {
        staking::state::operator(store, &operator_id(index)).unwrap_or_else(|| Operator {
            id: operator_id(index),
            consensus_key: SigningKey::from_seed([index; 32]).verification_key().into(),
            commission: Ratio::ZERO,
            max_commission_change: Ratio::ZERO,
            commission_changed_epoch: None,
            metadata: OperatorMetadata::default(),
            tokens: Amount::new(1_000),
            shares: Shares::new(1_000),
            jailed: false,
            jailed_until: Epoch::new(0),
            tombstoned: false,
            pending_slashes: 0,
            dispute_holds: 0,
        })
    }

    /// One write a block can make to what eligibility reads.
    #[derive(Clone, Debug)]
    enum Write {
        Allocate {
            operator: u8,
            model: usize,
            amount: u128,
            leaving: u128,
        },
        Remove {
            operator: u8,
            model: usize,
        },
        Jail {
            operator: u8,
            jailed: bool,
        },
        Tombstone {
            operator: u8,
        },
        Freeze {
            operator: u8,
            holds: u32,
            pending: u32,
        },
        Tokens {
            operator: u8,
            tokens: u128,
        },
        Family {
            operator: u8,
            head: Option<u8>,
        },
        DeleteOperator {
            operator: u8,
        },
        /// A write elsewhere in state (not watched): must not matter.
        Other {
            byte: u8,
        },
    }

    fn apply(store: &mut Store, write: &Write) {
        let allocation_of = |store: &Store, operator: u8, model: usize| {
            state::allocation(store, &MODELS[model], &operator_id(operator)).unwrap_or(Allocation {
                operator: operator_id(operator),
                model: MODELS[model],
                amount: Amount::ZERO,
                leaving: Amount::ZERO,
            })
        };
        let put_operator = |store: &mut Store, operator: u8, change: &dyn Fn(&mut Operator)| {
            let mut record = operator_record(store, operator);
            change(&mut record);
            store.put(operator_key(&record.id), &record);
        };
        match *write {
            Write::Allocate {
                operator,
                model,
                amount,
                leaving,
            } => {
                let mut allocation = allocation_of(store, operator, model);
                allocation.amount = Amount::new(amount);
                allocation.leaving = Amount::new(leaving.min(amount));
                state::set_allocation(store, &allocation);
            }
            Write::Remove { operator, model } => {
                let mut allocation = allocation_of(store, operator, model);
                allocation.amount = Amount::ZERO;
                state::set_allocation(store, &allocation);
            }
            Write::Jail { operator, jailed } => {
                put_operator(store, operator, &|o| o.jailed = jailed)
            }
            Write::Tombstone { operator } => {
                put_operator(store, operator, &|o| o.tombstoned = true)
            }
            Write::Freeze {
                operator,
                holds,
                pending,
            } => put_operator(store, operator, &|o| {
                o.dispute_holds = holds;
                o.pending_slashes = pending;
            }),
            Write::Tokens { operator, tokens } => {
                put_operator(store, operator, &|o| o.tokens = Amount::new(tokens))
            }
            Write::Family { operator, head } => put_operator(store, operator, &|o| {
                o.metadata.family = head.map(|h| operator_id(h).account());
            }),
            Write::DeleteOperator { operator } => {
                store.delete(&operator_key(&operator_id(operator)))
            }
            Write::Other { byte } => store.put(vec![b'z', byte], &byte),
        }
    }

    /// What a block does with its layers around the writes.
    #[derive(Clone, Debug)]
    enum Step {
        Write(Write),
        BeginTx,
        CommitTx,
        DiscardTx,
        /// An isolated item (a batch entry inside a transaction, a hook item outside one) that
        /// writes, then fails or is kept.
        Item {
            writes: Vec<Write>,
            fails: bool,
        },
        CommitBlock,
        DiscardBlock,
        /// Go on with a copy of the store (a grinder's trial block).
        Clone,
    }

    fn write() -> impl Strategy<Value = Write> {
        let operator = 0..OPERATORS;
        prop_oneof![
            (operator.clone(), 0..2usize, 0..3_000u128, 0..2_000u128).prop_map(
                |(operator, model, amount, leaving)| Write::Allocate {
                    operator,
                    model,
                    amount,
                    leaving
                }
            ),
            (operator.clone(), 0..2usize)
                .prop_map(|(operator, model)| Write::Remove { operator, model }),
            (operator.clone(), any::<bool>())
                .prop_map(|(operator, jailed)| Write::Jail { operator, jailed }),
            operator
                .clone()
                .prop_map(|operator| Write::Tombstone { operator }),
            (operator.clone(), 0..2u32, 0..2u32).prop_map(|(operator, holds, pending)| {
                Write::Freeze {
                    operator,
                    holds,
                    pending,
                }
            }),
            (operator.clone(), 0..3_000u128)
                .prop_map(|(operator, tokens)| Write::Tokens { operator, tokens }),
            (operator.clone(), prop::option::of(0..OPERATORS))
                .prop_map(|(operator, head)| Write::Family { operator, head }),
            operator.prop_map(|operator| Write::DeleteOperator { operator }),
            any::<u8>().prop_map(|byte| Write::Other { byte }),
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => write().prop_map(Step::Write),
            1 => Just(Step::BeginTx),
            1 => Just(Step::CommitTx),
            1 => Just(Step::DiscardTx),
            2 => (prop::collection::vec(write(), 1..4), any::<bool>())
                .prop_map(|(writes, fails)| Step::Item { writes, fails }),
            1 => Just(Step::CommitBlock),
            1 => Just(Step::DiscardBlock),
            1 => Just(Step::Clone),
        ]
    }

    fn assert_fresh(store: &Store) {
        for model in &MODELS {
            assert_eq!(
                eligible_with_family(store, model),
                eligible_with_family_scan(store, model),
                "the memo returned what a scan no longer finds"
            );
        }
    }

    fn run(store: &mut Store, in_tx: &mut bool, step: &Step) {
        match step {
            Step::Write(write) => apply(store, write),
            Step::BeginTx if !*in_tx => {
                store.begin_tx();
                *in_tx = true;
            }
            Step::CommitTx if *in_tx => {
                store.commit_tx();
                *in_tx = false;
            }
            Step::DiscardTx if *in_tx => {
                store.discard_tx();
                *in_tx = false;
            }
            Step::Item { writes, fails } => {
                let result: Result<(), ()> = store.isolated(|store| {
                    for write in writes {
                        apply(store, write);
                        assert_fresh(store);
                    }
                    if *fails {
                        Err(())
                    } else {
                        Ok(())
                    }
                });
                assert_eq!(result.is_err(), *fails);
            }
            Step::CommitBlock if !*in_tx => {
                store.commit_block();
            }
            Step::DiscardBlock => {
                store.discard_block();
                *in_tx = false;
            }
            Step::Clone => *store = store.clone(),
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn memoised_eligibility_is_always_what_a_full_scan_finds(
            steps in prop::collection::vec(step(), 1..80),
        ) {
            let mut store = Store::new();
            let mut in_tx = false;
            for operator in 0..OPERATORS {
                apply(&mut store, &Write::Allocate {
                    operator, model: 0, amount: 1_000, leaving: 0,
                });
            }
            store.commit_block();
            assert_fresh(&store);
            for step in &steps {
                run(&mut store, &mut in_tx, step);
                assert_fresh(&store);
            }
        }
    }

    #[test]
    fn eligibility_read_twice_without_a_change_is_memoised_and_a_jail_mid_block_is_seen() {
        let mut store = Store::new();
        for operator in 0..3 {
            apply(
                &mut store,
                &Write::Allocate {
                    operator,
                    model: 0,
                    amount: 1_000,
                    leaving: 0,
                },
            );
            apply(
                &mut store,
                &Write::Tokens {
                    operator,
                    tokens: 1_000,
                },
            );
        }
        store.commit_block();
        assert_eq!(eligible_with_family(&store, &MODELS[0]).len(), 3);
        let reads = store.access().reads();
        assert_eq!(eligible_with_family(&store, &MODELS[0]).len(), 3);
        assert_eq!(
            store.access().reads(),
            reads,
            "the second read is the memo's"
        );
        // A write elsewhere keeps it; a jail in the open transaction is seen at once, and
        // again dropped with the transaction.
        apply(&mut store, &Write::Other { byte: 1 });
        assert_eq!(eligible_with_family(&store, &MODELS[0]).len(), 3);
        assert_eq!(store.access().reads(), reads);
        store.begin_tx();
        apply(
            &mut store,
            &Write::Jail {
                operator: 1,
                jailed: true,
            },
        );
        assert_eq!(eligible_with_family(&store, &MODELS[0]).len(), 2);
        store.discard_tx();
        assert_eq!(eligible_with_family(&store, &MODELS[0]).len(), 3);
    }
}
