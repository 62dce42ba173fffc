//! Canonical encoding: borsh, which has exactly one byte string per value, so what is signed or
//! hashed on one machine is bit-identical on every other. Decoding from untrusted bytes always
//! goes through [`decode_bounded`].

use borsh::{BorshDeserialize, BorshSerialize};

/// Why untrusted bytes did not decode. Bytes from the network are expected to be wrong
/// sometimes, so this is an error to refuse them with, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is longer than the caller's limit; it was refused before any decoding.
    #[error("input is {actual} bytes, the limit is {limit} bytes")]
    TooLarge {
        /// Length of the input, in bytes.
        actual: usize,
        /// The most the caller accepts, in bytes.
        limit: usize,
    },
    /// The bytes are not the canonical encoding of the expected type: truncated, trailing
    /// bytes, a bad enum tag or an invalid value (such as a key that is not a curve point).
    /// Holds borsh's description.
    #[error("malformed encoding: {0}")]
    Malformed(String),
}

/// The canonical bytes of `value`.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("borsh encoding into a Vec cannot fail")
}

/// Decode `bytes` as a `T`, refusing input longer than `limit` bytes and any trailing bytes.
/// Borsh caps up-front allocation for length-prefixed collections, and the byte limit bounds
/// how much any collection can hold, so hostile length prefixes cannot exhaust memory.
pub fn decode_bounded<T: BorshDeserialize>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            actual: bytes.len(),
            limit,
        });
    }
    borsh::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Serde helper for bytes shown as hex in JSON: `#[serde(with = "surety_types::encoding::hex_bytes")]`.
/// Hex keeps large inputs and outputs readable and compact in JSON, where a `Vec<u8>` would
/// otherwise be an array of numbers. It affects serde only; borsh still writes raw bytes.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write `bytes` as a lower-case hex string.
    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    /// Read a hex string back into bytes; anything that is not hex is an error.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&7u32);
        bytes.push(0);
        assert!(matches!(
            decode_bounded::<u32>(&bytes, 100),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn oversized_input_is_rejected_before_decoding() {
        let bytes = encode(&vec![0u8; 50]);
        assert_eq!(
            decode_bounded::<Vec<u8>>(&bytes, 10),
            Err(DecodeError::TooLarge {
                actual: 54,
                limit: 10
            })
        );
    }

    #[test]
    fn a_hostile_length_prefix_is_an_error_not_an_allocation() {
        // Claims 4 billion elements, supplies none.
        let bytes = [0xff, 0xff, 0xff, 0xff];
        assert!(decode_bounded::<Vec<u64>>(&bytes, 100).is_err());
    }
}
