//! Ed25519 keys and signatures (ed25519-consensus: ZIP-215 rules, so every node agrees on which
//! signatures are valid, including in batch verification).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a key or signature was refused. Both come from outside (transactions, votes, key
/// files), so they are errors to report, not bugs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The 32 bytes do not decode to an ed25519 curve point.
    #[error("bytes are not a valid ed25519 public key")]
    InvalidKey,
    /// The signature is not by this key over these bytes (or is malformed).
    #[error("signature does not verify")]
    BadSignature,
}

/// A private signing key. Never serialised by accident: it has no serde or borsh impls and its
/// `Debug` hides the bytes.
#[derive(Clone)]
pub struct SigningKey(ed25519_consensus::SigningKey);

impl SigningKey {
    /// A fresh key from the operating system's randomness (key generation is IO: never call
    /// this inside the ledger).
    pub fn generate() -> SigningKey {
        SigningKey(ed25519_consensus::SigningKey::new(rand_core::OsRng))
    }

    /// A key from 32 seed bytes (deterministic: tests, genesis fixtures, key files).
    pub fn from_seed(seed: [u8; 32]) -> SigningKey {
        SigningKey(ed25519_consensus::SigningKey::from(seed))
    }

    /// The 32 seed bytes this key was made from: the secret itself, for writing a key file.
    /// Whoever holds them can sign as this key.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public half, which others use to check this key's signatures.
    pub fn verification_key(&self) -> VerificationKey {
        VerificationKey(self.0.verification_key())
    }

    /// Sign `message` as given. Callers prefix a domain tag (as [`crate::tx`] and
    /// [`crate::vote`] do), so that one signed thing cannot be passed off as another.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(<secret for {:?}>)", self.verification_key())
    }
}

/// An ed25519 public key, known to be a valid curve point (checked when it was made or
/// decoded), so verifying with it cannot fail on the key itself.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VerificationKey(ed25519_consensus::VerificationKey);

impl VerificationKey {
    /// The key encoded by `bytes`, or [`CryptoError::InvalidKey`] when they are not a point.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<VerificationKey, CryptoError> {
        ed25519_consensus::VerificationKey::try_from(bytes)
            .map(VerificationKey)
            .map_err(|_| CryptoError::InvalidKey)
    }

    /// The 32-byte compressed encoding, as signed, hashed and stored.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Check that `signature` is this key's over exactly `message`, under the ZIP-215 rules
    /// every node applies; [`CryptoError::BadSignature`] otherwise.
    pub fn verify(&self, signature: &Signature, message: &[u8]) -> Result<(), CryptoError> {
        let signature = ed25519_consensus::Signature::from(signature.0);
        self.0
            .verify(&signature, message)
            .map_err(|_| CryptoError::BadSignature)
    }

    pub(crate) fn inner(&self) -> ed25519_consensus::VerificationKeyBytes {
        self.0.into()
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VerificationKey({})",
            &hex::encode(self.to_bytes())[..12]
        )
    }
}

impl BorshSerialize for VerificationKey {
    fn serialize<W: std::io::Write>(&self, writer: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&self.to_bytes(), writer)
    }
}

impl BorshDeserialize for VerificationKey {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let bytes = <[u8; 32]>::deserialize_reader(reader)?;
        VerificationKey::from_bytes(bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

impl Serialize for VerificationKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.to_bytes()))
    }
}

impl<'de> Deserialize<'de> for VerificationKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 key bytes"))?;
        VerificationKey::from_bytes(array).map_err(serde::de::Error::custom)
    }
}

/// The 32 bytes of a verification key that was validated when it entered the system (a
/// transaction field of type [`VerificationKey`] is checked on decoding). State stores keys
/// this way: reading state back must not pay for a curve-point decompression each time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct VerificationKeyBytes(pub [u8; 32]);

impl VerificationKeyBytes {
    /// The key itself, decompressed (and checked again).
    pub fn key(&self) -> Result<VerificationKey, CryptoError> {
        VerificationKey::from_bytes(self.0)
    }
}

impl From<VerificationKey> for VerificationKeyBytes {
    fn from(key: VerificationKey) -> VerificationKeyBytes {
        VerificationKeyBytes(key.to_bytes())
    }
}

impl fmt::Debug for VerificationKeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerificationKey({})", &hex::encode(self.0)[..12])
    }
}

impl Serialize for VerificationKeyBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for VerificationKeyBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <VerificationKey as Deserialize>::deserialize(deserializer).map(VerificationKeyBytes::from)
    }
}

/// A 64-byte ed25519 signature, held as bytes: nothing about it is checked until it is
/// verified against a key and a message.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", &hex::encode(&self.0[..8]))
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        let array: [u8; 64] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 64 signature bytes"))?;
        Ok(Signature(array))
    }
}

/// Verifies many signatures at once (about twice as fast per signature as one by one). If the
/// batch fails, the caller re-checks items singly to find the bad ones.
#[derive(Default)]
pub struct BatchVerifier {
    inner: ed25519_consensus::batch::Verifier,
    count: usize,
}

