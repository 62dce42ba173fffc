//! `surety challenge`: re-execute a job's result with the same engine and helpers as the
//! operator worker and, if it differs, challenge it with a bond and play the bisection dispute
//! as the challenger from this computation's own trace.

use super::render::{outcome_line, status_line};
use super::submit::read_bounded;
use super::{committed, parse_job, parse_operator, progress, JobError};
use super::{MODEL_FILE_BYTES_MAX, STATE_POLL_MS};
use crate::rpc::Client;
use crate::submit::Submitter;
use crate::{CliError, KeyDir, Node};
use clap::Args;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use surety_infer::{Activation, Architecture, Executor, Model};
use surety_ledger::disputes::{Challenge, Dispute, Outcome, Party, Phase};
use surety_ledger::jobs::{Job, JobResult, JobStatus};
use surety_ledger::models::msg::FileKind;
use surety_ledger::tx::Msg;
use surety_node::worker::{self, Execution, WorkerBehaviour};
use surety_types::{JobId, ModelId, OperatorId};

#[derive(Args)]
pub(crate) struct ChallengeArgs {
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

/// One line of the challenge's story: human text, or a JSON line for scripts.
fn event(json: bool, value: Value, text: &str) {
    if json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

pub(crate) fn run_challenge(json: bool, args: &ChallengeArgs) -> Result<(), CliError> {
    let job_id = parse_job(&args.job)?;
    let operator = parse_operator(&args.operator)?;
    let submitter = Submitter::new(&args.node.rpc, &args.dir.keys, &args.key, args.tx_fee)?;
    let (job, result) = challengeable_result(&submitter.client, &job_id, &operator)?;
    let model = load_model(json, &args.node.rpc, &job.model, args)?;
    let executor = Executor::new(args.threads).map_err(JobError::from)?;
    let execution = recompute(model, &executor, &job)?;
    let output_hash = execution.output.hash();
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
    let (dispute, job) = challenge(json, &submitter, &job_id, &operator, &execution)?;
    let mut play = Play::new(json, &submitter, dispute, &job, &execution, &executor);
    play.until_resolved(args.timeout_s)
}

/// The job and `operator`'s standing result, if the job is challengeable now.
fn challengeable_result(
    client: &Client,
    job_id: &JobId,
    operator: &OperatorId,
) -> Result<(Job, JobResult), CliError> {
    let job = client.job(job_id)?.job;
    let height = client.status()?.height.get();
    match job.status {
        JobStatus::Challengeable { until } if height <= until.get() => {}
        ref status => {
            return Err(JobError::NotChallengeable {
                job: *job_id,
                status: status_line(status),
            }
            .into())
        }
    }
    let result = job
        .assignment_of(operator)
        .and_then(|a| a.result.clone())
        .ok_or(JobError::NoResult {
            job: *job_id,
            operator: *operator,
        })?;
    Ok((job, result))
}

/// Run the job ourselves, as an honest operator would.
fn recompute(model: Arc<Model>, executor: &Executor, job: &Job) -> Result<Execution, CliError> {
    let execution =
        worker::execute(model, executor, job, &WorkerBehaviour::Honest).map_err(JobError::from)?;
    if execution.trace.len() as u64 != job.steps {
        return Err(JobError::Engine(format!(
            "this run has {} steps, the job's model has {}",
            execution.trace.len(),
            job.steps
        ))
        .into());
    }
    Ok(execution)
}

/// Submit the challenge (the bond is taken); the dispute it opened and the job now.
fn challenge(
    json: bool,
    submitter: &Submitter,
    job_id: &JobId,
    operator: &OperatorId,
    execution: &Execution,
) -> Result<(u64, Job), CliError> {
    let last = execution.trace.len() - 1;
    let output_proof = execution
        .trace
        .proof(last)
        .ok_or_else(|| JobError::Engine("the trace has no last leaf".into()))?;
    let hash = submitter.submit(Msg::Challenge(Box::new(Challenge {
        job: *job_id,
        operator: *operator,
        output_hash: execution.output.hash(),
        trace_root: execution.trace.root(),
        output_proof,
    })))?;
    let height = committed(submitter, &hash)?;
    let job = submitter.client.job(job_id)?.job;
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
    Ok((dispute, job))
}

/// The challenger's side of one dispute: what it has revealed, seen and said so far.
struct Play<'a> {
    json: bool,
    submitter: &'a Submitter,
    number: u64,
    job: &'a Job,
    execution: &'a Execution,
    executor: &'a Executor,
    revealed: BTreeSet<u64>,
    seen_defendant: BTreeSet<u64>,
    interval: Option<(u64, u64)>,
    uploaded: bool,
    announced_referee: bool,
}

impl<'a> Play<'a> {
    fn new(
        json: bool,
        submitter: &'a Submitter,
        number: u64,
        job: &'a Job,
        execution: &'a Execution,
        executor: &'a Executor,
    ) -> Play<'a> {
        Play {
            json,
            submitter,
            number,
            job,
            execution,
            executor,
            revealed: BTreeSet::new(),
            seen_defendant: BTreeSet::new(),
            interval: None,
            uploaded: false,
            announced_referee: false,
        }
    }

