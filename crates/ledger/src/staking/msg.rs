//! Staking transactions. The signer is the delegator (or, for operator messages, the operator's
//! account).

use super::state::OperatorMetadata;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, OperatorId, Ratio, Shares, VerificationKey};

/// Become an operator, with an initial self-bond of at least `min_self_bond`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegisterOperator {
    pub consensus_key: VerificationKey,
    pub commission: Ratio,
    pub max_commission_change: Ratio,
    pub metadata: OperatorMetadata,
    pub self_bond: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EditOperator {
    pub commission: Option<Ratio>,
    pub metadata: Option<OperatorMetadata>,
}

/// Bond tokens to an operator's pool (to one's own operator: self-bond).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Delegate {
    pub operator: OperatorId,
    pub amount: Amount,
}

/// Start unbonding `shares` from an operator; the tokens can be withdrawn after
/// `unbonding_epochs`, and stay slashable for offences before this moment.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Undelegate {
    pub operator: OperatorId,
    pub shares: Shares,
}

/// Move `shares` from one operator to another at once, without unbonding. Stake that arrived by
/// a redelegation cannot move on until that redelegation completes (no chained hops).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Redelegate {
    pub source: OperatorId,
    pub destination: OperatorId,
    pub shares: Shares,
}
