//! `surety job …` and `surety challenge`: the inference market from a client's side (DESIGN §5,
//! docs/market.md). A client submits a job and follows it to its final result, with the job
//! record checked against the certified state root; anyone may re-execute a result and, if it
//! is wrong, challenge it with a bond and play the bisection dispute from its own trace.
//!
//! It decides nothing the ledger decides: transactions are the ledger's types, signed here and
//! judged by the node. The challenger always computes: it runs the model with the same engine
//! and the same helpers as the operator worker (`surety_node::worker`), never takes anyone's
//! word for a hash.

use crate::{keys, rpc, CliError, KeyDir, Node};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use surety_infer::{Activation, Architecture, Executor, Model};
use surety_ledger::disputes::{Challenge, Dispute, Outcome, Party, Phase};
use surety_ledger::jobs::{Assignment, Audit, AuditOutcome, Job, JobInput, JobStatus, SubmitJob};
use surety_ledger::models::msg::FileKind;
use surety_ledger::tx::Msg;
use surety_node::worker::{self, Execution, WorkerBehaviour};
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, Hash, JobId, ModelId, OperatorId, SigningKey};

/// Longest wait for a submitted transaction to land in a block.
const TX_WAIT_MS_MAX: u64 = 30_000;
/// Pause between polls of a transaction.
const TX_POLL_MS: u64 = 100;
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
pub enum JobError {
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
pub enum JobCommand {
    /// Submit an inference job (the fee is escrowed); prints its id.
    Submit(SubmitArgs),
    /// A job's status, assignments, audit and dispute.
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

#[derive(Args)]
#[command(group(ArgGroup::new("input").required(true).args(["text", "activation_file"])))]
pub struct SubmitArgs {
    /// The model to run (model_… or hex).
    #[arg(long)]
    model: String,
    /// Text input, tokenised by the ledger with the model's tokenizer.
    #[arg(long)]
    text: Option<String>,
    /// A borsh-encoded activation (for models that take no text).
    #[arg(long)]
    activation_file: Option<PathBuf>,
    /// Fee for the job (all replicas together), escrowed until the result is final.
    #[arg(long, default_value_t = 5_000)]
    fee: u128,
    /// Operators that compute the job independently.
    #[arg(long, default_value_t = 1)]
    replicas: u32,
    /// Blocks each assigned operator has to commit its result.
    #[arg(long, default_value_t = 20)]
    deadline_blocks: u64,
    /// Transaction fee, in base units.
    #[arg(long, default_value_t = 1_000)]
    tx_fee: u128,
    /// Name of the signing key (the client, who pays).
    #[arg(long)]
    key: String,
    /// Wait for the transaction's block, then for the job to be final, and print its result.
    #[arg(long)]
    wait: bool,
    /// Longest wait for the job with --wait, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout_s: u64,
    #[command(flatten)]
    dir: KeyDir,
    #[command(flatten)]
    node: Node,
}

#[derive(Args)]
pub struct ChallengeArgs {
    /// The job whose result to check.
    job: String,
    /// The operator whose result to check (op_… or hex).
    #[arg(long)]
    operator: String,
    /// Name of the signing key (the challenger, who puts up the bond).
    #[arg(long)]
    key: String,
    /// Directory with the model's files (`model.safetensors`, `config.json`,
    /// `tokenizer.json`); without it the model is downloaded from the node and checked.
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// The model's registered name, for a BERT model loaded from --model-dir when the node
    /// cannot say it (defaults to the directory's name).
    #[arg(long)]
    model_name: Option<String>,
    /// Engine threads (the result does not depend on them).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Transaction fee of each move, in base units.
    #[arg(long, default_value_t = 1_000)]
    tx_fee: u128,
    /// Longest wait for the dispute to be resolved, in seconds.
    #[arg(long, default_value_t = 3_600)]
    timeout_s: u64,
    #[command(flatten)]
    dir: KeyDir,
    #[command(flatten)]
    node: Node,
}

pub fn run(json: bool, command: &JobCommand) -> Result<(), CliError> {
    match command {
        JobCommand::Submit(args) => submit_job(json, args),
        JobCommand::Status { job, node } => {
            let client = rpc::Client::new(&node.rpc);
            let id = parse_job(job)?;
            let answer = client.get(&format!("/jobs/{}", id.to_hex()))?;
            let record = job_of(&answer)?;
            let dispute = match dispute_of_job(&record) {
                Some(number) => Some(fetch_dispute(&client, number)?),
                None => None,
            };
            if json {
                println!(
                    "{}",
                    json!({ "job": answer["job"], "final": answer["final"], "dispute": dispute })
                );
            } else {
                println!("{}", status_text(&record, dispute.as_ref()));
            }
            Ok(())
        }
        JobCommand::Result { job, node } => {
            let client = rpc::Client::new(&node.rpc);
            let id = parse_job(job)?;
            let answer = client.get(&format!("/jobs/{}", id.to_hex()))?;
            let view = result_view(&answer)?;
            print_result(json, &view);
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

/// The job input `args` asks for: text as is, an activation file checked to decode.
fn job_input(text: Option<&str>, file: Option<&Path>) -> Result<JobInput, JobError> {
    match (text, file) {
        (Some(text), None) => {
            if text.is_empty() {
                return Err(JobError::Input("--text is empty".into()));
            }
            Ok(JobInput::Text(text.to_string()))
        }
        (None, Some(path)) => {
            let bytes = read_bounded(path, ACTIVATION_FILE_BYTES_MAX)?;
            Activation::from_bytes(&bytes).map_err(|e| {
                JobError::Input(format!(
                    "{} is not a borsh-encoded activation: {e}",
                    path.display()
                ))
            })?;
            Ok(JobInput::Activation(bytes))
        }
        _ => Err(JobError::Input(
            "give exactly one of --text and --activation-file".into(),
        )),
    }
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, JobError> {
    let unreadable = |e: std::io::Error| JobError::Input(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(JobError::Input(format!(
            "{} is larger than {limit} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// A signer talking to one node: builds, signs and submits transactions with the next nonce.
struct Submitter {
    client: rpc::Client,
    chain_id: String,
    key: SigningKey,
    account: AccountId,
    tx_fee: Amount,
}

impl Submitter {
    fn new(node: &Node, dir: &KeyDir, key: &str, tx_fee: u128) -> Result<Submitter, CliError> {
        let key = keys::load(&dir.keys, key)?;
        let client = rpc::Client::new(&node.rpc);
        let status = client.get("/status")?;
        let chain_id = status["chain_id"]
            .as_str()
            .ok_or_else(|| JobError::Malformed("node status has no chain id".into()))?
            .to_string();
        Ok(Submitter {
            account: AccountId::from_key(&key.verification_key()),
            client,
            chain_id,
            key,
            tx_fee: Amount(tx_fee),
        })
    }

    /// Sign `msg` with the next nonce (counting the signer's transactions in the node's
    /// mempool) and submit it; returns the transaction's hash.
    fn submit(&self, msg: Msg) -> Result<Hash, CliError> {
        let account = self.client.get(&format!("/account/{}", self.account))?;
        let nonce = account["next_nonce"]
            .as_u64()
            .or_else(|| account["nonce"].as_u64())
            .ok_or_else(|| JobError::Malformed("node returned no nonce".into()))?;
        let tx = Tx {
            chain_id: self.chain_id.clone(),
            signer: self.account,
            nonce,
            fee: self.tx_fee,
            msg,
        }
        .sign(&self.key);
        let hash = tx.hash();
        let bytes = surety_types::encoding::encode(&tx);
        self.client
            .post("/tx", &json!({ "tx": hex::encode(bytes) }))?;
        Ok(hash)
    }

    /// Wait for `hash` to be in a block; the block's height, or the receipt's error.
    fn committed(&self, hash: &Hash) -> Result<u64, CliError> {
        wait_committed(&self.client, hash)
    }
}

fn wait_committed(client: &rpc::Client, hash: &Hash) -> Result<u64, CliError> {
    let started = Instant::now();
    loop {
        let answer = match client.get(&format!("/tx/{}", hash.to_hex())) {
            Ok(answer) => answer,
            Err(rpc::RpcError::Refused { status: 404, .. }) => {
                return Err(JobError::TxDropped { hash: *hash }.into())
            }
            Err(error) => return Err(error.into()),
        };
        if answer["status"] == "committed" {
            let height = answer["height"].as_u64().unwrap_or_default();
            if let Some(error) = answer["receipt"]["error"].as_str() {
                return Err(JobError::TxFailed {
                    hash: *hash,
                    height,
                    error: error.to_string(),
                }
                .into());
            }
            return Ok(height);
        }
        if started.elapsed() > Duration::from_millis(TX_WAIT_MS_MAX) {
            return Err(JobError::TxTimeout { hash: *hash }.into());
        }
        std::thread::sleep(Duration::from_millis(TX_POLL_MS));
    }
}

fn submit_job(json: bool, args: &SubmitArgs) -> Result<(), CliError> {
    let msg = SubmitJob {
        model: parse_model(&args.model)?,
        input: job_input(args.text.as_deref(), args.activation_file.as_deref())?,
        max_fee: Amount(args.fee),
        deadline_blocks: args.deadline_blocks,
        replicas: args.replicas,
    };
    let submitter = Submitter::new(&args.node, &args.dir, &args.key, args.tx_fee)?;
    let hash = submitter.submit(Msg::SubmitJob(Box::new(msg)))?;
    let job = surety_ledger::jobs::job_id(&hash);
    if !args.wait {
        if json {
            println!("{}", json!({ "job": job, "tx": hash, "status": "pending" }));
        } else {
            println!("job: {job}\ntx: {hash}\nsubmitted; follow it with `surety job status {job}`");
        }
        return Ok(());
    }
    let height = submitter.committed(&hash)?;
    progress(json, &format!("job {job} submitted in block {height}"));
    let answer = wait_settled(json, &submitter.client, &job, args.timeout_s)?;
    print_result(json, &result_view(&answer)?);
    Ok(())
}

/// Human progress lines go to stderr, so stdout holds the result alone.
fn progress(json: bool, line: &str) {
    if !json {
        eprintln!("{line}");
    }
}

/// Poll `job` until it is final (its answer) or failed (an error), reporting status changes.
fn wait_settled(
    json: bool,
    client: &rpc::Client,
    job: &JobId,
    timeout_s: u64,
) -> Result<Value, CliError> {
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let answer = client.get(&format!("/jobs/{}", job.to_hex()))?;
        let record = job_of(&answer)?;
        let status = status_line(&record.status);
        if status != last {
            progress(json, &format!("job {job}: {status}"));
            last = status.clone();
        }
        match record.status {
            JobStatus::Final { .. } => return Ok(answer),
            JobStatus::Failed { reason } => {
                return Err(JobError::JobFailed { job: *job, reason }.into())
            }
            _ => {}
        }
        if started.elapsed() > Duration::from_secs(timeout_s) {
            return Err(JobError::WaitTimeout {
                job: *job,
                status,
                waited_s: timeout_s,
            }
            .into());
        }
        std::thread::sleep(Duration::from_millis(STATE_POLL_MS));
    }
}

/// The job record in a `GET /jobs/{id}` answer.
fn job_of(answer: &Value) -> Result<Job, JobError> {
    serde_json::from_value(answer["job"].clone())
        .map_err(|e| JobError::Malformed(format!("job record: {e}")))
}

fn fetch_dispute(client: &rpc::Client, number: u64) -> Result<Dispute, CliError> {
    let answer = client.get(&format!("/disputes/{number}"))?;
    Ok(serde_json::from_value(answer["dispute"].clone())
        .map_err(|e| JobError::Malformed(format!("dispute record: {e}")))?)
}

/// The dispute over a job's result, open or last opened, if any.
fn dispute_of_job(job: &Job) -> Option<u64> {
    match (&job.status, job.audit.as_ref().map(|a| &a.outcome)) {
        (JobStatus::Disputed { dispute }, _) => Some(*dispute),
        (_, Some(AuditOutcome::Disputed { dispute })) => Some(*dispute),
        _ => None,
    }
}

fn status_line(status: &JobStatus) -> String {
    match status {
        JobStatus::Queued => "queued (operators are drawn in the next block)".into(),
        JobStatus::Assigned => "assigned (operators are computing)".into(),
        JobStatus::Challengeable { until } => {
            format!("challengeable until height {until} (results are in and agree)")
        }
        JobStatus::Disputed { dispute } => format!("disputed (dispute {dispute})"),
        JobStatus::Final { height } => format!("final at height {height}"),
        JobStatus::Failed { reason } => format!("failed: {reason}"),
    }
}

fn assignment_line(assignment: &Assignment) -> String {
    let state = if assignment.missed {
        "missed its deadline (replaced)".to_string()
    } else {
        match &assignment.result {
            Some(result) => format!(
                "committed at height {} (output {})",
                result.committed, result.output_hash
            ),
            None => "not committed yet".to_string(),
        }
    };
    format!(
        "{}: assigned at {}, deadline {}, {state}",
        assignment.operator, assignment.assigned, assignment.deadline
    )
}

fn audit_line(audit: &Audit) -> String {
    let outcome = match &audit.outcome {
        AuditOutcome::Pending => format!("pending (deadline {})", audit.deadline),
        AuditOutcome::Agreed => "agreed".to_string(),
        AuditOutcome::Disputed { dispute } => format!("disagreed (dispute {dispute})"),
        AuditOutcome::Missed => "missed (the job went on without it)".to_string(),
    };
    format!("{} audits {}: {outcome}", audit.auditor, audit.target)
}

fn party_name(party: Party) -> &'static str {
    match party {
        Party::Defendant => "the defendant",
        Party::Challenger => "the challenger",
    }
}

fn outcome_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::ChallengerRight => {
            "challenger right: the defendant's result is slashed, the job refunded, the bond returned"
                .into()
        }
        Outcome::DefendantRight => {
            "defendant right: the result stands, the challenger's bond is forfeited".into()
        }
        Outcome::BothWrong => {
            "both wrong: the referee's step matched neither side; both lose".into()
        }
        Outcome::Timeout { silent } => {
            let silent: Vec<&str> = silent.iter().map(|p| party_name(*p)).collect();
            format!("timeout: {} did not move in time and lost", silent.join(" and "))
        }
    }
}

fn phase_line(dispute: &Dispute) -> String {
    match &dispute.phase {
        Phase::Bisect {
            index,
            defendant,
            challenger,
            deadline,
        } => {
            let seen = |hash: &Option<Hash>| match hash {
                Some(hash) => format!("revealed {hash}"),
                None => "waiting".to_string(),
            };
            format!(
                "bisecting: leaf {index} asked by height {deadline} (defendant {}, challenger {})",
                seen(defendant),
                seen(challenger)
            )
        }
        Phase::AwaitInput { deadline } => format!(
            "step {} isolated: waiting for the referee's input by height {deadline}",
            dispute.disagreed
        ),
        Phase::Resolved { outcome, height } => {
            format!("resolved at height {height}: {}", outcome_line(outcome))
        }
    }
}

fn dispute_text(dispute: &Dispute) -> String {
    let challenger = match &dispute.challenger {
        surety_ledger::disputes::Challenger::Operator(operator) => format!("operator {operator}"),
        surety_ledger::disputes::Challenger::Account(account) => {
            format!("account {account} (bond {})", dispute.bond)
        }
    };
    format!(
        "dispute {}: {} against {challenger}\n  agreed up to leaf {} of {}, disagree at leaf {}\n  {}",
        dispute.id,
        dispute.defendant,
        dispute.agreed,
        dispute.steps,
        dispute.disagreed,
        phase_line(dispute)
    )
}

fn status_text(job: &Job, dispute: Option<&Dispute>) -> String {
    let mut lines = vec![
        format!("job {}", job.id),
        format!("status: {}", status_line(&job.status)),
        format!("model: {}", job.model),
        format!("client: {}", job.client),
        format!(
            "fee {} for {} replica(s), deadline {} blocks, submitted at height {}",
            job.fee, job.replicas, job.deadline_blocks, job.submitted
        ),
    ];
    if job.assignments.is_empty() {
        lines.push("assignments: (none yet)".into());
    } else {
        lines.push("assignments:".into());
        lines.extend(
            job.assignments
                .iter()
                .map(|a| format!("  {}", assignment_line(a))),
        );
    }
    lines.push(match &job.audit {
        Some(audit) => format!("audit: {}", audit_line(audit)),
        None => "audit: none".into(),
    });
    if let Some(dispute) = dispute {
        lines.push(dispute_text(dispute));
    }
    lines.join("\n")
}

/// What `job result` shows, from a `GET /jobs/{id}` answer: finality, the proof of the job
/// record (checked here against the state root the node names), the output and its values.
fn result_view(answer: &Value) -> Result<Value, JobError> {
    let job = job_of(answer)?;
    let proof = &answer["proof"];
    let state_root = proof["state_root"]
        .as_str()
        .and_then(|text| Hash::from_hex(text).ok());
    // The state proof is of the job record's borsh bytes, the ledger's own encoding.
    let verified = match (
        state_root,
        serde_json::from_value::<surety_ledger::smt::StateProof>(proof["state_proof"].clone()),
    ) {
        (Some(root), Ok(state_proof)) => {
            let key = surety_ledger::store::key("jobs/job", &[&job.id.0]);
            let value = surety_types::encoding::encode(&job);
            state_proof.verify(&root, &key, Some(&value)).is_ok()
        }
        _ => false,
    };
    let signatures = proof["certificate"]["signatures"].as_array().map(Vec::len);
    let result = job.result();
    // The output the node decoded must be the committed one.
    let output_checked = result.is_some_and(|result| {
        Activation::from_bytes(&result.output).is_ok_and(|a| a.hash() == result.output_hash)
    });
    let final_height = match job.status {
        JobStatus::Final { height } => Some(height),
        _ => None,
    };
    Ok(json!({
        "job": job.id,
        "model": job.model,
        "status": job.status,
        "final": job.is_final(),
        "final_height": final_height,
        "output_hash": result.map(|r| r.output_hash),
        "output_checked": output_checked,
        "output": answer["output"],
        "proof": {
            "height": proof["height"],
            "state_root": proof["state_root"],
            "state_proof_verified": verified,
            "certificate_signatures": signatures,
        },
    }))
}

fn print_result(json: bool, view: &Value) {
    if json {
        println!("{view}");
    } else {
        println!("{}", result_text(view));
    }
}

fn result_text(view: &Value) -> String {
    let status: JobStatus = match serde_json::from_value(view["status"].clone()) {
        Ok(status) => status,
        Err(_) => return crate::human(view, 0),
    };
    let mut lines = vec![format!("job {}", view["job"].as_str().unwrap_or_default())];
    if view["final"] != true {
        lines.push(format!("status: {}", status_line(&status)));
        lines.push("result: not final".into());
        return lines.join("\n");
    }
    lines.push(format!("status: {}", status_line(&status)));
    let proof = &view["proof"];
    let signatures = match proof["certificate_signatures"].as_u64() {
        Some(count) => format!("{count} certificate signature(s)"),
        None => "no certificate yet".into(),
    };
    lines.push(format!(
        "proof: job record {} against state root {} at height {}, {signatures}",
        if proof["state_proof_verified"] == true {
            "proven"
        } else {
            "NOT proven"
        },
        proof["state_root"].as_str().unwrap_or("?"),
        proof["height"],
    ));
    lines.push(format!(
        "output hash: {}{}",
        view["output_hash"].as_str().unwrap_or("?"),
        if view["output_checked"] == true {
            " (checked)"
        } else {
            " (output does NOT match it)"
        }
    ));
    for slot in view["output"]["slots"].as_array().into_iter().flatten() {
        lines.push(slot_text(slot));
    }
    lines.join("\n")
}

/// One output slot: its name, type, dimension and first values.
fn slot_text(slot: &Value) -> String {
    let shape: Vec<u64> = slot["shape"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    let dimension: u64 = shape.iter().product();
    let name = slot["name"].as_str().unwrap_or("?");
    let dtype = slot["dtype"].as_str().unwrap_or("?");
    let values = match slot["values"].as_array() {
        None => "(too large to show; see the output hex in `surety job status --json`)".into(),
        Some(values) => {
            let shown: Vec<String> = values
                .iter()
                .take(VALUES_SHOWN_MAX)
                .map(|v| match v.as_f64() {
                    Some(x) if v.is_f64() => format!("{x:.6}"),
                    _ => v.to_string(),
                })
                .collect();
            let more = if values.len() > VALUES_SHOWN_MAX {
                ", …"
            } else {
                ""
            };
            format!("[{}{more}]", shown.join(", "))
        }
    };
    format!("{name} ({dtype} {shape:?}, dimension {dimension}): {values}")
}

// ---------------------------------------------------------------------------------------------
// challenge

/// One line of the challenge's story: human text, or a JSON line for scripts.
fn event(json: bool, value: Value, text: &str) {
    if json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

pub fn run_challenge(json: bool, args: &ChallengeArgs) -> Result<(), CliError> {
    let job_id = parse_job(&args.job)?;
    let operator = parse_operator(&args.operator)?;
    let submitter = Submitter::new(&args.node, &args.dir, &args.key, args.tx_fee)?;
    let client = &submitter.client;
    let answer = client.get(&format!("/jobs/{}", job_id.to_hex()))?;
    let job = job_of(&answer)?;
    let height = client.get("/status")?["height"]
        .as_u64()
        .unwrap_or_default();
    match job.status {
        JobStatus::Challengeable { until } if height <= until.0 => {}
        ref status => {
            return Err(JobError::NotChallengeable {
                job: job_id,
                status: status_line(status),
            }
            .into())
        }
    }
    let result = job
        .assignment_of(&operator)
        .and_then(|a| a.result.clone())
        .ok_or(JobError::NoResult {
            job: job_id,
            operator,
        })?;

    let model = load_model(json, &args.node.rpc, &job.model, args)?;
    let executor = Executor::new(args.threads).map_err(JobError::from)?;
    let execution = worker::execute(model, &executor, &job, &WorkerBehaviour::Honest)
        .map_err(JobError::from)?;
    if execution.trace.len() as u64 != job.steps {
        return Err(JobError::Engine(format!(
            "this run has {} steps, the job's model has {}",
            execution.trace.len(),
            job.steps
        ))
        .into());
    }
    let output_hash = execution.output.hash();
    let trace_root = execution.trace.root();
    if output_hash == result.output_hash {
        event(
            json,
            json!({ "event": "agreed", "job": job_id, "operator": operator, "output_hash": output_hash }),
            &format!(
                "the result of {operator} agrees with this computation (output {output_hash}); no challenge"
            ),
        );
        return Ok(());
    }
    event(
        json,
        json!({ "event": "differs", "job": job_id, "operator": operator, "theirs": result.output_hash, "ours": output_hash }),
        &format!(
            "the result of {operator} differs: its output is {}, this computation gives {output_hash}",
            result.output_hash
        ),
    );
    let last = execution.trace.len() - 1;
    let output_proof = execution
        .trace
        .proof(last)
        .ok_or_else(|| JobError::Engine("the trace has no last leaf".into()))?;
    let hash = submitter.submit(Msg::Challenge(Box::new(Challenge {
        job: job_id,
        operator,
        output_hash,
        trace_root,
        output_proof,
    })))?;
    let height = submitter.committed(&hash)?;
    let job = job_of(&client.get(&format!("/jobs/{}", job_id.to_hex()))?)?;
    let dispute = match job.status {
        JobStatus::Disputed { dispute } => dispute,
        ref status => {
            return Err(JobError::Malformed(format!(
                "the challenge is in block {height} but the job is {}",
                status_line(status)
            ))
            .into())
        }
    };
    event(
        json,
        json!({ "event": "challenged", "tx": hash, "height": height, "dispute": dispute }),
        &format!("challenged in block {height} (bond taken): dispute {dispute}"),
    );
    play_dispute(
        json,
        &submitter,
        dispute,
        &job,
        &execution,
        &executor,
        args.timeout_s,
    )
}

/// Play `number` as the challenger until it is resolved: reveal our leaf at each bisection
/// index, hand the referee its input once a step is isolated, and report each move.
fn play_dispute(
    json: bool,
    submitter: &Submitter,
    number: u64,
    job: &Job,
    execution: &Execution,
    executor: &Executor,
    timeout_s: u64,
) -> Result<(), CliError> {
    let started = Instant::now();
    let mut revealed: BTreeSet<u64> = BTreeSet::new();
    let mut seen_defendant: BTreeSet<u64> = BTreeSet::new();
    let mut interval = None;
    let mut uploaded = false;
    let mut announced_referee = false;
    loop {
        let dispute = fetch_dispute(&submitter.client, number)?;
        if interval != Some((dispute.agreed, dispute.disagreed)) {
            interval = Some((dispute.agreed, dispute.disagreed));
            event(
                json,
                json!({ "event": "interval", "dispute": number, "agreed": dispute.agreed, "disagreed": dispute.disagreed, "steps": dispute.steps }),
                &format!(
                    "dispute {number}: agree before leaf {}, disagree at leaf {} (of {})",
                    dispute.agreed, dispute.disagreed, dispute.steps
                ),
            );
        }
        match &dispute.phase {
            Phase::Resolved { outcome, height } => {
                let won = matches!(outcome, Outcome::ChallengerRight)
                    || matches!(outcome, Outcome::Timeout { silent } if !silent.contains(&Party::Challenger));
                event(
                    json,
                    json!({ "event": "resolved", "dispute": number, "height": height, "outcome": outcome, "challenger_won": won }),
                    &format!(
                        "dispute {number} resolved at height {height}: {}",
                        outcome_line(outcome)
                    ),
                );
                return Ok(());
            }
            Phase::Bisect {
                index, defendant, ..
            } => {
                if let Some(theirs) = defendant {
                    if seen_defendant.insert(*index) {
                        let ours = execution.trace.step_hashes.get(*index as usize);
                        let agree = ours == Some(theirs);
                        event(
                            json,
                            json!({ "event": "defendant_revealed", "index": index, "step_hash": theirs, "agrees": agree }),
                            &format!(
                                "defendant revealed leaf {index}: {theirs} ({})",
                                if agree {
                                    "agrees with ours"
                                } else {
                                    "differs from ours"
                                }
                            ),
                        );
                    }
                }
                if !revealed.contains(index) {
                    if let Some(reveal) =
                        worker::reveal_for(&dispute, &submitter.account, &execution.trace)
                    {
                        let step_hash = reveal.step_hash;
                        let hash = submitter.submit(Msg::RevealStep(Box::new(reveal)))?;
                        let height = submitter.committed(&hash)?;
                        revealed.insert(*index);
                        event(
                            json,
                            json!({ "event": "revealed", "index": index, "step_hash": step_hash, "height": height }),
                            &format!("revealed leaf {index}: {step_hash} (block {height})"),
                        );
                    }
                }
            }
            Phase::AwaitInput { .. } => {
                let step = dispute.isolated_step().unwrap_or(dispute.disagreed);
                if step == 0 {
                    if !announced_referee {
                        announced_referee = true;
                        event(
                            json,
                            json!({ "event": "isolated", "step": 0 }),
                            "step 0 isolated: the referee runs it on the job input",
                        );
                    }
                } else if !uploaded {
                    let input = Activation::from_bytes(&job.input).map_err(JobError::from)?;
                    let activation = execution
                        .activation_before(executor, &input, step as usize)
                        .map_err(JobError::from)?;
                    let uploads = worker::input_uploads(&dispute, &activation);
                    let count = uploads.len();
                    let hashes = uploads
                        .into_iter()
                        .map(|upload| submitter.submit(Msg::ProvideStepInput(Box::new(upload))))
                        .collect::<Result<Vec<_>, _>>()?;
                    for hash in &hashes {
                        submitter.committed(hash)?;
                    }
                    uploaded = true;
                    let bytes = activation.to_bytes().len();
                    event(
                        json,
                        json!({ "event": "input_uploaded", "step": step, "bytes": bytes, "transactions": count }),
                        &format!(
                            "step {step} isolated: handed the referee the activation before it ({bytes} bytes in {count} transaction(s))"
                        ),
                    );
                }
            }
        }
        if started.elapsed() > Duration::from_secs(timeout_s) {
            return Err(JobError::DisputeTimeout {
                dispute: number,
                waited_s: timeout_s,
            }
            .into());
        }
        std::thread::sleep(Duration::from_millis(STATE_POLL_MS));
    }
}

// ---------------------------------------------------------------------------------------------
// the model, from a directory or from the node

/// The job's model: its registration from the node (manifest checked to hash to the model
/// id), its files from `--model-dir` or downloaded from the node, every file checked against
/// its registered chunks root, built by the same loader the ledger activates models with.
fn load_model(
    json: bool,
    rpc_url: &str,
    expected: &ModelId,
    args: &ChallengeArgs,
) -> Result<Arc<Model>, CliError> {
    let client = rpc::Client::new(rpc_url);
    let (manifest, commitments) = crate::model::registration(&client, expected)?;
    if let Architecture::Llama(_) = manifest.architecture {
        return Err(JobError::ModelUnavailable(
            "generation (Llama) models are not served by the market yet".into(),
        )
        .into());
    }
    let contents = match &args.model_dir {
        Some(dir) => {
            let mut contents = Vec::new();
            for (index, commitment) in commitments.iter().enumerate() {
                let bytes = read_bounded(
                    &dir.join(crate::model::file_name(commitment.kind)),
                    MODEL_FILE_BYTES_MAX,
                )?;
                crate::model::check_file(index, commitment, &bytes)?;
                contents.push(bytes);
            }
            contents
        }
        None => {
            progress(
                json,
                &format!("downloading model {expected} ({} files)", commitments.len()),
            );
            crate::model::download_files(&client, expected, &commitments)?
        }
    };
    let files: Vec<(FileKind, &[u8])> = commitments
        .iter()
        .zip(&contents)
        .map(|(c, b)| (c.kind, b.as_slice()))
        .collect();
    let model = surety_ledger::models::build_model(&manifest, &files)
        .map_err(|reason| JobError::ModelUnavailable(format!("the model's files: {reason}")))?;
    if model.model_id() != *expected {
        return Err(JobError::ModelMismatch {
            loaded: model.model_id(),
            expected: *expected,
            hint: "these are not the job's model files".into(),
        }
        .into());
    }
    Ok(Arc::new(model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use surety_infer::Tensor;
    use surety_ledger::jobs::JobResult;
    use surety_types::Height;

    fn parse(args: &[&str]) -> Result<crate::Cli, clap::Error> {
        crate::Cli::try_parse_from(std::iter::once("surety").chain(args.iter().copied()))
    }

    #[test]
    fn submit_takes_exactly_one_input_and_has_sane_defaults() {
        let base = ["job", "submit", "--model", "model_00", "--key", "alice"];
        assert!(parse(&base).is_err(), "no input");
        let both = [&base[..], &["--text", "hi", "--activation-file", "a.bin"]].concat();
        assert!(parse(&both).is_err(), "two inputs");
        let cli = parse(&[&base[..], &["--text", "hi"]].concat()).unwrap();
        let crate::Command::Job(JobCommand::Submit(args)) = cli.command else {
            panic!("not a submit");
        };
        assert_eq!(
            (args.fee, args.replicas, args.deadline_blocks, args.wait),
            (5_000, 1, 20, false)
        );
        assert!(
            parse(&["challenge", "job_00", "--key", "alice"]).is_err(),
            "no operator"
        );
    }

    #[test]
    fn inputs_are_checked_before_anything_is_signed() {
        assert!(matches!(job_input(Some(""), None), Err(JobError::Input(_))));
        assert_eq!(
            job_input(Some("hello"), None).unwrap(),
            JobInput::Text("hello".into())
        );
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.bin");
        std::fs::write(&garbage, b"not an activation").unwrap();
        let error = job_input(None, Some(&garbage)).unwrap_err().to_string();
        assert!(error.contains("not a borsh-encoded activation"), "{error}");
        let missing = job_input(None, Some(&dir.path().join("missing.bin")))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("missing.bin"), "{missing}");
        let mut activation = Activation::new();
        activation.set("input", Tensor::f32(vec![2], vec![1.0, 2.0]));
        let good = dir.path().join("good.bin");
        std::fs::write(&good, activation.to_bytes()).unwrap();
        assert_eq!(
            job_input(None, Some(&good)).unwrap(),
            JobInput::Activation(activation.to_bytes())
        );
    }

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

    fn job(status: JobStatus, output: Option<&Activation>) -> Job {
        Job {
            id: JobId([7; 32]),
            client: AccountId([1; 32]),
            model: ModelId([2; 32]),
            input: vec![],
            input_hash: Hash([0; 32]),
            steps: 4,
            fee: Amount(5_000),
            replicas: 1,
            deadline_blocks: 20,
            submitted: Height(3),
            assignments: vec![Assignment {
                operator: OperatorId([9; 32]),
                assigned: Height(4),
                deadline: Height(24),
                result: output.map(|output| JobResult {
                    output: output.to_bytes(),
                    output_hash: output.hash(),
                    trace_root: Hash([5; 32]),
                    committed: Height(6),
                }),
                missed: false,
            }],
            reassignments: 0,
            audit: None,
            status,
        }
    }

    fn embedding(dimension: usize) -> Activation {
        let mut activation = Activation::new();
        let values = (0..dimension).map(|i| i as f32 / 4.0).collect();
        activation.set("embedding", Tensor::f32(vec![dimension], values));
        activation
    }

    #[test]
    fn status_shows_assignments_audit_and_the_dispute() {
        let text = status_text(&job(JobStatus::Assigned, None), None);
        assert!(text.contains("status: assigned"), "{text}");
        assert!(text.contains("deadline 24, not committed yet"), "{text}");
        assert!(text.contains("audit: none"), "{text}");
        let mut disputed = job(JobStatus::Disputed { dispute: 3 }, Some(&embedding(4)));
        disputed.audit = Some(Audit {
            auditor: OperatorId([8; 32]),
            target: OperatorId([9; 32]),
            deadline: Height(30),
            output_hash: None,
            trace_root: None,
            outcome: AuditOutcome::Disputed { dispute: 3 },
        });
        assert_eq!(dispute_of_job(&disputed), Some(3));
        let text = status_text(&disputed, None);
        assert!(text.contains("committed at height 6"), "{text}");
        assert!(text.contains("disagreed (dispute 3)"), "{text}");
    }

    #[test]
    fn a_final_result_shows_the_dimension_and_the_first_values_only() {
        let output = embedding(384);
        let record = job(JobStatus::Final { height: Height(30) }, Some(&output));
        let answer = json!({
            "job": record,
            "final": true,
            "output": surety_node::api::ActivationView::of(&output),
            "proof": { "height": 31, "state_root": Hash([3; 32]), "certificate": { "signatures": [1, 2, 3] } },
        });
        let view = result_view(&answer).unwrap();
        assert_eq!(view["final_height"], 30);
        assert_eq!(view["output_checked"], true);
        assert_eq!(view["proof"]["certificate_signatures"], 3);
        // No state proof in this answer: it is not claimed proven.
        assert_eq!(view["proof"]["state_proof_verified"], false);
        assert_eq!(
            view["output"]["slots"][0]["values"]
                .as_array()
                .unwrap()
                .len(),
            384
        );
        let text = result_text(&view);
        assert!(text.contains("final at height 30"), "{text}");
        assert!(text.contains("3 certificate signature(s)"), "{text}");
        assert!(text.contains("NOT proven"), "{text}");
        assert!(
            text.contains("embedding (F32 [384], dimension 384): [0.000000, 0.250000, 0.500000"),
            "{text}"
        );
        assert!(text.contains("1.750000, …]"), "{text}");
        assert!(!text.contains("2.000000"), "only the first values: {text}");
    }

    #[test]
    fn a_result_that_is_not_final_says_so() {
        let record = job(
            JobStatus::Challengeable { until: Height(40) },
            Some(&embedding(2)),
        );
        let view =
            result_view(&json!({ "job": record, "final": false, "output": null, "proof": {} }))
                .unwrap();
        let text = result_text(&view);
        assert!(text.contains("challengeable until height 40"), "{text}");
        assert!(text.ends_with("result: not final"), "{text}");
    }

    #[test]
    fn outcomes_name_the_side_that_lost() {
        let text = outcome_line(&Outcome::Timeout {
            silent: vec![Party::Defendant],
        });
        assert_eq!(text, "timeout: the defendant did not move in time and lost");
        assert!(outcome_line(&Outcome::DefendantRight).contains("bond is forfeited"));
    }
}
