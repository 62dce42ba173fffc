//! Blocks as consensus orders them and storage keeps them.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_ledger::params::Params;
use surety_ledger::BlockContext;
use surety_types::encoding::encode;
use surety_types::merkle;
use surety_types::{Hash, Height, OperatorId};

const BLOCK_HASH_DOMAIN: &str = "surety.block-header.v1";

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BlockHeader {
    pub chain_id: String,
    pub height: Height,
    pub timestamp_ms: u64,
    pub proposer: OperatorId,
    pub seed: Hash,
    pub absent_validators: Option<Vec<OperatorId>>,
    /// Hash of the previous block's header (zero for height 1).
    pub previous_hash: Hash,
    /// State root after the previous block.
    pub previous_state_root: Hash,
    /// Merkle root over the transactions' bytes.
    pub tx_root: Hash,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<Vec<u8>>,
}

impl Block {
    pub fn hash(&self) -> Hash {
        Hash::of(BLOCK_HASH_DOMAIN, &encode(&self.header))
    }

    pub fn tx_root(txs: &[Vec<u8>]) -> Hash {
        merkle::root_of(txs)
    }

    /// True if the header's transaction root matches the transactions.
    pub fn txs_match_header(&self) -> bool {
        Block::tx_root(&self.txs) == self.header.tx_root
    }

    /// The ledger's view of this block.
    pub fn context(&self, params: &Params) -> BlockContext {
        BlockContext {
            height: self.header.height,
            epoch: params.epoch_of(self.header.height),
            timestamp_ms: self.header.timestamp_ms,
            proposer: self.header.proposer,
            seed: self.header.seed,
            absent_validators: self.header.absent_validators.clone(),
        }
    }
}
