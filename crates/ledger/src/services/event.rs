//! The events the services module emits, in receipts (transactions) and block outcomes (hooks).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, Epoch, ModelId, OperatorId};

/// Something the services module did. In JSON, `{"type": "<snake_case name>", …fields}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServicesEvent {
    /// Stake allocated to a model's service.
    ServiceAllocated {
        operator: OperatorId,
        model: ModelId,
        amount: Amount,
    },
    /// A de-allocation was scheduled; it takes effect in `effective_epoch`.
    DeallocationScheduled {
        operator: OperatorId,
        model: ModelId,
        amount: Amount,
        effective_epoch: Epoch,
    },
    /// A scheduled de-allocation took effect.
    ServiceDeallocated {
        operator: OperatorId,
        model: ModelId,
        amount: Amount,
    },
}
