//! Transactions from the mempool and the RPC: `decode_and_check_shape` (signature-free) and
//! `check_stateless` (shape and signature) on a fixed chain id. No panic; a transaction that
//! decodes re-encodes to exactly its input (borsh is canonical, the hash depends on it); a
//! transaction that passes the full check passes the shape check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use surety_fuzz::CHAIN_ID;
use surety_ledger::tx::{check_stateless, decode_and_check_shape, Transaction, TX_BYTES_MAX};
use surety_types::encoding::{decode_bounded, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = decode_bounded::<Transaction>(data, TX_BYTES_MAX) {
        assert_eq!(
            encode(&tx),
            data,
            "a decoded transaction re-encodes to its bytes"
        );
        let _ = tx.hash();
    }
    let shape = decode_and_check_shape(data, CHAIN_ID);
    if let Ok(tx) = &shape {
        assert_eq!(encode(tx), data);
    }
    let full = check_stateless(data, CHAIN_ID);
    if full.is_ok() {
        assert!(
            shape.is_ok(),
            "check_stateless passed what the shape check refused"
        );
    }
});
