//! Bank: account balances and nonces, module pools and total supply (DESIGN §3).
//!
//! Owns every token. Other modules move tokens only through the functions here, each of which
//! debits exactly what it credits, so `supply == Σ balances + Σ pools` holds by construction
//! and is re-checked by [`invariants::check`].

pub mod error;
pub mod event;
pub mod invariants;
pub mod msg;
pub mod state;

pub use error::{BankError, FeeError};
pub use event::BankEvent;
pub use msg::Transfer;
pub use state::{Account, Pool};

use crate::store::Store;
use surety_types::{AccountId, Amount};

/// An account's spendable balance (0 for an account with no record).
pub fn balance(store: &Store, account: &AccountId) -> Amount {
    state::account(store, account).balance
}

/// The tokens a module pool holds.
pub fn pool_balance(store: &Store, pool: Pool) -> Amount {
    state::pool(store, pool)
}

/// Every token in existence, burned ones included: the sum of all balances and pools.
pub fn total_supply(store: &Store) -> Amount {
    state::supply(store)
}

/// Take `amount` from `account`; refused, changing nothing, if the balance is short. The
/// caller credits the same amount elsewhere, or conservation breaks.
pub fn debit_account(
    store: &mut Store,
    account: &AccountId,
    amount: Amount,
) -> Result<(), BankError> {
    let mut record = state::account(store, account);
    record.balance =
        record
            .balance
            .checked_sub(amount)
            .map_err(|_| BankError::InsufficientFunds {
                needed: amount,
                available: record.balance,
            })?;
    state::set_account(store, account, &record);
    Ok(())
}

/// Add `amount` to `account` (an overflow error only past `u128::MAX`, which total supply
/// bounds). The caller has debited the same amount elsewhere.
pub fn credit_account(
    store: &mut Store,
    account: &AccountId,
    amount: Amount,
) -> Result<(), BankError> {
    let mut record = state::account(store, account);
    record.balance = record.balance.checked_add(amount)?;
    state::set_account(store, account, &record);
    Ok(())
}

fn debit_pool(store: &mut Store, pool: Pool, amount: Amount) -> Result<(), BankError> {
    let balance = state::pool(store, pool);
    let remaining = balance
        .checked_sub(amount)
        .map_err(|_| BankError::PoolShort {
            pool,
            needed: amount,
            available: balance,
        })?;
    state::set_pool(store, pool, remaining);
    Ok(())
}

fn credit_pool(store: &mut Store, pool: Pool, amount: Amount) -> Result<(), BankError> {
    let balance = state::pool(store, pool).checked_add(amount)?;
    state::set_pool(store, pool, balance);
    Ok(())
}

/// Move `amount` from an account into a module pool (a bond, an escrowed fee, a deposit).
pub fn account_to_pool(
    store: &mut Store,
    account: &AccountId,
    pool: Pool,
    amount: Amount,
) -> Result<(), BankError> {
    debit_account(store, account, amount)?;
    credit_pool(store, pool, amount)
}

/// Pay `amount` out of a module pool to an account (a withdrawal, a reward, a refund).
pub fn pool_to_account(
    store: &mut Store,
    pool: Pool,
    account: &AccountId,
    amount: Amount,
) -> Result<(), BankError> {
    debit_pool(store, pool, amount)?;
    credit_account(store, account, amount)
}

/// Move `amount` between two module pools; moving to the same pool, or nothing, is a no-op.
pub fn pool_to_pool(
    store: &mut Store,
    from: Pool,
    to: Pool,
    amount: Amount,
) -> Result<(), BankError> {
    if from == to || amount.is_zero() {
        return Ok(());
    }
    debit_pool(store, from, amount)?;
    credit_pool(store, to, amount)
}

/// Create `amount` new tokens in `pool` (inflation); total supply grows by the same.
pub fn mint_to_pool(store: &mut Store, pool: Pool, amount: Amount) -> Result<(), BankError> {
    let supply = state::supply(store).checked_add(amount)?;
    credit_pool(store, pool, amount)?;
    state::set_supply(store, supply);
    Ok(())
}

/// Genesis only: create tokens straight into an account.
pub fn mint_to_account(
    store: &mut Store,
    account: &AccountId,
    amount: Amount,
) -> Result<(), BankError> {
    let supply = state::supply(store).checked_add(amount)?;
    credit_account(store, account, amount)?;
    state::set_supply(store, supply);
    Ok(())
}

/// What [`charge_fee`] would leave of `account`'s record, written nowhere: the same nonce,
/// minimum-fee and balance checks in the same order. Block validity simulates a block's
/// charges with it (`Ledger::check_fees_payable`, docs/node.md "Block validity").
pub fn fee_charged(
    account: &Account,
    nonce: u64,
    fee: Amount,
    min_fee: Amount,
) -> Result<Account, FeeError> {
    if nonce != account.nonce {
        return Err(FeeError::BadNonce {
            expected: account.nonce,
            got: nonce,
        });
    }
    if fee < min_fee {
        return Err(FeeError::FeeTooLow {
            given: fee,
            minimum: min_fee,
        });
    }
    let balance = account
        .balance
        .checked_sub(fee)
        .map_err(|_| FeeError::CannotPayFee {
            balance: account.balance,
            fee,
        })?;
    let nonce = account
        .nonce
        .checked_add(1)
        .expect("nonces count up by one per transaction from 0 and never reach u64::MAX");
    Ok(Account { balance, nonce })
}

