//! Slashing: evidence in, penalty out (DESIGN §3).
//!
//! 1. An offence is reported (by evidence anyone submits, by the ledger's own liveness
//!    tracking, or — later — by the jobs and disputes modules). The operator is frozen (no stake
//!    may leave or join) and jailed at once; equivocation also tombstones it.
//! 2. The slash applies `slash_delay_epochs` after the offence (not the report), at an epoch
//!    end, once the offence's correlation window has closed.
//! 3. The fraction is `min(1, max(base, 9·x²))`, where `x` is the share of total bonded stake
//!    held by operators with a fault in the same window. Many operators failing together lose
//!    more than one alone; an operator split into many identities has the same `x`.
//! 4. Within one window only the largest penalty per operator applies (max, not sum).
//! 5. Stake that unbonded or redelegated after the offence is slashed too.
//! 6. Slashed tokens go to the whistleblower, the harmed party and the insurance pool by the
//!    configured shares; the rest is burned.

pub mod error;
pub mod event;
pub mod invariants;
pub mod msg;
pub mod state;

pub use error::SlashingError;
pub use event::SlashingEvent;
pub use msg::Evidence;
pub use state::{FaultKind, Offence};

use crate::bank::{self, Pool};
use crate::context::BlockContext;
use crate::params::{Params, SlashingParams};
use crate::staking::{self, Operator};
use crate::store::Store;
use state::{Fault, Liveness};
use surety_types::amount::mul_div_floor;
use surety_types::vote::SignedVote;
use surety_types::{AccountId, Amount, Epoch, Height, OperatorId, Ratio};

/// The configured base fraction for a fault kind (before the correlation rule).
pub fn base_fraction(params: &SlashingParams, kind: FaultKind) -> Ratio {
    match kind {
        FaultKind::Equivocation => params.equivocation,
        FaultKind::WrongResult => params.wrong_result,
        FaultKind::MissedDeadline => params.missed_deadline,
        FaultKind::Downtime => params.downtime,
        FaultKind::WithheldResult => params.wrong_result,
    }
}

/// `min(1, max(base, 9·x²))` with `x = faulted_stake / total_stake`. Computed as
/// `(3f/t)²` so that a third of the stake or more gives exactly 1.
pub fn correlated_fraction(base: Ratio, faulted_stake: Amount, total_stake: Amount) -> Ratio {
    if total_stake.is_zero() {
        return base;
    }
    // Saturating at `Amount::MAX`, which no total exceeds: a third or more.
    let three_f = faulted_stake.checked_mul(3).unwrap_or(Amount::MAX);
    if three_f >= total_stake {
        return Ratio::ONE;
    }
    let denominator = Ratio::DENOMINATOR as u128;
    // 3f/t in ppb (< 1e9), then times 3f/t again: each step floors, so the result is at most
    // 2 ppb below the exact value.
    let three_x_ppb = mul_div_floor(three_f.get(), denominator, total_stake.get()).expect("3f < t");
    let correlated =
        mul_div_floor(three_x_ppb, three_f.get(), total_stake.get()).expect("below 1e9") as u64;
    base.max(Ratio::from_ppb(correlated).expect("below one"))
}

/// One more queued slash for an operator. Saturating, because `report` runs in hooks: a count
/// of queued slashes gains at most one per window and fault kind, so it never nears
/// `u32::MAX`.
fn add_pending(pending_slashes: u32) -> u32 {
    pending_slashes.saturating_add(1)
}

/// The stake a fault puts at risk: the pool's tokens, bounded by a service allocation.
fn at_risk(tokens: Amount, cap: Option<Amount>) -> Amount {
    cap.map_or(tokens, |cap| cap.min(tokens))
}

/// The earliest offence height evidence may still name in `ctx`'s epoch: the first block of
/// the epoch `evidence_max_age_epochs` back. The ledger's own verdicts (a dispute that took
/// long, a deadline) date an older offence here instead of failing (DESIGN §3: stale evidence
/// is skipped, never a halted chain); stake that left before that height is out of reach, as
/// for evidence submitted late.
pub fn oldest_reportable(params: &Params, ctx: &BlockContext) -> Height {
    let epoch = ctx
        .epoch
        .saturating_minus(params.slashing.evidence_max_age_epochs);
    // The last block of the epoch before, then one on.
    Height::new(epoch.get().saturating_mul(params.staking.epoch_blocks)).saturating_plus(1)
}

