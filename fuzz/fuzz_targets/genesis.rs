//! Genesis files, JSON and TOML: `Genesis::from_json` and `Genesis::from_toml`. No panic; a
//! genesis that parses survives `to_json` and `from_json` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use surety_ledger::genesis::Genesis;

fn survives_json(genesis: &Genesis) {
    let again = Genesis::from_json(&genesis.to_json()).expect("to_json output parses");
    assert_eq!(&again, genesis, "a genesis survives to_json and from_json");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(genesis) = Genesis::from_json(text) {
        survives_json(&genesis);
    }
    if let Ok(genesis) = Genesis::from_toml(text) {
        survives_json(&genesis);
    }
});
