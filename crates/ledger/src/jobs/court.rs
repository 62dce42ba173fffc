//! Challenges and disputes over a job's results. The court (the disputes module, one layer
//! down) runs the bisection and the referee and knows nothing of jobs; this file opens its
//! disputes, hands it what it needs (the job's model, its input) and applies its verdicts:
//! the losing results slashed, the job failed or its window reopened.

use super::close::{fail, report, Blame};
use super::state;
use super::suspects;
use super::{check_output_proof, AuditOutcome, Job, JobResult, JobStatus, JobsError};
use crate::bank::{self, Pool};
use crate::context::{BlockContext, HookEvent};
use crate::disputes::{self, Challenge, Challenger, Due, Outcome, ProvideStepInput, Verdict};
use crate::models::ModelCache;
use crate::params::Params;
use crate::slashing::FaultKind;
use crate::staking;
use crate::store::Store;
use surety_infer::Activation;
use surety_types::{AccountId, Amount, Hash, JobId, OperatorId};

/// One operator's side of a dispute: its trace root and output hash.
pub(super) struct Side {
    operator: OperatorId,
    root: Hash,
    output: Hash,
}

impl Side {
    /// The side of a committed result.
    pub(super) fn of_result(operator: OperatorId, result: &JobResult) -> Side {
        Side {
            operator,
            root: result.trace_root,
            output: result.output_hash,
        }
    }

    /// The side of a claim: an operator's trace root and output hash (an auditor's).
    pub(super) fn of_claim(operator: OperatorId, root: Hash, output: Hash) -> Side {
        Side {
            operator,
            root,
            output,
        }
    }
}

/// The court's opening for a dispute over `job`.
fn opening(
    job: &Job,
    defendant: Side,
    challenger: Challenger,
    challenger_root: Hash,
    challenger_output: Hash,
    bond: Amount,
) -> disputes::Opening {
    disputes::Opening {
        job: job.id,
        steps: job.steps,
        input_hash: job.input_hash,
        defendant: defendant.operator,
        defendant_root: defendant.root,
        defendant_output: defendant.output,
        challenger,
        challenger_root,
        challenger_output,
        bond,
    }
}

/// Open a dispute in the court and mark the job disputed (the caller stores it).
fn open(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    opening: disputes::Opening,
) -> Result<u64, JobsError> {
    let (defendant, challenger) = (opening.defendant, opening.challenger.clone());
    let id = disputes::open(store, params, ctx, opening)?;
    // The parties are frozen (no stake leaves, no new work) until the verdict: seeing the
    // dispute open must not let a cheater redelegate and unbond out of its slash.
    staking::hold(store, &defendant)?;
    if let Challenger::Operator(operator) = challenger {
        staking::hold(store, &operator)?;
    }
    job.status = JobStatus::Disputed { dispute: id };
    Ok(id)
}

/// A suspect (a result with a losing output under another root) against the winner's claim:
/// no bond, the winner already proved its claim once (`suspects`).
#[allow(clippy::too_many_arguments)]
pub(super) fn open_suspect_dispute(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    suspect: Side,
    winner: Challenger,
    winner_root: Hash,
    winner_output: Hash,
) -> Result<u64, JobsError> {
    let opening = opening(
        job,
        suspect,
        winner,
        winner_root,
        winner_output,
        Amount::ZERO,
    );
    open(store, params, ctx, job, opening)
}

/// Two staked operators (replicas, or an auditor and its target) disagree: no bond.
pub(super) fn open_dispute(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    defendant: Side,
    challenger: Side,
) -> Result<u64, JobsError> {
    let opening = opening(
        job,
        defendant,
        Challenger::Operator(challenger.operator),
        challenger.root,
        challenger.output,
        Amount::ZERO,
    );
    open(store, params, ctx, job, opening)
}

