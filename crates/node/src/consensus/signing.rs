//! Signer and verifier for the engine: votes and proposals are signed as exactly
//! `ConsensusVote::sign_bytes()`, so any double vote or double proposal the engine reports
//! converts losslessly into the ledger's `Evidence::DoubleSign { first, second }`.

use std::sync::Arc;

use async_trait::async_trait;
use malachitebft_app_channel::app::types::core::SigningScheme as _;
use malachitebft_app_channel::app::types::core::{
    SignedMessage, SignedProposal, SignedVote, ValidatorProof, VoteExtensionScope,
};
use malachitebft_app_channel::{Signer, Verifier};
use malachitebft_signing::{Error, VerificationResult};
use surety_types::{SigningKey, VerificationKey};

use super::ctx::{Proposal, Sig, SuretyCtx, SuretyScheme, Vote};

const EXT_DOMAIN: &[u8] = b"surety.vote-extension.v1";

pub struct SuretySigner {
    pub key: SigningKey,
    pub chain_id: Arc<str>,
}

pub struct SuretyVerifier {
    pub chain_id: Arc<str>,
}

fn ok(valid: bool) -> Result<VerificationResult, Error> {
    Ok(VerificationResult::from_bool(valid))
}

#[async_trait]
impl Verifier<SuretyCtx> for SuretyVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Sig,
        public_key: &VerificationKey,
    ) -> Result<VerificationResult, Error> {
        let bytes = vote.to_consensus_vote(&self.chain_id).sign_bytes();
        ok(public_key.verify(&(*signature).into(), &bytes).is_ok())
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Sig,
        public_key: &VerificationKey,
    ) -> Result<VerificationResult, Error> {
        let bytes = proposal.to_consensus_vote(&self.chain_id).sign_bytes();
        ok(public_key.verify(&(*signature).into(), &bytes).is_ok())
    }

    async fn verify_signed_vote_extension(
        &self,
        _scope: &VoteExtensionScope<SuretyCtx>,
        _extension: &(),
        _signature: &Sig,
        _public_key: &VerificationKey,
    ) -> Result<VerificationResult, Error> {
        // Extensions disabled: never accept one.
        ok(false)
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<SuretyCtx>,
    ) -> Result<VerificationResult, Error> {
        let Ok(pk) = SuretyScheme::decode_public_key(&proof.public_key) else {
            return ok(false);
        };
        ok(pk
            .verify(&proof.signature.into(), &proof.preimage())
            .is_ok())
    }
}

#[async_trait]
impl Signer<SuretyCtx> for SuretySigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedVote<SuretyCtx>, Error> {
        let sig = self
            .key
            .sign(&vote.to_consensus_vote(&self.chain_id).sign_bytes());
        Ok(SignedMessage::new(vote, sig.into()))
    }

    async fn sign_proposal(&self, proposal: Proposal) -> Result<SignedProposal<SuretyCtx>, Error> {
        let sig = self
            .key
            .sign(&proposal.to_consensus_vote(&self.chain_id).sign_bytes());
        Ok(SignedMessage::new(proposal, sig.into()))
    }

    async fn sign_vote_extension(
        &self,
        _scope: VoteExtensionScope<SuretyCtx>,
        extension: (),
    ) -> Result<SignedMessage<SuretyCtx, ()>, Error> {
        let sig = self.key.sign(EXT_DOMAIN);
        Ok(SignedMessage::new(extension, sig.into()))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<SuretyCtx>, Error> {
        let preimage = ValidatorProof::<SuretyCtx>::signing_bytes(&public_key, &peer_id);
        let sig = self.key.sign(&preimage);
        Ok(ValidatorProof::new(public_key, peer_id, sig.into()))
    }
}
