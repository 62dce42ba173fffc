//! Token amounts, pool shares and fixed-point ratios. All arithmetic is checked: an overflow or
//! underflow is an [`ArithmeticError`], never a wrap or a panic.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a checked operation on amounts, shares, ratios, heights or epochs has no result. It
/// is an error value rather than a panic because the operands usually come from transactions
/// and parameters: the ledger refuses the transaction and keeps going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ArithmeticError {
    /// The result is above the type's maximum (`u128::MAX` units, `u64::MAX` blocks).
    #[error("arithmetic overflow")]
    Overflow,
    /// The result would be below zero: all these quantities are unsigned.
    #[error("arithmetic underflow (would go negative)")]
    Underflow,
    /// A ratio or `mul_div` with a zero denominator.
    #[error("division by zero")]
    DivisionByZero,
}

macro_rules! quantity {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
            BorshSerialize, BorshDeserialize,
        )]
        pub struct $name(u128);

        /// Serialised as a decimal string (JSON numbers lose precision above 2^53, TOML has no
        /// u128); read from a string or a non-negative integer.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(QuantityVisitor).map($name)
            }
        }

        impl $name {
            #[doc = concat!("`units` base units of ", stringify!($name), ".")]
            pub const fn new(units: u128) -> $name {
                $name(units)
            }

            /// The number of base units, for encoding, display and the u128 maths of
            /// [`mul_div_floor`] and friends; arithmetic on quantities goes through the checked
            /// methods instead.
            pub const fn get(self) -> u128 {
                self.0
            }

            /// Nothing: the default, and what an empty balance or pool holds.
            pub const ZERO: $name = $name(0);
            /// The largest representable quantity, `u128::MAX` units; any sum beyond it is an
            /// [`ArithmeticError::Overflow`].
            pub const MAX: $name = $name(u128::MAX);

            /// True for [`Self::ZERO`].
            pub fn is_zero(self) -> bool {
                self.0 == 0
            }

            /// `self + other`, or [`ArithmeticError::Overflow`] above [`Self::MAX`].
            pub fn checked_add(self, other: $name) -> Result<$name, ArithmeticError> {
                self.0.checked_add(other.0).map($name).ok_or(ArithmeticError::Overflow)
            }

            /// `self - other`, or [`ArithmeticError::Underflow`] when `other` is larger: a
            /// balance cannot be spent below zero.
            pub fn checked_sub(self, other: $name) -> Result<$name, ArithmeticError> {
                self.0.checked_sub(other.0).map($name).ok_or(ArithmeticError::Underflow)
            }

            /// `self + other`, stopping at [`Self::MAX`]: only for totals that bound a check
            /// (what a sender has queued, say), never for moving tokens.
            pub fn saturating_add(self, other: $name) -> $name {
                $name(self.0.saturating_add(other.0))
            }

            /// `self × factor`, or [`ArithmeticError::Overflow`] above [`Self::MAX`]: a price
            /// per unit times a count of units.
            pub fn checked_mul(self, factor: u128) -> Result<$name, ArithmeticError> {
                self.0.checked_mul(factor).map($name).ok_or(ArithmeticError::Overflow)
            }

            /// `self ÷ divisor`, rounded down (the remainder stays with whoever holds `self`),
            /// or [`ArithmeticError::DivisionByZero`].
            pub fn checked_div(self, divisor: u128) -> Result<$name, ArithmeticError> {
                self.0.checked_div(divisor).map($name).ok_or(ArithmeticError::DivisionByZero)
            }

            /// `self - other`, or zero when `other` is larger. For what remains of a quantity
            /// (an allocation less what is leaving it), never for spending: spending uses
            /// [`Self::checked_sub`], so that an overdraft is an error rather than a free zero.
            pub fn saturating_sub(self, other: $name) -> $name {
                $name(self.0.saturating_sub(other.0))
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

quantity!(
    /// A number of base token units (the smallest indivisible unit).
    Amount
);
quantity!(
    /// A claim on an operator's stake pool. Tokens per share fall when the pool is slashed,
    /// which is what makes a slash O(1) in the number of delegators.
    Shares
);

struct QuantityVisitor;

impl<'de> serde::de::Visitor<'de> for QuantityVisitor {
    type Value = u128;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer or a decimal string")
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<u128, E> {
        Ok(value as u128)
    }

    fn visit_u128<E: serde::de::Error>(self, value: u128) -> Result<u128, E> {
        Ok(value)
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<u128, E> {
        u128::try_from(value).map_err(|_| E::custom("amount must not be negative"))
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<u128, E> {
        value
            .parse::<u128>()
            .map_err(|_| E::custom(format!("{value:?} is not a non-negative integer")))
    }
}

/// `a * b / c` rounded down, with a 256-bit intermediate so it never overflows early: only a
/// quotient above `u128::MAX` is an [`ArithmeticError::Overflow`], and `c == 0` is
/// [`ArithmeticError::DivisionByZero`]. Rounding down favours whoever holds the remainder
/// (the pool, when converting tokens to shares).
pub fn mul_div_floor(a: u128, b: u128, c: u128) -> Result<u128, ArithmeticError> {
    if c == 0 {
        return Err(ArithmeticError::DivisionByZero);
    }
    let product = ethnum_like::mul(a, b);
    ethnum_like::div(product, c)
}

/// `a * b / c` rounded up, with the same 256-bit intermediate and errors as [`mul_div_floor`].
/// Used where a credit must cover every claim on it.
pub fn mul_div_ceil(a: u128, b: u128, c: u128) -> Result<u128, ArithmeticError> {
    if c == 0 {
        return Err(ArithmeticError::DivisionByZero);
    }
    let product = ethnum_like::mul(a, b);
    let floor = ethnum_like::div(product, c)?;
    let back = ethnum_like::mul(floor, c);
    if back == product {
        Ok(floor)
    } else {
        floor.checked_add(1).ok_or(ArithmeticError::Overflow)
    }
}

/// Minimal 256-bit helpers for `mul_div`: a product as (high, low) u128 halves, and its
/// division by a u128 that must fit back into u128.
mod ethnum_like {
    use super::ArithmeticError;

    pub(super) fn mul(a: u128, b: u128) -> (u128, u128) {
        let mask = u64::MAX as u128;
        let (a_hi, a_lo) = (a >> 64, a & mask);
        let (b_hi, b_lo) = (b >> 64, b & mask);
        let lo_lo = a_lo * b_lo;
        let hi_lo = a_hi * b_lo;
        let lo_hi = a_lo * b_hi;
        let hi_hi = a_hi * b_hi;
        let middle = (lo_lo >> 64) + (hi_lo & mask) + (lo_hi & mask);
        let low = (middle << 64) | (lo_lo & mask);
        let high = hi_hi + (hi_lo >> 64) + (lo_hi >> 64) + (middle >> 64);
        (high, low)
    }

    pub(super) fn div((high, low): (u128, u128), divisor: u128) -> Result<u128, ArithmeticError> {
        if high == 0 {
            return Ok(low / divisor);
        }
        if high >= divisor {
            return Err(ArithmeticError::Overflow);
        }
        // Restoring long division, one bit at a time; the quotient fits in 128 bits because
        // high < divisor.
        let mut remainder = high;
        let mut quotient = 0u128;
        for bit in (0..128).rev() {
            let carry = remainder >> 127;
            remainder = (remainder << 1) | ((low >> bit) & 1);
            quotient <<= 1;
            if carry == 1 || remainder >= divisor {
                remainder = remainder.wrapping_sub(divisor);
                quotient |= 1;
            }
        }
        Ok(quotient)
    }
}

/// A fraction in parts per billion, `0 ..= 1_000_000_000` (1.0). Used for commission rates,
/// slash fractions and reward splits.
#[derive(
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(try_from = "u64", into = "u64")]
pub struct Ratio(u64);

impl Ratio {
    /// Parts per whole: a ratio is stored as `ppb / DENOMINATOR`, so its resolution is 1e-9.
    pub const DENOMINATOR: u64 = 1_000_000_000;
    /// Nothing (0 ppb): no commission, no slash.
    pub const ZERO: Ratio = Ratio(0);
    /// The whole (1e9 ppb), the largest ratio there is: a ratio never takes more than all.
    pub const ONE: Ratio = Ratio(Ratio::DENOMINATOR);

    /// A ratio of `parts_per_billion / 1e9`; `None` above 1.
    pub const fn from_ppb(parts_per_billion: u64) -> Option<Ratio> {
        if parts_per_billion <= Ratio::DENOMINATOR {
            Some(Ratio(parts_per_billion))
        } else {
            None
        }
    }

    /// `percent` / 100; `None` above 100.
    pub const fn from_percent(percent: u64) -> Option<Ratio> {
        if percent <= 100 {
            Some(Ratio(percent * 10_000_000))
        } else {
            None
        }
    }

    /// The stored numerator, in parts per billion (`0..=1_000_000_000`).
    pub const fn ppb(self) -> u64 {
        self.0
    }

    /// `amount * self`, rounded down.
    pub fn mul_floor(self, amount: Amount) -> Amount {
        // amount * ppb / 1e9 <= amount, so it cannot overflow.
        Amount(
            mul_div_floor(amount.0, self.0 as u128, Ratio::DENOMINATOR as u128)
                .expect("ratio <= 1 keeps the product within the amount"),
        )
    }

    /// `amount * self`, rounded up.
    pub fn mul_ceil(self, amount: Amount) -> Amount {
        Amount(
            mul_div_ceil(amount.0, self.0 as u128, Ratio::DENOMINATOR as u128)
                .expect("ratio <= 1 keeps the product within the amount"),
        )
    }

    /// `numerator / denominator`, rounded down; 1 if numerator >= denominator.
    pub fn from_fraction(numerator: u128, denominator: u128) -> Result<Ratio, ArithmeticError> {
        if numerator >= denominator {
            return if denominator == 0 {
                Err(ArithmeticError::DivisionByZero)
            } else {
                Ok(Ratio::ONE)
            };
        }
        let ppb = mul_div_floor(numerator, Ratio::DENOMINATOR as u128, denominator)?;
        Ok(Ratio(ppb as u64))
    }

    /// The larger of two ratios.
    pub fn max(self, other: Ratio) -> Ratio {
        Ratio(self.0.max(other.0))
    }

    /// The smaller of two ratios.
    pub fn min(self, other: Ratio) -> Ratio {
        Ratio(self.0.min(other.0))
    }

    /// `self - other`, or zero when `other` is larger (what is left of a fraction once
    /// another has been taken). Cannot leave the `0..=1` range.
    pub fn saturating_sub(self, other: Ratio) -> Ratio {
        Ratio(self.0.saturating_sub(other.0))
    }

    /// `|self - other|`: how far apart two ratios are, whichever is larger.
    pub fn abs_diff(self, other: Ratio) -> Ratio {
        Ratio(self.0.abs_diff(other.0))
    }
}

impl TryFrom<u64> for Ratio {
    type Error = String;
    fn try_from(parts_per_billion: u64) -> Result<Ratio, String> {
        Ratio::from_ppb(parts_per_billion)
            .ok_or_else(|| format!("ratio {parts_per_billion} ppb is above 1 (1000000000 ppb)"))
    }
}

impl From<Ratio> for u64 {
    fn from(ratio: Ratio) -> u64 {
        ratio.0
    }
}

impl fmt::Debug for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ratio({}/1e9)", self.0)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}",
            self.0 / Ratio::DENOMINATOR,
            self.0 % Ratio::DENOMINATOR
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_refuse_to_go_negative() {
        assert_eq!(
            Amount(1).checked_sub(Amount(2)),
            Err(ArithmeticError::Underflow)
        );
        assert_eq!(
            Amount::MAX.checked_add(Amount(1)),
            Err(ArithmeticError::Overflow)
        );
    }

    #[test]
    fn amounts_serialise_as_strings_and_read_numbers_too() {
        assert_eq!(
            serde_json::to_string(&Amount(u128::MAX)).unwrap(),
            format!("\"{}\"", u128::MAX)
        );
        assert_eq!(
            serde_json::from_str::<Amount>("\"12\"").unwrap(),
            Amount(12)
        );
        assert_eq!(serde_json::from_str::<Amount>("12").unwrap(), Amount(12));
        assert!(serde_json::from_str::<Amount>("-1").is_err());
        assert!(serde_json::from_str::<Amount>("\"1e3\"").is_err());
    }

    #[test]
    fn ratios_above_one_are_rejected() {
        assert!(Ratio::from_ppb(1_000_000_001).is_none());
        assert!(serde_json::from_str::<Ratio>("1000000001").is_err());
        assert_eq!(
            serde_json::from_str::<Ratio>("500000000").unwrap(),
            Ratio::from_percent(50).unwrap()
        );
    }

    #[test]
    fn mul_div_handles_products_beyond_u128() {
        let big = u128::MAX / 3;
        assert_eq!(mul_div_floor(big, 6, 3), Ok(big * 2));
        assert_eq!(
            mul_div_floor(u128::MAX, u128::MAX, u128::MAX),
            Ok(u128::MAX)
        );
        assert_eq!(
            mul_div_floor(u128::MAX, 2, 1),
            Err(ArithmeticError::Overflow)
        );
        assert_eq!(mul_div_ceil(7, 1, 2), Ok(4));
        assert_eq!(mul_div_floor(1, 1, 0), Err(ArithmeticError::DivisionByZero));
    }

    /// Any u128, with the values next to the edges (0, `u128::MAX`) drawn far more often than
    /// uniform sampling would, since that is where overflow and underflow live.
    fn quantity() -> impl Strategy<Value = u128> {
        prop_oneof![any::<u128>(), 0u128..=3, (u128::MAX - 3)..=u128::MAX]
    }

    proptest! {
        #[test]
        fn mul_div_matches_exact_arithmetic(a in any::<u64>(), b in any::<u64>(), c in 1u64..) {
            let exact = (a as u128) * (b as u128);
            prop_assert_eq!(mul_div_floor(a as u128, b as u128, c as u128), Ok(exact / c as u128));
            let ceil = exact.div_ceil(c as u128);
            prop_assert_eq!(mul_div_ceil(a as u128, b as u128, c as u128), Ok(ceil));
        }

        #[test]
        fn mul_div_wide_agrees_with_split_computation(a in any::<u128>(), b in any::<u32>(), c in 1u128..) {
            // a * b / c computed as (a / c) * b + (a % c) * b / c, when that fits in u128.
            let whole = (a / c).checked_mul(b as u128);
            let part = (a % c).checked_mul(b as u128).map(|p| p / c);
            if let (Some(whole), Some(part)) = (whole, part) {
                if let Some(expected) = whole.checked_add(part) {
                    // The split form can lose a carry from the fractional parts; check bounds.
                    let got = mul_div_floor(a, b as u128, c).unwrap();
                    prop_assert!(got >= expected && got <= expected + b as u128);
                }
            }
        }

        #[test]
        fn amount_sums_are_exact_or_an_overflow(a in quantity(), b in quantity()) {
            let sum = Amount(a).checked_add(Amount(b));
            prop_assert_eq!(sum, a.checked_add(b).map(Amount).ok_or(ArithmeticError::Overflow));
            prop_assert_eq!(sum, Amount(b).checked_add(Amount(a)), "addition commutes");
            if let Ok(total) = sum {
                prop_assert_eq!(total.checked_sub(Amount(b)), Ok(Amount(a)));
            }
        }

        #[test]
        fn amount_differences_are_exact_or_an_underflow(a in quantity(), b in quantity()) {
            let difference = Amount(a).checked_sub(Amount(b));
            prop_assert_eq!(difference.is_err(), b > a);
            prop_assert_eq!(
                difference,
                a.checked_sub(b).map(Amount).ok_or(ArithmeticError::Underflow)
            );
            prop_assert_eq!(Amount(a).saturating_sub(Amount(b)), difference.unwrap_or(Amount::ZERO));
            prop_assert_eq!(
                Amount(a).saturating_add(Amount(b)),
                Amount(a).checked_add(Amount(b)).unwrap_or(Amount::MAX)
            );
        }

        #[test]
        fn amount_products_and_quotients_are_exact_or_an_error(a in quantity(), b in quantity()) {
            prop_assert_eq!(
                Amount(a).checked_mul(b),
                a.checked_mul(b).map(Amount).ok_or(ArithmeticError::Overflow)
            );
            prop_assert_eq!(
                Amount(a).checked_div(b),
                a.checked_div(b).map(Amount).ok_or(ArithmeticError::DivisionByZero)
            );
        }

        #[test]
        fn shares_follow_the_same_checked_rules(a in quantity(), b in quantity()) {
            prop_assert_eq!(
                Shares(a).checked_add(Shares(b)),
                a.checked_add(b).map(Shares).ok_or(ArithmeticError::Overflow)
            );
            prop_assert_eq!(
                Shares(a).checked_sub(Shares(b)),
                a.checked_sub(b).map(Shares).ok_or(ArithmeticError::Underflow)
            );
            prop_assert_eq!(Shares(a).saturating_sub(Shares(b)), Shares(a.saturating_sub(b)));
        }

        #[test]
        fn ratio_products_never_exceed_the_amount(amount in any::<u128>(), ppb in 0u64..=1_000_000_000) {
            let ratio = Ratio::from_ppb(ppb).unwrap();
            let floor = ratio.mul_floor(Amount(amount));
            let ceil = ratio.mul_ceil(Amount(amount));
            prop_assert!(floor <= ceil && ceil <= Amount(amount));
            prop_assert!(ceil.0 - floor.0 <= 1);
        }
    }
}
