//! The ledger messages the simulated parties send, built from executions. The commit flow is
//! blind results (docs/market.md): a batch of seals per operator per block, then a batch of
//! reveals, each opening a seal with its salt; audit claims, each with its VRF proof.

use crate::compute::Execution;
use surety_ledger::disputes::{Challenge, ProvideStepInput, RevealStep, INPUT_CHUNK_BYTES_MAX};
use surety_ledger::jobs::{
    seal_commitment, CommitResult, ResultStatement, Reveal, RevealResults, Seal, SealResults,
    SignedResult,
};
use surety_ledger::slashing::Evidence;
use surety_ledger::tx::Msg;
use surety_types::{JobId, OperatorId, SigningKey};

/// The signed statement of `execution` for `job`.
pub fn statement(
    chain: &str,
    job: &JobId,
    execution: &Execution,
    key: &SigningKey,
) -> SignedResult {
    let steps = execution.trace.len() as u64;
    ResultStatement {
        chain_id: chain.into(),
        job: *job,
        output_hash: execution.output.hash(),
        trace_root: execution.trace.root(),
        steps,
    }
    .sign(key)
}

/// A commit of `execution` as `key`'s operator.
pub fn commit(chain: &str, job: &JobId, execution: &Execution, key: &SigningKey) -> CommitResult {
    let steps = execution.trace.len();
    CommitResult {
        result: statement(chain, job, execution, key),
        output: execution.output.to_bytes(),
        output_proof: execution
            .trace
            .proof(steps - 1)
            .expect("the last leaf has a proof"),
    }
}

/// Another operator's public commit, re-signed as one's own (a copier, a lazy auditor).
pub fn recommit(seen: &CommitResult, key: &SigningKey) -> CommitResult {
    CommitResult {
        result: seen.result.statement.clone().sign(key),
        output: seen.output.clone(),
        output_proof: seen.output_proof.clone(),
    }
}

/// The seal of `result` by `operator` with `salt`.
pub fn seal(job: &JobId, operator: &OperatorId, result: &CommitResult, salt: &[u8; 32]) -> Seal {
    Seal {
        job: *job,
        commitment: seal_commitment(operator, &result.result.statement, salt),
    }
}

/// One operator's seals for a block.
pub fn seal_batch(operator: OperatorId, seals: Vec<Seal>) -> Msg {
    Msg::SealResults(Box::new(SealResults { operator, seals }))
}

/// One operator's reveals for a block.
pub fn reveal_batch(operator: OperatorId, reveals: Vec<Reveal>) -> Msg {
    Msg::RevealResults(Box::new(RevealResults { operator, reveals }))
}

/// A bisection move: one's own leaf at `index` with its proof.
pub fn reveal(dispute: u64, index: u64, execution: &Execution) -> Msg {
    Msg::RevealStep(Box::new(RevealStep {
        dispute,
        index,
        step_hash: execution.trace.step_hashes[index as usize],
        proof: execution
            .trace
            .proof(index as usize)
            .expect("the index is within the trace"),
    }))
}

/// The referee's input (the activation before `step`) in chunks.
pub fn provide_input(dispute: u64, step: u64, execution: &Execution) -> Vec<Msg> {
    let bytes = execution.activations[step as usize].to_bytes();
    bytes
        .chunks(INPUT_CHUNK_BYTES_MAX)
        .enumerate()
        .map(|(index, chunk)| {
            Msg::ProvideStepInput(Box::new(ProvideStepInput {
                dispute,
                total: bytes.len() as u64,
                offset: (index * INPUT_CHUNK_BYTES_MAX) as u64,
                bytes: chunk.to_vec(),
            }))
        })
        .collect()
}

/// A challenge of `operator`'s result with one's own claim.
pub fn challenge(job: &JobId, operator: &OperatorId, claim: &Execution) -> Msg {
    let steps = claim.trace.len();
    Msg::Challenge(Box::new(Challenge {
        job: *job,
        operator: *operator,
        output_hash: claim.output.hash(),
        trace_root: claim.trace.root(),
        output_proof: claim
            .trace
            .proof(steps - 1)
            .expect("the last leaf has a proof"),
    }))
}

/// Two different signed results by one operator for one job.
pub fn equivocation(first: SignedResult, second: SignedResult) -> Msg {
    Msg::SubmitEvidence(Box::new(Evidence::ResultEquivocation { first, second }))
}
