//! Results: an assigned operator commits its signed statement and output; once every live
//! assignment has, the results are compared. An auditor's result is compared with the one it
//! audits. Disagreement opens a dispute in the court.

use super::court::{open_dispute, Side};
use super::state::{self, Pending};
use super::{AuditOutcome, CommitResult, Job, JobResult, JobStatus, JobsError, JobsEvent};
use crate::context::BlockContext;
use crate::params::Params;
use crate::store::Store;
use surety_infer::Activation;
use surety_types::{AccountId, OperatorId};

/// A signed result from an assigned operator or the job's auditor.
pub fn execute_commit(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &CommitResult,
) -> Result<(), JobsError> {
    let statement = &msg.result.statement;
    let operator = msg.result.operator;
    if operator.account() != *signer {
        return Err(JobsError::NotSigner { operator });
    }
    if !msg.result.verify() {
        return Err(JobsError::BadResultSignature);
    }
    let mut job = state::job(store, &statement.job).ok_or(JobsError::UnknownJob(statement.job))?;
    check_output(params, &job, msg)?;
    let is_worker = matches!(job.status, JobStatus::Assigned)
        && job
            .assignment_of(&operator)
            .is_some_and(|a| a.result.is_none());
    let is_auditor = job
        .audit
        .as_ref()
        .is_some_and(|audit| audit.auditor == operator && audit.outcome == AuditOutcome::Pending);
    if is_worker {
        commit_worker(store, params, ctx, &mut job, msg)?;
    } else if is_auditor {
        commit_audit(store, params, ctx, &mut job, msg)?;
    } else {
        return Err(JobsError::NotAssigned {
            job: job.id,
            operator,
        });
    }
    state::set_job(store, &job);
    Ok(())
}

/// The statement's step count is the model's, and the output is the one it states.
fn check_output(params: &Params, job: &Job, msg: &CommitResult) -> Result<(), JobsError> {
    let statement = &msg.result.statement;
    if statement.steps != job.steps {
        return Err(JobsError::WrongSteps {
            got: statement.steps,
            expected: job.steps,
        });
    }
    let limit = params.jobs.job_output_bytes_max;
    let length = u64::try_from(msg.output.len()).unwrap_or(u64::MAX);
    if length > limit {
        return Err(JobsError::OutputTooLarge { got: length, limit });
    }
    let output = Activation::from_bytes(&msg.output).map_err(|_| JobsError::OutputMismatch)?;
    if output.hash() != statement.output_hash {
        return Err(JobsError::OutputMismatch);
    }
    Ok(())
}

/// An assigned operator's result; the last one in compares them all.
fn commit_worker(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    msg: &CommitResult,
) -> Result<(), JobsError> {
    let statement = &msg.result.statement;
    let operator = msg.result.operator;
    let assignment = job
        .assignments
        .iter_mut()
        .find(|a| !a.missed && a.operator == operator)
        .expect("the caller checked the assignment");
    assignment.result = Some(JobResult {
        output: msg.output.clone(),
        output_hash: statement.output_hash,
        trace_root: statement.trace_root,
        committed: ctx.height,
    });
    state::remove_work(store, &operator, &job.id);
    store.emit(JobsEvent::ResultCommitted {
        job: job.id,
        operator,
        output_hash: statement.output_hash,
    });
    if job.live_assignments().all(|a| a.result.is_some()) {
        results_complete(store, params, ctx, job)?;
    }
    Ok(())
}

/// The auditor's result. Same output with another trace gives the client the same answer: it
/// counts as agreeing. A different output is disputed.
fn commit_audit(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    msg: &CommitResult,
) -> Result<(), JobsError> {
    let statement = &msg.result.statement;
    let operator = msg.result.operator;
    let audit = job.audit.clone().expect("the caller checked the audit");
    state::remove_work(store, &operator, &job.id);
    let target = job
        .assignment_of(&audit.target)
        .and_then(|a| a.result.clone());
    let mut outcome = AuditOutcome::Agreed;
    if let Some(target_result) = target {
        if target_result.output_hash != statement.output_hash
            && matches!(job.status, JobStatus::Disputed { .. })
        {
            // One dispute per job at a time: this one opens when the current one settles,
            // if the audited result still stands then.
            outcome = AuditOutcome::Deferred;
        } else if target_result.output_hash != statement.output_hash {
            let id = open_dispute(
                store,
                params,
                ctx,
                job,
                Side::of_result(audit.target, &target_result),
                Side::of_statement(operator, statement),
            )?;
            outcome = AuditOutcome::Disputed { dispute: id };
        }
    }
    if outcome == AuditOutcome::Agreed {
        store.emit(JobsEvent::AuditAgreed {
            job: job.id,
            auditor: operator,
        });
    }
    if let Some(audit) = job.audit.as_mut() {
        audit.output_hash = Some(statement.output_hash);
        audit.trace_root = Some(statement.trace_root);
        audit.outcome = outcome;
    }
    Ok(())
}

/// Every live assignment has a result: compare them.
fn results_complete(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
) -> Result<(), JobsError> {
    let results: Vec<(OperatorId, JobResult)> = job
        .live_assignments()
        .filter_map(|a| a.result.clone().map(|r| (a.operator, r)))
        .collect();
    let Some((first_operator, first)) = results.first().cloned() else {
        return Ok(());
    };
    let disagreeing = results
        .iter()
        .find(|(_, r)| r.output_hash != first.output_hash)
        .cloned();
    match disagreeing {
        None => {
            let until = ctx
                .height
                .saturating_plus(params.jobs.challenge_window_blocks);
            job.status = JobStatus::Challengeable { until };
            state::schedule(store, until, &job.id);
            state::queue_for_next_block(store, &job.id, Pending::DrawAudit);
        }
        Some((operator, result)) => {
            open_dispute(
                store,
                params,
                ctx,
                job,
                Side::of_result(first_operator, &first),
                Side::of_result(operator, &result),
            )?;
        }
    }
    Ok(())
}