    /// Play the dispute as the challenger until it is resolved: reveal our leaf at each
    /// bisection index, hand the referee its input once a step is isolated, and report each
    /// move.
    fn until_resolved(&mut self, timeout_s: u64) -> Result<(), CliError> {
        let started = Instant::now();
        loop {
            let dispute = self.submitter.client.dispute(self.number)?.dispute;
            self.report_interval(&dispute);
            match &dispute.phase {
                Phase::Resolved { outcome, height } => {
                    self.report_resolved(outcome, *height);
                    return Ok(());
                }
                Phase::Bisect {
                    index, defendant, ..
                } => {
                    if let Some(theirs) = defendant {
                        self.report_defendant(*index, theirs);
                    }
                    self.reveal(&dispute, *index)?;
                }
                Phase::AwaitInput { .. } => self.hand_input(&dispute)?,
            }
            if started.elapsed() > Duration::from_secs(timeout_s) {
                return Err(JobError::DisputeTimeout {
                    dispute: self.number,
                    waited_s: timeout_s,
                }
                .into());
            }
            std::thread::sleep(Duration::from_millis(STATE_POLL_MS));
        }
    }

    fn report_interval(&mut self, dispute: &Dispute) {
        if self.interval == Some((dispute.agreed, dispute.disagreed)) {
            return;
        }
        self.interval = Some((dispute.agreed, dispute.disagreed));
        let number = self.number;
        event(
            self.json,
            json!({ "event": "interval", "dispute": number, "agreed": dispute.agreed, "disagreed": dispute.disagreed, "steps": dispute.steps }),
            &format!(
                "dispute {number}: agree before leaf {}, disagree at leaf {} (of {})",
                dispute.agreed, dispute.disagreed, dispute.steps
            ),
        );
    }

    fn report_resolved(&self, outcome: &Outcome, height: surety_types::Height) {
        let number = self.number;
        let won = matches!(outcome, Outcome::ChallengerRight)
            || matches!(outcome, Outcome::Timeout { silent } if !silent.contains(&Party::Challenger));
        event(
            self.json,
            json!({ "event": "resolved", "dispute": number, "height": height, "outcome": outcome, "challenger_won": won }),
            &format!(
                "dispute {number} resolved at height {height}: {}",
                outcome_line(outcome)
            ),
        );
    }

    fn report_defendant(&mut self, index: u64, theirs: &surety_types::Hash) {
        if !self.seen_defendant.insert(index) {
            return;
        }
        let ours = self.execution.trace.step_hashes.get(index as usize);
        let agree = ours == Some(theirs);
        event(
            self.json,
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

    /// Reveal our leaf at bisection `index`, once.
    fn reveal(&mut self, dispute: &Dispute, index: u64) -> Result<(), CliError> {
        if self.revealed.contains(&index) {
            return Ok(());
        }
        let trace = &self.execution.trace;
        let Some(reveal) = worker::reveal_for(dispute, &self.submitter.account, trace) else {
            return Ok(());
        };
        let step_hash = reveal.step_hash;
        let hash = self.submitter.submit(Msg::RevealStep(Box::new(reveal)))?;
        let height = committed(self.submitter, &hash)?;
        self.revealed.insert(index);
        event(
            self.json,
            json!({ "event": "revealed", "index": index, "step_hash": step_hash, "height": height }),
            &format!("revealed leaf {index}: {step_hash} (block {height})"),
        );
        Ok(())
    }

    /// A step is isolated: step 0 the referee runs on the job input; any other needs the
    /// activation before it, which we hand over once.
    fn hand_input(&mut self, dispute: &Dispute) -> Result<(), CliError> {
        let step = dispute.isolated_step().unwrap_or(dispute.disagreed);
        if step == 0 {
            if !self.announced_referee {
                self.announced_referee = true;
                event(
                    self.json,
                    json!({ "event": "isolated", "step": 0 }),
                    "step 0 isolated: the referee runs it on the job input",
                );
            }
            return Ok(());
        }
        if self.uploaded {
            return Ok(());
        }
        let input = Activation::from_bytes(&self.job.input).map_err(JobError::from)?;
        let activation = self
            .execution
            .activation_before(self.executor, &input, step as usize)
            .map_err(JobError::from)?;
        let uploads = worker::input_uploads(dispute, &activation);
        let count = uploads.len();
        let hashes = uploads
            .into_iter()
            .map(|upload| {
                self.submitter
                    .submit(Msg::ProvideStepInput(Box::new(upload)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for hash in &hashes {
            committed(self.submitter, hash)?;
        }
        self.uploaded = true;
        let bytes = activation.to_bytes().len();
        event(
            self.json,
            json!({ "event": "input_uploaded", "step": step, "bytes": bytes, "transactions": count }),
            &format!(
                "step {step} isolated: handed the referee the activation before it ({bytes} bytes in {count} transaction(s))"
            ),
        );
        Ok(())
    }
}

/// The job's model: its registration from the node (manifest checked to hash to the model
/// id), its files from `--model-dir` or downloaded from the node, every file checked against
/// its registered chunks root, built by the same loader the ledger activates models with.
fn load_model(
    json: bool,
    rpc_url: &str,
    expected: &ModelId,
    args: &ChallengeArgs,
) -> Result<Arc<Model>, CliError> {
    let client = Client::new(rpc_url);
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
