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
//! - for a job it is the designated auditor of, evaluates its VRF over the job: when selected,
//!   seals like an assignee once its run is done; when not, seals a commitment to nothing
//!   once a hold as long as a run is over (the two are indistinguishable, in content and in
//!   timing); then reveals the VRF proof, and the result when selected;
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
use std::sync::Arc;
use std::time::{Duration, Instant};
use surety_infer::{Activation, Executor, Model, Trace};
use surety_ledger::disputes::{self, Dispute, Phase, ProvideStepInput, RevealStep};
use surety_ledger::jobs::{
    self, AuditOutcome, CommitResult, Job, JobStatus, ResultStatement, Reveal, RevealResults, Role,
    Seal, SealResults,
};
use surety_ledger::tx::Msg;
use surety_types::tx::Tx;
use surety_types::vrf::VrfProof;
use surety_types::{AccountId, Hash, Height, JobId, OperatorId, Ratio, SigningKey};
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
    /// Full runs made only to time a model, so that a not-selected auditor's seal waits as
    /// long as a run (at most one per model the worker has not run yet).
    pub calibration_runs: std::sync::atomic::AtomicU64,
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
    /// Seals (`false`) and reveals (`true`) sent, by job, with the height they were sent at:
    /// sent again only if the ledger still waits for them a few blocks later (a transaction
    /// the mempool dropped).
    sent: BTreeMap<(JobId, bool), Height>,
    /// This worker's executions, kept while a dispute may still need them.
    executions: BTreeMap<JobId, Arc<Execution>>,
    /// Runs (and not-selected auditors' holds) waiting for or on the compute thread.
    compute: Compute,
    /// This worker's VRF over each job it audits, evaluated once.
    draws: BTreeMap<JobId, AuditDraw>,
    /// When each not-selected auditor's seal may be sent (`compute::Task::Hold`).
    holds: BTreeMap<JobId, Instant>,
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
    disputes: Vec<(Dispute, Job)>,
}

/// The auditor's VRF over a job: the proof it reveals and the draw that decides.
struct AuditDraw {
    proof: VrfProof,
    draw: u64,
}

/// Blocks after which a seal or reveal the ledger still waits for is sent again.
const RESEND_BLOCKS: u64 = 3;

/// Blocks between two sweeps of what settled jobs left behind (each sweep reads every job the
/// worker keeps something for, under the app lock).
const FORGET_EVERY_BLOCKS: u64 = 8;

