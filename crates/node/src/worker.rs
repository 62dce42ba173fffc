//! The operator and auditor worker (DESIGN §5, §7 "Workers"; docs/market.md, "The worker").
//!
//! A node whose config names an account key that is also an operator runs this worker. Every
//! poll it reads, under the app lock and without computing anything there, the work the
//! ledger gave its operator (`jobs/work/<operator>/…`: jobs to compute and jobs to audit) and
//! the open disputes it is a party to. It then, with the lock released:
//! - seals a hiding commitment to each assigned job's signed result once its run is done (all
//!   its seals of a poll in one `SealResults`); once the job's seal phase is over, reveals the
//!   result (output, trace root, proof of the output leaf), all its reveals of a poll in one
//!   `RevealResults`;
//! - for every job of a model it serves whose audit claim window is open (its assignees have
//!   sealed: `jobs::state::open_claims`), evaluates its VRF over the sealed job once, and when
//!   the VRF selects it at its weight in the epoch's audit pool, claims the audit (all its
//!   claims of a poll in one `ClaimAudits`, which must land by the window's last height); a
//!   not-selected operator sends nothing (private sortition, docs/market.md "Audits: private
//!   sortition");
//! - for a job it claimed, once the claim has landed, seals like an assignee once its run is
//!   done, and reveals once the assignees' results are compared;
//! - plays every dispute it is a party to: reveals its leaf at each bisection index, proven
//!   against its own trace, and, once the step is isolated, uploads the activation before it
//!   so the ledger's referee can run the step.
//!
//! A poll never waits for an inference: runs go to the worker's compute thread
//! (`compute`), which works through them while polls keep sending what is ready, so that a
//! job's reveal does not wait behind the worker's backlog of other jobs' runs.
//!
//! The worker never signs two different results for one job: the engine is bit-reproducible
//! and the salt is derived from its key and the job, so after a restart it recomputes the same
//! statement and opens the seal it made before.
//! Test builds can make it misbehave (feature `byzantine`): tamper with outputs, compute with
//! other weights, or stay silent.

mod compute;

use crate::app::SharedApp;
use compute::{AppSource, Compute, Done, Task};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use surety_infer::{Activation, Executor, Model, Trace};
use surety_ledger::disputes::{self, Dispute, Phase, ProvideStepInput, RevealStep};
use surety_ledger::jobs::{
    self, AuditClaim, AuditOutcome, ClaimAudits, CommitResult, Job, JobStatus, ResultStatement,
    Reveal, RevealResults, Role, Seal, SealResults,
};
use surety_ledger::store::Store;
use surety_ledger::tx::Msg;
use surety_types::tx::Tx;
use surety_types::vrf::VrfProof;
use surety_types::{AccountId, Amount, Hash, Height, JobId, OperatorId, Ratio, SigningKey};
use tracing::{debug, info, warn};

/// How the worker behaves. Anything but `Honest` exists for tests of the protocol's defences.
#[derive(Clone, Default)]
pub enum WorkerBehaviour {
    #[default]
    Honest,
    /// Commit outputs altered after computing them (the trace re-rooted to match).
    #[cfg(feature = "byzantine")]
    TamperOutput,
    /// Compute with another model's weights (another checkpoint, a quantised copy).
    #[cfg(feature = "byzantine")]
    OtherWeights(Arc<Model>),
    /// Never seal results (misses every deadline); still audits and plays disputes.
    #[cfg(feature = "byzantine")]
    Silent,
}

impl std::fmt::Debug for WorkerBehaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            WorkerBehaviour::Honest => "honest",
            #[cfg(feature = "byzantine")]
            WorkerBehaviour::TamperOutput => "tamper-output",
            #[cfg(feature = "byzantine")]
            WorkerBehaviour::OtherWeights(_) => "other-weights",
            #[cfg(feature = "byzantine")]
            WorkerBehaviour::Silent => "silent",
        };
        f.write_str(name)
    }
}

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Engine threads per job.
    pub threads: usize,
    pub poll_ms: u64,
    pub behaviour: WorkerBehaviour,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            threads: 1,
            poll_ms: 50,
            behaviour: WorkerBehaviour::Honest,
        }
    }
}

/// One run of a job: what was committed and how to prove any leaf of it.
#[derive(Clone)]
pub struct Execution {
    pub output: Activation,
    pub trace: Trace,
    /// The model the run used (for recomputing activations in a dispute).
    pub model: Arc<Model>,
    /// The output was altered after the run (test behaviour): the last activation is
    /// `output`, not the model's.
    pub tampered: bool,
}

