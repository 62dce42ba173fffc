//! `surety dev`, the README's first command, as a user runs it: the banner on stdout (one JSON
//! line with `--json`, logs on stderr), blocks committed by its one validator, a transfer between
//! the demo accounts with the keys and the RPC it prints, and the same chain after a restart.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SURETY: &str = env!("CARGO_BIN_EXE_surety");

struct Dev {
    child: Child,
    banner: Value,
}

impl Dev {
    /// Start `surety dev --json` on `home` and read its banner: the first stdout line.
    fn start(home: &Path, log: &Path) -> Dev {
        let mut child = Command::new(SURETY)
            .args(["dev", "--json", "--no-model", "--block-time-ms", "100"])
            .args(["--rpc-port", "28950", "--p2p-port", "28951", "--home"])
            .arg(home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let banner = serde_json::from_str(&line).unwrap_or_else(|e| {
            let _ = child.kill();
            panic!(
                "the first stdout line is not the JSON banner ({e}): {line:?}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
        Dev { child, banner }
    }

    fn rpc(&self) -> String {
        self.banner["rpc"].as_str().unwrap().to_string()
    }

    fn account(&self, name: &str) -> String {
        self.banner["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .and_then(|a| a["account"].as_str())
            .unwrap_or_else(|| panic!("no demo account {name} in {}", self.banner))
            .to_string()
    }

    fn height(&self) -> u64 {
        let (_, status, _) = surety(&self.env(), &["--json", "query", "status"]);
        status["height"].as_u64().unwrap_or(0)
    }

    /// What the banner tells a user to export.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SURETY_RPC", self.rpc()),
            (
                "SURETY_KEYS",
                self.banner["keys"].as_str().unwrap().to_string(),
            ),
        ]
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn surety(env: &[(&str, String)], args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(SURETY)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (output.status.success(), value, format!("{stdout}{stderr}"))
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn surety_dev_commits_blocks_takes_a_transfer_and_restarts_on_the_same_chain() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let log = dir.path().join("dev.log");
    let dev = Dev::start(&home, &log);
    wait_for("blocks", Duration::from_secs(60), || dev.height() >= 3);

    let (alice, bob) = (dev.account("alice"), dev.account("bob"));
    let balance = |dev: &Dev, account: &str| -> u128 {
        let (ok, answer, output) = surety(&dev.env(), &["--json", "query", "account", account]);
        assert!(ok, "{output}");
        answer["balance"].as_str().unwrap().parse().unwrap()
    };
    let before = balance(&dev, &bob);
    let (ok, sent, output) = surety(
        &dev.env(),
        &[
            "--json", "tx", "--from", "alice", "transfer", "--to", &bob, "--amount", "1234",
        ],
    );
    assert!(ok, "{output}");
    assert!(
        sent["error"].is_null() && sent["height"].is_u64(),
        "{output}"
    );
    assert_eq!(sent["events"][1]["from"], alice.as_str(), "{output}");
    assert_eq!(balance(&dev, &bob), before + 1234);

    let height = dev.height();
    drop(dev);
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("committed"),
        "the node logs to stderr: {logs}"
    );
    assert!(
        !logs.contains("NoPeersSubscribedToTopic"),
        "a lone validator's gossip errors are not logged"
    );

    // The second run reuses the chain: same accounts, the transfer kept, heights go on.
    let dev = Dev::start(&home, &log);
    assert_eq!(dev.account("bob"), bob);
    wait_for("blocks after the restart", Duration::from_secs(60), || {
        dev.height() > height
    });
    assert_eq!(balance(&dev, &bob), before + 1234);
}
