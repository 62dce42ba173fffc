//! The application core the consensus engine drives: build a proposal from the mempool, check
//! a proposal from another validator, and commit a decided block (apply to the ledger, persist
//! atomically, prune the mempool). Consensus-agnostic, so it is tested on its own and the
//! engine binding stays thin.

use crate::block::{genesis_seed, Block, BlockHeader, CommitCertificate, SeedDraw};
use crate::consensus::ctx::ValidatorSet;
use crate::mempool::{AdmitError, Mempool, MempoolLimits};
use crate::storage::{Storage, StorageError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use surety_ledger::genesis::Genesis;
use surety_ledger::staking::state::{active_set, Validator};
use surety_ledger::tx::{BLOCK_TXS_MAX, TX_BYTES_MAX};
use surety_ledger::{BlockContext, BlockError, BlockOutcome, Ledger};
use surety_types::vrf::VrfError;
use surety_types::{Hash, Height, OperatorId, Ratio, SigningKey};

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
    #[error("proposal names proposer {0}, which is not in the validator set")]
    UnknownProposer(OperatorId),
    #[error(
        "proposal's seed proof is not its proposer's VRF proof for this height and the \
         previous seed: {0}"
    )]
    WrongSeedProof(VrfError),
    #[error("proposal's seed is not the one its VRF proof gives")]
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

/// Heights the later-round alarm looks back over.
pub const LATER_ROUND_WINDOW: usize = 1_000;

/// Fewest heights in that window before the alarm judges: a node just started has seen too
/// few (and a new chain's first heights go past round 0 while its validators come up).
pub const LATER_ROUND_SAMPLES_MIN: usize = 100;

/// The share of recent heights past round 0 above which the node warns: a network where one
/// proposer round in twenty fails is unhealthy. Each such height stretches every market window
/// open in it by a block (docs/market.md, *Deadlines and full blocks*), so the audit bound still
/// holds, but windows are slower and their stretch caps closer.
pub const LATER_ROUND_SHARE_ALERT: Ratio = match Ratio::from_ppb(50_000_000) {
    Some(share) => share,
    None => panic!("5% is a ratio"),
};

/// Fewest heights the burst test looks at.
pub const LATER_ROUND_BURST_MIN: usize = 8;

/// What the host measured, for `/status`, `/metrics` and the node benchmark.
#[derive(Clone, Debug, Default)]
pub struct ConsensusStats {
    pub heights_decided: u64,
    /// Heights decided in a round above 0.
    pub later_rounds: u64,
    /// Of the last [`LATER_ROUND_WINDOW`] heights committed, whether each was decided in a
    /// round above 0, oldest first.
    pub recent_rounds: VecDeque<bool>,
    /// How many of `recent_rounds` are.
    pub recent_later: usize,
    /// The share of recent heights decided in a later round is above
    /// [`LATER_ROUND_SHARE_ALERT`], or half of the last shortest censorable window's worth of
    /// heights were: the windows' stretch caps may be spent, past which the audit bound's
    /// proposer assumption no longer holds (docs/node.md, "Later rounds").
    pub later_round_alarm: bool,
    /// Start of a height to its decision, milliseconds, most recent last.
    pub finality_ms: Vec<f64>,
    /// Heights this node committed from sync rather than from its own consensus.
    pub synced: u64,
    /// Double-sign evidence transactions this node submitted.
    pub evidence_submitted: u64,
}

/// The later-round alarm went up or down with a height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundAlarm {
    Raised,
    Cleared,
}

