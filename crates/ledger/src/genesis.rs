//! Genesis: the chain's first state, from a JSON or TOML file. Accounts are funded, operators
//! registered, delegations made and models registered, uploaded and activated through the same
//! code paths transactions use, so genesis state obeys every invariant from the start.
//!
//! A genesis model's files are not in the genesis file: the ledger does no IO, so the node
//! reads them and hands them to [`crate::Ledger::from_genesis_with_files`], by chunks root.

use crate::bank;
use crate::context::BlockContext;
use crate::models::{self, ModelCache, ModelStatus, Publication, RegisterModel};
use crate::params::{Params, ParamsError};
use crate::services;
use crate::staking::{self, OperatorMetadata};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use surety_types::{AccountId, Amount, Hash, Height, ModelId, OperatorId, Ratio, VerificationKey};

/// The chain's first state, as a genesis file states it; applied in field order by
/// [`crate::Ledger::from_genesis_with_files`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain's name, signed into every transaction and vote (1 to `CHAIN_ID_BYTES_MAX` bytes).
    pub chain_id: String,
    /// Milliseconds since the Unix epoch; blocks must not go back before it.
    pub genesis_time_ms: u64,
    /// Every module's parameters; the defaults where the file has none. Validated first.
    #[serde(default)]
    pub params: Params,
    /// Accounts funded at genesis; each listed once.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    /// Operators registered at genesis, in order, each bonding its self-bond.
    #[serde(default)]
    pub operators: Vec<GenesisOperator>,
    /// Delegations made at genesis, after the operators.
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
    /// The operator allocating.
    pub operator: OperatorId,
    /// The genesis model whose service takes the stake.
    pub model: ModelId,
    /// Tokens allocated (within the operator's bonded stake).
    pub amount: Amount,
}

/// A model active from genesis: its registration as `publisher` would send it. Its files are
/// supplied beside the genesis file, keyed by their `chunks_root`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisModel {
    /// The model's publisher, who pays (and is returned) the registration deposit.
    pub publisher: AccountId,
    /// The registration the publisher would send.
    pub registration: RegisterModel,
}

/// An account funded at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// The account.
    pub account: AccountId,
    /// Its starting balance; new tokens, added to the supply.
    pub balance: Amount,
}

/// An operator at genesis; its self-bond comes out of its account's genesis balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisOperator {
    /// The operator's account (its id is the operator id).
    pub account: AccountId,
    /// The key that signs its consensus votes.
    pub consensus_key: VerificationKey,
    /// Share of its delegators' rewards it keeps.
    pub commission: Ratio,
    /// Most its commission may move in one change.
    pub max_commission_change: Ratio,
    /// Moniker, website, details and endpoint.
    #[serde(default)]
    pub metadata: OperatorMetadata,
    /// Tokens of its own it bonds, at least `min_self_bond`.
    pub self_bond: Amount,
}

/// A delegation made at genesis; its amount comes out of the delegator's genesis balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisDelegation {
    /// Who delegates.
    pub delegator: AccountId,
    /// The operator whose pool takes the stake.
    pub operator: OperatorId,
    /// Tokens bonded.
    pub amount: Amount,
}

/// Why a genesis is refused: the genesis file is wrong (a node operator's input, named in the
/// message so it can be fixed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The file is not valid JSON or TOML for a [`Genesis`] (the parser's reason).
    #[error("genesis file does not parse: {0}")]
    Parse(String),
    /// The chain id is empty or too long.
    #[error("chain id must be 1 to {max} bytes", max = crate::tx::CHAIN_ID_BYTES_MAX)]
    ChainId,
    /// The parameters break a rule.
    #[error("invalid params: {0}")]
    Params(#[from] ParamsError),
    /// An account is funded twice.
    #[error("account {0} is listed twice")]
    DuplicateAccount(AccountId),
    /// An operator's registration fails.
    #[error("operator {operator}: {reason}")]
    Operator {
        /// The operator's account.
        operator: AccountId,
        /// Why staking refused it.
        reason: String,
    },
    /// A delegation fails.
    #[error("delegation from {delegator}: {reason}")]
    Delegation {
        /// The delegator.
        delegator: AccountId,
        /// Why staking refused it.
        reason: String,
    },
    /// An allocation fails.
    #[error("allocation of operator {operator}: {reason}")]
    Allocation {
        /// The operator.
        operator: OperatorId,
        /// Why services refused it.
        reason: String,
    },
    /// No operator qualifies for the active validator set: the chain could not make a block.
    #[error("no operator is eligible for the validator set")]
    NoValidators,
    /// A genesis model's registration or upload fails.
    #[error("genesis model {index}: {reason}")]
    Model {
        /// Its position in `models`.
        index: usize,
        /// Why the models module refused it.
        reason: String,
    },
    /// A genesis model's file was not supplied beside the genesis file.
    #[error("genesis model {index}: file {file} (chunks root {chunks_root}) was not supplied")]
    ModelFileMissing {
        /// The model's position in `models`.
        index: usize,
        /// The file's index in its registration.
        file: u32,
        /// The file's committed chunks root, by which files are supplied.
        chunks_root: Hash,
    },
    /// A genesis model's files do not make its manifest's model.
    #[error("genesis model {model} was rejected: {reason}")]
    ModelRejected {
        /// The model.
        model: ModelId,
        /// Why it was rejected.
        reason: String,
    },
}