impl Execution {
    /// The activation before step `step` (the job input for step 0).
    pub fn activation_before(
        &self,
        executor: &Executor,
        input: &Activation,
        step: usize,
    ) -> surety_infer::error::Result<Activation> {
        if step == 0 {
            return Ok(input.clone());
        }
        if self.tampered && step == self.trace.len() {
            return Ok(self.output.clone());
        }
        self.model
            .activation_after(executor, input.clone(), step - 1)
    }
}

/// Run `job` on `model`; `behaviour` may alter the result (tests only).
pub fn execute(
    model: Arc<Model>,
    executor: &Executor,
    job: &Job,
    behaviour: &WorkerBehaviour,
) -> surety_infer::error::Result<Execution> {
    let input = Activation::from_bytes(&job.input)?;
    let model = match behaviour {
        #[cfg(feature = "byzantine")]
        WorkerBehaviour::OtherWeights(other) => other.clone(),
        _ => model,
    };
    let run = model.run(executor, input)?;
    let execution = Execution {
        output: run.output,
        trace: run.trace,
        model,
        tampered: false,
    };
    match behaviour {
        #[cfg(feature = "byzantine")]
        WorkerBehaviour::TamperOutput => Ok(tamper(execution)),
        _ => Ok(execution),
    }
}

/// Add 1 to the first value of the output's first float slot and re-root the trace.
#[cfg(feature = "byzantine")]
fn tamper(mut execution: Execution) -> Execution {
    let slots: Vec<String> = execution
        .output
        .slots
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    for slot in slots {
        let Ok((shape, values)) = execution.output.f32(&slot) else {
            continue;
        };
        let (shape, mut values) = (shape.to_vec(), values.to_vec());
        if let Some(first) = values.first_mut() {
            *first += 1.0;
        }
        execution
            .output
            .set(&slot, surety_infer::Tensor::f32(shape, values));
        break;
    }
    let mut hashes = execution.trace.step_hashes.clone();
    if let Some(last) = hashes.last_mut() {
        *last = execution.output.hash();
    }
    execution.trace = Trace::from_step_hashes(hashes);
    execution.tampered = true;
    execution
}

/// The signed statement of an execution.
pub fn statement_of(chain_id: &str, job: &JobId, execution: &Execution) -> ResultStatement {
    ResultStatement {
        chain_id: chain_id.to_string(),
        job: *job,
        output_hash: execution.output.hash(),
        trace_root: execution.trace.root(),
        steps: execution.trace.len() as u64,
    }
}

/// The revealed result of an execution: signed statement, output and the output leaf's proof.
pub fn commit_result(
    key: &SigningKey,
    chain_id: &str,
    job: &JobId,
    execution: &Execution,
) -> CommitResult {
    let statement = statement_of(chain_id, job, execution);
    let last = statement.steps as usize - 1;
    CommitResult {
        result: statement.sign(key),
        output: execution.output.to_bytes(),
        output_proof: execution
            .trace
            .proof(last)
            .expect("a trace has its last leaf"),
    }
}

/// The salt of `key`'s seal for `job`: secret (it depends on the key) and the same after a
/// restart, so the worker can always open the seal it made.
pub fn seal_salt(key: &SigningKey, job: &JobId) -> [u8; 32] {
    Hash::of_parts("surety.worker.seal-salt", &[&key.seed(), &job.0]).0
}

/// The seal of `execution` for `job` by `key`'s operator.
pub fn seal_of(key: &SigningKey, chain_id: &str, job: &JobId, execution: &Execution) -> Seal {
    let operator = OperatorId::from(AccountId::from_key(&key.verification_key()));
    let statement = statement_of(chain_id, job, execution);
    Seal {
        job: *job,
        commitment: jobs::seal_commitment(&operator, &statement, &seal_salt(key, job)),
    }
}

/// This party's move in `dispute`, if the dispute waits for a reveal from it.
pub fn reveal_for(dispute: &Dispute, account: &AccountId, trace: &Trace) -> Option<RevealStep> {
    let Phase::Bisect {
        index,
        defendant,
        challenger,
        ..
    } = &dispute.phase
    else {
        return None;
    };
    let mine = if dispute.defendant.account() == *account {
        defendant
    } else if dispute.challenger.account() == *account {
        challenger
    } else {
        return None;
    };
    if mine.is_some() {
        return None;
    }
    let leaf = *index as usize;
    Some(RevealStep {
        dispute: dispute.id,
        index: *index,
        step_hash: *trace.step_hashes.get(leaf)?,
        proof: trace.proof(leaf)?,
    })
}

