//! Throughput of [`Ledger::apply_block`] on one core: signed transfers, signed delegations, and
//! the cost of a reward claim as the operator's delegator population grows (it must stay flat:
//! DESIGN §3, claims are O(1)).
//!
//! Everything a validator does with a block's bytes is inside the timed region: decoding, the
//! batch signature check, execution, end-of-block hooks and the state-root commit. Key
//! generation, genesis and signing are setup and are not timed. The benchmark prints figures and
//! asserts only that every transaction succeeded (timing a block of failures measures nothing).
//!
//! Run with `cargo bench -p surety-ledger --bench ledger` (bench profile: optimised).

// This is a benchmark, not ledger code: it needs the wall clock the crate's clippy.toml forbids.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::time::{Duration, Instant};
use surety_ledger::bank::{self, Transfer};
use surety_ledger::genesis::{Genesis, GenesisAccount, GenesisDelegation, GenesisOperator};
use surety_ledger::params::Params;
use surety_ledger::rewards::{self, ClaimRewards};
use surety_ledger::staking::{self, Delegate, OperatorMetadata};
use surety_ledger::store::Store;
use surety_ledger::tx::{self, Msg};
use surety_ledger::{BlockOutcome, Event, Ledger};
use surety_types::crypto::BatchVerifier;
use surety_types::encoding::encode;
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, Hash, OperatorId, Ratio, SigningKey};

const CHAIN: &str = "surety-bench";
const GENESIS_TIME_MS: u64 = 1_700_000_000_000;
const BLOCK_INTERVAL_MS: u64 = 1_000;
/// The throughput this benchmark checks the ledger against (printed, never asserted).
const TARGET_TX_PER_SECOND: f64 = 20_000.0;

const ACCOUNT_COUNT: usize = 10_000;
const OPERATOR_COUNT: usize = 4;
const BLOCK_TXS: usize = 2_000;
/// Blocks applied before timing starts (first-touch allocation, caches).
const WARMUP_BLOCKS: usize = 1;
const TIMED_BLOCKS: usize = 20;

const CLAIM_POPULATIONS: [usize; 4] = [1, 1_000, 10_000, 100_000];
/// Delegators in the state for every claim row, whatever the claimed operator holds.
const CLAIM_STATE_DELEGATORS: usize = 100_000;
const CLAIMS_PER_BLOCK: usize = 500;
/// Empty blocks before the first claim block, so the accumulator has grown.
const ACCRUAL_BLOCKS: usize = 3;
const CLAIM_BLOCKS: usize = 5;

const ACCOUNT_BALANCE: u128 = 1_000_000_000_000_000;
const SELF_BOND: u128 = 1_000_000_000_000;
/// An unstaked holder large enough that each block's inflation pays every delegation something.
const WHALE_BALANCE: u128 = 1_000_000_000_000_000_000;
const DELEGATED: u128 = 1_000_000_000;

/// SplitMix64: a fixed-seed generator, so every run signs the same blocks.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

fn signing_key(tag: u8, index: usize) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    seed[31] = tag;
    SigningKey::from_seed(seed)
}

/// Key holders with the nonce each will sign next.
struct Signers {
    keys: Vec<SigningKey>,
    accounts: Vec<AccountId>,
    nonces: Vec<u64>,
}

impl Signers {
    fn new(tag: u8, count: usize) -> Signers {
        let keys: Vec<SigningKey> = (0..count).map(|i| signing_key(tag, i)).collect();
        let accounts = keys
            .iter()
            .map(|key| AccountId::from_key(&key.verification_key()))
            .collect();
        Signers {
            keys,
            accounts,
            nonces: vec![0; count],
        }
    }

    fn sign(&mut self, index: usize, fee: Amount, msg: Msg) -> Vec<u8> {
        let tx = Tx {
            chain_id: CHAIN.into(),
            signer: self.accounts[index],
            nonce: self.nonces[index],
            fee,
            msg,
        };
        self.nonces[index] += 1;
        encode(&tx.sign(&self.keys[index]))
    }
}