impl ConsensusStats {
    /// Count a committed height, decided in a round above 0 or not, against `margin`
    /// ([`LATER_ROUND_SHARE_ALERT`] on a node). Each later round is an honest proposer offline
    /// or knocked out, or a colluding one withholding; the ledger stretches every window open
    /// in such a height by a block, up to a cap as long as the window (the claim window, the
    /// seed delay), so the audit bound holds until a window sees as many later rounds as its
    /// own length. A burst is what spends that cap: half or more of the last `burst` heights
    /// (the shortest window the audit bound counts, at least [`LATER_ROUND_BURST_MIN`]) past
    /// round 0, which independent failures at 5% make about once in 100,000 heights for a
    /// window of 12, and which a coalition that knocks honest proposers out only while a window
    /// it timed is open must keep up for as long as the window. Returns the alarm's change, if
    /// any.
    pub(crate) fn record_round(
        &mut self,
        later: bool,
        margin: Ratio,
        burst: usize,
    ) -> Option<RoundAlarm> {
        if later {
            self.later_rounds += 1;
            self.recent_later += 1;
        }
        self.recent_rounds.push_back(later);
        if self.recent_rounds.len() > LATER_ROUND_WINDOW
            && self.recent_rounds.pop_front() == Some(true)
        {
            self.recent_later -= 1;
        }
        let sustained = self.recent_rounds.len() >= LATER_ROUND_SAMPLES_MIN
            && (self.recent_later as u128) * u128::from(Ratio::DENOMINATOR)
                > (self.recent_rounds.len() as u128) * u128::from(margin.ppb());
        // Eight heights at least: half of a shorter window is too likely at the margin (one
        // later round in two heights is, every few dozen heights at 5%).
        let burst = burst.clamp(LATER_ROUND_BURST_MIN, LATER_ROUND_WINDOW);
        let in_burst = self
            .recent_rounds
            .iter()
            .rev()
            .take(burst)
            .filter(|later| **later)
            .count();
        let judged = self.recent_rounds.len() >= LATER_ROUND_SAMPLES_MIN;
        let alarm = judged && (sustained || 2 * in_burst >= burst);
        let change = match (self.later_round_alarm, alarm) {
            (false, true) => Some(RoundAlarm::Raised),
            (true, false) => Some(RoundAlarm::Cleared),
            _ => None,
        };
        self.later_round_alarm = alarm;
        change
    }

