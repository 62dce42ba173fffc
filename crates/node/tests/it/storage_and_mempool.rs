//! Storage survives restarts with the same state root; the mempool admits only well-formed,
//! correctly signed, fresh transactions and hands them out in nonce order.

use crate::common::*;
use surety_ledger::tx::TxError;
use surety_ledger::Ledger;
use surety_node::block::{Block, BlockHeader};
use surety_node::mempool::{AdmitError, Mempool, MempoolLimits};
use surety_node::storage::{Storage, StorageError};
use surety_types::{Hash, OperatorId};

fn make_block(ledger: &Ledger, previous_hash: Hash, txs: Vec<Vec<u8>>) -> Block {
    let height = ledger.height().next();
    Block {
        header: BlockHeader {
            chain_id: ledger.chain_id().into(),
            height,
            timestamp_ms: 1_000 * height.get(),
            proposer: OperatorId::from(account(1)),
            seed: Hash::of("seed", &height.get().to_le_bytes()),
            seed_proof: surety_types::vrf::VrfProof([0; 80]),
            absent_validators: None,
            previous_hash,
            previous_state_root: ledger.state_root(),
            tx_root: Block::tx_root(&txs),
            last_commit: None,
        },
        txs,
    }
}

#[test]
fn a_restarted_node_restores_the_same_state_root_blocks_and_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    let (root, height, receipt_hash) = {
        let storage = Storage::open(&path).unwrap();
        let mut ledger = storage.load_or_init(&genesis()).unwrap();
        let mut last_hash = Hash::ZERO;
        let mut receipt_hash = Hash::ZERO;
        for i in 0..25u64 {
            let txs = vec![transfer(2, i, 3, 10 + i as u128), transfer(3, i, 4, 5)];
            let block = make_block(&ledger, last_hash, txs);
            let outcome = ledger
                .apply_block(&block.context(ledger.params()), &block.txs)
                .unwrap();
            storage
                .commit_block(&block, &outcome, &[], &certify(&block))
                .unwrap();
            last_hash = block.hash();
            receipt_hash = outcome.receipts[0].tx_hash;
        }
        (ledger.state_root(), ledger.height(), receipt_hash)
    };
    let storage = Storage::open(&path).unwrap();
    let ledger = storage.load_or_init(&genesis()).unwrap();
    assert_eq!(ledger.state_root(), root);
    assert_eq!(ledger.height(), height);
    ledger.check_invariants().unwrap();
    let block = storage.block(height).unwrap().expect("last block stored");
    assert!(block.txs_match_header());
    let receipt = storage
        .receipt(&receipt_hash)
        .unwrap()
        .expect("receipt stored");
    assert_eq!(receipt.height, height);
    assert!(receipt.receipt.is_ok());
}

#[test]
fn storage_refuses_blocks_out_of_order_and_another_chains_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&dir.path().join("chain.redb")).unwrap();
    let mut ledger = storage.load_or_init(&genesis()).unwrap();
    let block = make_block(&ledger, Hash::ZERO, vec![]);
    let outcome = ledger
        .apply_block(&block.context(ledger.params()), &block.txs)
        .unwrap();
    storage
        .commit_block(&block, &outcome, &[], &certify(&block))
        .unwrap();
    assert!(matches!(
        storage.commit_block(&block, &outcome, &[], &certify(&block)),
        Err(StorageError::OutOfOrder { .. })
    ));
    let mut other = genesis();
    other.chain_id = "other".into();
    assert!(matches!(
        storage.load_or_init(&other),
        Err(StorageError::OtherChain { .. })
    ));
}

#[test]
fn a_database_written_with_another_state_format_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.redb");
    {
        let storage = Storage::open(&path).unwrap();
        storage.load_or_init(&genesis()).unwrap();
    }
    // What another build of surety would have written.
    let meta = redb::TableDefinition::<&str, &[u8]>::new("meta");
    let rewrite = |value: Option<u32>| {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut table = tx.open_table(meta).unwrap();
            match value {
                Some(format) => {
                    table
                        .insert("state_format", format.to_le_bytes().as_slice())
                        .unwrap();
                }
                None => {
                    table.remove("state_format").unwrap();
                }
            }
        }
        tx.commit().unwrap();
    };
    for stored in [Some(surety_ledger::STATE_FORMAT + 1), None] {
        rewrite(stored);
        let storage = Storage::open(&path).unwrap();
        let error = match storage.load_or_init(&genesis()) {
            Err(error) => error,
            Ok(_) => panic!("a database of state format {stored:?} was opened"),
        };
        assert!(
            matches!(error, StorageError::StateFormat { stored: s, supported }
                if s == stored && supported == surety_ledger::STATE_FORMAT),
            "{error}"
        );
        assert!(error.to_string().contains("another version of surety"));
    }
    rewrite(Some(surety_ledger::STATE_FORMAT));
    let storage = Storage::open(&path).unwrap();
    assert!(storage.load_or_init(&genesis()).is_ok());
}

