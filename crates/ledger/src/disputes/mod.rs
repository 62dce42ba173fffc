//! Disputes: challenge, bisection and one-step resolution (DESIGN §5 steps 5–6).

pub mod error;
pub mod invariants;
pub mod msg;
pub mod state;

pub use error::DisputesError;
pub use msg::{Challenge, ProvideStepInput, RevealStep};
pub use state::{Challenger, Dispute, Outcome, Party, Phase};

use crate::models::ModelCache;
use crate::params::Params;
use crate::store::Store;
use crate::BlockContext;
use surety_types::AccountId;

pub fn execute_challenge(
    _store: &mut Store,
    _params: &Params,
    _ctx: &BlockContext,
    _signer: &AccountId,
    _msg: &Challenge,
) -> Result<(), DisputesError> {
    Err(DisputesError::Invalid("disputes are not built yet".into()))
}

pub fn execute_reveal(
    _store: &mut Store,
    _params: &Params,
    _ctx: &BlockContext,
    _signer: &AccountId,
    _msg: &RevealStep,
) -> Result<(), DisputesError> {
    Err(DisputesError::Invalid("disputes are not built yet".into()))
}

pub fn execute_provide_input(
    _store: &mut Store,
    _params: &Params,
    _ctx: &BlockContext,
    _cache: &ModelCache,
    _signer: &AccountId,
    _msg: &ProvideStepInput,
) -> Result<(), DisputesError> {
    Err(DisputesError::Invalid("disputes are not built yet".into()))
}

pub fn end_block(
    _store: &mut Store,
    _params: &Params,
    _ctx: &BlockContext,
) -> Result<(), DisputesError> {
    Ok(())
}
