//! Services state: each operator's allocation to each model's service, the operator's total
//! allocation (the sum, kept to check new allocations against its stake), and scheduled
//! decreases by the epoch they take effect in.

use crate::store::{key, part_from_end, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, Epoch, ModelId, OperatorId};

/// An operator's allocation to one model's service.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Allocation {
    /// The operator whose stake is allocated.
    pub operator: OperatorId,
    /// The model whose service it backs.
    pub model: ModelId,
    /// Stake at risk in this service: a fault here is slashed at most this much.
    pub amount: Amount,
    /// Scheduled to leave: still slashable, no longer counted for new work.
    pub leaving: Amount,
}

fn allocation_key(model: &ModelId, operator: &OperatorId) -> Vec<u8> {
    key("services/alloc", &[&model.0, &operator.0])
}

/// `operator`'s allocation to `model`'s service, if any.
pub fn allocation(store: &Store, model: &ModelId, operator: &OperatorId) -> Option<Allocation> {
    store.get(&allocation_key(model, operator))
}

pub(super) fn set_allocation(store: &mut Store, allocation: &Allocation) {
    let key = allocation_key(&allocation.model, &allocation.operator);
    if allocation.amount.is_zero() {
        store.delete(&key);
    } else {
        store.put(key, allocation);
    }
}

/// The key prefix of every allocation to `model`'s service.
pub fn allocations_prefix(model: &ModelId) -> Vec<u8> {
    key("services/alloc", &[&model.0, b""])
}

/// Every allocation to `model`'s service, in operator order.
pub fn allocations_to(store: &Store, model: &ModelId) -> Vec<Allocation> {
    store
        .prefix_values::<Allocation>(&allocations_prefix(model))
        .into_iter()
        .map(|(_, allocation)| allocation)
        .collect()
}

/// Every allocation, by model then operator.
pub fn all_allocations(store: &Store) -> Vec<Allocation> {
    store
        .prefix_values::<Allocation>(b"services/alloc/")
        .into_iter()
        .map(|(_, allocation)| allocation)
        .collect()
}

fn total_key(operator: &OperatorId) -> Vec<u8> {
    key("services/total", &[&operator.0])
}

/// The sum of `operator`'s allocations across services (0 if none).
pub fn total(store: &Store, operator: &OperatorId) -> Amount {
    store.get(&total_key(operator)).unwrap_or_default()
}

pub(super) fn set_total(store: &mut Store, operator: &OperatorId, amount: Amount) {
    if amount.is_zero() {
        store.delete(&total_key(operator));
    } else {
        store.put(total_key(operator), &amount);
    }
}

/// Every operator's total allocation, in operator order.
pub fn all_totals(store: &Store) -> Vec<(OperatorId, Amount)> {
    store
        .prefix_values::<Amount>(b"services/total/")
        .into_iter()
        .map(|(entry, amount)| {
            let id = part_from_end(&entry, 0).expect("total keys end in an operator id");
            (OperatorId(id), amount)
        })
        .collect()
}

/// A scheduled de-allocation, applied at the end of the epoch before the one it is filed under.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Decrease {
    /// The operator whose allocation shrinks.
    pub operator: OperatorId,
    /// The model's service.
    pub model: ModelId,
    /// Tokens taken off the allocation (and off `leaving`).
    pub amount: Amount,
}

fn decrease_prefix(epoch: Epoch) -> Vec<u8> {
    key("services/due", &[&epoch.get().to_be_bytes()])
}

pub(super) fn schedule_decrease(
    store: &mut Store,
    epoch: Epoch,
    sequence: u64,
    decrease: &Decrease,
) {
    let mut entry = decrease_prefix(epoch);
    entry.push(b'/');
    entry.extend_from_slice(&sequence.to_be_bytes());
    store.put(entry, decrease);
}

pub(super) fn next_sequence(store: &mut Store) -> u64 {
    let sequence: u64 = store.get(b"services/sequence").unwrap_or(0);
    let next = sequence
        .checked_add(1)
        .expect("sequence numbers count up by one from 0 and never reach u64::MAX");
    store.put(b"services/sequence".to_vec(), &next);
    sequence
}

pub(super) fn take_decreases(store: &mut Store, epoch: Epoch) -> Vec<Decrease> {
    let mut decreases = Vec::new();
    for (entry, decrease) in store.prefix_values::<Decrease>(&decrease_prefix(epoch)) {
        store.delete(&entry);
        decreases.push(decrease);
    }
    decreases
}

fn in_flight_key(operator: &OperatorId) -> Vec<u8> {
    key("services/in_flight", &[&operator.0])
}

/// `operator`'s fees in flight (see [`crate::services::fees_in_flight`]).
pub fn fees_in_flight(store: &Store, operator: &OperatorId) -> Amount {
    store.get(&in_flight_key(operator)).unwrap_or(Amount::ZERO)
}

/// Every operator's fees in flight, in operator order (invariant checks).
pub fn all_fees_in_flight(store: &Store) -> Vec<(OperatorId, Amount)> {
    store
        .prefix_values::<Amount>(b"services/in_flight/")
        .into_iter()
        .map(|(entry, amount)| {
            let id = part_from_end(&entry, 0).expect("in-flight keys end in an operator id");
            (OperatorId(id), amount)
        })
        .collect()
}

/// Store `operator`'s fees in flight; zero deletes the entry.
pub(super) fn set_fees_in_flight(store: &mut Store, operator: &OperatorId, amount: Amount) {
    if amount.is_zero() {
        store.delete(&in_flight_key(operator));
    } else {
        store.put(in_flight_key(operator), &amount);
    }
}
