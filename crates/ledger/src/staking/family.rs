//! Family consent: an operator joins a family only with the head's signature (docs/ledger.md,
//! "Family consent"). A family removes its members from each other's auditors (docs/market.md,
//! "Families and collusion"), so a declaration by the member alone would let a cheat join a
//! big honest family and so thin the honest share of its own auditors. This module only builds
//! and checks the consent; it reads and writes no state.

use super::state::OperatorMetadata;
use super::StakingError;
use borsh::BorshSerialize;
use surety_types::crypto::Signature;
use surety_types::{AccountId, SigningKey};

/// Domain tag of a family consent, so that no other signed thing passes for one.
const FAMILY_CONSENT_DOMAIN: &[u8] = b"surety.family.v1";

/// What a head signs to take `member` into its family on `chain_id`.
#[derive(BorshSerialize)]
struct FamilyConsent<'a> {
    chain_id: &'a str,
    member: &'a AccountId,
    head: &'a AccountId,
}

/// The exact bytes a family consent signature covers: the domain tag, then the borsh encoding
/// of the chain id (length-prefixed), the member's account and the head's account.
pub fn family_consent_message(chain_id: &str, member: &AccountId, head: &AccountId) -> Vec<u8> {
    let mut bytes = FAMILY_CONSENT_DOMAIN.to_vec();
    let consent = FamilyConsent {
        chain_id,
        member,
        head,
    };
    bytes.extend_from_slice(&surety_types::encoding::encode(&consent));
    bytes
}

/// The consent of the head whose account key is `head_key` for `member` to name it as its
/// family's head on `chain_id`: what goes in `OperatorMetadata::family_consent`.
pub fn sign_family_consent(head_key: &SigningKey, chain_id: &str, member: &AccountId) -> Signature {
    let head = AccountId::from_key(&head_key.verification_key());
    head_key.sign(&family_consent_message(chain_id, member, &head))
}

/// Check that `metadata`'s family declaration is one `member` may make on `chain_id`:
/// - no family: no consent either;
/// - the member names itself the head: no consent (it is its own);
/// - another head: a consent by that head's account key for this member and chain. The head
///   need not be an operator (a family's head may run no node); its key is its account's.
pub fn check_family_consent(
    metadata: &OperatorMetadata,
    chain_id: &str,
    member: &AccountId,
) -> Result<(), StakingError> {
    match (&metadata.family, &metadata.family_consent) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(StakingError::FamilyConsentWithoutFamily),
        (Some(head), None) if head == member => Ok(()),
        (Some(head), Some(_)) if head == member => Err(StakingError::FamilyConsentWithoutFamily),
        (Some(head), None) => Err(StakingError::FamilyConsentMissing { head: *head }),
        (Some(head), Some(consent)) => {
            let message = family_consent_message(chain_id, member, head);
            head.verification_key()
                .and_then(|key| key.verify(consent, &message))
                .map_err(|_| StakingError::FamilyConsentInvalid { head: *head })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed([n; 32])
    }

    fn account(n: u8) -> AccountId {
        AccountId::from_key(&key(n).verification_key())
    }

    fn declaring(head: Option<AccountId>, consent: Option<Signature>) -> OperatorMetadata {
        OperatorMetadata {
            family: head,
            family_consent: consent,
            ..Default::default()
        }
    }

    #[test]
    fn the_consent_message_binds_domain_chain_member_and_head() {
        let message = family_consent_message("chain", &account(1), &account(2));
        assert!(message.starts_with(b"surety.family.v1"));
        assert_ne!(
            message,
            family_consent_message("chain", &account(2), &account(1))
        );
        assert_ne!(
            message,
            family_consent_message("chain2", &account(1), &account(2))
        );
        // The chain id is length-prefixed: no chain id and account can run into each other.
        assert_eq!(message.len(), 16 + 4 + 5 + 32 + 32);
    }

    #[test]
    fn only_the_heads_consent_for_this_member_and_chain_admits_a_member() {
        let (member, head) = (account(1), account(2));
        let consent = sign_family_consent(&key(2), "chain", &member);
        assert_eq!(
            check_family_consent(&declaring(Some(head), Some(consent)), "chain", &member),
            Ok(())
        );
        assert_eq!(
            check_family_consent(&declaring(Some(head), Some(consent)), "other", &member),
            Err(StakingError::FamilyConsentInvalid { head })
        );
        assert_eq!(
            check_family_consent(&declaring(Some(head), Some(consent)), "chain", &account(3)),
            Err(StakingError::FamilyConsentInvalid { head })
        );
        let forged = sign_family_consent(&key(3), "chain", &member);
        assert_eq!(
            check_family_consent(&declaring(Some(head), Some(forged)), "chain", &member),
            Err(StakingError::FamilyConsentInvalid { head })
        );
        assert_eq!(
            check_family_consent(&declaring(Some(head), None), "chain", &member),
            Err(StakingError::FamilyConsentMissing { head })
        );
    }

    #[test]
    fn no_family_and_ones_own_family_take_no_consent() {
        let member = account(1);
        let consent = sign_family_consent(&key(1), "chain", &member);
        assert_eq!(
            check_family_consent(&declaring(None, None), "chain", &member),
            Ok(())
        );
        assert_eq!(
            check_family_consent(&declaring(Some(member), None), "chain", &member),
            Ok(())
        );
        assert_eq!(
            check_family_consent(&declaring(None, Some(consent)), "chain", &member),
            Err(StakingError::FamilyConsentWithoutFamily)
        );
        assert_eq!(
            check_family_consent(&declaring(Some(member), Some(consent)), "chain", &member),
            Err(StakingError::FamilyConsentWithoutFamily)
        );
    }
}
