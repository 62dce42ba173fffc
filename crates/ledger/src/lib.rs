//! Surety's ledger: the deterministic state machine every validator runs (DESIGN §3).
//!
//! [`Ledger::apply_block`] takes a [`BlockContext`] (height, epoch, consensus time, proposer,
//! randomness, who signed the last commit) and the block's transactions, and returns receipts,
//! events and the new state root. It is a pure function of the previous state and its inputs:
//! it does no IO, reads no clock, uses no OS randomness and iterates no unordered map (the
//! crate's `clippy.toml` forbids them), so every validator computes the same bytes.
//!
//! A transaction is decoded, its signature checked (in one batch per block), its nonce and fee
//! checked; then the fee is charged and the nonce advanced, and the message runs in a layer of
//! its own that is dropped whole if it fails. A failed transaction therefore changes nothing
//! but fee and nonce, and its receipt names a typed error.
//!
//! The modules and the order their hooks run in each block:
//!
//! | phase | hooks |
//! | --- | --- |
//! | begin block | `slashing` (liveness, downtime), `jobs` (assign queued jobs and draw audits with this block's seed) |
//! | transactions | `bank`, `staking`, `rewards`, `slashing` (evidence), `models`, `services`, `jobs`, `disputes` |
//! | end block | `disputes` (move timeouts), `jobs` (deadlines, finality, payment, pruning, the next epoch's audit pools at epoch ends), `rewards` (fees + inflation), `slashing` (due slashes, at epoch ends), `services` (due de-allocations, at epoch ends), `staking` (validator set, at epoch ends) |

#![deny(missing_docs)]
// House style rules 3 and 4: library arithmetic is checked (or saturates, or `expect`s a true
// invariant, each with its reason), and nothing is unwrapped. Tests and benches may do both.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects, clippy::unwrap_used))]

/// The layout of the ledger's state: its keys and the borsh encoding of every stored value.
/// Raise it with any change to a stored type or key; a node refuses a database written with
/// another layout rather than misreading it.
pub const STATE_FORMAT: u32 = 12;

pub mod bank;
pub mod congestion;
pub mod context;
pub mod disputes;
pub mod genesis;
pub mod hooks;
pub mod jobs;
pub mod models;
pub mod params;
pub mod rewards;
pub mod services;
pub mod slashing;
pub mod smt;
pub mod sortition;
pub mod staking;
pub mod store;
pub mod tx;

pub use context::BlockContext;
pub use hooks::{HookError, InvariantError, ModuleError};

use borsh::{BorshDeserialize, BorshSerialize};
use genesis::{Genesis, GenesisError};
use params::Params;
use serde::{Deserialize, Serialize};
use staking::Validator;
use store::Store;
use surety_types::crypto::BatchVerifier;
use surety_types::{AccountId, Amount, Epoch, Hash, Height, ModelId, OperatorId};
use tx::{Msg, Transaction, TxError};

/// Everything the ledger reports, wrapped by module as [`TxError`] wraps errors. In JSON the
/// wrapper is invisible: an event is its module event's object, `{"type": "job_final", …}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Event {
    /// An event of the bank module.
    Bank(bank::BankEvent),
    /// An event of the staking module.
    Staking(staking::StakingEvent),
    /// An event of the rewards module.
    Rewards(rewards::RewardsEvent),
    /// An event of the slashing module.
    Slashing(slashing::SlashingEvent),
    /// An event of the models module.
    Models(models::ModelsEvent),
    /// An event of the services module.
    Services(services::ServicesEvent),
    /// An event of the jobs module.
    Jobs(jobs::JobsEvent),
    /// An event of the disputes module.
    Disputes(disputes::DisputesEvent),
    /// A hook, or one item of it, failed and was dropped (the block went on).
    Hook(context::HookEvent),
}

impl From<context::HookEvent> for Event {
    fn from(event: context::HookEvent) -> Event {
        Event::Hook(event)
    }
}

impl From<bank::BankEvent> for Event {
    fn from(event: bank::BankEvent) -> Event {
        Event::Bank(event)
    }
}

impl From<staking::StakingEvent> for Event {
    fn from(event: staking::StakingEvent) -> Event {
        Event::Staking(event)
    }
}

impl From<rewards::RewardsEvent> for Event {
    fn from(event: rewards::RewardsEvent) -> Event {
        Event::Rewards(event)
    }
}

