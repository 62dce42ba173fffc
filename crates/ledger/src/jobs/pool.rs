//! The audit pool of each epoch (docs/market.md, "Audits: private sortition"): for every model,
//! the operators serving it at the end of the epoch before (jailed, tombstoned and slash-pending
//! ones out, those frozen by a dispute in: [`services::audit_pool`]), with their weights and
//! owners, taken once and kept for two epochs. Claims are weighed against it, so nothing done
//! after a job's seals (an allocation, a deallocation, a family edit) changes anyone's chance
//! of auditing it, and a coalition cannot add weight when it sees which of its own members
//! would be selected.

use crate::context::BlockContext;
use crate::params::Params;
use crate::services;
use crate::store::{key, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;
use surety_types::{AccountId, Amount, Epoch, ModelId, OperatorId};

/// One operator in an epoch's pool.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PoolEntry {
    /// Its weight: the allocation not leaving, capped by its bonded tokens.
    pub weight: Amount,
    /// Its owner: the head of its declared family, or its own account.
    pub owner: AccountId,
}

fn epoch_prefix(epoch: Epoch) -> Vec<u8> {
    key("jobs/pool", &[&epoch.get().to_be_bytes(), b""])
}

fn total_key(epoch: Epoch, model: &ModelId) -> Vec<u8> {
    key(
        "jobs/pool",
        &[&epoch.get().to_be_bytes(), &model.0, b"total"],
    )
}

fn entry_key(epoch: Epoch, model: &ModelId, operator: &OperatorId) -> Vec<u8> {
    key(
        "jobs/pool",
        &[
            &epoch.get().to_be_bytes(),
            &model.0,
            b"operator",
            &operator.0,
        ],
    )
}

fn owner_key(epoch: Epoch, model: &ModelId, owner: &AccountId) -> Vec<u8> {
    key(
        "jobs/pool",
        &[&epoch.get().to_be_bytes(), &model.0, b"owner", &owner.0],
    )
}

/// The owner of an operator that declares `family`: the family's head, or itself.
pub fn owner_of(operator: &OperatorId, family: Option<AccountId>) -> AccountId {
    family.unwrap_or_else(|| operator.account())
}

/// Take `model`'s pool for `epoch` from state as it is now, unless it was taken already.
/// Returns its total weight.
pub(super) fn ensure(store: &mut Store, epoch: Epoch, model: &ModelId) -> Amount {
    if let Some(total) = store.get::<Amount>(&total_key(epoch, model)) {
        return total;
    }
    let mut total = Amount::ZERO;
    let mut owners: BTreeMap<AccountId, Amount> = BTreeMap::new();
    for (operator, weight, family) in services::audit_pool(store, model) {
        let owner = owner_of(&operator, family);
        store.put(
            entry_key(epoch, model, &operator),
            &PoolEntry { weight, owner },
        );
        let sum = owners.entry(owner).or_insert(Amount::ZERO);
        // Weights are capped by bonded tokens, whose sum is within the supply.
        *sum = sum.saturating_add(weight);
        total = total.saturating_add(weight);
    }
    for (owner, weight) in owners {
        store.put(owner_key(epoch, model, &owner), &weight);
    }
    store.put(total_key(epoch, model), &total);
    total
}

/// `operator`'s entry in `model`'s pool of `epoch`, if it was eligible then.
pub fn entry(
    store: &Store,
    epoch: Epoch,
    model: &ModelId,
    operator: &OperatorId,
) -> Option<PoolEntry> {
    store.get(&entry_key(epoch, model, operator))
}

/// The weight of `owner`'s operators in `model`'s pool of `epoch`.
pub fn owner_weight(store: &Store, epoch: Epoch, model: &ModelId, owner: &AccountId) -> Amount {
    store
        .get(&owner_key(epoch, model, owner))
        .unwrap_or(Amount::ZERO)
}

/// The weight of `model`'s pool of `epoch` outside `excluded` (accounts and owners): every
/// operator whose owner is excluded, and every excluded account's own entry whatever its owner.
pub(super) fn weight_outside(
    store: &Store,
    epoch: Epoch,
    model: &ModelId,
    total: Amount,
    excluded: &[AccountId],
) -> Amount {
    let mut out = Amount::ZERO;
    for account in excluded {
        out = out.saturating_add(owner_weight(store, epoch, model, account));
        if let Some(entry) = entry(store, epoch, model, &OperatorId::from(*account)) {
            if !excluded.contains(&entry.owner) {
                out = out.saturating_add(entry.weight);
            }
        }
    }
    total.saturating_sub(out)
}

/// End of an epoch's last block: take every model's pool for the next epoch, and drop the
/// pools of the epoch before this one (every claim window opened then is over: windows are
/// shorter than an epoch, `Params::validate`).
pub(super) fn end_block(store: &mut Store, params: &Params, ctx: &BlockContext) {
    if !ctx.is_epoch_end(params) {
        return;
    }
    let next = Epoch::new(ctx.epoch.get().saturating_add(1));
    for model in crate::models::state::all_models(store) {
        if crate::models::active(store, &model.id).is_ok() {
            ensure(store, next, &model.id);
        }
    }
    if let Some(old) = ctx.epoch.get().checked_sub(1) {
        for entry in store.prefix_keys(&epoch_prefix(Epoch::new(old))) {
            store.delete(&entry);
        }
    }
}

/// The total weight of `model`'s pool of `epoch`, if it was taken.
pub fn total(store: &Store, epoch: Epoch, model: &ModelId) -> Option<Amount> {
    store.get(&total_key(epoch, model))
}
