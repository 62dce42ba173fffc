//! The worker's compute queue (docs/market.md, "The worker"): one thread per worker runs the
//! inferences its work needs, so that a poll never waits for one. Meanwhile the poll sends
//! everything already computed (reveals, seals of finished runs, auditor items) every
//! `poll_ms`. The thread only runs models and says when a run is done; it never signs or
//! sends anything, and it writes nothing but the worker's counters.
//!
//! Two lanes: claimed audits' runs before the assignees'. Every job's reveals wait for the
//! seals of its auditors, and an operator claims only the audits its VRF selects it for (about
//! `audit_rate` of its models' jobs, shared among the pool), so the auditor's lane is short and
//! keeps an audit from waiting behind the backlog of the auditor's own assigned jobs.

use super::{execute, owed, Execution, WorkerBehaviour, WorkerStats};
use crate::app::SharedApp;
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use surety_infer::{Executor, Model};
use surety_ledger::jobs::{self, Job, Role};
use surety_types::{JobId, ModelId, OperatorId};

/// Jobs queued or running at once, per worker. A poll queues no more past it; the rest wait
/// for a later poll.
pub(super) const QUEUED_JOBS_MAX: usize = 8_192;

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
    /// Run it honestly as an auditor whose claim has landed.
    Audit,
}

impl Task {
    fn role(&self) -> Role {
        match self {
            Task::Assigned(_) => Role::Worker,
            Task::Audit => Role::Auditor,
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
    /// The job no longer needed the run when its turn came (final, failed, or no longer ours).
    Skipped { job: JobId },
}

impl Done {
    fn job(&self) -> JobId {
        match self {
            Done::Ran { job, .. } | Done::Skipped { job } => *job,
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
            Task::Audit => lanes.audits.push_back(request),
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
    shared: Arc<Shared>,
}

impl<S: Source> Runner<S> {
    fn serve(self) {
        while let Some(request) = self.shared.next() {
            let done = self.run(request);
            self.shared.lanes().finished.push(done);
        }
    }

    /// Run a job, unless the ledger no longer waits for it.
    fn run(&self, request: Request) -> Done {
        let id = request.job.id;
        if !self.source.owes(&id, request.task.role()) {
            return Done::Skipped { job: id };
        }
        let (behaviour, counter) = match request.task {
            Task::Assigned(behaviour) => (behaviour, &self.stats.job_runs),
            Task::Audit => (WorkerBehaviour::Honest, &self.stats.audit_runs),
        };
        let execution = self.source.model(&request.job.model).and_then(|model| {
            execute(model, &self.executor, &request.job, &behaviour).map_err(|e| e.to_string())
        });
        if execution.is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Done::Ran { job: id, execution }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};
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
            audit_window: None,
            audits: Vec::new(),
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

    /// Start `runner` and collect what it finishes until `count` items are done, in order.
    fn serve(mut compute: Compute, runner: Runner<Fake>, count: usize) -> Vec<JobId> {
        let thread = std::thread::spawn(move || runner.serve());
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        while seen.len() < count {
            assert!(Instant::now() < deadline, "the runner did not finish");
            seen.extend(compute.finished().iter().map(Done::job));
            std::thread::sleep(Duration::from_micros(100));
        }
        drop(compute);
        thread.join().unwrap();
        seen
    }

    #[test]
    fn the_auditors_lane_runs_before_the_assigned_backlog() {
        let (mut compute, runner, model, stats) = queue();
        for n in 1..=4 {
            compute.queue(&job(n, &model), Task::Assigned(WorkerBehaviour::Honest));
        }
        compute.queue(&job(10, &model), Task::Audit);
        let seen = serve(compute, runner, 5);
        assert_eq!(seen[0], JobId([10; 32]), "the audit ran first");
        assert_eq!(stats.job_runs.load(Ordering::Relaxed), 4);
        assert_eq!(stats.audit_runs.load(Ordering::Relaxed), 1);
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
