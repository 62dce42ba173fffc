//! The events the staking module emits, in receipts (transactions) and block outcomes (hooks).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount, Epoch, OperatorId, Shares};

/// Something the staking module did. In JSON, `{"type": "<snake_case name>", …fields}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StakingEvent {
    /// An operator registered with its self-bond.
    OperatorRegistered {
        operator: OperatorId,
        self_bond: Amount,
    },
    /// Tokens bonded to an operator, for shares of its pool.
    Delegated {
        delegator: AccountId,
        operator: OperatorId,
        amount: Amount,
        shares: Shares,
    },
    /// Shares unbonded; the tokens wait in the unbonding queue until `completion_epoch`.
    Undelegated {
        delegator: AccountId,
        operator: OperatorId,
        shares: Shares,
        amount: Amount,
        completion_epoch: Epoch,
    },
    /// Stake moved from one operator to another without unbonding.
    Redelegated {
        delegator: AccountId,
        source: OperatorId,
        destination: OperatorId,
        amount: Amount,
    },
    /// Matured unbonding tokens paid back to the delegator.
    Withdrawn {
        delegator: AccountId,
        operator: OperatorId,
        amount: Amount,
    },
    /// A delegation's accrued rewards paid out (on claim, or before its shares changed).
    RewardsPaid {
        delegator: AccountId,
        operator: OperatorId,
        amount: Amount,
    },
    /// An operator was jailed: out of the validator set and of new work until `until`.
    Jailed { operator: OperatorId, until: Epoch },
    /// An operator left jail.
    Unjailed { operator: OperatorId },
    /// The active validator set changed (at an epoch end).
    ValidatorSetChanged { validators: u32 },
}