/// Check the transaction's nonce and fee, then charge the fee into the fee collector and
/// advance the nonce. On error nothing has changed.
pub fn charge_fee(
    store: &mut Store,
    signer: &AccountId,
    nonce: u64,
    fee: Amount,
    min_fee: Amount,
) -> Result<(), FeeError> {
    let mut account = state::account(store, signer);
    if nonce != account.nonce {
        return Err(FeeError::BadNonce {
            expected: account.nonce,
            got: nonce,
        });
    }
    if fee < min_fee {
        return Err(FeeError::FeeTooLow {
            given: fee,
            minimum: min_fee,
        });
    }
    account.balance = account
        .balance
        .checked_sub(fee)
        .map_err(|_| FeeError::CannotPayFee {
            balance: account.balance,
            fee,
        })?;
    let collected = state::pool(store, Pool::FeeCollector)
        .checked_add(fee)
        .map_err(|_| FeeError::CannotPayFee {
            balance: account.balance,
            fee,
        })?;
    account.nonce = account
        .nonce
        .checked_add(1)
        .expect("nonces count up by one per transaction from 0 and never reach u64::MAX");
    state::set_account(store, signer, &account);
    state::set_pool(store, Pool::FeeCollector, collected);
    Ok(())
}

/// Execute a [`Transfer`]: move tokens from the signer to another account.
pub fn execute_transfer(
    store: &mut Store,
    signer: &AccountId,
    msg: &Transfer,
) -> Result<(), BankError> {
    if msg.amount.is_zero() {
        return Err(BankError::ZeroAmount);
    }
    if msg.to == *signer {
        return Err(BankError::SelfTransfer);
    }
    debit_account(store, signer, msg.amount)?;
    credit_account(store, &msg.to, msg.amount)?;
    store.emit(BankEvent::Transfer {
        from: *signer,
        to: msg.to,
        amount: msg.amount,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn funded(balance: u128) -> (Store, AccountId) {
        let mut store = Store::new();
        let account = AccountId([1; 32]);
        mint_to_account(&mut store, &account, Amount::new(balance)).unwrap();
        (store, account)
    }

    #[test]
    fn a_transfer_moves_exactly_its_amount() {
        let (mut store, from) = funded(100);
        let to = AccountId([2; 32]);
        execute_transfer(
            &mut store,
            &from,
            &Transfer {
                to,
                amount: Amount::new(40),
            },
        )
        .unwrap();
        assert_eq!(
            (balance(&store, &from), balance(&store, &to)),
            (Amount::new(60), Amount::new(40))
        );
        assert_eq!(invariants::check(&store), Ok(()));
    }

    #[test]
    fn overspending_is_an_error_and_moves_nothing() {
        let (mut store, from) = funded(100);
        let to = AccountId([2; 32]);
        let error = execute_transfer(
            &mut store,
            &from,
            &Transfer {
                to,
                amount: Amount::new(101),
            },
        );
        assert_eq!(
            error,
            Err(BankError::InsufficientFunds {
                needed: Amount::new(101),
                available: Amount::new(100)
            })
        );
        assert_eq!(balance(&store, &from), Amount::new(100));
        assert_eq!(balance(&store, &to), Amount::ZERO);
    }

    #[test]
    fn zero_and_self_transfers_are_refused() {
        let (mut store, from) = funded(100);
        assert_eq!(
            execute_transfer(
                &mut store,
                &from,
                &Transfer {
                    to: from,
                    amount: Amount::new(1)
                }
            ),
            Err(BankError::SelfTransfer)
        );
        let to = AccountId([2; 32]);
        assert_eq!(
            execute_transfer(
                &mut store,
                &from,
                &Transfer {
                    to,
                    amount: Amount::ZERO
                }
            ),
            Err(BankError::ZeroAmount)
        );
    }

    #[test]
    fn minting_grows_the_supply_and_pools_conserve_it() {
        let (mut store, account) = funded(100);
        mint_to_pool(&mut store, Pool::FeeCollector, Amount::new(7)).unwrap();
        pool_to_pool(
            &mut store,
            Pool::FeeCollector,
            Pool::Community,
            Amount::new(5),
        )
        .unwrap();
        account_to_pool(&mut store, &account, Pool::Bonded, Amount::new(30)).unwrap();
        assert_eq!(total_supply(&store), Amount::new(107));
        assert_eq!(invariants::check(&store), Ok(()));
        assert!(
            pool_to_pool(
                &mut store,
                Pool::FeeCollector,
                Pool::Community,
                Amount::new(3)
            )
            .is_err(),
            "the pool holds 2"
        );
    }

    #[test]
    fn an_emptied_account_leaves_no_record() {
        let (mut store, from) = funded(10);
        execute_transfer(
            &mut store,
            &from,
            &Transfer {
                to: AccountId([2; 32]),
                amount: Amount::new(10),
            },
        )
        .unwrap();
        assert!(store.get_raw(&state::account_key(&from)).is_none());
    }
}
