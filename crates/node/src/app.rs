//! The application core the consensus engine drives: build a proposal from the mempool, check
//! a proposal from another validator, and commit a decided block (apply to the ledger, persist
//! atomically, prune the mempool). Consensus-agnostic, so it is tested on its own and the
//! engine binding stays thin.

use crate::block::{Block, BlockHeader, CommitCertificate};
use crate::mempool::{AdmitError, Mempool, MempoolLimits};
use crate::storage::{Storage, StorageError};
use std::sync::{Arc, Mutex, MutexGuard};
use surety_ledger::genesis::Genesis;
use surety_ledger::staking::state::{active_set, Validator};
use surety_ledger::tx::{BLOCK_TXS_MAX, TX_BYTES_MAX};
use surety_ledger::{BlockError, BlockOutcome, Ledger};
use surety_types::{Hash, Height, OperatorId};

/// The application core as the consensus host, the RPC and the worker share it.
pub type SharedApp = Arc<Mutex<App>>;

/// The shared core, locked. A panic while holding the lock is a bug; the data is still
/// consistent (the ledger commits whole blocks), so keep serving.
pub fn lock(app: &SharedApp) -> MutexGuard<'_, App> {
    app.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How far ahead of a validator's own clock a proposal's time may be.
pub const CLOCK_DRIFT_MAX_MS: u64 = 10_000;

/// Voting power as consensus counts it: bonded stake, shifted right just enough that the
/// total fits comfortably in a `u64` (the engine's power type), and at least 1 for every
/// active validator. Deterministic in the set alone, so every node computes the same.
pub fn voting_powers(set: &[Validator]) -> Vec<u64> {
    let total = set
        .iter()
        .fold(0u128, |sum, v| sum.saturating_add(v.power.get()));
    let bits = 128 - total.leading_zeros();
    let shift = bits.saturating_sub(60);
    set.iter()
        .map(|v| ((v.power.get() >> shift) as u64).max(1))
        .collect()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("certificate is for height {got}, expected {expected}")]
    WrongHeight { expected: Height, got: Height },
    #[error("certificate is for another block")]
    WrongBlock,
    #[error("certificate's signatures are not sorted by validator or repeat one")]
    NotSorted,
    #[error("certificate is signed by a key outside the validator set")]
    UnknownValidator,
    #[error("a certificate signature does not verify")]
    BadSignature,
    #[error("certificate signers hold {signed} of {total} voting power, not more than 2/3")]
    NoQuorum { signed: u128, total: u128 },
}

/// Check `cert` proves block `block_hash` at `height` was decided by `set`; returns the
/// operators of `set` that did not sign (sorted), the next block's `absent_validators`.
pub fn check_certificate(
    chain_id: &str,
    set: &[Validator],
    height: Height,
    block_hash: Hash,
    cert: &CommitCertificate,
) -> Result<Vec<OperatorId>, CertificateError> {
    if cert.height != height {
        return Err(CertificateError::WrongHeight {
            expected: height,
            got: cert.height,
        });
    }
    if cert.block_hash != block_hash {
        return Err(CertificateError::WrongBlock);
    }
    if cert
        .signatures
        .windows(2)
        .any(|w| w[0].validator >= w[1].validator)
    {
        return Err(CertificateError::NotSorted);
    }
    let powers = voting_powers(set);
    let total: u128 = powers.iter().map(|&p| p as u128).sum();
    let mut signed_by = vec![false; set.len()];
    let mut batch = surety_types::crypto::BatchVerifier::default();
    for sig in &cert.signatures {
        let key_bytes = surety_types::crypto::VerificationKeyBytes::from(sig.validator);
        let index = set
            .iter()
            .position(|v| v.consensus_key == key_bytes)
            .ok_or(CertificateError::UnknownValidator)?;
        signed_by[index] = true;
        let vote = CommitCertificate::precommit(
            chain_id,
            cert.height,
            cert.round,
            cert.block_hash,
            sig.validator,
        );
        batch.queue(&sig.validator, &sig.signature, &vote.sign_bytes());
    }
    let signed: u128 = powers
        .iter()
        .zip(&signed_by)
        .filter(|(_, s)| **s)
        .map(|(&p, _)| p as u128)
        .sum();
    if signed * 3 <= total * 2 {
        return Err(CertificateError::NoQuorum { signed, total });
    }
    if !batch.verify_all(cert.block_hash.0) {
        return Err(CertificateError::BadSignature);
    }
    let mut absent: Vec<OperatorId> = set
        .iter()
        .zip(&signed_by)
        .filter(|(_, s)| !**s)
        .map(|(v, _)| v.operator)
        .collect();
    absent.sort();
    Ok(absent)
}