/// The base fraction an operator with the `existing` fault in a window owes after another
/// offence of `kind` (base `base`) in the same window: wrong and withheld results add up
/// (capped at one), anything else takes the larger.
fn penalty(existing: &state::Fault, kind: FaultKind, base: Ratio) -> Ratio {
    let cheat =
        |kind: FaultKind| matches!(kind, FaultKind::WrongResult | FaultKind::WithheldResult);
    if cheat(kind) && cheat(existing.kind) {
        let sum = existing.base_fraction.ppb().saturating_add(base.ppb());
        Ratio::from_ppb(sum.min(Ratio::DENOMINATOR)).unwrap_or(Ratio::ONE)
    } else {
        base.max(existing.base_fraction)
    }
}

/// Report an offence: freeze and jail now, queue the slash.
pub fn report(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    offence: Offence,
) -> Result<(), SlashingError> {
    let s = &params.slashing;
    let offence_epoch = reportable_epoch(params, ctx, &offence)?;
    let mut operator = staking::state::operator(store, &offence.operator)
        .ok_or(SlashingError::UnknownOperator(offence.operator))?;
    let window = offence_epoch
        .get()
        .checked_div(s.window_epochs)
        .expect("window_epochs is validated non-zero at genesis (Params::validate)");
    let base = base_fraction(s, offence.kind);
    let apply_epoch = offence_epoch.saturating_plus(s.slash_delay_epochs);
    let fault = match state::fault(store, window, &offence.operator) {
        Some(existing) if penalty(&existing, offence.kind, base) <= existing.base_fraction => {
            return Err(SlashingError::AlreadyPenalised(offence.operator));
        }
        Some(existing) => {
            let worse = penalty(&existing, offence.kind, base);
            worsen_fault(
                store,
                ctx,
                &mut operator,
                existing,
                &offence,
                offence_epoch,
                worse,
            )
        }
        None => {
            if state::window_total(store, window).is_none() {
                state::set_window_total(store, window, bank::pool_balance(store, Pool::Bonded));
            }
            operator.pending_slashes = add_pending(operator.pending_slashes);
            state::queue(store, apply_epoch, window, &offence.operator);
            first_fault(
                &operator,
                &offence,
                offence_epoch,
                window,
                base,
                apply_epoch,
            )
        }
    };
    state::set_fault(store, &fault);
    sanction(store, params, ctx, offence.kind, &mut operator);
    store.emit(SlashingEvent::OffenceReported {
        operator: offence.operator,
        kind: offence.kind,
        offence_height: offence.height,
        apply_epoch: fault.apply_epoch,
    });
    Ok(())
}

/// The epoch of `offence`, if it may still be reported at `ctx`: not in the future, and no
/// older than `evidence_max_age_epochs`.
fn reportable_epoch(
    params: &Params,
    ctx: &BlockContext,
    offence: &Offence,
) -> Result<Epoch, SlashingError> {
    if offence.height > ctx.height {
        return Err(SlashingError::FutureOffence {
            offence: offence.height,
            now: ctx.height,
        });
    }
    let offence_epoch = params.epoch_of(offence.height);
    // `report` runs in hooks too (downtime, missed deadlines), where an error would fail the
    // block, so epoch sums saturate as they always could: epochs never come near u64::MAX, and
    // an age limit or apply epoch there means never.
    if offence_epoch.saturating_plus(params.slashing.evidence_max_age_epochs) < ctx.epoch {
        return Err(SlashingError::EvidenceTooOld {
            offence: offence_epoch,
            now: ctx.epoch,
        });
    }
    Ok(offence_epoch)
}

/// An operator's first fault in a window: the whole base fraction, at risk on its tokens now
/// (or its service allocation), due `slash_delay_epochs` after the offence.
fn first_fault(
    operator: &Operator,
    offence: &Offence,
    offence_epoch: Epoch,
    window: u64,
    base: Ratio,
    apply_epoch: Epoch,
) -> Fault {
    Fault {
        operator: offence.operator,
        window,
        kind: offence.kind,
        base_fraction: base,
        reporter: offence.reporter,
        harmed: offence.harmed,
        offence_height: offence.height,
        offence_epoch,
        stake: at_risk(operator.tokens, offence.cap),
        cap: offence.cap,
        pool_tokens: operator.tokens,
        apply_epoch,
        applied: None,
        slashed: Amount::ZERO,
        at_risk: Amount::ZERO,
    }
}

