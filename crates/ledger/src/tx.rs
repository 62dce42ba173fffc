//! The ledger's transaction messages, the errors a transaction can end in, and the stateless
//! checks the mempool runs before admitting one.

use crate::bank::{BankError, FeeError, Transfer};
use crate::disputes::{Challenge, DisputesError, ProvideStepInput, RevealStep};
use crate::jobs::{ClaimAudits, JobsError, RevealResults, SealResults, SubmitJob};
use crate::models::{ModelsError, RegisterModel, UploadModelChunk};
use crate::rewards::{ClaimRewards, RewardsError};
use crate::services::{Allocate, Deallocate, ServicesError};
use crate::slashing::{Evidence, SlashingError};
use crate::staking::{
    Delegate, EditOperator, Redelegate, RegisterOperator, StakingError, Undelegate,
};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::encoding::{decode_bounded, DecodeError};
use surety_types::tx::SignedTx;

/// Largest encoded transaction accepted, in bytes.
pub const TX_BYTES_MAX: usize = 64 * 1024;
/// Most transactions in one block.
pub const BLOCK_TXS_MAX: usize = 20_000;
/// Most transaction bytes in one block (what a proposer may reap and a validator accepts).
pub const BLOCK_BYTES_MAX: usize = 8 * 1024 * 1024;

/// True when a block whose paid transactions number `count` and take `bytes` in all had no
/// room for another transaction of the largest size: the most transactions, or less than
/// `TX_BYTES_MAX` left. Market deadlines stretch by such blocks (`crate::congestion`).
pub fn block_is_full(count: usize, bytes: usize) -> bool {
    count >= BLOCK_TXS_MAX || BLOCK_BYTES_MAX.saturating_sub(bytes) < TX_BYTES_MAX
}
/// Largest chain id, in bytes.
pub const CHAIN_ID_BYTES_MAX: usize = 64;

/// What a transaction asks the ledger to do: one message per transaction, dispatched to the
/// module that owns it (`Ledger::dispatch`). In JSON, `{"type": "<snake_case name>", …}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
// A message lives once per transaction, briefly; registration is rare and boxing it would only
// add an allocation to decoding.
#[allow(clippy::large_enum_variant)]
pub enum Msg {
    /// Move tokens to another account (bank).
    Transfer(Transfer),
    /// Become an operator with a self-bond (staking).
    RegisterOperator(RegisterOperator),
    /// Change the signer's operator's commission or metadata (staking).
    EditOperator(EditOperator),
    /// Bond tokens to an operator's pool (staking).
    Delegate(Delegate),
    /// Start unbonding shares of an operator's pool (staking).
    Undelegate(Undelegate),
    /// Move stake from one operator to another without unbonding (staking).
    Redelegate(Redelegate),
    /// Pay out the signer's matured unbonding entries.
    WithdrawUnbonded,
    /// Pay out what a delegation has earned (rewards).
    ClaimRewards(ClaimRewards),
    /// Leave jail (the signer's operator).
    Unjail,
    /// Boxed: evidence is large and rare.
    SubmitEvidence(Box<Evidence>),
    /// Register a model's manifest and files' commitments, with a deposit (models). Boxed: large
    /// and rare.
    RegisterModel(Box<RegisterModel>),
    /// Upload one chunk of a registered model's file (models). Boxed: it carries the chunk.
    UploadModelChunk(Box<UploadModelChunk>),
    /// Allocate part of the signer's operator's stake to a model's service.
    Allocate(Allocate),
    /// Schedule a decrease of the signer's operator's allocation to a model's service
    /// (services).
    Deallocate(Deallocate),
    /// Submit an inference job, escrowing its fee (jobs). Boxed: it carries the input.
    SubmitJob(Box<SubmitJob>),
    /// Seal results (hiding commitments) for jobs the signer's operator works on or audits,
    /// many in one transaction (jobs).
    SealResults(Box<SealResults>),
    /// Reveal sealed results and audit selections, many in one transaction (jobs). Boxed: it
    /// carries the outputs.
    RevealResults(Box<RevealResults>),
    /// Challenge a job's result with a bond and one's own claims (jobs, which opens the dispute).
    Challenge(Box<Challenge>),
    /// A party's bisection move in a dispute (disputes).
    RevealStep(Box<RevealStep>),
    /// Part of the activation the referee needs for a dispute's isolated step (jobs, which hands
    /// the court the job's model).
    ProvideStepInput(Box<ProvideStepInput>),
    /// Claim audits, each with the claimant's VRF proof that it is selected, many in one
    /// transaction (jobs).
    ClaimAudits(Box<ClaimAudits>),
}

/// A signed transaction carrying a ledger [`Msg`].
pub type Transaction = SignedTx<Msg>;

