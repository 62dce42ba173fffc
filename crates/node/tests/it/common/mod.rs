//! Shared fixtures for the node's tests: deterministic keys, a small genesis, signed transfers.
#![allow(dead_code)]

use surety_ledger::bank::Transfer;
use surety_ledger::genesis::{Genesis, GenesisAccount, GenesisOperator};
use surety_ledger::params::{BankParams, Params};
use surety_ledger::tx::Msg;
use surety_node::app::App;
use surety_node::block::{Block, CommitCertificate};
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, Ratio, SigningKey};

pub(crate) const CHAIN: &str = "node-test";

pub(crate) fn key(n: u8) -> SigningKey {
    SigningKey::from_seed([n; 32])
}

pub(crate) fn account(n: u8) -> AccountId {
    AccountId::from_key(&key(n).verification_key())
}

/// Accounts 1..=5 funded; account 1 is the only operator (consensus key 101).
pub(crate) fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 0,
        params: Params {
            bank: BankParams {
                min_tx_fee: Amount::new(1),
            },
            ..Params::default()
        },
        accounts: (1..=5)
            .map(|n| GenesisAccount {
                account: account(n),
                balance: Amount::new(10_000_000),
            })
            .collect(),
        operators: vec![GenesisOperator {
            account: account(1),
            consensus_key: key(101).verification_key(),
            commission: Ratio::from_percent(5).unwrap(),
            max_commission_change: Ratio::from_percent(1).unwrap(),
            metadata: Default::default(),
            self_bond: Amount::new(2_000_000),
        }],
        delegations: vec![],
        models: vec![],
        allocations: Vec::new(),
    }
}

/// A signed transfer's bytes.
pub(crate) fn transfer(from: u8, nonce: u64, to: u8, amount: u128) -> Vec<u8> {
    let tx = Tx {
        chain_id: CHAIN.into(),
        signer: account(from),
        nonce,
        fee: Amount::new(1),
        msg: Msg::Transfer(Transfer {
            to: account(to),
            amount: Amount::new(amount),
        }),
    };
    surety_types::encoding::encode(&tx.sign(&key(from)))
}

/// The commit certificate the single genesis validator (consensus key 101) signs for `block`.
pub(crate) fn certify(block: &Block) -> CommitCertificate {
    CommitCertificate::sign(CHAIN, block, 0, &[key(101)])
}

/// Propose the next block from the mempool at `timestamp_ms` and commit it as decided.
pub(crate) fn commit_next_at(app: &mut App, timestamp_ms: u64) -> Block {
    let block = app.propose(
        timestamp_ms,
        surety_types::OperatorId::from(account(1)),
        &key(101),
    );
    app.commit(&block, &certify(&block)).unwrap();
    block
}
