//! Market benchmark: `cargo bench -p surety-node --bench market` (docs/market.md, *Measured*).
//!
//! Real MiniLM, registered at genesis and served by every operator, on 4 validators in this
//! process on 127.0.0.1 (real libp2p consensus, redb commits, mempool gossip between the
//! nodes' RPC), each validator with its own honest worker. It prints figures; it asserts
//! nothing about time.
//!
//! 1. **Throughput and latency.** Default market parameters (audit rate 8%) except the
//!    windows, sized for a benchmark: `SURETY_BENCH_JOBS` text jobs (10–20 words each) are
//!    signed by several client accounts, each bound to one node, and submitted at once. Jobs
//!    per second from the first submit to the last job final; latency submit → result
//!    committed and submit → final (median, p99).
//! 2. **Verification overhead.** Full-inference equivalents the workers computed (jobs,
//!    audits, dispute re-runs and referee inputs) and the referees' steps, per final job; and
//!    the audit draws (VRFs over sealed jobs) and claims the workers made.
//! 3. **Dispute cost.** A second network, audit rate 100%, with `SURETY_BENCH_DISPUTES` extra
//!    operators whose workers tamper with their outputs (the disputed step is the last) and as
//!    many that compute with another checkpoint (one bias of layer 3 moved: the disputed step
//!    is in the middle): per dispute, the blocks from opened to resolved, the moves and the
//!    bytes of its transactions; then, with the networks stopped, the referee's one step
//!    against one full run of the same input, and the worst step of MiniLM.
//! 4. **Wrong result → frozen stake.** Wall time from a tampered result being committed to its
//!    operator's stake being frozen. Audits are by private sortition: at rate 100% each
//!    operator of the pool outside a job's parties is selected with its share of that pool, so
//!    a job gets no auditor with probability about e^−1, and a faulty operator given one job
//!    may go uncaught (the figure counts those frozen of those given work).
//!
//! The bench starts the validators' workers itself (the same `Worker` and settings that
//! `node::start_with` would start) so that it can read their `Worker::stats()`.
//!
//! Knobs: `SURETY_BENCH_JOBS` (default 600), `SURETY_BENCH_DISPUTES` (3 of each kind),
//! `SURETY_BENCH_BLOCK_MS` (150), `SURETY_BENCH_WINDOW` (challenge window in blocks, 5),
//! `SURETY_BENCH_REPEATS` (timing repeats for the referee, 21), `SURETY_MODELS_DIR`.
//! Beyond about 1,000 jobs in one burst a validator's worker has more commits waiting than
//! the mempool takes from one sender (256): it is refused, and recomputes the job at its next
//! poll, so the run measures that limit rather than the market.

#[path = "../tests/it/support/minilm.rs"]
mod minilm;

use minilm::{models_dir, settled, wait_for, MiniLm, MINILM};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use surety_infer::{Activation, Executor, Model};
use surety_ledger::disputes::{self, Dispute, Phase};
use surety_ledger::genesis::GenesisAccount;
use surety_ledger::jobs::{self, JobInput, JobStatus, SubmitJob};
use surety_ledger::tx::Msg;
use surety_node::localnet::{self, Localnet, LocalnetOptions};
use surety_node::node::{self, load_key, Behaviour, RunningNode};
use surety_node::worker::{Worker, WorkerBehaviour, WorkerConfig, WorkerStats};
use surety_types::encoding::encode;
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, Height, JobId, ModelId, OperatorId, Ratio, SigningKey};

const VALIDATORS: usize = 4;
/// Client accounts submitting jobs in phase 3; phase 1 uses more for large runs, so that no
/// client has more jobs pending than the mempool's per-sender limit.
const CLIENTS: usize = 8;
const JOBS_PER_CLIENT_MAX: usize = 200;
/// Deadlines and dispute moves are long: a loaded 2-core machine must not turn a slow worker
/// into a missed deadline (they only bound the unhappy paths, not the figures measured).
const DEADLINE_BLOCKS: u64 = 200;
const DISPUTE_MOVE_BLOCKS: u64 = 40;
const REVEAL_BLOCKS: u64 = 40;
const POLL: Duration = Duration::from_millis(20);

/// A job with at least one audit: some operator's VRF selected it and its claim landed
/// (private sortition: a job may have none, or several).
fn was_audited(job: &surety_ledger::jobs::Job) -> bool {
    !job.audits.is_empty()
}

