//! Sync messages from peers through the node's `SuretyCodec`: value responses (decided blocks
//! with their commit certificates), requests and status. No panic; whatever decodes re-encodes
//! to exactly its input.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::sync::{Request, Response, Status};
use surety_node::consensus::codec::SuretyCodec;
use surety_node::consensus::ctx::SuretyCtx;

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
    round_trips::<Response<SuretyCtx>>(data);
    round_trips::<Request<SuretyCtx>>(data);
    round_trips::<Status<SuretyCtx>>(data);
});
