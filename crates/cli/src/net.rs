//! Commands that run nodes: `surety dev` (one validator in this process), `surety node`
//! (one node from its config file) and `surety localnet` (N validator processes on
//! 127.0.0.1).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::Args;
use serde_json::json;
use surety_node::localnet::{self, Localnet, LocalnetOptions, DEMO_ACCOUNTS};
use surety_node::node::{self, NodeConfig, NodeError};
use surety_types::{AccountId, SigningKey};

use crate::CliError;

fn default_home(name: &str) -> PathBuf {
    crate::keys::default_dir()
        .parent()
        .map(|p| p.join(name))
        .unwrap_or_else(|| PathBuf::from(format!(".surety-{name}")))
}

#[derive(Args)]
pub struct DevArgs {
    /// Where the dev chain lives (created on first run, reused after).
    #[arg(long, env = "SURETY_DEV_HOME", default_value_os_t = default_home("dev"))]
    home: PathBuf,
    /// Delete the dev chain first and start from a fresh genesis.
    #[arg(long)]
    reset: bool,
    /// RPC port.
    #[arg(long, default_value_t = 26_657)]
    rpc_port: u16,
    /// P2P port.
    #[arg(long, default_value_t = 26_656)]
    p2p_port: u16,
    /// Least milliseconds between blocks (0: as fast as consensus goes).
    #[arg(long, default_value_t = 500)]
    block_time_ms: u64,
}

#[derive(Args)]
pub struct NodeArgs {
    /// The node's config file (TOML), as `surety localnet` writes them.
    #[arg(long)]
    config: PathBuf,
    /// Log JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

#[derive(Args)]
pub struct LocalnetArgs {
    /// Number of validators (one process each).
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Where the network lives (created on first run, reused after).
    #[arg(long, env = "SURETY_LOCALNET_HOME", default_value_os_t = default_home("localnet"))]
    home: PathBuf,
    /// Delete the network first.
    #[arg(long)]
    reset: bool,
    /// RPC port of validator 0; the others count up.
    #[arg(long, default_value_t = 26_657)]
    rpc_port: u16,
    /// P2P port of validator 0; the others count up.
    #[arg(long, default_value_t = 27_000)]
    p2p_port: u16,
    /// Least milliseconds between blocks (0: as fast as consensus goes).
    #[arg(long, default_value_t = 500)]
    block_time_ms: u64,
    /// Write keys, genesis and configs, then exit without starting the nodes.
    #[arg(long)]
    init_only: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Node(e.to_string()))
}

fn node_error(error: NodeError) -> CliError {
    CliError::Node(error.to_string())
}

fn reset(home: &Path) -> Result<(), CliError> {
    if home.exists() {
        std::fs::remove_dir_all(home)
            .map_err(|e| CliError::Node(format!("cannot delete {}: {e}", home.display())))?;
    }
    Ok(())
}

/// Create the network in `home` unless one is there; return its first config files.
fn create_or_reuse(home: &Path, options: &LocalnetOptions) -> Result<Vec<PathBuf>, CliError> {
    let configs: Vec<PathBuf> = (0..options.validators)
        .map(|i| home.join(format!("v{i}")).join("config.toml"))
        .collect();
    if home.join("genesis.json").exists() {
        if let Some(missing) = configs.iter().find(|c| !c.exists()) {
            return Err(CliError::Node(format!(
                "{} holds a network without {}; use --reset to start over",
                home.display(),
                missing.display()
            )));
        }
        return Ok(configs);
    }
    let net: Localnet =
        localnet::create(home, options, SigningKey::generate).map_err(node_error)?;
    Ok(net.config_files)
}

fn demo_accounts(keys_dir: &Path) -> Vec<(String, AccountId)> {
    DEMO_ACCOUNTS
        .iter()
        .filter_map(|name| {
            let key = node::load_key(&keys_dir.join(format!("{name}.json"))).ok()?;
            Some((
                name.to_string(),
                AccountId::from_key(&key.verification_key()),
            ))
        })
        .collect()
}

