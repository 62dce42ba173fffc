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
        /// The operator allocating.
        operator: OperatorId,
        /// The model whose service it joined.
        model: ModelId,
        /// Tokens added to its allocation.
        amount: Amount,
    },
    /// A de-allocation was scheduled; it takes effect in `effective_epoch`.
    DeallocationScheduled {
        /// The operator.
        operator: OperatorId,
        /// The model's service.
        model: ModelId,
        /// Tokens that will leave the allocation.
        amount: Amount,
        /// The epoch at whose start they leave (applied at the end of the epoch before).
        effective_epoch: Epoch,
    },
    /// A scheduled de-allocation waits an epoch more: the operator still has fees in flight or
    /// frozen stake.
    DeallocationPostponed {
        /// The operator.
        operator: OperatorId,
        /// The model's service.
        model: ModelId,
        /// The epoch it is now filed under.
        effective_epoch: Epoch,
    },
    /// A scheduled de-allocation took effect.
    ServiceDeallocated {
        /// The operator.
        operator: OperatorId,
        /// The model's service.
        model: ModelId,
        /// Tokens that left the allocation.
        amount: Amount,
    },
}
