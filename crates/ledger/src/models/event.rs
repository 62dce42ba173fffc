//! The events the models module emits, in receipts (transactions) and block outcomes (hooks).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount, Height, ModelId};

/// Something the models module did. In JSON, `{"type": "<snake_case name>", …fields}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelsEvent {
    /// A model was registered; its files must be uploaded by `expires`.
    ModelRegistered {
        model: ModelId,
        publisher: AccountId,
        deposit: Amount,
        expires: Height,
    },
    /// A model's last file landed and checked out: it is served, the deposit returned.
    ModelActivated {
        model: ModelId,
        deposit_returned: Amount,
    },
    /// A model's files did not match its manifest: rejected, the deposit burned.
    ModelRejected {
        model: ModelId,
        reason: String,
        deposit_burned: Amount,
    },
    /// A model's upload did not finish in time: expired, its chunks deleted, the deposit burned.
    ModelExpired {
        model: ModelId,
        deposit_burned: Amount,
    },
}
