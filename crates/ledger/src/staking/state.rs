//! Staking state: operators (each a pool of tokens and shares), delegations (shares of a pool),
//! unbonding and redelegation entries (stake that left a pool but is still slashable for
//! offences from before it left), and the active validator set.

use crate::store::{key, part_from_end, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::crypto::{Signature, VerificationKeyBytes};
use surety_types::{AccountId, Amount, Epoch, Height, OperatorId, Ratio, Shares};

/// Longest operator metadata field, in bytes.
pub const METADATA_FIELD_BYTES_MAX: usize = 256;

/// An operator's public description, set at registration and by `EditOperator`; each field
/// at most `METADATA_FIELD_BYTES_MAX` bytes.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct OperatorMetadata {
    /// A human-readable name.
    pub moniker: String,
    /// The operator's web site.
    pub website: String,
    /// Free text: who runs it, terms, contact.
    pub details: String,
    /// Where the operator's node serves RPC and jobs.
    pub endpoint: String,
    /// The family the operator declares itself part of, named by the account of its head: one
    /// owner's operators. An operator never audits a result of its own family, nor of the
    /// head's or of one that names it as head (docs/market.md, "Families"). Undeclared
    /// families are the market's collusion assumption (`jobs.collusion_fraction`).
    #[serde(default)]
    pub family: Option<AccountId>,
    /// The head's consent to `family`: its account key's signature over
    /// [`family_consent_message`](super::family_consent_message) for this operator and chain.
    /// Required when `family` names another account, absent otherwise (docs/ledger.md,
    /// "Family consent"): without it a cheat could join an honest family and so drop that family
    /// from its own auditors.
    #[serde(default)]
    pub family_consent: Option<Signature>,
    /// The last epoch the head's consent admits the operator (the consent signs it): at that
    /// epoch's end the membership lapses (`family`, `family_consent` and this are cleared,
    /// event `family_lapsed`) unless the member has declared a newer consent by then. A head
    /// takes a member out by not renewing; a consent cannot be replayed once its epoch is
    /// past. Set exactly when `family_consent` is.
    #[serde(default)]
    pub family_until: Option<Epoch>,
}

/// An operator: its keys, commission, and the pool of tokens bonded to it against shares.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Operator {
    /// The operator's id, its account's (one operator per account).
    pub id: OperatorId,
    /// Signs consensus votes; equivocation evidence is checked against it.
    pub consensus_key: VerificationKeyBytes,
    /// Share of its delegators' rewards the operator keeps (DESIGN §3 rewards).
    pub commission: Ratio,
    /// Most the commission may move in one change (at most one change per epoch).
    pub max_commission_change: Ratio,
    /// The epoch of the last commission change, if any: one change per epoch.
    pub commission_changed_epoch: Option<Epoch>,
    /// Moniker, website, details and endpoint.
    pub metadata: OperatorMetadata,
    /// Bonded tokens in the pool (voting power).
    pub tokens: Amount,
    /// Shares outstanding against the pool.
    pub shares: Shares,
    /// Out of the active set and of new work until it unjails (at `jailed_until` or later).
    pub jailed: bool,
    /// Earliest epoch at which a jailed operator may unjail.
    pub jailed_until: Epoch,
    /// Permanently jailed (equivocation).
    pub tombstoned: bool,
    /// Reported offences whose slash has not been applied yet. While non-zero the operator is
    /// frozen: no stake may leave its pool or its unbonding queue.
    pub pending_slashes: u32,
    /// Open disputes in which the operator is a party (defendant, or a staked challenger):
    /// while non-zero the operator is frozen too, so a cheater that sees a dispute open cannot
    /// move its stake out before the verdict (DESIGN §5 step 6), and it gets no new work.
    pub dispute_holds: u32,
}

impl Operator {
    /// True while a reported slash is pending or a dispute against the operator is open: no
    /// stake may leave or join the pool.
    pub fn is_frozen(&self) -> bool {
        self.pending_slashes > 0 || self.dispute_holds > 0
    }

    /// Tokens that `shares` of this pool are worth, rounded down.
    pub fn tokens_for(&self, shares: Shares) -> Amount {
        if self.shares.is_zero() {
            return Amount::ZERO;
        }
        Amount::new(
            surety_types::amount::mul_div_floor(shares.get(), self.tokens.get(), self.shares.get())
                .expect("shares <= total shares keeps the product within the pool"),
        )
    }
}

/// A delegator's claim on an operator's pool, kept under (operator, delegator).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Delegation {
    /// Shares of the operator's pool; worth `tokens_for(shares)` tokens.
    pub shares: Shares,
    /// The operator's reward-per-share accumulator at this delegation's last settlement. Owned
    /// by the rewards module (`rewards::settle` updates it); kept in this record so that a
    /// delegation is one authenticated key, not two.
    pub reward_snapshot: u128,
}