/// The uploads that hand the referee the activation before the isolated step.
pub fn input_uploads(dispute: &Dispute, activation: &Activation) -> Vec<ProvideStepInput> {
    let bytes = activation.to_bytes();
    bytes
        .chunks(disputes::INPUT_CHUNK_BYTES_MAX)
        .enumerate()
        .map(|(index, chunk)| ProvideStepInput {
            dispute: dispute.id,
            total: bytes.len() as u64,
            offset: (index * disputes::INPUT_CHUNK_BYTES_MAX) as u64,
            bytes: chunk.to_vec(),
        })
        .collect()
}

/// One item of a batch.
enum Item {
    Seal(Seal),
    Reveal(Box<Reveal>),
}

/// Room for reveals in one `RevealResults`: `TX_BYTES_MAX` less what the envelope (signer,
/// nonce, fee, signature, chain id) takes.
const REVEAL_BYTES_PER_TX: usize = surety_ledger::tx::TX_BYTES_MAX - 2 * 1024;

/// Most claims in one `ClaimAudits`: the ledger's `CLAIM_ITEMS_MAX` (a claim, a job id and a VRF
/// proof, is 112 bytes: a batch of `BATCH_ITEMS_MAX` would not fit one transaction).
const CLAIMS_PER_TX: usize = jobs::CLAIM_ITEMS_MAX;

/// Reveals in groups that each fit one transaction (and the batch limit), in order. A reveal
/// larger than a transaction alone (an output past the limit) goes alone, and is refused.
fn pack_reveals(reveals: Vec<Reveal>) -> Vec<Vec<Reveal>> {
    let mut groups: Vec<Vec<Reveal>> = Vec::new();
    let mut bytes = 0usize;
    for reveal in reveals {
        let size = borsh::to_vec(&reveal).map_or(usize::MAX, |b| b.len());
        let fits = groups.last().is_some_and(|g| {
            g.len() < jobs::BATCH_ITEMS_MAX && bytes.saturating_add(size) <= REVEAL_BYTES_PER_TX
        });
        if fits {
            bytes = bytes.saturating_add(size);
            groups.last_mut().expect("checked").push(reveal);
        } else {
            bytes = size;
            groups.push(vec![reveal]);
        }
    }
    groups
}

/// What a worker computed, for metrics and the verification-overhead benchmark.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Full runs of a model for a job this operator was assigned.
    pub job_runs: std::sync::atomic::AtomicU64,
    /// Full runs for audits.
    pub audit_runs: std::sync::atomic::AtomicU64,
    /// Full runs redone for a dispute (the execution was not in memory).
    pub dispute_runs: std::sync::atomic::AtomicU64,
    /// Audit draws: this operator's VRF evaluated over a sealed job it may audit (once per
    /// job).
    pub audit_draws: std::sync::atomic::AtomicU64,
    /// Audits claimed: draws that selected this operator, each job counted once (a claim sent
    /// again after a dropped transaction is not counted twice).
    pub claims: std::sync::atomic::AtomicU64,
    /// Program steps run to produce a referee's input.
    pub dispute_steps: std::sync::atomic::AtomicU64,
}

/// The worker's state between polls.
pub struct Worker {
    app: SharedApp,
    key: SigningKey,
    account: AccountId,
    operator: OperatorId,
    chain_id: String,
    executor: Arc<Executor>,
    config: WorkerConfig,
    /// Claims, seals and reveals sent, by job, with the height they were sent at: sent again
    /// only if the ledger still waits for them a few blocks later (a transaction the mempool
    /// dropped).
    sent: BTreeMap<(JobId, Step), Height>,
    /// This worker's executions, kept while a dispute may still need them.
    executions: BTreeMap<JobId, Arc<Execution>>,
    /// Runs waiting for or on the compute thread.
    compute: Compute,
    /// This worker's VRF over each sealed job it may audit, evaluated once.
    draws: BTreeMap<JobId, AuditDraw>,
    /// Reveals and uploads already sent: (dispute, leaf index) and dispute ids.
    revealed: BTreeSet<(u64, u64)>,
    uploaded: BTreeSet<u64>,
    /// Disputes below this id are resolved or not ours.
    dispute_cursor: u64,
    /// The last poll's reading of the ledger.
    last_snapshot: Option<Arc<Snapshot>>,
    /// The height settled jobs were last forgotten at.
    forgot_at: u64,
    stats: Arc<WorkerStats>,
}