fn operator_key(index: usize) -> SigningKey {
    signing_key(0x0b, index)
}

fn genesis_operator(index: usize) -> GenesisOperator {
    GenesisOperator {
        account: AccountId::from_key(&operator_key(index).verification_key()),
        consensus_key: signing_key(0xc0, index).verification_key(),
        commission: Ratio::from_percent(10).expect("10% is a ratio"),
        max_commission_change: Ratio::from_percent(5).expect("5% is a ratio"),
        metadata: OperatorMetadata {
            moniker: format!("operator-{index}"),
            ..OperatorMetadata::default()
        },
        self_bond: Amount::new(SELF_BOND),
    }
}

fn operator_id(index: usize) -> OperatorId {
    OperatorId::from(AccountId::from_key(&operator_key(index).verification_key()))
}

/// A chain under test: the ledger and the clock of its next block.
struct Chain {
    ledger: Ledger,
    proposer: OperatorId,
}

impl Chain {
    fn new(genesis: &Genesis) -> Chain {
        Chain {
            ledger: Ledger::from_genesis(genesis).expect("benchmark genesis is valid"),
            proposer: operator_id(0),
        }
    }

    /// Apply `txs` as the next block; returns the outcome and the time `apply_block` took.
    fn apply(&mut self, txs: &[Vec<u8>]) -> (BlockOutcome, Duration) {
        let height = self.ledger.height().next();
        let ctx = self.ledger.next_context(
            GENESIS_TIME_MS + height.get() * BLOCK_INTERVAL_MS,
            self.proposer,
            Hash::of("surety.bench.seed", &height.get().to_le_bytes()),
        );
        let start = Instant::now();
        let outcome = self
            .ledger
            .apply_block(&ctx, txs)
            .expect("benchmark block applies");
        let elapsed = start.elapsed();
        for receipt in &outcome.receipts {
            assert!(receipt.is_ok(), "benchmark tx failed: {:?}", receipt.error);
        }
        (outcome, elapsed)
    }
}

fn ten_thousand_accounts() -> (Genesis, Signers) {
    let signers = Signers::new(0xa5, ACCOUNT_COUNT);
    let mut accounts: Vec<GenesisAccount> = signers
        .accounts
        .iter()
        .map(|&account| GenesisAccount {
            account,
            balance: Amount::new(ACCOUNT_BALANCE),
        })
        .collect();
    let operators: Vec<GenesisOperator> = (0..OPERATOR_COUNT).map(genesis_operator).collect();
    accounts.extend(operators.iter().map(|operator| GenesisAccount {
        account: operator.account,
        balance: Amount::new(ACCOUNT_BALANCE),
    }));
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: GENESIS_TIME_MS,
        params: Params::default(),
        accounts,
        operators,
        delegations: Vec::new(),
        models: Vec::new(),
        allocations: Vec::new(),
    };
    (genesis, signers)
}

/// One table row: how long the timed blocks took.
struct Measurement {
    workload: String,
    blocks: Vec<Duration>,
    txs_per_block: usize,
    /// Committed state entries before the first and after the last block.
    state_keys: (usize, usize),
}

impl Measurement {
    fn total_txs(&self) -> usize {
        self.blocks.len() * self.txs_per_block
    }

    fn total(&self) -> Duration {
        self.blocks.iter().sum()
    }

    fn tx_per_second(&self) -> f64 {
        self.total_txs() as f64 / self.total().as_secs_f64()
    }

    fn micros_per_tx(&self) -> f64 {
        self.total().as_secs_f64() * 1e6 / self.total_txs() as f64
    }

    fn median_block_ms(&self) -> f64 {
        let mut sorted = self.blocks.clone();
        sorted.sort();
        sorted[sorted.len() / 2].as_secs_f64() * 1e3
    }

    fn min_block_ms(&self) -> f64 {
        self.blocks
            .iter()
            .min()
            .expect("at least one block")
            .as_secs_f64()
            * 1e3
    }
}

