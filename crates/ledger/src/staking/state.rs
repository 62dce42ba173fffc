//! Staking state: operators (each a pool of tokens and shares), delegations (shares of a pool),
//! unbonding and redelegation entries (stake that left a pool but is still slashable for
//! offences from before it left), and the active validator set.

use crate::store::{key, part_from_end, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::crypto::VerificationKeyBytes;
use surety_types::{AccountId, Amount, Epoch, Height, OperatorId, Ratio, Shares};

/// Longest operator metadata field, in bytes.
pub const METADATA_FIELD_BYTES_MAX: usize = 256;

#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct OperatorMetadata {
    pub moniker: String,
    pub website: String,
    pub details: String,
    /// Where the operator's node serves RPC and jobs.
    pub endpoint: String,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Operator {
    pub id: OperatorId,
    /// Signs consensus votes; equivocation evidence is checked against it.
    pub consensus_key: VerificationKeyBytes,
    pub commission: Ratio,
    /// Most the commission may move in one change (at most one change per epoch).
    pub max_commission_change: Ratio,
    pub commission_changed_epoch: Option<Epoch>,
    pub metadata: OperatorMetadata,
    /// Bonded tokens in the pool (voting power).
    pub tokens: Amount,
    /// Shares outstanding against the pool.
    pub shares: Shares,
    pub jailed: bool,
    /// Earliest epoch at which a jailed operator may unjail.
    pub jailed_until: Epoch,
    /// Permanently jailed (equivocation).
    pub tombstoned: bool,
    /// Reported offences whose slash has not been applied yet. While non-zero the operator is
    /// frozen: no stake may leave its pool or its unbonding queue.
    pub pending_slashes: u32,
}

impl Operator {
    pub fn is_frozen(&self) -> bool {
        self.pending_slashes > 0
    }

    /// Tokens that `shares` of this pool are worth, rounded down.
    pub fn tokens_for(&self, shares: Shares) -> Amount {
        if self.shares.is_zero() {
            return Amount::ZERO;
        }
        Amount(
            surety_types::amount::mul_div_floor(shares.0, self.tokens.0, self.shares.0)
                .expect("shares <= total shares keeps the product within the pool"),
        )
    }
}

#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Delegation {
    pub shares: Shares,
    /// The operator's reward-per-share accumulator at this delegation's last settlement. Owned
    /// by the rewards module (`rewards::settle` updates it); kept in this record so that a
    /// delegation is one authenticated key, not two.
    pub reward_snapshot: u128,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct UnbondingEntry {
    pub id: u64,
    pub delegator: AccountId,
    pub operator: OperatorId,
    /// Tokens when the entry was made; slashes take a fraction of this, like of bonded stake.
    pub initial: Amount,
    /// Tokens still owed (after slashes).
    pub balance: Amount,
    /// Offences at or after this height were committed while the stake was still bonded.
    pub creation_height: Height,
    pub completion_epoch: Epoch,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RedelegationEntry {
    pub id: u64,
    pub delegator: AccountId,
    pub source: OperatorId,
    pub destination: OperatorId,
    pub initial: Amount,
    /// Shares of the destination pool the move created; a slash of the source burns from these.
    pub destination_shares: Shares,
    pub creation_height: Height,
    pub completion_epoch: Epoch,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Validator {
    pub operator: OperatorId,
    pub consensus_key: VerificationKeyBytes,
    pub power: Amount,
}

fn id_bytes(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

pub const OPERATOR_PREFIX: &str = "staking/operator";

pub fn operator_key(operator: &OperatorId) -> Vec<u8> {
    key(OPERATOR_PREFIX, &[&operator.0])
}

fn consensus_key_index(consensus_key: &VerificationKeyBytes) -> Vec<u8> {
    key("staking/consensus", &[&consensus_key.0])
}

pub fn delegation_key(operator: &OperatorId, delegator: &AccountId) -> Vec<u8> {
    key("staking/delegation", &[&operator.0, &delegator.0])
}

fn unbonding_key(operator: &OperatorId, id: u64) -> Vec<u8> {
    key("staking/unbonding", &[&operator.0, &id_bytes(id)])
}

fn unbonding_by_delegator_key(delegator: &AccountId, id: u64) -> Vec<u8> {
    key("staking/unbonding_by", &[&delegator.0, &id_bytes(id)])
}

fn redelegation_key(source: &OperatorId, id: u64) -> Vec<u8> {
    key("staking/redelegation", &[&source.0, &id_bytes(id)])
}

fn redelegation_into_key(delegator: &AccountId, destination: &OperatorId, id: u64) -> Vec<u8> {
    key(
        "staking/redelegation_into",
        &[&delegator.0, &destination.0, &id_bytes(id)],
    )
}

fn redelegation_due_key(epoch: Epoch, source: &OperatorId, id: u64) -> Vec<u8> {
    key(
        "staking/redelegation_due",
        &[&epoch.0.to_be_bytes(), &source.0, &id_bytes(id)],
    )
}

const NEXT_ENTRY_ID_KEY: &[u8] = b"staking/next_entry_id";
const ACTIVE_SET_KEY: &[u8] = b"staking/active_set";

fn with_slash(prefix: Vec<u8>) -> Vec<u8> {
    let mut prefix = prefix;
    prefix.push(b'/');
    prefix
}

pub fn operator(store: &Store, id: &OperatorId) -> Option<Operator> {
    store.get(&operator_key(id))
}

pub(super) fn set_operator(store: &mut Store, operator: &Operator) {
    store.put(operator_key(&operator.id), operator);
}

pub fn operator_by_consensus_key(
    store: &Store,
    consensus_key: &VerificationKeyBytes,
) -> Option<OperatorId> {
    store.get(&consensus_key_index(consensus_key))
}

pub(super) fn set_consensus_key_index(
    store: &mut Store,
    consensus_key: &VerificationKeyBytes,
    operator: &OperatorId,
) {
    store.put(consensus_key_index(consensus_key), operator);
}

pub fn all_operators(store: &Store) -> Vec<Operator> {
    store
        .prefix_values::<Operator>(&with_slash(key(OPERATOR_PREFIX, &[])))
        .into_iter()
        .map(|(_, operator)| operator)
        .collect()
}

pub fn delegation(store: &Store, operator: &OperatorId, delegator: &AccountId) -> Delegation {
    store
        .get(&delegation_key(operator, delegator))
        .unwrap_or_default()
}

pub(super) fn set_delegation(
    store: &mut Store,
    operator: &OperatorId,
    delegator: &AccountId,
    delegation: &Delegation,
) {
    if delegation.shares.is_zero() {
        store.delete(&delegation_key(operator, delegator));
    } else {
        store.put(delegation_key(operator, delegator), delegation);
    }
}

/// Every delegation to `operator`, by delegator.
pub fn delegations_to(store: &Store, operator: &OperatorId) -> Vec<(AccountId, Delegation)> {
    store
        .prefix_values::<Delegation>(&with_slash(key("staking/delegation", &[&operator.0])))
        .into_iter()
        .map(|(key, delegation)| (AccountId(tail_id(&key)), delegation))
        .collect()
}

/// Operators `delegator` has a delegation with. One lookup per operator: operators are few,
/// and a per-delegator index would cost every delegation an extra authenticated key (a query
/// path is not worth a slower `apply_block`).
pub fn operators_of(store: &Store, delegator: &AccountId) -> Vec<OperatorId> {
    store
        .prefix_entries(&with_slash(key(OPERATOR_PREFIX, &[])))
        .into_iter()
        .map(|(key, _)| OperatorId(tail_id(&key)))
        .filter(|operator| {
            store
                .get_raw(&delegation_key(operator, delegator))
                .is_some()
        })
        .collect()
}

fn tail_id(key: &[u8]) -> [u8; 32] {
    part_from_end(key, 0).expect("key ends in a 32-byte id")
}

pub(super) fn next_entry_id(store: &mut Store) -> u64 {
    let id: u64 = store.get(NEXT_ENTRY_ID_KEY).unwrap_or(0);
    let next = id
        .checked_add(1)
        .expect("entry ids count up by one from 0 and never reach u64::MAX");
    store.put(NEXT_ENTRY_ID_KEY.to_vec(), &next);
    id
}

pub(super) fn put_unbonding(store: &mut Store, entry: &UnbondingEntry) {
    store.put(unbonding_key(&entry.operator, entry.id), entry);
    store.put(
        unbonding_by_delegator_key(&entry.delegator, entry.id),
        &entry.operator,
    );
}

pub(super) fn remove_unbonding(store: &mut Store, entry: &UnbondingEntry) {
    store.delete(&unbonding_key(&entry.operator, entry.id));
    store.delete(&unbonding_by_delegator_key(&entry.delegator, entry.id));
}

pub fn unbondings_from(store: &Store, operator: &OperatorId) -> Vec<UnbondingEntry> {
    store
        .prefix_values::<UnbondingEntry>(&with_slash(key("staking/unbonding", &[&operator.0])))
        .into_iter()
        .map(|(_, entry)| entry)
        .collect()
}

pub fn unbondings_of(store: &Store, delegator: &AccountId) -> Vec<UnbondingEntry> {
    store
        .prefix_values::<OperatorId>(&with_slash(key("staking/unbonding_by", &[&delegator.0])))
        .into_iter()
        .filter_map(|(key, operator)| {
            let id = u64::from_be_bytes(part_from_end(&key, 0).expect("8-byte id"));
            store.get(&unbonding_key(&operator, id))
        })
        .collect()
}

pub fn all_unbondings(store: &Store) -> Vec<UnbondingEntry> {
    store
        .prefix_values::<UnbondingEntry>(&with_slash(key("staking/unbonding", &[])))
        .into_iter()
        .map(|(_, entry)| entry)
        .collect()
}

pub(super) fn put_redelegation(store: &mut Store, entry: &RedelegationEntry) {
    store.put(redelegation_key(&entry.source, entry.id), entry);
    store.put(
        redelegation_into_key(&entry.delegator, &entry.destination, entry.id),
        &entry.source,
    );
    store.put(
        redelegation_due_key(entry.completion_epoch, &entry.source, entry.id),
        &(),
    );
}

pub(super) fn remove_redelegation(store: &mut Store, entry: &RedelegationEntry) {
    store.delete(&redelegation_key(&entry.source, entry.id));
    store.delete(&redelegation_into_key(
        &entry.delegator,
        &entry.destination,
        entry.id,
    ));
    store.delete(&redelegation_due_key(
        entry.completion_epoch,
        &entry.source,
        entry.id,
    ));
}

pub fn redelegations_from(store: &Store, source: &OperatorId) -> Vec<RedelegationEntry> {
    store
        .prefix_values::<RedelegationEntry>(&with_slash(key("staking/redelegation", &[&source.0])))
        .into_iter()
        .map(|(_, entry)| entry)
        .collect()
}

pub fn all_redelegations(store: &Store) -> Vec<RedelegationEntry> {
    store
        .prefix_values::<RedelegationEntry>(&with_slash(key("staking/redelegation", &[])))
        .into_iter()
        .map(|(_, entry)| entry)
        .collect()
}

/// True if `delegator` has stake that arrived at `operator` by a redelegation that has not
/// completed: moving it on would be a chained hop.
pub fn has_incoming_redelegation(
    store: &Store,
    delegator: &AccountId,
    operator: &OperatorId,
) -> bool {
    !store
        .prefix_entries(&with_slash(key(
            "staking/redelegation_into",
            &[&delegator.0, &operator.0],
        )))
        .is_empty()
}

/// Redelegation entries completing at or before `epoch`.
pub fn redelegations_due(store: &Store, epoch: Epoch) -> Vec<RedelegationEntry> {
    let mut due = Vec::new();
    for (key, _) in store.prefix_entries(&with_slash(key("staking/redelegation_due", &[]))) {
        // key = prefix / epoch(8) / source(32) / id(8)
        let completion = u64::from_be_bytes(part_from_end(&key, 42).expect("epoch"));
        if completion > epoch.0 {
            break;
        }
        let source = OperatorId(part_from_end(&key, 9).expect("source"));
        let id = u64::from_be_bytes(part_from_end(&key, 0).expect("id"));
        if let Some(entry) = store.get(&redelegation_key(&source, id)) {
            due.push(entry);
        }
    }
    due
}

pub fn active_set(store: &Store) -> Vec<Validator> {
    store.get(ACTIVE_SET_KEY).unwrap_or_default()
}

pub(super) fn set_active_set(store: &mut Store, set: &Vec<Validator>) {
    store.put(ACTIVE_SET_KEY.to_vec(), set);
}
