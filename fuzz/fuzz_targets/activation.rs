//! Activations a referee receives in a dispute: `Activation::from_bytes`. No panic; an accepted
//! activation re-encodes to exactly its input and hashes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use surety_infer::Activation;

fuzz_target!(|data: &[u8]| {
    if let Ok(activation) = Activation::from_bytes(data) {
        assert_eq!(
            activation.to_bytes(),
            data,
            "an accepted activation re-encodes to its bytes"
        );
        let _ = activation.hash();
    }
});