#[test]
fn the_mempool_admits_valid_transactions_and_refuses_the_rest_with_reasons() {
    let ledger = Ledger::from_genesis(&genesis()).unwrap();
    let mut mempool = Mempool::new(MempoolLimits {
        txs_max: 10,
        bytes_max: 1 << 20,
        per_sender_max: 4,
    });
    mempool.admit(transfer(2, 0, 3, 1), &ledger).unwrap();
    assert_eq!(
        mempool.admit(transfer(2, 0, 3, 1), &ledger),
        Err(AdmitError::Duplicate)
    );
    assert_eq!(
        mempool.admit(transfer(2, 0, 3, 2), &ledger),
        Err(AdmitError::NonceTaken(0))
    );
    assert_eq!(
        mempool.admit(transfer(2, 9, 3, 1), &ledger),
        Err(AdmitError::NonceTooFar { next: 0, got: 9 })
    );
    let mut forged = transfer(4, 0, 3, 1);
    let last = forged.len() - 1;
    forged[last] ^= 0xff;
    assert_eq!(
        mempool.admit(forged, &ledger),
        Err(AdmitError::Invalid(TxError::BadSignature))
    );
    assert!(matches!(
        mempool.admit(vec![1, 2, 3], &ledger),
        Err(AdmitError::Invalid(TxError::Decode(_)))
    ));
    assert_eq!(mempool.len(), 1);
}

#[test]
fn the_mempool_reaps_in_nonce_order_and_prunes_what_a_block_included() {
    let mut ledger = Ledger::from_genesis(&genesis()).unwrap();
    let mut mempool = Mempool::new(MempoolLimits::default());
    // Sender 2's nonces arrive out of order; sender 3 has a gap.
    for bytes in [
        transfer(2, 1, 5, 1),
        transfer(3, 0, 5, 1),
        transfer(2, 0, 5, 1),
        transfer(3, 2, 5, 1),
    ] {
        mempool.admit(bytes, &ledger).unwrap();
    }
    let reaped = mempool.reap(&ledger, 100, 1 << 20);
    assert_eq!(
        reaped,
        vec![
            transfer(3, 0, 5, 1),
            transfer(2, 0, 5, 1),
            transfer(2, 1, 5, 1)
        ],
        "gap holds back nonce 2"
    );
    let block = make_block(&ledger, Hash::ZERO, reaped);
    let outcome = ledger
        .apply_block(&block.context(ledger.params()), &block.txs)
        .unwrap();
    assert!(outcome.receipts.iter().all(|r| r.is_ok()));
    mempool.recheck(&ledger);
    assert_eq!(
        mempool.len(),
        1,
        "only sender 3's nonce-2 transaction waits"
    );
    assert_eq!(
        mempool.admit(transfer(2, 0, 5, 1), &ledger),
        Err(AdmitError::StaleNonce { next: 2, got: 0 })
    );
}

#[test]
fn a_full_mempool_says_so() {
    let ledger = Ledger::from_genesis(&genesis()).unwrap();
    let mut mempool = Mempool::new(MempoolLimits {
        txs_max: 2,
        bytes_max: 1 << 20,
        per_sender_max: 8,
    });
    mempool.admit(transfer(2, 0, 3, 1), &ledger).unwrap();
    mempool.admit(transfer(2, 1, 3, 1), &ledger).unwrap();
    assert_eq!(
        mempool.admit(transfer(2, 2, 3, 1), &ledger),
        Err(AdmitError::Full("transaction limit"))
    );
}

mod app {
    use super::*;
    use surety_node::app::{App, CertificateError, CommitError, ProposalError, CLOCK_DRIFT_MAX_MS};
    use surety_node::block::CommitCertificate;

    fn open(dir: &std::path::Path) -> App {
        App::open(
            Storage::open(&dir.join("chain.redb")).unwrap(),
            &genesis(),
            MempoolLimits::default(),
        )
        .unwrap()
    }

