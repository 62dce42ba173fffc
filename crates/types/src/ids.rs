//! Identifiers and counters: heights, epochs, accounts, operators, models and jobs.

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
    /// Block height; the first block is height 1, genesis is height 0.
    Height
);
counter!(
    /// Epoch number: a fixed run of blocks after which the validator set is recomputed,
    /// unbondings mature and delayed slashes apply.
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
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

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
    /// An account is named by its ed25519 verification key, so a signature can be checked
    /// without a lookup.
    AccountId,
    "acc_"
);
key_id!(
    /// An operator is named by the account that registered it.
    OperatorId,
    "op_"
);
key_id!(
    /// `H(manifest)` of a registered model.
    ModelId,
    "model_"
);
key_id!(
    /// Identifier of an inference job.
    JobId,
    "job_"
);

impl AccountId {
    pub fn from_key(key: &VerificationKey) -> AccountId {
        AccountId(key.to_bytes())
    }

    pub fn verification_key(&self) -> Result<VerificationKey, crate::crypto::CryptoError> {
        VerificationKey::from_bytes(self.0)
    }
}

impl OperatorId {
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
