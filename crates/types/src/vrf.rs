//! ECVRF-EDWARDS25519-SHA512-TAI, the verifiable random function of RFC 9381 §5 (suite 0x03),
//! over the ed25519 keys every account and validator already has: the VRF secret key is the
//! 32-byte ed25519 seed ([`SigningKey::seed`]) and the VRF public key is the ed25519 public
//! key, exactly as RFC 9381 §5.5 specifies for this suite (docs/consensus.md "Seed").
//!
//! Only the key's holder can compute the output for an input, anyone can check it against the
//! public key, and for one key and one input there is one valid output: a proposer that draws
//! the block seed this way has no choice over it.
//!
//! Hand-written on purpose: the published ECVRF crates either pull a pre-release or forked
//! curve25519-dalek, or openssl. The try-and-increment suite needs nothing but strict point
//! decompression, scalar multiplication and SHA-512, which curve25519-dalek 4 (already in the
//! build through ed25519-dalek) and sha2 give. The RFC's Appendix B.3 vectors pin it byte for
//! byte (tests below).
//!
//! [`VrfProof::verify`] is fed untrusted bytes: every malformed input is an error
//! ([`VrfError`]), never a panic.

use crate::SigningKey;
use borsh::{BorshDeserialize, BorshSerialize};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
use std::fmt;
use zeroize::Zeroize;

/// `suite_string` of ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381 §5.5).
const SUITE: u8 = 0x03;
/// Domain separators of RFC 9381 §5.4.1.1 (encode to curve), §5.4.3 (challenge) and §5.2
/// (proof to hash); every hash ends with [`DOMAIN_BACK`].
const DOMAIN_ENCODE_TO_CURVE: u8 = 0x01;
const DOMAIN_CHALLENGE: u8 = 0x02;
const DOMAIN_PROOF_TO_HASH: u8 = 0x03;
const DOMAIN_BACK: u8 = 0x00;
/// `cLen`: the challenge is the first 16 bytes of a SHA-512 output.
const CHALLENGE_BYTES: usize = 16;
/// `ptLen` = `qLen` = 32.
const POINT_BYTES: usize = 32;
/// A proof is `Gamma ‖ c ‖ s`: 32 + 16 + 32 bytes.
pub const PROOF_BYTES: usize = POINT_BYTES + CHALLENGE_BYTES + 32;
/// A VRF output (`beta`) is one SHA-512 digest.
pub const OUTPUT_BYTES: usize = 64;

/// Why a VRF proof was refused. Proofs and keys come from other nodes, so both are errors to
/// report, not bugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VrfError {
    /// The 32 public-key bytes are not the canonical encoding of a curve point, or the point
    /// has small order (RFC 9381 §5.4.5, ECVRF_validate_key).
    #[error("bytes are not a valid VRF (ed25519) public key")]
    InvalidKey,
    /// The proof is malformed or is not this key's proof for this input.
    #[error("VRF proof does not verify")]
    InvalidProof,
}

/// A VRF proof `pi` (RFC 9381 §5.1): `Gamma` (32 bytes) ‖ `c` (16) ‖ `s` (32). Held as bytes:
/// nothing about it is checked until [`VrfProof::verify`].
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VrfProof(pub [u8; PROOF_BYTES]);

/// A VRF output `beta` (RFC 9381 §5.2): 64 bytes, uniformly random to anyone without the secret
/// key, and the same for every valid proof by one key over one input.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VrfOutput(pub [u8; OUTPUT_BYTES]);