impl From<slashing::SlashingEvent> for Event {
    fn from(event: slashing::SlashingEvent) -> Event {
        Event::Slashing(event)
    }
}

impl From<models::ModelsEvent> for Event {
    fn from(event: models::ModelsEvent) -> Event {
        Event::Models(event)
    }
}

impl From<services::ServicesEvent> for Event {
    fn from(event: services::ServicesEvent) -> Event {
        Event::Services(event)
    }
}

impl From<jobs::JobsEvent> for Event {
    fn from(event: jobs::JobsEvent) -> Event {
        Event::Jobs(event)
    }
}

impl From<disputes::DisputesEvent> for Event {
    fn from(event: disputes::DisputesEvent) -> Event {
        Event::Disputes(event)
    }
}

/// What became of one transaction of a block, in block order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction's hash (of its undecodable bytes, for bytes that are no transaction).
    pub tx_hash: Hash,
    /// `None` on success, else why the transaction failed.
    pub error: Option<String>,
    /// The typed error (not serialised: `error` carries its message).
    #[serde(skip)]
    pub error_kind: Option<TxError>,
    /// Whether the fee was charged and the nonce advanced.
    pub charged: bool,
    /// The events the transaction's message emitted, the fee payment first; none if it failed.
    pub events: Vec<Event>,
}

impl Receipt {
    /// True if the transaction succeeded.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// What applying a block produced: a receipt per transaction, the hooks' events, the new state
/// root and, when it changed, the new validator set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockOutcome {
    /// The block's height.
    pub height: Height,
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// Events of the begin- and end-block hooks.
    pub events: Vec<Event>,
    /// The root of the state after the block: what the next block's header commits to.
    pub state_root: Hash,
    /// The new active validator set, if it changed in this block.
    pub validator_set: Option<Vec<Validator>>,
    /// Entries written by this block (`None` value: deleted), for a node to persist.
    #[serde(skip)]
    pub changes: store::Changes,
}