/// A worse offence in the same window as `existing`: it replaces the penalty with `worse`
/// (max, not sum); another proven wrong result adds to it (sum), so results cheated while the
/// first dispute was still open are not free. A fault already applied queues its difference
/// for the next epoch end.
fn worsen_fault(
    store: &mut Store,
    ctx: &BlockContext,
    operator: &mut Operator,
    mut existing: Fault,
    offence: &Offence,
    offence_epoch: Epoch,
    worse: Ratio,
) -> Fault {
    existing.base_fraction = worse;
    // A safety fault stays one (correlated when applied) when a liveness-like fault follows it.
    if !existing.kind.is_safety() || offence.kind.is_safety() {
        existing.kind = offence.kind;
    }
    existing.reporter = offence.reporter;
    existing.harmed = offence.harmed;
    if existing.cap.is_some() {
        // The worse offence may reach further (a consensus fault is not bounded by a
        // service allocation).
        existing.cap = offence
            .cap
            .map(|cap| cap.max(existing.cap.unwrap_or_default()));
        existing.stake = at_risk(operator.tokens, existing.cap).max(existing.stake);
    }
    if offence.height < existing.offence_height {
        existing.offence_height = offence.height;
        existing.offence_epoch = offence_epoch;
    }
    if existing.applied.is_some() {
        // Already applied: the difference applies at the next epoch end. A fault is stored
        // under its own window (`state::set_fault`), so `existing.window` is the offence's.
        existing.apply_epoch = ctx.epoch.next();
        operator.pending_slashes = add_pending(operator.pending_slashes);
        state::queue(
            store,
            existing.apply_epoch,
            existing.window,
            &offence.operator,
        );
    }
    existing
}

/// What a reported operator suffers at once, before its slash applies: tombstoned for
/// equivocation, jailed for `jail_epochs` for a wrong result or downtime, frozen for a missed
/// deadline.
fn sanction(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    kind: FaultKind,
    operator: &mut Operator,
) {
    let until = ctx.epoch.saturating_plus(params.slashing.jail_epochs);
    match kind {
        FaultKind::Equivocation => staking::tombstone(store, operator),
        FaultKind::WrongResult | FaultKind::Downtime => staking::jail(store, operator, until),
        // A market fault never removes a validator from consensus: its pending slash freezes
        // it, which alone keeps it out of new market work until the slash applies.
        FaultKind::MissedDeadline | FaultKind::WithheldResult => {
            staking::note_pending_slash(store, operator)
        }
    }
}

/// Evidence of a double-signed consensus vote: the signer's operator is slashed for
/// equivocation (uncapped: a consensus fault is not bounded by a service allocation). Result
/// equivocation is about jobs, so the jobs module checks that evidence.
pub fn execute_double_sign(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    chain_id: &str,
    signer: &AccountId,
    first: &SignedVote,
    second: &SignedVote,
) -> Result<(), SlashingError> {
    let consensus_key = surety_types::vote::check_equivocation(first, second)?;
    if first.vote.chain_id != chain_id {
        return Err(SlashingError::WrongChain(first.vote.chain_id.clone()));
    }
    let operator = staking::state::operator_by_consensus_key(store, &consensus_key.into())
        .ok_or(SlashingError::UnknownConsensusKey)?;
    report(
        store,
        params,
        ctx,
        Offence {
            operator,
            kind: FaultKind::Equivocation,
            height: first.vote.height,
            reporter: Some(*signer),
            harmed: None,
            cap: None,
        },
    )
}

/// Begin block: record which active validators signed the previous block, and report downtime
/// for any that signed too few of the last window.
pub fn begin_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
) -> Result<(), SlashingError> {
    let Some(absent) = &ctx.absent_validators else {
        return Ok(());
    };
    let window = params.slashing.downtime_window_blocks;
    let max_missed = downtime_missed_max(&params.slashing);
    let previous = ctx.height.saturating_minus(1);
    let index = previous
        .get()
        .checked_rem(window)
        .expect("downtime_window_blocks is validated non-zero at genesis (Params::validate)")
        as usize;
    for validator in staking::state::active_set(store) {
        let missed_now = absent.binary_search(&validator.operator).is_ok();
        let mut record = match state::liveness(store, &validator.operator) {
            Some(record) => record,
            None if !missed_now => {
                // Start tracking at the first block seen; nothing to store until a miss.
                state::set_liveness(
                    store,
                    &validator.operator,
                    &fresh_liveness(window, previous),
                );
                continue;
            }
            None => fresh_liveness(window, previous),
        };
        if !record_block(&mut record, index, missed_now) {
            continue;
        }
        if missed_now && is_down(&record, previous, window, max_missed) {
            state::delete_liveness(store, &validator.operator);
            report(
                store,
                params,
                ctx,
                Offence {
                    operator: validator.operator,
                    kind: FaultKind::Downtime,
                    height: previous,
                    reporter: None,
                    harmed: None,
                    cap: None,
                },
            )?;
        } else {
            state::set_liveness(store, &validator.operator, &record);
        }
    }
    Ok(())
}