impl SigningKey {
    /// This key's VRF proof over `alpha` (ECVRF_prove, RFC 9381 §5.1). Deterministic: the same
    /// key and input give the same proof. Callers prefix a domain tag to `alpha`, as they do
    /// for signatures.
    pub fn vrf_prove(&self, alpha: &[u8]) -> VrfProof {
        let mut secret = SecretExpansion::new(&self.seed());
        let public_key = EdwardsPoint::mul_base(&secret.scalar).compress().to_bytes();
        let h = encode_to_curve(&public_key, alpha)
            .expect("try-and-increment fails with probability 2^-256 only");
        let h_string = h.compress().to_bytes();
        let gamma = secret.scalar * h;
        let mut nonce = nonce_generation(&secret.nonce_prefix, &h_string);
        let u = EdwardsPoint::mul_base(&nonce);
        let v = nonce * h;
        let challenge = challenge_generation(&public_key, &h_string, &gamma, &u, &v);
        let s = nonce + challenge_scalar(&challenge) * secret.scalar;
        nonce.zeroize();
        secret.zeroize();

        let mut proof = [0u8; PROOF_BYTES];
        proof[..POINT_BYTES].copy_from_slice(gamma.compress().as_bytes());
        proof[POINT_BYTES..POINT_BYTES + CHALLENGE_BYTES].copy_from_slice(&challenge);
        proof[POINT_BYTES + CHALLENGE_BYTES..].copy_from_slice(s.as_bytes());
        VrfProof(proof)
    }
}

/// A key's VRF, expanded once, to evaluate outputs without proofs: what an operator needs to
/// learn whether its VRF selects it (an audit, docs/market.md), which is about a third of the
/// cost of [`SigningKey::vrf_prove`]. The output is the one a proof by the same key over the
/// same input verifies to; prove only when it matters.
#[derive(Clone)]
pub struct VrfEvaluator {
    scalar: Scalar,
    public_key: [u8; 32],
}

impl VrfEvaluator {
    /// Expand `key` (RFC 8032 §5.1.5).
    pub fn new(key: &SigningKey) -> VrfEvaluator {
        let mut secret = SecretExpansion::new(&key.seed());
        let public_key = EdwardsPoint::mul_base(&secret.scalar).compress().to_bytes();
        let scalar = secret.scalar;
        secret.zeroize();
        VrfEvaluator { scalar, public_key }
    }

    /// The VRF output over `alpha` (RFC 9381 §5.2, `Gamma = x · H`), without the proof.
    pub fn output(&self, alpha: &[u8]) -> VrfOutput {
        let h = encode_to_curve(&self.public_key, alpha)
            .expect("try-and-increment fails with probability 2^-256 only");
        output_of(&(self.scalar * h))
    }
}

impl Drop for VrfEvaluator {
    fn drop(&mut self) {
        self.scalar.zeroize();
    }
}

impl fmt::Debug for VrfEvaluator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VrfEvaluator")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// Whether `public_key` can verify VRF proofs at all (ECVRF_validate_key, RFC 9381 §5.4.5:
/// the canonical encoding of a point not of small order). ed25519 signature checks (ZIP-215)
/// accept keys this refuses, so a registry of keys that must also serve as VRF keys (the
/// consensus keys) should check this when a key is registered: a validator whose key fails it
/// can never propose a block with a valid seed.
pub fn validate_public_key(public_key: &[u8; 32]) -> Result<(), VrfError> {
    decode_public_key(public_key).map(|_| ())
}

fn decode_public_key(public_key: &[u8; 32]) -> Result<EdwardsPoint, VrfError> {
    match decode_point(public_key) {
        Some(point) if !point.is_small_order() => Ok(point),
        _ => Err(VrfError::InvalidKey),
    }
}

impl VrfProof {
    /// The output this proof proves, if it is `public_key`'s proof over `alpha`
    /// (ECVRF_verify, RFC 9381 §5.3, with the key validation of §5.4.5).
    /// [`VrfError::InvalidKey`] when the key is not a canonical point of large order,
    /// [`VrfError::InvalidProof`] for any other failure.
    pub fn verify(&self, public_key: &[u8; 32], alpha: &[u8]) -> Result<VrfOutput, VrfError> {
        let y = decode_public_key(public_key)?;
        let decoded = self.decode()?;
        let h = encode_to_curve(public_key, alpha).ok_or(VrfError::InvalidProof)?;
        let c = challenge_scalar(&decoded.challenge);
        // U = s·B − c·Y and V = s·H − c·Gamma: public data only, so variable time is fine.
        let u = EdwardsPoint::vartime_double_scalar_mul_basepoint(&-c, &y, &decoded.s);
        let v = decoded.s * h - c * decoded.gamma;
        let expected =
            challenge_generation(public_key, h.compress().as_bytes(), &decoded.gamma, &u, &v);
        if expected != decoded.challenge {
            return Err(VrfError::InvalidProof);
        }
        Ok(output_of(&decoded.gamma))
    }

