//! `surety model` against a real node RPC on loopback, with blocks committed in the background:
//! publish a tiny MLP, list it, download it and get the same bytes; resume an upload that
//! stopped after the registration; register again a model whose upload expired; report, not
//! fight, a registration of the same manifest with other files.

use serde_json::Value;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use surety_infer::models::mlp::{self, MlpConfig};
use surety_infer::safetensors_loader::save_safetensors_f32;
use surety_ledger::genesis::{Genesis, GenesisAccount, GenesisOperator};
use surety_ledger::models::{self, FileKind, Lineage, ModelStatus, Publication};
use surety_ledger::params::Params;
use surety_ledger::tx::Msg;
use surety_node::app::App;
use surety_node::mempool::MempoolLimits;
use surety_node::storage::Storage;
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, OperatorId, Ratio, SigningKey};

const CHAIN: &str = "cli-model-test";

fn surety(args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_surety"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    // With --json, progress lines come first; the result is the last line.
    let last = stdout.trim().lines().last().unwrap_or_default();
    let value = serde_json::from_str(last).unwrap_or(Value::Null);
    (output.status.success(), value, format!("{stdout}{stderr}"))
}

fn weights(seed: f32) -> Vec<u8> {
    let values = |n: usize, offset: f32| {
        (0..n)
            .map(|i| (i as f32 * 0.37 + offset + seed).sin())
            .collect()
    };
    save_safetensors_f32(&[
        ("layers.0.weight", vec![3, 4], values(12, 0.1)),
        ("layers.0.bias", vec![3], values(3, 0.2)),
        ("layers.1.weight", vec![2, 3], values(6, 0.3)),
        ("layers.1.bias", vec![2], values(2, 0.4)),
    ])
    .unwrap()
}

struct Network {
    rpc: String,
    app: Arc<Mutex<App>>,
    stop: Arc<AtomicBool>,
    _runtime: tokio::runtime::Runtime,
}

impl Drop for Network {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A one-validator node serving RPC on loopback, committing a block every 50 ms.
fn network(dir: &std::path::Path, funded: &SigningKey, params: Params) -> Network {
    let account = AccountId::from_key(&funded.verification_key());
    let validator = SigningKey::from_seed([43; 32]);
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 0,
        params,
        accounts: vec![GenesisAccount {
            account,
            balance: Amount::new(50_000_000),
        }],
        operators: vec![GenesisOperator {
            account,
            consensus_key: validator.verification_key(),
            commission: Ratio::from_percent(5).unwrap(),
            max_commission_change: Ratio::from_percent(1).unwrap(),
            metadata: Default::default(),
            self_bond: Amount::new(10_000_000),
        }],
        delegations: vec![],
        models: vec![],
        allocations: Vec::new(),
    };
    let storage = Storage::open(&dir.join("chain.redb")).unwrap();
    let app = Arc::new(Mutex::new(
        App::open(storage, &genesis, MempoolLimits::default()).unwrap(),
    ));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let rpc = format!("http://{}", listener.local_addr().unwrap());
    let router = surety_node::rpc::router(app.clone());
    runtime.spawn(async move { axum::serve(listener, router).await.unwrap() });
    let stop = Arc::new(AtomicBool::new(false));
    let (committer, stopped) = (app.clone(), stop.clone());
    std::thread::spawn(move || {
        let mut time_ms = 0;
        while !stopped.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            time_ms += 1_000;
            let mut app = committer.lock().unwrap();
            let block = app.propose(time_ms, OperatorId::from(account), &validator);
            let cert = surety_node::block::CommitCertificate::sign(
                CHAIN,
                &block,
                0,
                std::slice::from_ref(&validator),
            );
            app.commit(&block, &cert).unwrap();
        }
    });
    Network {
        rpc,
        app,
        stop,
        _runtime: runtime,
    }
}

fn setup() -> (tempfile::TempDir, Network, SigningKey) {
    setup_with(Params::default())
}

fn setup_with(params: Params) -> (tempfile::TempDir, Network, SigningKey) {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let funded = SigningKey::from_seed([42; 32]);
    std::fs::write(
        keys.join("publisher.json"),
        format!("{{\"seed\":\"{}\"}}", hex::encode(funded.seed())),
    )
    .unwrap();
    let network = network(dir.path(), &funded, params);
    (dir, network, funded)
}