/// Most bytes of transactions in one block: the ledger's bound, which it also uses to tell a
/// full block (deadlines stretch while blocks are full).
pub use surety_ledger::tx::BLOCK_BYTES_MAX;

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
    #[error("proposal's time is {0} ms ahead of this node's clock")]
    TimeAhead(u64),
    #[error("proposal's previous-block certificate: {0}")]
    Certificate(#[from] CertificateError),
    #[error("proposal lacks the previous block's commit certificate")]
    MissingCertificate,
    #[error("block 1 carries a previous-block certificate")]
    UnexpectedCertificate,
    #[error("proposal's seed is not the one its certificate gives")]
    WrongSeed,
    #[error("proposal's absent validators are not the ones its certificate gives")]
    WrongAbsent,
    #[error("proposal names proposer {named}, but was proposed by {signer}")]
    WrongProposer {
        named: OperatorId,
        signer: OperatorId,
    },
    #[error("the ledger refuses the block: {0}")]
    Ledger(#[from] BlockError),
    #[error("transaction {index} of the proposal would not be charged its fee: {error}")]
    Unpayable {
        index: usize,
        error: surety_ledger::tx::TxError,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Proposal(#[from] ProposalError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the block's own certificate: {0}")]
    Certificate(#[from] CertificateError),
}

/// Finality samples kept for status and benchmarks.
const SAMPLES_MAX: usize = 4096;

/// What the host measured, for `/status`, `/metrics` and the node benchmark.
#[derive(Clone, Debug, Default)]
pub struct ConsensusStats {
    pub heights_decided: u64,
    /// Heights decided in a round above 0.
    pub later_rounds: u64,
    /// Start of a height to its decision, milliseconds, most recent last.
    pub finality_ms: Vec<f64>,
    /// Heights this node committed from sync rather than from its own consensus.
    pub synced: u64,
    /// Double-sign evidence transactions this node submitted.
    pub evidence_submitted: u64,
}

impl ConsensusStats {
    pub(crate) fn push_finality(&mut self, ms: f64) {
        if self.finality_ms.len() == SAMPLES_MAX {
            self.finality_ms.remove(0);
        }
        self.finality_ms.push(ms);
    }
}

pub struct App {
    ledger: Ledger,
    storage: Storage,
    mempool: Mempool,
    last_block_hash: Hash,
    /// The validator set that decided the last block (empty before block 1).
    decided_set: Vec<Validator>,
    /// The certificate of the last block, which the next block carries.
    tip_certificate: Option<CommitCertificate>,
    /// Admitted transactions not yet forwarded to peers (gossip), when gossip is on.
    outbox: Option<Vec<Vec<u8>>>,
    /// What the consensus host measured.
    pub consensus_stats: ConsensusStats,
}

impl App {
    pub fn open(
        storage: Storage,
        genesis: &Genesis,
        limits: MempoolLimits,
    ) -> Result<App, StorageError> {
        App::open_with_files(storage, genesis, &Default::default(), limits)
    }

    /// Open, initialising a fresh database from `genesis` with its models' files (by chunks
    /// root).
    pub fn open_with_files(
        storage: Storage,
        genesis: &Genesis,
        model_files: &std::collections::BTreeMap<Hash, Vec<u8>>,
        limits: MempoolLimits,
    ) -> Result<App, StorageError> {
        let ledger = storage.load_or_init_with_files(genesis, model_files)?;
        let last_block_hash = storage.last_block_hash()?;
        let (decided_set, tip_certificate) = storage.tip()?;
        Ok(App {
            ledger,
            storage,
            mempool: Mempool::new(limits),
            last_block_hash,
            decided_set,
            tip_certificate,
            outbox: None,
            consensus_stats: Default::default(),
        })
    }

    /// Keep admitted transactions for forwarding to peers (`take_outbox`).
    pub fn enable_gossip(&mut self) {
        self.outbox.get_or_insert_with(Vec::new);
    }

    /// Transactions admitted since the last call, to forward to peers.
    pub fn take_outbox(&mut self) -> Vec<Vec<u8>> {
        self.outbox.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The nonce the account's next transaction should carry, counting those waiting here.
    pub fn next_nonce(&self, account: &surety_types::AccountId) -> u64 {
        self.mempool.next_nonce(&self.ledger, account)
    }

    /// The validator set for the next height (the ledger changes it at epoch ends and when it
    /// jails an operator).
    pub fn validator_set(&self) -> Vec<Validator> {
        active_set(self.ledger.store())
    }

    /// The validator set that decided the last block.
    pub fn decided_set(&self) -> &[Validator] {
        &self.decided_set
    }

    pub fn last_block_hash(&self) -> Hash {
        self.last_block_hash
    }

    pub fn tip_certificate(&self) -> Option<&CommitCertificate> {
        self.tip_certificate.as_ref()
    }

    /// The commit certificate of block `height`: carried by the next block, or kept beside
    /// the tip.
    pub fn certificate(&self, height: Height) -> Result<Option<CommitCertificate>, StorageError> {
        if height == self.ledger.height() {
            return Ok(self.tip_certificate.clone());
        }
        Ok(self
            .storage
            .block(height.next())?
            .and_then(|b| b.header.last_commit))
    }

    /// Seed and absent validators the next block must carry.
    fn next_randomness(&self) -> (Hash, Option<Vec<OperatorId>>) {
        match &self.tip_certificate {
            None => (
                CommitCertificate::genesis_seed(self.ledger.chain_id()),
                None,
            ),
            Some(cert) => {
                let absent = check_certificate(
                    self.ledger.chain_id(),
                    &self.decided_set,
                    self.ledger.height(),
                    self.last_block_hash,
                    cert,
                )
                .unwrap_or_default();
                (cert.seed(), Some(absent))
            }
        }
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

    /// Admit a transaction from a client (and queue it for peers when gossip is on).
    pub fn submit(&mut self, bytes: Vec<u8>) -> Result<Hash, AdmitError> {
        let copy = self.outbox.is_some().then(|| bytes.clone());
        let hash = self.submit_gossiped(bytes)?;
        if let (Some(outbox), Some(copy)) = (self.outbox.as_mut(), copy) {
            outbox.push(copy);
        }
        Ok(hash)
    }

    /// Admit a transaction a peer forwarded (not forwarded again).
    pub fn submit_gossiped(&mut self, bytes: Vec<u8>) -> Result<Hash, AdmitError> {
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

    /// A block for the next height from the mempool, carrying the last block's certificate.
    /// It obeys the fee rule `validate` holds proposals to (docs/node.md "Block validity"): the
    /// mempool's admission and recheck make every reaped transaction payable, and the block is
    /// cut before the first that is not, should that ever fail.
    pub fn propose(&self, timestamp_ms: u64, proposer: OperatorId) -> Block {
        let (seed, absent_validators) = self.next_randomness();
        let mut txs = self
            .mempool
            .reap(&self.ledger, BLOCK_TXS_MAX, BLOCK_BYTES_MAX);
        if let Err((index, error)) = self.ledger.check_fees_payable(&txs) {
            tracing::warn!(index, %error, "the mempool reaped an unpayable transaction");
            txs.truncate(index);
        }
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
                last_commit: self.tip_certificate.clone(),
            },
            txs,
        }
    }

    /// Check a proposal without applying it: it must extend our chain, be well formed, carry a
    /// context the ledger accepts, and every transaction must be one the ledger would charge
    /// its fee and nonce (`Ledger::check_fees_payable`: decodable, the sender's next nonce, a
    /// fee its balance pays as the block's earlier charges leave it). A block of transactions
    /// that cost their senders nothing is not voted for. Messages are not executed: one that
    /// fails once charged is a failed receipt, the same on every node.
    ///
    /// `now_ms` is this node's clock: a proposal too far ahead of it is refused (commit, which
    /// follows a decision, does not look at the local clock).
    pub fn validate(&self, block: &Block, now_ms: u64) -> Result<(), ProposalError> {
        self.check_header(block)?;
        if block.header.timestamp_ms > now_ms.saturating_add(CLOCK_DRIFT_MAX_MS) {
            return Err(ProposalError::TimeAhead(block.header.timestamp_ms - now_ms));
        }

        self.ledger
            .check_context(&block.context(self.ledger.params()), block.txs.len())?;
        self.ledger
            .check_fees_payable(&block.txs)
            .map_err(|(index, error)| ProposalError::Unpayable { index, error })?;
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
        match (&header.last_commit, header.height.get()) {
            (None, 1) => {
                if header.seed != CommitCertificate::genesis_seed(self.ledger.chain_id()) {
                    return Err(ProposalError::WrongSeed);
                }
                if header.absent_validators.is_some() {
                    return Err(ProposalError::WrongAbsent);
                }
            }
            (Some(_), 1) => return Err(ProposalError::UnexpectedCertificate),
            (None, _) => return Err(ProposalError::MissingCertificate),
            (Some(cert), _) => {
                let absent = check_certificate(
                    self.ledger.chain_id(),
                    &self.decided_set,
                    self.ledger.height(),
                    self.last_block_hash,
                    cert,
                )?;
                if header.seed != cert.seed() {
                    return Err(ProposalError::WrongSeed);
                }
                if header.absent_validators.as_ref() != Some(&absent) {
                    return Err(ProposalError::WrongAbsent);
                }
            }
        }
        Ok(())
    }

    /// Apply and persist a decided block with its commit certificate (from consensus, or from
    /// a peer during sync), which is checked against the validator set of its height.
    pub fn commit(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<BlockOutcome, CommitError> {
        self.check_header(block)?;
        let set = self.validator_set();
        check_certificate(
            self.ledger.chain_id(),
            &set,
            block.header.height,
            block.hash(),
            certificate,
        )?;
        let outcome = self
            .ledger
            .apply_block(&block.context(self.ledger.params()), &block.txs)
            .map_err(ProposalError::from)?;
        if let Err(error) = self
            .storage
            .commit_block(block, &outcome, &set, certificate)
        {
            // The ledger moved ahead of disk: reload from disk so the two agree again.
            if let Some(genesis) = self.storage.genesis()? {
                self.ledger = self.storage.load_or_init(&genesis)?;
            }
            return Err(error.into());
        }
        self.last_block_hash = block.hash();
        self.decided_set = set;
        self.tip_certificate = Some(certificate.clone());
        self.mempool.recheck(&self.ledger);
        Ok(outcome)
    }
}
