//! Jobs: the inference market (DESIGN §5, docs/market.md).
//!
//! 1. `SubmitJob` escrows the fee and queues the job. The next block's begin hook assigns
//!    `replicas` operators with that block's seed, weighted by the stake they allocated to the
//!    model's service (jailed and frozen operators skipped): nobody knew that seed when the
//!    job was signed or included.
//! 2. Each assignee commits a signed [`ResultStatement`] with its output, bound to its trace
//!    root by a Merkle proof of the last leaf. A missed deadline is a `MissedDeadline` fault and
//!    the job is reassigned (up to `reassignments_max` times, then refunded).
//! 3. Results that disagree open a dispute between the replicas. Results that agree open the
//!    challenge window; the next block's seed decides, with probability `audit_rate`, whether an
//!    auditor re-executes the job. An auditor that disagrees opens a dispute.
//! 4. At the end of the window, with no dispute open and the audit done, the job is final: the
//!    fee pays the operators (through the rewards module, so delegators share it) and the audit
//!    fund. A result a dispute proves wrong is slashed (`WrongResult`, bounded by the service
//!    allocation), with every identical result, and the client is refunded.

pub mod error;
pub mod invariants;
pub mod msg;
pub mod state;

pub use error::JobsError;
pub use msg::{CommitResult, JobInput, ResultStatement, SignedResult, SubmitJob};
pub use state::{Assignment, Audit, AuditOutcome, Job, JobResult, JobStatus, Role};

use crate::bank::{self, Pool};
use crate::models::{self, ModelCache};
use crate::params::Params;
use crate::slashing::{self, FaultKind, Offence, SlashingError};
use crate::store::Store;
use crate::{rewards, services, BlockContext, Event};
use state::Pending;
use surety_infer::{Activation, Architecture};
use surety_types::merkle::MerkleProof;
use surety_types::{AccountId, Amount, Hash, Height, JobId, OperatorId};

/// Stateless shape of a job: what can be refused before it reaches a block.
pub fn check_submit_shape(msg: &SubmitJob) -> Result<(), JobsError> {
    if msg.replicas == 0 {
        return Err(JobsError::Invalid(
            "a job needs at least one replica".into(),
        ));
    }
    match &msg.input {
        JobInput::Text(text) if text.is_empty() => {
            Err(JobsError::BadInput("the text is empty".into()))
        }
        JobInput::Activation(bytes) if bytes.is_empty() => {
            Err(JobsError::BadInput("the activation is empty".into()))
        }
        _ => Ok(()),
    }
}

/// Stateless shape of a result: chain, signature, and the output's binding to the trace.
pub fn check_commit_shape(msg: &CommitResult, chain_id: &str) -> Result<(), JobsError> {
    let statement = &msg.result.statement;
    if statement.chain_id != chain_id {
        return Err(JobsError::Invalid(format!(
            "the result is for chain {:?}",
            statement.chain_id
        )));
    }
    if statement.steps == 0 {
        return Err(JobsError::WrongSteps {
            got: 0,
            expected: 1,
        });
    }
    check_output_proof(
        &statement.output_hash,
        &statement.trace_root,
        statement.steps,
        &msg.output_proof,
    )
}

/// `output_hash` is leaf `steps - 1` of `trace_root`.
pub fn check_output_proof(
    output_hash: &Hash,
    trace_root: &Hash,
    steps: u64,
    proof: &MerkleProof,
) -> Result<(), JobsError> {
    if proof.leaf_count != steps || proof.index + 1 != steps {
        return Err(JobsError::BadOutputProof(format!(
            "proof is for leaf {} of {}, expected the last of {steps}",
            proof.index, proof.leaf_count
        )));
    }
    proof
        .verify(trace_root, &output_hash.0)
        .map_err(|e| JobsError::BadOutputProof(e.to_string()))
}

