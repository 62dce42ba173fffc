//! Pruning (docs/market.md, "Pruning"): a final or failed job, its input and outputs, its
//! resolved disputes and every index entry naming it leave state once nothing can refer to it
//! any more, so closed jobs do not pile up in state for ever.
//!
//! When a job closes, `settle` or `close` marks it; the end of that block gives it its prune
//! height ([`prune_height`]): the first block of the epoch in which the slashing module refuses
//! every result-equivocation evidence about it as too old, and never the block it closed in
//! (the node archives the closed record from that block's changes). By then its challenge
//! window is over (it is closed), no deadline, audit or deferred audit can move it (a closed
//! job's audit is over), and the ledger's own late fault reports about it have all been made
//! (they are made while it is open). A job with a dispute still open (only a job an internal
//! error failed can have one) waits an epoch more, since the verdict reads it.
//!
//! Each block takes at most `prune_steps_per_block_max` steps: one job deleted, one of its
//! resolved disputes deleted, or one height of the queue passed. What is left waits for the
//! next block, from a cursor kept only while pruning is behind, so a burst of closed jobs never
//! makes one block do unbounded work.

use super::evidence::latest_offence_height;
use super::state::{self, JobStatus};
use super::{Job, JobsEvent};
use crate::context::BlockContext;
use crate::disputes;
use crate::params::Params;
use crate::store::Store;
use surety_types::{Epoch, Height, JobId};

/// `job` became final or failed in this block.
pub(super) fn closed(store: &mut Store, id: &JobId) {
    state::mark_closed(store, id);
}

/// The height at whose end a job that closed at `closed` leaves state: the first block of the
/// epoch after the last one in which evidence about it is still taken (`slashing::report`
/// takes an offence of epoch `e` up to epoch `e + evidence_max_age_epochs`; the latest offence
/// height evidence about the job can name is [`latest_offence_height`]), and at least the
/// block after `closed`.
pub fn prune_height(params: &Params, job: &Job, closed: Height) -> Height {
    let refused_from = params
        .epoch_of(latest_offence_height(job))
        .saturating_plus(params.slashing.evidence_max_age_epochs)
        .saturating_plus(1);
    first_height(params, refused_from).max(closed.saturating_plus(1))
}

/// The first height of `epoch`: heights `1..=epoch_blocks` are epoch 0. Saturating: an epoch
/// that far off means never.
fn first_height(params: &Params, epoch: Epoch) -> Height {
    let epochs = epoch
        .epochs_since(Epoch::default())
        .expect("every epoch is at or after epoch 0");
    Height::default()
        .saturating_plus(epochs.saturating_mul(params.staking.epoch_blocks))
        .saturating_plus(1)
}

/// End of block, after settlement: queue the jobs closed in this block, then prune what is due.
pub(super) fn end_block(store: &mut Store, params: &Params, ctx: &BlockContext) {
    for id in state::take_closed(store) {
        if let Some(job) = state::job(store, &id) {
            state::schedule_prune(store, prune_height(params, &job, ctx.height), &id);
        }
    }
    prune_due(store, params, ctx);
}

/// What became of one queued job.
enum Pruned {
    /// It left state (or was already gone).
    Gone,
    /// A dispute over it is still open: it is queued again at this height.
    Deferred(Height),
    /// The block's steps ran out before all of it was gone.
    Partly,
}

/// Walk the queue from the cursor up to this height, within the block's steps.
fn prune_due(store: &mut Store, params: &Params, ctx: &BlockContext) {
    let mut steps = params.jobs.prune_steps_per_block_max;
    let mut cursor = state::prune_cursor(store).unwrap_or(ctx.height);
    'heights: while cursor <= ctx.height && steps > 0 {
        for id in state::prune_queue_at(store, cursor) {
            match prune_job(store, params, ctx, &id, &mut steps) {
                Pruned::Gone => state::unschedule_prune(store, cursor, &id),
                Pruned::Deferred(later) => {
                    state::unschedule_prune(store, cursor, &id);
                    state::schedule_prune(store, later, &id);
                }
                Pruned::Partly => break 'heights,
            }
        }
        cursor = cursor.next();
        // `steps > 0` (loop condition); a job that took the last step ends the height's list
        // or stops at `Partly` with the next one.
        steps = steps.saturating_sub(1);
    }
    state::set_prune_cursor(store, (cursor <= ctx.height).then_some(cursor));
}

/// Delete one queued job's resolved disputes and then the job, one step each.
fn prune_job(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    id: &JobId,
    steps: &mut u32,
) -> Pruned {
    let Some(job) = state::job(store, id) else {
        return Pruned::Gone;
    };
    let closed = matches!(
        job.status,
        JobStatus::Final { .. } | JobStatus::Failed { .. }
    );
    debug_assert!(closed, "job {id} is queued for pruning but not closed");
    if !closed {
        return Pruned::Gone;
    }
    for dispute_id in disputes::state::of_job(store, id) {
        if *steps == 0 {
            return Pruned::Partly;
        }
        let Some(dispute) = disputes::dispute(store, dispute_id) else {
            continue;
        };
        if dispute.is_open() {
            return Pruned::Deferred(ctx.height.saturating_plus(params.staking.epoch_blocks));
        }
        disputes::state::forget(store, &dispute);
        *steps = steps.saturating_sub(1);
    }
    if *steps == 0 {
        return Pruned::Partly;
    }
    state::delete_job(store, &job);
    *steps = steps.saturating_sub(1);
    store.emit(JobsEvent::JobPruned { job: *id });
    Pruned::Gone
}
