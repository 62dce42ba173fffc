//! The worker's compute queue (docs/market.md, "The worker"): one thread per worker runs the
//! inferences its work needs, so that a poll never waits for one. Meanwhile the poll sends
//! everything already computed (reveals, seals of finished runs, auditor items) every
//! `poll_ms`. The thread only runs models and says when a run is done; it never signs or
//! sends anything, and it writes nothing but its own estimates and the worker's counters.
//!
//! Two lanes: the designated auditor's work before the assignees'. A not-selected auditor's
//! seal (a commitment to nothing) goes through the auditor's lane like a selected one's run,
//! and is done one estimated run after its turn comes, so its timing does not say whether the
//! VRF selected the auditor (see `Task::Hold`). The auditor's lane is short, since only
//! `audit_rate` of its items run anything, which keeps an auditor's seal, selected or not,
//! from waiting behind the backlog of its own assigned jobs.

use super::{execute, owed, Execution, WorkerBehaviour, WorkerStats};
use crate::app::SharedApp;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use surety_infer::{Executor, Model};
use surety_ledger::jobs::{self, Job, Role};
use surety_types::{JobId, ModelId, OperatorId};
use tracing::warn;

/// Jobs queued or running at once, per worker. A poll queues no more past it; the rest wait
/// for a later poll.
pub(super) const QUEUED_JOBS_MAX: usize = 8_192;

/// Weight of the newest run in a model's run-time estimate, in quarters (an EWMA: the last
/// few runs, so that a change of load shows within a few jobs).
const ESTIMATE_NEW_QUARTERS: u32 = 1;

/// What the compute thread reads from the ledger: the node's app, or a test's fake.
pub(super) trait Source: Send + 'static {
    /// The model `id`, loaded.
    fn model(&self, id: &ModelId) -> Result<Arc<Model>, String>;
    /// Whether the ledger still waits for this operator's seal or reveal of `job` in `role`.
    fn owes(&self, job: &JobId, role: Role) -> bool;
}

/// The node's app, seen by `operator`'s compute thread (each read takes the app lock briefly).
pub(super) struct AppSource {
    pub(super) app: SharedApp,
    pub(super) operator: OperatorId,
}

impl Source for AppSource {
    fn model(&self, id: &ModelId) -> Result<Arc<Model>, String> {
        let app = self.app.lock().unwrap_or_else(|p| p.into_inner());
        app.ledger().model(id).map_err(|e| e.to_string())
    }

    fn owes(&self, job: &JobId, role: Role) -> bool {
        let app = self.app.lock().unwrap_or_else(|p| p.into_inner());
        jobs::state::job(app.ledger().store(), job)
            .is_some_and(|job| owed(&job, role, &self.operator).is_some())
    }
}

/// What the thread does for a job.
#[derive(Clone, Debug)]
pub(super) enum Task {
    /// Run it as its assignee, with the worker's behaviour.
    Assigned(WorkerBehaviour),
    /// Run it honestly as its selected auditor.
    Audit,
    /// Its auditor was not selected: nothing to run. Done one estimated run of the model after
    /// its turn in the auditor's lane comes, when a selected auditor's run would be. The
    /// residual: the estimate is this worker's own EWMA of its runs of the model, not this
    /// input's run, and a hold does not delay the items behind it as a run would (by one run,
    /// ~10 ms for MiniLM, below a block).
    Hold,
}

impl Task {
    fn role(&self) -> Role {
        match self {
            Task::Assigned(_) => Role::Worker,
            Task::Audit | Task::Hold => Role::Auditor,
        }
    }
}

struct Request {
    job: Job,
    task: Task,
}

/// What the thread finished.
pub(super) enum Done {
    /// A run (or its error: the poll queues the job again).
    Ran {
        job: JobId,
        execution: Result<Execution, String>,
    },
    /// A not-selected auditor's seal may be sent from `ready_at` on.
    Held { job: JobId, ready_at: Instant },
    /// The job no longer needed the run when its turn came (final, failed, or no longer ours).
    Skipped { job: JobId },
}

