//! Disputes state: one record per dispute (the two parties, their trace roots, the bisection
//! interval and the current move), the uploaded activation for the referee, an index of
//! disputes by the height their current move times out, and an index of disputes by job (so a
//! pruned job's resolved disputes leave state with it: docs/market.md, "Pruning").

use crate::congestion::Stretch;
use crate::store::{key, part_from_end, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount, ArithmeticError, Hash, Height, JobId, OperatorId};

/// The side that disputes a result.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Challenger {
    /// A staked operator: an auditor or a disagreeing replica. Slashed if it loses.
    Operator(OperatorId),
    /// Anyone else, with a bond. The bond is forfeited if it loses.
    Account(AccountId),
}

impl Challenger {
    /// The account that acts for the challenger (an operator's own account, or the bonded one).
    pub fn account(&self) -> AccountId {
        match self {
            Challenger::Operator(operator) => operator.account(),
            Challenger::Account(account) => *account,
        }
    }
}

/// A side of a dispute.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The operator whose result is disputed.
    Defendant,
    /// Whoever disputes it.
    Challenger,
}

/// A dispute in the court: two trace roots over the same steps whose outputs differ, and the
/// bisection interval `[agreed, disagreed]` between them.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Dispute {
    /// The dispute's id, counted up from 0.
    pub id: u64,
    /// The job whose result is disputed (the court does not read jobs; the jobs module applies
    /// the verdict).
    pub job: JobId,
    /// The operator whose result is disputed.
    pub defendant: OperatorId,
    /// The defendant's trace root.
    pub defendant_root: Hash,
    /// Who disputes the result.
    pub challenger: Challenger,
    /// The challenger's trace root.
    pub challenger_root: Hash,
    /// Held in the dispute-bond pool (zero for an operator challenger).
    pub bond: Amount,
    /// Leaves in each trace (the model program's step count).
    pub steps: u64,
    /// The height the dispute was opened.
    pub opened: Height,
    /// Both parties agree on the leaves before `agreed` (`0`: only on the job input).
    pub agreed: u64,
    /// The hash both agree on at leaf `agreed - 1` (the job input's hash when `agreed == 0`).
    pub agreed_hash: Hash,
    /// A leaf on which they disagree; `agreed <= disagreed`.
    pub disagreed: u64,
    /// The defendant's leaf at `disagreed`.
    pub defendant_hash: Hash,
    /// The challenger's leaf at `disagreed`.
    pub challenger_hash: Hash,
    /// The defendant's output hash as it opened the dispute (`defendant_hash` moves during
    /// bisection): a verdict against the defendant slashes every result with this output.
    pub defendant_output: Hash,
    /// The challenger's output hash as it opened the dispute.
    pub challenger_output: Hash,
    /// What each party has spent on the dispute's transactions, as counted (loser pays).
    pub costs: Costs,
    /// Moves in the bisection so far (both parties' reveals count one each).
    pub moves: u64,
    /// What the court waits for now.
    pub phase: Phase,
    /// How far the current phase's deadline has stretched for slack blocks (full or off schedule).
    pub stretch: Stretch,
}

/// The fees each party of a dispute paid for its reveals and input chunks, each counted at
/// most `Params::dispute_tx_cost_max`, and each party's total at most
/// `Params::dispute_cost_max` (which the challenge bond covers). The loser pays the winner's.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Costs {
    /// The defendant's.
    pub defendant: Amount,
    /// The challenger's.
    pub challenger: Amount,
}

impl Costs {
    /// `party`'s costs.
    pub fn of(&self, party: Party) -> Amount {
        match party {
            Party::Defendant => self.defendant,
            Party::Challenger => self.challenger,
        }
    }

    /// Count a transaction's `fee` for `party`: at most `per_tx`, and the party's total at
    /// most `total_max` (both from the parameters).
    pub fn add(&mut self, party: Party, fee: Amount, per_tx: Amount, total_max: Amount) {
        let counted = fee.min(per_tx);
        let cost = match party {
            Party::Defendant => &mut self.defendant,
            Party::Challenger => &mut self.challenger,
        };
        *cost = cost.saturating_add(counted).min(total_max);
    }
}