    /// The output of this proof without checking it (ECVRF_proof_to_hash, RFC 9381 §5.2): only
    /// for a proof already verified, or one this node made itself. Fails only on a malformed
    /// proof.
    pub fn proof_to_hash(&self) -> Result<VrfOutput, VrfError> {
        Ok(output_of(&self.decode()?.gamma))
    }

    /// ECVRF_decode_proof (RFC 9381 §5.4.4): `Gamma` must be a canonical point and `s` a
    /// canonical scalar (below the group order).
    fn decode(&self) -> Result<DecodedProof, VrfError> {
        let mut gamma_bytes = [0u8; POINT_BYTES];
        gamma_bytes.copy_from_slice(&self.0[..POINT_BYTES]);
        let gamma = decode_point(&gamma_bytes).ok_or(VrfError::InvalidProof)?;
        let mut challenge = [0u8; CHALLENGE_BYTES];
        challenge.copy_from_slice(&self.0[POINT_BYTES..POINT_BYTES + CHALLENGE_BYTES]);
        let mut s_bytes = [0u8; 32];
        s_bytes.copy_from_slice(&self.0[POINT_BYTES + CHALLENGE_BYTES..]);
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
            .ok_or(VrfError::InvalidProof)?;
        Ok(DecodedProof {
            gamma,
            challenge,
            s,
        })
    }
}

impl VrfOutput {
    /// A number drawn from the output: its first 8 bytes, big-endian.
    pub fn draw(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        u64::from_be_bytes(first)
    }
}

struct DecodedProof {
    gamma: EdwardsPoint,
    challenge: [u8; CHALLENGE_BYTES],
    s: Scalar,
}

/// The secret scalar `x` and the nonce prefix that RFC 8032 §5.1.5 expands a 32-byte ed25519
/// secret key into (SHA-512 of the key: the low half clamped, the high half kept).
struct SecretExpansion {
    scalar: Scalar,
    nonce_prefix: [u8; 32],
}

impl SecretExpansion {
    fn new(secret_key: &[u8; 32]) -> SecretExpansion {
        let mut digest: [u8; 64] = Sha512::digest(secret_key).into();
        let mut low = [0u8; 32];
        low.copy_from_slice(&digest[..32]);
        let mut nonce_prefix = [0u8; 32];
        nonce_prefix.copy_from_slice(&digest[32..]);
        // The clamped integer exceeds the group order; reducing it changes nothing, since it
        // only ever multiplies points of the prime-order subgroup.
        let scalar = Scalar::from_bytes_mod_order(clamp_integer(low));
        digest.zeroize();
        low.zeroize();
        SecretExpansion {
            scalar,
            nonce_prefix,
        }
    }

    fn zeroize(&mut self) {
        self.scalar.zeroize();
        self.nonce_prefix.zeroize();
    }
}

/// string_to_point of RFC 9381 §5.5 (RFC 8032 §5.1.3 decoding): the point, or `None` when the
/// bytes are not the canonical encoding of one. dalek's decompression also takes a `y` at or
/// above the field prime and a "negative zero" `x`; re-encoding and comparing refuses both, so
/// one point has one accepted encoding.
fn decode_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    let point = CompressedEdwardsY(*bytes).decompress()?;
    (point.compress().as_bytes() == bytes).then_some(point)
}

/// ECVRF_encode_to_curve_try_and_increment (RFC 9381 §5.4.1.1), salted with the public key:
/// the first counter whose hash decodes to a point, times the cofactor. `None` only if all 256
/// counters fail, which happens with probability about 2^-256.
fn encode_to_curve(public_key: &[u8; 32], alpha: &[u8]) -> Option<EdwardsPoint> {
    (0..=u8::MAX).find_map(|counter| {
        let digest = Sha512::new()
            .chain_update([SUITE, DOMAIN_ENCODE_TO_CURVE])
            .chain_update(public_key)
            .chain_update(alpha)
            .chain_update([counter, DOMAIN_BACK])
            .finalize();
        let mut candidate = [0u8; POINT_BYTES];
        candidate.copy_from_slice(&digest[..POINT_BYTES]);
        decode_point(&candidate).map(|point| point.mul_by_cofactor())
    })
}

