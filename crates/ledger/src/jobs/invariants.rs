//! Jobs invariants: the escrow holds exactly the fees of the jobs that are neither final nor
//! failed, a job's live assignments never outnumber its replicas, and every open dispute's
//! job says it is disputed by that dispute.

use super::state::{self, JobStatus};
use crate::bank::{self, Pool};
use crate::disputes;
use crate::store::Store;
use surety_types::Amount;

/// Check the jobs invariants (module doc) against `store`.
pub fn check(store: &Store) -> Result<(), String> {
    let mut escrowed = Amount::ZERO;
    for job in state::all_jobs(store) {
        if !matches!(
            job.status,
            JobStatus::Final { .. } | JobStatus::Failed { .. }
        ) {
            escrowed = escrowed
                .checked_add(job.fee)
                .map_err(|_| "escrow sum overflows")?;
        }
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
    let pool = bank::pool_balance(store, Pool::JobEscrow);
    if pool != escrowed {
        return Err(format!(
            "job escrow holds {pool}, open jobs' fees add up to {escrowed}"
        ));
    }
    Ok(())
}