impl BatchVerifier {
    /// A batch with nothing queued yet.
    pub fn new() -> BatchVerifier {
        BatchVerifier::default()
    }

    /// Queue a signature by raw key bytes: the batch decompresses each distinct key once, and
    /// bytes that are not a valid key make the batch fail (callers then check one by one).
    pub fn queue_key_bytes(&mut self, key: [u8; 32], signature: &Signature, message: &[u8]) {
        self.inner.queue((
            ed25519_consensus::VerificationKeyBytes::from(key),
            ed25519_consensus::Signature::from(signature.0),
            message,
        ));
        self.count += 1;
    }

    /// Queue a signature by an already-checked key.
    pub fn queue(&mut self, key: &VerificationKey, signature: &Signature, message: &[u8]) {
        self.inner.queue((
            key.inner(),
            ed25519_consensus::Signature::from(signature.0),
            message,
        ));
        self.count += 1;
    }

    /// How many signatures are queued.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when every queued signature is valid. Draws the batch
    /// coefficients from `seed`: soundness only needs them unpredictable to whoever made the signatures,
    /// and a seed derived from the batch contents is (a deterministic, IO-free verifier).
    pub fn verify_all(self, seed: [u8; 32]) -> bool {
        use rand_core::SeedableRng;
        let rng = CoefficientRng::from_seed(seed);
        self.inner.verify(rng).is_ok()
    }
}

/// A small stream RNG for batch coefficients: blake3 in XOF mode keyed by a seed.
struct CoefficientRng {
    reader: blake3::OutputReader,
}

impl rand_core::SeedableRng for CoefficientRng {
    type Seed = [u8; 32];
    fn from_seed(seed: [u8; 32]) -> CoefficientRng {
        let mut hasher = blake3::Hasher::new_keyed(&seed);
        hasher.update(b"surety.batch-verify.coefficients");
        CoefficientRng {
            reader: hasher.finalize_xof(),
        }
    }
}

impl rand_core::RngCore for CoefficientRng {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0u8; 4];
        self.reader.fill(&mut bytes);
        u32::from_le_bytes(bytes)
    }
    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.reader.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.reader.fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.reader.fill(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for CoefficientRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let key = SigningKey::from_seed([1; 32]);
        let other = SigningKey::from_seed([2; 32]);
        let signature = key.sign(b"hello");
        assert!(key.verification_key().verify(&signature, b"hello").is_ok());
        assert!(key.verification_key().verify(&signature, b"hellp").is_err());
        assert!(other
            .verification_key()
            .verify(&signature, b"hello")
            .is_err());
    }

    #[test]
    fn a_batch_with_one_bad_signature_fails() {
        let keys: Vec<SigningKey> = (0..8u8).map(|i| SigningKey::from_seed([i; 32])).collect();
        let messages: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 10]).collect();
        let mut good = BatchVerifier::new();
        let mut bad = BatchVerifier::new();
        for (i, key) in keys.iter().enumerate() {
            let signature = key.sign(&messages[i]);
            good.queue(&key.verification_key(), &signature, &messages[i]);
            let message: &[u8] = if i == 5 { b"forged" } else { &messages[i] };
            bad.queue(&key.verification_key(), &signature, message);
        }
        assert!(good.verify_all([9; 32]));
        assert!(!bad.verify_all([9; 32]));
    }

    #[test]
    fn a_batch_with_an_invalid_key_fails() {
        let key = SigningKey::from_seed([1; 32]);
        let signature = key.sign(b"m");
        let mut bad_key = None;
        for b in 0..=255u8 {
            let mut bytes = [b; 32];
            bytes[31] = 0xff;
            if VerificationKey::from_bytes(bytes).is_err() {
                bad_key = Some(bytes);
                break;
            }
        }
        let mut batch = BatchVerifier::new();
        batch.queue_key_bytes(key.verification_key().to_bytes(), &signature, b"m");
        batch.queue_key_bytes(
            bad_key.expect("some bytes are not a point"),
            &signature,
            b"m",
        );
        assert!(!batch.verify_all([0; 32]));
        let mut good = BatchVerifier::new();
        good.queue_key_bytes(key.verification_key().to_bytes(), &signature, b"m");
        assert!(good.verify_all([0; 32]));
    }

    #[test]
    fn keys_round_trip_through_borsh_and_reject_garbage() {
        let key = SigningKey::from_seed([3; 32]).verification_key();
        let bytes = borsh::to_vec(&key).unwrap();
        assert_eq!(borsh::from_slice::<VerificationKey>(&bytes).unwrap(), key);
        // Not every 32-byte string is a curve point.
        let mut found_invalid = false;
        for b in 0..=255u8 {
            let mut bytes = [b; 32];
            bytes[31] = 0xff;
            if VerificationKey::from_bytes(bytes).is_err() {
                found_invalid = true;
                break;
            }
        }
        assert!(found_invalid);
    }
}
