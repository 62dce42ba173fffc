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
use surety_infer::Executor;
use surety_ledger::jobs::{self, Job, Role};
use surety_types::{JobId, ModelId, OperatorId};
use tracing::warn;

/// Jobs queued or running at once, per worker. A poll queues no more past it; the rest wait
/// for a later poll.
pub(super) const QUEUED_JOBS_MAX: usize = 8_192;

/// Weight of the newest run in a model's run-time estimate, in quarters (an EWMA: the last
/// few runs, so that a change of load shows within a few jobs).
const ESTIMATE_NEW_QUARTERS: u32 = 1;

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
    pub(super) fn start(
        app: SharedApp,
        operator: OperatorId,
        executor: Arc<Executor>,
        stats: Arc<WorkerStats>,
    ) -> std::io::Result<Compute> {
        let shared = Arc::new(Shared::default());
        let runner = Runner {
            app,
            operator,
            executor,
            stats,
            estimates: BTreeMap::new(),
            deferred: Vec::new(),
            shared: shared.clone(),
        };
        std::thread::Builder::new()
            .name("surety-worker-compute".into())
            .spawn(move || runner.serve())?;
        Ok(Compute {
            shared,
            queued: BTreeSet::new(),
        })
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
struct Runner {
    app: SharedApp,
    operator: OperatorId,
    executor: Arc<Executor>,
    stats: Arc<WorkerStats>,
    /// EWMA of this worker's run time, by model.
    estimates: BTreeMap<ModelId, Duration>,
    /// Holds whose model has no estimate yet: done when the next run of it is.
    deferred: Vec<(JobId, ModelId)>,
    shared: Arc<Shared>,
}

impl Runner {
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
        self.deferred.push((job.id, job.model));
        None
    }

    /// Deferred holds whose model has no run queued: measure one run of the model now and
    /// release them.
    fn calibrate_deferred(&mut self) {
        if self.deferred.is_empty() {
            return;
        }
        let waiting: Vec<ModelId> = {
            let lanes = self.shared.lanes();
            self.deferred
                .iter()
                .map(|(_, model)| *model)
                .filter(|model| !lanes.has_run_of(model))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        for model in waiting {
            let first = self.deferred.iter().find(|(_, m)| *m == model);
            let job = first.and_then(|(id, _)| self.job(id));
            let timed = job.is_some_and(|job| {
                let ran = self.execute(&job, &WorkerBehaviour::Honest).is_ok();
                if ran {
                    self.stats.calibration_runs.fetch_add(1, Ordering::Relaxed);
                }
                ran
            });
            if !timed {
                warn!(model = %model, "could not time a run for a hold; releasing it now");
            }
            self.release_deferred(&model);
        }
    }

    /// Release every hold waiting for a run of `model`.
    fn release_deferred(&mut self, model: &ModelId) {
        let now = Instant::now();
        let (done, waiting) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|(_, m)| m == model);
        self.deferred = waiting;
        for (job, _) in done {
            self.finish(Done::Held { job, ready_at: now });
        }
    }

    /// Run a job, unless the ledger no longer waits for it.
    fn run(&mut self, request: Request) -> Option<Done> {
        let id = request.job.id;
        if !self.still_owed(&id, request.task.role()) {
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
        let model = {
            let app = self.app.lock().unwrap_or_else(|p| p.into_inner());
            app.ledger().model(&job.model).map_err(|e| e.to_string())?
        };
        let started = Instant::now();
        let execution = execute(model, &self.executor, job, behaviour).map_err(|e| e.to_string());
        let took = started.elapsed();
        let estimate = self.estimates.get(&job.model).map_or(took, |old| {
            (*old * (4 - ESTIMATE_NEW_QUARTERS) + took * ESTIMATE_NEW_QUARTERS) / 4
        });
        self.estimates.insert(job.model, estimate);
        execution
    }

    fn job(&self, id: &JobId) -> Option<Job> {
        let app = self.app.lock().unwrap_or_else(|p| p.into_inner());
        jobs::state::job(app.ledger().store(), id)
    }

    /// Whether the ledger still waits for this operator's seal or reveal of `id` in `role`.
    fn still_owed(&self, id: &JobId, role: Role) -> bool {
        self.job(id)
            .is_some_and(|job| owed(&job, role, &self.operator).is_some())
    }
}
