//! A running node: configuration (TOML), storage, the application core, the RPC server, the
//! Malachite engine with its host, and transaction gossip to peers. `surety node`,
//! `surety dev` and `surety localnet` all start nodes through `start`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, NodeConfig as EngineNodeConfig, P2pConfig, PubSubProtocol,
    ValuePayload, ValueSyncConfig,
};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::LinearTimeouts;
use malachitebft_app_channel::app::types::Keypair;
use malachitebft_app_channel::{
    ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, RequestContext, Signer,
    SyncContext, WalContext,
};
use serde::{Deserialize, Serialize};
use surety_ledger::genesis::Genesis;
use surety_types::SigningKey;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::app::{App, SharedApp};
use crate::consensus::codec::SuretyCodec;
use crate::consensus::ctx::{Address, SuretyCtx};
use crate::consensus::host::Host;
use crate::consensus::signing::{SuretySigner, SuretyVerifier};
use crate::mempool::MempoolLimits;
use crate::rpc;
use crate::storage::Storage;
use crate::worker::{Worker, WorkerBehaviour, WorkerConfig};

/// A node's configuration file. Relative paths are relative to the file's directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub moniker: String,
    /// Data directory: the chain database and the consensus WAL.
    pub home: PathBuf,
    /// Genesis file (JSON or TOML).
    pub genesis: PathBuf,
    /// Key file (`{"seed": "<hex>"}`) of the validator's consensus key.
    pub consensus_key: PathBuf,
    /// Key file of the account that signs evidence transactions (usually the operator's).
    #[serde(default)]
    pub account_key: Option<PathBuf>,
    pub p2p: P2p,
    pub rpc: Rpc,
    #[serde(default)]
    pub consensus: Timeouts,
    /// The operator and auditor worker (runs with `account_key`'s operator).
    #[serde(default)]
    pub worker: WorkerSettings,
    /// Files of the genesis models (weights, tokenizers), needed only to initialise a fresh
    /// database: each is matched to the genesis commitment whose chunks root it has.
    #[serde(default)]
    pub model_files: Vec<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// Compute assigned jobs and audits and play disputes (needs `account_key`).
    pub enabled: bool,
    /// Engine threads per job.
    pub threads: usize,
    /// How often the worker looks for new work, milliseconds.
    pub poll_ms: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            enabled: true,
            threads: 1,
            poll_ms: 50,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2p {
    /// Multiaddr to listen on, e.g. `/ip4/127.0.0.1/tcp/27000`.
    pub listen: String,
    /// Multiaddrs of the peers to stay connected to.
    #[serde(default)]
    pub peers: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rpc {
    /// Address of the HTTP RPC, e.g. `127.0.0.1:26657` (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Peers' RPC base URLs that admitted transactions are forwarded to.
    #[serde(default)]
    pub gossip_to: Vec<String>,
}

/// Consensus timeouts, milliseconds (each grows by `delta_ms` per round).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    pub propose_ms: u64,
    pub prevote_ms: u64,
    pub precommit_ms: u64,
    pub delta_ms: u64,
    /// How often a node tells peers its height (sync).
    pub sync_status_ms: u64,
    /// Least time from the start of one height to the next; 0 decides heights as fast as
    /// consensus can (empty blocks included).
    pub block_time_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            propose_ms: 1_000,
            prevote_ms: 300,
            precommit_ms: 300,
            delta_ms: 200,
            sync_status_ms: 1_000,
            block_time_ms: 500,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("config {file}: {reason}")]
    Config { file: String, reason: String },
    #[error("{file}: {error}")]
    Io { file: String, error: std::io::Error },
    #[error("genesis {file}: {reason}")]
    Genesis { file: String, reason: String },
    #[error("key file {file}: {reason}")]
    Key { file: String, reason: String },
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    #[error("cannot listen for RPC on {addr}: {error}")]
    RpcBind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("p2p address {0:?} is not a multiaddr")]
    Multiaddr(String),
    #[error("consensus engine: {0}")]
    Engine(String),
}

