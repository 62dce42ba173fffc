//! Jobs: the inference market (DESIGN §5).

pub mod error;
pub mod invariants;
pub mod msg;
pub mod state;

pub use error::JobsError;
pub use msg::{CommitResult, JobInput, ResultStatement, SignedResult, SubmitJob};
pub use state::{Job, JobStatus};

use crate::models::ModelCache;
use crate::params::Params;
use crate::store::Store;
use crate::BlockContext;
use surety_types::{AccountId, Hash};

pub fn check_submit_shape(_msg: &SubmitJob) -> Result<(), JobsError> {
    Ok(())
}

pub fn check_commit_shape(_msg: &CommitResult, _chain_id: &str) -> Result<(), JobsError> {
    Ok(())
}

pub fn execute_submit(
    _store: &mut Store,
    _params: &Params,
    _ctx: &BlockContext,
    _cache: &ModelCache,
    _signer: &AccountId,
    _tx_hash: &Hash,
    _msg: &SubmitJob,
) -> Result<(), JobsError> {
    Err(JobsError::Invalid("jobs are not built yet".into()))
}

pub fn execute_commit(
    _store: &mut Store,
    _params: &Params,
    _ctx: &BlockContext,
    _chain_id: &str,
    _signer: &AccountId,
    _msg: &CommitResult,
) -> Result<(), JobsError> {
    Err(JobsError::Invalid("jobs are not built yet".into()))
}

pub fn begin_block(
    _store: &mut Store,
    _params: &Params,
    _ctx: &BlockContext,
) -> Result<(), JobsError> {
    Ok(())
}

pub fn end_block(
    _store: &mut Store,
    _params: &Params,
    _ctx: &BlockContext,
) -> Result<(), JobsError> {
    Ok(())
}