/// The canonical input activation of a job, checked against the model.
pub fn canonical_input(
    store: &Store,
    params: &Params,
    cache: &ModelCache,
    msg: &SubmitJob,
) -> Result<Activation, JobsError> {
    let limit = params.market.job_input_bytes_max;
    let record = models::active(store, &msg.model)?;
    let model = models::loaded(store, cache, &msg.model)?;
    let architecture = &model.manifest().architecture;
    if matches!(architecture, Architecture::Llama(_)) {
        return Err(JobsError::Unsupported(msg.model));
    }
    let activation = match &msg.input {
        JobInput::Text(text) => {
            if text.len() as u64 > limit {
                return Err(JobsError::InputTooLarge {
                    got: text.len() as u64,
                    limit,
                });
            }
            if !record.text {
                return Err(JobsError::NotTextModel(msg.model));
            }
            let tokens = model
                .tokenizer()
                .and_then(|tokenizer| tokenizer.encode(text))
                .map_err(|e| JobsError::BadInput(e.to_string()))?;
            surety_infer::models::bert::input(&tokens)
        }
        JobInput::Activation(bytes) => {
            if bytes.len() as u64 > limit {
                return Err(JobsError::InputTooLarge {
                    got: bytes.len() as u64,
                    limit,
                });
            }
            Activation::from_bytes(bytes).map_err(|e| JobsError::BadInput(e.to_string()))?
        }
    };
    let checked = match architecture {
        Architecture::Bert(config) => config.check_input(&activation),
        Architecture::Mlp(config) => config.check_input(&activation),
        Architecture::Cnn(config) => config.check_input(&activation),
        Architecture::Llama(config) => config.check_input(&activation),
    };
    checked.map_err(|e| JobsError::BadInput(e.to_string()))?;
    Ok(activation)
}

pub fn job_id(tx_hash: &Hash) -> JobId {
    JobId(Hash::of("surety.job-id", &tx_hash.0).0)
}

pub fn execute_submit(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
    signer: &AccountId,
    tx_hash: &Hash,
    msg: &SubmitJob,
) -> Result<(), JobsError> {
    let market = &params.market;
    if msg.max_fee < market.job_fee_min || msg.max_fee > market.job_fee_max {
        return Err(JobsError::FeeOutOfRange {
            got: msg.max_fee,
            min: market.job_fee_min,
            max: market.job_fee_max,
        });
    }
    if msg.replicas == 0 || msg.replicas > market.replicas_max {
        return Err(JobsError::Replicas {
            got: msg.replicas,
            max: market.replicas_max,
        });
    }
    if msg.deadline_blocks < market.deadline_blocks_min
        || msg.deadline_blocks > market.deadline_blocks_max
    {
        return Err(JobsError::Deadline {
            got: msg.deadline_blocks,
            min: market.deadline_blocks_min,
            max: market.deadline_blocks_max,
        });
    }
    let record = models::active(store, &msg.model)?;
    let input = canonical_input(store, params, cache, msg)?;
    let eligible = services::eligible(store, &msg.model).len();
    if eligible < msg.replicas as usize {
        return Err(JobsError::NotEnoughOperators {
            model: msg.model,
            eligible,
            replicas: msg.replicas,
        });
    }
    bank::account_to_pool(store, signer, Pool::JobEscrow, msg.max_fee)?;
    let id = job_id(tx_hash);
    if state::job(store, &id).is_some() {
        return Err(JobsError::Invalid(format!("job {id} exists")));
    }
    let job = Job {
        id,
        client: *signer,
        model: msg.model,
        input_hash: input.hash(),
        input: input.to_bytes(),
        steps: record.steps,
        fee: msg.max_fee,
        replicas: msg.replicas,
        deadline_blocks: msg.deadline_blocks,
        submitted: ctx.height,
        assignments: Vec::new(),
        reassignments: 0,
        audit: None,
        status: JobStatus::Queued,
    };
    state::set_job(store, &job);
    state::queue_for_next_block(store, &id, Pending::Assign);
    store.emit(Event::JobSubmitted {
        job: id,
        client: *signer,
        model: msg.model,
        fee: msg.max_fee,
    });
    Ok(())
}

/// Begin block: assign queued jobs and draw audits, with this block's seed.
pub fn begin_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
) -> Result<(), JobsError> {
    for (id, action) in state::take_pending(store) {
        let Some(mut job) = state::job(store, &id) else {
            continue;
        };
        match (action, &job.status) {
            (Pending::Assign, JobStatus::Queued) => {
                let replicas = job.replicas;
                let assigned = assign(store, ctx, &mut job, replicas)?;
                if assigned < job.replicas {
                    fail(store, &mut job, "not enough eligible operators")?;
                } else {
                    job.status = JobStatus::Assigned;
                }
            }
            (Pending::DrawAudit, JobStatus::Challengeable { .. }) => {
                draw_audit(store, params, ctx, &mut job);
            }
            _ => continue,
        }
        state::set_job(store, &job);
    }
    Ok(())
}

