//! Jobs invariants: the escrow holds exactly the fees of the jobs that are neither final nor
//! failed, a job's live assignments never outnumber its replicas, and every open dispute's
//! job says it is disputed by that dispute, and each operator's fees in flight are its shares
//! of the open jobs it holds a live assignment in.

use super::state::{self, JobStatus};
use crate::bank::{self, Pool};
use crate::disputes;
use crate::store::Store;
use std::collections::BTreeMap;
use surety_types::{Amount, OperatorId};

/// Check the jobs invariants (module doc) against `store`.
pub fn check(store: &Store) -> Result<(), String> {
    let mut escrowed = Amount::ZERO;
    let mut in_flight: BTreeMap<OperatorId, Amount> = BTreeMap::new();
    for job in state::all_jobs(store) {
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
    let pool = bank::pool_balance(store, Pool::JobEscrow);
    if pool != escrowed {
        return Err(format!(
            "job escrow holds {pool}, open jobs' fees add up to {escrowed}"
        ));
    }
    Ok(())
}