impl NodeConfig {
    /// Read a config file; relative paths become relative to its directory.
    pub fn load(file: &Path) -> Result<NodeConfig, NodeError> {
        let text = std::fs::read_to_string(file).map_err(|error| NodeError::Io {
            file: file.display().to_string(),
            error,
        })?;
        let mut config: NodeConfig = toml::from_str(&text).map_err(|e| NodeError::Config {
            file: file.display().to_string(),
            reason: e.to_string(),
        })?;
        let base = file.parent().unwrap_or(Path::new("."));
        for path in [
            &mut config.home,
            &mut config.genesis,
            &mut config.consensus_key,
        ] {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
        for path in config.model_files.iter_mut() {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
        if let Some(path) = config.account_key.as_mut() {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
        Ok(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a node config serialises")
    }

    fn linear_timeouts(&self) -> LinearTimeouts {
        let t = &self.consensus;
        let ms = Duration::from_millis;
        LinearTimeouts {
            propose: ms(t.propose_ms),
            propose_delta: ms(t.delta_ms),
            prevote: ms(t.prevote_ms),
            prevote_delta: ms(t.delta_ms),
            precommit: ms(t.precommit_ms),
            precommit_delta: ms(t.delta_ms),
            rebroadcast: ms(t.propose_ms.max(1_000)),
            max_timeout: Duration::from_secs(10),
        }
    }
}

/// Read a key file (`{"seed": "<64 hex digits>"}`).
pub fn load_key(file: &Path) -> Result<SigningKey, NodeError> {
    let bad = |reason: String| NodeError::Key {
        file: file.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let seed = value["seed"]
        .as_str()
        .ok_or_else(|| bad("no \"seed\" string".into()))?;
    let bytes = hex::decode(seed).map_err(|e| bad(e.to_string()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| bad("seed is not 32 bytes".into()))?;
    Ok(SigningKey::from_seed(seed))
}

/// Write a key file readable by its owner only; never overwrites.
pub fn save_key(file: &Path, key: &SigningKey) -> std::io::Result<()> {
    let text = serde_json::json!({ "seed": hex::encode(key.seed()) }).to_string();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options.open(file)?.write_all(text.as_bytes())
}

pub fn load_genesis(file: &Path) -> Result<Genesis, NodeError> {
    let bad = |reason: String| NodeError::Genesis {
        file: file.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    if file.extension().is_some_and(|e| e == "toml") {
        Genesis::from_toml(&text).map_err(|e| bad(e.to_string()))
    } else {
        Genesis::from_json(&text).map_err(|e| bad(e.to_string()))
    }
}

#[derive(Clone, Debug)]
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl EngineNodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// Test-only misbehaviour: the node's engine signs conflicting votes and proposals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Behaviour {
    #[default]
    Honest,
    #[cfg(feature = "byzantine")]
    DoubleSign,
}

/// A started node. Dropping it leaves it running; `stop` shuts it down.
pub struct RunningNode {
    pub app: SharedApp,
    pub rpc_addr: SocketAddr,
    pub address: Address,
    engine: EngineHandle,
    host: JoinHandle<eyre::Result<()>>,
    others: Vec<JoinHandle<()>>,
}

impl RunningNode {
    /// Stop the engine, the host, the RPC server and gossip.
    pub async fn stop(self) {
        self.engine.actor.stop(None);
        self.host.abort();
        for task in &self.others {
            task.abort();
        }
        let _ = self.engine.handle.await;
        let _ = self.host.await;
        for task in self.others {
            let _ = task.await;
        }
    }

    /// Run until the consensus host stops (an error) or the process is told to stop.
    pub async fn wait(self) -> eyre::Result<()> {
        let result = tokio::select! {
            r = &mut { self.host } => r.map_err(|e| eyre::eyre!("host task: {e}"))?,
            _ = tokio::signal::ctrl_c() => {
                info!("interrupted; stopping");
                Ok(())
            }
        };
        self.engine.actor.stop(None);
        for task in &self.others {
            task.abort();
        }
        result
    }
}

fn multiaddr(text: &str) -> Result<Multiaddr, NodeError> {
    text.parse()
        .map_err(|_| NodeError::Multiaddr(text.to_string()))
}

/// Read the genesis models' files named in a config and key each by the chunks root of the
/// genesis commitment it matches (a file matching none is an error: a wrong path is better
/// caught here than as a missing file).
pub fn genesis_model_files(
    genesis: &Genesis,
    paths: &[PathBuf],
) -> Result<std::collections::BTreeMap<surety_types::Hash, Vec<u8>>, NodeError> {
    let mut files = std::collections::BTreeMap::new();
    let commitments: Vec<_> = genesis
        .models
        .iter()
        .flat_map(|m| m.registration.files.iter())
        .collect();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|error| NodeError::Io {
            file: path.display().to_string(),
            error,
        })?;
        let matched = commitments.iter().find(|c| {
            c.bytes == bytes.len() as u64
                && surety_ledger::models::publish::chunk_tree(&bytes, c.chunk_bytes).root()
                    == c.chunks_root
        });
        match matched {
            Some(commitment) => {
                files.insert(commitment.chunks_root, bytes);
            }
            None => {
                return Err(NodeError::Config {
                    file: path.display().to_string(),
                    reason: "matches no genesis model file's commitment".into(),
                })
            }
        }
    }
    Ok(files)
}

/// Start a node from its configuration.
pub async fn start(config: &NodeConfig) -> Result<RunningNode, NodeError> {
    start_with(config, Behaviour::Honest).await
}

pub async fn start_with(
    config: &NodeConfig,
    behaviour: Behaviour,
) -> Result<RunningNode, NodeError> {
    start_full(config, behaviour, WorkerBehaviour::Honest).await
}

/// Start a node with the given consensus and worker behaviour (anything but honest is for
/// tests).
pub async fn start_full(
    config: &NodeConfig,
    behaviour: Behaviour,
    worker_behaviour: WorkerBehaviour,
) -> Result<RunningNode, NodeError> {
    let genesis = load_genesis(&config.genesis)?;
    let key = load_key(&config.consensus_key)?;
    let reporter = config.account_key.as_deref().map(load_key).transpose()?;
    let app = open_app(config, &genesis)?;
    let (rpc_addr, mut others) = serve_rpc(config, &app).await?;
    let chain_id: Arc<str> = Arc::from(genesis.chain_id.as_str());
    let ctx = SuretyCtx {
        chain_id: chain_id.clone(),
    };
    let address = Address(key.verification_key());
    let (mut channels, engine) = start_engine(config, behaviour, &ctx, &key).await?;
    let host = Host::new(
        ctx,
        app.clone(),
        key,
        reporter,
        config.linear_timeouts(),
        (config.consensus.block_time_ms > 0)
            .then(|| Duration::from_millis(config.consensus.block_time_ms)),
    );
    let host = tokio::spawn(async move { host.run(&mut channels).await });
    if let (true, Some(account_key)) = (config.worker.enabled, config.account_key.as_deref()) {
        let worker = Worker::new(
            app.clone(),
            load_key(account_key)?,
            WorkerConfig {
                threads: config.worker.threads,
                poll_ms: config.worker.poll_ms,
                behaviour: worker_behaviour,
            },
        )
        .map_err(|e| NodeError::Engine(e.to_string()))?;
        others.push(tokio::spawn(worker.run()));
    }
    info!(rpc = %rpc_addr, p2p = %config.p2p.listen, validator = %address, "node started");
    Ok(RunningNode {
        app,
        rpc_addr,
        address,
        engine,
        host,
        others,
    })
}

/// Open (or initialise from genesis) the node's chain.
fn open_app(config: &NodeConfig, genesis: &Genesis) -> Result<SharedApp, NodeError> {
    std::fs::create_dir_all(&config.home).map_err(|error| NodeError::Io {
        file: config.home.display().to_string(),
        error,
    })?;
    let storage = Storage::open(&config.home.join("chain.redb"))?;
    let files = if storage.is_initialised()? {
        std::collections::BTreeMap::new()
    } else {
        genesis_model_files(genesis, &config.model_files)?
    };
    let mut app = App::open_with_files(storage, genesis, &files, MempoolLimits::default())?;
    if !config.rpc.gossip_to.is_empty() {
        app.enable_gossip();
    }
    info!(
        moniker = %config.moniker,
        chain = %genesis.chain_id,
        height = app.ledger().height().get(),
        root = %app.ledger().state_root(),
        "opened the chain"
    );
    Ok(Arc::new(Mutex::new(app)))
}

/// Serve the RPC (and forward transactions to peers, if configured); the bound address and
/// the tasks.
async fn serve_rpc(
    config: &NodeConfig,
    app: &SharedApp,
) -> Result<(SocketAddr, Vec<JoinHandle<()>>), NodeError> {
    let listener = tokio::net::TcpListener::bind(config.rpc.listen)
        .await
        .map_err(|error| NodeError::RpcBind {
            addr: config.rpc.listen,
            error,
        })?;
    let rpc_addr = listener.local_addr().map_err(|error| NodeError::RpcBind {
        addr: config.rpc.listen,
        error,
    })?;
    let router = rpc::router(app.clone());
    let mut tasks = vec![tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            warn!(error = %e, "RPC server stopped");
        }
    })];
    if !config.rpc.gossip_to.is_empty() {
        tasks.push(tokio::spawn(gossip(
            app.clone(),
            config.rpc.gossip_to.clone(),
        )));
    }
    Ok((rpc_addr, tasks))
}

/// The engine's configuration: persistent peers only (no discovery), proposals with parts.
fn engine_config(config: &NodeConfig) -> Result<EngineConfig, NodeError> {
    let p2p = P2pConfig {
        listen_addr: multiaddr(&config.p2p.listen)?,
        persistent_peers: config
            .p2p
            .peers
            .iter()
            .map(|p| multiaddr(p))
            .collect::<Result<_, _>>()?,
        discovery: DiscoveryConfig {
            enabled: false,
            ..Default::default()
        },
        protocol: PubSubProtocol::default(),
        ..Default::default()
    };
    Ok(EngineConfig {
        moniker: config.moniker.clone(),
        consensus: ConsensusConfig {
            p2p,
            value_payload: ValuePayload::ProposalAndParts,
            ..Default::default()
        },
        value_sync: ValueSyncConfig {
            status_update_interval: Duration::from_millis(config.consensus.sync_status_ms),
            request_timeout: Duration::from_secs(5),
            ..Default::default()
        },
    })
}

/// The node's network identity. The libp2p identity is derived from the consensus key; the
/// validator proof binds the two, so peers know which validator a connection speaks for.
async fn network_identity(
    config: &NodeConfig,
    signer: &SuretySigner,
    address: Address,
) -> Result<NetworkIdentity, NodeError> {
    let key = &signer.key;
    let keypair = Keypair::ed25519_from_bytes(key.seed())
        .map_err(|e| NodeError::Engine(format!("network key: {e}")))?;
    let proof = signer
        .sign_validator_proof(
            key.verification_key().to_bytes().to_vec(),
            keypair.public().to_peer_id().to_bytes(),
        )
        .await
        .map_err(|e| NodeError::Engine(format!("validator proof: {e}")))?;
    let proof_bytes = SuretyCodec
        .encode(&proof)
        .map_err(|e| NodeError::Engine(e.to_string()))?;
    Ok(NetworkIdentity::new_validator(
        config.moniker.clone(),
        keypair,
        address.to_string(),
        proof_bytes,
    ))
}

/// Start the consensus engine (honest, or for tests double-signing); its channels to the host.
async fn start_engine(
    config: &NodeConfig,
    behaviour: Behaviour,
    ctx: &SuretyCtx,
    key: &SigningKey,
) -> Result<(malachitebft_app_channel::Channels<SuretyCtx>, EngineHandle), NodeError> {
    let engine_config = engine_config(config)?;
    let address = Address(key.verification_key());
    let signer = SuretySigner {
        key: key.clone(),
        chain_id: ctx.chain_id.clone(),
    };
    let identity = network_identity(config, &signer, address).await?;
    let wal = WalContext::new(config.home.join("wal").join("consensus.wal"), SuretyCodec);
    let consensus = ConsensusContext::new_validator(
        address,
        Box::new(SuretyVerifier {
            chain_id: ctx.chain_id.clone(),
        }),
        Box::new(signer),
    );
    match behaviour {
        Behaviour::Honest => malachitebft_app_channel::start_engine(
            ctx.clone(),
            engine_config,
            wal,
            NetworkContext::new(identity, SuretyCodec),
            consensus,
            SyncContext::new(SuretyCodec),
            RequestContext::new(100),
        )
        .await
        .map_err(|e| NodeError::Engine(e.to_string())),
        #[cfg(feature = "byzantine")]
        Behaviour::DoubleSign => {
            byzantine_engine(ctx.clone(), engine_config, wal, identity, consensus, key).await
        }
    }
}

#[cfg(feature = "byzantine")]
async fn byzantine_engine(
    ctx: SuretyCtx,
    config: EngineConfig,
    wal: WalContext<SuretyCodec>,
    identity: NetworkIdentity,
    consensus: ConsensusContext<SuretyCtx>,
    key: &SigningKey,
) -> Result<(malachitebft_app_channel::Channels<SuretyCtx>, EngineHandle), NodeError> {
    use crate::consensus::ctx::BlockId;
    use malachitebft_app_channel::{ByzantineContext, EngineBuilder};
    use malachitebft_engine_byzantine::{ByzantineConfig, Trigger};
    let chain_id = ctx.chain_id.clone();
    let flip = |id: &BlockId| {
        let mut other = *id;
        other.0 .0[31] ^= 1;
        other
    };
    let built = EngineBuilder::new(ctx, config)
        .with_default_wal(wal)
        .with_byzantine_network(ByzantineContext {
            identity,
            codec: SuretyCodec,
            config: ByzantineConfig {
                equivocate_votes: Trigger::Always,
                equivocate_proposals: Trigger::Always,
                ..Default::default()
            },
            signer: Box::new(SuretySigner {
                key: key.clone(),
                chain_id,
            }),
            address: Address(key.verification_key()),
            conflicting_value_fn: Some(Box::new(flip)),
            conflicting_vote_value_fn: Some(Box::new(move |id: Option<&BlockId>| {
                flip(&id.copied().unwrap_or(BlockId(surety_types::Hash::ZERO)))
            })),
        })
        .await
        .map_err(|e| NodeError::Engine(e.to_string()))?
        .with_default_consensus(consensus)
        .with_default_sync(SyncContext::new(SuretyCodec))
        .with_default_request(RequestContext::new(100))
        .build()
        .await
        .map_err(|e| NodeError::Engine(e.to_string()))?;
    Ok(built)
}

/// Forward admitted transactions to peers' RPC in batches (`POST /txs/gossip`); peers admit
/// them without forwarding again. A peer that is down misses them; its own clients and the
/// other peers still reach the proposers.
async fn gossip(app: SharedApp, peers: Vec<String>) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build();
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        let batch = crate::app::lock(&app).take_outbox();
        if batch.is_empty() {
            continue;
        }
        let body = crate::api::GossipTxs {
            txs: batch.iter().map(hex::encode).collect(),
        };
        for peer in &peers {
            let agent = agent.clone();
            let url = format!("{}/txs/gossip", peer.trim_end_matches('/'));
            let body = body.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = agent.post(&url).send_json(&body) {
                    tracing::debug!(%url, error = %e, "gossip failed");
                }
            })
            .await;
        }
    }
}

