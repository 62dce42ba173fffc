//! Blind results (DESIGN §5 step 3, docs/market.md "Blind results"). Every assignee first
//! seals a hiding commitment to its result. Once all have, the job's audit claim window opens:
//! every operator whose own VRF over the sealed job selects it claims the audit (so no
//! assignee knew, when it sealed, whether or by whom it would be audited), and seals in turn.
//! Once the window is over and every claimed auditor has sealed (or missed its deadline), the
//! job is `Revealing` and the assignees open their seals. Nobody can copy an answer it cannot
//! see. Once every assignee's seal is open their results are compared (disagreement opens a
//! dispute in the court) and the challenge window opens; then the auditors reveal, and each
//! result is compared with the one it audits.
//!
//! Claims, seals and reveals come in batches (one transaction per operator per block carries all it
//! owes); each item applies on its own, and a refused item is an `ItemRefused` event.

use super::close::fail;
use super::court::{open_dispute, Side};
use super::state;
use super::{
    seal_commitment, AuditOutcome, ClaimAudits, CommitResult, Job, JobResult, JobStatus, JobsError,
    JobsEvent, Reveal, RevealResults, Seal, SealResults,
};
use crate::congestion::Stretch;
use crate::context::BlockContext;
use crate::params::Params;
use crate::store::Store;
use surety_infer::Activation;
use surety_types::{AccountId, Height, JobId, OperatorId};

/// Seal results for jobs the signer's operator works on or audits.
pub fn execute_seal(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &SealResults,
) -> Result<(), JobsError> {
    check_signer(&msg.operator, signer)?;
    apply_batch(
        store,
        &msg.operator,
        &msg.seals,
        |seal| seal.job,
        |store, seal| seal_one(store, params, ctx, &msg.operator, seal),
    )
}

/// Claim audits of jobs in their claim window: each claim carries the claimant's VRF proof.
pub fn execute_claim(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    chain_id: &str,
    signer: &AccountId,
    msg: &ClaimAudits,
) -> Result<(), JobsError> {
    check_signer(&msg.operator, signer)?;
    apply_batch(
        store,
        &msg.operator,
        &msg.claims,
        |claim| claim.job,
        |store, claim| super::assign::claim_one(store, params, ctx, chain_id, &msg.operator, claim),
    )
}

/// Reveal sealed results of jobs whose seal phase is over.
pub fn execute_reveal(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &RevealResults,
) -> Result<(), JobsError> {
    check_signer(&msg.operator, signer)?;
    apply_batch(
        store,
        &msg.operator,
        &msg.reveals,
        |reveal| reveal.job,
        |store, reveal| reveal_one(store, params, ctx, &msg.operator, reveal),
    )
}

fn check_signer(operator: &OperatorId, signer: &AccountId) -> Result<(), JobsError> {
    if operator.account() != *signer {
        return Err(JobsError::NotSigner {
            operator: *operator,
        });
    }
    Ok(())
}

