//! The end of a job: seal deadlines missed (slashed and reassigned), reveals missed (slashed),
//! audits timed out, finality (the fee paid to the operators and the audit fund) or failure
//! (the client refunded).

use super::assign::assign;
use super::close::{fail, failed_item, report, Blame};
use super::commit::{all_revealed, all_sealed, open_reveals, reveals_complete};
use super::prune;
use super::state;
use super::{Audit, AuditOutcome, Job, JobStatus, JobsError, JobsEvent};
use crate::bank::{self, Pool};
use crate::congestion;
use crate::context::BlockContext;
use crate::params::Params;
use crate::rewards;
use crate::slashing::FaultKind;
use crate::store::Store;
use surety_types::{Amount, JobId, OperatorId};

/// End of block, after the court's phase: deadlines, audit timeouts and finality for the jobs
/// due now.
pub(super) fn end_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
) -> Result<(), JobsError> {
    for id in state::take_due(store, ctx.height) {
        if let Err(error) = store.isolated(|store| settle_due(store, params, ctx, &id)) {
            failed_item(store, ctx, &id, &error);
        }
    }
    Ok(())
}

/// What is due for one job at the end of this block.
fn settle_due(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    id: &JobId,
) -> Result<(), JobsError> {
    let Some(mut job) = state::job(store, id) else {
        return Ok(());
    };
    match job.status.clone() {
        JobStatus::Assigned => {
            missed_deadlines(store, params, ctx, &mut job)?;
            audit_timeout(store, params, ctx, &mut job)?;
            stretch_claims(store, params, ctx, &mut job);
            if job
                .audit_window
                .as_ref()
                .is_some_and(|window| window.until <= ctx.height)
            {
                // No claim is taken after this block: workers need not look at it again.
                state::close_claims(store, &job);
            }
            // No claim is taken after this block.
            if job.status == JobStatus::Assigned && all_sealed(&job, ctx.height.saturating_plus(1))
            {
                open_reveals(store, params, ctx, &mut job);
            }
        }
        JobStatus::Revealing { .. } => {
            missed_reveals(store, params, ctx, &mut job)?;
            if all_revealed(&job) {
                reveals_complete(store, params, ctx, &mut job)?;
            }
        }
        JobStatus::Disputed { .. } => audit_timeout(store, params, ctx, &mut job)?,
        JobStatus::Challengeable { until } => {
            audit_timeout(store, params, ctx, &mut job)?;
            let audit_open = job
                .audits
                .iter()
                .any(|a| a.outcome == AuditOutcome::Pending);
            if ctx.height >= until && !audit_open {
                finalize(store, params, ctx, &mut job)?;
            }
        }
        _ => {}
    }
    state::set_job(store, &job);
    Ok(())
}

fn missed_deadlines(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
) -> Result<(), JobsError> {
    stretch_deadlines(store, params, ctx, job);
    let late = late_assignments(job, ctx, |a| a.seal.is_none());
    report_late(store, params, ctx, job, &late, FaultKind::MissedDeadline)?;
    if late.is_empty() {
        return Ok(());
    }
    let needed = late.len() as u32;
    // An end-block hook. A sum past u32::MAX is past any maximum, so saturating keeps the
    // comparison right; below the maximum the sum is exact.
    let reassignments = job.reassignments.saturating_add(needed);
    if reassignments > params.jobs.reassignments_max {
        return fail(store, job, "deadlines missed and no reassignments left");
    }
    job.reassignments = reassignments;
    if assign(store, params, ctx, job, needed)? < needed {
        return fail(
            store,
            job,
            "deadlines missed and no operator left to reassign to",
        );
    }
    Ok(())
}

/// Assignees that sealed and did not reveal by their deadline: reported `WithheldResult`
/// (slashed as a wrong result: an unopened seal may hide one) and dropped. The job is not
/// reassigned (other results may be public now, and a newcomer could copy them); it goes on
/// with the results revealed.
fn missed_reveals(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
) -> Result<(), JobsError> {
    stretch_deadlines(store, params, ctx, job);
    let late = late_assignments(job, ctx, |a| a.result.is_none());
    report_late(store, params, ctx, job, &late, FaultKind::WithheldResult)
}