/// Set up logging to stderr: `RUST_LOG`-style filter (default `info`), text or JSON lines;
/// colours only on a terminal.
pub fn init_logging(json: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,arc_malachitebft=warn,libp2p=warn"));
    // Logs go to stderr, so that stdout carries only what a command prints (`--json` output).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if json {
        builder.json().finish().with(NoPeersFilter).try_init()
    } else {
        builder.finish().with(NoPeersFilter).try_init()
    };
}

/// Drops Malachite's "Error publishing message: NoPeersSubscribedToTopic": the network layer
/// logs it at error level for every vote and proposal part it gossips while no peer listens,
/// which is always the case on a one-validator chain (`surety dev`: hundreds of lines a
/// minute) and briefly at any network's start. A validator that stays alone shows in
/// `/status` (peers) and in its lack of progress, not in this line.
struct NoPeersFilter;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for NoPeersFilter {
    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        if !event
            .metadata()
            .target()
            .starts_with("arc_malachitebft_network")
        {
            return true;
        }
        let mut visitor = MentionsNoPeers(false);
        event.record(&mut visitor);
        !visitor.0
    }
}

struct MentionsNoPeers(bool);

impl tracing::field::Visit for MentionsNoPeers {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" && format!("{value:?}").contains("NoPeersSubscribedToTopic") {
            self.0 = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NoPeersFilter;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt;

    /// Counts the events that reach it.
    struct Count(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Count {
        fn on_event(
            &self,
            _event: &tracing::Event<'_>,
            _ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn only_malachites_no_peers_error_is_dropped() {
        let seen = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry()
            .with(Count(seen.clone()))
            .with(NoPeersFilter);
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(
                target: "arc_malachitebft_network",
                "Error publishing message: {}",
                "NoPeersSubscribedToTopic"
            );
            assert_eq!(seen.load(Ordering::Relaxed), 0);
            tracing::error!(target: "arc_malachitebft_network", "Error dialing peer: refused");
            assert_eq!(seen.load(Ordering::Relaxed), 1);
            // The same words from anywhere else are kept.
            tracing::error!(target: "surety_node::worker", "NoPeersSubscribedToTopic");
            assert_eq!(seen.load(Ordering::Relaxed), 2);
        });
    }
}