    #[test]
    fn a_proposal_from_the_mempool_commits_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let root = {
            let mut app = open(dir.path());
            for nonce in 0..3 {
                app.submit(transfer(2, nonce, 3, 100)).unwrap();
            }
            let block = app.propose(5_000, OperatorId::from(account(1)), &key(101));
            assert_eq!(block.txs.len(), 3);
            app.validate(&block, 5_000).unwrap();
            let outcome = app.commit(&block, &certify(&block)).unwrap();
            assert!(outcome.receipts.iter().all(|r| r.is_ok()));
            assert!(app.mempool().is_empty());
            // The next block builds on it.
            let next = app.propose(6_000, OperatorId::from(account(1)), &key(101));
            assert_eq!(next.header.previous_hash, block.hash());
            assert_eq!(next.header.last_commit, Some(certify(&block)));
            app.validate(&next, 6_000).unwrap();
            app.commit(&next, &certify(&next)).unwrap();
            app.ledger().state_root()
        };
        let app = open(dir.path());
        assert_eq!(app.ledger().state_root(), root);
        assert_eq!(app.ledger().height(), surety_types::Height::new(2));
        let again = app.propose(7_000, OperatorId::from(account(1)), &key(101));
        app.validate(&again, 7_000)
            .expect("the certificate of the last block survives a restart");
        assert_eq!(
            again.header.previous_hash,
            app.storage()
                .block(surety_types::Height::new(2))
                .unwrap()
                .unwrap()
                .hash()
        );
    }

    #[test]
    fn proposals_that_do_not_extend_our_chain_or_lie_about_their_txs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut app = open(dir.path());
        app.submit(transfer(2, 0, 3, 100)).unwrap();
        let good = app.propose(5_000, OperatorId::from(account(1)), &key(101));
        let mut tampered = good.clone();
        tampered.txs.push(transfer(3, 0, 4, 1));
        assert!(matches!(
            app.validate(&tampered, 5_000),
            Err(ProposalError::TxRootMismatch)
        ));
        let mut orphan = good.clone();
        orphan.header.previous_hash = Hash([1; 32]);
        assert!(matches!(
            app.validate(&orphan, 5_000),
            Err(ProposalError::WrongParent)
        ));
        let mut future = good.clone();
        future.header.height = surety_types::Height::new(9);
        assert!(matches!(
            app.validate(&future, 5_000),
            Err(ProposalError::WrongHeight { .. })
        ));
        let mut ahead = good.clone();
        ahead.header.timestamp_ms = 5_000 + CLOCK_DRIFT_MAX_MS + 1;
        assert!(matches!(
            app.validate(&ahead, 5_000),
            Err(ProposalError::TimeAhead(_))
        ));
        app.validate(&good, 5_000).unwrap();
        let wrong_signer = CommitCertificate::sign(CHAIN, &good, 0, &[key(7)]);
        assert!(matches!(
            app.commit(&good, &wrong_signer),
            Err(CommitError::Certificate(CertificateError::UnknownValidator))
        ));
        app.commit(&good, &certify(&good)).unwrap();
        assert!(
            app.commit(&good, &certify(&good)).is_err(),
            "the same block twice"
        );

        // The next block must carry the certificate of this one, and the seed and absent
        // validators it gives.
        let next = app.propose(6_000, OperatorId::from(account(1)), &key(101));
        app.validate(&next, 6_000).unwrap();
        let mut missing = next.clone();
        missing.header.last_commit = None;
        assert!(matches!(
            app.validate(&missing, 6_000),
            Err(ProposalError::MissingCertificate)
        ));
        let mut biased = next.clone();
        biased.header.seed = Hash([7; 32]);
        assert!(matches!(
            app.validate(&biased, 6_000),
            Err(ProposalError::WrongSeed)
        ));
        let mut hiding = next.clone();
        hiding.header.absent_validators = Some(vec![OperatorId::from(account(1))]);
        assert!(matches!(
            app.validate(&hiding, 6_000),
            Err(ProposalError::WrongAbsent)
        ));
        let mut forged = next.clone();
        if let Some(cert) = forged.header.last_commit.as_mut() {
            cert.signatures[0].signature = surety_types::Signature([1; 64]);
        }
        assert!(matches!(
            app.validate(&forged, 6_000),
            Err(ProposalError::Certificate(CertificateError::BadSignature))
        ));
        let mut empty = next.clone();
        if let Some(cert) = empty.header.last_commit.as_mut() {
            cert.signatures.clear();
        }
        assert!(matches!(
            app.validate(&empty, 6_000),
            Err(ProposalError::Certificate(
                CertificateError::NoQuorum { .. }
            ))
        ));
    }
}