const WORDS: [&str; 48] = [
    "stake",
    "secured",
    "verifiable",
    "inference",
    "network",
    "operator",
    "validator",
    "audit",
    "dispute",
    "bisection",
    "trace",
    "root",
    "embedding",
    "sentence",
    "model",
    "weights",
    "token",
    "block",
    "commit",
    "finality",
    "honest",
    "client",
    "result",
    "challenge",
    "window",
    "referee",
    "step",
    "activation",
    "hash",
    "merkle",
    "proof",
    "slash",
    "freeze",
    "bond",
    "reward",
    "fee",
    "escrow",
    "market",
    "service",
    "allocation",
    "epoch",
    "seed",
    "random",
    "draw",
    "deadline",
    "replica",
    "worker",
    "ledger",
];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn key(n: u64) -> SigningKey {
    let mut seed = [9u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    SigningKey::from_seed(seed)
}

fn client_key(i: usize) -> SigningKey {
    key(2_000_000 + i as u64)
}

/// A sentence of 10–20 words, different for every `n`.
fn sentence(n: usize) -> String {
    let mut state = (n as u64).wrapping_mul(6_364_136_223_846_793_005) ^ 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let words = 10 + next() % 11;
    (0..words)
        .map(|_| WORDS[next() % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    percentile(&samples, 0.5)
}

struct Settings {
    jobs: usize,
    disputes: usize,
    block_ms: u64,
    window: u64,
    repeats: usize,
}

impl Settings {
    fn clients(&self) -> usize {
        self.jobs.div_ceil(JOBS_PER_CLIENT_MAX).max(CLIENTS)
    }
}

/// A network's options: MiniLM at genesis, every operator allocating the minimum to it.
fn options(
    minilm: &MiniLm,
    settings: &Settings,
    chain_id: &str,
    ports: (u16, u16),
    extra_operators: usize,
) -> LocalnetOptions {
    let mut options = LocalnetOptions::new(VALIDATORS);
    options.chain_id = chain_id.into();
    options.extra_operators = extra_operators;
    options.p2p_base_port = ports.0;
    // Fixed RPC ports so the nodes gossip their mempools to each other, as a real localnet.
    options.rpc_base_port = ports.1;
    options.params.bank.min_tx_fee = Amount::new(1);
    options.params.jobs.challenge_window_blocks = settings.window;
    options.params.jobs.reveal_blocks = REVEAL_BLOCKS;
    options.params.disputes.dispute_move_blocks = DISPUTE_MOVE_BLOCKS;
    options.timeouts.block_time_ms = settings.block_ms;
    options.timeouts.propose_ms = 1_000;
    options.extra_accounts = (0..settings.clients())
        .map(|i| GenesisAccount {
            account: AccountId::from_key(&client_key(i).verification_key()),
            balance: Amount::new(1_000_000_000_000),
        })
        .collect();
    options.models = vec![minilm.localnet_model()];
    // Fees in flight are capped at 0.5% of the allocation: 500,000,000 holds 2,500 jobs at
    // `job_fee_min`, more than a burst keeps in flight (the minimum allocation holds 12).
    options.service_allocation = Amount::new(500_000_000);
    options
}

struct Network {
    net: Localnet,
    nodes: Vec<RunningNode>,
    /// Every worker's counters: the validators' first, then the extra operators'.
    stats: Vec<Arc<WorkerStats>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    model: ModelId,
}

/// Start the validators, each with its honest worker, and for extra operator `i` a worker with
/// behaviour `extra[i]`, beside validator `i mod 4`.
async fn start(dir: &Path, options: &LocalnetOptions, extra: &[WorkerBehaviour]) -> Network {
    let mut n = 0u64;
    let net = localnet::create(dir, options, || {
        n += 1;
        key(n)
    })
    .unwrap();
    let mut nodes = Vec::new();
    let mut stats = Vec::new();
    let mut workers = Vec::new();
    for config in &net.configs {
        let mut config = config.clone();
        let settings = config.worker.clone();
        config.worker.enabled = false;
        let node = node::start_with(&config, Behaviour::Honest).await.unwrap();
        let account_key = load_key(config.account_key.as_deref().unwrap()).unwrap();
        let worker = Worker::new(
            node.app.clone(),
            account_key,
            WorkerConfig {
                threads: settings.threads,
                poll_ms: settings.poll_ms,
                behaviour: WorkerBehaviour::Honest,
            },
        )
        .unwrap();
        stats.push(worker.stats());
        workers.push(worker);
        nodes.push(node);
    }
    assert_eq!(extra.len(), options.extra_operators);
    for (i, behaviour) in extra.iter().enumerate() {
        let account_key = load_key(&net.keys_dir.join(format!("operator-{i}.json"))).unwrap();
        let worker = Worker::new(
            nodes[i % VALIDATORS].app.clone(),
            account_key,
            WorkerConfig {
                behaviour: behaviour.clone(),
                ..WorkerConfig::default()
            },
        )
        .unwrap();
        stats.push(worker.stats());
        workers.push(worker);
    }
    let workers = workers
        .into_iter()
        .map(|worker| tokio::spawn(worker.run()))
        .collect();
    let model =
        surety_ledger::models::decode_manifest(&net.genesis.models[0].registration.manifest)
            .unwrap()
            .model_id();
    let network = Network {
        net,
        nodes,
        stats,
        workers,
        model,
    };
    wait_for("the first blocks", Duration::from_secs(120), || {
        network.nodes.iter().all(|n| network.height(n) >= 2)
    })
    .await;
    network
}

impl Network {
    fn height(&self, node: &RunningNode) -> u64 {
        node.app.lock().unwrap().ledger().height().get()
    }

    fn extra_operator(&self, i: usize) -> OperatorId {
        let key = load_key(&self.net.keys_dir.join(format!("operator-{i}.json"))).unwrap();
        OperatorId::from(AccountId::from_key(&key.verification_key()))
    }

    /// Sign a `SubmitJob` by `client` with `nonce`, and admit it at the client's node.
    fn submit_job(&self, client: usize, nonce: u64, text: String) -> JobId {
        let key = client_key(client);
        let node = &self.nodes[client % VALIDATORS];
        let mut app = node.app.lock().unwrap();
        let params = app.ledger().params().jobs.clone();
        let tx = Tx {
            chain_id: app.ledger().chain_id().to_string(),
            signer: AccountId::from_key(&key.verification_key()),
            nonce,
            fee: Amount::new(1),
            msg: Msg::SubmitJob(Box::new(SubmitJob {
                model: self.model,
                input: JobInput::Text(text),
                max_fee: params.job_fee_min,
                deadline_blocks: DEADLINE_BLOCKS,
                replicas: 1,
            })),
        };
        let signed = tx.sign(&key);
        let hash = signed.hash();
        app.submit(encode(&signed)).unwrap();
        jobs::job_id(&hash)
    }

    fn totals(&self) -> Runs {
        let sum = |f: fn(&WorkerStats) -> u64| self.stats.iter().map(|s| f(s)).sum::<u64>();
        Runs {
            jobs: sum(|s| s.job_runs.load(Ordering::Relaxed)),
            audits: sum(|s| s.audit_runs.load(Ordering::Relaxed)),
            disputes: sum(|s| s.dispute_runs.load(Ordering::Relaxed)),
            dispute_steps: sum(|s| s.dispute_steps.load(Ordering::Relaxed)),
            draws: sum(|s| s.audit_draws.load(Ordering::Relaxed)),
            claims: sum(|s| s.claims.load(Ordering::Relaxed)),
        }
    }

    async fn stop(self) {
        for worker in &self.workers {
            worker.abort();
        }
        for node in self.nodes {
            node.stop().await;
        }
    }
}

/// What every worker of a network computed (`WorkerStats`, summed).
struct Runs {
    jobs: u64,
    audits: u64,
    disputes: u64,
    /// Program steps run for referees' inputs.
    dispute_steps: u64,
    /// VRFs evaluated over sealed jobs (no inference: a not-selected operator sends nothing).
    draws: u64,
    /// Audits claimed (draws that selected their operator).
    claims: u64,
}

/// What one job went through, seen from the bench.
struct Tracked {
    submitted: Instant,
    result_at: Option<Instant>,
    settled_at: Option<Instant>,
    job: Option<jobs::Job>,
}

/// Phase 1 and 2's figures.
struct Throughput {
    jobs: usize,
    final_jobs: usize,
    failed_jobs: usize,
    seconds: f64,
    to_result: Vec<f64>,
    to_final: Vec<f64>,
    blocks_to_final: Vec<f64>,
    audited: usize,
    runs: Runs,
    steps: u64,
    referee_runs: f64,
    overhead: f64,
    disputes: usize,
    /// One final job's input, for timing steps.
    sample_input: Vec<u8>,
    /// Submit → final, seconds, for jobs without and with an audit.
    final_plain: Vec<f64>,
    final_audited: Vec<f64>,
}

async fn throughput(minilm: &MiniLm, settings: &Settings) -> Throughput {
    let dir = tempfile::tempdir().unwrap();
    let options = options(minilm, settings, "bench-market", (29_300, 29_350), 0);
    let network = start(dir.path(), &options, &[]).await;
    let texts: Vec<String> = (0..settings.jobs).map(sentence).collect();
    // A burst: every job submitted at once, client `c` taking jobs c, c + clients, …
    let clients = settings.clients();
    let mut tracked: BTreeMap<JobId, Tracked> = BTreeMap::new();
    let mut nonces = vec![0u64; clients];
    let first_submit = Instant::now();
    for (n, text) in texts.into_iter().enumerate() {
        let client = n % clients;
        let id = network.submit_job(client, nonces[client], text);
        nonces[client] += 1;
        tracked.insert(
            id,
            Tracked {
                submitted: Instant::now(),
                result_at: None,
                settled_at: None,
                job: None,
            },
        );
    }
    let timeout = Duration::from_secs(180 + settings.jobs as u64);
    loop {
        let now = Instant::now();
        {
            let app = network.nodes[0].app.lock().unwrap();
            let store = app.ledger().store();
            for (id, t) in tracked.iter_mut().filter(|(_, t)| t.settled_at.is_none()) {
                let Some(job) = jobs::state::job(store, id) else {
                    continue;
                };
                if t.result_at.is_none() && job.assignments.iter().any(|a| a.result.is_some()) {
                    t.result_at = Some(now);
                }
                if settled(&job.status) {
                    t.settled_at = Some(now);
                    t.job = Some(job);
                }
            }
        }
        if tracked.values().all(|t| t.settled_at.is_some()) {
            break;
        }
        assert!(
            first_submit.elapsed() < timeout,
            "jobs did not settle in {timeout:?}: {} of {}",
            tracked.values().filter(|t| t.settled_at.is_some()).count(),
            tracked.len()
        );
        tokio::time::sleep(POLL).await;
    }
    let finals: Vec<&Tracked> = tracked
        .values()
        .filter(|t| t.job.as_ref().is_some_and(|j| j.is_final()))
        .collect();
    let last = finals
        .iter()
        .filter_map(|t| t.settled_at)
        .max()
        .unwrap_or(first_submit);
    let seconds = (last - first_submit).as_secs_f64();
    let mut to_result: Vec<f64> = finals
        .iter()
        .filter_map(|t| t.result_at.map(|r| (r - t.submitted).as_secs_f64()))
        .collect();
    let mut to_final: Vec<f64> = finals
        .iter()
        .filter_map(|t| t.settled_at.map(|s| (s - t.submitted).as_secs_f64()))
        .collect();
    let mut blocks_to_final: Vec<f64> = finals
        .iter()
        .filter_map(|t| {
            let job = t.job.as_ref()?;
            match job.status {
                JobStatus::Final { height } => Some((height.get() - job.submitted.get()) as f64),
                _ => None,
            }
        })
        .collect();
    to_result.sort_by(f64::total_cmp);
    to_final.sort_by(f64::total_cmp);
    blocks_to_final.sort_by(f64::total_cmp);
    let audited = finals
        .iter()
        .filter(|t| t.job.as_ref().is_some_and(was_audited))
        .count();
    let steps = minilm.model.program().len() as u64;
    let disputes = {
        let app = network.nodes[0].app.lock().unwrap();
        disputes::state::disputes_from(app.ledger().store(), 0, usize::MAX).len()
    };
    let runs = network.totals();
    // Every validator runs the referee's one step for each dispute.
    let referee_runs = (disputes * VALIDATORS) as f64 / steps as f64;
    let computed = (runs.jobs + runs.audits + runs.disputes) as f64
        + runs.dispute_steps as f64 / steps as f64
        + referee_runs;
    let overhead = computed / finals.len().max(1) as f64;
    let sample_input = finals
        .first()
        .and_then(|t| t.job.as_ref())
        .map(|j| j.input.clone())
        .unwrap_or_default();
    network.stop().await;
    let (mut final_audited, mut final_plain) = (Vec::new(), Vec::new());
    for t in &finals {
        let (Some(job), Some(settled_at)) = (t.job.as_ref(), t.settled_at) else {
            continue;
        };
        let seconds = (settled_at - t.submitted).as_secs_f64();
        if was_audited(job) {
            final_audited.push(seconds);
        } else {
            final_plain.push(seconds);
        }
    }
    final_audited.sort_by(f64::total_cmp);
    final_plain.sort_by(f64::total_cmp);
    Throughput {
        sample_input,
        final_plain,
        final_audited,
        jobs: tracked.len(),
        final_jobs: finals.len(),
        failed_jobs: tracked.len() - finals.len(),
        seconds,
        to_result,
        to_final,
        blocks_to_final,
        audited,
        runs,
        steps,
        referee_runs,
        overhead,
        disputes,
    }
}

/// One resolved dispute over a tampered result.
struct DisputeCost {
    /// How the defendant cheated.
    kind: &'static str,
    dispute: Dispute,
    resolved: u64,
    reveals: usize,
    reveal_bytes: usize,
    uploads: usize,
    upload_bytes: usize,
    job_input: Vec<u8>,
}

/// Phase 3 and 4's figures.
struct Disputes {
    costs: Vec<DisputeCost>,
    /// Seconds from a wrong result committed to its operator frozen, per operator and kind.
    to_frozen: Vec<(&'static str, f64)>,
    faulty: usize,
    caught: usize,
    jobs: usize,
}

const TAMPER: &str = "tampered output";
const OTHER_WEIGHTS: &str = "other weights";

async fn disputes(minilm: &MiniLm, settings: &Settings) -> Disputes {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(
        minilm,
        settings,
        "bench-disputes",
        (29_320, 29_370),
        2 * settings.disputes,
    );
    options.params.jobs.audit_rate = Ratio::ONE;
    // The audit fund stays solvent at that rate (10% of a 1,000 fee in; 94 out a job, and at
    // most 6 drawn by grinding or rerolling partners, `Params::audit_fund_drain`).
    options.params.jobs.audit_reward = Amount::new(94);
    // Extra operators 0..D tamper with their outputs (the last leaf is wrong); D..2D compute
    // with another checkpoint (the trace goes wrong in layer 3).
    let behaviours: Vec<WorkerBehaviour> = (0..2 * settings.disputes)
        .map(|i| {
            if i < settings.disputes {
                WorkerBehaviour::TamperOutput
            } else {
                WorkerBehaviour::OtherWeights(minilm.other.clone())
            }
        })
        .collect();
    let network = start(dir.path(), &options, &behaviours).await;
    let tamperers: Vec<OperatorId> = (0..2 * settings.disputes)
        .map(|i| network.extra_operator(i))
        .collect();
    let kind_of = |operator: &OperatorId| match tamperers.iter().position(|t| t == operator) {
        Some(i) if i < settings.disputes => TAMPER,
        _ => OTHER_WEIGHTS,
    };
    let mut submitted: Vec<JobId> = Vec::new();
    let mut nonces = [0u64; CLIENTS];
    // First tampered result seen committed, and frozen, per operator.
    let mut wrong_at: BTreeMap<OperatorId, Instant> = BTreeMap::new();
    let mut frozen_at: BTreeMap<OperatorId, Instant> = BTreeMap::new();
    let mut given: BTreeMap<OperatorId, usize> = BTreeMap::new();
    let started = Instant::now();
    let timeout = Duration::from_secs(300 + 60 * settings.disputes as u64);
    let mut round = 0usize;
    loop {
        let now = Instant::now();
        let (all_assigned, all_settled, open) = {
            let app = network.nodes[0].app.lock().unwrap();
            let store = app.ledger().store();
            let mut all_assigned = true;
            let mut all_settled = true;
            given.clear();
            for id in &submitted {
                let Some(job) = jobs::state::job(store, id) else {
                    all_assigned = false;
                    all_settled = false;
                    continue;
                };
                all_assigned &= job.status != JobStatus::Queued;
                all_settled &= settled(&job.status);
                for assignment in &job.assignments {
                    if tamperers.contains(&assignment.operator) {
                        *given.entry(assignment.operator).or_default() += 1;
                        if assignment.result.is_some() {
                            wrong_at.entry(assignment.operator).or_insert(now);
                        }
                    }
                }
            }
            for operator in &tamperers {
                let record = surety_ledger::staking::state::operator(store, operator).unwrap();
                if record.is_frozen() {
                    frozen_at.entry(*operator).or_insert(now);
                }
            }
            let open = disputes::state::disputes_from(store, 0, usize::MAX)
                .iter()
                .any(|d| d.is_open());
            (all_assigned, all_settled, open)
        };
        let every_one_given = tamperers.iter().all(|t| given.contains_key(t));
        if every_one_given && all_settled && !open {
            break;
        }
        // Rounds of one job per client until every faulty operator has been given one (jobs
        // go to operators drawn by allocation; a frozen operator is skipped).
        if !every_one_given && all_assigned && round < 50 {
            for (client, nonce) in nonces.iter_mut().enumerate() {
                let text = sentence(1_000_000 + round * CLIENTS + client);
                submitted.push(network.submit_job(client, *nonce, text));
                *nonce += 1;
            }
            round += 1;
        }
        assert!(
            started.elapsed() < timeout,
            "the disputes did not settle in {timeout:?}"
        );
        tokio::time::sleep(POLL).await;
    }
    let to_frozen: Vec<(&'static str, f64)> = tamperers
        .iter()
        .filter_map(|t| {
            let wrong = wrong_at.get(t)?;
            let frozen = frozen_at.get(t)?;
            Some((
                kind_of(t),
                frozen.saturating_duration_since(*wrong).as_secs_f64(),
            ))
        })
        .collect();
    let costs = {
        let app = network.nodes[0].app.lock().unwrap();
        let store = app.ledger().store();
        let chain_id = app.ledger().chain_id().to_string();
        disputes::state::disputes_from(store, 0, usize::MAX)
            .into_iter()
            .filter(|d| tamperers.contains(&d.defendant))
            .filter_map(|dispute| {
                let Phase::Resolved { height, .. } = &dispute.phase else {
                    return None;
                };
                let resolved = height.get();
                let (mut reveals, mut reveal_bytes, mut uploads, mut upload_bytes) = (0, 0, 0, 0);
                for h in dispute.opened.get()..=resolved {
                    let block = app.storage().block(Height::new(h)).unwrap()?;
                    for bytes in &block.txs {
                        let Ok(tx) = surety_ledger::tx::check_stateless(bytes, &chain_id) else {
                            continue;
                        };
                        match &tx.tx.msg {
                            Msg::RevealStep(reveal) if reveal.dispute == dispute.id => {
                                reveals += 1;
                                reveal_bytes += bytes.len();
                            }
                            Msg::ProvideStepInput(input) if input.dispute == dispute.id => {
                                uploads += 1;
                                upload_bytes += bytes.len();
                            }
                            _ => {}
                        }
                    }
                }
                let job_input = jobs::state::job(store, &dispute.job)?.input;
                Some(DisputeCost {
                    kind: kind_of(&dispute.defendant),
                    dispute,
                    resolved,
                    reveals,
                    reveal_bytes,
                    uploads,
                    upload_bytes,
                    job_input,
                })
            })
            .collect()
    };
    let caught = frozen_at.len();
    let jobs = submitted.len();
    network.stop().await;
    Disputes {
        costs,
        to_frozen,
        faulty: tamperers.len(),
        caught,
        jobs,
    }
}

/// Median seconds of `repeats` runs of `f`.
fn time(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..repeats)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// The referee's step on `input` against one full traced run of the same input:
/// (step seconds, run seconds).
fn referee_vs_run(model: &Model, input: &Activation, step: usize, repeats: usize) -> (f64, f64) {
    let executor = Executor::new(1).unwrap();
    let before = if step == 0 {
        input.clone()
    } else {
        model
            .activation_after(&executor, input.clone(), step - 1)
            .unwrap()
    };
    let step_seconds = time(repeats, || {
        surety_infer::execute_step(model, step, &before).unwrap();
    });
    let run_seconds = time(repeats, || {
        model.run(&executor, input.clone()).unwrap();
    });
    (step_seconds, run_seconds)
}

/// The worst step of the model on `input`: (step index, label, step seconds, run seconds).
fn worst_step(model: &Model, input: &Activation, repeats: usize) -> (usize, String, f64, f64) {
    let executor = Executor::new(1).unwrap();
    let run_seconds = time(repeats, || {
        model.run(&executor, input.clone()).unwrap();
    });
    let mut activation = input.clone();
    let mut worst = (0, String::new(), 0.0);
    for index in 0..model.program().len() {
        let seconds = time(repeats, || {
            surety_infer::execute_step(model, index, &activation).unwrap();
        });
        if seconds > worst.2 {
            worst = (index, model.program().steps[index].label(), seconds);
        }
        activation = surety_infer::execute_step(model, index, &activation).unwrap();
    }
    (worst.0, worst.1, worst.2, run_seconds)
}

fn main() {
    // `cargo test --benches` runs this with no --bench flag: stay small there.
    let quick = !std::env::args().any(|a| a == "--bench");
    let folder = models_dir().join(MINILM);
    if !folder.is_dir() {
        println!(
            "market bench skipped: {} is missing (run scripts/fetch-models or set SURETY_MODELS_DIR)",
            folder.display()
        );
        return;
    }
    let settings = Settings {
        jobs: if quick {
            8
        } else {
            env_or("SURETY_BENCH_JOBS", 600)
        },
        disputes: if quick {
            1
        } else {
            env_or("SURETY_BENCH_DISPUTES", 3)
        },
        block_ms: env_or("SURETY_BENCH_BLOCK_MS", 150) as u64,
        window: env_or("SURETY_BENCH_WINDOW", 5) as u64,
        repeats: if quick {
            3
        } else {
            env_or("SURETY_BENCH_REPEATS", 21)
        },
    };
    // Warnings (a transaction a worker could not submit, a missed deadline) go to stderr;
    // `RUST_LOG` overrides.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,arc_malachitebft=off,libp2p=off")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let minilm = MiniLm::load(&folder);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "market bench: MiniLM ({} steps per run), {VALIDATORS} validators in one process on 127.0.0.1, \
         block_time_ms {}, challenge_window_blocks {} (default 20), reveal_blocks {REVEAL_BLOCKS}, \
         dispute_move_blocks {DISPUTE_MOVE_BLOCKS}, job deadline {DEADLINE_BLOCKS} blocks; {} cores",
        minilm.model.program().len(),
        settings.block_ms,
        settings.window,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    let throughput = runtime.block_on(throughput(&minilm, &settings));
    let t = &throughput;
    let jobs_per_second = t.final_jobs as f64 / t.seconds;
    println!(
        "\n1. throughput: {} MiniLM jobs (10-20 words each) submitted at once by {} clients over {VALIDATORS} nodes, \
         audit_rate 8%: {} final, {} failed, first submit -> last final {:.2} s = {jobs_per_second:.2} jobs/s",
        t.jobs, settings.clients(), t.final_jobs, t.failed_jobs, t.seconds,
    );
    println!(
        "   submit -> result committed: median {:.2} s, p99 {:.2} s; submit -> final: median {:.2} s, p99 {:.2} s \
         ({} blocks median: assignment, result, {} window blocks, audit); {} samples",
        percentile(&t.to_result, 0.5),
        percentile(&t.to_result, 0.99),
        percentile(&t.to_final, 0.5),
        percentile(&t.to_final, 0.99),
        percentile(&t.blocks_to_final, 0.5),
        settings.window,
        t.to_final.len(),
    );
    let audit_fraction = t.audited as f64 / t.final_jobs.max(1) as f64;
    println!(
        "\n2. verification overhead: workers ran {} job runs + {} audit runs + {} dispute re-runs + {} referee-input steps \
         ({} steps per run), referees {:.3} runs ({} disputes), for {} final jobs = {:.3} inferences per job \
         (target <= 1.1x at the default audit rate; zkML proving is ~10^3-10^4x native, a literature figure, not measured); \
         observed audit fraction {:.1}% ({} of {}); {} audit draws, {} claims",
        t.runs.jobs,
        t.runs.audits,
        t.runs.disputes,
        t.runs.dispute_steps,
        t.steps,
        t.referee_runs,
        t.disputes,
        t.final_jobs,
        t.overhead,
        audit_fraction * 100.0,
        t.audited,
        t.final_jobs,
        t.runs.draws,
        t.runs.claims,
    );

    let disputes = runtime.block_on(disputes(&minilm, &settings));
    drop(runtime);
    let d = &disputes;
    println!(
        "\n3. disputes: {} faulty operators ({} tamper with the output, {} use another checkpoint), audit_rate 100%, \
         {} jobs submitted; {} disputes over their results",
        d.faulty,
        d.faulty / 2,
        d.faulty / 2,
        d.jobs,
        d.costs.len()
    );
    let model = &minilm.model;
    let mut step_fractions: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for cost in &d.costs {
        let dispute = &cost.dispute;
        let step = dispute.isolated_step().unwrap_or(dispute.disagreed) as usize;
        let input = Activation::from_bytes(&cost.job_input).unwrap();
        let (step_seconds, run_seconds) = referee_vs_run(model, &input, step, settings.repeats);
        step_fractions
            .entry(cost.kind)
            .or_default()
            .push(step_seconds / run_seconds);
        println!(
            "   dispute {} ({}): opened at {} resolved at {} = {} blocks, {} moves; {} reveals ({} bytes) + {} input uploads \
             ({} bytes); isolated step {step} ({}): referee {:.1} µs vs full run {:.2} ms = {:.5} of an inference \
             ({} repeats, medians); {}",
            dispute.id,
            cost.kind,
            dispute.opened.get(),
            cost.resolved,
            cost.resolved - dispute.opened.get(),
            dispute.moves,
            cost.reveals,
            cost.reveal_bytes,
            cost.uploads,
            cost.upload_bytes,
            model.program().steps[step].label(),
            step_seconds * 1e6,
            run_seconds * 1e3,
            step_seconds / run_seconds,
            settings.repeats,
            match &dispute.phase {
                Phase::Resolved { outcome, .. } => format!("{outcome:?}"),
                _ => "open".into(),
            },
        );
    }
    let sample =
        Activation::from_bytes(d.costs.first().map_or(&t.sample_input, |c| &c.job_input)).unwrap();
    let (worst_index, worst_label, worst_seconds, worst_run) =
        worst_step(model, &sample, settings.repeats);
    println!(
        "   worst step of MiniLM on a job input ({} tokens): step {worst_index} ({worst_label}) {:.1} µs vs full run \
         {:.2} ms = {:.4} of an inference (target <= 1/10; {} repeats each, medians)",
        sample
            .slots
            .first()
            .and_then(|(_, tensor)| tensor.shape.first().copied())
            .unwrap_or(0),
        worst_seconds * 1e6,
        worst_run * 1e3,
        worst_seconds / worst_run,
        settings.repeats,
    );
    let mut to_frozen: Vec<f64> = d.to_frozen.iter().map(|(_, s)| *s).collect();
    to_frozen.sort_by(f64::total_cmp);
    println!(
        "\n4. wrong result committed -> stake frozen: median {:.2} s, max {:.2} s over {} operators \
         ({} of {} frozen; target < 30 s); by kind: {:?}",
        percentile(&to_frozen, 0.5),
        to_frozen.last().copied().unwrap_or(f64::NAN),
        to_frozen.len(),
        d.caught,
        d.faulty,
        d.to_frozen
            .iter()
            .map(|(kind, s)| format!("{kind} {s:.2} s"))
            .collect::<Vec<_>>(),
    );

    let rounds = 64 - (t.steps.max(2) - 1).leading_zeros() as u64;
    println!("\n| figure | measured | target / reference | samples |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| jobs/s end to end, MiniLM, 4 validators | {jobs_per_second:.2} | — | {} jobs, burst |",
        t.final_jobs
    );
    println!(
        "| submit → result committed, median / p99 | {:.2} s / {:.2} s | — | {} |",
        percentile(&t.to_result, 0.5),
        percentile(&t.to_result, 0.99),
        t.to_result.len()
    );
    println!(
        "| submit → final, median / p99 | {:.2} s / {:.2} s | window {} blocks × {} ms | {} |",
        percentile(&t.to_final, 0.5),
        percentile(&t.to_final, 0.99),
        settings.window,
        settings.block_ms,
        t.to_final.len()
    );
    println!(
        "| submit → final, median, not audited / audited | {:.2} s / {:.2} s | — | {} / {} |",
        percentile(&t.final_plain, 0.5),
        percentile(&t.final_audited, 0.5),
        t.final_plain.len(),
        t.final_audited.len()
    );
    println!(
        "| verification overhead (inferences per final job) | {:.3}× | ≤ 1.1×; zkML proving ~10³–10⁴× (literature) | {} jobs |",
        t.overhead, t.final_jobs
    );
    println!(
        "| observed audit fraction | {:.1}% | 8% | {} jobs |",
        audit_fraction * 100.0,
        t.final_jobs
    );
    for kind in [TAMPER, OTHER_WEIGHTS] {
        let costs: Vec<&DisputeCost> = d.costs.iter().filter(|c| c.kind == kind).collect();
        let n = costs.len();
        let of = |f: fn(&DisputeCost) -> f64| median(costs.iter().map(|c| f(c)).collect());
        println!(
            "| dispute ({kind}): blocks opened → resolved, median | {:.0} | — | {n} |",
            of(|c| (c.resolved - c.dispute.opened.get()) as f64)
        );
        println!(
            "| dispute ({kind}): moves, median | {:.0} | ≤ 2·⌈log2 {}⌉ = {} | {n} |",
            of(|c| c.dispute.moves as f64),
            t.steps,
            2 * rounds
        );
        println!(
            "| dispute ({kind}): bytes of reveal + input txs, median | {:.0} + {:.0} | — | {n} |",
            of(|c| c.reveal_bytes as f64),
            of(|c| c.upload_bytes as f64),
        );
        println!(
            "| dispute ({kind}): referee step / full run, median | {:.5} (step {:.0}) | ≤ 0.1 | {n} × {} repeats |",
            median(step_fractions.get(kind).cloned().unwrap_or_default()),
            of(|c| c.dispute.disagreed as f64),
            settings.repeats
        );
    }
    println!(
        "| referee step / full run, worst MiniLM step | {:.4} (step {worst_index}) | ≤ 0.1 | {} steps × {} repeats |",
        worst_seconds / worst_run,
        t.steps,
        settings.repeats
    );
    println!(
        "| wrong result → stake frozen, median | {:.2} s | < 30 s | {} operators |",
        percentile(&to_frozen, 0.5),
        to_frozen.len()
    );
}