/// Anyone challenges a result in its window, with the challenge bond, while the job has had
/// fewer than `disputes_per_job_max` disputes (counted from the court's index by job): each
/// dispute reopens the window, so this is what bounds how long a job's finality can be held
/// (docs/market.md, "How long a job can be held").
pub fn execute_challenge(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &Challenge,
) -> Result<(), JobsError> {
    let mut job = state::job(store, &msg.job).ok_or(JobsError::UnknownJob(msg.job))?;
    match job.status {
        JobStatus::Challengeable { until } if ctx.height <= until => {}
        _ => return Err(disputes::DisputesError::NotChallengeable(msg.job).into()),
    }
    let result = job
        .assignment_of(&msg.operator)
        .and_then(|a| a.result.clone())
        .ok_or(disputes::DisputesError::NoResult {
            job: msg.job,
            operator: msg.operator,
        })?;
    check_output_proof(
        &msg.output_hash,
        &msg.trace_root,
        job.steps,
        &msg.output_proof,
    )?;
    if msg.output_hash == result.output_hash {
        return Err(disputes::DisputesError::SameOutput.into());
    }
    let disputes = disputes::state::of_job(store, &job.id).len() as u64;
    let limit = params.disputes.disputes_per_job_max;
    if disputes >= u64::from(limit) {
        return Err(disputes::DisputesError::TooManyDisputes {
            job: job.id,
            disputes,
            limit,
        }
        .into());
    }
    let bond = params.disputes.challenge_bond;
    bank::account_to_pool(store, signer, Pool::DisputeBonds, bond)?;
    let opening = opening(
        &job,
        Side::of_result(msg.operator, &result),
        Challenger::Account(*signer),
        msg.trace_root,
        msg.output_hash,
        bond,
    );
    open(store, params, ctx, &mut job, opening)?;
    state::set_job(store, &job);
    Ok(())
}

/// A chunk of the referee's input for a dispute over a job; the last one runs the referee on
/// the job's model. The transaction's `fee` counts in the signer's costs if it is a party.
pub fn execute_provide_input(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
    signer: &AccountId,
    fee: Amount,
    msg: &ProvideStepInput,
) -> Result<(), JobsError> {
    let dispute = disputes::dispute(store, msg.dispute)
        .ok_or(disputes::DisputesError::UnknownDispute(msg.dispute))?;
    let job = state::job(store, &dispute.job).ok_or(JobsError::UnknownJob(dispute.job))?;
    let verdict =
        disputes::execute_provide_input(store, params, ctx, cache, &job.model, signer, fee, msg)?;
    if let Some(verdict) = verdict {
        settle_dispute(store, params, ctx, &verdict)?;
    }
    Ok(())
}

/// End of block, first of the market's phases: moves that timed out, and step-0 disputes,
/// whose input (the job input) the ledger holds, go to the referee; each verdict is applied
/// before the next dispute is looked at.
pub(super) fn end_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
) -> Result<(), JobsError> {
    for dispute in disputes::take_due(store, params, ctx.height) {
        let (id, job) = (dispute.id, dispute.job);
        let settled = store.isolated(|store| settle_due(store, params, ctx, cache, dispute));
        if let Err(error) = settled {
            store.emit(HookEvent::failed(
                "jobs",
                format!("dispute {id} over {job}"),
                error,
            ));
            void_dispute(store, ctx, id, &job);
        }
    }
    Ok(())
}

/// A dispute whose due item failed (dropped, reported): left alone it would stay open for
/// ever, its job `Disputed`, its bond, the client's escrow and both parties' holds kept with
/// nothing due to move them (the review of griefing). Close it with no verdict
/// (`Outcome::Void`: a bond back in full, nobody slashed or paid), release the holds and fail
/// the job, refunding its client, as a job's own failed item does (`close::failed_item`). If
/// even that fails, it is reported too and the state is as the failed item left it.
fn void_dispute(store: &mut Store, ctx: &BlockContext, id: u64, job: &JobId) {
    let voided = store.isolated(|store| {
        void_and_release(store, ctx, id)?;
        let Some(mut record) = state::job(store, job) else {
            return Ok(());
        };
        if record.status == (JobStatus::Disputed { dispute: id }) {
            fail(
                store,
                &mut record,
                "its dispute could not be settled and was voided (see the hook_failed event)",
            )?;
            state::set_job(store, &record);
        }
        Ok::<(), JobsError>(())
    });
    if let Err(error) = voided {
        store.emit(HookEvent::failed(
            "jobs",
            format!("voiding dispute {id} over {job}"),
            error,
        ));
    }
}

/// What is due for one dispute: a timeout or the step-0 referee, and its verdict applied.
fn settle_due(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
    dispute: disputes::Dispute,
) -> Result<(), JobsError> {
    let verdict = match disputes::due(&dispute, ctx.height) {
        Due::Nothing => return Ok(()),
        Due::Timeout { silent } => {
            disputes::resolve(store, ctx, dispute, Outcome::Timeout { silent })?
        }
        Due::StepZero => {
            let job = state::job(store, &dispute.job).ok_or(JobsError::UnknownJob(dispute.job))?;
            match Activation::from_bytes(&job.input) {
                Ok(input) => disputes::referee(store, ctx, cache, &job.model, dispute, &input)?,
                Err(_) => disputes::resolve(store, ctx, dispute, Outcome::BothWrong)?,
            }
        }
    };
    settle_dispute(store, params, ctx, &verdict)
}

