//! A client's job: its fee escrowed, its input made canonical, queued for the next block's
//! seed to assign.

use super::state::{self, Pending};
use super::{job_id, Job, JobInput, JobStatus, JobsError, JobsEvent, SubmitJob};
use crate::bank::{self, Pool};
use crate::context::BlockContext;
use crate::models::{self, ModelCache};
use crate::params::{JobsParams, Params};
use crate::services;
use crate::store::Store;
use surety_infer::{Activation, Architecture};
use surety_types::{AccountId, Hash};

/// The canonical input activation of a job, checked against the model.
pub fn canonical_input(
    store: &Store,
    params: &Params,
    cache: &ModelCache,
    msg: &SubmitJob,
) -> Result<Activation, JobsError> {
    let limit = params.jobs.job_input_bytes_max;
    let record = models::active(store, &msg.model)?;
    let model = models::loaded(store, cache, &msg.model)?;
    let architecture = &model.manifest().architecture;
    if matches!(architecture, Architecture::Llama(_)) {
        return Err(JobsError::Unsupported(msg.model));
    }
    let activation = match &msg.input {
        JobInput::Text(text) => {
            if text.len() as u64 > limit {
                return Err(JobsError::InputTooLarge {
                    got: text.len() as u64,
                    limit,
                });
            }
            if !record.text {
                return Err(JobsError::NotTextModel(msg.model));
            }
            let tokens = model
                .tokenizer()
                .and_then(|tokenizer| tokenizer.encode(text))
                .map_err(|e| JobsError::BadInput(e.to_string()))?;
            surety_infer::models::bert::input(&tokens)
        }
        JobInput::Activation(bytes) => {
            if bytes.len() as u64 > limit {
                return Err(JobsError::InputTooLarge {
                    got: bytes.len() as u64,
                    limit,
                });
            }
            Activation::from_bytes(bytes).map_err(|e| JobsError::BadInput(e.to_string()))?
        }
    };
    let checked = match architecture {
        Architecture::Bert(config) => config.check_input(&activation),
        Architecture::Mlp(config) => config.check_input(&activation),
        Architecture::Cnn(config) => config.check_input(&activation),
        Architecture::Llama(config) => config.check_input(&activation),
    };
    checked.map_err(|e| JobsError::BadInput(e.to_string()))?;
    Ok(activation)
}

/// Execute a [`SubmitJob`]: check the job against the market's bounds and the model, escrow
/// the fee, and queue the job for assignment with the next block's seed.
pub fn execute_submit(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
    signer: &AccountId,
    tx_hash: &Hash,
    msg: &SubmitJob,
) -> Result<(), JobsError> {
    check_bounds(&params.jobs, msg)?;
    let record = models::active(store, &msg.model)?;
    let input = canonical_input(store, params, cache, msg)?;
    let eligible = services::eligible(store, &msg.model).len();
    if eligible < msg.replicas as usize {
        return Err(JobsError::NotEnoughOperators {
            model: msg.model,
            eligible,
            replicas: msg.replicas,
        });
    }
    bank::account_to_pool(store, signer, Pool::JobEscrow, msg.max_fee)?;
    let id = job_id(tx_hash);
    if state::job(store, &id).is_some() {
        return Err(JobsError::Invalid(format!("job {id} exists")));
    }
    let job = Job {
        id,
        client: *signer,
        model: msg.model,
        input_hash: input.hash(),
        input: input.to_bytes(),
        steps: record.steps,
        fee: msg.max_fee,
        replicas: msg.replicas,
        deadline_blocks: msg.deadline_blocks,
        submitted: ctx.height,
        assignments: Vec::new(),
        reassignments: 0,
        audit_window: None,
        audits: Vec::new(),
        status: JobStatus::Queued,
    };
    state::set_job(store, &job);
    state::queue_for_next_block(store, &id, Pending::Assign);
    store.emit(JobsEvent::JobSubmitted {
        job: id,
        client: *signer,
        model: msg.model,
        fee: msg.max_fee,
    });
    Ok(())
}

/// The job's fee, replica count and deadline against the market's bounds: known without
/// executing, so the node's mempool refuses a job outside them at admission too.
pub fn check_bounds(market: &JobsParams, msg: &SubmitJob) -> Result<(), JobsError> {
    if msg.max_fee < market.job_fee_min || msg.max_fee > market.job_fee_max {
        return Err(JobsError::FeeOutOfRange {
            got: msg.max_fee,
            min: market.job_fee_min,
            max: market.job_fee_max,
        });
    }
    if msg.replicas == 0 || msg.replicas > market.replicas_max {
        return Err(JobsError::Replicas {
            got: msg.replicas,
            max: market.replicas_max,
        });
    }
    if msg.deadline_blocks < market.deadline_blocks_min
        || msg.deadline_blocks > market.deadline_blocks_max
    {
        return Err(JobsError::Deadline {
            got: msg.deadline_blocks,
            min: market.deadline_blocks_min,
            max: market.deadline_blocks_max,
        });
    }
    Ok(())
}
