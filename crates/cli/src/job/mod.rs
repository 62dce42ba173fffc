//! `surety job …` and `surety challenge`: the inference market from a client's side (DESIGN §5,
//! docs/market.md). A client submits a job and follows it to its final result, with the job
//! record checked against the certified state root; anyone may re-execute a result and, if it
//! is wrong, challenge it with a bond and play the bisection dispute from its own trace.
//!
//! It decides nothing the ledger decides: transactions are the ledger's types, signed here and
//! judged by the node. The challenger always computes: it runs the model with the same engine
//! and the same helpers as the operator worker (`surety_node::worker`), never takes anyone's
//! word for a hash.

mod challenge;
mod render;
mod submit;

pub(crate) use challenge::{run_challenge, ChallengeArgs};
pub(crate) use submit::SubmitArgs;

use crate::rpc::{self, RpcError};
use crate::submit::Submitter;
use crate::{CliError, Node};
use clap::Subcommand;
use std::time::Instant;
use surety_ledger::jobs::{AuditOutcome, Job, JobStatus};
use surety_types::{Hash, JobId, ModelId, OperatorId};

/// Longest wait for a submitted transaction to land in a block.
const TX_WAIT_MS_MAX: u64 = 30_000;
/// Pause between polls of a job or a dispute.
const STATE_POLL_MS: u64 = 500;
/// Largest activation file read for `--activation-file` (the chain's own limit,
/// `job_input_bytes_max`, is smaller by default and is enforced by the ledger).
const ACTIVATION_FILE_BYTES_MAX: u64 = 4 << 20;
/// Largest model file downloaded or read (the chain's default `model_file_bytes_max`).
const MODEL_FILE_BYTES_MAX: u64 = 512 << 20;
/// Values of each output slot shown in human output (`--json` shows all).
const VALUES_SHOWN_MAX: usize = 8;

#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    #[error("{what} {text:?}: {reason}")]
    BadId {
        what: &'static str,
        text: String,
        reason: String,
    },
    #[error("{0}")]
    Input(String),
    #[error("transaction {hash} failed in block {height}: {error}")]
    TxFailed {
        hash: Hash,
        height: u64,
        error: String,
    },
    #[error("transaction {hash} not in a block after {TX_WAIT_MS_MAX} ms; still pending")]
    TxTimeout { hash: Hash },
    #[error("transaction {hash} was dropped by the node before it reached a block")]
    TxDropped { hash: Hash },
    #[error("job {job} failed: {reason} (the fee is refunded)")]
    JobFailed { job: JobId, reason: String },
    #[error(
        "job {job} is still {status} after {waited_s} s; follow it with `surety job status {job}`"
    )]
    WaitTimeout {
        job: JobId,
        status: String,
        waited_s: u64,
    },
    #[error("job {job} cannot be challenged now: it is {status} (challenges are taken while its result is challengeable)")]
    NotChallengeable { job: JobId, status: String },
    #[error("operator {operator} has no standing result for job {job}")]
    NoResult { job: JobId, operator: OperatorId },
    #[error("{0}")]
    ModelUnavailable(String),
    #[error("the loaded model is {loaded}, the job's model is {expected}: {hint}")]
    ModelMismatch {
        loaded: ModelId,
        expected: ModelId,
        hint: String,
    },
    #[error("the inference engine failed: {0}")]
    Engine(String),
    #[error("the node sent an answer this client does not understand: {0}")]
    Malformed(String),
    #[error("dispute {dispute} is still open after {waited_s} s")]
    DisputeTimeout { dispute: u64, waited_s: u64 },
}

impl From<surety_infer::InferError> for JobError {
    fn from(error: surety_infer::InferError) -> Self {
        JobError::Engine(error.to_string())
    }
}

