//! Surety's shared vocabulary: identifiers, amounts, hashes, keys and signatures, the canonical
//! byte encoding of everything that is signed or hashed, and binary Merkle trees with inclusion
//! proofs (DESIGN §2, §7 "Crypto").
//!
//! This crate does no IO, reads no clock and holds no state. Every type that crosses a trust
//! boundary decodes through [`encoding::decode_bounded`], which refuses oversized or trailing
//! input with a typed error instead of panicking.

#![deny(missing_docs)]

pub mod amount;
pub mod crypto;
pub mod encoding;
pub mod hash;
pub mod ids;
pub mod merkle;
pub mod result;
pub mod tx;
pub mod vote;
pub mod vrf;

pub use amount::{Amount, ArithmeticError, Ratio, Shares};
pub use crypto::{Signature, SigningKey, VerificationKey};
pub use hash::Hash;
pub use ids::{AccountId, Epoch, Height, JobId, ModelId, OperatorId};
pub use vrf::{VrfError, VrfOutput, VrfProof};