/// Fund every genesis account with its balance; an account listed twice is refused.
pub(crate) fn fund_accounts(store: &mut Store, genesis: &Genesis) -> Result<(), GenesisError> {
    let mut seen = BTreeSet::new();
    for account in &genesis.accounts {
        if !seen.insert(account.account) {
            return Err(GenesisError::DuplicateAccount(account.account));
        }
        bank::mint_to_account(store, &account.account, account.balance)
            .map_err(|e| GenesisError::Parse(e.to_string()))?;
    }
    Ok(())
}

/// Register every genesis operator, in order, as its registration transaction would.
pub(crate) fn register_operators(
    store: &mut Store,
    params: &Params,
    genesis: &Genesis,
) -> Result<(), GenesisError> {
    for operator in &genesis.operators {
        let msg = staking::RegisterOperator {
            consensus_key: operator.consensus_key,
            commission: operator.commission,
            max_commission_change: operator.max_commission_change,
            metadata: operator.metadata.clone(),
            self_bond: operator.self_bond,
        };
        let chain_id = genesis.chain_id.as_str();
        let epoch = surety_types::Epoch::new(0);
        staking::execute_register(store, params, chain_id, epoch, &operator.account, &msg)
            .map_err(|e| GenesisError::Operator {
                operator: operator.account,
                reason: e.to_string(),
            })?;
    }
    Ok(())
}

/// Make every genesis delegation, in order, as its delegation transaction would.
pub(crate) fn make_delegations(store: &mut Store, genesis: &Genesis) -> Result<(), GenesisError> {
    for delegation in &genesis.delegations {
        let msg = staking::Delegate {
            operator: delegation.operator,
            amount: delegation.amount,
        };
        staking::execute_delegate(store, &delegation.delegator, &msg).map_err(|e| {
            GenesisError::Delegation {
                delegator: delegation.delegator,
                reason: e.to_string(),
            }
        })?;
    }
    Ok(())
}

/// Make every genesis service allocation, in order, as its allocation transaction would; run
/// after the models are registered, since an allocation names one.
pub(crate) fn make_allocations(
    store: &mut Store,
    params: &Params,
    genesis: &Genesis,
) -> Result<(), GenesisError> {
    for allocation in &genesis.allocations {
        let msg = services::Allocate {
            model: allocation.model,
            amount: allocation.amount,
        };
        services::execute_allocate(store, params, &allocation.operator.account(), &msg).map_err(
            |e| GenesisError::Allocation {
                operator: allocation.operator,
                reason: e.to_string(),
            },
        )?;
    }
    Ok(())
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
        height: Height::new(0),
        epoch: params.epoch_of(Height::new(0)),
        timestamp_ms: genesis.genesis_time_ms,
        proposer: OperatorId([0; 32]),
        seed: Hash::ZERO,
        absent_validators: None,
        off_schedule: false,
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
    /// Parse a genesis file in JSON; unknown fields are refused.
    pub fn from_json(text: &str) -> Result<Genesis, GenesisError> {
        serde_json::from_str(text).map_err(|e| GenesisError::Parse(e.to_string()))
    }

    /// Parse a genesis file in TOML; unknown fields are refused.
    pub fn from_toml(text: &str) -> Result<Genesis, GenesisError> {
        toml::from_str(text).map_err(|e| GenesisError::Parse(e.to_string()))
    }

    /// The genesis as pretty-printed JSON (what `from_json` reads back).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genesis serialises")
    }
}