/// Close the open dispute `id` with no verdict (`disputes::void`) and release its parties'
/// holds; nothing if it is resolved already.
pub(super) fn void_and_release(
    store: &mut Store,
    ctx: &BlockContext,
    id: u64,
) -> Result<(), JobsError> {
    if let Some(dispute) = disputes::void(store, ctx, id)? {
        release_parties(store, &dispute)?;
    }
    Ok(())
}

/// Release the holds a dispute took on its defendant and on an operator challenger.
fn release_parties(store: &mut Store, dispute: &disputes::Dispute) -> Result<(), JobsError> {
    staking::release(store, &dispute.defendant)?;
    if let Challenger::Operator(operator) = dispute.challenger {
        staking::release(store, &operator)?;
    }
    Ok(())
}

/// Apply the court's verdict over a job: slash whoever lost (with every result and audit that
/// committed the losing output under the losing root), dispute the suspects in turn
/// (`suspects`), and move the job on.
fn settle_dispute(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    verdict: &Verdict,
) -> Result<(), JobsError> {
    let dispute = &verdict.dispute;
    let (defendant_lost, challenger_lost) = (verdict.defendant_lost, verdict.challenger_lost);
    let Some(mut job) = state::job(store, &dispute.job) else {
        // Not reached (a job is not pruned while a dispute of it is open), but the holds must
        // not outlive the dispute whatever happened to its job.
        return release_parties(store, dispute);
    };
    // One dispute per job at a time: a verdict settles the job only if it is the job's
    // current dispute (anything else is a bug, and must not refund or slash twice).
    if job.status
        != (JobStatus::Disputed {
            dispute: dispute.id,
        })
    {
        debug_assert!(
            false,
            "dispute {} is not job {}'s current one",
            dispute.id, job.id
        );
        // The dispute is resolved all the same: its holds must not outlive it.
        return release_parties(store, dispute);
    }
    release_parties(store, dispute)?;
    let chain = suspects::after_verdict(store, &job, verdict);
    for loss in losses(dispute, defendant_lost, challenger_lost) {
        report_auditor_with_output(store, params, ctx, &job, dispute.id, &loss)?;
        report_results_with_output(store, params, ctx, &mut job, &loss)?;
    }
    // Results with the losing output under other roots are disputed in turn before the job
    // moves on (`suspects`); the job then takes the fate of the first verdict.
    let mut defendant_lost = defendant_lost;
    if let Some(chain) = chain {
        if suspects::continue_chain(store, params, ctx, &mut job, &chain)? {
            state::set_job(store, &job);
            return Ok(());
        }
        defendant_lost = chain.defendant_lost;
    }
    if defendant_lost {
        fail(store, &mut job, "the result was proven wrong in a dispute")?;
    } else if !open_deferred_audit(store, params, ctx, &mut job)? {
        // The defendant's result stands; the window runs on from now.
        let until = ctx
            .height
            .saturating_plus(params.jobs.challenge_window_blocks);
        job.status = JobStatus::Challengeable { until };
        state::schedule(store, until, &job.id);
    }
    state::set_job(store, &job);
    Ok(())
}

/// A side that lost a dispute: its original output and its trace root, and who reported it.
struct Loss {
    /// The output the side opened the dispute with.
    output: Hash,
    /// Its trace root, which the verdict proved inconsistent at one step.
    root: Hash,
    /// The side's operator (none for a bonded challenger).
    operator: Option<OperatorId>,
    /// The referee decided it. A side that lost by falling silent proved nothing about its
    /// output: only its own result is wrong, not others that share the output (an honest
    /// replica must not be slashed because its peer went offline).
    proven: bool,
    /// The winning side's account, or no one when both lost.
    reporter: Option<AccountId>,
}

impl Loss {
    /// Whether `operator`'s result or audit with `output` under `root` falls with this loss:
    /// the loser's own, and (when the referee decided) any under the very root proven false.
    /// The same output under another root is a suspect, disputed on its own (`suspects`).
    fn covers(&self, operator: OperatorId, output: Hash, root: Option<Hash>) -> bool {
        output == self.output
            && ((self.proven && root == Some(self.root)) || self.operator == Some(operator))
    }

    /// Who is paid the whistleblower share for a result with this output under `root`: the
    /// reporter for the losing root itself (its proven-false leaf is in that very trace), no
    /// one for another root with the same output. That result is slashed on the presumption
    /// that the output is wrong; a colluding pair that loses on purpose (a made-up leaf
    /// under a right output) must not profit from honest results slashed with it
    /// (docs/market.md, "Attacks considered").
    fn reporter_for(&self, root: Option<Hash>) -> Option<AccountId> {
        self.reporter.filter(|_| root == Some(self.root))
    }
}

