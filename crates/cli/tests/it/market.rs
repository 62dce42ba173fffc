//! `surety job …` and `surety challenge` against a real node RPC on loopback. A job that runs
//! needs a registered model with serving operators; until models can be registered, these pin
//! what a client sees when the chain refuses: the receipt's typed error, unknown jobs, and
//! clear errors with a non-zero exit.

use serde_json::Value;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use surety_ledger::genesis::{Genesis, GenesisAccount, GenesisOperator};
use surety_node::app::App;
use surety_node::mempool::MempoolLimits;
use surety_node::storage::Storage;
use surety_types::{AccountId, Amount, Hash, OperatorId, Ratio, SigningKey};

const CHAIN: &str = "market-cli-test";

struct Chain {
    app: Arc<Mutex<App>>,
    rpc: String,
    keys: String,
    proposer: OperatorId,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Chain {
    /// One validator with a funded account whose key file is `funded`.
    fn start() -> Chain {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let funded = SigningKey::from_seed([42; 32]);
        std::fs::write(
            keys.join("funded.json"),
            format!("{{\"seed\":\"{}\"}}", hex::encode(funded.seed())),
        )
        .unwrap();
        let account = AccountId::from_key(&funded.verification_key());
        let genesis = Genesis {
            chain_id: CHAIN.into(),
            genesis_time_ms: 0,
            params: Default::default(),
            accounts: vec![GenesisAccount {
                account,
                balance: Amount::new(50_000_000),
            }],
            operators: vec![GenesisOperator {
                account,
                consensus_key: SigningKey::from_seed([43; 32]).verification_key(),
                commission: Ratio::from_percent(5).unwrap(),
                max_commission_change: Ratio::from_percent(1).unwrap(),
                metadata: Default::default(),
                self_bond: Amount::new(10_000_000),
            }],
            delegations: vec![],
            models: Vec::new(),
            allocations: Vec::new(),
        };
        let storage = Storage::open(&dir.path().join("chain.redb")).unwrap();
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
        Chain {
            app,
            rpc,
            keys: keys.to_str().unwrap().to_string(),
            proposer: OperatorId::from(account),
            _runtime: runtime,
            _dir: dir,
        }
    }

    fn commit_block(&self) {
        let mut app = self.app.lock().unwrap();
        let time_ms = (app.ledger().height().get() + 1) * 1_000;
        let block = app.propose(time_ms, self.proposer, &SigningKey::from_seed([43; 32]));
        let cert = surety_node::block::CommitCertificate::sign(
            CHAIN,
            &block,
            0,
            &[SigningKey::from_seed([43; 32])],
        );
        app.commit(&block, &cert).unwrap();
    }

    /// Run `surety` with the node's RPC and key directory, committing blocks while it runs.
    fn surety(&self, args: &[&str]) -> (bool, Value, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_surety"))
            .args(args)
            .env("SURETY_RPC", &self.rpc)
            .env("SURETY_KEYS", &self.keys)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "surety {args:?} did not finish"
            );
            std::thread::sleep(Duration::from_millis(100));
            self.commit_block();
        }
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        let value = stdout
            .lines()
            .last()
            .and_then(|line| serde_json::from_str(line).ok())
            .unwrap_or(Value::Null);
        (output.status.success(), value, format!("{stdout}{stderr}"))
    }
}

#[test]
fn a_job_for_an_unknown_model_is_refused_with_the_receipts_error() {
    let chain = Chain::start();
    let model = format!("model_{}", "ab".repeat(32));

    // Without --wait: the job id is derived from the signed transaction's hash.
    let (ok, submitted, output) = chain.surety(&[
        "--json", "job", "submit", "--model", &model, "--text", "hello", "--key", "funded",
    ]);
    assert!(ok, "{output}");
    let tx = Hash::from_hex(submitted["tx"].as_str().unwrap()).unwrap();
    assert_eq!(
        submitted["job"],
        surety_ledger::jobs::job_id(&tx).to_string(),
        "{output}"
    );

    // With --wait: the block refuses it, and the client is told why.
    let (ok, _, output) = chain.surety(&[
        "job", "submit", "--model", &model, "--text", "hello", "--key", "funded", "--wait",
    ]);
    assert!(!ok, "{output}");
    assert!(output.contains("failed in block"), "{output}");
    assert!(output.contains(&format!("no model {model}")), "{output}");
    let (ok, refused, output) = chain.surety(&[
        "--json", "job", "submit", "--model", &model, "--text", "hello", "--key", "funded",
        "--wait",
    ]);
    assert!(!ok, "{output}");
    assert!(
        refused["error"].as_str().unwrap().contains("no model"),
        "{output}"
    );
}

#[test]
fn unknown_jobs_and_bad_input_fail_clearly() {
    let chain = Chain::start();
    let unknown = format!("job_{}", "cd".repeat(32));
    for command in ["status", "result"] {
        let (ok, _, output) = chain.surety(&["job", command, &unknown]);
        assert!(!ok, "{output}");
        assert!(output.contains(&format!("no job {unknown}")), "{output}");
    }
    let operator = chain.proposer.to_string();
    let (ok, _, output) = chain.surety(&[
        "challenge",
        &unknown,
        "--operator",
        &operator,
        "--key",
        "funded",
    ]);
    assert!(!ok && output.contains("no job"), "{output}");
    let (ok, _, output) = chain.surety(&["job", "status", "job_nothex"]);
    assert!(!ok && output.contains("job \"job_nothex\""), "{output}");
    let (ok, _, output) = chain.surety(&[
        "job", "submit", "--model", "model_00", "--text", "x", "--key", "funded",
    ]);
    assert!(!ok && output.contains("model \"model_00\""), "{output}");
    let (ok, _, output) = chain.surety(&[
        "job",
        "submit",
        "--model",
        "model_00",
        "--text",
        "x",
        "--activation-file",
        "f",
        "--key",
        "funded",
    ]);
    assert!(!ok && output.contains("cannot be used with"), "{output}");
    let (ok, _, output) = chain.surety(&[
        "job",
        "submit",
        "--model",
        &format!("model_{}", "ab".repeat(32)),
        "--text",
        "x",
        "--key",
        "nobody",
    ]);
    assert!(!ok && output.contains("no key \"nobody\""), "{output}");
}
