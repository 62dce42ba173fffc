//! A test chain: deterministic keys, a genesis, and helpers to sign, submit and advance.

use surety_ledger::genesis::{Genesis, GenesisAccount, GenesisOperator};
use surety_ledger::params::{Params, RewardsParams, StakingParams};
use surety_ledger::slashing::{Offence, SlashingError};
use surety_ledger::staking::OperatorMetadata;
use surety_ledger::tx::Msg;
use surety_ledger::{bank, staking, BlockContext, BlockOutcome, Ledger, Receipt};
use surety_types::tx::Tx;
use surety_types::vote::{ConsensusVote, SignedVote, VoteKind};
use surety_types::{AccountId, Amount, Epoch, Hash, Height, OperatorId, Ratio, SigningKey};

pub(crate) const CHAIN: &str = "surety-test";

pub(crate) fn key(n: u16) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..2].copy_from_slice(&n.to_le_bytes());
    seed[31] = 0xa5;
    SigningKey::from_seed(seed)
}

/// Consensus keys are distinct from account keys.
pub(crate) fn consensus_key(n: u16) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..2].copy_from_slice(&n.to_le_bytes());
    seed[31] = 0xc0;
    SigningKey::from_seed(seed)
}

pub(crate) fn account(n: u16) -> AccountId {
    AccountId::from_key(&key(n).verification_key())
}

pub(crate) fn operator(n: u16) -> OperatorId {
    OperatorId::from(account(n))
}

/// Small, fast parameters: 6-block epochs, no inflation (so figures are exact), fee 10.
pub(crate) fn test_params() -> Params {
    let mut params = Params {
        staking: StakingParams {
            epoch_blocks: 6,
            max_validators: 10,
            unbonding_epochs: 10,
            min_self_bond: Amount::new(1_000),
        },
        rewards: RewardsParams {
            inflation_per_year: Ratio::ZERO,
            blocks_per_year: 1_000,
        },
        ..Params::default()
    };
    params.bank.min_tx_fee = Amount::new(10);
    params.slashing.slash_delay_epochs = 4;
    params.slashing.window_epochs = 2;
    params.slashing.evidence_max_age_epochs = 3;
    params.slashing.jail_epochs = 1;
    params.slashing.downtime_window_blocks = 10;
    params.slashing.downtime_min_signed = Ratio::from_percent(50).unwrap();
    // Claim windows (a block's seed delay, then two blocks of claims, each at most doubled: 6)
    // within the 6-block epochs; two, so that one is left past a block of latency
    // (`LATENCY_BLOCKS`). A short window of colluding proposers is easy to wait for at any
    // collusion: these tests assume none (`collusion_fraction` 0), so the audit rule holds (the
    // defaults' 12-block window is what covers 20%).
    params.jobs.audit_claim_blocks = 2;
    params.jobs.audit_seed_delay = 1;
    params.jobs.collusion_fraction = Ratio::ZERO;
    params.validate().expect("test params are valid");
    params
}

pub(crate) struct Chain {
    pub(crate) ledger: Ledger,
    pub(crate) time_ms: u64,
    /// The next block's absent validators (sorted), consumed by the next block.
    pub(crate) absent: Option<Vec<OperatorId>>,
    /// Blocks are built off their height's schedule (a later round's proposer decided them)
    /// while this is set.
    pub(crate) off_schedule: bool,
}

/// `accounts`: (key index, balance). `operators`: (key index, self-bond); each operator's
/// account must be funded by `accounts`.
pub(crate) fn genesis(
    params: Params,
    accounts: &[(u16, u128)],
    operators: &[(u16, u128)],
) -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 1_000,
        params,
        accounts: accounts
            .iter()
            .map(|&(n, balance)| GenesisAccount {
                account: account(n),
                balance: Amount::new(balance),
            })
            .collect(),
        operators: operators
            .iter()
            .map(|&(n, bond)| GenesisOperator {
                account: account(n),
                consensus_key: consensus_key(n).verification_key(),
                commission: Ratio::from_percent(10).unwrap(),
                max_commission_change: Ratio::from_percent(5).unwrap(),
                metadata: OperatorMetadata {
                    moniker: format!("operator-{n}"),
                    ..Default::default()
                },
                self_bond: Amount::new(bond),
            })
            .collect(),
        delegations: vec![],
        models: vec![],
        allocations: Vec::new(),
    }
}

impl Chain {
    pub(crate) fn new(
        params: Params,
        accounts: &[(u16, u128)],
        operators: &[(u16, u128)],
    ) -> Chain {
        Chain::from_genesis(&genesis(params, accounts, operators))
    }

    pub(crate) fn from_genesis(genesis: &Genesis) -> Chain {
        let ledger = Ledger::from_genesis(genesis).expect("valid genesis");
        ledger.check_invariants().expect("genesis invariants");
        Chain {
            ledger,
            time_ms: genesis.genesis_time_ms,
            absent: None,
            off_schedule: false,
        }
    }

