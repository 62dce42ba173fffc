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

/// What the signer signs.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Tx<M> {
    pub chain_id: String,
    pub signer: AccountId,
    /// Must equal the signer's account nonce; it then increases by one. A replayed or
    /// reordered transaction is rejected.
    pub nonce: u64,
    pub fee: Amount,
    pub msg: M,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedTx<M> {
    pub tx: Tx<M>,
    pub signature: Signature,
}

impl<M: BorshSerialize> Tx<M> {
    /// The exact bytes the signature covers.
    pub fn sign_bytes(&self) -> Vec<u8> {
        let mut bytes = TX_SIGN_DOMAIN.as_bytes().to_vec();
        bytes.extend_from_slice(&encode(self));
        bytes
    }

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
            fee: Amount(10),
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