    /// The share of recent heights decided in a round above 0 (0 before any).
    pub fn recent_later_share(&self) -> f64 {
        if self.recent_rounds.is_empty() {
            return 0.0;
        }
        self.recent_later as f64 / self.recent_rounds.len() as f64
    }

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
    /// The last block's seed (`seed_0`, the genesis seed, before block 1): the next block's
    /// VRF input. Read back from the last stored block on restart.
    last_seed: Hash,
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
        let last_seed = match ledger.height().get() {
            0 => genesis_seed(ledger.chain_id()),
            height => {
                storage
                    .block(ledger.height())
                    .map_err(|error| match error {
                        // Headers gained `seed_proof`: older data directories read this way.
                        StorageError::Corrupt(reason) => StorageError::Corrupt(format!(
                            "the last block, {height}, does not decode ({reason}); a data \
                             directory written before block headers carried a seed proof \
                             reads so: start a fresh chain (`surety dev --reset` for the dev \
                             chain)"
                        )),
                        other => other,
                    })?
                    .ok_or_else(|| {
                        StorageError::Corrupt(format!("the last block, {height}, is not stored"))
                    })?
                    .header
                    .seed
            }
        };
        Ok(App {
            ledger,
            storage,
            mempool: Mempool::new(limits),
            last_block_hash,
            decided_set,
            tip_certificate,
            last_seed,
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

    /// The last block's seed, which the next block's seed chains from.
    pub fn last_seed(&self) -> Hash {
        self.last_seed
    }

    /// The ledger's view of `block`, the next block: its context, and whether it was built by
    /// another validator than its height's round-0 proposer (`BlockContext::off_schedule`:
    /// that proposer was offline or withheld, and a later round's decided). Derived from the
    /// validator set and the last seed, which every node holds alike, so it is the same on
    /// every node and never carried.
    pub fn context_of(&self, block: &Block) -> BlockContext {
        let mut ctx = block.context(self.ledger.params());
        let set = ValidatorSet::from_ledger(&self.validator_set(), self.last_seed);
        ctx.off_schedule = set
            .proposer(block.header.height.get(), 0)
            .is_none_or(|scheduled| scheduled.operator != block.header.proposer);
        ctx
    }

    /// Absent validators the next block must carry: read from the last block's certificate.
    fn next_absent(&self) -> Option<Vec<OperatorId>> {
        self.tip_certificate.as_ref().map(|cert| {
            check_certificate(
                self.ledger.chain_id(),
                &self.decided_set,
                self.ledger.height(),
                self.last_block_hash,
                cert,
            )
            .unwrap_or_default()
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
    ///
    /// `consensus_key` is `proposer`'s consensus key (the one its node signs votes with): it
    /// draws the block's seed with its VRF (docs/consensus.md "Seed"); a key other than the one
    /// the validator set holds for `proposer` makes a block every validator refuses.
    pub fn propose(
        &self,
        timestamp_ms: u64,
        proposer: OperatorId,
        consensus_key: &SigningKey,
    ) -> Block {
        let height = self.ledger.height().next();
        let draw = SeedDraw::prove(
            consensus_key,
            self.ledger.chain_id(),
            height,
            &self.last_seed,
        );
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
                height,
                timestamp_ms: timestamp_ms.max(self.ledger.timestamp_ms()),
                proposer,
                seed: draw.seed,
                seed_proof: draw.proof,
                absent_validators: self.next_absent(),
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
            .check_context(&self.context_of(block), block.txs.len())?;
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
        self.check_seed(header)?;
        match (&header.last_commit, header.height.get()) {
            (None, 1) => {
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
                if header.absent_validators.as_ref() != Some(&absent) {
                    return Err(ProposalError::WrongAbsent);
                }
            }
        }
        Ok(())
    }

    /// The seed must be the one the named proposer's VRF gives for this height on top of the
    /// last block's seed: checked against the consensus key the validator set of this height
    /// holds for the proposer, so the proposer had no choice of seed but not to propose.
    fn check_seed(&self, header: &BlockHeader) -> Result<(), ProposalError> {
        let proposer_key = self
            .validator_set()
            .iter()
            .find(|v| v.operator == header.proposer)
            .map(|v| v.consensus_key.0)
            .ok_or(ProposalError::UnknownProposer(header.proposer))?;
        let seed = SeedDraw::verify(
            &header.seed_proof,
            &proposer_key,
            self.ledger.chain_id(),
            header.height,
            &self.last_seed,
        )
        .map_err(ProposalError::WrongSeedProof)?;
        if header.seed != seed {
            return Err(ProposalError::WrongSeed);
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
            .apply_block(&self.context_of(block), &block.txs)
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
        self.last_seed = block.header.seed;
        self.mempool.recheck(&self.ledger);
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    //! The seed chain as validators check it (docs/consensus.md "Seed"): a proposal's seed is
    //! its named proposer's VRF draw over this height and the last block's seed, nothing else.

    use super::*;
    use crate::block::seed_alpha;
    use surety_ledger::genesis::{GenesisAccount, GenesisOperator};
    use surety_types::{AccountId, Amount};

    const CHAIN: &str = "seed-test";
    const VALIDATORS: u8 = 4;

    fn account_key(n: u8) -> SigningKey {
        SigningKey::from_seed([n; 32])
    }

    /// Validator `n`'s consensus key, distinct from its account key.
    fn consensus_key(n: u8) -> SigningKey {
        SigningKey::from_seed([100 + n; 32])
    }

    fn operator(n: u8) -> OperatorId {
        OperatorId::from(AccountId::from_key(&account_key(n).verification_key()))
    }

    /// Four validators of equal stake, 1..=4.
    fn genesis() -> Genesis {
        Genesis {
            chain_id: CHAIN.into(),
            genesis_time_ms: 0,
            params: Default::default(),
            accounts: (1..=VALIDATORS)
                .map(|n| GenesisAccount {
                    account: AccountId::from_key(&account_key(n).verification_key()),
                    balance: Amount::new(10_000_000),
                })
                .collect(),
            operators: (1..=VALIDATORS)
                .map(|n| GenesisOperator {
                    account: AccountId::from_key(&account_key(n).verification_key()),
                    consensus_key: consensus_key(n).verification_key(),
                    commission: Ratio::from_percent(5).expect("a ratio"),
                    max_commission_change: Ratio::from_percent(1).expect("a ratio"),
                    metadata: Default::default(),
                    self_bond: Amount::new(2_000_000),
                })
                .collect(),
            delegations: vec![],
            models: vec![],
            allocations: vec![],
        }
    }

    fn open(dir: &std::path::Path) -> App {
        let storage = Storage::open(&dir.join("chain.redb")).expect("storage opens");
        App::open(storage, &genesis(), MempoolLimits::default()).expect("app opens")
    }

    /// Propose the next block as validator `proposer` and commit it with precommits from
    /// `signers` only.
    fn commit_next(app: &mut App, proposer: u8, signers: &[u8], timestamp_ms: u64) -> Block {
        let block = app.propose(timestamp_ms, operator(proposer), &consensus_key(proposer));
        app.validate(&block, timestamp_ms)
            .expect("an honest proposal is valid");
        let keys: Vec<SigningKey> = signers.iter().map(|&n| consensus_key(n)).collect();
        let certificate = CommitCertificate::sign(CHAIN, &block, 0, &keys);
        app.commit(&block, &certificate).expect("the block commits");
        block
    }

    /// `block` with its seed and proof replaced by `draw`'s.
    fn with_draw(block: &Block, draw: SeedDraw) -> Block {
        let mut forged = block.clone();
        forged.header.seed = draw.seed;
        forged.header.seed_proof = draw.proof;
        forged
    }

    #[test]
    fn block_one_chains_its_seed_from_the_genesis_seed() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut app = open(dir.path());
        assert_eq!(app.last_seed(), genesis_seed(CHAIN));
        let block = commit_next(&mut app, 1, &[1, 2, 3, 4], 1_000);
        let expected = SeedDraw::prove(
            &consensus_key(1),
            CHAIN,
            Height::new(1),
            &genesis_seed(CHAIN),
        );
        assert_eq!(block.header.seed, expected.seed);
        assert_eq!(block.header.seed_proof, expected.proof);
        assert_ne!(block.header.seed, genesis_seed(CHAIN));
        assert_eq!(app.last_seed(), block.header.seed);
    }

    #[test]
    fn a_seed_proven_by_another_key_than_the_named_proposers_is_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut app = open(dir.path());
        commit_next(&mut app, 1, &[1, 2, 3, 4], 1_000);
        let honest = app.propose(2_000, operator(2), &consensus_key(2));
        app.validate(&honest, 2_000).expect("valid");
        let height = Height::new(2);
        let last = app.last_seed();
        // Another validator's consensus key, and the proposer's own account key: neither is
        // the consensus key the set holds for the named proposer.
        for key in [consensus_key(3), account_key(2)] {
            let forged = with_draw(&honest, SeedDraw::prove(&key, CHAIN, height, &last));
            assert!(
                matches!(
                    app.validate(&forged, 2_000),
                    Err(ProposalError::WrongSeedProof(VrfError::InvalidProof))
                ),
                "{:?}",
                app.validate(&forged, 2_000)
            );
        }
        // A block proposed with a key that is not the named proposer's is refused the same way.
        let mismatched = app.propose(2_000, operator(2), &consensus_key(3));
        assert!(matches!(
            app.validate(&mismatched, 2_000),
            Err(ProposalError::WrongSeedProof(VrfError::InvalidProof))
        ));
        // Naming validator 3 with validator 3's draw is fine: only the named proposer's counts.
        let mut renamed = with_draw(
            &honest,
            SeedDraw::prove(&consensus_key(3), CHAIN, height, &last),
        );
        renamed.header.proposer = operator(3);
        app.validate(&renamed, 2_000)
            .expect("validator 3's own draw");
    }

    #[test]
    fn a_seed_proven_for_another_height_or_another_previous_seed_is_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut app = open(dir.path());
        let first = commit_next(&mut app, 1, &[1, 2, 3, 4], 1_000);
        let honest = app.propose(2_000, operator(2), &consensus_key(2));
        let key = consensus_key(2);
        let wrong_height = SeedDraw::prove(&key, CHAIN, Height::new(3), &first.header.seed);
        let wrong_previous = SeedDraw::prove(&key, CHAIN, Height::new(2), &genesis_seed(CHAIN));
        let wrong_chain = SeedDraw::prove(&key, "other-chain", Height::new(2), &first.header.seed);
        for draw in [wrong_height, wrong_previous, wrong_chain] {
            assert!(matches!(
                app.validate(&with_draw(&honest, draw), 2_000),
                Err(ProposalError::WrongSeedProof(VrfError::InvalidProof))
            ));
        }
    }

    #[test]
    fn a_seed_other_than_its_proof_gives_or_a_garbage_proof_is_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut app = open(dir.path());
        commit_next(&mut app, 1, &[1, 2, 3, 4], 1_000);
        let honest = app.propose(2_000, operator(2), &consensus_key(2));

        let mut biased = honest.clone();
        biased.header.seed = Hash([7; 32]);
        assert!(matches!(
            app.validate(&biased, 2_000),
            Err(ProposalError::WrongSeed)
        ));
        let mut garbage = honest.clone();
        garbage.header.seed_proof = surety_types::VrfProof([0xff; 80]);
        assert!(matches!(
            app.validate(&garbage, 2_000),
            Err(ProposalError::WrongSeedProof(VrfError::InvalidProof))
        ));
        let mut stranger = honest.clone();
        stranger.header.proposer = operator(9);
        assert!(matches!(
            app.validate(&stranger, 2_000),
            Err(ProposalError::UnknownProposer(_))
        ));
        // The commit path (consensus or sync) refuses it too.
        let certificate = CommitCertificate::sign(CHAIN, &biased, 0, &[consensus_key(1)]);
        assert!(matches!(
            app.commit(&biased, &certificate),
            Err(CommitError::Proposal(ProposalError::WrongSeed))
        ));
    }

    #[test]
    fn certificates_with_different_signers_give_the_same_next_seed() {
        let all = tempfile::tempdir().expect("a temporary directory");
        let three = tempfile::tempdir().expect("a temporary directory");
        let mut by_all = open(all.path());
        let mut by_three = open(three.path());
        let block = by_all.propose(1_000, operator(1), &consensus_key(1));
        let keys: Vec<SigningKey> = (1..=4).map(consensus_key).collect();
        by_all
            .commit(&block, &CommitCertificate::sign(CHAIN, &block, 0, &keys))
            .expect("commits");
        by_three
            .commit(
                &block,
                &CommitCertificate::sign(CHAIN, &block, 0, &keys[..3]),
            )
            .expect("commits");

        let after_all = by_all.propose(2_000, operator(2), &consensus_key(2));
        let after_three = by_three.propose(2_000, operator(2), &consensus_key(2));
        assert_ne!(after_all.header.last_commit, after_three.header.last_commit);
        assert_eq!(after_all.header.absent_validators, Some(vec![]));
        assert_eq!(
            after_three.header.absent_validators,
            Some(vec![operator(4)])
        );
        assert_eq!(after_all.header.seed, after_three.header.seed);
        assert_eq!(after_all.header.seed_proof, after_three.header.seed_proof);
    }

    #[test]
    fn the_seed_sequence_is_deterministic_and_ignores_time_and_transactions() {
        let first = tempfile::tempdir().expect("a temporary directory");
        let second = tempfile::tempdir().expect("a temporary directory");
        let mut one = open(first.path());
        let mut other = open(second.path());
        let mut previous = genesis_seed(CHAIN);
        let mut seeds = Vec::new();
        for height in 1..=8u64 {
            let proposer = (height % u64::from(VALIDATORS)) as u8 + 1;
            // The second chain's blocks differ in time and signers, not in seed.
            let a = commit_next(&mut one, proposer, &[1, 2, 3, 4], height * 1_000);
            let b = commit_next(&mut other, proposer, &[1, 2, 3], height * 1_000 + 500);
            assert_ne!(a.hash(), b.hash());
            assert_eq!(a.header.seed, b.header.seed, "height {height}");
            // And it is the chain of VRF draws, recomputed from scratch.
            let proof = consensus_key(proposer).vrf_prove(&seed_alpha(
                CHAIN,
                Height::new(height),
                &previous,
            ));
            let output = proof
                .verify(
                    &consensus_key(proposer).verification_key().to_bytes(),
                    &seed_alpha(CHAIN, Height::new(height), &previous),
                )
                .expect("verifies");
            previous = crate::block::chain_seed(&previous, &output);
            assert_eq!(a.header.seed, previous);
            seeds.push(previous);
        }
        let distinct: std::collections::BTreeSet<_> = seeds.iter().collect();
        assert_eq!(distinct.len(), seeds.len());
    }

    #[test]
    fn the_previous_seed_survives_a_restart() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let last = {
            let mut app = open(dir.path());
            commit_next(&mut app, 1, &[1, 2, 3, 4], 1_000);
            commit_next(&mut app, 2, &[1, 2, 3, 4], 2_000)
        };
        let app = open(dir.path());
        assert_eq!(app.last_seed(), last.header.seed);
        let next = app.propose(3_000, operator(3), &consensus_key(3));
        app.validate(&next, 3_000)
            .expect("the restarted node checks the next seed against the stored one");
    }

    #[test]
    fn the_later_round_alarm_rises_past_one_height_in_twenty_of_the_last_thousand_and_falls() {
        let margin = Ratio::from_percent(5).unwrap();
        let mut stats = ConsensusStats::default();
        // A fresh node judges nothing: one later round of its first three is not an alarm.
        for later in [true, false, false] {
            assert_eq!(stats.record_round(later, margin, 14), None);
        }
        // 1 in 25 later (4%) is within 5%.
        for height in 3..1_000 {
            assert_eq!(stats.record_round(height % 25 == 0, margin, 14), None);
        }
        assert!(!stats.later_round_alarm);
        assert_eq!(stats.recent_rounds.len(), LATER_ROUND_WINDOW);
        assert_eq!(stats.recent_later, 40);
        // A run of missed rounds pushes the share over: raised once, not at every height.
        let mut raised = 0;
        for _ in 0..20 {
            if stats.record_round(true, margin, 14) == Some(RoundAlarm::Raised) {
                raised += 1;
            }
        }
        assert_eq!(raised, 1);
        assert!(stats.later_round_alarm);
        assert!(stats.recent_later_share() > 0.05);
        // Healthy heights push the old ones out of the window and clear it.
        let mut cleared = None;
        for n in 0..LATER_ROUND_WINDOW {
            if stats.record_round(false, margin, 14) == Some(RoundAlarm::Cleared) {
                cleared = Some(n);
                break;
            }
        }
        assert!(
            cleared.is_some(),
            "the alarm clears once the window is healthy again"
        );
        assert!(!stats.later_round_alarm);
        assert_eq!(stats.later_rounds, 60);
    }

    #[test]
    fn a_burst_of_later_rounds_as_long_as_a_claim_window_raises_the_alarm_at_once() {
        let margin = Ratio::from_percent(5).unwrap();
        let mut stats = ConsensusStats::default();
        for _ in 0..500 {
            assert_eq!(stats.record_round(false, margin, 14), None);
        }
        // Honest proposers knocked out while a claim window is open: seven of fourteen heights
        // past round 0 is 1.4% of the last thousand, under the margin, but an alarm.
        for n in 0..7 {
            let change = stats.record_round(true, margin, 14);
            assert_eq!(change, (n == 6).then_some(RoundAlarm::Raised), "height {n}");
        }
        assert!(stats.recent_later_share() < 0.05);
        // It clears once the burst has left the last fourteen heights.
        let mut cleared = 0;
        for _ in 0..14 {
            if stats.record_round(false, margin, 14) == Some(RoundAlarm::Cleared) {
                cleared += 1;
            }
        }
        assert_eq!(cleared, 1);
    }

    #[test]
    fn a_block_built_by_another_validator_than_its_round_zero_proposer_is_off_schedule() {
        // The ledger stretches its windows by one for such a block (docs/market.md, *Deadlines
        // and full blocks*): every node derives it from the validator set and the last seed,
        // so a proposer cannot say its later round's block was on schedule, nor the reverse.
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut app = open(dir.path());
        let mut off = 0;
        for height in 1..=12u64 {
            let set = ValidatorSet::from_ledger(&app.validator_set(), app.last_seed());
            let scheduled = set.proposer(height, 0).expect("a set").operator;
            let on_time = (1..=VALIDATORS)
                .find(|n| operator(*n) == scheduled)
                .expect("one of the four");
            let other = on_time % VALIDATORS + 1;
            let ts = height * 1_000;
            let on = app.propose(ts, operator(on_time), &consensus_key(on_time));
            assert!(!app.context_of(&on).off_schedule, "height {height}");
            let late = app.propose(ts, operator(other), &consensus_key(other));
            assert!(app.context_of(&late).off_schedule, "height {height}");
            // Every third height goes to a later round's proposer; the ledger counts those.
            let proposer = if height % 3 == 0 {
                off += 1;
                other
            } else {
                on_time
            };
            commit_next(&mut app, proposer, &[1, 2, 3, 4], ts);
            assert_eq!(
                surety_ledger::congestion::slack_blocks(app.ledger().store()),
                off,
                "height {height}"
            );
        }
        assert_eq!(off, 4);
    }
}