/// Why a transaction failed. Errors before the fee is charged (decoding, signature, chain,
/// nonce, fee) change nothing; later ones change only the fee and nonce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes are not a transaction, or are larger than `TX_BYTES_MAX`.
    #[error("transaction does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// The transaction is signed for another chain.
    #[error("transaction is for chain {got:?}, this is {expected:?}")]
    WrongChain {
        /// This chain's id.
        expected: String,
        /// The transaction's chain id.
        got: String,
    },
    /// The signature does not verify against the signer's key.
    #[error("signature does not verify for the signer")]
    BadSignature,
    /// The nonce or fee is wrong, or the signer cannot pay the fee: nothing is charged.
    #[error(transparent)]
    Fee(#[from] FeeError),
    /// The message breaks a rule stated in the text.
    #[error("{0}")]
    Invalid(String),
    /// The bank refused the message.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// Staking refused the message.
    #[error(transparent)]
    Staking(#[from] StakingError),
    /// Rewards refused the message.
    #[error(transparent)]
    Rewards(#[from] RewardsError),
    /// Slashing refused the evidence.
    #[error(transparent)]
    Slashing(#[from] SlashingError),
    /// The models registry refused the message.
    #[error(transparent)]
    Models(#[from] ModelsError),
    /// Services refused the message.
    #[error(transparent)]
    Services(#[from] ServicesError),
    /// The jobs market refused the message.
    #[error(transparent)]
    Jobs(#[from] JobsError),
    /// The court refused the message.
    #[error(transparent)]
    Disputes(#[from] DisputesError),
}

impl TxError {
    /// True if the transaction was charged its fee and nonce (it failed while executing).
    pub fn charged(&self) -> bool {
        matches!(
            self,
            TxError::Invalid(_)
                | TxError::Bank(_)
                | TxError::Staking(_)
                | TxError::Rewards(_)
                | TxError::Slashing(_)
                | TxError::Models(_)
                | TxError::Services(_)
                | TxError::Jobs(_)
                | TxError::Disputes(_)
        )
    }
}

/// Shape checks that need no state: size, encoding, chain, field bounds. The signature is
/// checked separately (in a batch, inside a block).
pub fn decode_and_check_shape(bytes: &[u8], chain_id: &str) -> Result<Transaction, TxError> {
    let tx: Transaction = decode_bounded(bytes, TX_BYTES_MAX)?;
    if tx.tx.chain_id != chain_id {
        return Err(TxError::WrongChain {
            expected: chain_id.to_string(),
            got: tx.tx.chain_id,
        });
    }
    match &tx.tx.msg {
        Msg::Transfer(t) if t.amount.is_zero() => return Err(BankError::ZeroAmount.into()),
        Msg::RegisterOperator(r) => r.metadata.validate()?,
        Msg::EditOperator(EditOperator {
            metadata: Some(m), ..
        }) => m.validate()?,
        Msg::Delegate(d) if d.amount.is_zero() => return Err(StakingError::ZeroAmount.into()),
        Msg::Undelegate(u) if u.shares.is_zero() => return Err(StakingError::ZeroAmount.into()),
        Msg::Redelegate(r) if r.shares.is_zero() => return Err(StakingError::ZeroAmount.into()),
        Msg::RegisterModel(m) => crate::models::check_register_shape(m)?,
        Msg::UploadModelChunk(m) => crate::models::check_upload_shape(m)?,
        Msg::Allocate(a) if a.amount.is_zero() => return Err(ServicesError::ZeroAmount.into()),
        Msg::Deallocate(d) if d.amount.is_zero() => return Err(ServicesError::ZeroAmount.into()),
        Msg::SubmitJob(j) => crate::jobs::check_submit_shape(j)?,
        Msg::SealResults(s) => crate::jobs::check_seal_shape(s)?,
        Msg::RevealResults(r) => crate::jobs::check_reveal_shape(r, chain_id)?,
        Msg::ClaimAudits(c) => crate::jobs::check_claim_shape(c)?,
        _ => {}
    }
    Ok(tx)
}

/// Everything the mempool checks before admitting a transaction: shape and signature.
pub fn check_stateless(bytes: &[u8], chain_id: &str) -> Result<Transaction, TxError> {
    let tx = decode_and_check_shape(bytes, chain_id)?;
    tx.verify_signature().map_err(|_| TxError::BadSignature)?;
    Ok(tx)
}

#[cfg(test)]
mod block_limit_tests {
    use super::*;

    #[test]
    fn a_block_is_full_when_no_largest_transaction_fits() {
        assert!(!block_is_full(0, 0));
        assert!(!block_is_full(1, BLOCK_BYTES_MAX - TX_BYTES_MAX));
        assert!(block_is_full(1, BLOCK_BYTES_MAX - TX_BYTES_MAX + 1));
        assert!(block_is_full(BLOCK_TXS_MAX, 0));
    }
}