/// What one poll read from the ledger.
struct Snapshot {
    height: Height,
    audit_rate: Ratio,
    work: Vec<(Job, Role)>,
    /// Jobs in their claim window this operator may claim to audit.
    claimable: Vec<Claimable>,
    disputes: Vec<(Dispute, Job)>,
}

/// A job whose audit claim window is open and that this operator may claim: it is in the
/// window's pool, outside the parties' owners, eligible now, and has not claimed it yet.
struct Claimable {
    job: JobId,
    /// The window's last height: a claim must land by it.
    until: Height,
    /// What the VRF runs on with the job: the digest of the assignees' seals, and the seed of
    /// the block that opened the window.
    seals: Hash,
    seed: Hash,
    /// This operator's weight in the window's pool snapshot.
    weight: Amount,
    /// The window's weight: the pool outside the parties' owners.
    total: Amount,
}

/// This operator's VRF over a sealed job: the proof a claim carries, and whether its draw
/// selected it (fixed: the window's weights do not change).
struct AuditDraw {
    proof: VrfProof,
    selected: bool,
}

/// What the worker sends for a job, one of each at most until the ledger has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// A claim to audit it (its VRF selected this operator).
    Claim,
    /// A seal, as an assignee or a claimed auditor.
    Seal,
    /// The reveal of that seal.
    Reveal,
}

/// Blocks after which a claim, seal or reveal the ledger still waits for is sent again (a
/// claim only while its window is open: past it, the job is no longer listed).
const RESEND_BLOCKS: u64 = 3;

/// Blocks between two sweeps of what settled jobs left behind (each sweep reads every job the
/// worker keeps something for, under the app lock).
const FORGET_EVERY_BLOCKS: u64 = 8;

/// What this operator owes `job` in `role` now: a seal (`Step::Seal`), a reveal
/// (`Step::Reveal`), or nothing.
/// Assignees reveal while the job is `Revealing`; its auditors only once their results are
/// compared (`Challengeable` or `Disputed`).
fn owed(job: &Job, role: Role, operator: &OperatorId) -> Option<Step> {
    let sealing = job.status == JobStatus::Assigned;
    let owes = match role {
        Role::Worker => job.assignment_of(operator).is_some_and(|a| {
            if sealing {
                a.seal.is_none()
            } else {
                matches!(job.status, JobStatus::Revealing { .. })
                    && a.seal.is_some()
                    && a.result.is_none()
            }
        }),
        Role::Auditor => job.audit_of(operator).is_some_and(|a| {
            let compared = matches!(
                job.status,
                JobStatus::Challengeable { .. } | JobStatus::Disputed { .. }
            );
            a.outcome == AuditOutcome::Pending
                && if sealing {
                    a.seal.is_none()
                } else {
                    compared && a.seal.is_some() && a.output_hash.is_none()
                }
        }),
    };
    owes.then_some(if sealing { Step::Seal } else { Step::Reveal })
}

/// Whether `operator` may claim audits now: the ledger refuses claims of a jailed,
/// tombstoned or slash-pending operator (`jobs::assign::claim_one`; a dispute's freeze does
/// not stop one).
fn may_claim(store: &Store, operator: &OperatorId) -> bool {
    surety_ledger::staking::state::operator(store, operator)
        .is_some_and(|o| !o.jailed && !o.tombstoned && o.pending_slashes == 0)
}

/// The jobs of the models `operator` serves whose claim window is open at `next` (the height
/// a claim sent now lands at the earliest) and that it may claim: in the window's pool
/// snapshot, its account and owner outside the parties', and not claimed by it yet. The
/// ledger checks all of this again; reading it here keeps the worker from proving a VRF, or
/// sending a claim, that can only be refused.
fn claimable(store: &Store, operator: &OperatorId, next: Height) -> Vec<Claimable> {
    if !may_claim(store, operator) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for model in surety_ledger::models::state::all_models(store) {
        if surety_ledger::services::slashable(store, &model.id, operator).is_none() {
            continue;
        }
        for (id, until) in jobs::state::open_claims(store, &model.id) {
            if until < next {
                continue;
            }
            let Some(job) = jobs::state::job(store, &id) else {
                continue;
            };
            let Some(window) = job.audit_window.as_ref() else {
                continue;
            };
            let Some(seed) = window.seed else {
                continue;
            };
            if job.audit_of(operator).is_some() {
                continue;
            }
            let Some(entry) = jobs::pool::entry(store, window.epoch, &job.model, operator) else {
                continue;
            };
            let excluded = window.excluded.contains(&operator.account())
                || window.excluded.contains(&entry.owner);
            if excluded {
                continue;
            }
            out.push(Claimable {
                job: id,
                until,
                seals: window.seals,
                seed,
                weight: entry.weight,
                total: window.weight,
            });
        }
    }
    out
}

