//! Staking: operators, delegations as shares of an operator's pool, unbonding, redelegation,
//! jailing and the active validator set (DESIGN §3).
//!
//! A pool holds `tokens` against `shares`; a delegator owns shares. A slash lowers the pool's
//! tokens and leaves shares alone, so it costs O(1) however many delegators there are. Stake
//! that leaves (unbonding) or moves (redelegation) keeps a record of when it left, so offences
//! from before that moment still reach it. Rewards are settled through the pool's
//! reward-per-share accumulator ([`accumulator::settle`]) before any delegation's shares
//! change.

pub mod accumulator;
pub mod error;
pub mod event;
pub mod family;
pub mod invariants;
pub mod msg;
pub mod state;

pub use error::StakingError;
pub use event::StakingEvent;
pub use family::{check_family_consent, family_consent_message, sign_family_consent};
pub use msg::{Delegate, EditOperator, Redelegate, RegisterOperator, Undelegate};
pub use state::{
    Delegation, Operator, OperatorMetadata, RedelegationEntry, UnbondingEntry, Validator,
};

use crate::bank::{self, Pool};
use crate::context::BlockContext;
use crate::params::Params;
use crate::store::Store;
use surety_types::amount::{mul_div_ceil, mul_div_floor};
use surety_types::{AccountId, Amount, ArithmeticError, Epoch, Height, OperatorId, Ratio, Shares};

impl OperatorMetadata {
    /// Each field at most `METADATA_FIELD_BYTES_MAX` bytes (state is stored by every node).
    pub fn validate(&self) -> Result<(), StakingError> {
        for (field, value) in [
            ("moniker", &self.moniker),
            ("website", &self.website),
            ("details", &self.details),
            ("endpoint", &self.endpoint),
        ] {
            if value.len() > state::METADATA_FIELD_BYTES_MAX {
                return Err(StakingError::MetadataTooLong {
                    field,
                    length: value.len(),
                    limit: state::METADATA_FIELD_BYTES_MAX,
                });
            }
        }
        Ok(())
    }
}

fn load(store: &Store, id: &OperatorId) -> Result<Operator, StakingError> {
    state::operator(store, id).ok_or(StakingError::UnknownOperator(*id))
}

/// Shares that `amount` buys in `operator`'s pool (rounded down, in the pool's favour).
fn shares_for(operator: &Operator, amount: Amount) -> Result<Shares, StakingError> {
    if operator.shares.is_zero() {
        // An empty pool starts at one share per token. (Tokens cannot remain without shares:
        // the last shares out take the last tokens.)
        debug_assert!(operator.tokens.is_zero());
        return Ok(Shares::new(amount.get()));
    }
    if operator.tokens.is_zero() {
        return Err(StakingError::OperatorDepleted(operator.id));
    }
    Ok(Shares::new(mul_div_floor(
        amount.get(),
        operator.shares.get(),
        operator.tokens.get(),
    )?))
}

/// Tokens of self-delegation the operator holds.
pub fn self_bond(store: &Store, operator: &Operator) -> Amount {
    let shares = state::delegation(store, &operator.id, &operator.id.account()).shares;
    operator.tokens_for(shares)
}

/// Pay `delegator` what its delegation to `operator` has earned. `Ok(false)` if it holds no
/// shares there (nothing to claim from).
pub fn claim(
    store: &mut Store,
    operator: &OperatorId,
    delegator: &AccountId,
) -> Result<bool, bank::BankError> {
    let mut delegation = state::delegation(store, operator, delegator);
    if delegation.shares.is_zero() {
        return Ok(false);
    }
    accumulator::settle(store, operator, delegator, &mut delegation)?;
    state::set_delegation(store, operator, delegator, &delegation);
    Ok(true)
}