fn print_throughput_table(rows: &[Measurement]) {
    println!(
        "| {:<18} | {:>6} | {:>8} | {:>8} | {:>6} | {:>12} | {:>9} | {:>9} | {:>15} |",
        "workload",
        "blocks",
        "tx/block",
        "tx/s",
        "µs/tx",
        "median block",
        "min block",
        "vs target",
        "state keys"
    );
    println!(
        "|{:-<20}|{:->8}|{:->10}|{:->10}|{:->8}|{:->14}|{:->11}|{:->11}|{:->17}|",
        "", "", "", "", "", "", "", "", ""
    );
    for row in rows {
        println!(
            "| {:<18} | {:>6} | {:>8} | {:>8.0} | {:>6.1} | {:>9.1} ms | {:>6.1} ms | {:>8.2}x | {:>15} |",
            row.workload,
            row.blocks.len(),
            row.txs_per_block,
            row.tx_per_second(),
            row.micros_per_tx(),
            row.median_block_ms(),
            row.min_block_ms(),
            row.tx_per_second() / TARGET_TX_PER_SECOND,
            format!("{} -> {}", row.state_keys.0, row.state_keys.1),
        );
    }
}

/// Pre-sign `WARMUP_BLOCKS + TIMED_BLOCKS` blocks of `BLOCK_TXS` messages from random senders.
fn presign_blocks(
    signers: &mut Signers,
    rng: &mut SplitMix,
    mut msg_for: impl FnMut(&mut SplitMix, usize) -> Msg,
) -> Vec<Vec<Vec<u8>>> {
    let fee = Params::default().bank.min_tx_fee;
    (0..WARMUP_BLOCKS + TIMED_BLOCKS)
        .map(|_| {
            (0..BLOCK_TXS)
                .map(|_| {
                    let sender = rng.below(ACCOUNT_COUNT);
                    let msg = msg_for(rng, sender);
                    signers.sign(sender, fee, msg)
                })
                .collect()
        })
        .collect()
}

fn run_blocks(chain: &mut Chain, blocks: &[Vec<Vec<u8>>], workload: &str) -> Measurement {
    let keys_before = chain.ledger.store().committed_len();
    let mut timed = Vec::with_capacity(TIMED_BLOCKS);
    for (index, block) in blocks.iter().enumerate() {
        let (_, elapsed) = chain.apply(block);
        if index >= WARMUP_BLOCKS {
            timed.push(elapsed);
        }
    }
    Measurement {
        workload: workload.into(),
        blocks: timed,
        txs_per_block: BLOCK_TXS,
        state_keys: (keys_before, chain.ledger.store().committed_len()),
    }
}

fn transfer_blocks(signers: &mut Signers, rng: &mut SplitMix) -> Vec<Vec<Vec<u8>>> {
    let accounts = signers.accounts.clone();
    presign_blocks(signers, rng, |rng, sender| {
        let mut recipient = rng.below(ACCOUNT_COUNT);
        if recipient == sender {
            recipient = (recipient + 1) % ACCOUNT_COUNT;
        }
        Msg::Transfer(Transfer {
            to: accounts[recipient],
            amount: Amount::new(1 + rng.below(1_000) as u128),
        })
    })
}

fn delegation_blocks(signers: &mut Signers, rng: &mut SplitMix) -> Vec<Vec<Vec<u8>>> {
    presign_blocks(signers, rng, |rng, _| {
        Msg::Delegate(Delegate {
            operator: operator_id(rng.below(OPERATOR_COUNT)),
            amount: Amount::new(1_000_000 + rng.below(1_000_000) as u128),
        })
    })
}

/// Where one block's time goes: each step of `apply_block` redone by hand, outside it, on the
/// same transactions and a copy of the same state.
#[derive(Clone, Copy, Default)]
struct Phases {
    txs: usize,
    decode: Duration,
    hash: Duration,
    sign_bytes: Duration,
    decompress: Duration,
    batch_verify: Duration,
    single_verify: Duration,
    execute: Duration,
    end_block: Duration,
    commit: Duration,
    changed_keys: usize,
}

