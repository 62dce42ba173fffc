//! The zombie-transaction attack (issue #12, item 3) and what now holds: a key without funds
//! cannot enter the mempool, a sender whose balance drops loses its unpayable transactions at
//! the next commit, a proposal carrying a transaction that would not be charged is not voted
//! for, blocks are filled by fee per byte, and a full mempool trades its cheapest transaction
//! for a better one.

use crate::common::*;
use surety_ledger::bank::{FeeError, Transfer};
use surety_ledger::jobs::{JobInput, JobsError, SubmitJob};
use surety_ledger::tx::{Msg, TxError};
use surety_ledger::Ledger;
use surety_node::app::{App, ProposalError};
use surety_node::block::Block;
use surety_node::mempool::{AdmitError, Mempool, MempoolLimits};
use surety_node::storage::Storage;
use surety_types::tx::Tx;
use surety_types::{Amount, ModelId, OperatorId};

fn signed(from: u8, nonce: u64, fee: u128, msg: Msg) -> Vec<u8> {
    let tx = Tx {
        chain_id: CHAIN.into(),
        signer: account(from),
        nonce,
        fee: Amount::new(fee),
        msg,
    };
    surety_types::encoding::encode(&tx.sign(&key(from)))
}

fn paying(from: u8, nonce: u64, fee: u128, to: u8, amount: u128) -> Vec<u8> {
    signed(
        from,
        nonce,
        fee,
        Msg::Transfer(Transfer {
            to: account(to),
            amount: Amount::new(amount),
        }),
    )
}

fn open(dir: &std::path::Path) -> App {
    App::open(
        Storage::open(&dir.join("chain.redb")).unwrap(),
        &genesis(),
        MempoolLimits::default(),
    )
    .unwrap()
}

/// `block` with its transactions replaced (and its header's tx root with them).
fn with_txs(mut block: Block, txs: Vec<Vec<u8>>) -> Block {
    block.header.tx_root = Block::tx_root(&txs);
    block.txs = txs;
    block
}

#[test]
fn zero_balance_keys_flooding_the_mempool_are_refused_at_admission() {
    let ledger = Ledger::from_genesis(&genesis()).unwrap();
    let mut mempool = Mempool::new(MempoolLimits::default());
    let mut refused = 0;
    // Four fresh keys (accounts 50..=53 hold nothing), each trying to queue its whole window.
    for from in 50..=53u8 {
        for nonce in 0..256 {
            let error = mempool
                .admit(paying(from, nonce, 1, 2, 1), &ledger)
                .unwrap_err();
            assert!(
                matches!(
                    error,
                    AdmitError::CannotPay {
                        balance: Amount::ZERO,
                        ..
                    }
                ),
                "{error}"
            );
            refused += 1;
        }
    }
    println!(
        "zero-balance flood: {refused} refused, {} admitted",
        mempool.len()
    );
    assert!(mempool.is_empty());
    // A fee below the chain's minimum would not be charged either.
    assert_eq!(
        mempool.admit(paying(2, 0, 0, 3, 1), &ledger),
        Err(AdmitError::FeeTooLow {
            fee: Amount::new(0),
            minimum: Amount::new(1)
        })
    );
    // A funded sender queues as many as its balance pays, fees and amounts together.
    mempool
        .admit(paying(2, 0, 1, 3, 6_000_000), &ledger)
        .unwrap();
    let error = mempool
        .admit(paying(2, 1, 1, 3, 4_000_000), &ledger)
        .unwrap_err();
    assert_eq!(
        error,
        AdmitError::CannotPay {
            balance: Amount::new(10_000_000),
            needed: Amount::new(10_000_002),
            waiting: 1
        }
    );
    assert!(error.to_string().contains("cannot pay"), "{error}");
}

#[test]
fn oversized_job_inputs_are_refused_at_admission_not_at_execution() {
    let ledger = Ledger::from_genesis(&genesis()).unwrap();
    let mut mempool = Mempool::new(MempoolLimits::default());
    let limit = ledger.params().jobs.job_input_bytes_max;
    let job = |input: String| {
        Msg::SubmitJob(Box::new(SubmitJob {
            model: ModelId([9; 32]),
            input: JobInput::Text(input),
            max_fee: Amount::new(2_000),
            deadline_blocks: 10,
            replicas: 1,
        }))
    };
    let oversized = signed(2, 0, 1, job("a".repeat(limit as usize + 1)));
    assert_eq!(
        mempool.admit(oversized, &ledger),
        Err(AdmitError::OutOfBounds(JobsError::InputTooLarge {
            got: limit + 1,
            limit
        }))
    );
    let mut too_many = job("hello".into());
    if let Msg::SubmitJob(j) = &mut too_many {
        j.replicas = 99;
    }
    assert!(matches!(
        mempool.admit(signed(2, 0, 1, too_many), &ledger),
        Err(AdmitError::OutOfBounds(JobsError::Replicas { got: 99, .. }))
    ));
    assert!(mempool.is_empty());
}

