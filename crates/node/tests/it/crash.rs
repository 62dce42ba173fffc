//! A node killed with SIGKILL at any moment loses no committed block: a child process (this
//! test binary, re-run in child mode) commits blocks as fast as it can and announces each one
//! after its commit returns; the parent kills it at varying moments, reopens the store, and
//! checks that every announced block is there and that the state root is exactly the one a
//! clean replay of the same blocks produces.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use surety_node::app::App;
use surety_node::mempool::MempoolLimits;
use surety_node::storage::Storage;
use surety_types::{Hash, Height};

const CHILD_ENV: &str = "SURETY_CRASH_CHILD_DIR";
/// The child stops by itself after this many blocks if nobody kills it.
const CHILD_BLOCKS_MAX: u64 = 5_000;

fn open(dir: &Path) -> App {
    App::open(
        Storage::open(&dir.join("chain.redb")).unwrap(),
        &genesis(),
        MempoolLimits::default(),
    )
    .unwrap()
}

/// Block `height` of the deterministic test chain: one transfer, fixed time.
fn commit_next(app: &mut App) -> Hash {
    let height = app.ledger().height().next();
    app.submit(transfer(
        2,
        height.get() - 1,
        3,
        1 + height.get() as u128 % 7,
    ))
    .unwrap();
    commit_next_at(app, height.get() * 1_000);
    app.ledger().state_root()
}

/// Child mode: commit blocks until killed, announcing each after it is durable. Not a test of
/// its own: the crash test runs it in a child process.
#[test]
#[ignore = "run by a_node_killed_at_any_moment_loses_no_committed_block in a child process"]
fn crash_child() {
    let dir = std::env::var_os(CHILD_ENV).expect("run by the crash test, which sets the directory");
    let mut app = open(Path::new(&dir));
    use std::io::Write;
    let stdout = std::io::stdout();
    for _ in 0..CHILD_BLOCKS_MAX {
        let root = commit_next(&mut app);
        let mut out = stdout.lock();
        writeln!(out, "committed {} {}", app.ledger().height().get(), root).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn a_node_killed_at_any_moment_loses_no_committed_block() {
    for kill_after in [1usize, 7, 40, 150] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash::crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut announced: Vec<(u64, String)> = Vec::new();
        while announced.len() < kill_after {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(rest) = line.strip_prefix("committed ") {
                let (height, root) = rest.split_once(' ').unwrap();
                announced.push((height.parse().unwrap(), root.to_string()));
            }
        }
        child.kill().unwrap(); // SIGKILL: no destructors, no flush, mid-write if it was writing
        child.wait().unwrap();
        let (last_height, _) = announced
            .last()
            .cloned()
            .expect("the child committed blocks");

        let reopened = open(dir.path());
        let height = reopened.ledger().height();
        assert!(
            height.get() >= last_height,
            "announced block {last_height} lost: store is at {height}"
        );
        assert!(
            height.get() <= last_height + 1,
            "at most the block in flight is extra"
        );
        reopened.ledger().check_invariants().unwrap();

        // A clean replay of the same blocks reaches the same root.
        let replay_dir = tempfile::tempdir().unwrap();
        let mut replay = open(replay_dir.path());
        let mut root = replay.ledger().state_root();
        while replay.ledger().height() < height {
            root = commit_next(&mut replay);
            let h = replay.ledger().height().get();
            if let Some((_, announced_root)) = announced.iter().find(|(a, _)| *a == h) {
                assert_eq!(&root.to_string(), announced_root, "replay diverges at {h}");
            }
        }
        assert_eq!(
            reopened.ledger().state_root(),
            root,
            "killed after {kill_after} blocks"
        );
        assert_eq!(
            reopened
                .storage()
                .block(Height::new(height.get()))
                .unwrap()
                .map(|b| b.header.height),
            Some(height)
        );
    }
}
