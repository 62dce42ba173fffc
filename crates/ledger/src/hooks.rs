//! The order in which module hooks run in a block, listed once (DESIGN §3), and the typed
//! errors of hooks and invariants. Each module exposes plain functions; this file names them
//! in order, as penumbra's explicit call list does, rather than a dynamic registry. A hook that
//! fails names its module and phase.
//!
//! | phase | hooks |
//! | --- | --- |
//! | begin block | `slashing` (liveness, downtime), `jobs` (assign queued jobs and draw audits with this block's seed) |
//! | end block | `models` (expired uploads), `jobs` (the court's due disputes and their verdicts; then deadlines, finality, payment), `rewards` (fees + inflation), `slashing` (due slashes, at epoch ends), `services` (due de-allocations, at epoch ends), `staking` (validator set and lapsed families, at epoch ends), `jobs` (the next epoch's audit pools, at epoch ends) |

use crate::bank::{self, BankError};
use crate::context::{BlockContext, HookEvent};
use crate::disputes::{self, DisputesError};
use crate::jobs::{self, JobsError};
use crate::models::{self, ModelCache, ModelsError};
use crate::params::Params;
use crate::rewards::{self, RewardsError};
use crate::services::{self, ServicesError};
use crate::slashing::{self, SlashingError};
use crate::staking::{self, StakingError};
use crate::store::Store;

/// Any module's error, as a hook returns it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// The bank's (no bank hook runs today; kept so every module's error has a place).
    #[error(transparent)]
    Bank(#[from] BankError),
    /// Staking's (its end-block hook recomputes the validator set and cannot fail today).
    #[error(transparent)]
    Staking(#[from] StakingError),
    /// Rewards' end-block payout of fees and inflation.
    #[error(transparent)]
    Rewards(#[from] RewardsError),
    /// Slashing's liveness tracking (begin block) or due slashes (end block).
    #[error(transparent)]
    Slashing(#[from] SlashingError),
    /// The models registry's expiry of unfinished uploads.
    #[error(transparent)]
    Models(#[from] ModelsError),
    /// Services' due de-allocations.
    #[error(transparent)]
    Services(#[from] ServicesError),
    /// The jobs market's assignments, audits, deadlines, verdicts and payments.
    #[error(transparent)]
    Jobs(#[from] JobsError),
    /// The court's (its timeouts run inside the jobs hook today).
    #[error(transparent)]
    Disputes(#[from] DisputesError),
}

/// The part of a block a hook runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the block's transactions.
    BeginBlock,
    /// After them.
    EndBlock,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::BeginBlock => "begin block",
            Phase::EndBlock => "end block",
        })
    }
}

/// A hook failed: which module, in which phase, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{module} {phase}: {error}")]
pub struct HookError {
    /// The module whose hook failed.
    pub module: &'static str,
    /// Begin or end block.
    pub phase: Phase,
    /// The module's error, boxed: the largest module errors run past 128 bytes, and every
    /// `Result` of a block (`BlockError` wraps this) would otherwise carry that size.
    pub error: Box<ModuleError>,
}

/// A broken invariant: a bug, named by module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{module} invariant broken: {message}")]
pub struct InvariantError {
    /// The module whose invariant broke.
    pub module: &'static str,
    /// What the check found.
    pub message: String,
}

type Hook = fn(&mut Store, &Params, &BlockContext, &ModelCache) -> Result<(), ModuleError>;

/// Begin-block hooks, in order.
const BEGIN_BLOCK: [(&str, Hook); 2] = [
    ("slashing", |store, params, ctx, _| {
        Ok(slashing::begin_block(store, params, ctx)?)
    }),
    ("jobs", |store, params, ctx, _| {
        Ok(jobs::begin_block(store, params, ctx)?)
    }),
];

/// End-block hooks, in order.
const END_BLOCK: [(&str, Hook); 7] = [
    ("models", |store, _, ctx, _| {
        Ok(models::end_block(store, ctx)?)
    }),
    ("jobs", |store, params, ctx, cache| {
        Ok(jobs::end_block(store, params, ctx, cache)?)
    }),
    ("rewards", |store, params, ctx, _| {
        Ok(rewards::end_block(store, params, ctx)?)
    }),
    ("slashing", |store, params, ctx, _| {
        Ok(slashing::end_block(store, params, ctx)?)
    }),
    ("services", |store, params, ctx, _| {
        Ok(services::end_block(store, params, ctx)?)
    }),
    ("staking", |store, params, ctx, _| {
        staking::end_block(store, params, ctx);
        Ok(())
    }),
    // Last: the next epoch's audit pools see this epoch's slashes, jailings and lapsed
    // families.
    ("jobs", |store, params, ctx, _| {
        jobs::end_block_pools(store, params, ctx);
        Ok(())
    }),
];

type Invariant = fn(&Store) -> Result<(), String>;

/// Every module's invariants, lowest layer first.
const INVARIANTS: [(&str, Invariant); 8] = [
    ("bank", bank::invariants::check),
    ("staking", staking::invariants::check),
    ("rewards", rewards::invariants::check),
    ("slashing", slashing::invariants::check),
    ("models", models::invariants::check),
    ("services", services::invariants::check),
    ("jobs", jobs::invariants::check),
    ("disputes", disputes::invariants::check),
];

fn run(
    hooks: &[(&'static str, Hook)],
    phase: Phase,
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
) -> Result<(), HookError> {
    for (module, hook) in hooks {
        // A whole hook that fails is dropped and reported, never a failed block: modules
        // isolate their items too (`Store::isolated`), so this catches what escapes them.
        if let Err(error) = store.isolated(|store| hook(store, params, ctx, cache)) {
            let failure = HookError {
                module,
                phase,
                error: Box::new(error),
            };
            store.emit(HookEvent::failed(module, "all", &failure));
        }
    }
    Ok(())
}

/// Run every begin-block hook in order.
pub(crate) fn begin_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
) -> Result<(), HookError> {
    run(&BEGIN_BLOCK, Phase::BeginBlock, store, params, ctx, cache)
}

/// Run every end-block hook in order.
pub(crate) fn end_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
) -> Result<(), HookError> {
    run(&END_BLOCK, Phase::EndBlock, store, params, ctx, cache)
}

/// Check every module's invariants against `store`.
pub(crate) fn check_invariants(store: &Store) -> Result<(), InvariantError> {
    for (module, check) in INVARIANTS {
        check(store).map_err(|message| InvariantError { module, message })?;
    }
    Ok(())
}