impl Worker {
    pub fn new(app: SharedApp, key: SigningKey, config: WorkerConfig) -> eyre::Result<Worker> {
        let account = AccountId::from_key(&key.verification_key());
        let chain_id = app
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ledger()
            .chain_id()
            .to_string();
        let executor = Arc::new(
            Executor::new(config.threads.max(1))
                .map_err(|e| eyre::eyre!("worker executor: {e}"))?,
        );
        let stats = Arc::new(WorkerStats::default());
        let operator = OperatorId::from(account);
        let source = AppSource {
            app: app.clone(),
            operator,
        };
        let compute = Compute::start(source, executor.clone(), stats.clone())
            .map_err(|e| eyre::eyre!("worker compute thread: {e}"))?;
        Ok(Worker {
            app,
            key,
            account,
            operator,
            chain_id,
            executor,
            config,
            sent: BTreeMap::new(),
            executions: BTreeMap::new(),
            compute,
            draws: BTreeMap::new(),
            revealed: BTreeSet::new(),
            uploaded: BTreeSet::new(),
            dispute_cursor: 0,
            last_snapshot: None,
            forgot_at: 0,
            stats,
        })
    }

    /// Counters of what this worker computes (shared: read them while it runs).
    pub fn stats(&self) -> Arc<WorkerStats> {
        self.stats.clone()
    }

    /// Poll forever.
    pub async fn run(mut self) {
        info!(operator = %self.operator, behaviour = ?self.config.behaviour, "worker started");
        let mut interval = tokio::time::interval(Duration::from_millis(self.config.poll_ms.max(1)));
        loop {
            interval.tick().await;
            self.poll().await;
        }
    }

    /// What the ledger holds for this worker now. State changes only with a block, so a poll
    /// at the height of the last one reuses its reading: polls come every `poll_ms`, and a
    /// worker with a backlog would otherwise read every job it holds, under the app lock,
    /// many times a block.
    fn snapshot(&mut self) -> Arc<Snapshot> {
        let app = self.app.lock().unwrap_or_else(|p| p.into_inner());
        let height = app.ledger().height();
        if let Some(last) = self.last_snapshot.as_ref().filter(|s| s.height == height) {
            return last.clone();
        }
        let audit_rate = app.ledger().params().jobs.audit_rate;
        let store = app.ledger().store();
        let work = jobs::state::work_of(store, &self.operator)
            .into_iter()
            .filter_map(|(id, role)| jobs::state::job(store, &id).map(|job| (job, role)))
            .collect();
        let claimable = claimable(store, &self.operator, height.saturating_plus(1));
        let mut disputes = Vec::new();
        let mut all_closed = true;
        for dispute in disputes::state::disputes_from(store, self.dispute_cursor, 256) {
            if all_closed && !dispute.is_open() {
                self.dispute_cursor = dispute.id + 1;
                continue;
            }
            all_closed = false;
            let ours =
                dispute.defendant == self.operator || dispute.challenger.account() == self.account;
            if ours && dispute.is_open() {
                if let Some(job) = jobs::state::job(store, &dispute.job) {
                    disputes.push((dispute, job));
                }
            }
        }
        let snapshot = Arc::new(Snapshot {
            height,
            audit_rate,
            work,
            claimable,
            disputes,
        });
        self.last_snapshot = Some(snapshot.clone());
        snapshot
    }

    /// One poll: take what the compute thread finished, then send every claim, seal and
    /// reveal that is ready, queueing the runs still missing; it never waits for an inference
    /// (only a dispute's rare recompute).
    async fn poll(&mut self) {
        self.take_finished();
        let snapshot = self.snapshot();
        let claims = self.claims(&snapshot);
        let mut seals = Vec::new();
        let mut reveals = Vec::new();
        for (job, role) in &snapshot.work {
            let Some(step) = self.due(job, *role, snapshot.height) else {
                continue;
            };
            let task = match role {
                Role::Worker => Task::Assigned(self.config.behaviour.clone()),
                Role::Auditor => Task::Audit,
            };
            let Some(execution) = self.ready_execution(job, task) else {
                continue;
            };
            match self.result_item(job, *role, step, &execution) {
                Item::Seal(seal) => seals.push(seal),
                Item::Reveal(reveal) => reveals.push(*reveal),
            }
            self.sent.insert((job.id, step), snapshot.height);
        }
        self.send_batches(claims, seals, reveals);
        for (dispute, job) in &snapshot.disputes {
            self.play(dispute, job).await;
        }
        self.forget_settled(snapshot.height);
    }