pub fn run_dev(json: bool, args: &DevArgs) -> Result<(), CliError> {
    if args.reset {
        reset(&args.home)?;
    }
    let mut options = LocalnetOptions::new(1);
    options.chain_id = "surety-dev".into();
    options.extra_operators = 2;
    options.p2p_base_port = args.p2p_port;
    options.rpc_base_port = args.rpc_port;
    options.timeouts.block_time_ms = args.block_time_ms;
    options.genesis_time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let configs = create_or_reuse(&args.home, &options)?;
    let config = NodeConfig::load(&configs[0]).map_err(node_error)?;
    node::init_logging(false);
    let runtime = runtime()?;
    runtime.block_on(async {
        let running = node::start(&config).await.map_err(node_error)?;
        let rpc = format!("http://{}", running.rpc_addr);
        let keys_dir = args.home.join("keys");
        let accounts = demo_accounts(&keys_dir);
        if json {
            println!(
                "{}",
                json!({
                    "rpc": rpc,
                    "home": args.home,
                    "keys": keys_dir,
                    "accounts": accounts.iter().map(|(n, a)| json!({"name": n, "account": a})).collect::<Vec<_>>(),
                })
            );
        } else {
            println!();
            println!("surety dev: one validator, chain surety-dev");
            println!("  RPC        {rpc}");
            println!("  data       {}", args.home.display());
            println!("  keys       {}", keys_dir.display());
            for (name, account) in &accounts {
                println!("  {name:<10} {account}");
            }
            println!();
            println!("Try:");
            println!("  export SURETY_KEYS={}", keys_dir.display());
            if let Some((_, bob)) = accounts.get(1) {
                println!("  surety tx --from alice transfer --to {bob} --amount 1000");
            }
            println!("  surety query status");
            println!("  surety query validators");
            println!();
        }
        running
            .wait()
            .await
            .map_err(|e| CliError::Node(e.to_string()))
    })
}

pub fn run_node(args: &NodeArgs) -> Result<(), CliError> {
    let config = NodeConfig::load(&args.config).map_err(node_error)?;
    node::init_logging(args.log_json);
    runtime()?.block_on(async {
        let running = node::start(&config).await.map_err(node_error)?;
        running
            .wait()
            .await
            .map_err(|e| CliError::Node(e.to_string()))
    })
}

struct Children(Vec<(usize, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn run_localnet(json: bool, args: &LocalnetArgs) -> Result<(), CliError> {
    if args.validators == 0 {
        return Err(CliError::Node("--validators must be at least 1".into()));
    }
    if args.reset {
        reset(&args.home)?;
    }
    let mut options = LocalnetOptions::new(args.validators);
    options.p2p_base_port = args.p2p_port;
    options.rpc_base_port = args.rpc_port;
    options.timeouts.block_time_ms = args.block_time_ms;
    let configs = create_or_reuse(&args.home, &options)?;
    let rpcs: Vec<String> = configs
        .iter()
        .map(|file| {
            NodeConfig::load(file)
                .map(|c| format!("http://{}", c.rpc.listen))
                .map_err(node_error)
        })
        .collect::<Result<_, _>>()?;
    let summary = json!({
        "home": args.home,
        "keys": args.home.join("keys"),
        "validators": configs.iter().zip(&rpcs).map(|(c, r)| json!({"config": c, "rpc": r})).collect::<Vec<_>>(),
    });
    if args.init_only {
        print_localnet(json, &summary, &configs, &rpcs, false);
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| CliError::Node(e.to_string()))?;
    let mut children = Children(Vec::new());
    for (i, config) in configs.iter().enumerate() {
        let dir = config.parent().unwrap_or(Path::new("."));
        let log = std::fs::File::create(dir.join("node.log"))
            .map_err(|e| CliError::Node(format!("{}: {e}", dir.display())))?;
        let err = log.try_clone().map_err(|e| CliError::Node(e.to_string()))?;
        let child = Command::new(&exe)
            .arg("node")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| CliError::Node(format!("starting validator {i}: {e}")))?;
        children.0.push((i, child));
    }
    print_localnet(json, &summary, &configs, &rpcs, true);
    let runtime = runtime()?;
    runtime.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = tick.tick() => {
                    for (i, child) in &mut children.0 {
                        if let Ok(Some(status)) = child.try_wait() {
                            return Err(CliError::Node(format!(
                                "validator {i} exited ({status}); see {}",
                                configs[*i].parent().unwrap_or(Path::new(".")).join("node.log").display()
                            )));
                        }
                    }
                }
            }
        }
    })
}

fn print_localnet(
    json: bool,
    summary: &serde_json::Value,
    configs: &[PathBuf],
    rpcs: &[String],
    running: bool,
) {
    if json {
        println!("{summary}");
        return;
    }
    println!(
        "surety localnet: {} validators {}",
        configs.len(),
        if running {
            "running (Ctrl-C stops them)"
        } else {
            "written"
        }
    );
    for (i, (config, rpc)) in configs.iter().zip(rpcs).enumerate() {
        println!("  validator {i}  RPC {rpc}  config {}", config.display());
    }
    println!("  keys {}", summary["keys"].as_str().unwrap_or_default());
}
