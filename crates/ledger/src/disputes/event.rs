//! The events the disputes module emits, in receipts (transactions) and block outcomes (hooks).

use super::{Outcome, Party};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Height, JobId, OperatorId};

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
    /// The current move's deadline moved on by the full blocks seen since it was set.
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
}