/// Add `amount` of `delegator`'s tokens to `operator`'s pool.
fn bond(
    store: &mut Store,
    operator: &mut Operator,
    delegator: &AccountId,
    amount: Amount,
) -> Result<Shares, StakingError> {
    if amount.is_zero() {
        return Err(StakingError::ZeroAmount);
    }
    if operator.tombstoned {
        return Err(StakingError::Tombstoned(operator.id));
    }
    if operator.is_frozen() {
        return Err(StakingError::OperatorFrozen(operator.id));
    }
    let shares = shares_for(operator, amount)?;
    if shares.is_zero() {
        return Err(StakingError::AmountTooSmall);
    }
    let mut delegation = state::delegation(store, &operator.id, delegator);
    accumulator::settle(store, &operator.id, delegator, &mut delegation)?;
    bank::account_to_pool(store, delegator, Pool::Bonded, amount)?;
    operator.tokens = operator.tokens.checked_add(amount)?;
    operator.shares = operator.shares.checked_add(shares)?;
    delegation.shares = delegation.shares.checked_add(shares)?;
    state::set_delegation(store, &operator.id, delegator, &delegation);
    state::set_operator(store, operator);
    Ok(shares)
}

/// Remove `shares` from `delegator`'s delegation and the pool; returns the tokens they were
/// worth (still counted in the bonded pool: the caller moves them).
fn unbond(
    store: &mut Store,
    operator: &mut Operator,
    delegator: &AccountId,
    shares: Shares,
) -> Result<Amount, StakingError> {
    if shares.is_zero() {
        return Err(StakingError::ZeroAmount);
    }
    if operator.is_frozen() {
        return Err(StakingError::OperatorFrozen(operator.id));
    }
    let mut delegation = state::delegation(store, &operator.id, delegator);
    if delegation.shares < shares {
        return Err(StakingError::InsufficientShares {
            held: delegation.shares,
            asked: shares,
        });
    }
    accumulator::settle(store, &operator.id, delegator, &mut delegation)?;
    let tokens = operator.tokens_for(shares);
    operator.tokens = operator.tokens.checked_sub(tokens)?;
    operator.shares = operator.shares.checked_sub(shares)?;
    delegation.shares = delegation.shares.checked_sub(shares)?;
    state::set_delegation(store, &operator.id, delegator, &delegation);
    if operator.shares.is_zero() {
        // The last shares out take the last tokens.
        debug_assert!(operator.tokens.is_zero());
        accumulator::pool_emptied(store, &operator.id)?;
    }
    state::set_operator(store, operator);
    Ok(tokens)
}

/// An operator whose self-bond fell below the minimum is jailed (it may unjail after bonding
/// more).
fn check_self_bond(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    operator: &mut Operator,
    delegator: &AccountId,
) {
    if *delegator == operator.id.account()
        && !operator.jailed
        && self_bond(store, operator) < params.staking.min_self_bond
    {
        jail(store, operator, ctx.epoch);
    }
}

/// Execute a [`RegisterOperator`]: the signer becomes an operator (its id is its account's),
/// its consensus key is indexed, and its self-bond is bonded to its own pool. A family it
/// declares needs its head's consent for `chain_id` ([`check_family_consent`]).
pub fn execute_register(
    store: &mut Store,
    params: &Params,
    chain_id: &str,
    epoch: Epoch,
    signer: &AccountId,
    msg: &RegisterOperator,
) -> Result<(), StakingError> {
    let id = OperatorId::from(*signer);
    if state::operator(store, &id).is_some() {
        return Err(StakingError::AlreadyOperator);
    }
    let consensus_key: surety_types::crypto::VerificationKeyBytes = msg.consensus_key.into();
    // Both keys prove VRF outputs (docs/consensus.md "Seed", docs/market.md "Audits"); ed25519
    // signature checks accept some keys a VRF refuses.
    surety_types::vrf::validate_public_key(&consensus_key.0)
        .map_err(|_| StakingError::NotAVrfKey("consensus"))?;
    surety_types::vrf::validate_public_key(&signer.0)
        .map_err(|_| StakingError::NotAVrfKey("account"))?;
    if let Some(owner) = state::operator_by_consensus_key(store, &consensus_key) {
        return Err(StakingError::ConsensusKeyTaken(owner));
    }
    if msg.self_bond < params.staking.min_self_bond {
        return Err(StakingError::SelfBondTooSmall {
            given: msg.self_bond,
            minimum: params.staking.min_self_bond,
        });
    }
    msg.metadata.validate()?;
    check_family_consent(&msg.metadata, chain_id, signer, epoch)?;
    let mut operator = Operator {
        id,
        consensus_key,
        commission: msg.commission,
        max_commission_change: msg.max_commission_change,
        commission_changed_epoch: None,
        metadata: msg.metadata.clone(),
        tokens: Amount::ZERO,
        shares: Shares::ZERO,
        jailed: false,
        jailed_until: Epoch::new(0),
        tombstoned: false,
        pending_slashes: 0,
        dispute_holds: 0,
    };
    state::set_consensus_key_index(store, &consensus_key, &id);
    bond(store, &mut operator, signer, msg.self_bond)?;
    store.emit(StakingEvent::OperatorRegistered {
        operator: id,
        self_bond: msg.self_bond,
    });
    Ok(())
}

