//! Slashing state: one fault record per (window, operator) — the largest offence in the window,
//! which is all that is ever applied (max, not sum) — the total bonded stake when the window's
//! first fault was reported, a queue of slashes by the epoch they apply in, and per-validator
//! liveness bitmaps for downtime.

use crate::store::{key, part_from_end, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount, Epoch, Height, OperatorId, Ratio};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub enum FaultKind {
    /// Two different signed statements for one consensus slot, or two different signed results
    /// for one job.
    Equivocation,
    /// A result that a dispute proved wrong.
    WrongResult,
    /// No result by a job's deadline.
    MissedDeadline,
    /// Too few consensus signatures in the liveness window.
    Downtime,
}

/// An offence, as reported to slashing by evidence or by another module.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Offence {
    pub operator: OperatorId,
    pub kind: FaultKind,
    /// When the offence was committed.
    pub height: Height,
    /// Who reported it (paid the whistleblower share).
    pub reporter: Option<AccountId>,
    /// Who it harmed (refunded the harmed-party share).
    pub harmed: Option<AccountId>,
    /// For a fault in a service: the operator's allocation to it, the most it may lose.
    pub cap: Option<Amount>,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Fault {
    pub operator: OperatorId,
    pub window: u64,
    /// The offence with the largest base fraction in the window.
    pub kind: FaultKind,
    pub base_fraction: Ratio,
    pub reporter: Option<AccountId>,
    pub harmed: Option<AccountId>,
    /// The earliest offence in the window: stake that left after it is still slashed.
    pub offence_height: Height,
    pub offence_epoch: Epoch,
    /// Stake at risk when the first offence was reported: the operator's bonded tokens, or
    /// its service allocation for a fault in a service (`cap`).
    pub stake: Amount,
    /// The service allocation that bounds the slash, if the fault is in a service.
    pub cap: Option<Amount>,
    /// The operator's bonded tokens when the offence was reported (what `stake` is part of).
    pub pool_tokens: Amount,
    pub apply_epoch: Epoch,
    /// The fraction already applied, once the slash has been applied.
    pub applied: Option<Ratio>,
    /// Tokens slashed so far for this window.
    pub slashed: Amount,
    /// Largest stake at risk seen when applying (see `staking::SlashOutcome::at_risk`).
    pub at_risk: Amount,
}

#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Liveness {
    /// Bit `h % window` is set if the validator missed block `h`.
    pub missed_bits: Vec<u8>,
    pub missed: u64,
    /// First height tracked: no downtime is judged before a whole window has been seen.
    pub since: Height,
}

fn fault_key(window: u64, operator: &OperatorId) -> Vec<u8> {
    key("slashing/fault", &[&window.to_be_bytes(), &operator.0])
}

fn window_prefix(window: u64) -> Vec<u8> {
    let mut prefix = key("slashing/fault", &[&window.to_be_bytes()]);
    prefix.push(b'/');
    prefix
}

fn window_total_key(window: u64) -> Vec<u8> {
    key("slashing/window_total", &[&window.to_be_bytes()])
}

fn due_key(epoch: Epoch, window: u64, operator: &OperatorId) -> Vec<u8> {
    key(
        "slashing/due",
        &[&epoch.0.to_be_bytes(), &window.to_be_bytes(), &operator.0],
    )
}

fn liveness_key(operator: &OperatorId) -> Vec<u8> {
    key("slashing/liveness", &[&operator.0])
}

pub fn fault(store: &Store, window: u64, operator: &OperatorId) -> Option<Fault> {
    store.get(&fault_key(window, operator))
}

pub(super) fn set_fault(store: &mut Store, fault: &Fault) {
    store.put(fault_key(fault.window, &fault.operator), fault);
}

pub fn faults_in_window(store: &Store, window: u64) -> Vec<Fault> {
    store
        .prefix_values::<Fault>(&window_prefix(window))
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}

pub fn all_faults(store: &Store) -> Vec<Fault> {
    store
        .prefix_values::<Fault>(b"slashing/fault/")
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}

pub fn window_total(store: &Store, window: u64) -> Option<Amount> {
    store.get(&window_total_key(window))
}

pub(super) fn set_window_total(store: &mut Store, window: u64, total: Amount) {
    store.put(window_total_key(window), &total);
}

pub(super) fn queue(store: &mut Store, epoch: Epoch, window: u64, operator: &OperatorId) {
    store.put(due_key(epoch, window, operator), &());
}

/// Queued (window, operator) pairs due at or before `epoch`, removing them from the queue.
pub(super) fn take_due(store: &mut Store, epoch: Epoch) -> Vec<(u64, OperatorId)> {
    let mut due = Vec::new();
    for (key, _) in store.prefix_entries(b"slashing/due/") {
        // prefix / epoch(8) / window(8) / operator(32)
        let apply = u64::from_be_bytes(part_from_end(&key, 42).expect("epoch"));
        if apply > epoch.0 {
            break;
        }
        let window = u64::from_be_bytes(part_from_end(&key, 33).expect("window"));
        let operator = OperatorId(part_from_end(&key, 0).expect("operator"));
        store.delete(&key);
        due.push((window, operator));
    }
    due
}

pub fn liveness(store: &Store, operator: &OperatorId) -> Option<Liveness> {
    store.get(&liveness_key(operator))
}

pub(super) fn set_liveness(store: &mut Store, operator: &OperatorId, liveness: &Liveness) {
    store.put(liveness_key(operator), liveness);
}

pub(super) fn delete_liveness(store: &mut Store, operator: &OperatorId) {
    store.delete(&liveness_key(operator));
}
