//! Who works on a job: operators assigned with the block seed, weighted by the stake they
//! allocated to the model's service; and, once every assignee has sealed, its auditors: every
//! operator outside the parties' families whose own VRF over the sealed job selects it, with
//! probability `audit_rate` times its share of the epoch's pool (private sortition,
//! docs/market.md "Audits: private sortition").

use super::msg::{audit_alpha, seals_digest, AuditClaim};
use super::pool;
use super::state::{self, Pending};
use super::{
    Assignment, Audit, AuditOutcome, AuditWindow, Job, JobStatus, JobsError, JobsEvent, Role,
};
use crate::congestion::{self, Stretch};
use crate::context::BlockContext;
use crate::params::Params;
use crate::services;
use crate::sortition;
use crate::store::Store;
use surety_types::{AccountId, Amount, OperatorId, Ratio};

/// Begin block: open the claim windows due now with this block's seed, and assign queued jobs
/// with it.
pub fn begin_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
) -> Result<(), JobsError> {
    for id in state::take_draws(store, ctx.height) {
        let Some(mut job) = state::job(store, &id) else {
            continue;
        };
        let assigned = job.status == JobStatus::Assigned;
        let Some(window) = job.audit_window.as_mut() else {
            continue;
        };
        if !assigned || window.seed.is_some() || window.draw_at != ctx.height {
            continue;
        }
        // A block off its schedule among the `audit_seed_delay + 1` up to this one (the seal's
        // and this one included, when a later round's proposer built them) restarts the run:
        // the opening moves on to `audit_seed_delay + 1` blocks after it, `audit_seed_delay`
        // late at most. The seed is then that of the last of a run of blocks their round-0
        // proposers built, from the seal's on, which colluders hold in a row only with the
        // chance `Params::audit_fund_drain` counts.
        let delay = params.jobs.audit_seed_delay;
        let latest = window.opened.saturating_plus(delay.saturating_mul(2));
        if let Some(draw_at) = congestion::restarted(
            congestion::last_off_schedule(store),
            window.draw_at,
            delay.saturating_add(1),
            latest,
        )
        .filter(|at| *at > ctx.height)
        {
            let by = draw_at.get().saturating_sub(window.draw_at.get());
            window.draw_at = draw_at;
            window.until = window.until.saturating_plus(by);
            let until = window.until;
            state::schedule_draw(store, draw_at, &job.id);
            state::schedule(store, until, &job.id);
            store.emit(JobsEvent::AuditClaimsScheduled {
                job: job.id,
                at: draw_at,
            });
            state::set_job(store, &job);
            continue;
        }
        // Nobody knew this seed when the last seal was included (unless every proposer since
        // colludes): the claim window opens with it.
        window.seed = Some(ctx.seed);
        let (until, weight) = (window.until, window.weight);
        state::list_claims(store, &job, until);
        store.emit(JobsEvent::AuditClaimsOpen {
            job: job.id,
            until,
            weight,
        });
        state::set_job(store, &job);
    }
    for (id, action) in state::take_pending(store) {
        let Some(mut job) = state::job(store, &id) else {
            continue;
        };
        match (action, &job.status) {
            (Pending::Assign, JobStatus::Queued) => {
                let replicas = job.replicas;
                let assigned = assign(store, params, ctx, &mut job, replicas)?;
                if assigned < job.replicas {
                    super::close::fail(store, &mut job, "not enough eligible operators")?;
                } else {
                    job.status = JobStatus::Assigned;
                }
            }
            _ => continue,
        }
        state::set_job(store, &job);
    }
    Ok(())
}

/// Most audits one job takes: a bound on the job record, never reached. The audits selected
/// are about Poisson with mean `audit_rate` (8%), and a coalition cannot fill the slots ahead
/// of an honest claim: every operator of a pool holds at least `service_allocation_min`, so a
/// coalition with a share `f` of a pool `W` has at most `f · W / service_allocation_min`
/// members in it, each selected with probability `audit_rate · w / W`, and it cannot choose
/// what their VRFs run on (the seed comes after the seals). Even with its weight placed after
/// seeing the draws, 64 of its members selected would need `W / audit_rate · 64² / (2 · n)` of
/// weight for `n` members: more than the whole pool for any `n` a share of 20% allows.
pub const AUDITS_PER_JOB_MAX: usize = 64;