    /// This poll's audit claims: for each claimable job, the VRF (evaluated once per job), and
    /// a claim when it selects this operator, unless one was sent in the last
    /// `RESEND_BLOCKS` (the claim has not landed yet: the job is still claimable).
    fn claims(&mut self, snapshot: &Snapshot) -> Vec<AuditClaim> {
        let resend = snapshot.height.get().saturating_sub(RESEND_BLOCKS);
        let mut claims = Vec::new();
        for claimable in &snapshot.claimable {
            let sent = self.sent.get(&(claimable.job, Step::Claim)).copied();
            if sent.is_some_and(|at| at.get() > resend) {
                continue;
            }
            let Some((proof, selected)) = self.audit_draw(claimable, snapshot.audit_rate) else {
                continue;
            };
            if !selected {
                continue;
            }
            if sent.is_none() {
                self.stats.claims.fetch_add(1, Ordering::Relaxed);
                info!(job = %claimable.job, until = %claimable.until, "claiming an audit");
            }
            claims.push(AuditClaim {
                job: claimable.job,
                proof,
            });
            self.sent
                .insert((claimable.job, Step::Claim), snapshot.height);
        }
        claims
    }

    /// This worker's VRF proof over `claimable`'s job and whether its draw selects it at its
    /// pool weight (evaluated once per job).
    fn audit_draw(&mut self, claimable: &Claimable, audit_rate: Ratio) -> Option<(VrfProof, bool)> {
        if let Some(draw) = self.draws.get(&claimable.job) {
            return Some((draw.proof, draw.selected));
        }
        let alpha = jobs::audit_alpha(
            &self.chain_id,
            &claimable.job,
            &claimable.seals,
            &claimable.seed,
        );
        let proof = self.key.vrf_prove(&alpha);
        let draw = proof.proof_to_hash().ok()?.draw();
        let selected = jobs::is_selected(audit_rate, claimable.weight, claimable.total, draw);
        self.stats.audit_draws.fetch_add(1, Ordering::Relaxed);
        self.draws
            .insert(claimable.job, AuditDraw { proof, selected });
        Some((proof, selected))
    }

    /// Whether this poll owes `job` a seal or a reveal: the ledger waits for it and it was not
    /// sent in the last `RESEND_BLOCKS`.
    fn due(&self, job: &Job, role: Role, height: Height) -> Option<Step> {
        let step = owed(job, role, &self.operator)?;
        let resend = height.get().saturating_sub(RESEND_BLOCKS);
        if self
            .sent
            .get(&(job.id, step))
            .is_some_and(|at| at.get() > resend)
        {
            return None;
        }
        #[cfg(feature = "byzantine")]
        if role == Role::Worker && matches!(self.config.behaviour, WorkerBehaviour::Silent) {
            return None;
        }
        Some(step)
    }

    /// Keep the runs the compute thread finished.
    fn take_finished(&mut self) {
        for done in self.compute.finished() {
            match done {
                Done::Ran { job, execution } => match execution {
                    Ok(execution) => {
                        self.executions.insert(job, Arc::new(execution));
                    }
                    Err(error) => warn!(%job, %error, "could not run the job"),
                },
                Done::Skipped { .. } => {}
            }
        }
    }

    /// The seal of `execution` (an assignee's or a claimed auditor's), or its reveal.
    fn result_item(&self, job: &Job, role: Role, step: Step, execution: &Execution) -> Item {
        if step != Step::Reveal {
            return Item::Seal(seal_of(&self.key, &self.chain_id, &job.id, execution));
        }
        let what = match role {
            Role::Worker => "a result",
            Role::Auditor => "an audit",
        };
        info!(job = %job.id, output = %execution.output.hash(), "revealing {what}");
        Item::Reveal(Box::new(Reveal {
            job: job.id,
            salt: seal_salt(&self.key, &job.id),
            result: commit_result(&self.key, &self.chain_id, &job.id, execution),
        }))
    }

    /// This worker's run of `job` if it is done; otherwise queue it (once) and say `None`.
    /// A run is computed once and kept for the reveal and any dispute.
    fn ready_execution(&mut self, job: &Job, task: Task) -> Option<Arc<Execution>> {
        if let Some(execution) = self.executions.get(&job.id) {
            return Some(execution.clone());
        }
        self.compute.queue(job, task);
        None
    }

