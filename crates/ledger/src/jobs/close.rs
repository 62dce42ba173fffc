//! How a job closes without a result, and how its faults are reported: shared by the
//! assignment, settlement and court files (a leaf of the jobs module, so those do not import
//! each other in a circle).

use super::state;
use super::{AuditOutcome, Job, JobStatus, JobsError, JobsEvent};
use crate::bank::{self, Pool};
use crate::context::{BlockContext, HookEvent};
use crate::params::Params;
use crate::services;
use crate::slashing::{self, FaultKind, Offence, SlashingError};
use crate::store::Store;
use surety_types::{AccountId, Height, JobId, OperatorId};

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

/// A job's item failed in a hook and was dropped: report it, and refund the client if that
/// still can be done, so the escrow does not wait for ever on a job nothing will move again.
/// A dispute open over it is voided first (`court::void_and_release`): once the job is failed
/// no verdict could settle it, and its holds would outlive it.
pub(super) fn failed_item(store: &mut Store, ctx: &BlockContext, id: &JobId, error: &JobsError) {
    store.emit(HookEvent::failed("jobs", id, error));
    let refund = store.isolated(|store| {
        let mut job = state::job(store, id).ok_or(JobsError::UnknownJob(*id))?;
        if matches!(
            job.status,
            JobStatus::Final { .. } | JobStatus::Failed { .. }
        ) {
            return Ok(());
        }
        if let JobStatus::Disputed { dispute } = job.status {
            super::court::void_and_release(store, ctx, dispute)?;
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

/// Refund the client and close the job without a result.
pub(super) fn fail(store: &mut Store, job: &mut Job, reason: &str) -> Result<(), JobsError> {
    bank::pool_to_account(store, Pool::JobEscrow, &job.client, job.fee)?;
    for assignment in job.live_assignments() {
        if assignment.result.is_none() {
            state::remove_work(store, &assignment.operator, &job.id);
        }
        state::release_in_flight(store, &assignment.operator, job);
    }
    for audit in job.audits.iter_mut() {
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
    state::close_claims(store, job);
    job.status = JobStatus::Failed {
        reason: reason.to_string(),
    };
    super::prune::closed(store, &job.id);
    store.emit(JobsEvent::JobFailed {
        job: job.id,
        reason: reason.to_string(),
    });
    Ok(())
}
