//! Two different signed results for one job by one operator (DESIGN §5 step 3): equivocation,
//! slashed in the job's service. The slashing module takes the offence; this module checks the
//! evidence, because only it knows who was given the job and since when.

use super::state::{self, Job};
use crate::context::BlockContext;
use crate::params::Params;
use crate::services;
use crate::slashing::{self, FaultKind, Offence, SlashingError};
use crate::store::Store;
use surety_types::result::SignedResult;
use surety_types::{AccountId, Height};

/// Check two signed results as equivocation evidence and report the offence (whistleblower:
/// the signer; harmed: the job's client; capped at the operator's allocation to the model).
pub fn execute_result_equivocation(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    chain_id: &str,
    signer: &AccountId,
    first: &SignedResult,
    second: &SignedResult,
) -> Result<(), SlashingError> {
    let invalid = |reason: &str| SlashingError::InvalidResultEvidence(reason.to_string());
    if first.operator != second.operator || first.statement.job != second.statement.job {
        return Err(invalid("the results are not by one operator for one job"));
    }
    if first.statement == second.statement {
        return Err(invalid("the two results are the same"));
    }
    if first.statement.chain_id != chain_id || second.statement.chain_id != chain_id {
        return Err(SlashingError::WrongChain(first.statement.chain_id.clone()));
    }
    if !first.verify() || !second.verify() {
        return Err(invalid("a signature does not verify"));
    }
    let job = state::job(store, &first.statement.job)
        .ok_or(SlashingError::JobTooOldOrUnknown(first.statement.job))?;
    let operator = first.operator;
    let assigned = job.assignments.iter().find(|a| a.operator == operator);
    let audited = job.audit_of(&operator);
    let since = match (assigned, audited) {
        (Some(assignment), _) => assignment.assigned,
        (None, Some(_)) => job.submitted,
        (None, None) => return Err(invalid("the operator was never given this job")),
    };
    slashing::report(
        store,
        params,
        ctx,
        Offence {
            operator,
            kind: FaultKind::Equivocation,
            height: since,
            reporter: Some(*signer),
            harmed: Some(job.client),
            cap: Some(services::slashable(store, &job.model, &operator).unwrap_or_default()),
        },
    )
}

/// The latest offence height result-equivocation evidence about `job` can name: the height an
/// operator was given the job (its assignment, or the job's submission for its auditor; see
/// `since` above). `slashing::report` refuses evidence once that height's epoch is more than
/// `evidence_max_age_epochs` old, so from the epoch after that the job can leave state
/// (`prune`).
pub(super) fn latest_offence_height(job: &Job) -> Height {
    job.assignments
        .iter()
        .map(|assignment| assignment.assigned)
        .fold(job.submitted, Height::max)
}