/// A draw in `0..bound` from the block seed, for one purpose and job.
fn draw(seed: &Hash, purpose: &str, job: &JobId, round: u64, bound: u128) -> u128 {
    let mut input = Vec::with_capacity(72);
    input.extend_from_slice(&seed.0);
    input.extend_from_slice(&job.0);
    input.extend_from_slice(&round.to_be_bytes());
    let hash = Hash::of(purpose, &input);
    let mut wide = [0u8; 16];
    wide.copy_from_slice(&hash.0[..16]);
    // 128 random bits reduced modulo a bound below 2^100: the bias is below 2^-28.
    u128::from_be_bytes(wide) % bound.max(1)
}

/// Pick one operator from `candidates` with probability proportional to its weight.
fn pick_weighted(candidates: &[(OperatorId, Amount)], point: u128) -> Option<usize> {
    let mut cumulative = 0u128;
    for (index, (_, weight)) in candidates.iter().enumerate() {
        cumulative = cumulative.saturating_add(weight.0);
        if point < cumulative {
            return Some(index);
        }
    }
    None
}

/// Operators eligible for `job` that are not already assigned to it (in any role).
fn candidates(store: &Store, job: &Job) -> Vec<(OperatorId, Amount)> {
    services::eligible(store, &job.model)
        .into_iter()
        .filter(|(operator, _)| {
            !job.assignments.iter().any(|a| a.operator == *operator)
                && job.audit.as_ref().is_none_or(|a| a.auditor != *operator)
        })
        .collect()
}

/// Assign up to `count` more operators to `job`; returns how many were assigned.
fn assign(
    store: &mut Store,
    ctx: &BlockContext,
    job: &mut Job,
    count: u32,
) -> Result<u32, JobsError> {
    let mut pool = candidates(store, job);
    let mut assigned = 0;
    while assigned < count && !pool.is_empty() {
        let total: u128 = pool.iter().map(|(_, w)| w.0).sum();
        let round = job.assignments.len() as u64;
        let point = draw(&ctx.seed, "surety.job.assign", &job.id, round, total);
        let index = pick_weighted(&pool, point).expect("point below the total weight");
        let (operator, _) = pool.remove(index);
        let deadline = Height(ctx.height.0 + job.deadline_blocks);
        job.assignments.push(Assignment {
            operator,
            assigned: ctx.height,
            deadline,
            result: None,
            missed: false,
        });
        state::schedule(store, deadline, &job.id);
        state::add_work(store, &operator, &job.id, Role::Worker);
        store.emit(Event::JobAssigned {
            job: job.id,
            operator,
            deadline,
        });
        assigned += 1;
    }
    Ok(assigned)
}

