//! Who works on a job: operators assigned with the block seed, weighted by the stake they
//! allocated to the model's service; and, once every assignee has sealed, a designated auditor
//! from outside their families, drawn with the seed of a later block, whose own VRF then says
//! (with probability `audit_rate`) whether it audits.

use super::state::{self, Pending};
use super::{Assignment, Audit, AuditOutcome, Job, JobStatus, JobsError, JobsEvent, Role};
use crate::congestion::Stretch;
use crate::context::BlockContext;
use crate::params::Params;
use crate::services;
use crate::sortition;
use crate::store::Store;
use surety_types::{AccountId, Amount, Height, OperatorId};

/// Begin block: assign queued jobs with this block's seed, then draw the auditors due now
/// (with the same seed, which nobody could know when their jobs' last seal was included).
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
            _ => continue,
        }
        state::set_job(store, &job);
    }
    for id in state::take_draws(store, ctx.height) {
        let Some(mut job) = state::job(store, &id) else {
            continue;
        };
        let waiting = job.status == JobStatus::Assigned
            && job.audit.is_none()
            && job.live_assignments().all(|a| a.seal.is_some());
        if !waiting {
            continue;
        }
        designate_auditor(store, ctx, &mut job);
        if job.audit.is_none() {
            // Nobody outside the assignees' families serves the model: no audit.
            super::commit::open_reveals(store, params, ctx, &mut job);
        }
        state::set_job(store, &job);
    }
    Ok(())
}

/// Blocks from the block that holds a job's last assignee seal to the earliest block whose seed
/// may draw its auditor. To know that seed while the seal can still be left out or put in,
/// `AUDITOR_DRAW_DELAY + 1` consecutive proposers must collude (each seed is its proposer's
/// VRF over the one before): docs/market.md, "When the auditor is drawn".
pub const AUDITOR_DRAW_DELAY: u64 = 3;

/// The checkpoint after `offset` (blocks after a job's first assignment): every block up to
/// 8, then each a quarter further (8, 10, 12, 15, 18, 22, 27, …). An auditor is drawn only at
/// a checkpoint, so an assignee that holds its seal back to wait for a seed it likes gets one
/// new draw per checkpoint, not per block: about `4 · ln(span)` of them in a span.
fn next_checkpoint(offset: u64) -> u64 {
    offset.saturating_add((offset / 4).max(1))
}

/// The height whose seed draws the auditor of a job first assigned at `first` whose last
/// assignee sealed in block `sealed`: the first checkpoint at least [`AUDITOR_DRAW_DELAY`]
/// blocks after the seal.
pub fn auditor_draw_height(first: Height, sealed: Height) -> Height {
    let earliest = sealed.get().saturating_add(AUDITOR_DRAW_DELAY);
    let mut offset = 1u64;
    loop {
        let at = first.get().saturating_add(offset);
        if at >= earliest || offset == u64::MAX {
            return Height::new(at);
        }
        offset = next_checkpoint(offset);
    }
}

/// How many checkpoints lie within `span` blocks of a job's first assignment: the most draws an
/// assignee can choose among by timing its seal (`Params::validate` counts them).
pub fn draw_checkpoints_within(span: u64) -> u64 {
    let mut offset = 1u64;
    let mut count = 0u64;
    while offset <= span {
        count = count.saturating_add(1);
        if offset == u64::MAX {
            break;
        }
        offset = next_checkpoint(offset);
    }
    count
}

/// Every live assignee of `job` has sealed in this block (`ctx`): schedule its auditor's draw.
pub(super) fn schedule_auditor_draw(store: &mut Store, ctx: &BlockContext, job: &Job) {
    let first = job
        .assignments
        .iter()
        .map(|a| a.assigned)
        .min()
        .unwrap_or(ctx.height);
    let at = auditor_draw_height(first, ctx.height);
    state::schedule_draw(store, at, &job.id);
    store.emit(JobsEvent::AuditorDrawScheduled { job: job.id, at });
}

/// An eligible operator and what ties it to an owner: its account and its declared family.
struct Candidate {
    operator: OperatorId,
    weight: Amount,
    family: Option<AccountId>,
}

/// True when `a` and `b` have one owner (docs/market.md, "Families"): one is the other, they
/// declare the same family, or one declares the other as its family's head.
fn same_owner(a: &Candidate, b: &Candidate) -> bool {
    a.operator == b.operator
        || a.family == Some(b.operator.account())
        || b.family == Some(a.operator.account())
        || (a.family.is_some() && a.family == b.family)
}

/// Operators eligible for `job`'s model, with their families.
fn eligible(store: &Store, job: &Job) -> Vec<Candidate> {
    services::eligible_with_family(store, &job.model)
        .into_iter()
        .map(|(operator, weight, family)| Candidate {
            operator,
            weight,
            family,
        })
        .collect()
}