/// The sides a verdict proved wrong, each with its original output and root (the bisection
/// moves `defendant_hash`/`challenger_hash`, so the dispute keeps the outputs apart).
fn losses(dispute: &disputes::Dispute, defendant_lost: bool, challenger_lost: bool) -> Vec<Loss> {
    let challenger_account = dispute.challenger.account();
    let defendant_account = dispute.defendant.account();
    let proven = !matches!(
        dispute.phase,
        disputes::Phase::Resolved {
            outcome: Outcome::Timeout { .. },
            ..
        }
    );
    let mut losses = Vec::new();
    if defendant_lost {
        losses.push(Loss {
            output: dispute.defendant_output,
            root: dispute.defendant_root,
            operator: Some(dispute.defendant),
            proven,
            reporter: (!challenger_lost).then_some(challenger_account),
        });
    }
    if challenger_lost {
        let operator = match dispute.challenger {
            Challenger::Operator(operator) => Some(operator),
            Challenger::Account(_) => None,
        };
        losses.push(Loss {
            output: dispute.challenger_output,
            root: dispute.challenger_root,
            operator,
            proven,
            reporter: (!defendant_lost).then_some(defendant_account),
        });
    }
    losses
}

/// The job's auditor committed a wrong result of its own (its signed statement) if its output
/// is one this verdict proved wrong, as this dispute's losing party (its own audit dispute,
/// a suspect dispute it answers as an agreeing auditor, or one it answers as the winner of
/// its audit dispute, whose claim a suspect then proved false) or under the very root the
/// verdict proved false. Dated now. A deferred audit waits for a dispute of its own, which
/// decides it; an audit disputed before was decided there unless the auditor is a party
/// here.
fn report_auditor_with_output(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &Job,
    dispute: u64,
    loss: &Loss,
) -> Result<(), JobsError> {
    for audit in &job.audits {
        let decided_here = match audit.outcome {
            AuditOutcome::Agreed => true,
            AuditOutcome::Disputed { dispute: its_own } => {
                its_own == dispute || loss.operator == Some(audit.auditor)
            }
            _ => false,
        };
        let covered = audit
            .output_hash
            .is_some_and(|output| loss.covers(audit.auditor, output, audit.trace_root));
        if !decided_here || !covered {
            continue;
        }
        let (auditor, reporter) = (audit.auditor, loss.reporter_for(audit.trace_root));
        report(
            store,
            params,
            ctx,
            job,
            Blame {
                operator: auditor,
                kind: FaultKind::WrongResult,
                height: ctx.height,
                reporter,
            },
        )?;
    }
    Ok(())
}

/// Every live result `loss` covers is wrong: the loser's own, and (when the referee decided)
/// any with the losing output under the very root proven false. One with that output under
/// a root of its own is a suspect, disputed on its own (`suspects`). Report each, mark it
/// missed and release its operator's in-flight slot.
fn report_results_with_output(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    loss: &Loss,
) -> Result<(), JobsError> {
    for index in 0..job.assignments.len() {
        let assignment = &job.assignments[index];
        let Some(result) = &assignment.result else {
            continue;
        };
        let covered = loss.covers(
            assignment.operator,
            result.output_hash,
            Some(result.trace_root),
        );
        if assignment.missed || !covered {
            continue;
        }
        let (operator, committed) = (assignment.operator, result.committed);
        let reporter = loss.reporter_for(Some(result.trace_root));
        report(
            store,
            params,
            ctx,
            job,
            Blame {
                operator,
                kind: FaultKind::WrongResult,
                height: committed,
                reporter,
            },
        )?;
        job.assignments[index].missed = true;
        state::release_in_flight(store, &operator, job);
    }
    Ok(())
}

/// Auditors that disagreed while another dispute was open waited their turn: open the first
/// one's dispute now whose audited result still stands (the others wait on; one whose result
/// fell is over). True if one was opened.
fn open_deferred_audit(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
) -> Result<bool, JobsError> {
    for index in 0..job.audits.len() {
        let audit = job.audits[index].clone();
        let (AuditOutcome::Deferred, Some(output), Some(root)) =
            (&audit.outcome, audit.output_hash, audit.trace_root)
        else {
            continue;
        };
        let Some(target) = job
            .assignment_of(&audit.target)
            .and_then(|a| a.result.clone())
        else {
            job.audits[index].outcome = AuditOutcome::Closed;
            continue;
        };
        let auditor = Side {
            operator: audit.auditor,
            root,
            output,
        };
        let id = open_dispute(
            store,
            params,
            ctx,
            job,
            Side::of_result(audit.target, &target),
            auditor,
        )?;
        job.audits[index].outcome = AuditOutcome::Disputed { dispute: id };
        return Ok(true);
    }
    Ok(false)
}