    pub(crate) fn nonce(&self, n: u16) -> u64 {
        bank::state::account(self.ledger.store(), &account(n)).nonce
    }

    pub(crate) fn balance(&self, n: u16) -> Amount {
        bank::balance(self.ledger.store(), &account(n))
    }

    pub(crate) fn pool(&self, pool: bank::Pool) -> Amount {
        bank::pool_balance(self.ledger.store(), pool)
    }

    pub(crate) fn operator(&self, n: u16) -> staking::Operator {
        staking::state::operator(self.ledger.store(), &operator(n)).expect("operator exists")
    }

    pub(crate) fn shares(&self, delegator: u16, operator_index: u16) -> surety_types::Shares {
        staking::state::delegation(
            self.ledger.store(),
            &operator(operator_index),
            &account(delegator),
        )
        .shares
    }

    pub(crate) fn active_set(&self) -> Vec<OperatorId> {
        staking::state::active_set(self.ledger.store())
            .into_iter()
            .map(|v| v.operator)
            .collect()
    }

    pub(crate) fn sign_with_nonce(&self, n: u16, nonce: u64, msg: Msg) -> Vec<u8> {
        let tx = Tx {
            chain_id: CHAIN.into(),
            signer: account(n),
            nonce,
            fee: Amount::new(10),
            msg,
        };
        surety_types::encoding::encode(&tx.sign(&key(n)))
    }

    pub(crate) fn sign(&self, n: u16, msg: Msg) -> Vec<u8> {
        self.sign_with_nonce(n, self.nonce(n), msg)
    }

    pub(crate) fn context(&mut self) -> BlockContext {
        self.time_ms += 1_000;
        let mut ctx = self.ledger.next_context(
            self.time_ms,
            operator(0),
            Hash::of("seed", &self.time_ms.to_le_bytes()),
        );
        ctx.absent_validators = self.absent.take();
        ctx.off_schedule = self.off_schedule;
        ctx
    }

    /// Report an offence as the jobs and disputes modules will: in the context of the next
    /// block, whose application then commits it.
    pub(crate) fn report(&mut self, offence: Offence) -> Result<(), SlashingError> {
        let ctx = self
            .ledger
            .next_context(self.time_ms + 1, operator(0), Hash::ZERO);
        self.ledger.report_offence(&ctx, offence)
    }

    pub(crate) fn block(&mut self, txs: &[Vec<u8>]) -> BlockOutcome {
        let outcome = self.block_allowing_failed_items(txs);
        // A hook failure is dropped and reported so the chain goes on; in tests it is a bug.
        let failed: Vec<_> = outcome
            .events
            .iter()
            .filter(|e| matches!(e, surety_ledger::Event::Hook(_)))
            .collect();
        assert!(
            failed.is_empty(),
            "hook failed at block {}: {failed:?}",
            self.ledger.height()
        );
        outcome
    }

    /// A block whose hooks may drop and report failed items (for tests that break state on
    /// purpose), every invariant still checked after it.
    pub(crate) fn block_allowing_failed_items(&mut self, txs: &[Vec<u8>]) -> BlockOutcome {
        let ctx = self.context();
        let outcome = self.ledger.apply_block(&ctx, txs).expect("block applies");
        if let Err(broken) = self.ledger.check_invariants() {
            panic!("invariant broken after block {}: {broken}", ctx.height);
        }
        outcome
    }

    /// Submit one transaction in a block of its own and return its receipt.
    pub(crate) fn submit(&mut self, n: u16, msg: Msg) -> Receipt {
        let tx = self.sign(n, msg);
        self.block(&[tx]).receipts.remove(0)
    }

    pub(crate) fn submit_ok(&mut self, n: u16, msg: Msg) -> Receipt {
        let receipt = self.submit(n, msg.clone());
        assert!(receipt.is_ok(), "{msg:?} failed: {:?}", receipt.error);
        receipt
    }

    pub(crate) fn epoch(&self) -> Epoch {
        self.ledger.params().epoch_of(self.ledger.height())
    }

    /// Run empty blocks until the first block of `epoch` has been applied.
    pub(crate) fn run_to_epoch(&mut self, epoch: u64) {
        while self.epoch() < Epoch::new(epoch) {
            self.block(&[]);
        }
    }

    pub(crate) fn run_blocks(&mut self, count: u64) {
        for _ in 0..count {
            self.block(&[]);
        }
    }

    pub(crate) fn height(&self) -> Height {
        self.ledger.height()
    }

    /// Two conflicting precommits signed by operator `n`'s consensus key at `height`.
    pub(crate) fn double_sign(&self, n: u16, height: Height) -> (SignedVote, SignedVote) {
        let vote = |value: u8| {
            ConsensusVote {
                chain_id: CHAIN.into(),
                height,
                round: 0,
                kind: VoteKind::Precommit,
                value: Some(Hash([value; 32])),
                valid_round: None,
                validator: consensus_key(n).verification_key(),
            }
            .sign(&consensus_key(n))
        };
        (vote(1), vote(2))
    }
}