/// Apply each item in a layer of its own: a refused item is dropped whole and reported as an
/// event, the others stand. A batch none of whose items applies is refused with the first
/// item's error.
fn apply_batch<T>(
    store: &mut Store,
    operator: &OperatorId,
    items: &[T],
    job_of: impl Fn(&T) -> JobId,
    mut apply: impl FnMut(&mut Store, &T) -> Result<(), JobsError>,
) -> Result<(), JobsError> {
    let mut first_error = None;
    let mut applied = 0usize;
    for item in items {
        match store.isolated(|store| apply(store, item)) {
            Ok(()) => applied = applied.saturating_add(1),
            Err(error) => {
                store.emit(JobsEvent::ItemRefused {
                    job: job_of(item),
                    operator: *operator,
                    error: error.to_string(),
                });
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        Some(error) if applied == 0 => Err(error),
        None if applied == 0 => Err(JobsError::Invalid("the batch is empty".into())),
        _ => Ok(()),
    }
}

fn seal_one(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    operator: &OperatorId,
    seal: &Seal,
) -> Result<(), JobsError> {
    // One key read before the job (input, outputs) is loaded: a batch of items naming jobs
    // the operator owes nothing costs the ledger little.
    if !state::has_work(store, operator, &seal.job) {
        return Err(JobsError::NotAssigned {
            job: seal.job,
            operator: *operator,
        });
    }
    let mut job = state::job(store, &seal.job).ok_or(JobsError::UnknownJob(seal.job))?;
    if job.status != JobStatus::Assigned {
        return Err(JobsError::WrongPhase {
            job: job.id,
            what: "seals",
        });
    }
    let assignment = job
        .assignments
        .iter_mut()
        .find(|a| !a.missed && a.operator == *operator && a.seal.is_none());
    let assignee = assignment.is_some();
    if let Some(assignment) = assignment {
        assignment.seal = Some(seal.commitment);
    } else if let Some(audit) = job
        .audits
        .iter_mut()
        .find(|a| a.auditor == *operator && a.seal.is_none() && a.outcome == AuditOutcome::Pending)
    {
        audit.seal = Some(seal.commitment);
    } else {
        return Err(JobsError::NotAssigned {
            job: job.id,
            operator: *operator,
        });
    }
    store.emit(JobsEvent::ResultSealed {
        job: job.id,
        operator: *operator,
    });
    if assignee && job.audit_window.is_none() && assignees_sealed(&job) {
        // The last assignee sealed: only now can anyone's VRF say whether it audits.
        super::assign::open_claims(store, params, ctx, &mut job)?;
    } else if all_sealed(&job, ctx.height) {
        open_reveals(store, params, ctx, &mut job);
    }
    state::set_job(store, &job);
    Ok(())
}

/// Every live assignee has sealed.
pub(super) fn assignees_sealed(job: &Job) -> bool {
    job.live_assignments().all(|a| a.seal.is_some())
}

/// Every live assignee has sealed, the claim window is over at `height`, and every auditor
/// claimed in it has sealed or is out of the audit.
pub(super) fn all_sealed(job: &Job, height: Height) -> bool {
    assignees_sealed(job)
        && job
            .audit_window
            .as_ref()
            .is_some_and(|window| height > window.until)
        && job
            .audits
            .iter()
            .all(|a| a.seal.is_some() || a.outcome != AuditOutcome::Pending)
}

/// The seal phase is over: every sealed party reveals by `now + reveal_blocks`.
pub(super) fn open_reveals(store: &mut Store, params: &Params, ctx: &BlockContext, job: &mut Job) {
    // A transaction or an end-block hook: saturate as every deadline does.
    let until = ctx.height.saturating_plus(params.jobs.reveal_blocks);
    for assignment in job.assignments.iter_mut().filter(|a| !a.missed) {
        assignment.deadline = until;
        assignment.stretch = Stretch::starting(store);
    }
    for audit in job.audits.iter_mut() {
        if audit.outcome == AuditOutcome::Pending {
            audit.deadline = until;
            audit.stretch = Stretch::starting(store);
        }
    }
    state::close_claims(store, job);
    job.status = JobStatus::Revealing { until };
    state::schedule(store, until, &job.id);
    store.emit(JobsEvent::RevealsOpen { job: job.id, until });
}

fn reveal_one(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    operator: &OperatorId,
    reveal: &Reveal,
) -> Result<(), JobsError> {
    if !state::has_work(store, operator, &reveal.job) {
        return Err(JobsError::NotAssigned {
            job: reveal.job,
            operator: *operator,
        });
    }
    let mut job = state::job(store, &reveal.job).ok_or(JobsError::UnknownJob(reveal.job))?;
    let revealing = matches!(job.status, JobStatus::Revealing { .. });
    let worker = job
        .assignments
        .iter()
        .position(|a| !a.missed && a.operator == *operator && a.result.is_none());
    let audit = job.audits.iter().position(|a| {
        a.auditor == *operator && a.outcome == AuditOutcome::Pending && a.output_hash.is_none()
    });
    // Assignees reveal first; auditors only once their results are compared, so no auditor
    // sees a result before its own is open.
    let auditor_turn = matches!(
        job.status,
        JobStatus::Challengeable { .. } | JobStatus::Disputed { .. }
    );
    if (worker.is_some() && !revealing) || (audit.is_some() && !auditor_turn) {
        return Err(JobsError::WrongPhase {
            job: job.id,
            what: if audit.is_some() {
                "the auditor's reveal"
            } else {
                "reveals"
            },
        });
    }
    let seal = match (worker, audit) {
        (Some(index), _) => job.assignments[index].seal,
        (None, Some(index)) => job.audits[index].seal,
        (None, None) => {
            return Err(JobsError::NotAssigned {
                job: job.id,
                operator: *operator,
            })
        }
    };
    let opened = open_seal(
        params,
        &job,
        operator,
        seal,
        &reveal.salt,
        &reveal.result,
        ctx,
    )?;
    if let Some(index) = worker {
        store.emit(JobsEvent::ResultCommitted {
            job: job.id,
            operator: *operator,
            output_hash: opened.output_hash,
        });
        job.assignments[index].result = Some(opened);
    } else if let Some(index) = audit {
        job.audits[index].output_hash = Some(opened.output_hash);
        job.audits[index].trace_root = Some(opened.trace_root);
        store.emit(JobsEvent::AuditRevealed {
            job: job.id,
            auditor: *operator,
        });
        state::remove_work(store, operator, &job.id);
        if let Some(target) = job.result().cloned() {
            compare_audit(store, params, ctx, &mut job, index, &target)?;
        }
        state::set_job(store, &job);
        return Ok(());
    }
    state::remove_work(store, operator, &job.id);
    if all_revealed(&job) {
        reveals_complete(store, params, ctx, &mut job)?;
    }
    state::set_job(store, &job);
    Ok(())
}

/// Check a revealed result (signer, job, steps, output) and that it opens `seal`.
fn open_seal(
    params: &Params,
    job: &Job,
    operator: &OperatorId,
    seal: Option<surety_types::Hash>,
    salt: &[u8; 32],
    msg: &CommitResult,
    ctx: &BlockContext,
) -> Result<JobResult, JobsError> {
    let statement = &msg.result.statement;
    if msg.result.operator != *operator {
        return Err(JobsError::NotSigner {
            operator: msg.result.operator,
        });
    }
    if statement.job != job.id {
        return Err(JobsError::Invalid(format!(
            "the result is for job {}, the reveal for {}",
            statement.job, job.id
        )));
    }
    if !msg.result.verify() {
        return Err(JobsError::BadResultSignature);
    }
    check_output(params, job, msg)?;
    if seal != Some(seal_commitment(operator, statement, salt)) {
        return Err(JobsError::SealMismatch);
    }
    Ok(JobResult {
        output: msg.output.clone(),
        output_hash: statement.output_hash,
        trace_root: statement.trace_root,
        committed: ctx.height,
    })
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

/// Every live assignee has revealed.
pub(super) fn all_revealed(job: &Job) -> bool {
    job.live_assignments().all(|a| a.result.is_some())
}

/// Every assignee's seal is open (or its owner was reported): compare the results, and give
/// the auditors (still in the audit) `reveal_blocks` to reveal their own. With no result revealed
/// at all the job fails (a reassignment now could copy a revealed result).
pub(super) fn reveals_complete(
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
        return fail(store, job, "no assignee revealed its sealed result");
    };
    for audit in job.audits.iter_mut() {
        audit.target = first_operator;
    }
    let disagreeing = results
        .iter()
        .find(|(_, r)| r.output_hash != first.output_hash)
        .cloned();
    if let Some((operator, result)) = disagreeing {
        open_dispute(
            store,
            params,
            ctx,
            job,
            Side::of_result(first_operator, &first),
            Side::of_result(operator, &result),
        )?;
    }
    for audit in job.audits.iter_mut() {
        if audit.outcome == AuditOutcome::Pending {
            audit.deadline = ctx.height.saturating_plus(params.jobs.reveal_blocks);
            audit.stretch = Stretch::starting(store);
            state::schedule(store, audit.deadline, &job.id);
            store.emit(JobsEvent::AuditRevealOpen {
                job: job.id,
                auditor: audit.auditor,
                until: audit.deadline,
            });
        }
    }
    if matches!(job.status, JobStatus::Revealing { .. }) {
        let until = ctx
            .height
            .saturating_plus(params.jobs.challenge_window_blocks);
        job.status = JobStatus::Challengeable { until };
        state::schedule(store, until, &job.id);
    }
    Ok(())
}

/// Audit `index`'s result against the one it audits (`target`'s): the same output with another
/// trace gives the client the same answer and counts as agreeing; a different output is
/// disputed (after the dispute open over the job, if one is: one dispute per job at a time).
fn compare_audit(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    index: usize,
    target: &JobResult,
) -> Result<(), JobsError> {
    let Some(audit) = job.audits.get(index).cloned() else {
        return Ok(());
    };
    let (AuditOutcome::Pending, Some(output), Some(root)) =
        (&audit.outcome, audit.output_hash, audit.trace_root)
    else {
        return Ok(());
    };
    let outcome = if output == target.output_hash {
        store.emit(JobsEvent::AuditAgreed {
            job: job.id,
            auditor: audit.auditor,
        });
        AuditOutcome::Agreed
    } else if matches!(job.status, JobStatus::Disputed { .. }) {
        AuditOutcome::Deferred
    } else {
        let id = open_dispute(
            store,
            params,
            ctx,
            job,
            Side::of_result(audit.target, target),
            Side::of_claim(audit.auditor, root, output),
        )?;
        AuditOutcome::Disputed { dispute: id }
    };
    if let Some(audit) = job.audits.get_mut(index) {
        audit.outcome = outcome;
    }
    Ok(())
}
