//! Results the first verdict of a job did not settle (docs/market.md, "Copies and suspects").
//! A two-party dispute proves one thing: the loser's own trace is false at one step. It proves
//! nothing about a third result that reached the same output under a root of its own: that
//! may be a copy of the wrong answer, or an honest result that a colluding pair lost to on
//! purpose (a made-up leaf under a right output). Nor about a third result with yet another
//! output (two cheats on one job, answering differently). So each such result is disputed in
//! turn against the winner's claim: a copy or a third wrong answer cannot answer the
//! bisection and is slashed; an honest result wins, and the winner that staged the loss falls
//! instead.
//!
//! The chain of suspect disputes is kept under `jobs/suspects/<job>` while it runs; the job
//! stays `Disputed` until it ends, then takes the fate the first verdict gave it.

use super::court::{open_suspect_dispute, Side};
use super::{AuditOutcome, Job};
use crate::context::BlockContext;
use crate::disputes::{Challenger, Outcome, Phase, Verdict};
use crate::params::Params;
use crate::store::{key, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use surety_types::{Hash, JobId, OperatorId};

/// A running chain of suspect disputes over one job.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub(super) struct Chain {
    /// The output the first verdict proved wrong, and the loser's root.
    lost_output: Hash,
    lost_root: Hash,
    /// The winner of the first verdict: it answers every suspect.
    winner: Challenger,
    winner_root: Hash,
    winner_output: Hash,
    /// Whether the first verdict went against the defendant (the job's fate at the end).
    pub(super) defendant_lost: bool,
    /// Suspects already disputed in this chain, whatever their verdict: one that lost is
    /// slashed, one that won is cleared, and neither is disputed again (an agreeing auditor
    /// keeps its `Agreed` audit after it loses, so it must be remembered here).
    disputed: Vec<OperatorId>,
    /// The winner lost a suspect dispute: its claim proves nothing any more.
    winner_fell: bool,
}

fn chain_key(job: &JobId) -> Vec<u8> {
    key("jobs/suspects", &[&job.0])
}

/// The chain this verdict belongs to or starts, updated with it; `None` when no chain applies
/// (the verdict came from a timeout, both sides lost, or neither did).
pub(super) fn after_verdict(store: &Store, job: &Job, verdict: &Verdict) -> Option<Chain> {
    let dispute = &verdict.dispute;
    if let Some(mut chain) = store.get::<Chain>(&chain_key(&job.id)) {
        if verdict.challenger_lost {
            chain.winner_fell = true;
        }
        chain.disputed.push(dispute.defendant);
        return Some(chain);
    }
    let timeout = matches!(
        dispute.phase,
        Phase::Resolved {
            outcome: Outcome::Timeout { .. },
            ..
        }
    );
    if timeout || verdict.defendant_lost == verdict.challenger_lost {
        return None;
    }
    let chain = if verdict.defendant_lost {
        Chain {
            lost_output: dispute.defendant_output,
            lost_root: dispute.defendant_root,
            winner: dispute.challenger.clone(),
            winner_root: dispute.challenger_root,
            winner_output: dispute.challenger_output,
            defendant_lost: true,
            disputed: Vec::new(),
            winner_fell: false,
        }
    } else {
        Chain {
            lost_output: dispute.challenger_output,
            lost_root: dispute.challenger_root,
            winner: Challenger::Operator(dispute.defendant),
            winner_root: dispute.defendant_root,
            winner_output: dispute.defendant_output,
            defendant_lost: false,
            disputed: Vec::new(),
            winner_fell: false,
        }
    };
    Some(chain)
}

/// The next suspect of `chain`: a live result (or an agreeing audit) with the lost output
/// under another root, not disputed in this chain yet, not the winner's own.
fn next(job: &Job, chain: &Chain) -> Option<Side> {
    if chain.winner_fell {
        return None;
    }
    // The lost output under another root, or a third answer (neither the lost output nor the
    // winner's): the verdict proved neither, so each is disputed against the winner.
    let suspect = |operator: OperatorId, output: Hash, root: Hash| {
        let unproven = if output == chain.lost_output {
            root != chain.lost_root
        } else {
            output != chain.winner_output
        };
        unproven
            && !chain.disputed.contains(&operator)
            && chain.winner.account() != operator.account()
    };
    let worker = job.live_assignments().find_map(|a| {
        let result = a.result.as_ref()?;
        suspect(a.operator, result.output_hash, result.trace_root)
            .then(|| Side::of_result(a.operator, result))
    });
    worker.or_else(|| {
        job.audits.iter().find_map(|audit| {
            let (output, root) = (audit.output_hash?, audit.trace_root?);
            (audit.outcome == AuditOutcome::Agreed && suspect(audit.auditor, output, root))
                .then(|| Side::of_claim(audit.auditor, root, output))
        })
    })
}

/// Open the chain's next dispute, if a suspect is left: true if one was opened (the job is
/// `Disputed` by it). Otherwise the chain is over and leaves state.
pub(super) fn continue_chain(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    job: &mut Job,
    chain: &Chain,
) -> Result<bool, super::JobsError> {
    let Some(suspect) = next(job, chain) else {
        store.delete(&chain_key(&job.id));
        return Ok(false);
    };
    open_suspect_dispute(
        store,
        params,
        ctx,
        job,
        suspect,
        chain.winner.clone(),
        chain.winner_root,
        chain.winner_output,
    )?;
    store.put(chain_key(&job.id), chain);
    Ok(true)
}

/// Forget `job`'s chain (the job leaves state).
pub(super) fn delete(store: &mut Store, job: &JobId) {
    store.delete(&chain_key(job));
}