impl Done {
    fn job(&self) -> JobId {
        match self {
            Done::Ran { job, .. } | Done::Held { job, .. } | Done::Skipped { job } => *job,
        }
    }
}

/// The queue and what came out of it, shared by the worker and its thread. Bounded: the
/// worker queues at most `QUEUED_JOBS_MAX` jobs until it takes what is finished.
#[derive(Default)]
struct Lanes {
    audits: VecDeque<Request>,
    assigned: VecDeque<Request>,
    finished: Vec<Done>,
    closed: bool,
}

impl Lanes {
    fn has_run_of(&self, model: &ModelId) -> bool {
        self.audits
            .iter()
            .chain(self.assigned.iter())
            .any(|r| r.job.model == *model && !matches!(r.task, Task::Hold))
    }
}

#[derive(Default)]
struct Shared {
    lanes: Mutex<Lanes>,
    wake: Condvar,
}

impl Shared {
    fn lanes(&self) -> std::sync::MutexGuard<'_, Lanes> {
        self.lanes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next request, auditor's lane first; `None` once the worker is gone.
    fn next(&self) -> Option<Request> {
        let mut lanes = self.lanes();
        loop {
            if lanes.closed {
                return None;
            }
            if let Some(request) = lanes.audits.pop_front() {
                return Some(request);
            }
            if let Some(request) = lanes.assigned.pop_front() {
                return Some(request);
            }
            lanes = self.wake.wait(lanes).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The worker's side of the queue.
pub(super) struct Compute {
    shared: Arc<Shared>,
    /// Jobs queued or running, so that none is queued twice.
    queued: BTreeSet<JobId>,
}

impl Compute {
    /// Start the thread.
    pub(super) fn start<S: Source>(
        source: S,
        executor: Arc<Executor>,
        stats: Arc<WorkerStats>,
    ) -> std::io::Result<Compute> {
        let (compute, runner) = Compute::new(source, executor, stats);
        std::thread::Builder::new()
            .name("surety-worker-compute".into())
            .spawn(move || runner.serve())?;
        Ok(compute)
    }

    /// The queue and the runner that will serve it (on the thread `start` spawns).
    fn new<S: Source>(
        source: S,
        executor: Arc<Executor>,
        stats: Arc<WorkerStats>,
    ) -> (Compute, Runner<S>) {
        let shared = Arc::new(Shared::default());
        let runner = Runner {
            source,
            executor,
            stats,
            estimates: BTreeMap::new(),
            deferred: Vec::new(),
            shared: shared.clone(),
        };
        let compute = Compute {
            shared,
            queued: BTreeSet::new(),
        };
        (compute, runner)
    }

    /// Queue `task` for `job` unless it is queued already or the queue is full.
    pub(super) fn queue(&mut self, job: &Job, task: Task) {
        if self.queued.len() >= QUEUED_JOBS_MAX || !self.queued.insert(job.id) {
            return;
        }
        let request = Request {
            job: job.clone(),
            task,
        };
        let mut lanes = self.shared.lanes();
        match request.task {
            Task::Assigned(_) => lanes.assigned.push_back(request),
            Task::Audit | Task::Hold => lanes.audits.push_back(request),
        }
        drop(lanes);
        self.shared.wake.notify_one();
    }

    pub(super) fn is_queued(&self, job: &JobId) -> bool {
        self.queued.contains(job)
    }

    /// What the thread finished since the last call.
    pub(super) fn finished(&mut self) -> Vec<Done> {
        let done = std::mem::take(&mut self.shared.lanes().finished);
        for item in &done {
            self.queued.remove(&item.job());
        }
        done
    }
}

impl Drop for Compute {
    fn drop(&mut self) {
        self.shared.lanes().closed = true;
        self.shared.wake.notify_all();
    }
}

/// The thread's side: runs requests in turn.
struct Runner<S> {
    source: S,
    executor: Arc<Executor>,
    stats: Arc<WorkerStats>,
    /// EWMA of this worker's run time, by model.
    estimates: BTreeMap<ModelId, Duration>,
    /// Holds whose model has no estimate yet: done when the next run of it is.
    deferred: Vec<Job>,
    shared: Arc<Shared>,
}

impl<S: Source> Runner<S> {
    fn serve(mut self) {
        while let Some(request) = self.shared.next() {
            let done = match request.task {
                Task::Hold => self.hold(request.job),
                Task::Assigned(_) | Task::Audit => self.run(request),
            };
            if let Some(done) = done {
                self.finish(done);
            }
            self.calibrate_deferred();
        }
    }

    fn finish(&self, done: Done) {
        self.shared.lanes().finished.push(done);
    }

    /// A not-selected auditor's turn: done one estimated run from now. Without an estimate
    /// for the model it waits for the next run of the model, or runs the job once to measure
    /// (`calibration_runs`) when none is queued.
    fn hold(&mut self, job: Job) -> Option<Done> {
        if let Some(estimate) = self.estimates.get(&job.model) {
            return Some(Done::Held {
                job: job.id,
                ready_at: Instant::now() + *estimate,
            });
        }
        self.deferred.push(job);
        None
    }

    /// Deferred holds whose model has no run queued: measure one run of the model now and
    /// release them.
    fn calibrate_deferred(&mut self) {
        if self.deferred.is_empty() {
            return;
        }
        let waiting: Vec<Job> = {
            let lanes = self.shared.lanes();
            let mut models = BTreeSet::new();
            self.deferred
                .iter()
                .filter(|job| !lanes.has_run_of(&job.model) && models.insert(job.model))
                .cloned()
                .collect()
        };
        for job in waiting {
            let model = job.model;
            let timed = self.execute(&job, &WorkerBehaviour::Honest).is_ok();
            if timed {
                self.stats.calibration_runs.fetch_add(1, Ordering::Relaxed);
            } else {
                warn!(model = %model, "could not time a run for a hold; releasing it now");
            }
            self.release_deferred(&model);
        }
    }

    /// Release every hold waiting for a run of `model`.
    fn release_deferred(&mut self, model: &ModelId) {
        let now = Instant::now();
        let (done, waiting): (Vec<Job>, Vec<Job>) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|job| job.model == *model);
        self.deferred = waiting;
        for job in done {
            self.finish(Done::Held {
                job: job.id,
                ready_at: now,
            });
        }
    }

    /// Run a job, unless the ledger no longer waits for it.
    fn run(&mut self, request: Request) -> Option<Done> {
        let id = request.job.id;
        if !self.source.owes(&id, request.task.role()) {
            return Some(Done::Skipped { job: id });
        }
        let (behaviour, audit) = match request.task {
            Task::Assigned(behaviour) => (behaviour, false),
            Task::Audit | Task::Hold => (WorkerBehaviour::Honest, true),
        };
        let execution = self.execute(&request.job, &behaviour);
        if execution.is_ok() {
            let counter = if audit {
                &self.stats.audit_runs
            } else {
                &self.stats.job_runs
            };
            counter.fetch_add(1, Ordering::Relaxed);
            self.release_deferred(&request.job.model);
        }
        Some(Done::Ran { job: id, execution })
    }

    /// Run `job` with `behaviour`, and fold the time into the model's estimate.
    fn execute(&mut self, job: &Job, behaviour: &WorkerBehaviour) -> Result<Execution, String> {
        let model = self.source.model(&job.model)?;
        let started = Instant::now();
        let execution =
            execute(model, &self.executor, job, behaviour).map_err(|e| e.to_string())?;
        let took = started.elapsed();
        let estimate = self.estimates.get(&job.model).map_or(took, |old| {
            (*old * (4 - ESTIMATE_NEW_QUARTERS) + took * ESTIMATE_NEW_QUARTERS) / 4
        });
        self.estimates.insert(job.model, estimate);
        Ok(execution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use surety_infer::models::mlp::{load_mlp, MlpConfig};
    use surety_infer::safetensors_loader::save_safetensors_f32;
    use surety_infer::{Activation, Tensor};
    use surety_ledger::jobs::JobStatus;
    use surety_types::{AccountId, Amount, Hash, Height};

    /// An MLP slow enough (~5 ms a run) that a run is well above the test's polling step.
    const WIDTH: usize = 1024;
    const LAYERS: usize = 6;

    fn model() -> Arc<Model> {
        let mut state = 0x2545_f491u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 2000) as f32 / 40_000.0 - 0.025
        };
        let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = (0..LAYERS)
            .flat_map(|i| {
                let weight = (0..WIDTH * WIDTH).map(|_| next()).collect();
                let bias = (0..WIDTH).map(|_| next()).collect();
                [
                    (format!("layers.{i}.weight"), vec![WIDTH, WIDTH], weight),
                    (format!("layers.{i}.bias"), vec![WIDTH], bias),
                ]
            })
            .collect();
        let refs: Vec<(&str, Vec<usize>, Vec<f32>)> = tensors
            .iter()
            .map(|(name, shape, values)| (name.as_str(), shape.clone(), values.clone()))
            .collect();
        let bytes = save_safetensors_f32(&refs).unwrap();
        let config = MlpConfig {
            widths: vec![WIDTH as u64; LAYERS + 1],
        };
        Arc::new(load_mlp("compute-test-mlp", &bytes, config).unwrap())
    }

    /// A ledger that holds one model and waits for everything.
    struct Fake(Arc<Model>);

    impl Source for Fake {
        fn model(&self, id: &ModelId) -> Result<Arc<Model>, String> {
            (self.0.model_id() == *id)
                .then(|| self.0.clone())
                .ok_or_else(|| "unknown model".to_string())
        }

        fn owes(&self, _job: &JobId, _role: Role) -> bool {
            true
        }
    }

    fn job(n: u8, model: &Model) -> Job {
        let mut input = Activation::new();
        input.set("input", Tensor::f32(vec![1, WIDTH], vec![0.5; WIDTH]));
        Job {
            id: JobId([n; 32]),
            client: AccountId([0; 32]),
            model: model.model_id(),
            input: input.to_bytes(),
            input_hash: Hash::ZERO,
            steps: model.program().len() as u64,
            fee: Amount::ZERO,
            replicas: 1,
            deadline_blocks: 10,
            submitted: Height::new(1),
            assignments: Vec::new(),
            reassignments: 0,
            audit: None,
            status: JobStatus::Assigned,
        }
    }

    /// A queue with a runner not started yet, so that a test can queue everything first.
    fn queue() -> (Compute, Runner<Fake>, Arc<Model>, Arc<WorkerStats>) {
        let model = model();
        let stats = Arc::new(WorkerStats::default());
        let executor = Arc::new(Executor::new(1).unwrap());
        let (compute, runner) = Compute::new(Fake(model.clone()), executor, stats.clone());
        (compute, runner, model, stats)
    }

    /// Start `runner` and collect what it finishes until `count` items are done, each with
    /// the instant it could be sent: when it was seen (polling every 100 µs), or for a hold
    /// the later of that and its `ready_at`.
    fn serve(mut compute: Compute, runner: Runner<Fake>, count: usize) -> Vec<(JobId, Instant)> {
        let thread = std::thread::spawn(move || runner.serve());
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        while seen.len() < count {
            assert!(Instant::now() < deadline, "the runner did not finish");
            let now = Instant::now();
            for done in compute.finished() {
                let at = match &done {
                    Done::Held { ready_at, .. } => now.max(*ready_at),
                    _ => now,
                };
                seen.push((done.job(), at));
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        drop(compute);
        thread.join().unwrap();
        seen
    }

    fn when(seen: &[(JobId, Instant)], id: u8) -> Instant {
        seen.iter()
            .find(|(job, _)| *job == JobId([id; 32]))
            .unwrap()
            .1
    }

    #[test]
    fn the_auditors_lane_runs_before_the_assigned_backlog() {
        let (mut compute, runner, model, stats) = queue();
        for n in 1..=4 {
            compute.queue(&job(n, &model), Task::Assigned(WorkerBehaviour::Honest));
        }
        compute.queue(&job(10, &model), Task::Audit);
        let seen = serve(compute, runner, 5);
        assert_eq!(seen[0].0, JobId([10; 32]), "the audit ran first");
        assert_eq!(stats.job_runs.load(Ordering::Relaxed), 4);
        assert_eq!(stats.audit_runs.load(Ordering::Relaxed), 1);
    }

    /// The attack: an assignee times its auditor's seal against the auditor's work appearing,
    /// to learn before it reveals whether the auditor's VRF selected it. A not-selected
    /// auditor's seal is ready no earlier than a selected one at the same place would be: one
    /// run after the audit ahead of it, not at once.
    #[test]
    fn a_not_selected_auditors_seal_is_ready_one_run_after_its_turn_like_a_selected_ones() {
        let (mut compute, runner, model, stats) = queue();
        compute.queue(&job(1, &model), Task::Audit);
        compute.queue(&job(2, &model), Task::Audit);
        compute.queue(&job(3, &model), Task::Hold);
        compute.queue(&job(4, &model), Task::Audit);
        let started = Instant::now();
        let seen = serve(compute, runner, 4);
        let run = when(&seen, 2) - when(&seen, 1);
        let held = when(&seen, 3) - when(&seen, 2);
        eprintln!(
            "the selected audit's run took {:.2} ms; the hold after it {:.2} ms; all done in {:.2} ms",
            run.as_secs_f64() * 1e3,
            held.as_secs_f64() * 1e3,
            started.elapsed().as_secs_f64() * 1e3,
        );
        assert!(
            held >= run / 4,
            "the hold was ready {held:?} after the audit ahead of it, a run takes {run:?}"
        );
        assert_eq!(stats.audit_runs.load(Ordering::Relaxed), 3);
        assert_eq!(stats.calibration_runs.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_hold_without_an_estimate_waits_for_the_next_run_of_its_model() {
        let (mut compute, runner, model, stats) = queue();
        compute.queue(&job(1, &model), Task::Hold);
        compute.queue(&job(2, &model), Task::Assigned(WorkerBehaviour::Honest));
        let seen = serve(compute, runner, 2);
        assert!(
            when(&seen, 1) >= when(&seen, 2),
            "held until the run was done"
        );
        assert_eq!(stats.job_runs.load(Ordering::Relaxed), 1);
        assert_eq!(stats.calibration_runs.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_hold_with_no_run_to_wait_for_times_one_run_and_counts_it() {
        let (mut compute, runner, model, stats) = queue();
        compute.queue(&job(1, &model), Task::Hold);
        let seen = serve(compute, runner, 1);
        assert_eq!(seen.len(), 1);
        assert_eq!(stats.calibration_runs.load(Ordering::Relaxed), 1);
        assert_eq!(stats.audit_runs.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_job_is_queued_once_until_it_is_done() {
        let (mut compute, runner, model, stats) = queue();
        let job = job(1, &model);
        compute.queue(&job, Task::Assigned(WorkerBehaviour::Honest));
        compute.queue(&job, Task::Assigned(WorkerBehaviour::Honest));
        assert!(compute.is_queued(&job.id));
        let seen = serve(compute, runner, 1);
        assert_eq!(seen.len(), 1);
        assert_eq!(stats.job_runs.load(Ordering::Relaxed), 1);
    }
}
