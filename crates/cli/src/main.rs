//! `surety`: the command line for Surety. Running nodes (`dev`, `node`, `localnet`), key
//! files, transactions (built and signed locally, submitted to a node's RPC), queries, and
//! model publishing and download (`surety model`). Human-readable output by default, `--json` for
//! scripts. It holds no protocol logic: transactions are the ledger's own types, and every
//! check that matters is done by the node.

mod job;
mod keys;
mod model;
mod net;
mod rpc;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use surety_ledger::bank::Transfer;
use surety_ledger::rewards::ClaimRewards;
use surety_ledger::staking::{
    Delegate, OperatorMetadata, Redelegate, RegisterOperator, Undelegate,
};
use surety_ledger::tx::Msg;
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, OperatorId, Ratio, Shares, SigningKey};

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
    Keys(KeysCommand),
    /// Build, sign and submit a transaction.
    Tx(TxArgs),
    /// Read chain state from a node.
    #[command(subcommand)]
    Query(QueryCommand),
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

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a new key and save it as NAME.
    New {
        name: String,
        #[command(flatten)]
        dir: KeyDir,
    },
    /// Show a key's account id.
    Show {
        name: String,
        #[command(flatten)]
        dir: KeyDir,
    },
    /// List saved keys.
    List {
        #[command(flatten)]
        dir: KeyDir,
    },
}

#[derive(Args)]
struct Node {
    /// The node's RPC address.
    #[arg(long, env = "SURETY_RPC", default_value = "http://127.0.0.1:26657")]
    rpc: String,
}

#[derive(Args)]
struct TxArgs {
    /// Name of the signing key.
    #[arg(long)]
    from: String,
    /// Fee to pay, in base units.
    #[arg(long, default_value_t = 1_000)]
    fee: u128,
    /// Return once submitted, without waiting for the block.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    dir: KeyDir,
    #[command(flatten)]
    node: Node,
    #[command(subcommand)]
    msg: TxCommand,
}

#[derive(Subcommand)]
enum TxCommand {
    Transfer {
        #[arg(long)]
        to: String,
        #[arg(long)]
        amount: u128,
    },
    /// Register the signer as an operator with a self-bond.
    RegisterOperator {
        #[arg(long)]
        self_bond: u128,
        /// Commission as a decimal fraction, e.g. 0.05.
        #[arg(long, default_value = "0.05")]
        commission: String,
        #[arg(long, default_value = "0.01")]
        max_commission_change: String,
        #[arg(long, default_value = "")]
        moniker: String,
        #[arg(long, default_value = "")]
        endpoint: String,
        /// Name of the consensus key (defaults to the signing key).
        #[arg(long)]
        consensus_key: Option<String>,
    },
    /// Add to the signer's own self-bond (the signer must be an operator).
    Bond {
        #[arg(long)]
        amount: u128,
    },
    Delegate {
        #[arg(long)]
        operator: String,
        #[arg(long)]
        amount: u128,
    },
    Undelegate {
        #[arg(long)]
        operator: String,
        #[arg(long)]
        shares: u128,
    },
    Redelegate {
        #[arg(long)]
        source: String,
        #[arg(long)]
        destination: String,
        #[arg(long)]
        shares: u128,
    },
    /// Claim rewards from a delegation.
    Claim {
        #[arg(long)]
        operator: String,
    },
    /// Withdraw matured unbonding entries.
    Withdraw,
    Unjail,
}

