//! Consensus network and WAL messages through the node's `SuretyCodec`: proposal parts (bare
//! and in stream messages), signed votes and proposals, liveness messages, proposed values,
//! polka certificates and validator proofs. No panic; whatever decodes re-encodes to exactly
//! its input.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use malachitebft_app_channel::app::consensus::LivenessMsg;
use malachitebft_app_channel::app::streaming::StreamMessage;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{PolkaCertificate, ValidatorProof};
use malachitebft_app_channel::app::types::{ProposedValue, SignedConsensusMsg};
use surety_node::consensus::codec::SuretyCodec;
use surety_node::consensus::ctx::{ProposalPart, SuretyCtx};

fn round_trips<T>(data: &[u8])
where
    SuretyCodec: Codec<T>,
{
    if let Ok(value) = Codec::<T>::decode(&SuretyCodec, Bytes::copy_from_slice(data)) {
        let again = Codec::<T>::encode(&SuretyCodec, &value).expect("a decoded message encodes");
        assert_eq!(
            &again[..],
            data,
            "{} re-encodes to its bytes",
            std::any::type_name::<T>()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    round_trips::<ProposalPart>(data);
    round_trips::<StreamMessage<ProposalPart>>(data);
    round_trips::<SignedConsensusMsg<SuretyCtx>>(data);
    round_trips::<LivenessMsg<SuretyCtx>>(data);
    round_trips::<ProposedValue<SuretyCtx>>(data);
    round_trips::<PolkaCertificate<SuretyCtx>>(data);
    round_trips::<ValidatorProof<SuretyCtx>>(data);
});
