//! The application core the consensus engine drives: build a proposal from the mempool, check
//! a proposal from another validator, and commit a decided block (apply to the ledger, persist
//! atomically, prune the mempool). Consensus-agnostic, so it is tested on its own and the
//! engine binding stays thin.

use crate::block::{Block, BlockHeader};
use crate::mempool::{AdmitError, Mempool, MempoolLimits};
use crate::storage::{Storage, StorageError};
use surety_ledger::genesis::Genesis;
use surety_ledger::tx::{BLOCK_TXS_MAX, TX_BYTES_MAX};
use surety_ledger::{BlockError, BlockOutcome, Ledger};
use surety_types::{Hash, Height, OperatorId};

/// Most bytes of transactions in one block.
pub const BLOCK_BYTES_MAX: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    #[error("proposal is for chain {0:?}")]
    WrongChain(String),
    #[error("proposal is for height {got}, expected {expected}")]
    WrongHeight { expected: Height, got: Height },
    #[error("proposal does not extend the last block")]
    WrongParent,
    #[error("proposal's previous state root is not ours")]
    WrongStateRoot,
    #[error("proposal's transactions do not match its header")]
    TxRootMismatch,
    #[error("proposal has {0} bytes of transactions, above the limit")]
    TooLarge(usize),
    #[error("a transaction is {0} bytes, above the limit")]
    TxTooLarge(usize),
    #[error("proposal's time goes back")]
    TimeWentBack,
    #[error("the ledger refuses the block: {0}")]
    Ledger(#[from] BlockError),
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Proposal(#[from] ProposalError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub struct App {
    ledger: Ledger,
    storage: Storage,
    mempool: Mempool,
    last_block_hash: Hash,
}

impl App {
    pub fn open(
        storage: Storage,
        genesis: &Genesis,
        limits: MempoolLimits,
    ) -> Result<App, StorageError> {
        let ledger = storage.load_or_init(genesis)?;
        let last_block_hash = storage.last_block_hash()?;
        Ok(App {
            ledger,
            storage,
            mempool: Mempool::new(limits),
            last_block_hash,
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    pub fn submit(&mut self, bytes: Vec<u8>) -> Result<Hash, AdmitError> {
        if bytes.len() > TX_BYTES_MAX {
            return Err(AdmitError::Invalid(surety_ledger::tx::TxError::Decode(
                surety_types::encoding::DecodeError::TooLarge {
                    actual: bytes.len(),
                    limit: TX_BYTES_MAX,
                },
            )));
        }
        self.mempool.admit(bytes, &self.ledger)
    }

    /// A block for the next height from the mempool.
    pub fn propose(
        &self,
        timestamp_ms: u64,
        proposer: OperatorId,
        seed: Hash,
        absent_validators: Option<Vec<OperatorId>>,
    ) -> Block {
        let txs = self
            .mempool
            .reap(&self.ledger, BLOCK_TXS_MAX, BLOCK_BYTES_MAX);
        Block {
            header: BlockHeader {
                chain_id: self.ledger.chain_id().to_string(),
                height: self.ledger.height().next(),
                timestamp_ms: timestamp_ms.max(self.ledger.timestamp_ms()),
                proposer,
                seed,
                absent_validators,
                previous_hash: self.last_block_hash,
                previous_state_root: self.ledger.state_root(),
                tx_root: Block::tx_root(&txs),
            },
            txs,
        }
    }

    /// Check a proposal without applying it: it must extend our chain, be well formed, and
    /// carry a context the ledger accepts. Its transactions need no execution to be voted on:
    /// the ledger turns any bad transaction into a failed receipt, the same on every node.
    pub fn validate(&self, block: &Block) -> Result<(), ProposalError> {
        self.check_header(block)?;
        self.ledger
            .check_context(&block.context(self.ledger.params()), block.txs.len())?;
        Ok(())
    }

    fn check_header(&self, block: &Block) -> Result<(), ProposalError> {
        let header = &block.header;
        if header.chain_id != self.ledger.chain_id() {
            return Err(ProposalError::WrongChain(header.chain_id.clone()));
        }
        let expected = self.ledger.height().next();
        if header.height != expected {
            return Err(ProposalError::WrongHeight {
                expected,
                got: header.height,
            });
        }
        if header.previous_hash != self.last_block_hash {
            return Err(ProposalError::WrongParent);
        }
        if header.previous_state_root != self.ledger.state_root() {
            return Err(ProposalError::WrongStateRoot);
        }
        if header.timestamp_ms < self.ledger.timestamp_ms() {
            return Err(ProposalError::TimeWentBack);
        }
        if let Some(tx) = block.txs.iter().find(|tx| tx.len() > TX_BYTES_MAX) {
            return Err(ProposalError::TxTooLarge(tx.len()));
        }
        let bytes: usize = block.txs.iter().map(Vec::len).sum();
        if bytes > BLOCK_BYTES_MAX {
            return Err(ProposalError::TooLarge(bytes));
        }
        if !block.txs_match_header() {
            return Err(ProposalError::TxRootMismatch);
        }
        Ok(())
    }

    /// Apply and persist a decided block.
    pub fn commit(&mut self, block: &Block) -> Result<BlockOutcome, CommitError> {
        self.check_header(block)?;
        let outcome = self
            .ledger
            .apply_block(&block.context(self.ledger.params()), &block.txs)
            .map_err(ProposalError::from)?;
        if let Err(error) = self.storage.commit_block(block, &outcome) {
            // The ledger moved ahead of disk: reload from disk so the two agree again.
            if let Some(genesis) = self.storage.genesis()? {
                self.ledger = self.storage.load_or_init(&genesis)?;
            }
            return Err(error.into());
        }
        self.last_block_hash = block.hash();
        self.mempool.prune(&self.ledger);
        Ok(outcome)
    }
}
