//! The events the rewards module emits, in receipts (transactions) and block outcomes (hooks).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, OperatorId};

/// Something the rewards module did. In JSON, `{"type": "<snake_case name>", …fields}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RewardsEvent {
    /// A block's fees and inflation were paid to the active set.
    RewardsDistributed {
        /// Tokens of inflation minted this block.
        minted: Amount,
        /// Fees plus inflation paid out (the fee collector's balance).
        total: Amount,
    },
    /// One operator's part of a reward: commission, and what its delegators were credited.
    OperatorRewarded {
        /// The operator rewarded.
        operator: OperatorId,
        /// Tokens it kept as commission (paid to its account).
        commission: Amount,
        /// Tokens credited to its pool's delegators through the accumulator.
        delegators: Amount,
    },
}