/// What a dispute waits for.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Both parties must reveal their leaf at `index` by `deadline`.
    Bisect {
        /// The leaf both must reveal (the interval's midpoint).
        index: u64,
        /// The defendant's reveal, once made.
        defendant: Option<Hash>,
        /// The challenger's reveal, once made.
        challenger: Option<Hash>,
        /// The last height a reveal is taken; a side silent by then loses.
        deadline: Height,
    },
    /// The step `disagreed` is isolated: the defendant (or anyone) must hand the referee the
    /// activation whose hash is `agreed_hash` by `deadline`.
    AwaitInput {
        /// The last height the input is taken; without it the defendant loses.
        deadline: Height,
    },
    /// Decided; the verdict went to the module that opened the dispute.
    Resolved {
        /// How it was decided.
        outcome: Outcome,
        /// The height it was decided.
        height: Height,
    },
}

/// How a dispute was decided.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The referee's step matched the defendant: the challenger was wrong.
    DefendantRight,
    /// The referee's step matched the challenger: the defendant's result was wrong.
    ChallengerRight,
    /// The referee matched neither.
    BothWrong,
    /// A party missed its move.
    Timeout {
        /// The sides that missed their move (both, if neither moved).
        silent: Vec<Party>,
    },
    /// The ledger could not settle it (an item of the court failed: a bug, reported in a
    /// `hook_failed` event), so it was closed with no verdict: nobody lost, a bond went back,
    /// the holds were released and the job failed with its client refunded (docs/market.md,
    /// "A dispute the ledger cannot settle").
    Void,
}

impl Dispute {
    /// True until the dispute is resolved.
    pub fn is_open(&self) -> bool {
        !matches!(self.phase, Phase::Resolved { .. })
    }

    /// The step the referee will run once bisection has isolated it.
    pub fn isolated_step(&self) -> Option<u64> {
        (self.agreed == self.disagreed).then_some(self.disagreed)
    }
}

fn dispute_key(id: u64) -> Vec<u8> {
    key("disputes/dispute", &[&id.to_be_bytes()])
}

/// The dispute `id`, open or resolved.
pub fn dispute(store: &Store, id: u64) -> Option<Dispute> {
    store.get(&dispute_key(id))
}

pub(super) fn set_dispute(store: &mut Store, dispute: &Dispute) {
    store.put(dispute_key(dispute.id), dispute);
}

fn by_job_key(job: &JobId, id: u64) -> Vec<u8> {
    key("disputes/by-job", &[&job.0, &id.to_be_bytes()])
}

pub(super) fn index_by_job(store: &mut Store, dispute: &Dispute) {
    store.put(by_job_key(&dispute.job, dispute.id), &());
}

/// The ids of every dispute over `job` still in state, in id order.
pub fn of_job(store: &Store, job: &JobId) -> Vec<u64> {
    let prefix = key("disputes/by-job", &[&job.0, b""]);
    store
        .prefix_keys(&prefix)
        .into_iter()
        .filter_map(|entry| part_from_end(&entry, 0).map(u64::from_be_bytes))
        .collect()
}

/// Delete a resolved dispute's record and its index entry (its job is being pruned). An open
/// dispute is still owed a verdict: forgetting one is a bug.
pub fn forget(store: &mut Store, dispute: &Dispute) {
    assert!(!dispute.is_open(), "dispute {} is still open", dispute.id);
    store.delete(&dispute_key(dispute.id));
    store.delete(&by_job_key(&dispute.job, dispute.id));
}

pub(super) fn next_id(store: &mut Store) -> u64 {
    let id: u64 = store.get(b"disputes/next").unwrap_or(0);
    let next = id
        .checked_add(1)
        .expect("dispute ids count up by one from 0 and never reach u64::MAX");
    store.put(b"disputes/next".to_vec(), &next);
    id
}

/// Disputes whose id is at least `from`, in id order (for queries and the auditor worker).
pub fn disputes_from(store: &Store, from: u64, limit: usize) -> Vec<Dispute> {
    let next: u64 = store.get(b"disputes/next").unwrap_or(0);
    (from..next)
        .filter_map(|id| dispute(store, id))
        .take(limit)
        .collect()
}

fn due_key(height: Height, id: u64) -> Vec<u8> {
    key(
        "disputes/due",
        &[&height.get().to_be_bytes(), &id.to_be_bytes()],
    )
}

