//! Jobs invariants: the escrow holds exactly the fees of the jobs that are neither final nor
//! failed (pruned jobs were closed, so they held none), a job's live assignments never
//! outnumber its replicas, every open dispute's job says it is disputed by that dispute, every
//! final or failed job still in state is queued to be pruned, while the queue names only
//! closed jobs (or jobs already gone), each operator's fees in flight are its shares of the
//! open jobs it holds a live assignment in, no result is revealed before every live party of
//! its job has sealed, no audit claim window opens before every live assignee has sealed (and
//! a sealing job whose assignees all sealed has one, whose opening is scheduled until its seed
//! is in), and the claim listing names only jobs still sealing in an open window.

use super::state::{self, JobStatus};
use crate::bank::{self, Pool};
use crate::disputes;
use crate::store::Store;
use std::collections::{BTreeMap, BTreeSet};
use surety_types::{Amount, JobId, OperatorId};

/// Check the jobs invariants (module doc) against `store`.
pub fn check(store: &Store) -> Result<(), String> {
    let mut escrowed = Amount::ZERO;
    let mut in_flight: BTreeMap<OperatorId, Amount> = BTreeMap::new();
    for (model, id) in state::all_open_claims(store) {
        let job = state::job(store, &id);
        let listed = job.as_ref().is_some_and(|job| {
            job.model == model
                && job.status == JobStatus::Assigned
                && job.audit_window.as_ref().is_some_and(|w| w.seed.is_some())
        });
        if !listed {
            return Err(format!(
                "job {id} is listed for audit claims but is not sealing in a claim window"
            ));
        }
    }
    let draws: BTreeSet<(surety_types::Height, JobId)> =
        state::scheduled_draws(store).into_iter().collect();
    for job in state::all_jobs(store) {
        check_window(&job)?;
        let waiting = job
            .audit_window
            .as_ref()
            .filter(|w| job.status == JobStatus::Assigned && w.seed.is_none());
        if let Some(window) = waiting {
            if !draws.contains(&(window.draw_at, job.id)) {
                return Err(format!(
                    "job {} waits for its claim window's seed with no opening scheduled at {}",
                    job.id, window.draw_at
                ));
            }
        }
        if !matches!(
            job.status,
            JobStatus::Final { .. } | JobStatus::Failed { .. }
        ) {
            escrowed = escrowed
                .checked_add(job.fee)
                .map_err(|_| "escrow sum overflows")?;
            for assignment in job.live_assignments() {
                let held = in_flight.entry(assignment.operator).or_default();
                *held = held
                    .checked_add(job.fee_share())
                    .map_err(|_| "in-flight sum overflows")?;
            }
        }
        check_blind(&job)?;
        let live = job.live_assignments().count();
        if live > job.replicas as usize {
            return Err(format!(
                "job {} has {live} live assignments for {} replicas",
                job.id, job.replicas
            ));
        }
    }
    for dispute in disputes::disputes_from(store, 0, usize::MAX) {
        if !dispute.is_open() {
            continue;
        }
        let status = state::job(store, &dispute.job).map(|job| job.status);
        if status
            != Some(JobStatus::Disputed {
                dispute: dispute.id,
            })
        {
            return Err(format!(
                "open dispute {} but its job's status is {status:?}",
                dispute.id
            ));
        }
    }
    let recorded: BTreeMap<OperatorId, Amount> = state::all_in_flight(store).into_iter().collect();
    if recorded != in_flight {
        return Err(format!(
            "fees in flight recorded {recorded:?}, open jobs' live assignments add up to \
             {in_flight:?}"
        ));
    }
    check_prune_queue(store)?;
    let pool = bank::pool_balance(store, Pool::JobEscrow);
    if pool != escrowed {
        return Err(format!(
            "job escrow holds {pool}, open jobs' fees add up to {escrowed}"
        ));
    }
    Ok(())
}

/// Blind results: no result of a job is revealed while one of its live parties (an assignee,
/// or an auditor still in the audit) has not sealed, so nobody seals after seeing another's
/// answer.
fn check_blind(job: &super::Job) -> Result<(), String> {
    let revealed = job.live_assignments().any(|a| a.result.is_some())
        || job.audits.iter().any(|a| a.output_hash.is_some());
    if !revealed {
        return Ok(());
    }
    let unsealed_worker = job.live_assignments().any(|a| a.seal.is_none());
    let unsealed_auditor = job
        .audits
        .iter()
        .any(|a| a.seal.is_none() && a.outcome == super::AuditOutcome::Pending);
    if unsealed_worker || unsealed_auditor {
        return Err(format!(
            "job {} has a revealed result while a live party has not sealed",
            job.id
        ));
    }
    Ok(())
}

/// Auditors select themselves only once the assignees sealed: a job with a claim window (or an
/// audit) has no unsealed live assignee, and a sealing job whose assignees all sealed has its
/// window.
fn check_window(job: &super::Job) -> Result<(), String> {
    let sealed = job.live_assignments().all(|a| a.seal.is_some());
    if (job.audit_window.is_some() || !job.audits.is_empty()) && !sealed {
        return Err(format!(
            "job {} has an audit window or an auditor while a live assignee has not sealed",
            job.id
        ));
    }
    if !job.audits.is_empty() && job.audit_window.is_none() {
        return Err(format!("job {} has an auditor but no claim window", job.id));
    }
    if job.status == JobStatus::Assigned && sealed && job.audit_window.is_none() {
        return Err(format!(
            "job {} has every assignee sealed and no claim window",
            job.id
        ));
    }
    Ok(())
}

/// Every closed job in state is queued to be pruned; every queued job still in state is closed;
/// no job closed in the last block is left without a prune height.
fn check_prune_queue(store: &Store) -> Result<(), String> {
    if state::has_closed_marks(store) {
        return Err("a job closed in the last block was not given a prune height".into());
    }
    let queued: BTreeSet<JobId> = state::prune_queue(store)
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    for job in state::all_jobs(store) {
        let closed = matches!(
            job.status,
            JobStatus::Final { .. } | JobStatus::Failed { .. }
        );
        if closed != queued.contains(&job.id) {
            return Err(format!(
                "job {} is {:?} and {}queued for pruning",
                job.id,
                job.status,
                if closed { "not " } else { "" }
            ));
        }
    }
    Ok(())
}