/// ECVRF_nonce_generation_RFC8032 (RFC 9381 §5.4.2.2): SHA-512 of the nonce prefix and the
/// encoded `H`, reduced modulo the group order.
fn nonce_generation(nonce_prefix: &[u8; 32], h_string: &[u8; 32]) -> Scalar {
    let mut digest: [u8; 64] = Sha512::new()
        .chain_update(nonce_prefix)
        .chain_update(h_string)
        .finalize()
        .into();
    let nonce = Scalar::from_bytes_mod_order_wide(&digest);
    digest.zeroize();
    nonce
}

/// ECVRF_challenge_generation (RFC 9381 §5.4.3) over `Y, H, Gamma, U, V`: the first 16 bytes of
/// the hash.
fn challenge_generation(
    public_key: &[u8; 32],
    h_string: &[u8; 32],
    gamma: &EdwardsPoint,
    u: &EdwardsPoint,
    v: &EdwardsPoint,
) -> [u8; CHALLENGE_BYTES] {
    let digest = Sha512::new()
        .chain_update([SUITE, DOMAIN_CHALLENGE])
        .chain_update(public_key)
        .chain_update(h_string)
        .chain_update(gamma.compress().as_bytes())
        .chain_update(u.compress().as_bytes())
        .chain_update(v.compress().as_bytes())
        .chain_update([DOMAIN_BACK])
        .finalize();
    let mut challenge = [0u8; CHALLENGE_BYTES];
    challenge.copy_from_slice(&digest[..CHALLENGE_BYTES]);
    challenge
}

/// The challenge as a scalar (string_to_int, little-endian); 128 bits, so always canonical.
fn challenge_scalar(challenge: &[u8; CHALLENGE_BYTES]) -> Scalar {
    let mut bytes = [0u8; 32];
    bytes[..CHALLENGE_BYTES].copy_from_slice(challenge);
    Scalar::from_bytes_mod_order(bytes)
}

/// ECVRF_proof_to_hash's hash (RFC 9381 §5.2): SHA-512 over the cofactor times `Gamma`.
fn output_of(gamma: &EdwardsPoint) -> VrfOutput {
    let digest = Sha512::new()
        .chain_update([SUITE, DOMAIN_PROOF_TO_HASH])
        .chain_update(gamma.mul_by_cofactor().compress().as_bytes())
        .chain_update([DOMAIN_BACK])
        .finalize();
    VrfOutput(digest.into())
}

impl fmt::Debug for VrfProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VrfProof({}…)", &hex::encode(&self.0[..8]))
    }
}

impl fmt::Debug for VrfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VrfOutput({}…)", &hex::encode(&self.0[..8]))
    }
}