/// True when a VRF draw (uniform in `u64`) selects an operator of pool weight `weight` out of
/// `total` to audit at `rate`: `draw < rate · weight / total · 2^64`. Each operator is selected
/// on its own, so the chance that at least one of a set of operators audits depends only on
/// their weight, never on who else claims.
pub fn is_selected(rate: Ratio, weight: Amount, total: Amount, draw: u64) -> bool {
    let (mut weight, mut total) = (weight.get().min(total.get()), total.get());
    // Keep `weight · 2^64` within u128: drop low bits of both (a relative error below 2^-63).
    while total >= 1u128 << 64 {
        weight >>= 1;
        total >>= 1;
    }
    if total == 0 {
        return false;
    }
    // weight ≤ total < 2^64, so the share is at most 2^64 and times the rate (≤ 10^9) within
    // u128.
    let share = weight
        .checked_shl(64)
        .and_then(|scaled| scaled.checked_div(total))
        .unwrap_or(0);
    let threshold = share
        .saturating_mul(u128::from(rate.ppb()))
        .checked_div(u128::from(Ratio::DENOMINATOR))
        .unwrap_or(0);
    u128::from(draw) < threshold
}

/// Every live assignee of `job` has sealed in this block (`ctx`): fix its audit window. The
/// auditors' VRFs run on the seals, fixed now, and on the seed of the block
/// `audit_seed_delay` later, when the window opens for claims; the pool is this epoch's
/// snapshot, without the parties' owners. With nobody outside them the job cannot be audited,
/// and fails (docs/market.md: a thin service must not be a way around the audit).
pub(super) fn open_claims(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
) -> Result<(), JobsError> {
    let total = pool::ensure(store, ctx.epoch, &job.model);
    let mut excluded: Vec<AccountId> = Vec::new();
    for party in job.assignments.iter().map(|a| a.operator) {
        // The owner as of the epoch's start, for a party in the pool: a family edit since (a
        // declaration with an old consent, say) changes nothing before the next epoch. A party
        // outside the pool is excluded with its family now.
        let owner = match pool::entry(store, ctx.epoch, &job.model, &party) {
            Some(entry) => Some(entry.owner),
            None => crate::staking::state::operator(store, &party).and_then(|o| o.metadata.family),
        };
        for account in [Some(party.account()), owner].into_iter().flatten() {
            if !excluded.contains(&account) {
                excluded.push(account);
            }
        }
    }
    excluded.sort();
    let weight = pool::weight_outside(store, ctx.epoch, &job.model, total, &excluded);
    if weight.is_zero() {
        return super::close::fail(
            store,
            job,
            "no operator outside the assignees' families serves the model to audit it",
        );
    }
    // A transaction: saturate as every deadline does.
    let draw_at = ctx
        .height
        .saturating_plus(params.jobs.audit_seed_delay.max(1));
    let until = draw_at.saturating_plus(params.jobs.audit_claim_blocks);
    let seals = seals_digest(job.live_assignments().filter_map(|a| a.seal.as_ref()));
    job.audit_window = Some(AuditWindow {
        opened: ctx.height,
        draw_at,
        seed: None,
        until,
        epoch: ctx.epoch,
        seals,
        weight,
        excluded,
    });
    state::schedule_draw(store, draw_at, &job.id);
    state::schedule(store, until, &job.id);
    store.emit(JobsEvent::AuditClaimsScheduled {
        job: job.id,
        at: draw_at,
    });
    Ok(())
}