#[test]
fn a_model_is_published_listed_and_downloaded_byte_for_byte() {
    let (dir, network, _) = setup();
    let keys = dir.path().join("keys");
    let keys = keys.to_str().unwrap();
    let file = dir.path().join("mlp.safetensors");
    let weights = weights(0.0);
    std::fs::write(&file, &weights).unwrap();
    let rpc = network.rpc.as_str();

    let (ok, published, output) = surety(&[
        "--json",
        "model",
        "register",
        "--name",
        "cli-mlp",
        "--safetensors",
        file.to_str().unwrap(),
        "--mlp",
        "4,3,2",
        "--training",
        "trained on nothing at all",
        "--chunk-bytes",
        "64",
        "--batch",
        "3",
        "--key",
        "publisher",
        "--keys",
        keys,
        "--rpc",
        rpc,
    ]);
    assert!(ok, "{output}");
    assert_eq!(published["status"]["state"], "active", "{output}");
    let id = published["model"].as_str().unwrap().to_string();
    let expected = mlp::load_mlp(
        "cli-mlp",
        &weights,
        MlpConfig {
            widths: vec![4, 3, 2],
        },
    )
    .unwrap()
    .model_id();
    assert_eq!(id, expected.to_string());

    let (ok, list, output) = surety(&["--json", "model", "list", "--rpc", rpc]);
    assert!(ok, "{output}");
    assert_eq!(list[0]["id"], id);
    assert_eq!(
        list[0]["lineage"]["training"]["description"],
        "trained on nothing at all"
    );

    let out = dir.path().join("download");
    let (ok, downloaded, output) = surety(&[
        "--json",
        "model",
        "download",
        &id,
        "--out",
        out.to_str().unwrap(),
        "--rpc",
        rpc,
    ]);
    assert!(ok, "{output}");
    assert_eq!(downloaded["files"][0]["kind"], "safetensors");
    assert_eq!(
        std::fs::read(out.join("model.safetensors")).unwrap(),
        weights
    );

    // Publishing again finds it registered and active, and says so without failing.
    let (ok, again, output) = surety(&[
        "--json",
        "model",
        "register",
        "--name",
        "cli-mlp",
        "--safetensors",
        file.to_str().unwrap(),
        "--mlp",
        "4,3,2",
        "--training",
        "trained on nothing at all",
        "--chunk-bytes",
        "64",
        "--key",
        "publisher",
        "--keys",
        keys,
        "--rpc",
        rpc,
    ]);
    assert!(ok, "{output}");
    assert_eq!(again["status"]["state"], "active");

    let (ok, _, text) = surety(&[
        "model",
        "download",
        "not-a-model",
        "--out",
        "x",
        "--rpc",
        rpc,
    ]);
    assert!(!ok && text.contains("not-a-model"), "{text}");
}

/// Submit the registration and the first chunk straight to the node, as a publisher that
/// stopped there would have, and wait for them to land.
fn register_and_stall(network: &Network, funded: &SigningKey, publication: &Publication) {
    {
        let mut app = network.app.lock().unwrap();
        let signer = AccountId::from_key(&funded.verification_key());
        let first = publication.upload(0, 0).unwrap();
        for (nonce, msg) in [
            Msg::RegisterModel(Box::new(publication.register.clone())),
            Msg::UploadModelChunk(Box::new(first)),
        ]
        .into_iter()
        .enumerate()
        {
            let tx = Tx {
                chain_id: CHAIN.into(),
                signer,
                nonce: nonce as u64,
                fee: Amount::new(1_000),
                msg,
            };
            app.submit(surety_types::encoding::encode(&tx.sign(funded)))
                .unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(300));
}

fn model_status(network: &Network, publication: &Publication) -> Option<ModelStatus> {
    let app = network.app.lock().unwrap();
    models::state::model(app.ledger().store(), &publication.model).map(|record| record.status)
}

/// The tiny MLP `name` whose manifest `weights` make, registered with commitments to `file`
/// (the same weights, or other bytes), in 64-byte chunks.
fn tiny_publication<'a>(name: &str, weights: &[u8], file: &'a [u8]) -> Publication<'a> {
    let manifest = mlp::load_mlp(
        name,
        weights,
        MlpConfig {
            widths: vec![4, 3, 2],
        },
    )
    .unwrap()
    .manifest()
    .clone();
    Publication::new(
        &manifest,
        &[(FileKind::Safetensors, file)],
        Lineage::default(),
        64,
    )
    .unwrap()
}

