//! `surety job submit`: build the job from the command line (text, or an activation file
//! checked to decode), submit it, and with `--wait` follow it until it is final.

use super::render::{print_result, result_view, status_line};
use super::ACTIVATION_FILE_BYTES_MAX;
use super::{committed, parse_model, progress, JobError, STATE_POLL_MS};
use crate::rpc::Client;
use crate::submit::Submitter;
use crate::{CliError, KeyDir, Node};
use clap::{ArgGroup, Args};
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use surety_infer::Activation;
use surety_ledger::jobs::{JobInput, JobStatus, SubmitJob};
use surety_ledger::tx::Msg;
use surety_node::api::JobView;
use surety_types::{Amount, JobId};

#[derive(Args)]
#[command(group(ArgGroup::new("input").required(true).args(["text", "activation_file"])))]
pub(crate) struct SubmitArgs {
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

pub(super) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, JobError> {
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

pub(super) fn submit_job(json: bool, args: &SubmitArgs) -> Result<(), CliError> {
    let msg = SubmitJob {
        model: parse_model(&args.model)?,
        input: job_input(args.text.as_deref(), args.activation_file.as_deref())?,
        max_fee: Amount::new(args.fee),
        deadline_blocks: args.deadline_blocks,
        replicas: args.replicas,
    };
    let submitter = Submitter::new(&args.node.rpc, &args.dir.keys, &args.key, args.tx_fee)?;
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
    let height = committed(&submitter, &hash)?;
    progress(json, &format!("job {job} submitted in block {height}"));
    let answer = wait_settled(json, &submitter.client, &job, args.timeout_s)?;
    print_result(json, &result_view(&answer));
    Ok(())
}

/// Poll `job` until it is final (its answer) or failed (an error), reporting status changes.
fn wait_settled(
    json: bool,
    client: &Client,
    job: &JobId,
    timeout_s: u64,
) -> Result<JobView, CliError> {
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let answer = client.job(job)?;
        let status = status_line(&answer.job.status);
        if status != last {
            progress(json, &format!("job {job}: {status}"));
            last = status.clone();
        }
        match &answer.job.status {
            JobStatus::Final { .. } => return Ok(answer),
            JobStatus::Failed { reason } => {
                return Err(JobError::JobFailed {
                    job: *job,
                    reason: reason.clone(),
                }
                .into())
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use surety_infer::Tensor;

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
        let crate::Command::Job(super::super::JobCommand::Submit(args)) = cli.command else {
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
}
