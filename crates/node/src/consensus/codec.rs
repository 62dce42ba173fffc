//! One borsh codec for the engine's WAL, network and sync messages. Most Malachite wire types
//! get borsh encodings from the crates' `borsh` features; `ValidatorProof` and the
//! `ExtendedCommitCertificate` inside sync responses have none upstream, so they are written
//! here. Every decode is of untrusted bytes and fails with an error, never a panic.

use borsh::{BorshDeserialize, BorshSerialize};
use bytes::Bytes;

use malachitebft_app_channel::app::consensus::LivenessMsg;
use malachitebft_app_channel::app::streaming::StreamMessage;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, Round, SignedExtension,
    ValidatorProof,
};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_app_channel::app::types::{ProposedValue, SignedConsensusMsg};
use malachitebft_sync::ValueResponse;

use super::ctx::{Address, BHeight, BlockId, ProposalPart, Sig, SuretyCtx};

#[derive(Clone, Copy, Debug, Default)]
pub struct SuretyCodec;

type E = borsh::io::Error;

macro_rules! borsh_codec {
    ($($t:ty),* $(,)?) => {$(
        impl Codec<$t> for SuretyCodec {
            type Error = E;
            fn decode(&self, bytes: Bytes) -> Result<$t, E> {
                borsh::from_slice(&bytes)
            }
            fn encode(&self, msg: &$t) -> Result<Bytes, E> {
                borsh::to_vec(msg).map(Bytes::from)
            }
        }
    )*};
}

borsh_codec!(
    ProposalPart,
    SignedConsensusMsg<SuretyCtx>,
    LivenessMsg<SuretyCtx>,
    StreamMessage<ProposalPart>,
    ProposedValue<SuretyCtx>,
    PolkaCertificate<SuretyCtx>,
    Status<SuretyCtx>,
    Request<SuretyCtx>,
);

// ---- ValidatorProof (no upstream borsh impl)
#[derive(BorshSerialize, BorshDeserialize)]
struct WireProof {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: Sig,
}

impl Codec<ValidatorProof<SuretyCtx>> for SuretyCodec {
    type Error = E;
    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<SuretyCtx>, E> {
        let w: WireProof = borsh::from_slice(&bytes)?;
        Ok(ValidatorProof::new(w.public_key, w.peer_id, w.signature))
    }
    fn encode(&self, p: &ValidatorProof<SuretyCtx>) -> Result<Bytes, E> {
        let w = WireProof {
            public_key: p.public_key.clone(),
            peer_id: p.peer_id.clone(),
            signature: p.signature,
        };
        borsh::to_vec(&w).map(Bytes::from)
    }
}

// ---- Sync response (RawDecidedValue carries an ExtendedCommitCertificate: no upstream borsh)
#[derive(BorshSerialize, BorshDeserialize)]
struct WireSig {
    address: Address,
    signature: Sig,
    extension: Option<SignedExtension<SuretyCtx>>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireDecided {
    value_bytes: Vec<u8>,
    height: BHeight,
    round: Round,
    value_id: BlockId,
    sigs: Vec<WireSig>,
}

#[derive(BorshSerialize, BorshDeserialize)]
struct WireResponse {
    start_height: BHeight,
    values: Vec<WireDecided>,
}

fn to_wire(r: &Response<SuretyCtx>) -> WireResponse {
    let Response::ValueResponse(v) = r;
    WireResponse {
        start_height: v.start_height,
        values: v
            .values
            .iter()
            .map(|d| WireDecided {
                value_bytes: d.value_bytes.to_vec(),
                height: d.certificate.height,
                round: d.certificate.round,
                value_id: d.certificate.value_id,
                sigs: d
                    .certificate
                    .commit_signatures
                    .iter()
                    .map(|s| WireSig {
                        address: s.address,
                        signature: s.signature,
                        extension: s.extension.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

impl Codec<Response<SuretyCtx>> for SuretyCodec {
    type Error = E;
    fn decode(&self, bytes: Bytes) -> Result<Response<SuretyCtx>, E> {
        let w: WireResponse = borsh::from_slice(&bytes)?;
        let values = w
            .values
            .into_iter()
            .map(|d| RawDecidedValue {
                value_bytes: Bytes::from(d.value_bytes),
                certificate: ExtendedCommitCertificate {
                    height: d.height,
                    round: d.round,
                    value_id: d.value_id,
                    commit_signatures: d
                        .sigs
                        .into_iter()
                        .map(|s| ExtendedCommitSignature::new(s.address, s.signature, s.extension))
                        .collect(),
                },
            })
            .collect();
        Ok(Response::ValueResponse(ValueResponse::new(
            w.start_height,
            values,
        )))
    }
    fn encode(&self, r: &Response<SuretyCtx>) -> Result<Bytes, E> {
        borsh::to_vec(&to_wire(r)).map(Bytes::from)
    }
}

impl HasEncodedLen<Response<SuretyCtx>> for SuretyCodec {
    fn encoded_len(&self, r: &Response<SuretyCtx>) -> Result<usize, E> {
        borsh::object_length(&to_wire(r))
    }
}
