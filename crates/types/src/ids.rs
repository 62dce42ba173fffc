//! Identifiers and counters: heights, epochs, accounts, operators, models and jobs.
//!
//! The counters ([`Height`], [`Epoch`]) are plain `u64` newtypes ordered as numbers; the
//! identifiers are 32-byte names ([`AccountId`], [`OperatorId`], [`ModelId`], [`JobId`]) that
//! print as lower-case hex behind a prefix saying what they name (`acc_`, `op_`, `model_`,
//! `job_`), so an operator id pasted where a model id belongs reads as wrong at a glance. This
//! module owns no state and knows nothing of how ids are allocated: that is the ledger's.
//!
//! Arithmetic on heights and epochs goes through their checked methods ([`Height::plus`],
//! [`Height::minus`], [`Height::blocks_since`], [`Epoch::plus`], [`Epoch::epochs_since`] and
//! their saturating forms), which report an [`ArithmeticError`] instead of wrapping. The inner
//! `u64` is private: a counter is built with `new` and read with `get`, so a caller cannot
//! compute on the raw number by accident.

use crate::amount::ArithmeticError;
use crate::crypto::VerificationKey;
use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! counter {
    ($(#[$meta:meta])* $name:ident, $unit:ident, $since:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
            BorshSerialize, BorshDeserialize, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(u64);

        impl $name {
            #[doc = concat!("The ", stringify!($name), " numbered `value`.")]
            pub const fn new(value: u64) -> $name {
                $name(value)
            }

            #[doc = concat!(
                "The number of this ", stringify!($name), ", for encoding, display and ",
                "indexing; arithmetic goes through the checked methods instead.",
            )]
            pub const fn get(self) -> u64 {
                self.0
            }

            /// The one after this, for the chain's own counters (the next block, the next
            /// epoch). Panics on overflow: counting one at a time from 0 never gets there, so
            /// reaching it is a bug, not bad input; a count from outside goes through
            /// [`Self::plus`].
            pub fn next(self) -> $name {
                $name(self.0.checked_add(1).expect(concat!(stringify!($name), " counter overflow")))
            }

            #[doc = concat!(
                "`self` plus `", stringify!($unit), "`, or [`ArithmeticError::Overflow`] past ",
                "`u64::MAX`. The count of ", stringify!($unit), " usually comes from parameters ",
                "or transactions, so the overflow is an error for the caller to refuse, not a ",
                "panic.",
            )]
            pub fn plus(self, $unit: u64) -> Result<$name, ArithmeticError> {
                self.0.checked_add($unit).map($name).ok_or(ArithmeticError::Overflow)
            }

            #[doc = concat!(
                "`self` plus `", stringify!($unit), "`, stopping at `u64::MAX`: only where a ",
                "bound that far off means \"never\" anyway.",
            )]
            pub fn saturating_plus(self, $unit: u64) -> $name {
                $name(self.0.saturating_add($unit))
            }

            #[doc = concat!(
                "`self` minus `", stringify!($unit), "`, or [`ArithmeticError::Underflow`] ",
                "below 0.",
            )]
            pub fn minus(self, $unit: u64) -> Result<$name, ArithmeticError> {
                self.0.checked_sub($unit).map($name).ok_or(ArithmeticError::Underflow)
            }

            #[doc = concat!(
                "`self` minus `", stringify!($unit), "`, stopping at 0 (so the one before 0 ",
                "is 0).",
            )]
            pub fn saturating_minus(self, $unit: u64) -> $name {
                $name(self.0.saturating_sub($unit))
            }

            #[doc = concat!(
                "How many ", stringify!($unit), " have passed from `earlier` to this one, or ",
                "[`ArithmeticError::Underflow`] when `earlier` is in fact later.",
            )]
            pub fn $since(self, earlier: $name) -> Result<u64, ArithmeticError> {
                self.0.checked_sub(earlier.0).ok_or(ArithmeticError::Underflow)
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
    Height,
    blocks,
    blocks_since
);
counter!(
    /// Epoch number, counted in epochs from 0: a fixed run of `epoch_blocks` blocks (a ledger
    /// parameter), after which the validator set is recomputed, unbondings mature and delayed
    /// slashes apply. Heights `1..=epoch_blocks` are epoch 0.
    Epoch,
    epochs,
    epochs_since
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
    use proptest::prelude::*;

    #[test]
    fn a_height_plus_blocks_is_that_many_blocks_later() {
        assert_eq!(Height(10).plus(5), Ok(Height(15)));
        assert_eq!(Height(10).plus(0), Ok(Height(10)));
        assert_eq!(Height(15).blocks_since(Height(10)), Ok(5));
    }

    #[test]
    fn a_deadline_past_the_last_height_is_an_overflow_error() {
        assert_eq!(Height(u64::MAX).plus(1), Err(ArithmeticError::Overflow));
        assert_eq!(Height(u64::MAX - 4).plus(5), Err(ArithmeticError::Overflow));
        assert_eq!(Height(u64::MAX - 4).plus(4), Ok(Height(u64::MAX)));
    }

    #[test]
    fn a_saturating_deadline_stops_at_the_last_height() {
        assert_eq!(Height(u64::MAX - 1).saturating_plus(10), Height(u64::MAX));
        assert_eq!(Height(7).saturating_plus(3), Height(10));
    }

    #[test]
    fn going_back_past_genesis_is_an_underflow_error() {
        assert_eq!(Height(3).minus(3), Ok(Height(0)));
        assert_eq!(Height(3).minus(4), Err(ArithmeticError::Underflow));
    }

    #[test]
    fn the_height_before_genesis_is_genesis_when_saturating() {
        assert_eq!(Height(0).saturating_minus(1), Height(0));
        assert_eq!(Height(8).saturating_minus(1), Height(7));
    }

    #[test]
    fn blocks_since_a_later_height_is_an_underflow_error() {
        assert_eq!(
            Height(4).blocks_since(Height(5)),
            Err(ArithmeticError::Underflow)
        );
        assert_eq!(Height(5).blocks_since(Height(5)), Ok(0));
    }

    #[test]
    fn epochs_add_and_subtract_with_the_same_checks() {
        assert_eq!(Epoch(2).plus(3), Ok(Epoch(5)));
        assert_eq!(Epoch(u64::MAX).plus(1), Err(ArithmeticError::Overflow));
        assert_eq!(Epoch(u64::MAX).saturating_plus(1), Epoch(u64::MAX));
        assert_eq!(Epoch(2).minus(3), Err(ArithmeticError::Underflow));
        assert_eq!(Epoch(0).saturating_minus(3), Epoch(0));
        assert_eq!(Epoch(5).epochs_since(Epoch(2)), Ok(3));
        assert_eq!(
            Epoch(2).epochs_since(Epoch(5)),
            Err(ArithmeticError::Underflow)
        );
    }

    /// Any u64, with the values next to 0 and `u64::MAX` drawn far more often than uniform
    /// sampling would, since that is where overflow and underflow live.
    fn count() -> impl Strategy<Value = u64> {
        prop_oneof![any::<u64>(), 0u64..=3, (u64::MAX - 3)..=u64::MAX]
    }

    proptest! {
        #[test]
        fn height_plus_is_exact_or_an_overflow(start in count(), blocks in count()) {
            let exact = u128::from(start) + u128::from(blocks);
            match Height(start).plus(blocks) {
                Ok(later) => prop_assert_eq!(u128::from(later.0), exact),
                Err(error) => {
                    prop_assert_eq!(error, ArithmeticError::Overflow);
                    prop_assert!(exact > u128::from(u64::MAX));
                }
            }
            let saturated = Height(start).saturating_plus(blocks);
            prop_assert_eq!(u128::from(saturated.0), exact.min(u128::from(u64::MAX)));
        }

        #[test]
        fn height_minus_is_exact_or_an_underflow(start in count(), blocks in count()) {
            match Height(start).minus(blocks) {
                Ok(earlier) => prop_assert_eq!(earlier.0, start - blocks),
                Err(error) => {
                    prop_assert_eq!(error, ArithmeticError::Underflow);
                    prop_assert!(blocks > start);
                }
            }
            let saturated = Height(start).saturating_minus(blocks);
            prop_assert_eq!(saturated.0, start.saturating_sub(blocks));
        }

        #[test]
        fn blocks_since_undoes_plus(start in count(), blocks in count()) {
            if let Ok(later) = Height(start).plus(blocks) {
                prop_assert_eq!(later.blocks_since(Height(start)), Ok(blocks));
                prop_assert_eq!(later.minus(blocks), Ok(Height(start)));
                prop_assert!(later >= Height(start));
            }
        }

        #[test]
        fn blocks_since_is_defined_exactly_when_earlier_is_not_later(
            first in count(),
            second in count(),
        ) {
            let since = Height(first).blocks_since(Height(second));
            prop_assert_eq!(since.is_ok(), Height(second) <= Height(first));
            if let Ok(blocks) = since {
                prop_assert_eq!(Height(second).plus(blocks), Ok(Height(first)));
            }
        }

        #[test]
        fn epoch_arithmetic_is_exact_or_an_error(start in count(), epochs in count()) {
            prop_assert_eq!(
                Epoch(start).plus(epochs),
                start.checked_add(epochs).map(Epoch).ok_or(ArithmeticError::Overflow)
            );
            prop_assert_eq!(
                Epoch(start).minus(epochs),
                start.checked_sub(epochs).map(Epoch).ok_or(ArithmeticError::Underflow)
            );
            prop_assert_eq!(Epoch(start).saturating_plus(epochs), Epoch(start.saturating_add(epochs)));
            prop_assert_eq!(Epoch(start).saturating_minus(epochs), Epoch(start.saturating_sub(epochs)));
            if let Ok(later) = Epoch(start).plus(epochs) {
                prop_assert_eq!(later.epochs_since(Epoch(start)), Ok(epochs));
            }
        }
    }

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