    /// Send this poll's claims, seals and reveals, as few transactions as the batch limit
    /// allows. Claims go first: each has until its window's last height to land.
    fn send_batches(&mut self, claims: Vec<AuditClaim>, seals: Vec<Seal>, reveals: Vec<Reveal>) {
        for chunk in claims.chunks(CLAIMS_PER_TX) {
            let msg = Msg::ClaimAudits(Box::new(ClaimAudits {
                operator: self.operator,
                claims: chunk.to_vec(),
            }));
            if self.submit(msg) {
                debug!(claims = chunk.len(), "claimed audits");
            } else {
                self.unsend(chunk.iter().map(|c| (c.job, Step::Claim)));
            }
        }
        for chunk in seals.chunks(jobs::BATCH_ITEMS_MAX) {
            let msg = Msg::SealResults(Box::new(SealResults {
                operator: self.operator,
                seals: chunk.to_vec(),
            }));
            if self.submit(msg) {
                debug!(seals = chunk.len(), "sealed results");
            } else {
                self.unsend(chunk.iter().map(|s| (s.job, Step::Seal)));
            }
        }
        // Reveals carry outputs: pack them so each transaction stays under the size limit.
        for chunk in pack_reveals(reveals) {
            let msg = Msg::RevealResults(Box::new(RevealResults {
                operator: self.operator,
                reveals: chunk.to_vec(),
            }));
            if self.submit(msg) {
                debug!(reveals = chunk.len(), "revealed results");
            } else {
                self.unsend(chunk.iter().map(|r| (r.job, Step::Reveal)));
            }
        }
    }

    /// Forget items whose transaction the mempool refused, so the next poll sends them again.
    fn unsend(&mut self, items: impl Iterator<Item = (JobId, Step)>) {
        for item in items {
            self.sent.remove(&item);
        }
    }

    /// Run `job` here, awaiting it: only for a dispute over a job whose run is not in memory.
    async fn compute(&self, job: &Job, behaviour: &WorkerBehaviour) -> eyre::Result<Execution> {
        let model = {
            let app = self.app.lock().unwrap_or_else(|p| p.into_inner());
            app.ledger().model(&job.model)?
        };
        let executor = self.executor.clone();
        let job = job.clone();
        let behaviour = behaviour.clone();
        let execution =
            tokio::task::spawn_blocking(move || execute(model, &executor, &job, &behaviour))
                .await??;
        Ok(execution)
    }

    /// Make this party's move in `dispute`, if it has one to make.
    async fn play(&mut self, dispute: &Dispute, job: &Job) {
        let Some(execution) = self.execution_for(dispute, job).await else {
            return;
        };
        match &dispute.phase {
            Phase::Bisect { index, .. } => self.reveal(dispute, *index, &execution),
            Phase::AwaitInput { .. } => self.hand_input(dispute, job, execution).await,
            Phase::Resolved { .. } => {}
        }
    }

    /// This worker's run of the disputed job: the one it computed, or recomputed honestly.
    async fn execution_for(&mut self, dispute: &Dispute, job: &Job) -> Option<Arc<Execution>> {
        if let Some(execution) = self.executions.get(&job.id) {
            return Some(execution.clone());
        }
        if self.compute.is_queued(&job.id) {
            // The compute thread is on it (a restarted worker's reveal): wait for its run
            // rather than run a second one.
            return None;
        }
        // Not computed here (or forgotten in a restart): recompute honestly. A worker that
        // misbehaved lost its altered run with the restart, and loses the dispute.
        match self.compute(job, &WorkerBehaviour::Honest).await {
            Ok(execution) => {
                self.stats.dispute_runs.fetch_add(1, Ordering::Relaxed);
                let execution = Arc::new(execution);
                self.executions.insert(job.id, execution.clone());
                Some(execution)
            }
            Err(error) => {
                warn!(dispute = dispute.id, %error, "cannot recompute the disputed job");
                None
            }
        }
    }

    /// Reveal our leaf at bisection `index`, once.
    fn reveal(&mut self, dispute: &Dispute, index: u64, execution: &Execution) {
        if self.revealed.contains(&(dispute.id, index)) {
            return;
        }
        if let Some(reveal) = reveal_for(dispute, &self.account, &execution.trace) {
            if self.submit(Msg::RevealStep(Box::new(reveal))) {
                debug!(dispute = dispute.id, index, "revealed a leaf");
                self.revealed.insert((dispute.id, index));
            }
        }
    }

