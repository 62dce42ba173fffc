//! RPC bodies as serde_json reads them: the requests the node accepts (`POST /tx`'s `SubmitTx`,
//! `POST /txs/gossip`'s `GossipTxs`, then the hex and transaction decode the handlers do) and the
//! answers a gossiping node or the CLI reads back from a peer (`Submitted`, `GossipAnswer`,
//! `ErrorBody`, `StatusView`). No panic; what parses survives serialising and parsing again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};
use surety_fuzz::CHAIN_ID;
use surety_ledger::tx::decode_and_check_shape;
use surety_node::api::{ErrorBody, GossipAnswer, GossipTxs, StatusView, SubmitTx, Submitted};

fn parses_and_survives<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    data: &[u8],
) -> Option<T> {
    let value: T = serde_json::from_slice(data).ok()?;
    let text = serde_json::to_vec(&value).expect("a parsed body serialises");
    let again: T = serde_json::from_slice(&text).expect("a serialised body parses");
    assert_eq!(
        again,
        value,
        "{} survives a JSON round trip",
        std::any::type_name::<T>()
    );
    Some(value)
}

fn check_tx_hex(hex_text: &str) {
    if let Ok(bytes) = hex::decode(hex_text) {
        let _ = decode_and_check_shape(&bytes, CHAIN_ID);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(body) = parses_and_survives::<SubmitTx>(data) {
        check_tx_hex(&body.tx);
    }
    if let Some(body) = parses_and_survives::<GossipTxs>(data) {
        body.txs.iter().for_each(|tx| check_tx_hex(tx));
    }
    parses_and_survives::<Submitted>(data);
    parses_and_survives::<GossipAnswer>(data);
    parses_and_survives::<ErrorBody>(data);
    parses_and_survives::<StatusView>(data);
});