fn draw_audit(store: &mut Store, params: &Params, ctx: &BlockContext, job: &mut Job) {
    let market = &params.market;
    let roll = draw(&ctx.seed, "surety.job.audit", &job.id, 0, 1_000_000_000) as u64;
    if roll >= market.audit_rate.ppb() {
        return;
    }
    let Some(target) = job.live_assignments().next().map(|a| a.operator) else {
        return;
    };
    let pool = candidates(store, job);
    let total: u128 = pool.iter().map(|(_, w)| w.0).sum();
    if total == 0 {
        return;
    }
    let point = draw(&ctx.seed, "surety.job.auditor", &job.id, 0, total);
    let index = pick_weighted(&pool, point).expect("point below the total weight");
    let auditor = pool[index].0;
    let deadline = Height(ctx.height.0 + market.audit_deadline_blocks);
    job.audit = Some(Audit {
        auditor,
        target,
        deadline,
        output_hash: None,
        trace_root: None,
        outcome: AuditOutcome::Pending,
    });
    state::schedule(store, deadline, &job.id);
    state::add_work(store, &auditor, &job.id, Role::Auditor);
    store.emit(Event::AuditAssigned {
        job: job.id,
        auditor,
        deadline,
    });
}

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
    if statement.steps != job.steps {
        return Err(JobsError::WrongSteps {
            got: statement.steps,
            expected: job.steps,
        });
    }
    let limit = params.market.job_output_bytes_max;
    if msg.output.len() as u64 > limit {
        return Err(JobsError::OutputTooLarge {
            got: msg.output.len() as u64,
            limit,
        });
    }
    let output = Activation::from_bytes(&msg.output).map_err(|_| JobsError::OutputMismatch)?;
    if output.hash() != statement.output_hash {
        return Err(JobsError::OutputMismatch);
    }
    let not_assigned = JobsError::NotAssigned {
        job: job.id,
        operator,
    };
    let is_worker = matches!(job.status, JobStatus::Assigned)
        && job
            .assignment_of(&operator)
            .is_some_and(|a| a.result.is_none());
    let is_auditor = job
        .audit
        .as_ref()
        .is_some_and(|audit| audit.auditor == operator && audit.outcome == AuditOutcome::Pending);
    if is_worker {
        let assignment = job
            .assignments
            .iter_mut()
            .find(|a| !a.missed && a.operator == operator)
            .expect("checked above");
        assignment.result = Some(JobResult {
            output: msg.output.clone(),
            output_hash: statement.output_hash,
            trace_root: statement.trace_root,
            committed: ctx.height,
        });
        state::remove_work(store, &operator, &job.id);
        store.emit(Event::ResultCommitted {
            job: job.id,
            operator,
            output_hash: statement.output_hash,
        });
        if job.live_assignments().all(|a| a.result.is_some()) {
            results_complete(store, params, ctx, &mut job)
                .map_err(|e| JobsError::Invalid(e.to_string()))?;
        }
    } else if is_auditor {
        let audit = job.audit.clone().expect("checked above");
        state::remove_work(store, &operator, &job.id);
        let target = job
            .assignment_of(&audit.target)
            .and_then(|a| a.result.clone());
        let mut outcome = AuditOutcome::Agreed;
        if let Some(target_result) = target {
            // Same output with another trace gives the client the same answer: it counts as
            // agreeing. A different output is disputed.
            if target_result.output_hash != statement.output_hash {
                let id = crate::disputes::open(
                    store,
                    params,
                    ctx,
                    &mut job,
                    crate::disputes::Opening {
                        defendant: audit.target,
                        defendant_root: target_result.trace_root,
                        defendant_output: target_result.output_hash,
                        challenger: crate::disputes::Challenger::Operator(operator),
                        challenger_root: statement.trace_root,
                        challenger_output: statement.output_hash,
                        bond: Amount::ZERO,
                    },
                )
                .map_err(|e| JobsError::Invalid(e.to_string()))?;
                outcome = AuditOutcome::Disputed { dispute: id };
            }
        }
        if outcome == AuditOutcome::Agreed {
            store.emit(Event::AuditAgreed {
                job: job.id,
                auditor: operator,
            });
        }
        if let Some(audit) = job.audit.as_mut() {
            audit.output_hash = Some(statement.output_hash);
            audit.trace_root = Some(statement.trace_root);
            audit.outcome = outcome;
        }
    } else {
        return Err(not_assigned);
    }
    state::set_job(store, &job);
    Ok(())
}

/// Every live assignment has a result: compare them.
fn results_complete(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
) -> Result<(), crate::disputes::DisputesError> {
    let results: Vec<(OperatorId, JobResult)> = job
        .live_assignments()
        .filter_map(|a| a.result.clone().map(|r| (a.operator, r)))
        .collect();
    let (first_operator, first) = results[0].clone();
    let disagreeing = results
        .iter()
        .find(|(_, r)| r.output_hash != first.output_hash)
        .cloned();
    match disagreeing {
        None => {
            let until = Height(ctx.height.0 + params.market.challenge_window_blocks);
            job.status = JobStatus::Challengeable { until };
            state::schedule(store, until, &job.id);
            state::queue_for_next_block(store, &job.id, Pending::DrawAudit);
        }
        Some((operator, result)) => {
            crate::disputes::open(
                store,
                params,
                ctx,
                job,
                crate::disputes::Opening {
                    defendant: first_operator,
                    defendant_root: first.trace_root,
                    defendant_output: first.output_hash,
                    challenger: crate::disputes::Challenger::Operator(operator),
                    challenger_root: result.trace_root,
                    challenger_output: result.output_hash,
                    bond: Amount::ZERO,
                },
            )?;
        }
    }
    Ok(())
}