impl Phases {
    /// The phases `apply_block` runs (key decompression and one-by-one verification only run
    /// when a batch fails, and are measured for comparison).
    fn apply_block_sum(&self) -> Duration {
        self.decode
            + self.hash
            + self.sign_bytes
            + self.batch_verify
            + self.execute
            + self.end_block
            + self.commit
    }
}

/// Measure twice and keep the second: the first pass pays for first-touch allocations. Both
/// state copies are made before and dropped after all timing: freeing a large state makes the
/// allocator consolidate its free lists on a later allocation, which would land in a phase.
fn measure_phases(ledger: &Ledger, block: &[Vec<u8>]) -> Phases {
    let copies = [ledger.store().clone(), ledger.store().clone()];
    let [first, second] = copies;
    let (_, first) = measure_phases_once(ledger, block, first);
    let (phases, second) = measure_phases_once(ledger, block, second);
    drop((first, second));
    phases
}

/// Returns the executed store so the caller decides when its memory is freed.
fn measure_phases_once(ledger: &Ledger, block: &[Vec<u8>], mut store: Store) -> (Phases, Store) {
    let mut phases = Phases {
        txs: block.len(),
        ..Phases::default()
    };
    let start = Instant::now();
    let decoded: Vec<tx::Transaction> = block
        .iter()
        .map(|bytes| tx::decode_and_check_shape(bytes, CHAIN).expect("well-formed"))
        .collect();
    phases.decode = start.elapsed();

    let start = Instant::now();
    let hashes: Vec<Hash> = decoded.iter().map(|tx| tx.hash()).collect();
    phases.hash = start.elapsed();
    assert_eq!(hashes.len(), block.len());

    let start = Instant::now();
    let sign_bytes: Vec<Vec<u8>> = decoded.iter().map(|tx| tx.tx.sign_bytes()).collect();
    phases.sign_bytes = start.elapsed();

    let start = Instant::now();
    let keys: Vec<_> = decoded
        .iter()
        .map(|tx| tx.tx.signer.verification_key().expect("valid key"))
        .collect();
    phases.decompress = start.elapsed();

    let start = Instant::now();
    let mut batch = BatchVerifier::new();
    // As `apply_block` does: the batch decompresses each signer's key from its raw bytes once.
    for (tx, bytes) in decoded.iter().zip(&sign_bytes) {
        batch.queue_key_bytes(tx.tx.signer.0, &tx.signature, bytes);
    }
    assert!(batch.verify_all([7; 32]));
    phases.batch_verify = start.elapsed();

    let start = Instant::now();
    for ((tx, key), bytes) in decoded.iter().zip(&keys).zip(&sign_bytes) {
        key.verify(&tx.signature, bytes).expect("valid signature");
    }
    phases.single_verify = start.elapsed();

    // Execution as `Ledger::execute` does it, on a copy of the committed state.
    let params = ledger.params().clone();
    let start = Instant::now();
    for tx in &decoded {
        let signer = tx.tx.signer;
        bank::charge_fee(
            &mut store,
            &signer,
            tx.tx.nonce,
            tx.tx.fee,
            params.bank.min_tx_fee,
        )
        .expect("fee charged");
        store.begin_tx();
        match &tx.tx.msg {
            Msg::Transfer(m) => bank::execute_transfer(&mut store, &signer, m).expect("transfer"),
            Msg::Delegate(m) => staking::execute_delegate(&mut store, &signer, m).expect("bond"),
            Msg::ClaimRewards(m) => rewards::execute_claim(&mut store, &signer, m).expect("claim"),
            other => panic!("no breakdown for {other:?}"),
        }
        store.commit_tx();
    }
    phases.execute = start.elapsed();
    let ctx = ledger.next_context(
        ledger.timestamp_ms() + BLOCK_INTERVAL_MS,
        operator_id(0),
        Hash::ZERO,
    );
    let start = Instant::now();
    rewards::end_block(&mut store, &params, &ctx).expect("rewards end block");
    phases.end_block = start.elapsed();
    store.take_block_events();
    let start = Instant::now();
    let (_, changes) = store.commit_block();
    phases.commit = start.elapsed();
    phases.changed_keys = changes.len();
    (phases, store)
}