/// Execute an [`EditOperator`]: change the signer's operator's commission (once per epoch,
/// within `max_commission_change`) and/or metadata. New metadata's family needs its head's
/// consent for `chain_id` ([`check_family_consent`]), as at registration.
pub fn execute_edit(
    store: &mut Store,
    ctx: &BlockContext,
    chain_id: &str,
    signer: &AccountId,
    msg: &EditOperator,
) -> Result<(), StakingError> {
    let id = OperatorId::from(*signer);
    let mut operator = state::operator(store, &id).ok_or(StakingError::NotOperator)?;
    if let Some(commission) = msg.commission {
        if let Some(epoch) = operator.commission_changed_epoch {
            if epoch == ctx.epoch {
                return Err(StakingError::CommissionChangedThisEpoch(epoch));
            }
        }
        let change = commission.abs_diff(operator.commission);
        if change > operator.max_commission_change {
            return Err(StakingError::CommissionChangeTooLarge {
                max: operator.max_commission_change,
                asked: change,
            });
        }
        operator.commission = commission;
        operator.commission_changed_epoch = Some(ctx.epoch);
    }
    if let Some(metadata) = &msg.metadata {
        metadata.validate()?;
        check_family_consent(metadata, chain_id, signer, ctx.epoch)?;
        operator.metadata = metadata.clone();
    }
    state::set_operator(store, &operator);
    Ok(())
}

/// Execute a [`Delegate`]: bond the signer's tokens to an operator's pool for shares of it.
pub fn execute_delegate(
    store: &mut Store,
    signer: &AccountId,
    msg: &Delegate,
) -> Result<(), StakingError> {
    let mut operator = load(store, &msg.operator)?;
    let shares = bond(store, &mut operator, signer, msg.amount)?;
    store.emit(StakingEvent::Delegated {
        delegator: *signer,
        operator: msg.operator,
        amount: msg.amount,
        shares,
    });
    Ok(())
}

/// Execute an [`Undelegate`]: give up shares of a pool; their tokens wait in the unbonding
/// queue for `unbonding_epochs`, slashable for offences from before this block. An operator
/// whose self-bond falls below the minimum is jailed.
pub fn execute_undelegate(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &Undelegate,
) -> Result<(), StakingError> {
    let mut operator = load(store, &msg.operator)?;
    let tokens = unbond(store, &mut operator, signer, msg.shares)?;
    let completion_epoch = ctx.epoch.plus(params.staking.unbonding_epochs)?;
    if !tokens.is_zero() {
        bank::pool_to_pool(store, Pool::Bonded, Pool::Unbonding, tokens)?;
        let entry = UnbondingEntry {
            id: state::next_entry_id(store),
            delegator: *signer,
            operator: msg.operator,
            initial: tokens,
            balance: tokens,
            creation_height: ctx.height,
            completion_epoch,
        };
        state::put_unbonding(store, &entry);
    }
    check_self_bond(store, params, ctx, &mut operator, signer);
    store.emit(StakingEvent::Undelegated {
        delegator: *signer,
        operator: msg.operator,
        shares: msg.shares,
        amount: tokens,
        completion_epoch,
    });
    Ok(())
}