/// `surety --json model <command>` for the tiny MLP `name` in `file`, signed by `publisher`.
fn model_command(
    command: &str,
    name: &str,
    file: &std::path::Path,
    keys: &std::path::Path,
    rpc: &str,
) -> (bool, Value, String) {
    surety(&[
        "--json",
        "model",
        command,
        "--name",
        name,
        "--safetensors",
        file.to_str().unwrap(),
        "--mlp",
        "4,3,2",
        "--chunk-bytes",
        "64",
        "--key",
        "publisher",
        "--keys",
        keys.to_str().unwrap(),
        "--rpc",
        rpc,
    ])
}

#[test]
fn an_upload_that_stopped_after_registration_is_resumed() {
    let (dir, network, funded) = setup();
    let keys = dir.path().join("keys");
    let file = dir.path().join("mlp.safetensors");
    let weights = weights(1.0);
    std::fs::write(&file, &weights).unwrap();
    let publication = tiny_publication("resumed", &weights, &weights);
    // The registration and one chunk land; the rest never were sent.
    register_and_stall(&network, &funded, &publication);

    let (ok, resumed, output) = model_command("upload", "resumed", &file, &keys, &network.rpc);
    assert!(ok, "{output}");
    assert_eq!(resumed["model"], publication.model.to_string());
    assert_eq!(resumed["status"]["state"], "active");
    // Resuming says by which height the upload must finish.
    let resuming: Value = serde_json::from_str(output.lines().next().unwrap()).unwrap();
    assert_eq!(resuming["chunks_stored"], 1, "{output}");
    assert!(resuming["upload_by_height"].as_u64().unwrap() > resuming["height"].as_u64().unwrap());
}

#[test]
fn a_model_whose_upload_expired_is_registered_again() {
    let mut params = Params::default();
    // 5 s of 50 ms blocks: enough for the CLI to register again and upload in time.
    params.models.model_upload_blocks = 100;
    let (dir, network, funded) = setup_with(params);
    let keys = dir.path().join("keys");
    let file = dir.path().join("mlp.safetensors");
    let weights = weights(2.0);
    std::fs::write(&file, &weights).unwrap();
    let publication = tiny_publication("expired", &weights, &weights);
    register_and_stall(&network, &funded, &publication);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !matches!(
        model_status(&network, &publication),
        Some(ModelStatus::Expired { .. })
    ) {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never expired"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (ok, _, output) = model_command("upload", "expired", &file, &keys, &network.rpc);
    assert!(!ok, "{output}");
    assert!(
        output.contains("is expired: use `surety model register`"),
        "{output}"
    );

    let (ok, registered, output) = model_command("register", "expired", &file, &keys, &network.rpc);
    assert!(ok, "{output}");
    assert_eq!(registered["status"]["state"], "active", "{output}");
    assert!(
        output.contains("\"deposit\":\"100000\""),
        "the registration reports its deposit: {output}"
    );
}

#[test]
fn a_registration_of_the_same_manifest_with_other_files_is_reported_not_fought() {
    let (dir, network, funded) = setup();
    let keys = dir.path().join("keys");
    let file = dir.path().join("mlp.safetensors");
    let weights = weights(3.0);
    std::fs::write(&file, &weights).unwrap();
    // Someone registers this manifest with commitments to other bytes of the same length.
    let other = self::weights(4.0);
    assert_eq!(other.len(), weights.len());
    let bait = tiny_publication("contested", &weights, &other);
    register_and_stall(&network, &funded, &bait);
    assert!(matches!(
        model_status(&network, &bait),
        Some(ModelStatus::Uploading { .. })
    ));

    let (ok, _, output) = model_command("register", "contested", &file, &keys, &network.rpc);
    assert!(!ok, "{output}");
    assert!(output.contains("with other file commitments"), "{output}");
}
