//! Jobs: the inference market (DESIGN §5, docs/market.md).
//!
//! 1. `SubmitJob` escrows the fee and queues the job. The next block's begin hook assigns
//!    `replicas` operators with that block's seed, weighted by the stake they allocated to the
//!    model's service (jailed and frozen operators skipped): nobody knew that seed when the
//!    job was signed or included.
//! 2. Each assignee seals a hiding commitment to its signed [`ResultStatement`]
//!    ([`SealResults`]). A missed seal deadline is a `MissedDeadline` fault and the job is
//!    reassigned (up to `reassignments_max` times, then refunded). Once every assignee has
//!    sealed, the audit claim window opens for `audit_claim_blocks`: every operator outside
//!    their families whose own VRF over the sealed job selects it ([`ClaimAudits`], with
//!    probability `audit_rate` times its share of the epoch's pool; nobody else can compute
//!    it) claims the audit, and seals too.
//! 3. Once the window is over and all have sealed, they reveal ([`RevealResults`]): each
//!    assignee its statement and output, bound to its trace root by a Merkle proof of the last
//!    leaf, then each auditor its own. Results that disagree, or an audit that disagrees, open
//!    a dispute; results that agree open the challenge window.
//! 4. At the end of the window, with no dispute open and the audits done, the job is final: the
//!    fee pays the operators (through the rewards module, so delegators share it) and the audit
//!    fund. A result a dispute proves wrong is slashed (`WrongResult`, bounded by the service
//!    allocation), with every identical result, and the client is refunded.
//!
//! Files: `submit` (a client's job), `assign` (operators drawn from block seeds, auditors
//! selected by their own VRFs), `pool` (each epoch's audit pool),
//! `commit` (seals and reveals of results and audits), `settle` (deadlines, finality, payment, failure), `court`
//! (challenges and disputes, through the disputes module's court, whose verdicts land here),
//! `evidence` (two signed results by one operator), `prune` (closed jobs leave state once
//! nothing can refer to them).

mod assign;
mod close;
mod commit;
mod court;
pub mod error;
pub mod event;
mod evidence;
pub mod invariants;
pub mod msg;
pub mod pool;
pub mod prune;
mod settle;
pub mod state;
mod submit;
mod suspects;

pub use assign::{begin_block, is_selected, AUDITS_PER_JOB_MAX};
pub use commit::{execute_claim, execute_reveal, execute_seal};
pub use court::{execute_challenge, execute_provide_input};
pub use error::JobsError;
pub use event::JobsEvent;
pub use evidence::execute_result_equivocation;
pub use msg::{
    audit_alpha, seal_commitment, seals_digest, AuditClaim, ClaimAudits, CommitResult, JobInput,
    ResultStatement, Reveal, RevealResults, Seal, SealResults, SignedResult, SubmitJob,
    BATCH_ITEMS_MAX, CLAIM_ITEMS_MAX,
};
pub use state::{
    job, open_claims, work_of, Assignment, Audit, AuditOutcome, AuditWindow, Job, JobResult,
    JobStatus, Role,
};
pub use submit::{canonical_input, check_bounds, execute_submit};

use crate::context::BlockContext;
use crate::models::ModelCache;
use crate::params::Params;
use crate::store::Store;
use surety_types::merkle::MerkleProof;
use surety_types::{Hash, JobId};

/// Stateless shape of a job: what can be refused before it reaches a block.
pub fn check_submit_shape(msg: &SubmitJob) -> Result<(), JobsError> {
    if msg.replicas == 0 {
        return Err(JobsError::Invalid(
            "a job needs at least one replica".into(),
        ));
    }
    match &msg.input {
        JobInput::Text(text) if text.is_empty() => {
            Err(JobsError::BadInput("the text is empty".into()))
        }
        JobInput::Activation(bytes) if bytes.is_empty() => {
            Err(JobsError::BadInput("the activation is empty".into()))
        }
        _ => Ok(()),
    }
}

/// Stateless shape of a batch of seals: 1 to [`BATCH_ITEMS_MAX`] items.
pub fn check_seal_shape(msg: &SealResults) -> Result<(), JobsError> {
    check_batch_len(msg.seals.len())?;
    check_distinct(msg.seals.iter().map(|s| s.job))
}