/// Reads one phase's time out of a measurement.
type PhaseOf = fn(&Phases) -> Duration;

fn print_phase_table(columns: &[(String, Phases)]) {
    let rows: [(&str, PhaseOf); 10] = [
        ("decode + shape check (borsh)", |p| p.decode),
        ("tx hash (re-encode + blake3)", |p| p.hash),
        ("sign bytes (re-encode)", |p| p.sign_bytes),
        ("  (key decompression, fallback)", |p| p.decompress),
        ("batch signature verify", |p| p.batch_verify),
        ("  (one-by-one verify, not used)", |p| p.single_verify),
        ("execute (fee, nonce, message)", |p| p.execute),
        ("rewards end_block", |p| p.end_block),
        ("commit_block (tree + root)", |p| p.commit),
        ("sum of apply_block's phases", Phases::apply_block_sum),
    ];
    print!("| {:<32} |", "phase, µs per tx");
    for (label, _) in columns {
        print!(" {label:>12} |");
    }
    println!();
    print!("|{:-<34}|", "");
    for _ in columns {
        print!("{:->14}|", "");
    }
    println!();
    for (name, phase) in rows {
        print!("| {name:<32} |");
        for (_, phases) in columns {
            let micros = phase(phases).as_secs_f64() * 1e6 / phases.txs as f64;
            print!(" {micros:>12.2} |");
        }
        println!();
    }
    print!("| {:<32} |", "changed keys per tx");
    for (_, phases) in columns {
        print!(
            " {:>12.2} |",
            phases.changed_keys as f64 / phases.txs as f64
        );
    }
    println!();
}

/// Genesis with `population` delegators of operator 0 and the rest of
/// `CLAIM_STATE_DELEGATORS` on operator 1, each funded and bonded: every row has the same
/// state size, so only the claimed operator's delegator count varies.
fn claim_genesis(population: usize) -> (Genesis, Signers) {
    assert!(population <= CLAIM_STATE_DELEGATORS);
    let signers = Signers::new(0xd1, CLAIM_STATE_DELEGATORS);
    let operator = genesis_operator(0);
    let other_operator = genesis_operator(1);
    let whale = signing_key(0xee, 0).verification_key();
    let mut accounts = vec![
        GenesisAccount {
            account: operator.account,
            balance: Amount::new(ACCOUNT_BALANCE),
        },
        GenesisAccount {
            account: other_operator.account,
            balance: Amount::new(ACCOUNT_BALANCE),
        },
        GenesisAccount {
            account: AccountId::from_key(&whale),
            balance: Amount::new(WHALE_BALANCE),
        },
    ];
    accounts.extend(signers.accounts.iter().map(|&account| GenesisAccount {
        account,
        balance: Amount::new(ACCOUNT_BALANCE),
    }));
    let delegations = signers
        .accounts
        .iter()
        .enumerate()
        .map(|(index, &delegator)| GenesisDelegation {
            delegator,
            operator: operator_id(if index < population { 0 } else { 1 }),
            amount: Amount::new(DELEGATED),
        })
        .collect();
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: GENESIS_TIME_MS,
        params: Params::default(),
        accounts,
        operators: vec![operator, other_operator],
        delegations,
        models: Vec::new(),
        allocations: Vec::new(),
    };
    (genesis, signers)
}

struct ClaimRow {
    population: usize,
    setup: Duration,
    claims_per_block: usize,
    claim_blocks: Vec<Duration>,
    empty_blocks: Vec<Duration>,
    paid_per_claim: u128,
    /// Store entries read and written per claim in the first claim block: the claim's work,
    /// free of cache and timing noise.
    reads_per_claim: f64,
    writes_per_claim: f64,
    /// Phases of the first claim block.
    phases: Phases,
}

