//! Genesis: the chain's first state, from a JSON or TOML file. Accounts are funded, operators
//! registered and delegations made through the same code paths transactions use, so genesis
//! state obeys every invariant from the start.

use crate::params::{Params, ParamsError};
use crate::staking::OperatorMetadata;
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount, OperatorId, Ratio, VerificationKey};

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
    #[error("no operator is eligible for the validator set")]
    NoValidators,
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
