//! The operator side of private sortition (docs/market.md, "Audits"): each simulated operator
//! evaluates its own VRF over every sealed job to learn whether it is selected to audit it, as
//! a real worker does. The ledger alone decides (it verifies the proof of every claim against
//! the operator's key and weighs it against its pool snapshot); nothing here is its logic.
//!
//! Why not `SigningKey::vrf_prove` for every operator and job: with 2,000 operators each job
//! asks 2,000 evaluations, and a full proof (two variable-base and two fixed-base scalar
//! multiplications, the key expanded each time) costs about three times the output alone. An
//! operator needs only its output (RFC 9381 §5.2: `beta` from `Gamma = x · H`) to know whether
//! it is selected; it proves (with the real `vrf_prove`) only when it is, and the driver checks
//! that the proof's output is the one computed here. The test below pins the two together.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use sha2::{Digest, Sha512};
use surety_types::SigningKey;

/// ECVRF-EDWARDS25519-SHA512-TAI's suite string and domain separators (RFC 9381 §5.5).
const SUITE: u8 = 0x03;
const DOMAIN_ENCODE_TO_CURVE: u8 = 0x01;
const DOMAIN_PROOF_TO_HASH: u8 = 0x03;
const DOMAIN_BACK: u8 = 0x00;

/// An operator's VRF secret scalar and public key, expanded once.
#[derive(Clone)]
pub struct VrfKey {
    scalar: Scalar,
    public_key: [u8; 32],
}

impl VrfKey {
    /// Expand `key` as RFC 8032 §5.1.5 does (the VRF secret is the ed25519 seed).
    pub fn new(key: &SigningKey) -> VrfKey {
        let digest: [u8; 64] = Sha512::digest(key.seed()).into();
        let mut low = [0u8; 32];
        low.copy_from_slice(&digest[..32]);
        VrfKey {
            scalar: Scalar::from_bytes_mod_order(clamp_integer(low)),
            public_key: key.verification_key().to_bytes(),
        }
    }

    /// The draw (`VrfOutput::draw`: the output's first 8 bytes, big-endian) of this key's VRF
    /// over `alpha`, without the proof.
    pub fn draw(&self, alpha: &[u8]) -> u64 {
        let h = encode_to_curve(&self.public_key, alpha)
            .expect("try-and-increment fails with probability 2^-256 only");
        let gamma = self.scalar * h;
        let digest = Sha512::new()
            .chain_update([SUITE, DOMAIN_PROOF_TO_HASH])
            .chain_update(gamma.mul_by_cofactor().compress().as_bytes())
            .chain_update([DOMAIN_BACK])
            .finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

/// ECVRF_encode_to_curve_try_and_increment (RFC 9381 §5.4.1.1), with the strict decoding of
/// RFC 8032 (a non-canonical encoding is refused).
fn encode_to_curve(public_key: &[u8; 32], alpha: &[u8]) -> Option<EdwardsPoint> {
    (0..=u8::MAX).find_map(|counter| {
        let digest = Sha512::new()
            .chain_update([SUITE, DOMAIN_ENCODE_TO_CURVE])
            .chain_update(public_key)
            .chain_update(alpha)
            .chain_update([counter, DOMAIN_BACK])
            .finalize();
        let mut candidate = [0u8; 32];
        candidate.copy_from_slice(&digest[..32]);
        let point = CompressedEdwardsY(candidate).decompress()?;
        (point.compress().as_bytes() == &candidate).then(|| point.mul_by_cofactor())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draw_without_the_proof_is_the_draw_of_the_real_proof() {
        for index in 0u8..16 {
            let key = SigningKey::from_seed([index; 32]);
            let vrf = VrfKey::new(&key);
            for job in 0u8..4 {
                let alpha = [b"surety.audit.v2".as_slice(), &[job; 40]].concat();
                let proof = key.vrf_prove(&alpha);
                let output = proof
                    .verify(&key.verification_key().to_bytes(), &alpha)
                    .expect("a valid proof");
                assert_eq!(vrf.draw(&alpha), output.draw());
            }
        }
    }
}
