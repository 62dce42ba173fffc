//! A real localnet: `surety localnet --init-only` writes four validators, each runs as its own
//! `surety node` process. A transfer sent to one validator is gossiped and committed on all;
//! a validator killed with SIGKILL mid-run restarts from its own storage and catches up by
//! sync to the same chain as the others.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SURETY: &str = env!("CARGO_BIN_EXE_surety");

struct Node {
    config: PathBuf,
    rpc: String,
    child: Option<Child>,
}

impl Node {
    fn start(&mut self) {
        let log = std::fs::File::create(self.config.with_file_name("node.log")).unwrap();
        let child = Command::new(SURETY)
            .args(["node", "--config"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
        }
    }

    fn get(&self, path: &str) -> Option<Value> {
        ureq::get(&format!("{}{path}", self.rpc))
            .timeout(Duration::from_secs(2))
            .call()
            .ok()?
            .into_json()
            .ok()
    }

    fn height(&self) -> u64 {
        self.get("/status")
            .and_then(|s| s["height"].as_u64())
            .unwrap_or(0)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn surety(args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(SURETY).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (output.status.success(), value, format!("{stdout}{stderr}"))
}

fn log_tail(config: &Path) -> String {
    let text = std::fs::read_to_string(config.with_file_name("node.log")).unwrap_or_default();
    text.lines()
        .rev()
        .take(30)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_killed_validator_restarts_and_catches_up_by_sync() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("net");
    let home_text = home.to_str().unwrap();
    let (ok, summary, output) = surety(&[
        "--json",
        "localnet",
        "--validators",
        "4",
        "--home",
        home_text,
        "--p2p-port",
        "28400",
        "--rpc-port",
        "28450",
        "--block-time-ms",
        "50",
        "--init-only",
        // This test is about processes, kills and sync; the market has its own tests.
        "--no-model",
    ]);
    assert!(ok, "{output}");
    let mut nodes: Vec<Node> = summary["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Node {
            config: PathBuf::from(v["config"].as_str().unwrap()),
            rpc: v["rpc"].as_str().unwrap().to_string(),
            child: None,
        })
        .collect();
    assert_eq!(nodes.len(), 4);
    for node in &mut nodes {
        node.start();
    }
    wait_for("height 5 everywhere", Duration::from_secs(120), || {
        nodes.iter().all(|n| n.height() >= 5)
    });

    // A transfer sent to validator 0 commits on every validator (gossip reaches proposers).
    let keys = home.join("keys");
    let keys_text = keys.to_str().unwrap();
    let (_, bob, _) = surety(&["--json", "keys", "show", "bob", "--keys", keys_text]);
    let bob = bob["account"].as_str().unwrap().to_string();
    let (ok, receipt, output) = surety(&[
        "--json",
        "tx",
        "--from",
        "alice",
        "--keys",
        keys_text,
        "--rpc",
        &nodes[0].rpc,
        "transfer",
        "--to",
        &bob,
        "--amount",
        "777",
    ]);
    assert!(ok, "{output}");
    let tx_height = receipt["height"].as_u64().expect("committed");
    wait_for(
        "the transfer on every node",
        Duration::from_secs(60),
        || nodes.iter().all(|n| n.height() >= tx_height),
    );
    for n in &nodes {
        let account = n.get(&format!("/account/{bob}")).unwrap();
        assert_eq!(account["balance"], "1000000000777", "{}", n.rpc);
    }

    // SIGKILL one validator; three of four keep finalising.
    nodes[3].kill();
    let killed_at = nodes[0].height();
    wait_for(
        "the others to go 20 heights on",
        Duration::from_secs(120),
        || nodes[..3].iter().all(|n| n.height() >= killed_at + 20),
    );

    // Restarted from its own storage, it syncs the heights it missed.
    nodes[3].start();
    let target = nodes[0].height();
    let synced = Duration::from_secs(120);
    let start = Instant::now();
    while nodes[3].height() < target {
        assert!(
            start.elapsed() < synced,
            "validator 3 stuck at {} (target {target}):\n{}",
            nodes[3].height(),
            log_tail(&nodes[3].config)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = nodes[3].get("/status").unwrap();
    assert!(
        status["consensus"]["heights_synced"].as_u64().unwrap() > 0,
        "caught up through sync: {status}"
    );
    // Same blocks, hence the same state roots, on every validator.
    for h in [1, tx_height, killed_at, killed_at + 1, target] {
        let blocks: Vec<Value> = nodes
            .iter()
            .map(|n| n.get(&format!("/block/{h}")).expect("block"))
            .collect();
        assert!(
            blocks.windows(2).all(|w| w[0] == w[1]),
            "validators disagree at height {h}"
        );
    }
}