/// Execute a [`Redelegate`]: move shares' worth of stake to another operator at once. The
/// entry it leaves keeps the moved stake slashable for the source's offences from before
/// this block until `unbonding_epochs` have passed.
pub fn execute_redelegate(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
    msg: &Redelegate,
) -> Result<(), StakingError> {
    if msg.source == msg.destination {
        return Err(StakingError::SameOperator);
    }
    let mut source = load(store, &msg.source)?;
    let mut destination = load(store, &msg.destination)?;
    // Frozen first: it is why the stake cannot move, whatever else is wrong.
    if source.is_frozen() {
        return Err(StakingError::OperatorFrozen(source.id));
    }
    if state::has_incoming_redelegation(store, signer, &msg.source) {
        return Err(StakingError::ChainedRedelegation(msg.source));
    }
    if destination.tombstoned {
        return Err(StakingError::Tombstoned(destination.id));
    }
    if destination.is_frozen() {
        return Err(StakingError::OperatorFrozen(destination.id));
    }
    // Check the destination can price the stake before anything moves.
    let tokens_preview = source.tokens_for(
        msg.shares
            .min(state::delegation(store, &msg.source, signer).shares),
    );
    if shares_for(&destination, tokens_preview)?.is_zero() {
        return Err(StakingError::AmountTooSmall);
    }
    let tokens = unbond(store, &mut source, signer, msg.shares)?;
    // Bonded stays bonded: no pool movement, only a change of pool owner.
    let destination_shares = shares_for(&destination, tokens)?;
    let mut delegation = state::delegation(store, &destination.id, signer);
    accumulator::settle(store, &destination.id, signer, &mut delegation)?;
    destination.tokens = destination.tokens.checked_add(tokens)?;
    destination.shares = destination.shares.checked_add(destination_shares)?;
    delegation.shares = delegation.shares.checked_add(destination_shares)?;
    state::set_delegation(store, &destination.id, signer, &delegation);
    state::set_operator(store, &destination);
    let entry = RedelegationEntry {
        id: state::next_entry_id(store),
        delegator: *signer,
        source: msg.source,
        destination: msg.destination,
        initial: tokens,
        destination_shares,
        creation_height: ctx.height,
        completion_epoch: ctx.epoch.plus(params.staking.unbonding_epochs)?,
    };
    state::put_redelegation(store, &entry);
    check_self_bond(store, params, ctx, &mut source, signer);
    store.emit(StakingEvent::Redelegated {
        delegator: *signer,
        source: msg.source,
        destination: msg.destination,
        amount: tokens,
    });
    Ok(())
}

/// Pay out every matured unbonding entry of the signer whose operator is not frozen.
pub fn execute_withdraw(
    store: &mut Store,
    ctx: &BlockContext,
    signer: &AccountId,
) -> Result<(), StakingError> {
    let mut paid_any = false;
    for entry in state::unbondings_of(store, signer) {
        if entry.completion_epoch > ctx.epoch {
            continue;
        }
        let frozen = state::operator(store, &entry.operator).is_some_and(|o| o.is_frozen());
        if frozen {
            continue;
        }
        bank::pool_to_account(store, Pool::Unbonding, signer, entry.balance)?;
        state::remove_unbonding(store, &entry);
        paid_any = true;
        store.emit(StakingEvent::Withdrawn {
            delegator: *signer,
            operator: entry.operator,
            amount: entry.balance,
        });
    }
    if !paid_any {
        return Err(StakingError::NothingToWithdraw);
    }
    Ok(())
}

