//! The `surety` binary against a real node RPC on loopback: keys, a signed transfer, a family
//! joined with its head's consent, queries, and clear errors.

use serde_json::Value;
use std::process::Command;
use std::sync::{Arc, Mutex};
use surety_ledger::genesis::{Genesis, GenesisAccount, GenesisOperator};
use surety_node::app::App;
use surety_node::mempool::MempoolLimits;
use surety_node::storage::Storage;
use surety_types::{AccountId, Amount, OperatorId, Ratio, SigningKey};

fn surety(args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_surety"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (output.status.success(), value, format!("{stdout}{stderr}"))
}

#[test]
fn keys_a_signed_transfer_a_family_consent_and_queries_work_against_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let funded = SigningKey::from_seed([42; 32]);
    std::fs::write(
        keys.join("funded.json"),
        format!("{{\"seed\":\"{}\"}}", hex::encode(funded.seed())),
    )
    .unwrap();
    let funded_account = AccountId::from_key(&funded.verification_key());

    let genesis = Genesis {
        chain_id: "cli-test".into(),
        genesis_time_ms: 0,
        params: Default::default(),
        accounts: vec![GenesisAccount {
            account: funded_account,
            balance: Amount::new(50_000_000),
        }],
        operators: vec![GenesisOperator {
            account: funded_account,
            consensus_key: SigningKey::from_seed([43; 32]).verification_key(),
            commission: Ratio::from_percent(5).unwrap(),
            max_commission_change: Ratio::from_percent(1).unwrap(),
            metadata: Default::default(),
            self_bond: Amount::new(10_000_000),
        }],
        delegations: vec![],
        models: vec![],
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

    let keys = keys.to_str().unwrap();
    let (ok, created, output) = surety(&["--json", "keys", "new", "alice", "--keys", keys]);
    assert!(ok, "{output}");
    let alice = created["account"].as_str().unwrap().to_string();

    let (ok, submitted, output) = surety(&[
        "--json",
        "tx",
        "--from",
        "funded",
        "--keys",
        keys,
        "--rpc",
        &rpc,
        "--no-wait",
        "transfer",
        "--to",
        &alice,
        "--amount",
        "5000",
    ]);
    assert!(ok, "{output}");
    assert_eq!(submitted["status"], "pending");
    let hash = submitted["hash"].as_str().unwrap().to_string();
    let (ok, _, output) = surety(&[
        "--json",
        "tx",
        "--from",
        "funded",
        "--keys",
        keys,
        "--rpc",
        &rpc,
        "--no-wait",
        "bond",
        "--amount",
        "500",
    ]);
    assert!(ok, "{output}");

    // Alice (who runs no operator) consents to the funded operator joining her family; a
    // consent for another member is refused by the CLI before it costs a fee.
    let funded_hex = funded_account.to_string();
    let consent_for = |member: &str| {
        let (ok, consent, output) = surety(&[
            "--json",
            "operator",
            "family-consent",
            "--from",
            "alice",
            "--keys",
            keys,
            "--member",
            member,
            "--until-epoch",
            "7",
            "--rpc",
            &rpc,
        ]);
        assert!(ok, "{output}");
        assert_eq!(consent["chain_id"], "cli-test");
        assert_eq!(consent["head"], alice.as_str());
        assert_eq!(consent["family_until"], 7);
        consent["family_consent"].as_str().unwrap().to_string()
    };
    let edit_operator = |consent: &str| {
        surety(&[
            "tx",
            "--from",
            "funded",
            "--keys",
            keys,
            "--rpc",
            &rpc,
            "--no-wait",
            "edit-operator",
            "--moniker",
            "funded",
            "--family",
            &alice,
            "--family-consent",
            consent,
            "--family-until",
            "7",
        ])
    };
    let (ok, _, text) = edit_operator(&consent_for(&alice));
    assert!(!ok && text.contains("not signed by"), "{text}");
    let (ok, _, output) = edit_operator(&consent_for(&funded_hex));
    assert!(ok, "{output}");

    {
        let mut app = app.lock().unwrap();
        let block = app.propose(
            1_000,
            OperatorId::from(funded_account),
            &SigningKey::from_seed([43; 32]),
        );
        let cert = surety_node::block::CommitCertificate::sign(
            "cli-test",
            &block,
            0,
            &[SigningKey::from_seed([43; 32])],
        );
        app.commit(&block, &cert).unwrap();
    }
    let (ok, status, output) = surety(&["--json", "query", "tx", &hash, "--rpc", &rpc]);
    assert!(ok, "{output}");
    assert_eq!(status["status"], "committed");
    let (_, account, _) = surety(&["--json", "query", "account", &alice, "--rpc", &rpc]);
    assert_eq!(account["balance"], "5000");
    let (ok, _, text) = surety(&["query", "validators", "--rpc", &rpc]);
    assert!(ok && text.contains("power: 10000000"), "{text}");
    let operator_id = OperatorId::from(funded_account).to_string();
    let (ok, operator, output) =
        surety(&["--json", "query", "operator", &operator_id, "--rpc", &rpc]);
    assert!(ok, "{output}");
    assert_eq!(
        operator["self_bond"], "10000500",
        "bond adds to the self-bond"
    );
    let metadata = &operator["operator"]["metadata"];
    assert_eq!(metadata["moniker"], "funded");
    assert_eq!(
        metadata["family"],
        alice.as_str(),
        "joined with alice's consent"
    );
    assert_eq!(metadata["family_until"], 7, "until the epoch she signed");

    // Errors say what is wrong and exit non-zero.
    let (ok, _, text) = surety(&["query", "account", "not-an-account", "--rpc", &rpc]);
    assert!(!ok && text.contains("not-an-account"), "{text}");
    let (ok, _, text) = surety(&[
        "tx", "--from", "nobody", "--keys", keys, "--rpc", &rpc, "withdraw",
    ]);
    assert!(!ok && text.contains("no key \"nobody\""), "{text}");
    let (ok, _, text) = surety(&["query", "status", "--rpc", "http://127.0.0.1:1"]);
    assert!(!ok && text.contains("unreachable"), "{text}");
}