#[test]
fn a_sender_whose_balance_drops_has_its_unpayable_pending_txs_evicted_at_the_next_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = open(dir.path());
    // Account 2 queues nonces 1..=4 here; its nonce 0, sent elsewhere, drains it.
    for nonce in 1..=4 {
        app.submit(paying(2, nonce, 1, 3, 100)).unwrap();
    }
    app.submit(paying(4, 0, 1, 3, 100)).unwrap();
    assert_eq!(app.mempool().len(), 5);
    let drain = paying(2, 0, 1, 3, 9_999_900);
    let block = with_txs(
        app.propose(5_000, OperatorId::from(account(1)), &key(101)),
        vec![paying(4, 0, 1, 3, 100), drain],
    );
    app.validate(&block, 5_000).unwrap();
    let outcome = app.commit(&block, &certify(&block)).unwrap();
    assert!(outcome.receipts.iter().all(|r| r.is_ok()));
    // Balance 99 now: nonce 1 (cost 101) can no longer pay, so neither can 2..=4.
    assert!(
        app.mempool().is_empty(),
        "{} unpayable transactions stayed",
        app.mempool().len()
    );
    let next = app.propose(6_000, OperatorId::from(account(1)), &key(101));
    assert!(next.txs.is_empty());
}

#[test]
fn a_proposal_with_an_unpayable_transaction_is_not_voted_for() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = open(dir.path());
    app.submit(paying(2, 0, 1, 3, 100)).unwrap();
    let honest = app.propose(5_000, OperatorId::from(account(1)), &key(101));
    app.validate(&honest, 5_000)
        .expect("an honest proposer's block passes the fee rule");

    let zombie = with_txs(honest.clone(), vec![paying(50, 0, 1, 2, 1)]);
    assert!(matches!(
        app.validate(&zombie, 5_000),
        Err(ProposalError::Unpayable {
            index: 0,
            error: TxError::Fee(FeeError::CannotPayFee { .. })
        })
    ));
    // Fees are charged in block order: the second of two 6M fees cannot be paid.
    let overdrawn = with_txs(
        honest.clone(),
        vec![paying(2, 0, 6_000_000, 3, 1), paying(2, 1, 6_000_000, 3, 1)],
    );
    assert!(matches!(
        app.validate(&overdrawn, 5_000),
        Err(ProposalError::Unpayable {
            index: 1,
            error: TxError::Fee(FeeError::CannotPayFee { .. })
        })
    ));
    let replayed = with_txs(
        honest.clone(),
        vec![paying(2, 0, 1, 3, 100), paying(2, 0, 1, 3, 100)],
    );
    assert!(matches!(
        app.validate(&replayed, 5_000),
        Err(ProposalError::Unpayable {
            index: 1,
            error: TxError::Fee(FeeError::BadNonce { .. })
        })
    ));
    let garbage = with_txs(honest.clone(), vec![vec![1, 2, 3]]);
    assert!(matches!(
        app.validate(&garbage, 5_000),
        Err(ProposalError::Unpayable {
            index: 0,
            error: TxError::Decode(_)
        })
    ));
    // Credits are ignored: a transfer into a fresh key does not pay for its fee in the same
    // block.
    let funded_in_block = with_txs(
        honest.clone(),
        vec![paying(2, 0, 1, 50, 1_000), paying(50, 0, 1, 2, 1)],
    );
    assert!(matches!(
        app.validate(&funded_in_block, 5_000),
        Err(ProposalError::Unpayable { index: 1, .. })
    ));
    app.commit(&honest, &certify(&honest)).unwrap();
}

#[test]
fn reap_orders_by_fee_per_byte_keeping_each_senders_nonce_order() {
    let ledger = Ledger::from_genesis(&genesis()).unwrap();
    let mut mempool = Mempool::new(MempoolLimits::default());
    let txs = [
        paying(2, 0, 1, 5, 1),
        paying(2, 1, 50, 5, 1),
        paying(3, 0, 10, 5, 1),
        paying(4, 0, 5, 5, 1),
    ];
    for tx in &txs {
        mempool.admit(tx.clone(), &ledger).unwrap();
    }
    let reaped = mempool.reap(&ledger, 100, 1 << 20);
    assert_eq!(
        reaped,
        vec![
            txs[2].clone(),
            txs[3].clone(),
            txs[0].clone(),
            txs[1].clone()
        ],
        "highest fee per byte first; sender 2's rich nonce 1 waits for its cheap nonce 0"
    );
    assert_eq!(mempool.reap(&ledger, 2, 1 << 20), reaped[..2].to_vec());
}

#[test]
fn a_full_mempool_evicts_the_cheapest_for_a_better_one() {
    let ledger = Ledger::from_genesis(&genesis()).unwrap();
    let mut mempool = Mempool::new(MempoolLimits {
        txs_max: 2,
        bytes_max: 1 << 20,
        per_sender_max: 8,
    });
    let cheap = paying(2, 0, 1, 5, 1);
    let dear = paying(3, 0, 5, 5, 1);
    let cheap_hash = mempool.admit(cheap, &ledger).unwrap();
    let dear_hash = mempool.admit(dear, &ledger).unwrap();
    let better = mempool.admit(paying(4, 0, 3, 5, 1), &ledger).unwrap();
    assert!(!mempool.contains(&cheap_hash), "the cheapest went");
    assert!(mempool.contains(&dear_hash) && mempool.contains(&better));
    assert_eq!(mempool.len(), 2);
    // Not better than the cheapest waiting (fee 3): refused, nothing evicted.
    assert_eq!(
        mempool.admit(paying(5, 0, 3, 4, 1), &ledger),
        Err(AdmitError::Full("transaction limit"))
    );
    assert_eq!(
        mempool.admit(paying(2, 0, 2, 5, 1), &ledger),
        Err(AdmitError::Full("transaction limit"))
    );
    assert_eq!(mempool.len(), 2);
    // A sender's own earlier transaction is never evicted for its later one (no gaps).
    assert_eq!(
        mempool.admit(paying(4, 1, 4, 5, 1), &ledger),
        Err(AdmitError::Full("transaction limit"))
    );
}