/// Execute an unjail: the signer's operator leaves jail once its term is over, it is not
/// frozen or tombstoned, and its self-bond is at least the minimum.
pub fn execute_unjail(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    signer: &AccountId,
) -> Result<(), StakingError> {
    let id = OperatorId::from(*signer);
    let mut operator = state::operator(store, &id).ok_or(StakingError::NotOperator)?;
    if operator.tombstoned {
        return Err(StakingError::Tombstoned(id));
    }
    if !operator.jailed {
        return Err(StakingError::NotJailed);
    }
    if ctx.epoch < operator.jailed_until {
        return Err(StakingError::StillJailed {
            until: operator.jailed_until,
            now: ctx.epoch,
        });
    }
    if operator.is_frozen() {
        return Err(StakingError::OperatorFrozen(id));
    }
    let have = self_bond(store, &operator);
    if have < params.staking.min_self_bond {
        return Err(StakingError::SelfBondBelowMinimum {
            have,
            minimum: params.staking.min_self_bond,
        });
    }
    operator.jailed = false;
    state::set_operator(store, &operator);
    store.emit(StakingEvent::Unjailed { operator: id });
    Ok(())
}

/// Jail `operator` until at least `until`, and drop it from the active set at once.
pub fn jail(store: &mut Store, operator: &mut Operator, until: Epoch) {
    operator.jailed = true;
    operator.jailed_until = operator.jailed_until.max(until);
    state::set_operator(store, operator);
    let mut set = state::active_set(store);
    let before = set.len();
    set.retain(|v| v.operator != operator.id);
    if set.len() != before {
        state::set_active_set(store, &set);
    }
    store.emit(StakingEvent::Jailed {
        operator: operator.id,
        until: operator.jailed_until,
    });
}

/// Jail for good.
pub fn tombstone(store: &mut Store, operator: &mut Operator) {
    operator.tombstoned = true;
    jail(store, operator, Epoch::new(u64::MAX));
}

/// What a slash took, by the pool the tokens were in. The caller (slashing) moves them on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlashOutcome {
    /// Tokens taken from bonded stake: the pool's and redelegated stake's in destination pools.
    pub from_bonded: Amount,
    /// Tokens taken from unbonding entries (still in the unbonding pool).
    pub from_unbonding: Amount,
    /// Stake the slash could reach: the pool now, plus unbonding and redelegated stake that
    /// left after the offence. The slash never exceeds it.
    pub at_risk: Amount,
}

impl SlashOutcome {
    /// Everything the slash took (both pools).
    pub fn total(&self) -> Result<Amount, ArithmeticError> {
        self.from_bonded.checked_add(self.from_unbonding)
    }
}

/// Slash `fraction` of the stake that was bonded to `operator` at `offence_height`: the pool
/// (O(1) in delegators), plus unbonding and redelegated stake that left after the offence.
pub fn slash(
    store: &mut Store,
    operator_id: &OperatorId,
    fraction: Ratio,
    offence_height: Height,
) -> Result<SlashOutcome, StakingError> {
    let mut outcome = SlashOutcome::default();
    for mut entry in state::unbondings_from(store, operator_id) {
        if entry.creation_height <= offence_height {
            continue;
        }
        outcome.at_risk = outcome.at_risk.checked_add(entry.balance)?;
        let cut = fraction.mul_floor(entry.initial).min(entry.balance);
        entry.balance = entry.balance.checked_sub(cut)?;
        outcome.from_unbonding = outcome.from_unbonding.checked_add(cut)?;
        state::put_unbonding(store, &entry);
    }
    // Each delegator's unbonding entries are read once per slash, however many redelegations
    // it made: a delegator with many of both cannot make one slash quadratic.
    let mut unbondings = std::collections::BTreeMap::new();
    for entry in state::redelegations_from(store, operator_id) {
        if entry.creation_height <= offence_height {
            continue;
        }
        slash_redelegation(store, entry, fraction, &mut unbondings, &mut outcome)?;
    }
    let mut operator = load(store, operator_id)?;
    outcome.at_risk = outcome.at_risk.checked_add(operator.tokens)?;
    let cut = fraction.mul_floor(operator.tokens);
    operator.tokens = operator.tokens.checked_sub(cut)?;
    state::set_operator(store, &operator);
    outcome.from_bonded = outcome.from_bonded.checked_add(cut)?;
    Ok(outcome)
}

