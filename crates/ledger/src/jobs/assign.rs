//! Who works on a job: operators assigned with the block seed, weighted by the stake they
//! allocated to the model's service, and an auditor drawn with probability `audit_rate`.

use super::state::{self, Pending};
use super::{Assignment, Audit, AuditOutcome, Job, JobStatus, JobsError, JobsEvent, Role};
use crate::congestion::Stretch;
use crate::context::BlockContext;
use crate::params::Params;
use crate::services;
use crate::sortition;
use crate::store::Store;
use surety_types::{Amount, OperatorId};

/// Begin block: assign queued jobs and draw audits, with this block's seed.
pub fn begin_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
) -> Result<(), JobsError> {
    for (id, action) in state::take_pending(store) {
        let Some(mut job) = state::job(store, &id) else {
            continue;
        };
        match (action, &job.status) {
            (Pending::Assign, JobStatus::Queued) => {
                let replicas = job.replicas;
                let assigned = assign(store, params, ctx, &mut job, replicas)?;
                if assigned < job.replicas {
                    super::close::fail(store, &mut job, "not enough eligible operators")?;
                } else {
                    job.status = JobStatus::Assigned;
                }
            }
            (Pending::DrawAudit, JobStatus::Challengeable { .. }) => {
                draw_audit(store, params, ctx, &mut job);
            }
            _ => continue,
        }
        state::set_job(store, &job);
    }
    Ok(())
}

/// Operators eligible for `job` that are not already assigned to it (in any role).
fn candidates(store: &Store, job: &Job) -> Vec<(OperatorId, Amount)> {
    services::eligible(store, &job.model)
        .into_iter()
        .filter(|(operator, _)| {
            !job.assignments.iter().any(|a| a.operator == *operator)
                && job.audit.as_ref().is_none_or(|a| a.auditor != *operator)
        })
        .collect()
}

/// Whether `operator`, with `weight` of slashable allocation, can take `job` without its fees
/// in flight passing `in_flight_fee_fraction` of that allocation (docs/market.md, "Fees in
/// flight"): cheating on everything it holds at once must gain less than one audit's slash.
fn has_capacity(
    store: &Store,
    params: &Params,
    operator: &OperatorId,
    weight: Amount,
    job: &Job,
) -> bool {
    let cap = params.jobs.in_flight_fee_fraction.mul_floor(weight);
    state::in_flight(store, operator)
        .checked_add(job.fee_share())
        .is_ok_and(|total| total <= cap)
}

/// Assign up to `count` more operators to `job`; returns how many were assigned. Only
/// operators with room for the job's fee share in flight are drawn.
pub(super) fn assign(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    count: u32,
) -> Result<u32, JobsError> {
    let mut pool: Vec<(OperatorId, Amount)> = candidates(store, job)
        .into_iter()
        .filter(|(operator, weight)| has_capacity(store, params, operator, *weight, job))
        .collect();
    let mut assigned = 0;
    while assigned < count && !pool.is_empty() {
        let round = job.assignments.len() as u64;
        let Some(index) =
            sortition::draw_weighted(&pool, &ctx.seed, "surety.job.assign", &job.id.0, round)
        else {
            break;
        };
        let (operator, _) = pool.remove(index);
        // Runs in begin- and end-block hooks, where an error would fail the block: saturate as
        // the deadline always could (heights never come near u64::MAX; a deadline there means
        // never, and `deadline_blocks` is bounded by the parameters at submission).
        let deadline = ctx.height.saturating_plus(job.deadline_blocks);
        job.assignments.push(Assignment {
            operator,
            assigned: ctx.height,
            deadline,
            result: None,
            missed: false,
            stretch: Stretch::starting(store),
        });
        state::schedule(store, deadline, &job.id);
        state::add_work(store, &operator, &job.id, Role::Worker);
        state::add_in_flight(store, &operator, job);
        store.emit(JobsEvent::JobAssigned {
            job: job.id,
            operator,
            deadline,
        });
        // `assigned < count <= u32::MAX` here, so this never saturates.
        assigned = assigned.saturating_add(1);
    }
    Ok(assigned)
}

fn draw_audit(store: &mut Store, params: &Params, ctx: &BlockContext, job: &mut Job) {
    let market = &params.jobs;
    let roll = sortition::draw(&ctx.seed, "surety.job.audit", &job.id.0, 0, 1_000_000_000);
    if roll >= u128::from(market.audit_rate.ppb()) {
        return;
    }
    let Some(target) = job.live_assignments().next().map(|a| a.operator) else {
        return;
    };
    let pool = candidates(store, job);
    let Some(index) =
        sortition::draw_weighted(&pool, &ctx.seed, "surety.job.auditor", &job.id.0, 0)
    else {
        return;
    };
    let auditor = pool[index].0;
    // A begin-block hook: saturate rather than fail the block (see `assign`).
    let deadline = ctx.height.saturating_plus(market.audit_deadline_blocks);
    job.audit = Some(Audit {
        auditor,
        target,
        deadline,
        output_hash: None,
        trace_root: None,
        outcome: AuditOutcome::Pending,
        stretch: Stretch::starting(store),
    });
    state::schedule(store, deadline, &job.id);
    state::add_work(store, &auditor, &job.id, Role::Auditor);
    store.emit(JobsEvent::AuditAssigned {
        job: job.id,
        auditor,
        deadline,
    });
}
