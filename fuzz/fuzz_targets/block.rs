//! Blocks reassembled from proposal parts or read back from storage: `decode_bounded::<Block>`
//! with the node's limit, then what the host does next (hash, tx root, the seed's VRF proof
//! against the header's own bytes as a key, each transaction's shape). No panic; a decoded
//! block re-encodes to exactly its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use surety_fuzz::CHAIN_ID;
use surety_ledger::tx::decode_and_check_shape;
use surety_node::app::BLOCK_BYTES_MAX;
use surety_node::block::{Block, SeedDraw};
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
    // Untrusted proof bytes against untrusted key bytes: an error, never a panic.
    let _ = SeedDraw::verify(
        &block.header.seed_proof,
        &block.header.proposer.0,
        CHAIN_ID,
        block.header.height,
        &block.header.previous_hash,
    );
    for tx in &block.txs {
        let _ = decode_and_check_shape(tx, CHAIN_ID);
    }
});
