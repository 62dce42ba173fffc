//! Family consent: an operator joins a family only with the head's signature (docs/ledger.md,
//! "Family consent"). A family removes its members from each other's auditors (docs/market.md,
//! "Families and collusion"), so a declaration by the member alone would let a cheat join a
//! big honest family and so thin the honest share of its own auditors. This module only builds
//! and checks the consent; it reads and writes no state.

use super::state::OperatorMetadata;
use super::StakingError;
use borsh::BorshSerialize;
use surety_types::crypto::Signature;
use surety_types::{AccountId, Epoch, SigningKey};

/// Domain tag of a family consent, so that no other signed thing passes for one (v2: the
/// consent names its last epoch).
const FAMILY_CONSENT_DOMAIN: &[u8] = b"surety.family.v2";

/// What a head signs to take `member` into its family on `chain_id` until epoch `until`.
#[derive(BorshSerialize)]
struct FamilyConsent<'a> {
    chain_id: &'a str,
    member: &'a AccountId,
    head: &'a AccountId,
    until: Epoch,
}

/// The exact bytes a family consent signature covers: the domain tag, then the borsh encoding
/// of the chain id (length-prefixed), the member's account, the head's account and the last
/// epoch it admits the member (u64, little-endian).
pub fn family_consent_message(
    chain_id: &str,
    member: &AccountId,
    head: &AccountId,
    until: Epoch,
) -> Vec<u8> {
    let mut bytes = FAMILY_CONSENT_DOMAIN.to_vec();
    let consent = FamilyConsent {
        chain_id,
        member,
        head,
        until,
    };
    bytes.extend_from_slice(&surety_types::encoding::encode(&consent));
    bytes
}

/// The consent of the head whose account key is `head_key` for `member` to name it as its
/// family's head on `chain_id` through epoch `until`: what goes in
/// `OperatorMetadata::family_consent` (with `family_until` = `until`).
pub fn sign_family_consent(
    head_key: &SigningKey,
    chain_id: &str,
    member: &AccountId,
    until: Epoch,
) -> Signature {
    let head = AccountId::from_key(&head_key.verification_key());
    head_key.sign(&family_consent_message(chain_id, member, &head, until))
}

/// Check that `metadata`'s family declaration is one `member` may make on `chain_id` in epoch
/// `now`:
/// - no family: no consent either;
/// - the member names itself the head: no consent (it is its own);
/// - another head: a consent by that head's account key for this member, chain and last epoch
///   (`family_until`), which is not past. The head need not be an operator (a family's head
///   may run no node); its key is its account's.
pub fn check_family_consent(
    metadata: &OperatorMetadata,
    chain_id: &str,
    member: &AccountId,
    now: Epoch,
) -> Result<(), StakingError> {
    let consent = match (&metadata.family_consent, metadata.family_until) {
        (None, None) => None,
        (Some(signature), Some(until)) => Some((signature, until)),
        // Half a consent is no consent.
        _ => {
            return match metadata.family {
                Some(head) if head != *member => Err(StakingError::FamilyConsentMissing { head }),
                _ => Err(StakingError::FamilyConsentWithoutFamily),
            }
        }
    };
    match (&metadata.family, consent) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(StakingError::FamilyConsentWithoutFamily),
        (Some(head), None) if head == member => Ok(()),
        (Some(head), Some(_)) if head == member => Err(StakingError::FamilyConsentWithoutFamily),
        (Some(head), None) => Err(StakingError::FamilyConsentMissing { head: *head }),
        (Some(head), Some((signature, until))) => {
            let message = family_consent_message(chain_id, member, head, until);
            head.verification_key()
                .and_then(|key| key.verify(signature, &message))
                .map_err(|_| StakingError::FamilyConsentInvalid { head: *head })?;
            if until < now {
                return Err(StakingError::FamilyConsentExpired { head: *head, until });
            }
            Ok(())
        }
    }
}