/// The most blocks of a downtime window a validator may miss before it is reported.
fn downtime_missed_max(params: &SlashingParams) -> u64 {
    let window = params.downtime_window_blocks;
    // `downtime_min_signed` is a ratio of at most one, so the blocks it asks for are at most
    // the window: the subtraction never saturates.
    window.saturating_sub(
        params
            .downtime_min_signed
            .mul_ceil(Amount::new(window as u128))
            .get() as u64,
    )
}

/// A liveness record with no misses in a window of `window` blocks, tracked from `since`.
fn fresh_liveness(window: u64, since: Height) -> Liveness {
    Liveness {
        missed_bits: vec![0; window.div_ceil(8) as usize],
        missed: 0,
        since,
    }
}

/// Record in the window's bit `index` whether the block was missed, replacing what the bit
/// held one window ago. False if the bit was already so (the record is unchanged).
fn record_block(record: &mut Liveness, index: usize, missed_now: bool) -> bool {
    let byte = index / 8;
    let mask = 1u8 << (index % 8);
    let missed_before = record.missed_bits[byte] & mask != 0;
    if missed_before == missed_now {
        return false;
    }
    if missed_now {
        record.missed_bits[byte] |= mask;
        // `missed` counts the set bits of the window (at most DOWNTIME_WINDOW_BLOCKS_MAX).
        record.missed = record.missed.saturating_add(1);
    } else {
        record.missed_bits[byte] &= !mask;
        // This bit was set, so it was counted: `missed` is at least 1.
        debug_assert!(record.missed > 0, "a set bit is counted in missed");
        record.missed = record.missed.saturating_sub(1);
    }
    true
}

/// True once the record has seen a whole window up to `previous` and missed more than
/// `max_missed` blocks of it.
fn is_down(record: &Liveness, previous: Height, window: u64, max_missed: u64) -> bool {
    // `previous >= since + window - 1`, without the sum (and false before `since`);
    // `window >= 1` (validated), so `window - 1` is exact.
    let seen_whole_window = previous
        .blocks_since(record.since)
        .is_ok_and(|seen| seen >= window.saturating_sub(1));
    seen_whole_window && record.missed > max_missed
}

/// End of block: at an epoch end, apply every slash due by the start of the next epoch.
pub fn end_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
) -> Result<(), SlashingError> {
    if !ctx.is_epoch_end(params) {
        return Ok(());
    }
    for (window, operator) in state::take_due(store, ctx.epoch.next()) {
        apply(store, params, window, &operator)?;
    }
    Ok(())
}

fn apply(
    store: &mut Store,
    params: &Params,
    window: u64,
    operator_id: &OperatorId,
) -> Result<(), SlashingError> {
    let mut fault =
        state::fault(store, window, operator_id).expect("queued slashes have a fault record");
    let fraction = if fault.kind.is_safety() {
        let total = state::window_total(store, window).unwrap_or_default();
        correlated_fraction(
            fault.base_fraction,
            correlated_stake(store, params, &fault),
            total,
        )
    } else {
        escalated(store, &fault)
    };
    // Max, not sum: if part was applied already, take only what the larger fraction adds, as a
    // fraction of what the operator has now. A fault in a service applies the fraction to the
    // allocation only: as a fraction of the pool, `fraction · stake / pool_tokens`.
    let due_fraction = match fault.applied {
        None if fault.cap.is_some() && !fault.pool_tokens.is_zero() => Ratio::from_fraction(
            fraction.mul_floor(fault.stake).get(),
            fault.pool_tokens.get(),
        )?,
        None => fraction,
        Some(applied) if fraction <= applied => Ratio::ZERO,
        Some(applied) => {
            let extra = fraction.saturating_sub(applied).mul_floor(fault.stake);
            let tokens =
                staking::state::operator(store, operator_id).map_or(Amount::ZERO, |o| o.tokens);
            if tokens.is_zero() {
                Ratio::ZERO
            } else {
                Ratio::from_fraction(extra.get(), tokens.get())?
            }
        }
    };
    let outcome = staking::slash(store, operator_id, due_fraction, fault.offence_height)?;
    bank::pool_to_pool(store, Pool::Unbonding, Pool::Bonded, outcome.from_unbonding)?;
    let slashed = outcome.total()?;
    distribute(store, &params.slashing, &fault, slashed)?;
    fault.applied = Some(fraction.max(fault.applied.unwrap_or(Ratio::ZERO)));
    fault.slashed = fault.slashed.checked_add(slashed)?;
    fault.at_risk = fault.at_risk.max(outcome.at_risk);
    state::set_fault(store, &fault);
    staking::slash_applied(store, operator_id);
    store.emit(SlashingEvent::Slashed {
        operator: *operator_id,
        kind: fault.kind,
        fraction,
        amount: slashed,
    });
    Ok(())
}