/// Stateless shape of a batch of audit claims: 1 to [`CLAIM_ITEMS_MAX`] items, one per job.
pub fn check_claim_shape(msg: &ClaimAudits) -> Result<(), JobsError> {
    if msg.claims.is_empty() || msg.claims.len() > CLAIM_ITEMS_MAX {
        return Err(JobsError::Invalid(format!(
            "a batch carries 1..={CLAIM_ITEMS_MAX} claims, not {}",
            msg.claims.len()
        )));
    }
    check_distinct(msg.claims.iter().map(|c| c.job))
}

/// Stateless shape of a batch of reveals: 1 to [`BATCH_ITEMS_MAX`] items, each result's chain,
/// steps and the output's binding to its trace.
pub fn check_reveal_shape(msg: &RevealResults, chain_id: &str) -> Result<(), JobsError> {
    check_batch_len(msg.reveals.len())?;
    check_distinct(msg.reveals.iter().map(|r| r.job))?;
    for reveal in &msg.reveals {
        check_commit_shape(&reveal.result, chain_id)?;
    }
    Ok(())
}

/// At most one item per job in a batch.
fn check_distinct(jobs: impl Iterator<Item = JobId>) -> Result<(), JobsError> {
    let mut seen = std::collections::BTreeSet::new();
    for job in jobs {
        if !seen.insert(job) {
            return Err(JobsError::Invalid(format!(
                "the batch names job {job} more than once"
            )));
        }
    }
    Ok(())
}

fn check_batch_len(len: usize) -> Result<(), JobsError> {
    if len == 0 || len > BATCH_ITEMS_MAX {
        return Err(JobsError::Invalid(format!(
            "a batch carries 1..={BATCH_ITEMS_MAX} items, not {len}"
        )));
    }
    Ok(())
}

/// Stateless shape of a result: chain, signature, and the output's binding to the trace.
pub fn check_commit_shape(msg: &CommitResult, chain_id: &str) -> Result<(), JobsError> {
    let statement = &msg.result.statement;
    if statement.chain_id != chain_id {
        return Err(JobsError::Invalid(format!(
            "the result is for chain {:?}",
            statement.chain_id
        )));
    }
    if statement.steps == 0 {
        return Err(JobsError::WrongSteps {
            got: 0,
            expected: 1,
        });
    }
    check_output_proof(
        &statement.output_hash,
        &statement.trace_root,
        statement.steps,
        &msg.output_proof,
    )
}

/// `output_hash` is leaf `steps - 1` of `trace_root`.
pub fn check_output_proof(
    output_hash: &Hash,
    trace_root: &Hash,
    steps: u64,
    proof: &MerkleProof,
) -> Result<(), JobsError> {
    if proof.leaf_count != steps || proof.index.checked_add(1) != Some(steps) {
        return Err(JobsError::BadOutputProof(format!(
            "proof is for leaf {} of {}, expected the last of {steps}",
            proof.index, proof.leaf_count
        )));
    }
    proof
        .verify(trace_root, &output_hash.0)
        .map_err(|e| JobsError::BadOutputProof(e.to_string()))
}

/// The id of the job a submitting transaction creates: a hash of the transaction's hash, so
/// no two jobs share one.
pub fn job_id(tx_hash: &Hash) -> JobId {
    JobId(Hash::of("surety.job-id", &tx_hash.0).0)
}

/// End of block: first the court's due disputes (their verdicts applied), then deadlines, audit
/// timeouts and finality for the jobs due now, then pruning (`prune`).
pub fn end_block(
    store: &mut Store,
    params: &Params,
    ctx: &BlockContext,
    cache: &ModelCache,
) -> Result<(), JobsError> {
    court::end_block(store, params, ctx, cache)?;
    settle::end_block(store, params, ctx)?;
    prune::end_block(store, params, ctx);
    Ok(())
}

/// End of block, after every other module's hook: at an epoch end, take each model's audit
/// pool for the next epoch (so the epoch's slashes, jailings and lapsed families are in it) and
/// drop the pools no window needs any more (`pool`).
pub fn end_block_pools(store: &mut Store, params: &Params, ctx: &BlockContext) {
    pool::end_block(store, params, ctx);
}
