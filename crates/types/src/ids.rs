//! Identifiers and counters: heights, epochs, accounts, operators, models and jobs.
//!
//! The counters ([`Height`], [`Epoch`]) are plain `u64` newtypes ordered as numbers; the
//! identifiers are 32-byte names ([`AccountId`], [`OperatorId`], [`ModelId`], [`JobId`]) that
//! print as lower-case hex behind a prefix saying what they name (`acc_`, `op_`, `model_`,
//! `job_`), so an operator id pasted where a model id belongs reads as wrong at a glance. This
//! module owns no state and knows nothing of how ids are allocated: that is the ledger's.

use crate::crypto::VerificationKey;
use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! counter {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
            BorshSerialize, BorshDeserialize, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The one after this. Panics on overflow: counting up one at a time from zero
            /// cannot reach `u64::MAX`, so reaching it is a bug, not bad input.
            pub fn next(self) -> $name {
                $name(self.0.checked_add(1).expect(concat!(stringify!($name), " counter overflow")))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

counter!(
    /// Block height, counted in blocks: genesis is height 0 and the first block is height 1.
    /// Deadlines and windows measured in blocks are heights.
    Height
);
counter!(
    /// Epoch number, counted in epochs from 0: a fixed run of `epoch_blocks` blocks (a ledger
    /// parameter), after which the validator set is recomputed, unbondings mature and delayed
    /// slashes apply. Heights `1..=epoch_blocks` are epoch 0.
    Epoch
);

macro_rules! key_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
        )]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The 32 bytes as 64 lower-case hex digits, without the prefix.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            #[doc = concat!(
                "Read 64 hex digits, with or without the `", $prefix, "` prefix that ",
                "`Display` writes; anything else is a [`HexError`](crate::hash::HexError).",
            )]
            pub fn from_hex(text: &str) -> Result<$name, crate::hash::HexError> {
                Hash::from_hex(text.strip_prefix($prefix).unwrap_or(text)).map(|h| $name(h.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, &self.to_hex()[..12])
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_string())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as Deserialize>::deserialize(deserializer)?;
                $name::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

key_id!(
    /// An account, named by the 32 bytes of its ed25519 verification key, so a signature can be
    /// checked without a lookup. The bytes are not checked to be a curve point until
    /// [`AccountId::verification_key`] is called.
    AccountId,
    "acc_"
);
key_id!(
    /// An operator: it bonds stake, takes delegations and serves models, and the top operators
    /// by stake validate. Named by the bytes of the account that registered it, so one account
    /// is at most one operator.
    OperatorId,
    "op_"
);
key_id!(
    /// A registered model, named by the hash of its manifest (name, engine version,
    /// architecture, weights root, tensor count, tokenizer), so equal ids mean equal models.
    ModelId,
    "model_"
);
key_id!(
    /// An inference job, named by a hash of the transaction that submitted it, so two
    /// submissions never share an id.
    JobId,
    "job_"
);

impl AccountId {
    /// The account a verification key controls.
    pub fn from_key(key: &VerificationKey) -> AccountId {
        AccountId(key.to_bytes())
    }

    /// The key these bytes name; a [`CryptoError`](crate::crypto::CryptoError) when they are
    /// not a valid ed25519 point (an id read from outside was never checked).
    pub fn verification_key(&self) -> Result<VerificationKey, crate::crypto::CryptoError> {
        VerificationKey::from_bytes(self.0)
    }
}

impl OperatorId {
    /// The account that registered this operator and signs for it.
    pub fn account(&self) -> AccountId {
        AccountId(self.0)
    }
}

impl From<AccountId> for OperatorId {
    fn from(account: AccountId) -> OperatorId {
        OperatorId(account.0)
    }
}

impl From<Hash> for ModelId {
    fn from(hash: Hash) -> ModelId {
        ModelId(hash.0)
    }
}

impl From<Hash> for JobId {
    fn from(hash: Hash) -> JobId {
        JobId(hash.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_with_their_prefix() {
        let id = AccountId([7u8; 32]);
        let text = id.to_string();
        assert!(text.starts_with("acc_"));
        assert_eq!(AccountId::from_hex(&text).unwrap(), id);
        let json = serde_json::to_string(&OperatorId([1u8; 32])).unwrap();
        assert_eq!(
            serde_json::from_str::<OperatorId>(&json).unwrap(),
            OperatorId([1u8; 32])
        );
    }
}