/// What this operator owes `job` in `role` now: a seal (`Some(false)`), a reveal
/// (`Some(true)`), or nothing.
/// Assignees reveal while the job is `Revealing`; its auditor only once their results are
/// compared (`Challengeable` or `Disputed`).
fn owed(job: &Job, role: Role, operator: &OperatorId) -> Option<bool> {
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
        Role::Auditor => job.audit.as_ref().is_some_and(|a| {
            let compared = matches!(
                job.status,
                JobStatus::Challengeable { .. } | JobStatus::Disputed { .. }
            );
            a.auditor == *operator
                && a.outcome == AuditOutcome::Pending
                && if sealing {
                    a.seal.is_none()
                } else {
                    compared && a.seal.is_some() && a.output_hash.is_none()
                }
        }),
    };
    owes.then_some(!sealing)
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
            holds: BTreeMap::new(),
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
            disputes,
        });
        self.last_snapshot = Some(snapshot.clone());
        snapshot
    }

    /// One poll: take what the compute thread finished, then send every seal and reveal that
    /// is ready, queueing the runs still missing; it never waits for an inference (only a
    /// dispute's rare recompute).
    async fn poll(&mut self) {
        self.take_finished();
        let snapshot = self.snapshot();
        let mut seals = Vec::new();
        let mut reveals = Vec::new();
        for (job, role) in &snapshot.work {
            let Some(revealing) = self.due(job, *role, snapshot.height) else {
                continue;
            };
            let item = match role {
                Role::Worker => self.work_item(job, revealing),
                Role::Auditor => self.audit_item(job, revealing, snapshot.audit_rate),
            };
            match item {
                Some(Item::Seal(seal)) => seals.push(seal),
                Some(Item::Reveal(reveal)) => reveals.push(*reveal),
                None => continue,
            }
            self.sent.insert((job.id, revealing), snapshot.height);
        }
        self.send_batches(seals, reveals);
        for (dispute, job) in &snapshot.disputes {
            self.play(dispute, job).await;
        }
        self.forget_settled(snapshot.height);
    }

    /// Whether this poll owes `job` a seal (`Some(false)`) or a reveal (`Some(true)`): the
    /// ledger waits for it and it was not sent in the last `RESEND_BLOCKS`.
    fn due(&self, job: &Job, role: Role, height: Height) -> Option<bool> {
        let revealing = owed(job, role, &self.operator)?;
        let resend = height.get().saturating_sub(RESEND_BLOCKS);
        if self
            .sent
            .get(&(job.id, revealing))
            .is_some_and(|at| at.get() > resend)
        {
            return None;
        }
        #[cfg(feature = "byzantine")]
        if role == Role::Worker && matches!(self.config.behaviour, WorkerBehaviour::Silent) {
            return None;
        }
        Some(revealing)
    }

    /// Keep the runs and holds the compute thread finished.
    fn take_finished(&mut self) {
        for done in self.compute.finished() {
            match done {
                Done::Ran { job, execution } => match execution {
                    Ok(execution) => {
                        self.executions.insert(job, Arc::new(execution));
                    }
                    Err(error) => warn!(%job, %error, "could not run the job"),
                },
                Done::Held { job, ready_at } => {
                    self.holds.insert(job, ready_at);
                }
                Done::Skipped { .. } => {}
            }
        }
    }

    /// Seal or reveal an assignee's result for `job`, once its run is done.
    fn work_item(&mut self, job: &Job, revealing: bool) -> Option<Item> {
        let task = Task::Assigned(self.config.behaviour.clone());
        let execution = self.ready_execution(job, task)?;
        Some(self.result_item(job, revealing, None, &execution))
    }

    /// The seal of `execution`, or its reveal (with the auditor's VRF proof, if any).
    fn result_item(
        &self,
        job: &Job,
        revealing: bool,
        audit_proof: Option<VrfProof>,
        execution: &Execution,
    ) -> Item {
        if !revealing {
            return Item::Seal(seal_of(&self.key, &self.chain_id, &job.id, execution));
        }
        let what = if audit_proof.is_some() {
            "an audit"
        } else {
            "a result"
        };
        info!(job = %job.id, output = %execution.output.hash(), "revealing {what}");
        Item::Reveal(Box::new(Reveal {
            job: job.id,
            salt: seal_salt(&self.key, &job.id),
            audit_proof,
            result: Some(commit_result(&self.key, &self.chain_id, &job.id, execution)),
        }))
    }

    /// Seal or reveal as `job`'s designated auditor: the VRF says whether it audits. Selected,
    /// it seals once its run is done; not selected, once its hold is over, so that the seal's
    /// timing does not tell which (`compute::Task::Hold`). Either reveals at once.
    fn audit_item(&mut self, job: &Job, revealing: bool, audit_rate: Ratio) -> Option<Item> {
        let (proof, draw) = self.audit_draw(job)?;
        let salt = seal_salt(&self.key, &job.id);
        if !jobs::is_selected(audit_rate, draw) {
            if !revealing && !self.hold_over(job) {
                return None;
            }
            // A commitment to nothing, indistinguishable from an audit's seal.
            return Some(if revealing {
                Item::Reveal(Box::new(Reveal {
                    job: job.id,
                    salt,
                    audit_proof: Some(proof),
                    result: None,
                }))
            } else {
                Item::Seal(Seal {
                    job: job.id,
                    commitment: Hash::of_parts("surety.worker.no-audit", &[&salt]),
                })
            });
        }
        let execution = self.ready_execution(job, Task::Audit)?;
        Some(self.result_item(job, revealing, Some(proof), &execution))
    }

    /// This worker's VRF proof and draw for auditing `job` (evaluated once per job).
    fn audit_draw(&mut self, job: &Job) -> Option<(VrfProof, u64)> {
        if let Some(draw) = self.draws.get(&job.id) {
            return Some((draw.proof, draw.draw));
        }
        let alpha = jobs::audit_alpha(&self.chain_id, &job.id);
        let proof = self.key.vrf_prove(&alpha);
        let draw = proof.verify(&self.operator.0, &alpha).ok()?.draw();
        self.draws.insert(job.id, AuditDraw { proof, draw });
        Some((proof, draw))
    }

    /// Whether a not-selected auditor's hold on `job` is over; queues the hold the first time.
    fn hold_over(&mut self, job: &Job) -> bool {
        match self.holds.get(&job.id) {
            Some(ready_at) => Instant::now() >= *ready_at,
            None => {
                self.compute.queue(job, Task::Hold);
                false
            }
        }
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

    /// Send this poll's seals and reveals, as few transactions as the batch limit allows.
    fn send_batches(&mut self, seals: Vec<Seal>, reveals: Vec<Reveal>) {
        for chunk in seals.chunks(jobs::BATCH_ITEMS_MAX) {
            let msg = Msg::SealResults(Box::new(SealResults {
                operator: self.operator,
                seals: chunk.to_vec(),
            }));
            if self.submit(msg) {
                debug!(seals = chunk.len(), "sealed results");
            } else {
                self.unsend(chunk.iter().map(|s| (s.job, false)));
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
                self.unsend(chunk.iter().map(|r| (r.job, true)));
            }
        }
    }

    /// Forget items whose transaction the mempool refused, so the next poll sends them again.
    fn unsend(&mut self, items: impl Iterator<Item = (JobId, bool)>) {
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
                self.stats
                    .dispute_runs
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
        self.stats
            .dispute_steps
            .fetch_add(step, std::sync::atomic::Ordering::Relaxed);
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

    /// Drop executions, sent marks, draws and holds of jobs that are final, failed or pruned.
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
        self.holds.retain(|id, _| open(id));
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