#[derive(Subcommand)]
enum QueryCommand {
    Status(Node),
    Account {
        id: String,
        #[command(flatten)]
        node: Node,
    },
    Operator {
        id: String,
        #[command(flatten)]
        node: Node,
    },
    Operators(Node),
    Validators(Node),
    Delegations {
        account: String,
        #[command(flatten)]
        node: Node,
    },
    Tx {
        hash: String,
        #[command(flatten)]
        node: Node,
    },
    /// A block (latest if no height).
    Block {
        height: Option<u64>,
        #[command(flatten)]
        node: Node,
    },
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

fn print(json: bool, value: &Value) {
    if json {
        println!("{value}");
    } else {
        println!("{}", human(value, 0));
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

/// A decimal fraction between 0 and 1 ("0.05", "1", ".5") as a ratio, exactly.
fn parse_ratio(text: &str) -> Result<Ratio, CliError> {
    let bad = || CliError::Input(format!("{text:?} is not a fraction between 0 and 1"));
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 9 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let fraction_ppb: u64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().map_err(|_| bad())?
    };
    let ppb = whole
        .checked_mul(Ratio::DENOMINATOR)
        .and_then(|w| w.checked_add(fraction_ppb))
        .ok_or_else(bad)?;
    Ratio::from_ppb(ppb).ok_or_else(bad)
}

fn run(cli: &Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Dev(args) => net::run_dev(cli.json, args),
        Command::Node(args) => net::run_node(args),
        Command::Localnet(args) => net::run_localnet(cli.json, args),
        Command::Keys(command) => run_keys(cli.json, command),
        Command::Tx(args) => run_tx(cli.json, args),
        Command::Query(command) => run_query(cli.json, command),
        Command::Model(command) => model::run(cli.json, command),
        Command::Job(command) => job::run(cli.json, command),
        Command::Challenge(args) => job::run_challenge(cli.json, args),
    }
}

fn run_keys(json: bool, command: &KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::New { name, dir } => {
            let key = keys::create(&dir.keys, name)?;
            let account = AccountId::from_key(&key.verification_key());
            print(
                json,
                &serde_json::json!({ "name": name, "account": account, "file": keys::path(&dir.keys, name) }),
            );
        }
        KeysCommand::Show { name, dir } => {
            let key = keys::load(&dir.keys, name)?;
            let account = AccountId::from_key(&key.verification_key());
            print(
                json,
                &serde_json::json!({ "name": name, "account": account, "operator": OperatorId::from(account) }),
            );
        }
        KeysCommand::List { dir } => {
            let names = keys::list(&dir.keys)?;
            let entries: Vec<Value> = names
                .iter()
                .filter_map(|name| {
                    let key = keys::load(&dir.keys, name).ok()?;
                    Some(serde_json::json!({ "name": name, "account": AccountId::from_key(&key.verification_key()) }))
                })
                .collect();
            print(json, &Value::Array(entries));
        }
    }
    Ok(())
}

/// The message `args` asks for; `signer` is the already-loaded signing key.
fn build_msg(args: &TxArgs, signer: &SigningKey) -> Result<Msg, CliError> {
    Ok(match &args.msg {
        TxCommand::Transfer { to, amount } => Msg::Transfer(Transfer {
            to: parse_account(to)?,
            amount: Amount(*amount),
        }),
        TxCommand::RegisterOperator {
            self_bond,
            commission,
            max_commission_change,
            moniker,
            endpoint,
            consensus_key,
        } => {
            let consensus = match consensus_key {
                Some(name) => keys::load(&args.dir.keys, name)?,
                None => signer.clone(),
            };
            Msg::RegisterOperator(RegisterOperator {
                consensus_key: consensus.verification_key(),
                commission: parse_ratio(commission)?,
                max_commission_change: parse_ratio(max_commission_change)?,
                metadata: OperatorMetadata {
                    moniker: moniker.clone(),
                    endpoint: endpoint.clone(),
                    ..Default::default()
                },
                self_bond: Amount(*self_bond),
            })
        }
        // An operator's id is its account's: bonding is delegating to oneself.
        TxCommand::Bond { amount } => Msg::Delegate(Delegate {
            operator: OperatorId::from(AccountId::from_key(&signer.verification_key())),
            amount: Amount(*amount),
        }),
        TxCommand::Delegate { operator, amount } => Msg::Delegate(Delegate {
            operator: parse_operator(operator)?,
            amount: Amount(*amount),
        }),
        TxCommand::Undelegate { operator, shares } => Msg::Undelegate(Undelegate {
            operator: parse_operator(operator)?,
            shares: Shares(*shares),
        }),
        TxCommand::Redelegate {
            source,
            destination,
            shares,
        } => Msg::Redelegate(Redelegate {
            source: parse_operator(source)?,
            destination: parse_operator(destination)?,
            shares: Shares(*shares),
        }),
        TxCommand::Claim { operator } => Msg::ClaimRewards(ClaimRewards {
            operator: parse_operator(operator)?,
        }),
        TxCommand::Withdraw => Msg::WithdrawUnbonded,
        TxCommand::Unjail => Msg::Unjail,
    })
}

