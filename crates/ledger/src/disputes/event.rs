//! The events the disputes module emits, in receipts (transactions) and block outcomes (hooks).

use super::{Outcome, Party};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount, Height, JobId, OperatorId};

/// Something the disputes module did. In JSON, `{"type": "<snake_case name>", …fields}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DisputesEvent {
    /// A dispute was opened over a job result.
    DisputeOpened {
        /// The dispute's id.
        dispute: u64,
        /// The job whose result is disputed.
        job: JobId,
        /// The operator whose result is disputed.
        defendant: OperatorId,
        /// Who disputes it (an operator's account, or a bonded challenger).
        challenger: AccountId,
    },
    /// A party revealed its leaf for a bisection move.
    StepRevealed {
        /// The dispute.
        dispute: u64,
        /// Which side revealed.
        party: Party,
        /// The leaf (step) index revealed.
        index: u64,
    },
    /// Bisection isolated the one step the referee will run.
    StepIsolated {
        /// The dispute.
        dispute: u64,
        /// The step index whose output the parties disagree on.
        step: u64,
    },
    /// The current move's deadline moved on by the slack blocks (full or off schedule) seen since it was set.
    MoveExtended {
        /// The dispute.
        dispute: u64,
        /// The new last height the move is taken.
        deadline: Height,
    },
    /// A dispute was resolved.
    DisputeResolved {
        /// The dispute.
        dispute: u64,
        /// How it was decided.
        outcome: Outcome,
    },
    /// A bonded challenger that lost paid the honest defendant's recorded costs from its bond.
    CostsPaidFromBond {
        /// The dispute.
        dispute: u64,
        /// The challenger whose bond paid.
        challenger: AccountId,
        /// The defendant operator's account, paid.
        defendant: AccountId,
        /// What was paid.
        amount: Amount,
    },
    /// What was left of a losing challenger's bond went to the insurance pool.
    BondForfeited {
        /// The dispute.
        dispute: u64,
        /// The challenger that lost it.
        challenger: AccountId,
        /// What went to the insurance pool.
        amount: Amount,
    },
    /// A challenger that won got its bond back.
    BondReturned {
        /// The dispute.
        dispute: u64,
        /// The challenger, paid.
        challenger: AccountId,
        /// The bond.
        amount: Amount,
    },
    /// A winner against a staked loser had its recorded costs paid by the insurance pool (the
    /// loser's slash pays into that pool): `amount` is `owed` capped by the pool's balance.
    CostsReimbursed {
        /// The dispute.
        dispute: u64,
        /// The side that won.
        party: Party,
        /// Its account, paid.
        account: AccountId,
        /// What was paid.
        amount: Amount,
        /// Its recorded costs.
        owed: Amount,
    },
}