impl Serialize for VrfProof {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for VrfProof {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        let array: [u8; PROOF_BYTES] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 80 VRF proof bytes"))?;
        Ok(VrfProof(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Vector {
        secret_key: &'static str,
        public_key: &'static str,
        alpha: &'static str,
        proof: &'static str,
        output: &'static str,
    }

    /// RFC 9381 Appendix B.3, Examples 16, 17 and 18 (ECVRF-EDWARDS25519-SHA512-TAI).
    const RFC_9381_B3: [Vector; 3] = [
        Vector {
            secret_key: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            public_key: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            alpha: "",
            proof: "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f\
                    26f8a57ccaed74ee1b190bed1f479d97\
                    27d2d0f9b005a6e456a35d4fb0daab1268a1b0db10836d9826a528ca76567805",
            output: "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff\
                     66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae",
        },
        Vector {
            secret_key: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            public_key: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            alpha: "72",
            proof: "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed593\
                    3bf0864a62558b3ed7f2fea45c92a465\
                    301b3bbf5e3e54ddf2d935be3b67926da3ef39226bbc355bdc9850112c8f4b02",
            output: "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb\
                     5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031",
        },
        Vector {
            secret_key: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            public_key: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            alpha: "af82",
            proof: "9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf80\
                    96bb474e53895c362d8628ee9f9ea3c0\
                    e52c7a5c691b6c18c9979866568add7a2d41b00b05081ed0f58ee5e31b3a970e",
            output: "645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c45\
                     2118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f",
        },
    ];

    fn bytes<const N: usize>(text: &str) -> [u8; N] {
        hex::decode(text).expect("hex").try_into().expect("length")
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_seed([seed; 32])
    }

    fn public(key: &SigningKey) -> [u8; 32] {
        key.verification_key().to_bytes()
    }

    #[test]
    fn the_rfc_9381_vectors_are_reproduced_byte_for_byte() {
        for vector in &RFC_9381_B3 {
            let secret_key = SigningKey::from_seed(bytes(vector.secret_key));
            let public_key: [u8; 32] = bytes(vector.public_key);
            let alpha = hex::decode(vector.alpha).expect("hex");
            assert_eq!(public(&secret_key), public_key);

            let proof = secret_key.vrf_prove(&alpha);
            assert_eq!(proof, VrfProof(bytes(vector.proof)));
            let output = proof.verify(&public_key, &alpha).expect("valid proof");
            assert_eq!(output, VrfOutput(bytes(vector.output)));
            assert_eq!(proof.proof_to_hash(), Ok(output));
        }
    }

    #[test]
    fn an_output_without_the_proof_is_the_output_the_proof_verifies_to() {
        for seed in 0u8..16 {
            let key = key(seed);
            let evaluator = VrfEvaluator::new(&key);
            for input in 0u8..4 {
                let alpha = [b"surety.test".as_slice(), &[input; 40]].concat();
                let verified = key.vrf_prove(&alpha).verify(&public(&key), &alpha).unwrap();
                assert_eq!(evaluator.output(&alpha), verified);
            }
        }
    }

    #[test]
    fn a_proof_fails_for_another_input_or_another_key() {
        let prover = key(1);
        let proof = prover.vrf_prove(b"height 7");
        assert!(proof.verify(&public(&prover), b"height 7").is_ok());
        assert_eq!(
            proof.verify(&public(&prover), b"height 8"),
            Err(VrfError::InvalidProof)
        );
        assert_eq!(
            proof.verify(&public(&key(2)), b"height 7"),
            Err(VrfError::InvalidProof)
        );
    }

    #[test]
    fn every_flipped_bit_of_a_proof_is_refused() {
        let prover = key(3);
        let proof = prover.vrf_prove(b"alpha");
        for bit in 0..PROOF_BYTES * 8 {
            let mut tampered = proof;
            tampered.0[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                tampered.verify(&public(&prover), b"alpha"),
                Err(VrfError::InvalidProof),
                "bit {bit}"
            );
        }
    }

    #[test]
    fn proofs_and_outputs_are_deterministic_and_differ_by_input() {
        let prover = key(4);
        assert_eq!(prover.vrf_prove(b"a"), prover.vrf_prove(b"a"));
        let a = prover.vrf_prove(b"a").proof_to_hash().expect("well formed");
        let b = prover.vrf_prove(b"b").proof_to_hash().expect("well formed");
        assert_ne!(a, b);
        assert_ne!(a.draw(), b.draw());
        assert_eq!(
            a.draw(),
            u64::from_be_bytes(a.0[..8].try_into().expect("8 bytes"))
        );
    }

    #[test]
    fn non_canonical_point_encodings_are_refused_as_gamma() {
        // dalek decompresses y = 1 + p (non-canonical y) and y = 1 with the sign bit set
        // ("negative zero" x) to the identity; RFC 8032 decoding refuses both.
        let mut one_plus_p = [0xffu8; 32];
        one_plus_p[0] = 0xee; // p = 2^255 - 19 = 0x7fff…ffed; p + 1 = 0x7fff…ffee
        one_plus_p[31] = 0x7f;
        assert!(CompressedEdwardsY(one_plus_p).decompress().is_some());
        assert!(decode_point(&one_plus_p).is_none());
        let mut negative_zero = [0u8; 32];
        negative_zero[0] = 1;
        negative_zero[31] = 0x80;
        assert!(CompressedEdwardsY(negative_zero).decompress().is_some());
        assert!(decode_point(&negative_zero).is_none());

        let prover = key(5);
        let mut proof = prover.vrf_prove(b"alpha");
        proof.0[..32].copy_from_slice(&one_plus_p);
        assert_eq!(
            proof.verify(&public(&prover), b"alpha"),
            Err(VrfError::InvalidProof)
        );
        assert_eq!(proof.proof_to_hash(), Err(VrfError::InvalidProof));
    }

    #[test]
    fn a_non_canonical_s_is_refused() {
        let prover = key(6);
        let proof = prover.vrf_prove(b"alpha");
        // s + q names the same scalar; RFC 9381 §5.4.4 requires s < q.
        let mut s = [0u8; 32];
        s.copy_from_slice(&proof.0[48..]);
        let order: [u8; 32] =
            bytes("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(s[i]) + u16::from(order[i]) + carry;
            s[i] = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0, "s + q fits in 256 bits");
        let mut tampered = proof;
        tampered.0[48..].copy_from_slice(&s);
        assert_eq!(
            tampered.verify(&public(&prover), b"alpha"),
            Err(VrfError::InvalidProof)
        );
    }

    #[test]
    fn small_order_and_non_point_keys_are_invalid_keys() {
        let proof = key(7).vrf_prove(b"alpha");
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(proof.verify(&identity, b"alpha"), Err(VrfError::InvalidKey));
        let not_a_point = (0..=255u8)
            .map(|b| {
                let mut candidate = [b; 32];
                candidate[31] = 0x7f;
                candidate
            })
            .find(|candidate| CompressedEdwardsY(*candidate).decompress().is_none())
            .expect("some bytes are not a point");
        assert_eq!(
            proof.verify(&not_a_point, b"alpha"),
            Err(VrfError::InvalidKey)
        );
        assert_eq!(validate_public_key(&identity), Err(VrfError::InvalidKey));
        assert_eq!(validate_public_key(&not_a_point), Err(VrfError::InvalidKey));
        assert_eq!(validate_public_key(&public(&key(7))), Ok(()));
        // ed25519-consensus (ZIP-215) takes the identity as a signature key; the VRF does not.
        assert!(crate::VerificationKey::from_bytes(identity).is_ok());
    }

    #[test]
    fn proofs_round_trip_through_borsh_and_serde() {
        let proof = key(8).vrf_prove(b"alpha");
        let encoded = borsh::to_vec(&proof).expect("borsh");
        assert_eq!(encoded.len(), PROOF_BYTES);
        assert_eq!(
            borsh::from_slice::<VrfProof>(&encoded).expect("borsh"),
            proof
        );
        let json = serde_json::to_string(&proof).expect("json");
        assert_eq!(json, format!("\"{}\"", hex::encode(proof.0)));
        assert_eq!(
            serde_json::from_str::<VrfProof>(&json).expect("json"),
            proof
        );
        assert!(serde_json::from_str::<VrfProof>("\"00\"").is_err());
    }

    proptest! {
        #[test]
        fn random_proof_and_key_bytes_never_panic_and_never_verify(
            proof in proptest::collection::vec(any::<u8>(), PROOF_BYTES),
            public_key in any::<[u8; 32]>(),
            alpha in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let proof = VrfProof(proof.try_into().expect("80 bytes"));
            prop_assert!(proof.verify(&public_key, &alpha).is_err());
            let _ = proof.proof_to_hash();
        }

        #[test]
        fn random_proofs_under_a_real_key_never_verify(
            proof in proptest::collection::vec(any::<u8>(), PROOF_BYTES),
            alpha in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let proof = VrfProof(proof.try_into().expect("80 bytes"));
            prop_assert_eq!(
                proof.verify(&public(&key(9)), &alpha),
                Err(VrfError::InvalidProof)
            );
        }

        #[test]
        fn an_honest_proof_always_verifies_to_its_own_output(
            seed in any::<[u8; 32]>(),
            alpha in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let prover = SigningKey::from_seed(seed);
            let proof = prover.vrf_prove(&alpha);
            prop_assert_eq!(proof.verify(&public(&prover), &alpha), proof.proof_to_hash());
        }
    }
}