/// End of block: deadlines, audit timeouts and finality for the jobs due now.
pub fn end_block(store: &mut Store, params: &Params, ctx: &BlockContext) -> Result<(), JobsError> {
    for id in state::take_due(store, ctx.height) {
        let Some(mut job) = state::job(store, &id) else {
            continue;
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
    }
    Ok(())
}

/// Who is at fault in a job, for what, since when, and who reported it.
struct Blame {
    operator: OperatorId,
    kind: FaultKind,
    height: Height,
    reporter: Option<AccountId>,
}

/// Report a fault in `job`'s service: slashed at most the operator's allocation to it, the
/// client named as harmed. A fault already penalised as much in its window is no error.
fn report(
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
        store.emit(Event::DeadlineMissed {
            job: job.id,
            operator,
        });
    }
    if late.is_empty() {
        return Ok(());
    }
    let needed = late.len() as u32;
    if job.reassignments + needed > params.market.reassignments_max {
        return fail(store, job, "deadlines missed and no reassignments left");
    }
    job.reassignments += needed;
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
    store.emit(Event::DeadlineMissed {
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
    let market = &params.market;
    let workers: Vec<OperatorId> = job
        .live_assignments()
        .filter(|a| a.result.is_some())
        .map(|a| a.operator)
        .collect();
    let portion = Amount(job.fee.0 / workers.len().max(1) as u128);
    let mut paid = Amount::ZERO;
    for operator in &workers {
        let to_fund = market.audit_fund_share.mul_floor(portion);
        let to_operator = portion.checked_sub(to_fund)?;
        rewards::pay_operator(store, Pool::JobEscrow, operator, to_operator)?;
        paid = paid.checked_add(to_operator)?;
        store.emit(Event::JobPaid {
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
    store.emit(Event::JobFinal { job: job.id });
    Ok(())
}

/// Refund the client and close the job without a result.
fn fail(store: &mut Store, job: &mut Job, reason: &str) -> Result<(), JobsError> {
    bank::pool_to_account(store, Pool::JobEscrow, &job.client, job.fee)?;
    for assignment in job
        .assignments
        .iter()
        .filter(|a| !a.missed && a.result.is_none())
    {
        state::remove_work(store, &assignment.operator, &job.id);
    }
    if let Some(audit) = &job.audit {
        if audit.outcome == AuditOutcome::Pending {
            state::remove_work(store, &audit.auditor, &job.id);
        }
    }
    job.status = JobStatus::Failed {
        reason: reason.to_string(),
    };
    store.emit(Event::JobFailed {
        job: job.id,
        reason: reason.to_string(),
    });
    Ok(())
}

/// The disputes module settled a dispute over `job`: slash whoever lost (with every result
/// identical to the losing one), and move the job on.
pub fn settle_dispute(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job_id: &JobId,
    dispute: &crate::disputes::Dispute,
    defendant_lost: bool,
    challenger_lost: bool,
) -> Result<(), JobsError> {
    let Some(mut job) = state::job(store, job_id) else {
        return Ok(());
    };
    let challenger_account = dispute.challenger.account();
    let defendant_account = dispute.defendant.account();
    let mut wrong_roots = Vec::new();
    if defendant_lost {
        wrong_roots.push((
            dispute.defendant_root,
            (!challenger_lost).then_some(challenger_account),
        ));
    }
    if challenger_lost {
        if let crate::disputes::Challenger::Operator(auditor) = dispute.challenger {
            let is_auditor = job.audit.as_ref().is_some_and(|a| a.auditor == auditor);
            if is_auditor {
                let committed = ctx.height;
                let reporter = (!defendant_lost).then_some(defendant_account);
                report(
                    store,
                    params,
                    ctx,
                    &job,
                    Blame {
                        operator: auditor,
                        kind: FaultKind::WrongResult,
                        height: committed,
                        reporter,
                    },
                )?;
            }
        }
        wrong_roots.push((
            dispute.challenger_root,
            (!defendant_lost).then_some(defendant_account),
        ));
    }
    // Every live result with a losing trace root is wrong: the dispute proved a leaf of that
    // very root false.
    for (root, reporter) in wrong_roots {
        for index in 0..job.assignments.len() {
            let assignment = &job.assignments[index];
            let Some(result) = &assignment.result else {
                continue;
            };
            if assignment.missed || result.trace_root != root {
                continue;
            }
            let (operator, committed) = (assignment.operator, result.committed);
            report(
                store,
                params,
                ctx,
                &job,
                Blame {
                    operator,
                    kind: FaultKind::WrongResult,
                    height: committed,
                    reporter,
                },
            )?;
            job.assignments[index].missed = true;
        }
    }
    if defendant_lost {
        fail(store, &mut job, "the result was proven wrong in a dispute")?;
    } else {
        // The defendant's result stands; the window runs on from now.
        let until = Height(ctx.height.0 + params.market.challenge_window_blocks);
        job.status = JobStatus::Challengeable { until };
        state::schedule(store, until, &job.id);
    }
    state::set_job(store, &job);
    Ok(())
}