/// Slash the stake a redelegation moved out of the offender: `fraction` of what it moved,
/// burned first from the shares it bought at the destination, and what those no longer cover
/// (the delegator undelegated them from the destination, perhaps in the same block) from the
/// delegator's unbonding entries at the destination made after the redelegation. Without the
/// second part, redelegate-then-undelegate would carry the stake out of reach.
fn slash_redelegation(
    store: &mut Store,
    mut entry: RedelegationEntry,
    fraction: Ratio,
    unbondings: &mut std::collections::BTreeMap<AccountId, Vec<UnbondingEntry>>,
    outcome: &mut SlashOutcome,
) -> Result<(), StakingError> {
    let cut = fraction.mul_floor(entry.initial);
    let mut taken = Amount::ZERO;
    let mut destination = load(store, &entry.destination)?;
    if !destination.tokens.is_zero() && !destination.shares.is_zero() {
        let mut delegation = state::delegation(store, &destination.id, &entry.delegator);
        let shares_wanted = Shares::new(mul_div_ceil(
            cut.get(),
            destination.shares.get(),
            destination.tokens.get(),
        )?);
        let burn = shares_wanted
            .min(entry.destination_shares)
            .min(delegation.shares);
        if !burn.is_zero() {
            accumulator::settle(store, &destination.id, &entry.delegator, &mut delegation)?;
            let tokens = destination.tokens_for(burn);
            let held = destination.tokens_for(entry.destination_shares.min(delegation.shares));
            outcome.at_risk = outcome.at_risk.checked_add(held)?;
            destination.tokens = destination.tokens.checked_sub(tokens)?;
            destination.shares = destination.shares.checked_sub(burn)?;
            delegation.shares = delegation.shares.checked_sub(burn)?;
            entry.destination_shares = entry.destination_shares.checked_sub(burn)?;
            state::set_delegation(store, &destination.id, &entry.delegator, &delegation);
            if destination.shares.is_zero() {
                accumulator::pool_emptied(store, &destination.id)?;
            }
            state::set_operator(store, &destination);
            state::put_redelegation(store, &entry);
            outcome.from_bonded = outcome.from_bonded.checked_add(tokens)?;
            taken = tokens;
        }
    }
    let mut owed = cut.saturating_sub(taken);
    // Entry ids come from one counter, so a larger id was made later, even in the same block.
    if owed.is_zero() {
        return Ok(());
    }
    let entries = unbondings
        .entry(entry.delegator)
        .or_insert_with(|| state::unbondings_of(store, &entry.delegator));
    for unbonding in entries.iter_mut() {
        if owed.is_zero() {
            break;
        }
        if unbonding.operator != entry.destination || unbonding.id < entry.id {
            continue;
        }
        outcome.at_risk = outcome.at_risk.checked_add(unbonding.balance)?;
        let part = owed.min(unbonding.balance);
        unbonding.balance = unbonding.balance.checked_sub(part)?;
        owed = owed.checked_sub(part)?;
        outcome.from_unbonding = outcome.from_unbonding.checked_add(part)?;
        state::put_unbonding(store, unbonding);
    }
    Ok(())
}

/// One of `operator`'s queued slashes has been applied (slashing calls this after
/// [`slash`]): one fewer is pending, and with none left the operator is no longer frozen.
pub fn slash_applied(store: &mut Store, operator_id: &OperatorId) {
    let mut operator = state::operator(store, operator_id).expect("faulted operator exists");
    // Every queued slash was counted when slashing queued it. This runs in the end-block hook,
    // so a broken count is caught by the debug assertion in tests and stops at 0 rather than
    // halting the chain.
    debug_assert!(operator.pending_slashes > 0, "an applied slash was pending");
    operator.pending_slashes = operator.pending_slashes.saturating_sub(1);
    state::set_operator(store, &operator);
}

