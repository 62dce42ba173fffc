//! Staking transactions. The signer is the delegator (or, for operator messages, the operator's
//! account).

use super::state::OperatorMetadata;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, OperatorId, Ratio, Shares, VerificationKey};

/// Become an operator, with an initial self-bond of at least `min_self_bond`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegisterOperator {
    /// The key that signs the operator's consensus votes; one operator per key.
    pub consensus_key: VerificationKey,
    /// Share of its delegators' rewards the operator keeps.
    pub commission: Ratio,
    /// Most the commission may move in one change (fixed at registration, so delegators know
    /// the bound).
    pub max_commission_change: Ratio,
    /// Moniker, website, details and the endpoint where the operator serves.
    pub metadata: OperatorMetadata,
    /// Tokens the operator bonds to its own pool; at least `min_self_bond`.
    pub self_bond: Amount,
}

/// Change an operator's commission (at most once per epoch, by at most
/// `max_commission_change`) or metadata; `None` leaves a field as it is.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EditOperator {
    /// The new commission, if it changes.
    pub commission: Option<Ratio>,
    /// The new metadata, if it changes.
    pub metadata: Option<OperatorMetadata>,
}

/// Bond tokens to an operator's pool (to one's own operator: self-bond).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Delegate {
    /// The operator whose pool takes the tokens.
    pub operator: OperatorId,
    /// Tokens to bond, from the signer's balance.
    pub amount: Amount,
}

/// Start unbonding `shares` from an operator; the tokens can be withdrawn after
/// `unbonding_epochs`, and stay slashable for offences before this moment.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Undelegate {
    /// The operator to unbond from.
    pub operator: OperatorId,
    /// Shares of the pool to give up.
    pub shares: Shares,
}

/// Move `shares` from one operator to another at once, without unbonding. Stake that arrived by
/// a redelegation cannot move on until that redelegation completes (no chained hops).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Redelegate {
    /// The operator the stake leaves.
    pub source: OperatorId,
    /// The operator it joins.
    pub destination: OperatorId,
    /// Shares of the source pool to move.
    pub shares: Shares,
}
