//! The events the slashing module emits, in receipts (transactions) and block outcomes (hooks).

use super::FaultKind;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, Epoch, Height, OperatorId, Ratio};

/// Something the slashing module did. In JSON, `{"type": "<snake_case name>", …fields}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SlashingEvent {
    /// An offence was reported: the operator is frozen and jailed, its slash applies in `apply_epoch`.
    OffenceReported {
        /// The operator at fault, now frozen and jailed.
        operator: OperatorId,
        /// What it did.
        kind: FaultKind,
        /// When it did it.
        offence_height: Height,
        /// The epoch at whose start the slash applies (applied at the end of the epoch before).
        apply_epoch: Epoch,
    },
    /// A slash applied.
    Slashed {
        /// The operator slashed.
        operator: OperatorId,
        /// The fault's kind (the largest in its window).
        kind: FaultKind,
        /// The fraction of the stake at risk it lost, after the correlation rule.
        fraction: Ratio,
        /// Tokens taken, from bonded and unbonding stake.
        amount: Amount,
    },
}