/// One audit claim: the claimant is in the epoch's pool outside the parties' owners, eligible
/// now, and its VRF over the sealed job selects it at its weight. It then owes a seal within
/// the job's deadline (it may have to run the model first) plus `Params::audit_seal_grace`.
pub(super) fn claim_one(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    chain_id: &str,
    operator: &OperatorId,
    claim: &AuditClaim,
) -> Result<(), JobsError> {
    let mut job = state::job(store, &claim.job).ok_or(JobsError::UnknownJob(claim.job))?;
    let (window, seed) = match (&job.status, &job.audit_window) {
        (
            JobStatus::Assigned,
            Some(
                window @ AuditWindow {
                    seed: Some(seed), ..
                },
            ),
        ) if ctx.height <= window.until => (window.clone(), *seed),
        _ => {
            return Err(JobsError::WrongPhase {
                job: job.id,
                what: "audit claims",
            })
        }
    };
    let refuse = |why| JobsError::NotAuditCandidate {
        job: claim.job,
        operator: *operator,
        why,
    };
    if job.audit_of(operator).is_some() {
        return Err(refuse("it claimed this audit already"));
    }
    if job.audits.len() >= AUDITS_PER_JOB_MAX {
        return Err(refuse("the job has the most audits it takes"));
    }
    let entry = pool::entry(store, window.epoch, &job.model, operator)
        .ok_or_else(|| refuse("it was not in the service's pool at the epoch's start"))?;
    if window.excluded.contains(&operator.account()) || window.excluded.contains(&entry.owner) {
        return Err(refuse("it is of one owner with a party to the job"));
    }
    let record = crate::staking::state::operator(store, operator)
        .ok_or_else(|| refuse("it is not an operator"))?;
    let allocated = services::slashable(store, &job.model, operator).is_some();
    // A party to an open dispute may audit: anyone can freeze one with a bonded challenge,
    // and a cheat that saw an honest claim coming would. One with a slash pending may not: it
    // could claim and fall silent at no further cost (a second missed deadline in the window
    // adds nothing to its slash).
    if record.jailed || record.tombstoned || record.pending_slashes > 0 || !allocated {
        return Err(refuse(
            "it is jailed, tombstoned, has a slash pending or no longer serves the model",
        ));
    }
    let output = claim
        .proof
        .verify(
            &operator.0,
            &audit_alpha(chain_id, &job.id, &window.seals, &seed),
        )
        .map_err(|e| JobsError::BadAuditProof(e.to_string()))?;
    if !is_selected(
        params.jobs.audit_rate,
        entry.weight,
        window.weight,
        output.draw(),
    ) {
        return Err(JobsError::NotSelected {
            job: job.id,
            operator: *operator,
        });
    }
    let target = job
        .live_assignments()
        .next()
        .map_or(*operator, |a| a.operator);
    // The run takes at most the job's deadline (an assignee has as long); the grace after it
    // is the seal window `Params::honest_audit_rate` counts as censorable.
    let deadline = ctx
        .height
        .saturating_plus(job.deadline_blocks)
        .saturating_plus(params.audit_seal_grace());
    job.audits.push(Audit {
        auditor: *operator,
        claimed: ctx.height,
        target,
        deadline,
        seal: None,
        output_hash: None,
        trace_root: None,
        outcome: AuditOutcome::Pending,
        stretch: Stretch::starting(store),
    });
    state::schedule(store, deadline, &job.id);
    state::add_work(store, operator, &job.id, Role::Auditor);
    store.emit(JobsEvent::AuditClaimed {
        job: job.id,
        auditor: *operator,
        deadline,
    });
    state::set_job(store, &job);
    Ok(())
}

/// An eligible operator and what ties it to an owner: its account and its declared family.
struct Candidate {
    operator: OperatorId,
    weight: Amount,
    family: Option<AccountId>,
}

/// True when `a` and `b` have one owner (docs/market.md, "Families"): one is the other, they
/// declare the same family, or one declares the other as its family's head.
fn same_owner(a: &Candidate, b: &Candidate) -> bool {
    a.operator == b.operator
        || a.family == Some(b.operator.account())
        || b.family == Some(a.operator.account())
        || (a.family.is_some() && a.family == b.family)
}

/// Operators eligible for `job`'s model, with their families.
fn eligible(store: &Store, job: &Job) -> Vec<Candidate> {
    services::eligible_with_family(store, &job.model)
        .into_iter()
        .map(|(operator, weight, family)| Candidate {
            operator,
            weight,
            family,
        })
        .collect()
}

/// The job's parties (every assignee, replaced ones included, and its auditors) as
/// candidates, with their families read from state (a party may have left the service since).
fn parties(store: &Store, job: &Job) -> Vec<Candidate> {
    job.assignments
        .iter()
        .map(|a| a.operator)
        .chain(job.audits.iter().map(|a| a.auditor))
        .map(|operator| Candidate {
            operator,
            weight: Amount::ZERO,
            family: crate::staking::state::operator(store, &operator)
                .and_then(|o| o.metadata.family),
        })
        .collect()
}

/// Operators that may still work on `job`: not of one owner with any of its parties (so no
/// owner holds two replicas of one job, or audits its own result).
fn candidates(store: &Store, job: &Job) -> Vec<Candidate> {
    let parties = parties(store, job);
    eligible(store, job)
        .into_iter()
        .filter(|candidate| parties.iter().all(|party| !same_owner(candidate, party)))
        .collect()
}