/// The indices of `job`'s live assignments past their deadline that still `owe` something
/// (a seal, or a reveal).
fn late_assignments(
    job: &Job,
    ctx: &BlockContext,
    owes: impl Fn(&super::Assignment) -> bool,
) -> Vec<usize> {
    job.assignments
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.missed && owes(a) && a.deadline <= ctx.height)
        .map(|(index, _)| index)
        .collect()
}

/// Report each late assignee (`kind`: a missed seal or a withheld reveal), mark it missed and
/// free its work and its fees in flight.
fn report_late(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    late: &[usize],
    kind: FaultKind,
) -> Result<(), JobsError> {
    for index in late {
        let operator = job.assignments[*index].operator;
        job.assignments[*index].missed = true;
        state::remove_work(store, &operator, &job.id);
        state::release_in_flight(store, &operator, job);
        let deadline = job.assignments[*index].deadline;
        report(
            store,
            params,
            ctx,
            job,
            Blame {
                operator,
                kind,
                height: deadline,
                reporter: None,
            },
        )?;
        store.emit(JobsEvent::DeadlineMissed {
            job: job.id,
            operator,
        });
    }
    Ok(())
}

/// Move on, by the slack blocks (full or off schedule) seen since, each deadline of `job` that is due now and has no
/// result (docs/market.md, "Deadlines and full blocks"). A deadline already further behind
/// than the slack blocks it saw (judged late) stays where it is and times out now: moving it to
/// a height already passed would leave a schedule entry nothing ever takes.
fn stretch_deadlines(store: &mut Store, params: &Params, ctx: &BlockContext, job: &mut Job) {
    let cap = params.jobs.deadline_blocks_max;
    let sealing = job.status == JobStatus::Assigned;
    let phase = Phase::of(&job.status);
    let mut moved = Vec::new();
    for assignment in job.assignments.iter_mut() {
        let owes = if sealing {
            assignment.seal.is_none()
        } else {
            assignment.result.is_none()
        };
        if assignment.missed || !owes || assignment.deadline > ctx.height {
            continue;
        }
        let moved_to = assignment.stretch.moved(store, assignment.deadline, cap);
        if let Some(deadline) = moved_to.filter(|d| *d > ctx.height) {
            assignment.deadline = deadline;
            moved.push((assignment.operator, deadline));
        }
    }
    for audit in job.audits.iter_mut() {
        if audit_owes(phase, audit) && audit.deadline <= ctx.height {
            let moved_to = audit.stretch.moved(store, audit.deadline, cap);
            if let Some(deadline) = moved_to.filter(|d| *d > ctx.height) {
                audit.deadline = deadline;
                moved.push((audit.auditor, deadline));
            }
        }
    }
    if let JobStatus::Revealing { until } = &mut job.status {
        if let Some(latest) = moved.iter().map(|(_, deadline)| *deadline).max() {
            *until = (*until).max(latest);
        }
    }
    for (operator, deadline) in moved {
        state::schedule(store, deadline, &job.id);
        store.emit(JobsEvent::DeadlineExtended {
            job: job.id,
            operator,
            deadline,
        });
    }
}

/// A claim window due now whose final `audit_claim_blocks` blocks held a slack block moves on
/// to that many after the last one, `audit_claim_blocks` late at most (so it stays within the
/// pool it is weighed against: `Params::validate` keeps an epoch as long as the longest
/// window). A spammer that fills the window's blocks only lengthens it.
fn stretch_claims(store: &mut Store, params: &Params, ctx: &BlockContext, job: &mut Job) {
    let length = params.jobs.audit_claim_blocks;
    let Some(window) = job.audit_window.as_mut() else {
        return;
    };
    if window.until != ctx.height {
        return;
    }
    let latest = window.draw_at.saturating_plus(length.saturating_mul(2));
    let Some(until) =
        congestion::restarted(congestion::last_slack(store), window.until, length, latest)
            .filter(|until| *until > ctx.height)
    else {
        return;
    };
    window.until = until;
    state::list_claims(store, job, until);
    state::schedule(store, until, &job.id);
    store.emit(JobsEvent::AuditClaimsExtended { job: job.id, until });
}