/// Slashing counted a pending slash on `operator` without jailing it (a market fault): store
/// the record, frozen until the slash applies.
pub fn note_pending_slash(store: &mut Store, operator: &Operator) {
    state::set_operator(store, operator);
}

/// A dispute in which `operator_id` is a party opened: freeze its stake until the verdict.
pub fn hold(store: &mut Store, operator_id: &OperatorId) -> Result<(), StakingError> {
    let mut operator = load(store, operator_id)?;
    operator.dispute_holds =
        operator
            .dispute_holds
            .checked_add(1)
            .ok_or(StakingError::Arithmetic(
                surety_types::ArithmeticError::Overflow,
            ))?;
    state::set_operator(store, &operator);
    Ok(())
}

/// A dispute in which `operator_id` was a party was settled: lift its hold. (A verdict that
/// finds it wrong reports an offence first, which freezes it on its own until the slash.)
pub fn release(store: &mut Store, operator_id: &OperatorId) -> Result<(), StakingError> {
    let mut operator = load(store, operator_id)?;
    debug_assert!(operator.dispute_holds > 0, "a released hold was held");
    operator.dispute_holds = operator.dispute_holds.saturating_sub(1);
    state::set_operator(store, &operator);
    Ok(())
}

/// Genesis: store the first active validator set, computed from the genesis operators by
/// [`compute_active_set`], and return it (empty if no operator qualifies, which genesis
/// refuses). After genesis only [`end_block`] (at epoch ends) and [`jail`] change the set.
pub fn genesis_active_set(store: &mut Store, params: &Params) -> Vec<Validator> {
    let set = compute_active_set(store, params);
    state::set_active_set(store, &set);
    set
}

/// The top `max_validators` operators by bonded tokens that are not jailed; ties go to the
/// lower operator id.
pub fn compute_active_set(store: &Store, params: &Params) -> Vec<Validator> {
    let mut candidates: Vec<Operator> = state::all_operators(store)
        .into_iter()
        .filter(|o| !o.jailed && !o.tombstoned && !o.tokens.is_zero())
        .collect();
    candidates.sort_by(|a, b| b.tokens.cmp(&a.tokens).then(a.id.cmp(&b.id)));
    candidates
        .into_iter()
        .take(params.staking.max_validators as usize)
        .map(|o| Validator {
            operator: o.id,
            consensus_key: o.consensus_key,
            power: o.tokens,
        })
        .collect()
}

/// End of block: at an epoch end, drop completed redelegation records, lapse the family
/// memberships whose consent ends with this epoch, and recompute the active set.
pub fn end_block(store: &mut Store, params: &Params, ctx: &BlockContext) {
    if !ctx.is_epoch_end(params) {
        return;
    }
    let next_epoch = ctx.epoch.next();
    for entry in state::redelegations_due(store, next_epoch) {
        state::remove_redelegation(store, &entry);
    }
    for mut operator in state::all_operators(store) {
        if !family::lapses(&operator.metadata, ctx.epoch) {
            continue;
        }
        let head = operator.metadata.family.take();
        operator.metadata.family_consent = None;
        operator.metadata.family_until = None;
        state::set_operator(store, &operator);
        if let Some(head) = head {
            store.emit(StakingEvent::FamilyLapsed {
                operator: operator.id,
                head,
            });
        }
    }
    let set = compute_active_set(store, params);
    state::set_active_set(store, &set);
}

#[cfg(test)]
mod tests {
    use super::*;
    use surety_types::{SigningKey, VerificationKey};

    fn operator_with(tokens: u128, shares: u128) -> Operator {
        Operator {
            id: OperatorId([9; 32]),
            consensus_key: SigningKey::from_seed([9; 32]).verification_key().into(),
            commission: Ratio::ZERO,
            max_commission_change: Ratio::ZERO,
            commission_changed_epoch: None,
            metadata: OperatorMetadata::default(),
            tokens: Amount::new(tokens),
            shares: Shares::new(shares),
            jailed: false,
            jailed_until: Epoch::new(0),
            tombstoned: false,
            pending_slashes: 0,
            dispute_holds: 0,
        }
    }