/// Stake leaving a pool: paid out at `completion_epoch`, and slashed meanwhile for offences
/// of its operator committed before `creation_height`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct UnbondingEntry {
    /// Unique across unbonding and redelegation entries (one counter).
    pub id: u64,
    /// Who unbonded, and is paid at completion.
    pub delegator: AccountId,
    /// The operator the stake left, whose offences still reach it.
    pub operator: OperatorId,
    /// Tokens when the entry was made; slashes take a fraction of this, like of bonded stake.
    pub initial: Amount,
    /// Tokens still owed (after slashes).
    pub balance: Amount,
    /// Offences at or after this height were committed while the stake was still bonded.
    pub creation_height: Height,
    /// The first epoch the balance may be withdrawn (`unbonding_epochs` after the unbonding).
    pub completion_epoch: Epoch,
}

/// Stake moved between operators: until `completion_epoch`, a slash of `source` for an
/// offence before `creation_height` burns from the shares it bought at `destination`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RedelegationEntry {
    /// Unique across unbonding and redelegation entries (one counter).
    pub id: u64,
    /// Who moved the stake.
    pub delegator: AccountId,
    /// The operator the stake left.
    pub source: OperatorId,
    /// The operator it joined.
    pub destination: OperatorId,
    /// Tokens moved; a slash of the source takes its fraction of this.
    pub initial: Amount,
    /// Shares of the destination pool the move created; a slash of the source burns from these.
    pub destination_shares: Shares,
    /// Offences of `source` before this height were committed while the stake was still there.
    pub creation_height: Height,
    /// The epoch the entry is dropped and the stake is free of `source`'s offences.
    pub completion_epoch: Epoch,
}

/// A member of the active validator set, as consensus sees it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Validator {
    /// The operator.
    pub operator: OperatorId,
    /// The key that signs its votes.
    pub consensus_key: VerificationKeyBytes,
    /// Voting power: the operator's bonded tokens when the set was computed.
    pub power: Amount,
}

fn id_bytes(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// The key prefix of operator records (`staking/operator/<32-byte id>`).
pub const OPERATOR_PREFIX: &str = "staking/operator";

/// The state key of `operator`'s record.
pub fn operator_key(operator: &OperatorId) -> Vec<u8> {
    key(OPERATOR_PREFIX, &[&operator.0])
}

fn consensus_key_index(consensus_key: &VerificationKeyBytes) -> Vec<u8> {
    key("staking/consensus", &[&consensus_key.0])
}

/// The state key of `delegator`'s delegation to `operator`.
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
        &[&epoch.get().to_be_bytes(), &source.0, &id_bytes(id)],
    )
}

const NEXT_ENTRY_ID_KEY: &[u8] = b"staking/next_entry_id";
const ACTIVE_SET_KEY: &[u8] = b"staking/active_set";

fn with_slash(prefix: Vec<u8>) -> Vec<u8> {
    let mut prefix = prefix;
    prefix.push(b'/');
    prefix
}

/// The operator `id`, if registered.
pub fn operator(store: &Store, id: &OperatorId) -> Option<Operator> {
    store.get(&operator_key(id))
}

pub(super) fn set_operator(store: &mut Store, operator: &Operator) {
    store.put(operator_key(&operator.id), operator);
}

/// The operator that signs consensus votes with `consensus_key`, if any (for equivocation
/// evidence, which names a key).
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

/// Every operator, in id order.
pub fn all_operators(store: &Store) -> Vec<Operator> {
    store
        .prefix_values::<Operator>(&with_slash(key(OPERATOR_PREFIX, &[])))
        .into_iter()
        .map(|(_, operator)| operator)
        .collect()
}

/// `delegator`'s delegation to `operator`; zero shares if it has none.
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

/// The unbonding entries that left `operator`'s pool, in id order (what its slash reaches).
pub fn unbondings_from(store: &Store, operator: &OperatorId) -> Vec<UnbondingEntry> {
    store
        .prefix_values::<UnbondingEntry>(&with_slash(key("staking/unbonding", &[&operator.0])))
        .into_iter()
        .map(|(_, entry)| entry)
        .collect()
}

/// `delegator`'s unbonding entries, from every operator, in id order.
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

/// Every unbonding entry, by operator then id (invariant checks).
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

/// The redelegation entries whose stake left `source` and has not completed, in id order.
pub fn redelegations_from(store: &Store, source: &OperatorId) -> Vec<RedelegationEntry> {
    store
        .prefix_values::<RedelegationEntry>(&with_slash(key("staking/redelegation", &[&source.0])))
        .into_iter()
        .map(|(_, entry)| entry)
        .collect()
}

/// Every redelegation entry that has not completed, by source then id.
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
        if completion > epoch.get() {
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

/// The active validator set as of the last epoch end (or jailing), in rank order.
pub fn active_set(store: &Store) -> Vec<Validator> {
    store.get(ACTIVE_SET_KEY).unwrap_or_default()
}

pub(super) fn set_active_set(store: &mut Store, set: &Vec<Validator>) {
    store.put(ACTIVE_SET_KEY.to_vec(), set);
}