/// Stake that committed a safety fault within `window_epochs` before or after `fault` (a
/// sliding window: two halves of a coordinated fault either side of a window boundary count
/// together), once per operator at its largest, `fault` included.
fn correlated_stake(store: &Store, params: &Params, fault: &Fault) -> Amount {
    let reach = params.slashing.window_epochs;
    let mut by_operator: std::collections::BTreeMap<OperatorId, Amount> =
        std::collections::BTreeMap::new();
    let windows = fault.window.saturating_sub(1)..=fault.window.saturating_add(1);
    for window in windows {
        for other in state::faults_in_window(store, window) {
            let apart = other
                .offence_epoch
                .get()
                .abs_diff(fault.offence_epoch.get());
            if other.kind.is_safety() && apart <= reach {
                let stake = by_operator.entry(other.operator).or_default();
                *stake = (*stake).max(other.stake);
            }
        }
    }
    // Each stake is an operator's tokens: their sum is below total supply.
    by_operator
        .values()
        .fold(Amount::ZERO, |sum, stake| sum.saturating_add(*stake))
}

/// Windows back a liveness fault looks for repetitions.
const LIVENESS_LOOKBACK_WINDOWS: u64 = 3;

/// A liveness fault's fraction: its base, times one more for each of the previous
/// `LIVENESS_LOOKBACK_WINDOWS` windows in which the operator also had a liveness fault. Never
/// correlated with other operators'.
fn escalated(store: &Store, fault: &Fault) -> Ratio {
    let earlier = fault.window.saturating_sub(LIVENESS_LOOKBACK_WINDOWS)..fault.window;
    let repeats = earlier
        .filter(|window| {
            state::fault(store, *window, &fault.operator).is_some_and(|f| !f.kind.is_safety())
        })
        .count();
    let factor = u64::try_from(repeats).unwrap_or(u64::MAX).saturating_add(1);
    let ppb = fault.base_fraction.ppb().saturating_mul(factor);
    Ratio::from_ppb(ppb.min(Ratio::DENOMINATOR)).unwrap_or(Ratio::ONE)
}

/// Split `slashed` tokens (now in the bonded pool) between whistleblower, harmed party,
/// insurance and burn.
fn distribute(
    store: &mut Store,
    params: &SlashingParams,
    fault: &Fault,
    slashed: Amount,
) -> Result<(), SlashingError> {
    let mut rest = slashed;
    if let Some(reporter) = &fault.reporter {
        let share = params.whistleblower_share.mul_floor(slashed);
        bank::pool_to_account(store, Pool::Bonded, reporter, share)?;
        rest = rest.checked_sub(share)?;
    }
    if let Some(harmed) = &fault.harmed {
        let share = params.harmed_party_share.mul_floor(slashed);
        bank::pool_to_account(store, Pool::Bonded, harmed, share)?;
        rest = rest.checked_sub(share)?;
    }
    let insurance = params.insurance_share.mul_floor(slashed);
    bank::pool_to_pool(store, Pool::Bonded, Pool::Insurance, insurance)?;
    rest = rest.checked_sub(insurance)?;
    bank::pool_to_pool(store, Pool::Bonded, Pool::Burned, rest)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ppb(value: u64) -> Ratio {
        Ratio::from_ppb(value).unwrap()
    }

    #[test]
    fn a_lone_small_fault_pays_the_base_fraction() {
        // 1% of stake faulted: 9 · 0.01² = 0.0009 < base 5%.
        assert_eq!(
            correlated_fraction(ppb(50_000_000), Amount::new(1), Amount::new(100)),
            ppb(50_000_000)
        );
    }

    #[test]
    fn a_third_of_stake_failing_together_loses_everything() {
        assert_eq!(
            correlated_fraction(ppb(10_000_000), Amount::new(1), Amount::new(3)),
            Ratio::ONE
        );
    }

    #[test]
    fn the_correlated_fraction_grows_with_the_square_of_the_faulted_share() {
        // x = 10% → 9 · 0.01 = 9%.
        assert_eq!(
            correlated_fraction(ppb(0), Amount::new(10), Amount::new(100)),
            ppb(90_000_000)
        );
        // x = 20% → 36%.
        assert_eq!(
            correlated_fraction(ppb(0), Amount::new(20), Amount::new(100)),
            ppb(360_000_000)
        );
    }
}
