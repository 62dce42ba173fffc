//! Slashing state: one fault record per (window, operator) — the largest offence in the window,
//! which is all that is ever applied (max, not sum) — the total bonded stake when the window's
//! first fault was reported, a queue of slashes by the epoch they apply in, and per-validator
//! liveness bitmaps for downtime.

use crate::store::{key, part_from_end, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount, Epoch, Height, OperatorId, Ratio};

/// What an operator did wrong. Equivocation and wrong results are safety faults, correlated
/// across operators in a window; missed deadlines and downtime are liveness faults, never
/// correlated (DESIGN §3).
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
    /// A result sealed and not opened by its reveal deadline. Slashed as a wrong result
    /// (`wrong_result`, adding up with wrong results in a window): an unopened seal may hide
    /// one, and a cheat that could withhold its reveal for less whenever it learned it was
    /// audited (a co-replica's differing reveal, an auditor's word) would make cheating pay
    /// (docs/market.md, "Blind results"). Not correlated and never jailed: an honest operator
    /// that crashed between its seal and its reveal is not a coordinated attack.
    WithheldResult,
}

impl FaultKind {
    /// Safety faults (equivocation, a wrong result) are correlated: many operators failing
    /// together lose more. Liveness faults (missed deadline, downtime) are not: a spam burst or
    /// a censoring proposer can make many honest operators late at once (DESIGN §3).
    pub fn is_safety(self) -> bool {
        matches!(self, FaultKind::Equivocation | FaultKind::WrongResult)
    }
}

/// An offence, as reported to slashing by evidence or by another module.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Offence {
    /// The operator at fault.
    pub operator: OperatorId,
    /// What it did.
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

/// The one fault record of an operator in a window: the largest offence, which is all that is
/// ever applied (max, not sum).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Fault {
    /// The operator at fault.
    pub operator: OperatorId,
    /// The correlation window: the offence epoch divided by `window_epochs`.
    pub window: u64,
    /// The offence with the largest base fraction in the window.
    pub kind: FaultKind,
    /// The configured fraction for `kind`; the correlation rule can raise it.
    pub base_fraction: Ratio,
    /// Who reported the offence, paid the whistleblower share.
    pub reporter: Option<AccountId>,
    /// Who the offence harmed (a job's client), refunded the harmed-party share.
    pub harmed: Option<AccountId>,
    /// The earliest offence in the window: stake that left after it is still slashed.
    pub offence_height: Height,
    /// The epoch of `offence_height`.
    pub offence_epoch: Epoch,
    /// Stake at risk when the first offence was reported: the operator's bonded tokens, or
    /// its service allocation for a fault in a service (`cap`).
    pub stake: Amount,
    /// The service allocation that bounds the slash, if the fault is in a service.
    pub cap: Option<Amount>,
    /// The operator's bonded tokens when the offence was reported (what `stake` is part of).
    pub pool_tokens: Amount,
    /// The epoch at whose start the slash applies: `slash_delay_epochs` after the offence, or the
    /// next epoch for a worse offence reported after the first was applied.
    pub apply_epoch: Epoch,
    /// The fraction already applied, once the slash has been applied.
    pub applied: Option<Ratio>,
    /// Tokens slashed so far for this window.
    pub slashed: Amount,
    /// Largest stake at risk seen when applying (see `staking::SlashOutcome::at_risk`).
    pub at_risk: Amount,
}

/// Which of the last `downtime_window_blocks` blocks a validator missed.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Liveness {
    /// Bit `h % window` is set if the validator missed block `h`.
    pub missed_bits: Vec<u8>,
    /// How many bits of `missed_bits` are set.
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
        &[
            &epoch.get().to_be_bytes(),
            &window.to_be_bytes(),
            &operator.0,
        ],
    )
}

fn liveness_key(operator: &OperatorId) -> Vec<u8> {
    key("slashing/liveness", &[&operator.0])
}

/// The fault record of `operator` in `window`, if it has one.
pub fn fault(store: &Store, window: u64, operator: &OperatorId) -> Option<Fault> {
    store.get(&fault_key(window, operator))
}

pub(super) fn set_fault(store: &mut Store, fault: &Fault) {
    store.put(fault_key(fault.window, &fault.operator), fault);
}

/// Every fault in `window`, by operator id (what the correlation rule sums).
pub fn faults_in_window(store: &Store, window: u64) -> Vec<Fault> {
    store
        .prefix_values::<Fault>(&window_prefix(window))
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}

/// Every fault record, by window then operator.
pub fn all_faults(store: &Store) -> Vec<Fault> {
    store
        .prefix_values::<Fault>(b"slashing/fault/")
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}

/// The total bonded stake when `window`'s first fault was reported (the correlation rule's
/// denominator).
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
        if apply > epoch.get() {
            break;
        }
        let window = u64::from_be_bytes(part_from_end(&key, 33).expect("window"));
        let operator = OperatorId(part_from_end(&key, 0).expect("operator"));
        store.delete(&key);
        due.push((window, operator));
    }
    due
}

/// `operator`'s liveness record, if it is tracked (from the first block seen while it was
/// in the active set, until a downtime report resets it).
pub fn liveness(store: &Store, operator: &OperatorId) -> Option<Liveness> {
    store.get(&liveness_key(operator))
}

pub(super) fn set_liveness(store: &mut Store, operator: &OperatorId, liveness: &Liveness) {
    store.put(liveness_key(operator), liveness);
}

pub(super) fn delete_liveness(store: &mut Store, operator: &OperatorId) {
    store.delete(&liveness_key(operator));
}
