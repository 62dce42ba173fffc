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
        /// The new operator (its id is its account's).
        operator: OperatorId,
        /// Tokens of self-delegation it bonded.
        self_bond: Amount,
    },
    /// Tokens bonded to an operator, for shares of its pool.
    Delegated {
        /// Who bonded the tokens.
        delegator: AccountId,
        /// The operator whose pool took them.
        operator: OperatorId,
        /// Tokens bonded.
        amount: Amount,
        /// Shares of the pool they bought.
        shares: Shares,
    },
    /// Shares unbonded; the tokens wait in the unbonding queue until `completion_epoch`.
    Undelegated {
        /// Who unbonded.
        delegator: AccountId,
        /// The operator the stake left.
        operator: OperatorId,
        /// Shares given up.
        shares: Shares,
        /// Tokens they were worth, now in the unbonding pool.
        amount: Amount,
        /// The first epoch the tokens may be withdrawn.
        completion_epoch: Epoch,
    },
    /// Stake moved from one operator to another without unbonding.
    Redelegated {
        /// Who moved the stake.
        delegator: AccountId,
        /// The operator it left.
        source: OperatorId,
        /// The operator it joined.
        destination: OperatorId,
        /// Tokens moved.
        amount: Amount,
    },
    /// Matured unbonding tokens paid back to the delegator.
    Withdrawn {
        /// Who was paid.
        delegator: AccountId,
        /// The operator the entries unbonded from.
        operator: OperatorId,
        /// Tokens paid, after any slashes.
        amount: Amount,
    },
    /// A delegation's accrued rewards paid out (on claim, or before its shares changed).
    RewardsPaid {
        /// The delegation's owner, paid.
        delegator: AccountId,
        /// The operator whose pool earned the rewards.
        operator: OperatorId,
        /// Tokens paid from the rewards pool.
        amount: Amount,
    },
    /// An operator was jailed: out of the validator set and of new work until `until`.
    Jailed {
        /// The jailed operator.
        operator: OperatorId,
        /// The first epoch it may unjail (`u64::MAX` when tombstoned).
        until: Epoch,
    },
    /// An operator left jail.
    Unjailed {
        /// The operator released.
        operator: OperatorId,
    },
    /// An operator's family membership lapsed at the end of its consent's last epoch
    /// (`OperatorMetadata::family_until`): it is its own owner again from the next epoch's
    /// audit pool on.
    FamilyLapsed {
        /// The member.
        operator: OperatorId,
        /// The head of the family it left.
        head: AccountId,
    },
    /// The active validator set changed (at an epoch end).
    ValidatorSetChanged {
        /// Size of the new active set.
        validators: u32,
    },
}