#[derive(Subcommand)]
pub(crate) enum JobCommand {
    /// Submit an inference job (the fee is escrowed); prints its id.
    Submit(SubmitArgs),
    /// A job's status, assignments, audit claim window, audits and dispute.
    Status {
        job: String,
        #[command(flatten)]
        node: Node,
    },
    /// A job's result: finality with its proof, the output hash and the output values.
    Result {
        job: String,
        #[command(flatten)]
        node: Node,
    },
}

pub(crate) fn run(json: bool, command: &JobCommand) -> Result<(), CliError> {
    match command {
        JobCommand::Submit(args) => submit::submit_job(json, args),
        JobCommand::Status { job, node } => {
            let client = rpc::Client::new(&node.rpc);
            let answer = client.job(&parse_job(job)?)?;
            let dispute = match dispute_of_job(&answer.job) {
                Some(number) => Some(client.dispute(number)?.dispute),
                None => None,
            };
            if json {
                let status = serde_json::json!({ "job": answer.job, "final": answer.is_final, "dispute": dispute });
                println!("{status}");
            } else {
                println!("{}", render::status_text(&answer.job, dispute.as_ref()));
            }
            Ok(())
        }
        JobCommand::Result { job, node } => {
            let answer = rpc::Client::new(&node.rpc).job(&parse_job(job)?)?;
            render::print_result(json, &render::result_view(&answer));
            Ok(())
        }
    }
}

fn parse_job(text: &str) -> Result<JobId, JobError> {
    JobId::from_hex(text).map_err(|e| JobError::BadId {
        what: "job",
        text: text.to_string(),
        reason: e.to_string(),
    })
}

fn parse_model(text: &str) -> Result<ModelId, JobError> {
    ModelId::from_hex(text).map_err(|e| JobError::BadId {
        what: "model",
        text: text.to_string(),
        reason: e.to_string(),
    })
}

fn parse_operator(text: &str) -> Result<OperatorId, JobError> {
    OperatorId::from_hex(text.strip_prefix("acc_").unwrap_or(text)).map_err(|e| JobError::BadId {
        what: "operator",
        text: text.to_string(),
        reason: e.to_string(),
    })
}

/// Human progress lines go to stderr, so stdout holds the result alone.
fn progress(json: bool, line: &str) {
    if !json {
        eprintln!("{line}");
    }
}

/// Wait for `hash` to be in a block; the block's height, or the receipt's error.
fn committed(submitter: &Submitter, hash: &Hash) -> Result<u64, CliError> {
    let landed = match submitter.landed(hash, Instant::now(), TX_WAIT_MS_MAX) {
        Ok(Some(landed)) => landed,
        Ok(None) => return Err(JobError::TxTimeout { hash: *hash }.into()),
        Err(RpcError::Refused { status: 404, .. }) => {
            return Err(JobError::TxDropped { hash: *hash }.into())
        }
        Err(error) => return Err(error.into()),
    };
    match landed.receipt.error {
        Some(error) => Err(JobError::TxFailed {
            hash: *hash,
            height: landed.height.get(),
            error,
        }
        .into()),
        None => Ok(landed.height.get()),
    }
}

/// The dispute over a job's result, open or last opened, if any: the job's open one, or the
/// latest an audit opened (several auditors may each have disagreed).
fn dispute_of_job(job: &Job) -> Option<u64> {
    if let JobStatus::Disputed { dispute } = &job.status {
        return Some(*dispute);
    }
    job.audits
        .iter()
        .filter_map(|a| match a.outcome {
            AuditOutcome::Disputed { dispute } => Some(dispute),
            _ => None,
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_with_or_without_their_prefix_and_bad_ones_name_themselves() {
        let hex = "11".repeat(32);
        assert_eq!(
            parse_job(&format!("job_{hex}")).unwrap(),
            parse_job(&hex).unwrap()
        );
        assert_eq!(
            parse_operator(&format!("acc_{hex}")).unwrap(),
            parse_operator(&format!("op_{hex}")).unwrap()
        );
        let error = parse_model("model_xyz").unwrap_err().to_string();
        assert!(error.starts_with("model \"model_xyz\""), "{error}");
    }
}
