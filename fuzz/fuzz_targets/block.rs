//! Blocks reassembled from proposal parts or read back from storage: `decode_bounded::<Block>`
//! with the node's limit, then what the host does next (hash, tx root, each transaction's
//! shape). No panic; a decoded block re-encodes to exactly its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use surety_fuzz::CHAIN_ID;
use surety_ledger::tx::decode_and_check_shape;
use surety_node::app::BLOCK_BYTES_MAX;
use surety_node::block::Block;
use surety_types::encoding::{decode_bounded, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(block) = decode_bounded::<Block>(data, BLOCK_BYTES_MAX) else {
        return;
    };
    assert_eq!(
        encode(&block),
        data,
        "a decoded block re-encodes to its bytes"
    );
    let _ = block.hash();
    let _ = block.txs_match_header();
    if let Some(certificate) = &block.header.last_commit {
        let _ = certificate.seed();
    }
    for tx in &block.txs {
        let _ = decode_and_check_shape(tx, CHAIN_ID);
    }
});
