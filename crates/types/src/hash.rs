//! Blake3 hashing with domain separation. Every hash in Surety names what it is a hash of, so a
//! value of one kind can never be passed off as another (a leaf as a node, a tx as a vote).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A 32-byte blake3 digest, made by [`Hash::of`] or [`Hash::of_parts`] under a domain. Prints
/// and serialises as 64 lower-case hex digits.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// All zero bytes: a placeholder that no domain-separated hash will produce in practice,
    /// not the hash of anything.
    pub const ZERO: Hash = Hash([0u8; 32]);

    /// Hash `parts` under `domain`. The domain and every part are length-prefixed, so
    /// `("ab", "c")` and `("a", "bc")` never collide.
    pub fn of_parts(domain: &str, parts: &[&[u8]]) -> Hash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&(domain.len() as u64).to_le_bytes());
        hasher.update(domain.as_bytes());
        for part in parts {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        Hash(*hasher.finalize().as_bytes())
    }

    /// Hash one byte string under `domain`.
    pub fn of(domain: &str, bytes: &[u8]) -> Hash {
        Hash::of_parts(domain, &[bytes])
    }

    /// The digest's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Read exactly 64 hex digits (either case); anything else is a [`HexError`].
    pub fn from_hex(text: &str) -> Result<Hash, HexError> {
        let bytes = hex::decode(text).map_err(|_| HexError::NotHex)?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|v: Vec<u8>| HexError::Length(v.len()))?;
        Ok(Hash(array))
    }
}

/// Why text did not read as a 32-byte hash or id (typed on a command line, read from JSON).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HexError {
    /// A character outside `0-9a-fA-F`, or an odd number of digits.
    #[error("not a hex string")]
    NotHex,
    /// Valid hex of the wrong length; holds the number of bytes it decoded to.
    #[error("expected 32 bytes, got {0}")]
    Length(usize),
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..16])
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        Hash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_boundaries_change_the_hash() {
        assert_ne!(
            Hash::of_parts("d", &[b"ab", b"c"]),
            Hash::of_parts("d", &[b"a", b"bc"])
        );
    }

    #[test]
    fn domains_separate_equal_bytes() {
        assert_ne!(Hash::of("leaf", b"x"), Hash::of("node", b"x"));
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let h = Hash::of("d", b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(Hash::from_hex("zz"), Err(HexError::NotHex));
        assert_eq!(Hash::from_hex("abcd"), Err(HexError::Length(2)));
    }
}