fn median(durations: &[Duration]) -> Duration {
    let mut sorted = durations.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn measure_claims(population: usize) -> ClaimRow {
    let setup_start = Instant::now();
    let (genesis, mut signers) = claim_genesis(population);
    let mut chain = Chain::new(&genesis);
    let setup = setup_start.elapsed();
    let fee = Params::default().bank.min_tx_fee;
    let mut empty_blocks = Vec::new();
    for _ in 0..ACCRUAL_BLOCKS {
        let (_, elapsed) = chain.apply(&[]);
        empty_blocks.push(elapsed);
    }
    let mut claim_blocks = Vec::new();
    let mut paid = 0u128;
    let mut paid_claims = 0u128;
    let mut first_block = None;
    let mut work_per_claim = (0.0, 0.0);
    for round in 0..CLAIM_BLOCKS {
        // Distinct claimers per block where the population allows; a lone delegator claims
        // `CLAIMS_PER_BLOCK` times (only its first claim in a block pays anything).
        let block: Vec<Vec<u8>> = (0..CLAIMS_PER_BLOCK)
            .map(|i| {
                let claimer = (round * CLAIMS_PER_BLOCK + i) % population;
                let msg = Msg::ClaimRewards(ClaimRewards {
                    operator: operator_id(0),
                });
                signers.sign(claimer, fee, msg)
            })
            .collect();
        if round == 0 {
            // Measured after the timed blocks, so its allocations cannot disturb them.
            first_block = Some((chain.ledger.clone(), block.clone()));
        }
        let (reads, writes) = (
            chain.ledger.store().access().reads(),
            chain.ledger.store().access().writes(),
        );
        let (outcome, elapsed) = chain.apply(&block);
        if round == 0 {
            let store = chain.ledger.store();
            let claims = block.len() as f64;
            work_per_claim = (
                (store.access().reads() - reads) as f64 / claims,
                (store.access().writes() - writes) as f64 / claims,
            );
        }
        claim_blocks.push(elapsed);
        for receipt in &outcome.receipts {
            for event in &receipt.events {
                if let Event::Staking(surety_ledger::staking::StakingEvent::RewardsPaid {
                    amount,
                    ..
                }) = event
                {
                    paid += amount.get();
                    paid_claims += 1;
                }
            }
        }
        let (_, elapsed) = chain.apply(&[]);
        empty_blocks.push(elapsed);
    }
    assert!(
        paid_claims > 0,
        "claims paid nothing: rewards did not accrue"
    );
    let (state, block) = first_block.expect("at least one claim block");
    let phases = measure_phases(&state, &block);
    ClaimRow {
        population,
        setup,
        claims_per_block: CLAIMS_PER_BLOCK,
        claim_blocks,
        empty_blocks,
        paid_per_claim: paid / paid_claims,
        reads_per_claim: work_per_claim.0,
        writes_per_claim: work_per_claim.1,
        phases,
    }
}

fn print_claim_table(rows: &[ClaimRow]) {
    println!(
        "| {:>10} | {:>8} | {:>12} | {:>8} | {:>16} | {:>11} | {:>14} | {:>11} | {:>12} |",
        "delegators",
        "claimers",
        "median block",
        "µs/claim",
        "state µs/claim *",
        "empty block",
        "paid per claim",
        "reads/claim",
        "writes/claim"
    );
    println!(
        "|{:->12}|{:->10}|{:->14}|{:->10}|{:->18}|{:->13}|{:->16}|{:->13}|{:->14}|",
        "", "", "", "", "", "", "", "", ""
    );
    for row in rows {
        let block = median(&row.claim_blocks);
        let empty = median(&row.empty_blocks);
        let claims = row.claims_per_block as f64;
        let state_work = (row.phases.execute + row.phases.commit).as_secs_f64() * 1e6 / claims;
        println!(
            "| {:>10} | {:>8} | {:>9.2} ms | {:>8.1} | {:>16.1} | {:>8.3} ms | {:>14} | {:>11.2} | {:>12.2} |",
            row.population,
            row.population.min(row.claims_per_block),
            block.as_secs_f64() * 1e3,
            block.as_secs_f64() * 1e6 / claims,
            state_work,
            empty.as_secs_f64() * 1e3,
            row.paid_per_claim,
            row.reads_per_claim,
            row.writes_per_claim,
        );
    }
    println!(
        "  * execute + commit_block only (no decoding or signatures), from the phase breakdown"
    );
    println!(
        "  reads/writes per claim: store entries touched in the first claim block (the work a \
         claim does; its time also varies with memory locality: a small operator's delegation \
         keys sit together in the state, a large one's are spread out)"
    );
    println!(
        "  With 1 delegator its {CLAIMS_PER_BLOCK} claims share one signer (ed25519 batches \
         coalesce a repeated key) and one account, and only the first claim in a block pays: \
         cheaper per claim, not comparable; compare the rows with distinct claimers."
    );
    for row in rows {
        println!(
            "  setup (keys + genesis) for {:>7} delegators: {:>7.2} s (not timed)",
            row.population,
            row.setup.as_secs_f64()
        );
    }
}

fn main() {
    let run_start = Instant::now();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("Surety ledger benchmark: apply_block on one core (the ledger is single-threaded)");
    println!(
        "machine: {cores} logical cores; target: >= {} signed tx/s per core",
        TARGET_TX_PER_SECOND as u64
    );
    println!(
        "timed: decode + batch signature check + execution + end-block hooks + state-root \
         commit; signing is setup"
    );
    println!(
        "{ACCOUNT_COUNT} funded accounts, {OPERATOR_COUNT} operators, blocks of {BLOCK_TXS} txs, \
         {WARMUP_BLOCKS} warm-up + {TIMED_BLOCKS} timed blocks, default params"
    );
    println!();

    let mut rng = SplitMix(0x5eed);
    let (genesis, mut signers) = ten_thousand_accounts();

    let transfers = transfer_blocks(&mut signers, &mut rng);
    let mut chain = Chain::new(&genesis);
    let transfer_state = chain.ledger.clone();
    let transfer_row = run_blocks(&mut chain, &transfers, "signed transfers");

    let mut signers = Signers::new(0xa5, ACCOUNT_COUNT);
    let delegations = delegation_blocks(&mut signers, &mut rng);
    let mut chain = Chain::new(&genesis);
    let delegation_state = chain.ledger.clone();
    let delegation_row = run_blocks(&mut chain, &delegations, "signed delegations");

    print_throughput_table(&[transfer_row, delegation_row]);
    let mut phase_columns = vec![
        (
            "transfers".to_string(),
            measure_phases(&transfer_state, &transfers[0]),
        ),
        (
            "delegations".to_string(),
            measure_phases(&delegation_state, &delegations[0]),
        ),
    ];
    drop((transfer_state, delegation_state));

    println!();
    println!(
        "Claim cost: {CLAIMS_PER_BLOCK} ClaimRewards in one block on an operator with the row's \
         delegator count; {CLAIM_STATE_DELEGATORS} delegators in the state in every row (the rest \
         on a second operator), so state size is constant ({ACCRUAL_BLOCKS} accrual blocks \
         first; median of {CLAIM_BLOCKS} claim blocks)"
    );
    let claim_rows: Vec<ClaimRow> = CLAIM_POPULATIONS
        .iter()
        .map(|&population| measure_claims(population))
        .collect();
    print_claim_table(&claim_rows);
    phase_columns.extend(
        claim_rows
            .iter()
            .map(|row| (format!("claims@{}", row.population), row.phases)),
    );

    println!();
    println!(
        "Phase breakdown: apply_block's steps redone one by one on the first block (transfers, \
         delegations) or the first claim block, each on a copy of the state before that block"
    );
    print_phase_table(&phase_columns);

    println!();
    println!(
        "total benchmark time {:.1} s",
        run_start.elapsed().as_secs_f64()
    );
}
