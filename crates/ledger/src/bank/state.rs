//! Bank state: one record per account (balance and nonce, so a transfer touches two keys), one
//! balance per module pool, and the total supply.

use crate::store::{key, part_from_end, Store};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount};

/// An account's bank record. An account with zero balance and nonce has no record at all.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Account {
    /// Spendable tokens.
    pub balance: Amount,
    /// Number of transactions this account has had included; the next must carry this nonce.
    pub nonce: u64,
}

/// Module accounts. Tokens in a pool belong to no key holder; each pool's owner module says
/// what the tokens are for.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub enum Pool {
    /// Stake bonded to operators (staking).
    Bonded,
    /// Stake waiting out its unbonding period, still slashable (staking).
    Unbonding,
    /// Fees and fresh inflation collected in the current block, paid out at its end (rewards).
    FeeCollector,
    /// Delegator rewards credited but not yet claimed (rewards).
    Rewards,
    /// Share of slashes kept to compensate harmed parties later (slashing).
    Insurance,
    /// Rounding remainders and undistributable rewards (rewards).
    Community,
    /// Destroyed tokens. Counted in the supply so that conservation is checkable; never leave.
    Burned,
    /// Fees of jobs not yet final (jobs).
    JobEscrow,
    /// Share of job fees that pays auditors (jobs).
    AuditFund,
    /// Challengers' bonds while their disputes run (disputes).
    DisputeBonds,
    /// Publishers' deposits while their models upload (models).
    ModelDeposits,
}

impl Pool {
    /// Every pool, in the order the conservation check sums them.
    pub const ALL: [Pool; 11] = [
        Pool::Bonded,
        Pool::Unbonding,
        Pool::FeeCollector,
        Pool::Rewards,
        Pool::Insurance,
        Pool::Community,
        Pool::Burned,
        Pool::JobEscrow,
        Pool::AuditFund,
        Pool::DisputeBonds,
        Pool::ModelDeposits,
    ];
}

/// The key prefix of account records (`bank/account/<32-byte id>`).
pub const ACCOUNT_PREFIX: &str = "bank/account";

/// The state key of `account`'s record.
pub fn account_key(account: &AccountId) -> Vec<u8> {
    key(ACCOUNT_PREFIX, &[&account.0])
}

fn pool_key(pool: Pool) -> Vec<u8> {
    key("bank/pool", &[&[pool as u8]])
}

const SUPPLY_KEY: &[u8] = b"bank/supply";

/// `account`'s record; the default (zero balance, nonce 0) if it has none.
pub fn account(store: &Store, account: &AccountId) -> Account {
    store.get(&account_key(account)).unwrap_or_default()
}

pub(super) fn set_account(store: &mut Store, account: &AccountId, record: &Account) {
    let key = account_key(account);
    if *record == Account::default() {
        store.delete(&key);
    } else {
        store.put(key, record);
    }
}

/// The tokens `pool` holds.
pub fn pool(store: &Store, pool: Pool) -> Amount {
    store.get(&pool_key(pool)).unwrap_or_default()
}

pub(super) fn set_pool(store: &mut Store, pool: Pool, amount: Amount) {
    store.put(pool_key(pool), &amount);
}

/// The total supply: every token minted, burned ones included.
pub fn supply(store: &Store) -> Amount {
    store.get(SUPPLY_KEY).unwrap_or_default()
}

pub(super) fn set_supply(store: &mut Store, amount: Amount) {
    store.put(SUPPLY_KEY.to_vec(), &amount);
}

/// Every account with a record, in id order.
pub fn all_accounts(store: &Store) -> Vec<(AccountId, Account)> {
    let prefix = key(ACCOUNT_PREFIX, &[]);
    store
        .prefix_values::<Account>(&[prefix.as_slice(), b"/"].concat())
        .into_iter()
        .map(|(key, account)| {
            let id: [u8; 32] = part_from_end(&key, 0).expect("account keys end in an id");
            (AccountId(id), account)
        })
        .collect()
}
