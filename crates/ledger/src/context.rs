//! The block context: what consensus agreed on about a block besides its transactions. Every
//! module's hooks and messages read height, epoch, time and randomness from here, never from
//! the machine (DESIGN §3).

use crate::params::Params;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Epoch, Hash, Height, OperatorId};

/// What consensus agreed on about a block, besides its transactions.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BlockContext {
    /// The block's height.
    pub height: Height,
    /// The epoch the height falls in.
    pub epoch: Epoch,
    /// Consensus time, milliseconds since the Unix epoch; never decreases.
    pub timestamp_ms: u64,
    /// The validator that proposed the block.
    pub proposer: OperatorId,
    /// Randomness no proposer chooses: the next link of the node's VRF seed chain, the
    /// proposer's VRF output over the previous block's seed, checked by every validator; its
    /// only bias is a proposer withholding its block (docs/consensus.md "Seed").
    pub seed: Hash,
    /// Active validators that did not sign the previous block's commit, sorted, read from the
    /// certificate carried in this block (the same on every node, unlike each node's local
    /// certificate); `None` when unknown (the first block), which skips liveness tracking.
    pub absent_validators: Option<Vec<OperatorId>>,
    /// The block was built by another validator than its height's round-0 proposer: that
    /// proposer was offline, or withheld its block, and a later round's proposer decided the
    /// height. Derived by every node from the validator set and the last block's seed (the
    /// schedule is a function of them), never carried. Such a block stretches the market's
    /// windows by one, as a full block does (docs/market.md, *Deadlines and full blocks*): an
    /// honest proposer knocked out, or a colluder's withheld round, does not hand a window's
    /// height to a colluder of a later round.
    pub off_schedule: bool,
}

impl BlockContext {
    /// True for the last block of its epoch.
    pub fn is_epoch_end(&self, params: &Params) -> bool {
        self.height
            .get()
            .is_multiple_of(params.staking.epoch_blocks)
    }
}

/// A hook or one item of a hook failed: its writes were dropped whole and the block went on
/// (DESIGN §3: a failure in one item is an event, never a failed block). In JSON,
/// `{"type": "hook_failed", "module": …, "item": …, "error": …}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HookEvent {
    /// What failed and why.
    HookFailed {
        /// The module whose hook failed.
        module: String,
        /// The item (a job, a dispute, an operator's slash), or `all` for a whole hook.
        item: String,
        /// The error, as the module's typed error displays it.
        error: String,
    },
}

impl HookEvent {
    /// The event for `item` of `module`'s hook failing with `error`.
    pub fn failed(module: &str, item: impl ToString, error: impl ToString) -> HookEvent {
        HookEvent::HookFailed {
            module: module.to_string(),
            item: item.to_string(),
            error: error.to_string(),
        }
    }
}
