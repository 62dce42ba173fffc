//! Consensus statements as validators sign them. The node's consensus binding signs exactly
//! these bytes, so two conflicting statements for the same height, round and kind are
//! self-contained proof of equivocation that the ledger can check on its own (DESIGN §3).

use crate::crypto::{CryptoError, Signature, SigningKey, VerificationKey};
use crate::encoding::encode;
use crate::hash::Hash;
use crate::ids::Height;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

const VOTE_SIGN_DOMAIN: &str = "surety.consensus-vote.v1";

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
/// Which Tendermint message a vote is. The kind is part of the slot: a prevote and a
/// precommit for different values in one round are not equivocation.
pub enum VoteKind {
    /// The round's proposer putting a value forward.
    Proposal,
    /// A first-stage vote for a value (or nil) in a round.
    Prevote,
    /// A second-stage vote; a value with precommits from two thirds of the power is decided.
    Precommit,
}

/// One consensus statement: "at this height and round, as this kind of message, I back this
/// value" (`None` is a vote for nil).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ConsensusVote {
    /// The chain the vote is for; votes on another chain never conflict with these.
    pub chain_id: String,
    /// The height being decided.
    pub height: Height,
    /// The round within the height, from 0.
    pub round: u32,
    /// Which message this is.
    pub kind: VoteKind,
    /// The backed value: the hash of the proposed block's header, or `None` for nil.
    pub value: Option<Hash>,
    /// For a proposal, the round of the polka that justifies re-proposing `value` (Tendermint's
    /// `pol_round`), signed so that a relay cannot alter it; `None` for votes and fresh
    /// proposals. Not part of the slot: two proposals for one slot conflict only by value.
    pub valid_round: Option<u32>,
    /// The validator's consensus key (which may differ from its account key).
    pub validator: VerificationKey,
}

/// A consensus vote with the validator's signature: on its own, proof that the validator said it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedVote {
    /// What was voted.
    pub vote: ConsensusVote,
    /// Signature over [`ConsensusVote::sign_bytes`] by `vote.validator`.
    pub signature: Signature,
}

impl ConsensusVote {
    /// The exact bytes a vote signature covers: a domain tag (so no transaction or result can
    /// pass for a vote) followed by the vote's canonical encoding.
    pub fn sign_bytes(&self) -> Vec<u8> {
        let mut bytes = VOTE_SIGN_DOMAIN.as_bytes().to_vec();
        bytes.extend_from_slice(&encode(self));
        bytes
    }

    /// Sign with the validator's consensus key.
    pub fn sign(self, key: &SigningKey) -> SignedVote {
        let signature = key.sign(&self.sign_bytes());
        SignedVote {
            vote: self,
            signature,
        }
    }
}

impl SignedVote {
    /// Check the signature against the key named in the vote; [`CryptoError::BadSignature`]
    /// when it does not match.
    pub fn verify(&self) -> Result<(), CryptoError> {
        self.vote
            .validator
            .verify(&self.signature, &self.vote.sign_bytes())
    }
}

/// Why two votes are not proof of equivocation. Evidence comes from anyone, so a refusal says
/// exactly what is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EquivocationError {
    /// The votes are signed by different consensus keys.
    #[error("the two votes are by different validators")]
    DifferentValidators,
    /// The votes differ in chain, height, round or kind, so both may honestly be cast.
    #[error("the two votes are for different chains, heights, rounds or kinds")]
    DifferentSlots,
    /// The votes back the same value (or both nil): repeating a vote is allowed.
    #[error("the two votes back the same value: no conflict")]
    SameValue,
    /// At least one vote's signature does not verify, so it proves nothing about the validator.
    #[error("a vote's signature does not verify")]
    BadSignature,
}

/// Check that `first` and `second` prove the validator signed two different values for the
/// same slot. Returns the validator's consensus key.
pub fn check_equivocation(
    first: &SignedVote,
    second: &SignedVote,
) -> Result<VerificationKey, EquivocationError> {
    let (a, b) = (&first.vote, &second.vote);
    if a.validator != b.validator {
        return Err(EquivocationError::DifferentValidators);
    }
    if (&a.chain_id, a.height, a.round, a.kind) != (&b.chain_id, b.height, b.round, b.kind) {
        return Err(EquivocationError::DifferentSlots);
    }
    if a.value == b.value {
        return Err(EquivocationError::SameValue);
    }
    first
        .verify()
        .map_err(|_| EquivocationError::BadSignature)?;
    second
        .verify()
        .map_err(|_| EquivocationError::BadSignature)?;
    Ok(a.validator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(key: &SigningKey, value: u8) -> SignedVote {
        ConsensusVote {
            chain_id: "c".into(),
            height: Height::new(5),
            round: 0,
            kind: VoteKind::Precommit,
            value: Some(Hash([value; 32])),
            valid_round: None,
            validator: key.verification_key(),
        }
        .sign(key)
    }

    #[test]
    fn two_signed_votes_for_different_values_prove_equivocation() {
        let key = SigningKey::from_seed([1; 32]);
        assert_eq!(
            check_equivocation(&vote(&key, 1), &vote(&key, 2)),
            Ok(key.verification_key())
        );
    }

    #[test]
    fn the_same_vote_twice_is_not_equivocation() {
        let key = SigningKey::from_seed([1; 32]);
        assert_eq!(
            check_equivocation(&vote(&key, 1), &vote(&key, 1)),
            Err(EquivocationError::SameValue)
        );
    }

    #[test]
    fn a_forged_second_vote_is_rejected() {
        let key = SigningKey::from_seed([1; 32]);
        let mut forged = vote(&key, 2);
        forged.signature = vote(&key, 3).signature;
        assert_eq!(
            check_equivocation(&vote(&key, 1), &forged),
            Err(EquivocationError::BadSignature)
        );
    }

    #[test]
    fn the_valid_round_is_signed_but_does_not_make_a_conflict() {
        let key = SigningKey::from_seed([1; 32]);
        let mut relayed = vote(&key, 1);
        relayed.vote.valid_round = Some(0);
        assert_eq!(
            relayed.verify(),
            Err(crate::crypto::CryptoError::BadSignature),
            "altered in transit"
        );
        let resigned = relayed.vote.sign(&key);
        assert_eq!(
            check_equivocation(&vote(&key, 1), &resigned),
            Err(EquivocationError::SameValue)
        );
    }

    #[test]
    fn votes_in_different_rounds_do_not_conflict() {
        let key = SigningKey::from_seed([1; 32]);
        let mut later = vote(&key, 2);
        later.vote.round = 1;
        let later = later.vote.sign(&key);
        assert_eq!(
            check_equivocation(&vote(&key, 1), &later),
            Err(EquivocationError::DifferentSlots)
        );
    }
}