/// The job's parties (every assignee, replaced ones included, and its auditor) as candidates,
/// with their families read from state (a party may have left the service since).
fn parties(store: &Store, job: &Job) -> Vec<Candidate> {
    let auditor = job.audit.as_ref().map(|a| a.auditor);
    job.assignments
        .iter()
        .map(|a| a.operator)
        .chain(auditor)
        .map(|operator| Candidate {
            operator,
            weight: Amount::ZERO,
            family: crate::staking::state::operator(store, &operator)
                .and_then(|o| o.metadata.family),
        })
        .collect()
}

/// Operators that may still work on `job`: not of one owner with any of its parties (so no
/// owner holds two replicas of one job, or audits its own result).
fn candidates(store: &Store, job: &Job) -> Vec<Candidate> {
    let parties = parties(store, job);
    eligible(store, job)
        .into_iter()
        .filter(|candidate| parties.iter().all(|party| !same_owner(candidate, party)))
        .collect()
}

/// Draw `job`'s designated auditor among the eligible operators outside every assignee's
/// family, weighted by allocation, once every assignee has sealed. It owes a seal within the
/// job's deadline whether or not its VRF selects it; the assignees reveal once it has sealed
/// (or missed). With nobody eligible the job goes on unaudited (docs/market.md).
fn designate_auditor(store: &mut Store, ctx: &BlockContext, job: &mut Job) {
    let pool: Vec<(OperatorId, Amount)> = candidates(store, job)
        .into_iter()
        .map(|c| (c.operator, c.weight))
        .collect();
    let Some(index) =
        sortition::draw_weighted(&pool, &ctx.seed, "surety.job.auditor", &job.id.0, 0)
    else {
        return;
    };
    let auditor = pool[index].0;
    let target = job
        .live_assignments()
        .next()
        .map_or(auditor, |a| a.operator);
    // A begin-block hook: saturate rather than fail the block (see `assign`). The auditor may
    // have to run the model before it seals, so it gets the time an assignee got.
    let deadline = ctx.height.saturating_plus(job.deadline_blocks);
    job.audit = Some(Audit {
        auditor,
        target,
        deadline,
        seal: None,
        selected: None,
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
    let mut pool: Vec<Candidate> = candidates(store, job)
        .into_iter()
        .filter(|c| has_capacity(store, params, &c.operator, c.weight, job))
        .collect();
    let mut assigned = 0;
    while assigned < count && !pool.is_empty() {
        let round = job.assignments.len() as u64;
        let weights: Vec<(OperatorId, Amount)> =
            pool.iter().map(|c| (c.operator, c.weight)).collect();
        let Some(index) =
            sortition::draw_weighted(&weights, &ctx.seed, "surety.job.assign", &job.id.0, round)
        else {
            break;
        };
        let picked = pool.remove(index);
        pool.retain(|c| !same_owner(c, &picked));
        let operator = picked.operator;
        // Runs in begin- and end-block hooks, where an error would fail the block: saturate as
        // the deadline always could (heights never come near u64::MAX; a deadline there means
        // never, and `deadline_blocks` is bounded by the parameters at submission).
        let deadline = ctx.height.saturating_plus(job.deadline_blocks);
        job.assignments.push(Assignment {
            operator,
            assigned: ctx.height,
            deadline,
            seal: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn a_cheat_that_holds_its_seal_back_sees_one_new_draw_per_checkpoint() {
        let first = Height::new(100);
        // Sealed at once: drawn `AUDITOR_DRAW_DELAY` blocks later.
        assert_eq!(
            auditor_draw_height(first, Height::new(101)),
            Height::new(101 + AUDITOR_DRAW_DELAY)
        );
        // Every seal height in a 2,000-block window lands on one of few draw heights.
        let window = 2_000u64;
        let mut draws = BTreeSet::new();
        for sealed in 101..=100 + window {
            let at = auditor_draw_height(first, Height::new(sealed));
            // Never before the delay, and at most a quarter of the wait (plus one) later.
            assert!(at.get() >= sealed + AUDITOR_DRAW_DELAY);
            let wait = sealed + AUDITOR_DRAW_DELAY - first.get();
            assert!(
                at.get() - first.get() <= wait + wait / 4 + 1,
                "{sealed} → {at}"
            );
            draws.insert(at);
        }
        let bound = draw_checkpoints_within(window + AUDITOR_DRAW_DELAY);
        assert!(draws.len() as u64 <= bound, "{} > {bound}", draws.len());
        // 8 single blocks, then a quarter further each: about 4 · ln(2,000 / 8) more.
        assert_eq!(bound, 33);
        assert_eq!(draw_checkpoints_within(8), 8);
        assert_eq!(draw_checkpoints_within(0), 0);
    }
}