/// Where a job is, for what its auditors owe.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Parties seal.
    Sealing,
    /// Assignees reveal; the auditors wait.
    Revealing,
    /// The assignees' results are compared: the auditors reveal.
    Compared,
    /// Nothing is owed.
    Over,
}

impl Phase {
    fn of(status: &JobStatus) -> Phase {
        match status {
            JobStatus::Assigned => Phase::Sealing,
            JobStatus::Revealing { .. } => Phase::Revealing,
            JobStatus::Challengeable { .. } | JobStatus::Disputed { .. } => Phase::Compared,
            _ => Phase::Over,
        }
    }
}

/// An auditor still owes its seal (while sealing) or its reveal (once the assignees' results
/// are compared).
fn audit_owes(phase: Phase, audit: &Audit) -> bool {
    audit.outcome == AuditOutcome::Pending
        && match phase {
            Phase::Sealing => audit.seal.is_none(),
            Phase::Compared => audit.output_hash.is_none(),
            Phase::Revealing | Phase::Over => false,
        }
}

/// Auditors that missed their seal or their reveal: reported, and the job goes on without
/// their audits.
fn audit_timeout(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
) -> Result<(), JobsError> {
    stretch_deadlines(store, params, ctx, job);
    let phase = Phase::of(&job.status);
    let late: Vec<usize> = job
        .audits
        .iter()
        .enumerate()
        .filter(|(_, audit)| audit_owes(phase, audit) && audit.deadline <= ctx.height)
        .map(|(index, _)| index)
        .collect();
    for index in late {
        let audit: Audit = job.audits[index].clone();
        state::remove_work(store, &audit.auditor, &job.id);
        report(
            store,
            params,
            ctx,
            job,
            Blame {
                operator: audit.auditor,
                kind: FaultKind::MissedDeadline,
                height: audit.deadline,
                reporter: None,
            },
        )?;
        store.emit(JobsEvent::DeadlineMissed {
            job: job.id,
            operator: audit.auditor,
        });
        job.audits[index].outcome = AuditOutcome::Missed;
    }
    Ok(())
}

/// Pay the operators and the audit fund, and close the job.
fn finalize(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
) -> Result<(), JobsError> {
    let market = &params.jobs;
    let result = job
        .result()
        .cloned()
        .ok_or_else(|| JobsError::Invalid(format!("job {} has no result to make final", job.id)))?;
    let workers: Vec<OperatorId> = job
        .live_assignments()
        .filter(|a| a.result.is_some())
        .map(|a| a.operator)
        .collect();
    let portion = job
        .fee
        .checked_div(workers.len().max(1) as u128)
        .expect("max(1) is not zero");
    let mut paid = Amount::ZERO;
    for operator in &workers {
        let to_fund = market.audit_fund_share.mul_floor(portion);
        let to_operator = portion.checked_sub(to_fund)?;
        rewards::pay_operator(store, Pool::JobEscrow, operator, to_operator)?;
        paid = paid.checked_add(to_operator)?;
        store.emit(JobsEvent::JobPaid {
            job: job.id,
            operator: *operator,
            amount: to_operator,
        });
    }
    // The audit share and the division remainder go to the audit fund.
    bank::pool_to_pool(
        store,
        Pool::JobEscrow,
        Pool::AuditFund,
        job.fee.checked_sub(paid)?,
    )?;
    for audit in job
        .audits
        .iter()
        .filter(|a| a.outcome == AuditOutcome::Agreed)
    {
        let reward = market
            .audit_reward
            .min(bank::pool_balance(store, Pool::AuditFund));
        rewards::pay_operator(store, Pool::AuditFund, &audit.auditor, reward)?;
    }
    for assignment in job.live_assignments() {
        state::release_in_flight(store, &assignment.operator, job);
    }
    job.status = JobStatus::Final { height: ctx.height };
    prune::closed(store, &job.id);
    store.emit(JobsEvent::JobFinal {
        job: job.id,
        output_hash: result.output_hash,
        trace_root: result.trace_root,
        committed: result.committed,
    });
    Ok(())
}
