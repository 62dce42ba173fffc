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
        /// The model's id (its manifest's hash).
        model: ModelId,
        /// Who registered it and paid the deposit.
        publisher: AccountId,
        /// The deposit escrowed until the upload ends.
        deposit: Amount,
        /// The height at whose end an unfinished upload expires.
        expires: Height,
    },
    /// A model's last file landed and checked out: it is served, the deposit returned.
    ModelActivated {
        /// The model.
        model: ModelId,
        /// The deposit paid back to the publisher.
        deposit_returned: Amount,
    },
    /// A model's files did not match its manifest: rejected, the deposit burned.
    ModelRejected {
        /// The model.
        model: ModelId,
        /// Why its files do not make the manifest's model (bounded to `REJECTION_REASON_BYTES_MAX`).
        reason: String,
        /// The deposit burned.
        deposit_burned: Amount,
    },
    /// A model's upload did not finish in time: expired, its chunks deleted, the deposit burned.
    ModelExpired {
        /// The model.
        model: ModelId,
        /// The deposit burned.
        deposit_burned: Amount,
    },
}
