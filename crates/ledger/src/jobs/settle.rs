//! The end of a job: deadlines missed (slashed and reassigned), audits timed out, finality
//! (the fee paid to the operators and the audit fund) or failure (the client refunded).

use super::assign::assign;
use super::state;
use super::{AuditOutcome, Job, JobStatus, JobsError, JobsEvent};
use crate::bank::{self, Pool};
use crate::context::{BlockContext, HookEvent};
use crate::models::ModelCache;
use crate::params::Params;
use crate::rewards;
use crate::services;
use crate::slashing::{self, FaultKind, Offence, SlashingError};
use crate::store::Store;
use surety_types::{AccountId, Amount, Height, JobId, OperatorId};

/// End of block: first the court's due disputes (their verdicts applied), then deadlines, audit
/// timeouts and finality for the jobs due now.
pub fn end_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
) -> Result<(), JobsError> {
    super::court::end_block(store, params, ctx, cache)?;
    for id in state::take_due(store, ctx.height) {
        if let Err(error) = store.isolated(|store| settle_due(store, params, ctx, &id)) {
            failed_item(store, &id, &error);
        }
    }
    Ok(())
}

/// A job's item failed in a hook and was dropped: report it, and refund the client if that
/// still can be done, so the escrow does not wait for ever on a job nothing will move again.
pub(super) fn failed_item(store: &mut Store, id: &JobId, error: &JobsError) {
    store.emit(HookEvent::failed("jobs", id, error));
    let refund = store.isolated(|store| {
        let mut job = state::job(store, id).ok_or(JobsError::UnknownJob(*id))?;
        if matches!(
            job.status,
            JobStatus::Final { .. } | JobStatus::Failed { .. }
        ) {
            return Ok(());
        }
        fail(
            store,
            &mut job,
            "an internal error stopped the job (see the hook_failed event)",
        )?;
        state::set_job(store, &job);
        Ok::<(), JobsError>(())
    });
    if let Err(error) = refund {
        store.emit(HookEvent::failed("jobs", id, error));
    }
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
        JobStatus::Assigned => missed_deadlines(store, params, ctx, &mut job)?,
        JobStatus::Challengeable { until } => {
            audit_timeout(store, params, ctx, &mut job)?;
            let audit_open = job
                .audit
                .as_ref()
                .is_some_and(|a| a.outcome == AuditOutcome::Pending);
            if ctx.height >= until && !audit_open {
                finalize(store, params, ctx, &mut job)?;
            }
        }
        _ => {}
    }
    state::set_job(store, &job);
    Ok(())
}

/// Who is at fault in a job, for what, since when, and who reported it.
pub(super) struct Blame {
    pub(super) operator: OperatorId,
    pub(super) kind: FaultKind,
    pub(super) height: Height,
    pub(super) reporter: Option<AccountId>,
}

/// Report a fault in `job`'s service: slashed at most the operator's allocation to it, the
/// client named as harmed. A fault already penalised as much in its window is no error.
pub(super) fn report(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &Job,
    blame: Blame,
) -> Result<(), JobsError> {
    let Blame {
        operator,
        kind,
        height,
        reporter,
    } = blame;
    // A dispute can outlast the evidence age (long deadlines, reopened windows): date such an
    // offence at the oldest height still reportable rather than fail the hook.
    let height = height.max(slashing::oldest_reportable(params, ctx));
    let offence = Offence {
        operator,
        kind,
        height,
        reporter,
        harmed: Some(job.client),
        cap: Some(services::slashable(store, &job.model, &operator).unwrap_or_default()),
    };
    match slashing::report(store, params, ctx, offence) {
        Ok(()) | Err(SlashingError::AlreadyPenalised(_)) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

fn missed_deadlines(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
) -> Result<(), JobsError> {
    let late: Vec<usize> = job
        .assignments
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.missed && a.result.is_none() && a.deadline <= ctx.height)
        .map(|(index, _)| index)
        .collect();
    for index in &late {
        let operator = job.assignments[*index].operator;
        job.assignments[*index].missed = true;
        state::remove_work(store, &operator, &job.id);
        let deadline = job.assignments[*index].deadline;
        report(
            store,
            params,
            ctx,
            job,
            Blame {
                operator,
                kind: FaultKind::MissedDeadline,
                height: deadline,
                reporter: None,
            },
        )?;
        store.emit(JobsEvent::DeadlineMissed {
            job: job.id,
            operator,
        });
    }
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
    if assign(store, ctx, job, needed)? < needed {
        return fail(
            store,
            job,
            "deadlines missed and no operator left to reassign to",
        );
    }
    Ok(())
}

fn audit_timeout(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
) -> Result<(), JobsError> {
    let Some(audit) = job.audit.clone() else {
        return Ok(());
    };
    if audit.outcome != AuditOutcome::Pending || audit.deadline > ctx.height {
        return Ok(());
    }
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
    if let Some(audit) = job.audit.as_mut() {
        audit.outcome = AuditOutcome::Missed;
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
    let workers: Vec<OperatorId> = job
        .live_assignments()
        .filter(|a| a.result.is_some())
        .map(|a| a.operator)
        .collect();
    let portion = Amount(
        job.fee
            .0
            .checked_div(workers.len().max(1) as u128)
            .expect("max(1) is not zero"),
    );
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
    if let Some(audit) = &job.audit {
        if audit.outcome == AuditOutcome::Agreed {
            let reward = market
                .audit_reward
                .min(bank::pool_balance(store, Pool::AuditFund));
            rewards::pay_operator(store, Pool::AuditFund, &audit.auditor, reward)?;
        }
    }
    job.status = JobStatus::Final { height: ctx.height };
    store.emit(JobsEvent::JobFinal { job: job.id });
    Ok(())
}

/// Refund the client and close the job without a result.
pub(super) fn fail(store: &mut Store, job: &mut Job, reason: &str) -> Result<(), JobsError> {
    bank::pool_to_account(store, Pool::JobEscrow, &job.client, job.fee)?;
    for assignment in job
        .assignments
        .iter()
        .filter(|a| !a.missed && a.result.is_none())
    {
        state::remove_work(store, &assignment.operator, &job.id);
    }
    if let Some(audit) = job.audit.as_mut() {
        // A failed job's audit is over: an auditor's late commit must not open a dispute on a
        // job whose escrow is already refunded.
        if audit.outcome == AuditOutcome::Pending {
            state::remove_work(store, &audit.auditor, &job.id);
        }
        if matches!(
            audit.outcome,
            AuditOutcome::Pending | AuditOutcome::Deferred
        ) {
            audit.outcome = AuditOutcome::Closed;
        }
    }
    job.status = JobStatus::Failed {
        reason: reason.to_string(),
    };
    store.emit(JobsEvent::JobFailed {
        job: job.id,
        reason: reason.to_string(),
    });
    Ok(())
}