/// Longest wait for a submitted transaction to land in a block.
const TX_WAIT_MS_MAX: u64 = 30_000;

fn run_tx(json: bool, args: &TxArgs) -> Result<(), CliError> {
    let key = keys::load(&args.dir.keys, &args.from)?;
    let signer = AccountId::from_key(&key.verification_key());
    let msg = build_msg(args, &key)?;
    let client = rpc::Client::new(&args.node.rpc);
    let status = client.get("/status")?;
    let chain_id = status["chain_id"]
        .as_str()
        .ok_or_else(|| CliError::Input("node status has no chain id".into()))?
        .to_string();
    let account = client.get(&format!("/account/{signer}"))?;
    // The next nonce counting the signer's transactions still waiting in the node's mempool.
    let nonce = account["next_nonce"]
        .as_u64()
        .or_else(|| account["nonce"].as_u64())
        .ok_or_else(|| CliError::Input("node returned no nonce".into()))?;
    let tx = Tx {
        chain_id,
        signer,
        nonce,
        fee: Amount(args.fee),
        msg,
    }
    .sign(&key);
    let bytes = surety_types::encoding::encode(&tx);
    let submitted = client.post("/tx", &serde_json::json!({ "tx": hex::encode(bytes) }))?;
    let hash = submitted["hash"].as_str().unwrap_or_default().to_string();
    if args.no_wait {
        print(
            json,
            &serde_json::json!({ "hash": hash, "status": "pending" }),
        );
        return Ok(());
    }
    let started = Instant::now();
    loop {
        let answer = client.get(&format!("/tx/{hash}"))?;
        if answer["status"] == "committed" {
            print(
                json,
                &serde_json::json!({ "hash": hash, "height": answer["height"], "error": answer["receipt"]["error"], "events": answer["receipt"]["events"] }),
            );
            if let Some(error) = answer["receipt"]["error"].as_str() {
                return Err(CliError::Input(format!(
                    "transaction failed in block {}: {error}",
                    answer["height"]
                )));
            }
            return Ok(());
        }
        if started.elapsed() > Duration::from_millis(TX_WAIT_MS_MAX) {
            return Err(CliError::Input(format!(
                "transaction {hash} not in a block after {TX_WAIT_MS_MAX} ms; still pending"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run_query(json: bool, command: &QueryCommand) -> Result<(), CliError> {
    let (node, path) = match command {
        QueryCommand::Status(node) => (node, "/status".to_string()),
        QueryCommand::Account { id, node } => (node, format!("/account/{}", parse_account(id)?)),
        QueryCommand::Operator { id, node } => (node, format!("/operator/{}", parse_operator(id)?)),
        QueryCommand::Operators(node) => (node, "/operators".to_string()),
        QueryCommand::Validators(node) => (node, "/validators".to_string()),
        QueryCommand::Delegations { account, node } => {
            (node, format!("/delegations/{}", parse_account(account)?))
        }
        QueryCommand::Tx { hash, node } => (node, format!("/tx/{hash}")),
        QueryCommand::Block {
            height: Some(height),
            node,
        } => (node, format!("/block/{height}")),
        QueryCommand::Block { height: None, node } => (node, "/block/latest".to_string()),
    };
    let answer = rpc::Client::new(&node.rpc).get(&path)?;
    print(json, &answer);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_parse_exactly_and_refuse_nonsense() {
        assert_eq!(
            parse_ratio("0.05").unwrap(),
            Ratio::from_percent(5).unwrap()
        );
        assert_eq!(parse_ratio("1").unwrap(), Ratio::ONE);
        assert_eq!(parse_ratio(".5").unwrap(), Ratio::from_percent(50).unwrap());
        assert_eq!(
            parse_ratio("0.000000001").unwrap(),
            Ratio::from_ppb(1).unwrap()
        );
        for bad in ["1.5", "-0.1", "0.0000000001", "abc", "0.5x", "2"] {
            assert!(parse_ratio(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn human_output_is_indented_key_value_lines() {
        let value = serde_json::json!({ "a": 1, "b": { "c": "x" }, "d": [] });
        assert_eq!(human(&value, 0), "a: 1\nb:\n  c: x\nd:\n  (none)");
    }
}
