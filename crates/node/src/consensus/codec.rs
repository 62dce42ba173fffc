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

#[cfg(test)]
mod tests {
    use super::*;
    use surety_types::SigningKey;

    /// xorshift64*: reproducible bytes without a dependency.
    struct Bytes64(u64);

    impl Bytes64 {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn bytes(&mut self, max: usize) -> Vec<u8> {
            let len = (self.next() % (max as u64 + 1)) as usize;
            (0..len).map(|_| self.next() as u8).collect()
        }

        /// `bytes` with a few bytes overwritten and sometimes cut short.
        fn mutate(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
            if !bytes.is_empty() {
                for _ in 0..1 + self.next() % 4 {
                    let at = (self.next() % bytes.len() as u64) as usize;
                    bytes[at] = self.next() as u8;
                }
                if self.next().is_multiple_of(4) {
                    bytes.truncate((self.next() % bytes.len() as u64) as usize);
                }
            }
            bytes
        }
    }

    /// Decode with every codec this node registers; each must return, never panic.
    fn decode_all(bytes: &[u8]) {
        let codec = SuretyCodec;
        let b = || Bytes::copy_from_slice(bytes);
        let _ = Codec::<ProposalPart>::decode(&codec, b());
        let _ = Codec::<SignedConsensusMsg<SuretyCtx>>::decode(&codec, b());
        let _ = Codec::<LivenessMsg<SuretyCtx>>::decode(&codec, b());
        let _ = Codec::<StreamMessage<ProposalPart>>::decode(&codec, b());
        let _ = Codec::<ProposedValue<SuretyCtx>>::decode(&codec, b());
        let _ = Codec::<PolkaCertificate<SuretyCtx>>::decode(&codec, b());
        let _ = Codec::<Status<SuretyCtx>>::decode(&codec, b());
        let _ = Codec::<Request<SuretyCtx>>::decode(&codec, b());
        let _ = Codec::<ValidatorProof<SuretyCtx>>::decode(&codec, b());
        let _ = Codec::<Response<SuretyCtx>>::decode(&codec, b());
    }

    #[test]
    fn random_bytes_never_panic_a_decoder() {
        let mut rng = Bytes64(0x5eed_0001);
        for _ in 0..20_000 {
            decode_all(&rng.bytes(600));
        }
    }

    #[test]
    fn mangled_real_messages_never_panic_a_decoder_and_real_ones_round_trip() {
        let key = SigningKey::from_seed([5; 32]);
        let proposer = Address(key.verification_key());
        let signature = Sig::from(key.sign(b"proposal"));
        let parts = [
            ProposalPart::Init {
                height: BHeight(7),
                round: Round::new(1),
                pol_round: Round::Nil,
                proposer,
            },
            ProposalPart::Data(vec![1, 2, 3, 4, 5, 6, 7, 8]),
            ProposalPart::Fin {
                block_id: BlockId(surety_types::Hash::of("test", b"block")),
                signature,
            },
        ];
        let response = WireResponse {
            start_height: BHeight(3),
            values: vec![WireDecided {
                value_bytes: vec![9; 40],
                height: BHeight(3),
                round: Round::new(0),
                value_id: BlockId(surety_types::Hash::of("test", b"value")),
                sigs: vec![WireSig {
                    address: proposer,
                    signature,
                    extension: None,
                }],
            }],
        };
        let mut encodings: Vec<Vec<u8>> = parts.iter().map(|p| borsh::to_vec(p).unwrap()).collect();
        encodings.push(borsh::to_vec(&response).unwrap());
        for (part, bytes) in parts.iter().zip(&encodings) {
            let decoded: ProposalPart =
                Codec::decode(&SuretyCodec, Bytes::from(bytes.clone())).unwrap();
            assert_eq!(&decoded, part);
        }
        let decoded: Response<SuretyCtx> =
            Codec::decode(&SuretyCodec, Bytes::from(encodings[3].clone())).unwrap();
        assert_eq!(borsh::to_vec(&to_wire(&decoded)).unwrap(), encodings[3]);

        let mut rng = Bytes64(0x5eed_0002);
        for round in 0..20_000 {
            let bytes = rng.mutate(encodings[round % encodings.len()].clone());
            decode_all(&bytes);
        }
    }
}
