//! Signed transactions. A transaction names its chain, its signer, the signer's next nonce and
//! the fee it pays; the message type `M` belongs to the ledger. The signature covers the
//! canonical encoding of everything but itself, under a domain tag, so a transaction cannot be
//! replayed on another chain, at another nonce, or passed off as another kind of signed thing.

use crate::amount::Amount;
use crate::crypto::{CryptoError, Signature, SigningKey};
use crate::encoding::encode;
use crate::hash::Hash;
use crate::ids::AccountId;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

const TX_SIGN_DOMAIN: &str = "surety.tx.v1";
const TX_HASH_DOMAIN: &str = "surety.tx-hash.v1";

/// What the signer signs: everything about a transaction except the signature.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Tx<M> {
    /// The chain the transaction is for; the ledger refuses any other, so it cannot be
    /// replayed on a second network.
    pub chain_id: String,
    /// The paying and authorising account, whose key must have made the signature.
    pub signer: AccountId,
    /// Must equal the signer's account nonce; it then increases by one. A replayed or
    /// reordered transaction is rejected.
    pub nonce: u64,
    /// Base units paid by the signer whether the message succeeds or fails; at least the
    /// ledger's minimum fee.
    pub fee: Amount,
    /// What the transaction does; the ledger defines the message type.
    pub msg: M,
}

/// A transaction with its signature, as it travels and is stored in blocks.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedTx<M> {
    /// The signed content.
    pub tx: Tx<M>,
    /// The signer's signature over [`Tx::sign_bytes`].
    pub signature: Signature,
}

impl<M: BorshSerialize> Tx<M> {
    /// The exact bytes the signature covers.
    pub fn sign_bytes(&self) -> Vec<u8> {
        let mut bytes = TX_SIGN_DOMAIN.as_bytes().to_vec();
        bytes.extend_from_slice(&encode(self));
        bytes
    }

    /// Sign with `key`, which must be the signer's (checked in debug builds only: a wrong
    /// key yields a transaction that fails verification, not a bad state).
    pub fn sign(self, key: &SigningKey) -> SignedTx<M> {
        debug_assert_eq!(AccountId::from_key(&key.verification_key()), self.signer);
        let signature = key.sign(&self.sign_bytes());
        SignedTx {
            tx: self,
            signature,
        }
    }
}

impl<M: BorshSerialize> SignedTx<M> {
    /// Identifier of the transaction: the hash of its full canonical encoding.
    pub fn hash(&self) -> Hash {
        Hash::of(TX_HASH_DOMAIN, &encode(self))
    }

    /// Check the signature against the signer's key: [`CryptoError::InvalidKey`] when the
    /// signer id is not a key, [`CryptoError::BadSignature`] when the signature does not match.
    pub fn verify_signature(&self) -> Result<(), CryptoError> {
        let key = self.tx.signer.verification_key()?;
        key.verify(&self.signature, &self.tx.sign_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(key: &SigningKey, nonce: u64) -> Tx<u64> {
        Tx {
            chain_id: "test".into(),
            signer: AccountId::from_key(&key.verification_key()),
            nonce,
            fee: Amount::new(10),
            msg: 42u64,
        }
    }

    #[test]
    fn a_signed_tx_verifies_and_any_edit_breaks_it() {
        let key = SigningKey::from_seed([5; 32]);
        let signed = transfer(&key, 0).sign(&key);
        assert!(signed.verify_signature().is_ok());
        let mut edited = signed.clone();
        edited.tx.nonce = 1;
        assert!(edited.verify_signature().is_err());
        let mut other_chain = signed.clone();
        other_chain.tx.chain_id = "other".into();
        assert!(other_chain.verify_signature().is_err());
    }

    #[test]
    fn different_nonces_give_different_hashes() {
        let key = SigningKey::from_seed([5; 32]);
        assert_ne!(
            transfer(&key, 0).sign(&key).hash(),
            transfer(&key, 1).sign(&key).hash()
        );
    }
}