/// Whether `metadata`'s family membership lapses at the end of `epoch`: its consent admits it
/// through `epoch` at the latest.
pub(crate) fn lapses(metadata: &OperatorMetadata, epoch: Epoch) -> bool {
    metadata.family_until.is_some_and(|until| until <= epoch)
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

    /// The consents in these tests admit their member through epoch 5.
    const UNTIL: Epoch = Epoch::new(5);
    const NOW: Epoch = Epoch::new(3);

    fn declaring(head: Option<AccountId>, consent: Option<Signature>) -> OperatorMetadata {
        OperatorMetadata {
            family: head,
            family_consent: consent,
            family_until: consent.map(|_| UNTIL),
            ..Default::default()
        }
    }

    #[test]
    fn the_consent_message_binds_domain_chain_member_head_and_last_epoch() {
        let message = family_consent_message("chain", &account(1), &account(2), UNTIL);
        assert!(message.starts_with(b"surety.family.v2"));
        assert_ne!(
            message,
            family_consent_message("chain", &account(2), &account(1), UNTIL)
        );
        assert_ne!(
            message,
            family_consent_message("chain2", &account(1), &account(2), UNTIL)
        );
        assert_ne!(
            message,
            family_consent_message("chain", &account(1), &account(2), Epoch::new(6))
        );
        // The chain id is length-prefixed: no chain id and account can run into each other.
        assert_eq!(message.len(), 16 + 4 + 5 + 32 + 32 + 8);
    }

    #[test]
    fn only_the_heads_consent_for_this_member_and_chain_admits_a_member() {
        let (member, head) = (account(1), account(2));
        let consent = sign_family_consent(&key(2), "chain", &member, UNTIL);
        let check = |metadata: &OperatorMetadata, chain: &str, member: &AccountId| {
            check_family_consent(metadata, chain, member, NOW)
        };
        assert_eq!(
            check(&declaring(Some(head), Some(consent)), "chain", &member),
            Ok(())
        );
        assert_eq!(
            check(&declaring(Some(head), Some(consent)), "other", &member),
            Err(StakingError::FamilyConsentInvalid { head })
        );
        assert_eq!(
            check(&declaring(Some(head), Some(consent)), "chain", &account(3)),
            Err(StakingError::FamilyConsentInvalid { head })
        );
        let forged = sign_family_consent(&key(3), "chain", &member, UNTIL);
        assert_eq!(
            check(&declaring(Some(head), Some(forged)), "chain", &member),
            Err(StakingError::FamilyConsentInvalid { head })
        );
        assert_eq!(
            check(&declaring(Some(head), None), "chain", &member),
            Err(StakingError::FamilyConsentMissing { head })
        );
        // The last epoch is signed: a member cannot stretch it.
        let mut stretched = declaring(Some(head), Some(consent));
        stretched.family_until = Some(Epoch::new(50));
        assert_eq!(
            check(&stretched, "chain", &member),
            Err(StakingError::FamilyConsentInvalid { head })
        );
        // Half a consent is none.
        stretched.family_until = None;
        assert_eq!(
            check(&stretched, "chain", &member),
            Err(StakingError::FamilyConsentMissing { head })
        );
    }

    #[test]
    fn a_consent_admits_through_its_last_epoch_and_not_after() {
        let (member, head) = (account(1), account(2));
        let consent = sign_family_consent(&key(2), "chain", &member, UNTIL);
        let metadata = declaring(Some(head), Some(consent));
        assert_eq!(
            check_family_consent(&metadata, "chain", &member, UNTIL),
            Ok(())
        );
        assert_eq!(
            check_family_consent(&metadata, "chain", &member, Epoch::new(6)),
            Err(StakingError::FamilyConsentExpired { head, until: UNTIL })
        );
        assert!(!lapses(&metadata, Epoch::new(4)));
        assert!(lapses(&metadata, UNTIL));
        assert!(!lapses(&declaring(Some(head), None), Epoch::new(1_000)));
    }

    #[test]
    fn no_family_and_ones_own_family_take_no_consent() {
        let member = account(1);
        let consent = sign_family_consent(&key(1), "chain", &member, UNTIL);
        let check_family_consent = |metadata: &OperatorMetadata, chain: &str, member| {
            super::check_family_consent(metadata, chain, member, NOW)
        };
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