    /// A step other than 0 is isolated: hand the referee the activation before it, once.
    async fn hand_input(&mut self, dispute: &Dispute, job: &Job, execution: Arc<Execution>) {
        let Some(step) = dispute.isolated_step() else {
            return;
        };
        if step == 0 || self.uploaded.contains(&dispute.id) {
            return;
        }
        let Ok(input) = Activation::from_bytes(&job.input) else {
            return;
        };
        let executor = self.executor.clone();
        let before = tokio::task::spawn_blocking(move || {
            execution.activation_before(&executor, &input, step as usize)
        })
        .await;
        let activation = match before {
            Ok(Ok(activation)) => activation,
            _ => {
                warn!(
                    dispute = dispute.id,
                    step, "cannot compute the referee's input"
                );
                return;
            }
        };
        self.stats.dispute_steps.fetch_add(step, Ordering::Relaxed);
        let uploads = input_uploads(dispute, &activation);
        let count = uploads.len();
        let all = uploads
            .into_iter()
            .all(|upload| self.submit(Msg::ProvideStepInput(Box::new(upload))));
        if all {
            info!(
                dispute = dispute.id,
                step,
                chunks = count,
                "handed the referee its input"
            );
            self.uploaded.insert(dispute.id);
        }
    }

    /// Drop executions, sent marks and draws of jobs that are final, failed or pruned.
    fn forget_settled(&mut self, height: Height) {
        let small = self.executions.len() < 64 && self.sent.len() < 256 && self.draws.len() < 256;
        if small || height.get() < self.forgot_at.saturating_add(FORGET_EVERY_BLOCKS) {
            return;
        }
        self.forgot_at = height.get();
        let app = self.app.lock().unwrap_or_else(|p| p.into_inner());
        let store = app.ledger().store();
        let open = |id: &JobId| {
            jobs::state::job(store, id).is_some_and(|job| {
                !matches!(
                    job.status,
                    jobs::JobStatus::Final { .. } | jobs::JobStatus::Failed { .. }
                )
            })
        };
        self.executions.retain(|id, _| open(id));
        self.sent.retain(|(id, _), _| open(id));
        self.draws.retain(|id, _| open(id));
    }

    /// Sign `msg` with the next nonce and admit it to the local mempool (gossip carries it to
    /// the proposers). Returns whether it was admitted.
    fn submit(&self, msg: Msg) -> bool {
        let mut app = self.app.lock().unwrap_or_else(|p| p.into_inner());
        let nonce = app.next_nonce(&self.account);
        let fee = app.ledger().params().bank.min_tx_fee;
        let tx = Tx {
            chain_id: self.chain_id.clone(),
            signer: self.account,
            nonce,
            fee,
            msg,
        };
        let bytes = surety_types::encoding::encode(&tx.sign(&self.key));
        match app.submit(bytes) {
            Ok(_) => true,
            Err(error) => {
                warn!(%error, "the mempool refused the worker's transaction");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest batch of claims the worker sends is admitted: a whole transaction, signed
    /// and encoded, within `TX_BYTES_MAX` and of a valid shape.
    #[test]
    fn a_full_batch_of_claims_fits_one_transaction() {
        let key = SigningKey::from_seed([3; 32]);
        let account = AccountId::from_key(&key.verification_key());
        let claims = (0..CLAIMS_PER_TX)
            .map(|i| {
                let mut id = [0u8; 32];
                id[..8].copy_from_slice(&(i as u64).to_be_bytes());
                AuditClaim {
                    job: JobId(id),
                    proof: key.vrf_prove(&id),
                }
            })
            .collect();
        let tx = Tx {
            chain_id: "a-chain-id-of-ordinary-length".into(),
            signer: account,
            nonce: u64::MAX,
            fee: Amount::new(u128::from(u64::MAX)),
            msg: Msg::ClaimAudits(Box::new(ClaimAudits {
                operator: OperatorId::from(account),
                claims,
            })),
        };
        let bytes = surety_types::encoding::encode(&tx.sign(&key));
        assert!(
            bytes.len() <= surety_ledger::tx::TX_BYTES_MAX,
            "{} claims take {} bytes",
            CLAIMS_PER_TX,
            bytes.len()
        );
        surety_ledger::tx::decode_and_check_shape(&bytes, "a-chain-id-of-ordinary-length").unwrap();
        assert_eq!(CLAIMS_PER_TX, 500);
    }
}
