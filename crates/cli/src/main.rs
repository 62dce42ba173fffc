//! `surety`: the command line for Surety. Running nodes (`dev`, `node`, `localnet`), key
//! files, transactions (built and signed locally, submitted to a node's RPC), queries, and
//! model publishing and download (`surety model`). Human-readable output by default, `--json` for
//! scripts. It holds no protocol logic: transactions are the ledger's own types, and every
//! check that matters is done by the node.

mod job;
mod keys;
mod model;
mod net;
mod operator;
mod query;
mod rpc;
mod submit;
mod tx;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use surety_types::{AccountId, OperatorId};

#[derive(Parser)]
#[command(
    name = "surety",
    version,
    about = "Surety: stake-secured, verifiable AI compute"
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a one-validator development chain in this process, with funded demo accounts.
    Dev(net::DevArgs),
    /// Run a node from its config file.
    Node(net::NodeArgs),
    /// Run N validators as processes on 127.0.0.1 (generated keys and genesis).
    Localnet(net::LocalnetArgs),
    /// Create and inspect key files.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Build, sign and submit a transaction.
    Tx(tx::TxArgs),
    /// What an operator's owner signs off the chain (a family head's consent).
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Read chain state from a node.
    #[command(subcommand)]
    Query(query::QueryCommand),
    /// Publish, list and download models.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Inference jobs: submit one, follow it, fetch its result.
    #[command(subcommand)]
    Job(job::JobCommand),
    /// Re-execute a job's result and, if it is wrong, challenge it and play the dispute.
    Challenge(job::ChallengeArgs),
}

#[derive(Args)]
struct KeyDir {
    /// Directory holding key files.
    #[arg(long, env = "SURETY_KEYS", default_value_os_t = keys::default_dir())]
    keys: PathBuf,
}

#[derive(Args)]
struct Node {
    /// The node's RPC address.
    #[arg(long, env = "SURETY_RPC", default_value = "http://127.0.0.1:26657")]
    rpc: String,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Keys(#[from] keys::KeyError),
    #[error("{0}")]
    Rpc(#[from] rpc::RpcError),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Node(String),
    #[error("{0}")]
    Job(#[from] job::JobError),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if cli.json {
                println!("{}", serde_json::json!({ "error": error.to_string() }));
            } else {
                eprintln!("error: {error}");
            }
            ExitCode::FAILURE
        }
    }
}

/// An answer or a result: JSON (keys sorted, as `serde_json::Value` keeps them) or indented
/// `key: value` lines.
fn print(json: bool, value: &impl Serialize) {
    let value = serde_json::to_value(value).unwrap_or(Value::Null);
    if json {
        println!("{value}");
    } else {
        println!("{}", human(&value, 0));
    }
}

/// Indented `key: value` lines.
fn human(value: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent);
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| match value {
                Value::Object(_) | Value::Array(_) => {
                    format!("{pad}{key}:\n{}", human(value, indent + 1))
                }
                _ => format!("{pad}{key}: {}", human(value, 0)),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Array(items) if items.is_empty() => format!("{pad}(none)"),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| format!("{pad}- [{i}]\n{}", human(item, indent + 1)))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::String(text) => format!("{pad}{text}"),
        other => format!("{pad}{other}"),
    }
}

fn parse_account(text: &str) -> Result<AccountId, CliError> {
    AccountId::from_hex(text).map_err(|e| CliError::Input(format!("account {text:?}: {e}")))
}

fn parse_operator(text: &str) -> Result<OperatorId, CliError> {
    OperatorId::from_hex(text.strip_prefix("acc_").unwrap_or(text))
        .map_err(|e| CliError::Input(format!("operator {text:?}: {e}")))
}

fn run(cli: &Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Dev(args) => net::run_dev(cli.json, args),
        Command::Node(args) => net::run_node(args),
        Command::Localnet(args) => net::run_localnet(cli.json, args),
        Command::Keys(command) => keys::run(cli.json, command),
        Command::Tx(args) => tx::run(cli.json, args),
        Command::Operator(command) => operator::run(cli.json, command),
        Command::Query(command) => query::run(cli.json, command),
        Command::Model(command) => model::run(cli.json, command),
        Command::Job(command) => job::run(cli.json, command),
        Command::Challenge(args) => job::run_challenge(cli.json, args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_output_is_indented_key_value_lines() {
        let value = serde_json::json!({ "a": 1, "b": { "c": "x" }, "d": [] });
        assert_eq!(human(&value, 0), "a: 1\nb:\n  c: x\nd:\n  (none)");
    }
}