    #[test]
    fn an_operator_whose_keys_cannot_prove_vrf_outputs_is_refused() {
        let params = Params::default();
        let register = |consensus_key| RegisterOperator {
            consensus_key,
            commission: Ratio::ZERO,
            max_commission_change: Ratio::ZERO,
            metadata: OperatorMetadata::default(),
            self_bond: params.staking.min_self_bond,
        };
        // The identity point: a valid ed25519 (ZIP-215) key, of small order, no VRF key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let small_order = VerificationKey::from_bytes(identity).expect("ZIP-215 accepts it");
        let good = SigningKey::from_seed([3; 32]).verification_key();
        let mut store = Store::new();
        let signer = AccountId::from_key(&SigningKey::from_seed([4; 32]).verification_key());
        assert_eq!(
            execute_register(
                &mut store,
                &params,
                "chain",
                Epoch::new(0),
                &signer,
                &register(small_order)
            ),
            Err(StakingError::NotAVrfKey("consensus"))
        );
        assert_eq!(
            execute_register(
                &mut store,
                &params,
                "chain",
                Epoch::new(0),
                &AccountId(identity),
                &register(good)
            ),
            Err(StakingError::NotAVrfKey("account"))
        );
    }

    #[test]
    fn an_empty_pool_sells_one_share_per_token() {
        assert_eq!(
            shares_for(&operator_with(0, 0), Amount::new(500)),
            Ok(Shares::new(500))
        );
    }

    #[test]
    fn after_a_slash_a_token_buys_more_shares() {
        // 1,000 shares backed by 900 tokens: 90 tokens buy 100 shares.
        assert_eq!(
            shares_for(&operator_with(900, 1_000), Amount::new(90)),
            Ok(Shares::new(100))
        );
        assert_eq!(
            operator_with(900, 1_000).tokens_for(Shares::new(100)),
            Amount::new(90)
        );
    }

    #[test]
    fn rounding_favours_the_pool() {
        // 3 tokens, 2 shares: 1 token buys floor(2/3) = 0 shares; 1 share is worth floor(1.5) = 1.
        assert_eq!(
            shares_for(&operator_with(3, 2), Amount::new(1)),
            Ok(Shares::new(0))
        );
        assert_eq!(
            operator_with(3, 2).tokens_for(Shares::new(1)),
            Amount::new(1)
        );
    }

    #[test]
    fn a_pool_slashed_to_nothing_takes_no_new_stake() {
        let operator = operator_with(0, 1_000);
        assert_eq!(
            shares_for(&operator, Amount::new(10)),
            Err(StakingError::OperatorDepleted(operator.id))
        );
    }

    #[test]
    fn metadata_fields_are_bounded() {
        let long = OperatorMetadata {
            moniker: "x".repeat(state::METADATA_FIELD_BYTES_MAX + 1),
            ..Default::default()
        };
        assert!(matches!(
            long.validate(),
            Err(StakingError::MetadataTooLong {
                field: "moniker",
                ..
            })
        ));
        assert_eq!(OperatorMetadata::default().validate(), Ok(()));
    }

    #[test]
    fn the_active_set_is_the_top_operators_by_stake_with_ties_to_the_lower_id() {
        let mut store = Store::new();
        let mut params = Params::default();
        params.staking.max_validators = 2;
        for (byte, tokens) in [(1u8, 50u128), (2, 70), (3, 70), (4, 10)] {
            let mut operator = operator_with(tokens, tokens);
            operator.id = OperatorId([byte; 32]);
            state::set_operator(&mut store, &operator);
        }
        let mut jailed = operator_with(1_000, 1_000);
        jailed.id = OperatorId([5; 32]);
        jailed.jailed = true;
        state::set_operator(&mut store, &jailed);
        let set: Vec<OperatorId> = compute_active_set(&store, &params)
            .into_iter()
            .map(|v| v.operator)
            .collect();
        assert_eq!(set, vec![OperatorId([2; 32]), OperatorId([3; 32])]);
    }
}
