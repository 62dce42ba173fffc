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
        operator: OperatorId,
        kind: FaultKind,
        offence_height: Height,
        apply_epoch: Epoch,
    },
    /// A slash applied.
    Slashed {
        operator: OperatorId,
        kind: FaultKind,
        fraction: Ratio,
        amount: Amount,
    },
}