/// A block the ledger refuses as a whole (a consensus or node bug, never a user's input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The block is not the one after the last applied block.
    #[error("expected height {expected}, got {got}")]
    WrongHeight {
        /// The next height.
        expected: Height,
        /// The context's height.
        got: Height,
    },
    /// The context's epoch is not the one its height falls in.
    #[error("height {height} is in epoch {expected}, context says {got}")]
    WrongEpoch {
        /// The block's height.
        height: Height,
        /// The epoch of that height under the staking parameters.
        expected: Epoch,
        /// The context's epoch.
        got: Epoch,
    },
    /// The block's time is before the previous block's.
    #[error("timestamp {got} ms is before the previous block's {previous} ms")]
    TimeWentBack {
        /// The previous block's consensus time, ms since the Unix epoch.
        previous: u64,
        /// This block's.
        got: u64,
    },
    /// The block carries more than `BLOCK_TXS_MAX` transactions.
    #[error("block has {count} transactions, the limit is {limit}")]
    TooManyTxs {
        /// Transactions in the block.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The absent-validator list is not strictly ascending (so not a set consensus could have
    /// made).
    #[error("absent validator list is not sorted and unique")]
    AbsentNotSorted,
    /// A begin- or end-block hook failed; the block changes nothing.
    #[error("a hook failed: {0}")]
    Hook(#[from] HookError),
}

/// The chain id lives in the state, like every module's parameters (`params::PARAMS_KEYS`), so
/// they are committed to by the root and a restored ledger needs nothing but its entries.
const CHAIN_ID_KEY: &[u8] = b"ledger/chain_id";

/// Why [`Ledger::restore`] refuses stored entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// A required entry (named) is missing.
    #[error("the stored state has no {0}")]
    Missing(&'static str),
    /// A stored entry does not decode.
    #[error("the stored {what} do not decode: {reason}")]
    Corrupt {
        /// Which entry.
        what: &'static str,
        /// The decoder's reason.
        reason: String,
    },
    /// The entries do not hash to the root the last applied block committed to.
    #[error("the stored state's root {actual} is not the expected {expected}")]
    RootMismatch {
        /// The root the caller expects.
        expected: Hash,
        /// The root of the entries given.
        actual: Hash,
    },
}

/// The ledger state and the last block it applied.
#[derive(Clone, Debug)]
pub struct Ledger {
    store: Store,
    chain_id: String,
    params: Params,
    height: Height,
    timestamp_ms: u64,
    state_root: Hash,
    /// Active models loaded from their registered files, shared by clones (not state: a pure
    /// function of it).
    models: models::ModelCache,
}

impl Ledger {
    /// The state at height 0, for a genesis without models.
    pub fn from_genesis(genesis: &Genesis) -> Result<Ledger, GenesisError> {
        Ledger::from_genesis_with_files(genesis, &std::collections::BTreeMap::new())
    }

    /// The state at height 0; `model_files` holds the genesis models' files by chunks root.
    pub fn from_genesis_with_files(
        genesis: &Genesis,
        model_files: &std::collections::BTreeMap<Hash, Vec<u8>>,
    ) -> Result<Ledger, GenesisError> {
        if genesis.chain_id.is_empty() || genesis.chain_id.len() > tx::CHAIN_ID_BYTES_MAX {
            return Err(GenesisError::ChainId);
        }
        genesis.params.validate()?;
        let params = genesis.params.clone();
        let mut store = Store::new();
        genesis::fund_accounts(&mut store, genesis)?;
        genesis::register_operators(&mut store, &params, genesis)?;
        genesis::make_delegations(&mut store, genesis)?;
        let models = models::ModelCache::default();
        genesis::register_models(&mut store, &params, &models, genesis, model_files)?;
        genesis::make_allocations(&mut store, &params, genesis)?;
        if staking::genesis_active_set(&mut store, &params).is_empty() {
            return Err(GenesisError::NoValidators);
        }
        params.store(&mut store);
        store.put(CHAIN_ID_KEY.to_vec(), &genesis.chain_id);
        store.take_block_events();
        let (state_root, _) = store.commit_block();
        Ok(Ledger {
            store,
            chain_id: genesis.chain_id.clone(),
            params,
            height: Height::new(0),
            timestamp_ms: genesis.genesis_time_ms,
            state_root,
            models,
        })
    }

    /// Rebuild a ledger from its committed entries (as persisted from `BlockOutcome::changes`),
    /// the height and time of the last applied block, and the root that block committed to.
    /// Refuses state that does not hash to `expected_root`.
    pub fn restore(
        entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
        height: Height,
        timestamp_ms: u64,
        expected_root: Hash,
    ) -> Result<Ledger, RestoreError> {
        let mut store = Store::new();
        for (key, value) in entries {
            store.put_raw(key, value);
        }
        let (state_root, _) = store.commit_block();
        if state_root != expected_root {
            return Err(RestoreError::RootMismatch {
                expected: expected_root,
                actual: state_root,
            });
        }
        let params = Params::load(&store).map_err(|missing| RestoreError::Missing(missing.key))?;
        let chain_id: String = store
            .try_get(CHAIN_ID_KEY)
            .ok_or(RestoreError::Missing("chain id"))?;
        Ok(Ledger {
            store,
            chain_id,
            params,
            height,
            timestamp_ms,
            state_root,
            models: models::ModelCache::default(),
        })
    }

    /// Last applied block's consensus time.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The chain's id, which every transaction and vote signs.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Every module's parameters, as stored in the state.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The height of the last applied block (0 at genesis).
    pub fn height(&self) -> Height {
        self.height
    }

    /// The state root after the last applied block.
    pub fn state_root(&self) -> Hash {
        self.state_root
    }

    /// Read access to the committed state, for queries.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Write access to the state between blocks: only for the ledger's own tests, which break
    /// it on purpose (feature `test-support`); the next block's root covers what they wrote.
    #[cfg(feature = "test-support")]
    #[doc(hidden)]
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The context the next block must carry, bar time, proposer, seed and signatures.
    pub fn next_context(
        &self,
        timestamp_ms: u64,
        proposer: OperatorId,
        seed: Hash,
    ) -> BlockContext {
        let height = self.height.next();
        BlockContext {
            height,
            epoch: self.params.epoch_of(height),
            timestamp_ms,
            proposer,
            seed,
            absent_validators: None,
            off_schedule: false,
        }
    }

    /// Mempool admission: shape and signature, no state.
    pub fn check_stateless(&self, bytes: &[u8]) -> Result<Transaction, TxError> {
        tx::check_stateless(bytes, &self.chain_id)
    }

    /// Block validity's fee rule (docs/node.md "Block validity"): every transaction of `txs`,
    /// in block order, decodes with a valid shape and would be charged its fee and nonce, on the
    /// committed state as the earlier transactions' charges leave it. Messages are not executed:
    /// only fees and nonces are debited, and what a message would credit a sender is ignored,
    /// so a block passing here never carries a transaction that is refused before its fee is
    /// taken (but one whose own earlier message drains its sender still may). Read-only and a
    /// pure function of the state and `txs`, so every validator decides the same. The error
    /// names the first offending transaction's index and why (signatures are checked when the
    /// block is applied, not here).
    pub fn check_fees_payable<T: AsRef<[u8]>>(&self, txs: &[T]) -> Result<(), (usize, TxError)> {
        let min_fee = self.params.bank.min_tx_fee;
        let mut accounts: std::collections::BTreeMap<AccountId, bank::Account> =
            std::collections::BTreeMap::new();
        for (index, bytes) in txs.iter().enumerate() {
            let tx = tx::decode_and_check_shape(bytes.as_ref(), &self.chain_id)
                .map_err(|error| (index, error))?;
            let signer = tx.tx.signer;
            let account = accounts
                .entry(signer)
                .or_insert_with(|| bank::state::account(&self.store, &signer));
            *account = bank::fee_charged(account, tx.tx.nonce, tx.tx.fee, min_fee)
                .map_err(|error| (index, TxError::from(error)))?;
        }
        Ok(())
    }

    /// Would `apply_block` accept a block with this context and this many transactions? (It
    /// accepts any transaction bytes: bad ones become failed receipts.)
    pub fn check_context(&self, ctx: &BlockContext, tx_count: usize) -> Result<(), BlockError> {
        let expected = self.height.next();
        if ctx.height != expected {
            return Err(BlockError::WrongHeight {
                expected,
                got: ctx.height,
            });
        }
        let epoch = self.params.epoch_of(ctx.height);
        if ctx.epoch != epoch {
            return Err(BlockError::WrongEpoch {
                height: ctx.height,
                expected: epoch,
                got: ctx.epoch,
            });
        }
        if ctx.timestamp_ms < self.timestamp_ms {
            return Err(BlockError::TimeWentBack {
                previous: self.timestamp_ms,
                got: ctx.timestamp_ms,
            });
        }
        if tx_count > tx::BLOCK_TXS_MAX {
            return Err(BlockError::TooManyTxs {
                count: tx_count,
                limit: tx::BLOCK_TXS_MAX,
            });
        }
        if let Some(absent) = &ctx.absent_validators {
            if absent.windows(2).any(|w| w[0] >= w[1]) {
                return Err(BlockError::AbsentNotSorted);
            }
        }
        Ok(())
    }

    /// Apply one block. On `Err` nothing has changed; on `Ok` the block is committed.
    pub fn apply_block<T: AsRef<[u8]>>(
        &mut self,
        ctx: &BlockContext,
        txs: &[T],
    ) -> Result<BlockOutcome, BlockError> {
        self.check_context(ctx, txs.len())?;
        let set_before = staking::state::active_set(&self.store);
        let decoded: Vec<Result<Transaction, TxError>> = txs
            .iter()
            .map(|bytes| tx::decode_and_check_shape(bytes.as_ref(), &self.chain_id))
            .collect();
        let signatures_ok = verify_signatures(&decoded, ctx);
        let mut receipts = Vec::with_capacity(txs.len());
        let result = (|| {
            // A block off its height's schedule stretches the windows open in it: counted
            // before the hooks, so a claim window due to open with this block's seed (a later
            // round's proposer chose it) opens a block later instead.
            if ctx.off_schedule {
                congestion::note_off_schedule(&mut self.store, ctx.height);
            }
            hooks::begin_block(&mut self.store, &self.params, ctx, &self.models)?;
            let (mut paid_count, mut paid_bytes) = (0usize, 0usize);
            for (index, (bytes, decoded)) in txs.iter().zip(decoded).enumerate() {
                let receipt = self.apply_tx(ctx, bytes.as_ref(), decoded, signatures_ok[index]);
                // Only transactions that paid their fee fill a block: junk a proposer adds
                // for free must not stretch anyone's deadline.
                if receipt.charged {
                    paid_count = paid_count.saturating_add(1);
                    paid_bytes = paid_bytes.saturating_add(bytes.as_ref().len());
                }
                receipts.push(receipt);
            }
            // Counted once: a full block off its schedule was counted above.
            if tx::block_is_full(paid_count, paid_bytes) && !ctx.off_schedule {
                congestion::note_slack(&mut self.store, ctx.height);
            }
            hooks::end_block(&mut self.store, &self.params, ctx, &self.models)
        })();
        if let Err(error) = result {
            self.store.discard_block();
            return Err(error.into());
        }
        let set_after = staking::state::active_set(&self.store);
        let validator_set = (set_after != set_before).then(|| {
            self.store.emit(staking::StakingEvent::ValidatorSetChanged {
                validators: u32::try_from(set_after.len()).unwrap_or(u32::MAX),
            });
            set_after
        });
        let events = self.store.take_block_events();
        let (state_root, changes) = self.store.commit_block();
        self.height = ctx.height;
        self.timestamp_ms = ctx.timestamp_ms;
        self.state_root = state_root;
        Ok(BlockOutcome {
            height: ctx.height,
            receipts,
            events,
            state_root,
            validator_set,
            changes,
        })
    }

    /// One transaction's receipt. Only a transaction that reached execution can have been
    /// charged: a shape error of any module, found while decoding, charges nothing.
    fn apply_tx(
        &mut self,
        ctx: &BlockContext,
        bytes: &[u8],
        decoded: Result<Transaction, TxError>,
        signature_ok: bool,
    ) -> Receipt {
        let tx_hash = match &decoded {
            Ok(tx) => tx.hash(),
            Err(_) => Hash::of("surety.tx-hash.undecodable", bytes),
        };
        let mut executed = false;
        let outcome = decoded.and_then(|tx| {
            if !signature_ok {
                return Err(TxError::BadSignature);
            }
            executed = true;
            self.execute(ctx, &tx, &tx_hash)
        });
        match outcome {
            Ok(events) => Receipt {
                tx_hash,
                error: None,
                error_kind: None,
                charged: true,
                events,
            },
            Err(error) => Receipt {
                tx_hash,
                error: Some(error.to_string()),
                charged: executed && error.charged(),
                error_kind: Some(error),
                events: Vec::new(),
            },
        }
    }

    /// Nonce and fee, then the message in a layer of its own.
    fn execute(
        &mut self,
        ctx: &BlockContext,
        tx: &Transaction,
        tx_hash: &Hash,
    ) -> Result<Vec<Event>, TxError> {
        let signer = tx.tx.signer;
        bank::charge_fee(
            &mut self.store,
            &signer,
            tx.tx.nonce,
            tx.tx.fee,
            self.params.bank.min_tx_fee,
        )?;
        self.store.begin_tx();
        let result = self.dispatch(ctx, &signer, tx.tx.fee, &tx.tx.msg, tx_hash);
        match result {
            Ok(()) => {
                let mut events = self.store.commit_tx();
                events.insert(
                    0,
                    Event::Bank(bank::BankEvent::FeePaid {
                        payer: signer,
                        amount: tx.tx.fee,
                    }),
                );
                Ok(events)
            }
            Err(error) => {
                self.store.discard_tx();
                Err(error)
            }
        }
    }

    fn dispatch(
        &mut self,
        ctx: &BlockContext,
        signer: &AccountId,
        fee: Amount,
        msg: &Msg,
        tx_hash: &Hash,
    ) -> Result<(), TxError> {
        let store = &mut self.store;
        let params = &self.params;
        let chain_id = self.chain_id.as_str();
        let cache = &self.models;
        match msg {
            Msg::Transfer(m) => bank::execute_transfer(store, signer, m)?,
            Msg::RegisterOperator(m) => {
                staking::execute_register(store, params, chain_id, ctx.epoch, signer, m)?
            }
            Msg::EditOperator(m) => staking::execute_edit(store, ctx, chain_id, signer, m)?,
            Msg::Delegate(m) => staking::execute_delegate(store, signer, m)?,
            Msg::Undelegate(m) => staking::execute_undelegate(store, params, ctx, signer, m)?,
            Msg::Redelegate(m) => staking::execute_redelegate(store, params, ctx, signer, m)?,
            Msg::WithdrawUnbonded => staking::execute_withdraw(store, ctx, signer)?,
            Msg::ClaimRewards(m) => rewards::execute_claim(store, signer, m)?,
            Msg::Unjail => staking::execute_unjail(store, params, ctx, signer)?,
            Msg::SubmitEvidence(evidence) => match evidence.as_ref() {
                slashing::Evidence::DoubleSign { first, second } => slashing::execute_double_sign(
                    store, params, ctx, chain_id, signer, first, second,
                )?,
                slashing::Evidence::ResultEquivocation { first, second } => {
                    jobs::execute_result_equivocation(
                        store, params, ctx, chain_id, signer, first, second,
                    )?
                }
            },
            Msg::RegisterModel(m) => models::execute_register(store, params, ctx, signer, m)?,
            Msg::UploadModelChunk(m) => {
                models::execute_upload(store, params, ctx, cache, signer, m)?
            }
            Msg::Allocate(m) => services::execute_allocate(store, params, signer, m)?,
            Msg::Deallocate(m) => services::execute_deallocate(store, params, ctx, signer, m)?,
            Msg::SubmitJob(m) => {
                jobs::execute_submit(store, params, ctx, cache, signer, tx_hash, m)?
            }
            Msg::SealResults(m) => jobs::execute_seal(store, params, ctx, signer, m)?,
            Msg::RevealResults(m) => jobs::execute_reveal(store, params, ctx, signer, m)?,
            Msg::ClaimAudits(m) => jobs::execute_claim(store, params, ctx, chain_id, signer, m)?,
            Msg::Challenge(m) => jobs::execute_challenge(store, params, ctx, signer, m)?,
            // The fee counts in the party's dispute costs (loser pays).
            Msg::RevealStep(m) => disputes::execute_reveal(store, params, ctx, signer, fee, m)?,
            Msg::ProvideStepInput(m) => {
                jobs::execute_provide_input(store, params, ctx, cache, signer, fee, m)?
            }
        }
        Ok(())
    }

    /// Report an offence found by another part of the ledger (jobs, disputes) or, in tests, by
    /// the harness. Not reachable by a transaction: the evidence that proves these kinds is
    /// checked by the module that reports them. The writes join the next applied block.
    pub fn report_offence(
        &mut self,
        ctx: &BlockContext,
        offence: slashing::Offence,
    ) -> Result<(), slashing::SlashingError> {
        slashing::report(&mut self.store, &self.params, ctx, offence)
    }

    /// Check every module's invariants against the committed state. Tests and simulations call
    /// this after every block.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        hooks::check_invariants(&self.store)?;
        disputes::invariants::check_due(&self.store, self.height).map_err(|message| {
            InvariantError {
                module: "disputes",
                message,
            }
        })
    }

    /// The loaded model for an active registered model (loaded from its registered files on
    /// first use, then cached).
    pub fn model(
        &self,
        id: &ModelId,
    ) -> Result<std::sync::Arc<surety_infer::Model>, models::ModelsError> {
        models::loaded(&self.store, &self.models, id)
    }

    /// Inclusion (or exclusion) proof for a state key against the current root.
    pub fn prove(&mut self, key: &[u8]) -> (Option<Vec<u8>>, smt::StateProof) {
        self.store.prove(key)
    }
}

