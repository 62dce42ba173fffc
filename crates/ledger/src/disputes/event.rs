//! The events the disputes module emits, in receipts (transactions) and block outcomes (hooks).

use super::{Outcome, Party};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, JobId, OperatorId};

/// Something the disputes module did. In JSON, `{"type": "<snake_case name>", …fields}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DisputesEvent {
    /// A dispute was opened over a job result.
    DisputeOpened {
        dispute: u64,
        job: JobId,
        defendant: OperatorId,
        challenger: AccountId,
    },
    /// A party revealed its leaf for a bisection move.
    StepRevealed {
        dispute: u64,
        party: Party,
        index: u64,
    },
    /// Bisection isolated the one step the referee will run.
    StepIsolated { dispute: u64, step: u64 },
    /// A dispute was resolved.
    DisputeResolved { dispute: u64, outcome: Outcome },
}
