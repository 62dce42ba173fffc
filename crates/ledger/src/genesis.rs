//! Genesis: the chain's first state, from a JSON or TOML file. Accounts are funded, operators
//! registered, delegations made and models registered, uploaded and activated through the same
//! code paths transactions use, so genesis state obeys every invariant from the start.
//!
//! A genesis model's files are not in the genesis file: the ledger does no IO, so the node
//! reads them and hands them to [`crate::Ledger::from_genesis_with_files`], by chunks root.

use crate::context::BlockContext;
use crate::models::{self, ModelCache, ModelStatus, Publication, RegisterModel};
use crate::params::{Params, ParamsError};
use crate::staking::OperatorMetadata;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use surety_types::{AccountId, Amount, Hash, Height, ModelId, OperatorId, Ratio, VerificationKey};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub chain_id: String,
    /// Milliseconds since the Unix epoch; blocks must not go back before it.
    pub genesis_time_ms: u64,
    #[serde(default)]
    pub params: Params,
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    #[serde(default)]
    pub operators: Vec<GenesisOperator>,
    #[serde(default)]
    pub delegations: Vec<GenesisDelegation>,
    /// Registered and activated after delegations and before anything that may name a model.
    #[serde(default)]
    pub models: Vec<GenesisModel>,
    /// Operators' stake allocated to models' services, after the models are active.
    #[serde(default)]
    pub allocations: Vec<GenesisAllocation>,
}

/// Part of an operator's stake allocated at genesis to a genesis model's service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAllocation {
    pub operator: OperatorId,
    pub model: ModelId,
    pub amount: Amount,
}

/// A model active from genesis: its registration as `publisher` would send it. Its files are
/// supplied beside the genesis file, keyed by their `chunks_root`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisModel {
    pub publisher: AccountId,
    pub registration: RegisterModel,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    pub account: AccountId,
    pub balance: Amount,
}

/// An operator at genesis; its self-bond comes out of its account's genesis balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisOperator {
    pub account: AccountId,
    pub consensus_key: VerificationKey,
    pub commission: Ratio,
    pub max_commission_change: Ratio,
    #[serde(default)]
    pub metadata: OperatorMetadata,
    pub self_bond: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisDelegation {
    pub delegator: AccountId,
    pub operator: OperatorId,
    pub amount: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    #[error("genesis file does not parse: {0}")]
    Parse(String),
    #[error("chain id must be 1 to {max} bytes", max = crate::tx::CHAIN_ID_BYTES_MAX)]
    ChainId,
    #[error("invalid params: {0}")]
    Params(#[from] ParamsError),
    #[error("account {0} is listed twice")]
    DuplicateAccount(AccountId),
    #[error("operator {operator}: {reason}")]
    Operator { operator: AccountId, reason: String },
    #[error("delegation from {delegator}: {reason}")]
    Delegation {
        delegator: AccountId,
        reason: String,
    },
    #[error("allocation of operator {operator}: {reason}")]
    Allocation {
        operator: OperatorId,
        reason: String,
    },
    #[error("no operator is eligible for the validator set")]
    NoValidators,
    #[error("genesis model {index}: {reason}")]
    Model { index: usize, reason: String },
    #[error("genesis model {index}: file {file} (chunks root {chunks_root}) was not supplied")]
    ModelFileMissing {
        index: usize,
        file: u32,
        chunks_root: Hash,
    },
    #[error("genesis model {model} was rejected: {reason}")]
    ModelRejected { model: ModelId, reason: String },
}

/// Register every genesis model and upload all its chunks, through the transaction code paths,
/// at height 0. Each must end active.
pub(crate) fn register_models(
    store: &mut Store,
    params: &Params,
    cache: &ModelCache,
    genesis: &Genesis,
    files: &BTreeMap<Hash, Vec<u8>>,
) -> Result<(), GenesisError> {
    let ctx = BlockContext {
        height: Height(0),
        epoch: params.epoch_of(Height(0)),
        timestamp_ms: genesis.genesis_time_ms,
        proposer: OperatorId([0; 32]),
        seed: Hash::ZERO,
        absent_validators: None,
    };
    for (index, entry) in genesis.models.iter().enumerate() {
        let failed = |e: models::ModelsError| GenesisError::Model {
            index,
            reason: e.to_string(),
        };
        let registration = &entry.registration;
        let contents = (0u32..)
            .zip(&registration.files)
            .map(|(file, commitment)| {
                files.get(&commitment.chunks_root).map(Vec::as_slice).ok_or(
                    GenesisError::ModelFileMissing {
                        index,
                        file,
                        chunks_root: commitment.chunks_root,
                    },
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let publication =
            Publication::from_registration(registration.clone(), contents).map_err(failed)?;
        models::register_at_genesis(store, params, &ctx, &entry.publisher, registration)
            .map_err(failed)?;
        for upload in publication.uploads() {
            models::execute_upload(store, params, &ctx, cache, &entry.publisher, &upload)
                .map_err(failed)?;
        }
        let record = models::state::model(store, &publication.model)
            .expect("a model registered just now has a record");
        if let ModelStatus::Rejected { reason } = record.status {
            return Err(GenesisError::ModelRejected {
                model: record.id,
                reason,
            });
        }
        debug_assert!(matches!(record.status, ModelStatus::Active { .. }));
    }
    Ok(())
}

impl Genesis {
    pub fn from_json(text: &str) -> Result<Genesis, GenesisError> {
        serde_json::from_str(text).map_err(|e| GenesisError::Parse(e.to_string()))
    }

    pub fn from_toml(text: &str) -> Result<Genesis, GenesisError> {
        toml::from_str(text).map_err(|e| GenesisError::Parse(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genesis serialises")
    }
}