/// Check all well-formed transactions' signatures in one batch; if the batch fails, find the
/// bad ones singly. Returns, per transaction, whether its signature is valid. The batch takes
/// the signers' key bytes as they are (it decompresses each distinct key once itself); only
/// the rare failing batch pays for decompressing keys one by one.
fn verify_signatures(decoded: &[Result<Transaction, TxError>], ctx: &BlockContext) -> Vec<bool> {
    let sign_bytes: Vec<Option<Vec<u8>>> = decoded
        .iter()
        .map(|tx| tx.as_ref().ok().map(|tx| tx.tx.sign_bytes()))
        .collect();
    let mut batch = BatchVerifier::new();
    for (tx, bytes) in decoded.iter().zip(&sign_bytes) {
        if let (Ok(tx), Some(bytes)) = (tx, bytes) {
            batch.queue_key_bytes(tx.tx.signer.0, &tx.signature, bytes);
        }
    }
    // The batch coefficients only need to be unknown to whoever signed: derive them from the
    // block (its context and every signature in it).
    let mut seed_input = surety_types::encoding::encode(ctx);
    for tx in decoded.iter().flatten() {
        seed_input.extend_from_slice(&tx.signature.0);
    }
    let seed = Hash::of("surety.batch-verify.seed", &seed_input).0;
    if batch.verify_all(seed) {
        return decoded.iter().map(Result::is_ok).collect();
    }
    decoded
        .iter()
        .zip(&sign_bytes)
        .map(|(tx, bytes)| match (tx, bytes) {
            (Ok(tx), Some(bytes)) => tx
                .tx
                .signer
                .verification_key()
                .is_ok_and(|key| key.verify(&tx.signature, bytes).is_ok()),
            _ => false,
        })
        .collect()
}
