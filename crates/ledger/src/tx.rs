//! The ledger's transaction messages, the errors a transaction can end in, and the stateless
//! checks the mempool runs before admitting one.

use crate::bank::{BankError, FeeError, Transfer};
use crate::disputes::{Challenge, DisputesError, ProvideStepInput, RevealStep};
use crate::jobs::{CommitResult, JobsError, SubmitJob};
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
/// Largest chain id, in bytes.
pub const CHAIN_ID_BYTES_MAX: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
// A message lives once per transaction, briefly; registration is rare and boxing it would only
// add an allocation to decoding.
#[allow(clippy::large_enum_variant)]
pub enum Msg {
    Transfer(Transfer),
    RegisterOperator(RegisterOperator),
    EditOperator(EditOperator),
    Delegate(Delegate),
    Undelegate(Undelegate),
    Redelegate(Redelegate),
    /// Pay out the signer's matured unbonding entries.
    WithdrawUnbonded,
    ClaimRewards(ClaimRewards),
    /// Leave jail (the signer's operator).
    Unjail,
    /// Boxed: evidence is large and rare.
    SubmitEvidence(Box<Evidence>),
    RegisterModel(Box<RegisterModel>),
    UploadModelChunk(Box<UploadModelChunk>),
    /// Allocate part of the signer's operator's stake to a model's service.
    Allocate(Allocate),
    Deallocate(Deallocate),
    SubmitJob(Box<SubmitJob>),
    CommitResult(Box<CommitResult>),
    Challenge(Box<Challenge>),
    RevealStep(Box<RevealStep>),
    ProvideStepInput(Box<ProvideStepInput>),
}

pub type Transaction = SignedTx<Msg>;

/// Why a transaction failed. Errors before the fee is charged (decoding, signature, chain,
/// nonce, fee) change nothing; later ones change only the fee and nonce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("transaction does not decode: {0}")]
    Decode(#[from] DecodeError),
    #[error("transaction is for chain {got:?}, this is {expected:?}")]
    WrongChain { expected: String, got: String },
    #[error("signature does not verify for the signer")]
    BadSignature,
    #[error(transparent)]
    Fee(#[from] FeeError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error(transparent)]
    Staking(#[from] StakingError),
    #[error(transparent)]
    Rewards(#[from] RewardsError),
    #[error(transparent)]
    Slashing(#[from] SlashingError),
    #[error(transparent)]
    Models(#[from] ModelsError),
    #[error(transparent)]
    Services(#[from] ServicesError),
    #[error(transparent)]
    Jobs(#[from] JobsError),
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
        Msg::CommitResult(c) => crate::jobs::check_commit_shape(c, chain_id)?,
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