/// Whether `operator`, with `weight` of slashable allocation, can take `job` without its fees
/// in flight passing `in_flight_fee_fraction` of that allocation (docs/market.md, "Fees in
/// flight"): cheating on everything it holds at once must gain less than one audit's slash.
fn has_capacity(
    store: &Store,
    params: &Params,
    operator: &OperatorId,
    weight: Amount,
    job: &Job,
) -> bool {
    let cap = params.jobs.in_flight_fee_fraction.mul_floor(weight);
    state::in_flight(store, operator)
        .checked_add(job.fee_share())
        .is_ok_and(|total| total <= cap)
}

/// Assign up to `count` more operators to `job`; returns how many were assigned. Only
/// operators with room for the job's fee share in flight are drawn.
pub(super) fn assign(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    count: u32,
) -> Result<u32, JobsError> {
    let mut pool: Vec<Candidate> = candidates(store, job)
        .into_iter()
        .filter(|c| has_capacity(store, params, &c.operator, c.weight, job))
        .collect();
    let mut assigned = 0;
    while assigned < count && !pool.is_empty() {
        let round = job.assignments.len() as u64;
        let weights: Vec<(OperatorId, Amount)> =
            pool.iter().map(|c| (c.operator, c.weight)).collect();
        let Some(index) =
            sortition::draw_weighted(&weights, &ctx.seed, "surety.job.assign", &job.id.0, round)
        else {
            break;
        };
        let picked = pool.remove(index);
        pool.retain(|c| !same_owner(c, &picked));
        let operator = picked.operator;
        // Runs in begin- and end-block hooks, where an error would fail the block: saturate as
        // the deadline always could (heights never come near u64::MAX; a deadline there means
        // never, and `deadline_blocks` is bounded by the parameters at submission).
        let deadline = ctx.height.saturating_plus(job.deadline_blocks);
        job.assignments.push(Assignment {
            operator,
            assigned: ctx.height,
            deadline,
            seal: None,
            result: None,
            missed: false,
            stretch: Stretch::starting(store),
        });
        state::schedule(store, deadline, &job.id);
        state::add_work(store, &operator, &job.id, Role::Worker);
        state::add_in_flight(store, &operator, job);
        store.emit(JobsEvent::JobAssigned {
            job: job.id,
            operator,
            deadline,
        });
        // `assigned < count <= u32::MAX` here, so this never saturates.
        assigned = assigned.saturating_add(1);
    }
    Ok(assigned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_is_selected_with_probability_rate_times_its_pool_share() {
        let rate = Ratio::from_percent(8).unwrap();
        let (weight, total) = (Amount::new(250), Amount::new(1_000));
        // Threshold: 8% · 1/4 · 2^64 = 2% of the draws.
        let threshold = (1u128 << 64) / 50;
        assert!(is_selected(rate, weight, total, (threshold - 1) as u64));
        assert!(!is_selected(rate, weight, total, threshold as u64));
        // Counted over evenly spread draws: 2%.
        let step = u64::MAX / 100_000 + 1;
        let hits = (0..100_000u64)
            .filter(|i| is_selected(rate, weight, total, i * step))
            .count();
        assert_eq!(hits, 2_000);
        // No weight, no pool, or no rate: never.
        assert!(!is_selected(rate, Amount::ZERO, total, 0));
        assert!(!is_selected(rate, weight, Amount::ZERO, 0));
        assert!(!is_selected(Ratio::ZERO, weight, total, 0));
        // Huge amounts keep the share: a quarter of 2^100 at 8% is still 2%.
        let (big_weight, big_total) = (Amount::new(1u128 << 98), Amount::new(1u128 << 100));
        assert!(is_selected(
            rate,
            big_weight,
            big_total,
            (threshold - 1) as u64
        ));
        assert!(!is_selected(rate, big_weight, big_total, threshold as u64));
        // A weight above the total counts as the total.
        assert!(is_selected(
            rate,
            Amount::new(5_000),
            total,
            ((1u128 << 64) / 13) as u64
        ));
        assert!(!is_selected(
            rate,
            Amount::new(5_000),
            total,
            ((1u128 << 64) / 12) as u64
        ));
    }
}