pub(super) fn schedule(store: &mut Store, height: Height, id: u64) {
    store.put(due_key(height, id), &());
}

/// True when dispute `id` is in the due index at `height`.
pub(super) fn is_scheduled(store: &Store, height: Height, id: u64) -> bool {
    store.contains(&due_key(height, id))
}

pub(super) fn take_due(store: &mut Store, height: Height) -> Vec<u64> {
    let prefix = key("disputes/due", &[&height.get().to_be_bytes()]);
    let mut ids = Vec::new();
    for (entry, ()) in store.prefix_values::<()>(&prefix) {
        store.delete(&entry);
        let id = part_from_end(&entry, 0).expect("due keys end in an 8-byte dispute id");
        ids.push(u64::from_be_bytes(id));
    }
    ids
}

/// How many bytes of the referee's input `uploader` has written so far.
pub fn input_len(store: &Store, id: u64, uploader: &AccountId) -> u64 {
    store
        .get(&key(
            "disputes/input-len",
            &[&id.to_be_bytes(), &uploader.0],
        ))
        .unwrap_or(0)
}

/// Append a chunk to `uploader`'s copy of the referee's input (chunks are written in order).
/// Its new length past `u64::MAX` is an overflow error (the caller bounds it by the stated
/// total first).
pub(super) fn append_input(
    store: &mut Store,
    id: u64,
    uploader: &AccountId,
    bytes: &[u8],
) -> Result<(), ArithmeticError> {
    let offset = input_len(store, id, uploader);
    let length = offset
        .checked_add(bytes.len() as u64)
        .ok_or(ArithmeticError::Overflow)?;
    store.put_raw(
        key(
            "disputes/input",
            &[&id.to_be_bytes(), &uploader.0, &offset.to_be_bytes()],
        ),
        bytes.to_vec(),
    );
    store.put(
        key("disputes/input-len", &[&id.to_be_bytes(), &uploader.0]),
        &length,
    );
    Ok(())
}

/// `uploader`'s copy of the referee's input, its chunks joined in order.
pub fn input_bytes(store: &Store, id: u64, uploader: &AccountId) -> Vec<u8> {
    let prefix = key("disputes/input", &[&id.to_be_bytes(), &uploader.0, b""]);
    let mut bytes = Vec::new();
    for (_, chunk) in store.prefix_entries(&prefix) {
        bytes.extend_from_slice(&chunk);
    }
    bytes
}

/// Forget `uploader`'s copy (it starts again from offset 0).
pub(super) fn clear_input(store: &mut Store, id: u64, uploader: &AccountId) {
    let prefix = key("disputes/input", &[&id.to_be_bytes(), &uploader.0, b""]);
    for (entry, _) in store.prefix_entries(&prefix) {
        store.delete(&entry);
    }
    store.delete(&key(
        "disputes/input-len",
        &[&id.to_be_bytes(), &uploader.0],
    ));
}

/// Forget every copy of the referee's input for a dispute.
pub(super) fn delete_inputs(store: &mut Store, id: u64) {
    for prefix in ["disputes/input", "disputes/input-len"] {
        let prefix = key(prefix, &[&id.to_be_bytes(), b""]);
        for (entry, _) in store.prefix_entries(&prefix) {
            store.delete(&entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cost_counts_at_most_the_per_transaction_cap_and_a_party_at_most_the_worst_case() {
        let (per_tx, total_max) = (Amount::new(2_000), Amount::new(5_000));
        let mut costs = Costs::default();
        // A reveal at the minimum fee counts in full; one at 1,000,000 counts 2,000.
        costs.add(Party::Defendant, Amount::new(1_000), per_tx, total_max);
        costs.add(Party::Defendant, Amount::new(1_000_000), per_tx, total_max);
        assert_eq!(costs.of(Party::Defendant), Amount::new(3_000));
        // Restarted uploads and more: never past the worst case the bond covers.
        for _ in 0..10 {
            costs.add(Party::Defendant, Amount::new(2_000), per_tx, total_max);
        }
        assert_eq!(costs.of(Party::Defendant), total_max);
        assert_eq!(costs.of(Party::Challenger), Amount::ZERO);
    }
}
