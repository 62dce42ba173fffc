//! Node benchmark: `cargo bench -p surety-node --bench node`.
//!
//! 1. Consensus with empty blocks, 1 and 4 validators in this process on 127.0.0.1 (real
//!    libp2p transport, real signatures, redb commits): blocks per second, and the time from
//!    the start of a height to its decision at each node (median, p99).
//! 2. End to end: signed transfers POSTed to the validators' HTTP RPC by client threads,
//!    admitted to the mempool, proposed, decided and committed; tx/s from the first submit to
//!    the last commit, for 1 and 4 validators.
//! 3. The same end to end run with the mempool under spam: while the honest clients submit,
//!    `SPAM_THREADS` more POST unpayable transfers from fresh zero-balance keys to validator 0
//!    as fast as it answers (issue #12 item 3, zombie transactions). Prints honest tx/s with
//!    and without the spam and their ratio (target at least 0.8).
//!
//! `SURETY_BENCH_HEIGHTS` (default 300) and `SURETY_BENCH_TXS` (default 20000) size the runs.

use std::time::{Duration, Instant};

use surety_ledger::bank::Transfer;
use surety_ledger::genesis::GenesisAccount;
use surety_ledger::tx::Msg;
use surety_node::localnet::{self, LocalnetOptions};
use surety_node::node::{self, RunningNode};
use surety_types::encoding::encode;
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, SigningKey};

const CLIENT_THREADS: usize = 4;
/// Client threads flooding validator 0 with unpayable transactions in the spam runs.
const SPAM_THREADS: usize = 2;
/// Distinct fresh keys the spam comes from, each with its whole nonce window.
const SPAM_KEYS: u64 = 64;

/// Unpayable transfers (from keys no genesis account funds) as `POST /tx` bodies.
fn spam_bodies(chain_id: &str) -> Vec<String> {
    (0..SPAM_KEYS)
        .flat_map(|k| {
            let key = key(9_000_000 + k);
            (0..32u64).map(move |nonce| {
                let tx = Tx {
                    chain_id: chain_id.to_string(),
                    signer: AccountId::from_key(&key.verification_key()),
                    nonce,
                    fee: Amount::new(1),
                    msg: Msg::Transfer(Transfer {
                        to: AccountId([7; 32]),
                        amount: Amount::new(1),
                    }),
                };
                format!("{{\"tx\":\"{}\"}}", hex::encode(encode(&tx.sign(&key))))
            })
        })
        .collect()
}

/// Spam threads POSTing `bodies` round and round to `url` until `stop`; returns how many
/// were sent and how many the node admitted.
fn spam(
    url: String,
    bodies: std::sync::Arc<Vec<String>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<(usize, usize)>> {
    (0..SPAM_THREADS)
        .map(|thread| {
            let (url, bodies, stop) = (url.clone(), bodies.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                let (mut sent, mut admitted) = (0usize, 0usize);
                let mut i = thread;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = &bodies[i % bodies.len()];
                    i += SPAM_THREADS;
                    sent += 1;
                    if agent
                        .post(&url)
                        .set("content-type", "application/json")
                        .send_string(body)
                        .is_ok()
                    {
                        admitted += 1;
                    }
                }
                (sent, admitted)
            })
        })
        .collect()
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn key(n: u64) -> SigningKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    SigningKey::from_seed(seed)
}

fn options(validators: usize, p2p_base: u16, senders: usize) -> LocalnetOptions {
    let mut options = LocalnetOptions::new(validators);
    options.chain_id = format!("bench-{validators}");
    options.p2p_base_port = p2p_base;
    options.rpc_base_port = 0;
    options.params.bank.min_tx_fee = Amount::new(1);
    options.timeouts.block_time_ms = 0;
    options.extra_accounts = (0..senders as u64)
        .map(|i| GenesisAccount {
            account: AccountId::from_key(&key(1_000_000 + i).verification_key()),
            balance: Amount::new(1_000_000_000),
        })
        .collect();
    options
}

async fn start(dir: &std::path::Path, options: &LocalnetOptions) -> Vec<RunningNode> {
    let mut n = 0u64;
    let net = localnet::create(dir, options, || {
        n += 1;
        key(n)
    })
    .unwrap();
    let mut nodes = Vec::new();
    for config in &net.configs {
        nodes.push(node::start(config).await.unwrap());
    }
    nodes
}

fn height(node: &RunningNode) -> u64 {
    node.app.lock().unwrap().ledger().height().get()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn empty_blocks(validators: usize, p2p_base: u16, heights: u64) {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start(dir.path(), &options(validators, p2p_base, 0)).await;
    // Warm up: connections, first heights.
    while nodes.iter().any(|n| height(n) < 5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let from = height(&nodes[0]);
    let skip: Vec<usize> = nodes
        .iter()
        .map(|n| n.app.lock().unwrap().consensus_stats.finality_ms.len())
        .collect();
    let t0 = Instant::now();
    while height(&nodes[0]) < from + heights {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let done = height(&nodes[0]) - from;
    let mut samples: Vec<f64> = nodes
        .iter()
        .zip(&skip)
        .flat_map(|(n, skip)| n.app.lock().unwrap().consensus_stats.finality_ms[*skip..].to_vec())
        .collect();
    samples.sort_by(f64::total_cmp);
    let later: u64 = nodes
        .iter()
        .map(|n| n.app.lock().unwrap().consensus_stats.later_rounds)
        .sum();
    println!(
        "consensus, empty blocks, {validators} validator(s): {done} heights in {elapsed:.2} s = {:.1} blocks/s; \
         height start -> decided: median {:.2} ms, p99 {:.2} ms ({} samples over all nodes, {later} heights past round 0)",
        done as f64 / elapsed,
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.len(),
    );
    for n in nodes {
        n.stop().await;
    }
}

/// Honest transfers per second end to end; under spam when `with_spam`.
async fn end_to_end(validators: usize, p2p_base: u16, txs: usize, with_spam: bool) -> f64 {
    let senders = 256;
    let per_sender = txs.div_ceil(senders);
    let total = senders * per_sender;
    let dir = tempfile::tempdir().unwrap();
    let options = options(validators, p2p_base, senders);
    let chain_id = options.chain_id.clone();
    let nodes = start(dir.path(), &options).await;
    while nodes.iter().any(|n| height(n) < 2) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Sign everything first: signing is the client's cost, not the network's.
    let bodies: Vec<Vec<(usize, String)>> = (0..CLIENT_THREADS)
        .map(|thread| {
            let mut out = Vec::new();
            for nonce in 0..per_sender as u64 {
                for s in (thread..senders).step_by(CLIENT_THREADS) {
                    let k = key(1_000_000 + s as u64);
                    let tx = Tx {
                        chain_id: chain_id.clone(),
                        signer: AccountId::from_key(&k.verification_key()),
                        nonce,
                        fee: Amount::new(1),
                        msg: Msg::Transfer(Transfer {
                            to: AccountId::from_key(
                                &key(1_000_000 + ((s + 1) % senders) as u64).verification_key(),
                            ),
                            amount: Amount::new(1),
                        }),
                    };
                    let body = format!("{{\"tx\":\"{}\"}}", hex::encode(encode(&tx.sign(&k))));
                    // Each sender always talks to the same validator, so its nonces arrive in order.
                    out.push((s % validators, body));
                }
            }
            out
        })
        .collect();
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("http://{}/tx", n.rpc_addr))
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spammers = if with_spam {
        spam(
            urls[0].clone(),
            std::sync::Arc::new(spam_bodies(&chain_id)),
            stop.clone(),
        )
    } else {
        Vec::new()
    };
    let t0 = Instant::now();
    let clients: Vec<_> = bodies
        .into_iter()
        .map(|bodies| {
            let urls = urls.clone();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                let mut refused = 0usize;
                for (node, body) in bodies {
                    loop {
                        match agent
                            .post(&urls[node])
                            .set("content-type", "application/json")
                            .send_string(&body)
                        {
                            Ok(_) => break,
                            // Mempool full: back off and retry, as a client would.
                            Err(ureq::Error::Status(503, _)) => {
                                std::thread::sleep(Duration::from_millis(5))
                            }
                            Err(_) => {
                                refused += 1;
                                break;
                            }
                        }
                    }
                }
                refused
            })
        })
        .collect();
    let refused: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let submitted_in = t0.elapsed().as_secs_f64();
    let start_height = height(&nodes[0]);
    let all_in = |n: &RunningNode| {
        let app = n.app.lock().unwrap();
        let store = app.ledger().store();
        (0..senders as u64).all(|s| {
            let a = AccountId::from_key(&key(1_000_000 + s).verification_key());
            surety_ledger::bank::state::account(store, &a).nonce == per_sender as u64
        })
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while !nodes.iter().all(all_in) {
        assert!(Instant::now() < deadline, "transactions did not all commit");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (spam_sent, spam_admitted) = spammers
        .into_iter()
        .map(|s| s.join().unwrap())
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    let blocks = height(&nodes[0]) - start_height;
    let label = if with_spam {
        format!(
            " under spam ({spam_sent} unpayable POSTs to validator 0, {:.0}/s, {spam_admitted} admitted)",
            spam_sent as f64 / elapsed
        )
    } else {
        String::new()
    };
    println!(
        "end to end{label}, {validators} validator(s): {total} signed transfers via HTTP RPC -> mempool -> block -> commit in {elapsed:.2} s \
         = {:.0} tx/s (submitted in {submitted_in:.2} s by {CLIENT_THREADS} client threads; {blocks} blocks after the last submit; {refused} refused)",
        total as f64 / elapsed,
    );
    for n in nodes {
        n.stop().await;
    }
    total as f64 / elapsed
}

fn main() {
    // `cargo test --benches` runs this with no --bench flag: stay quick there.
    let quick = !std::env::args().any(|a| a == "--bench");
    let heights = if quick {
        20
    } else {
        env_or("SURETY_BENCH_HEIGHTS", 300) as u64
    };
    let txs = if quick {
        512
    } else {
        env_or("SURETY_BENCH_TXS", 20_000)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        empty_blocks(1, 29_000, heights).await;
        empty_blocks(4, 29_010, heights).await;
        for (validators, port) in [(1, 29_020), (4, 29_030)] {
            let quiet = end_to_end(validators, port, txs, false).await;
            let spammed = end_to_end(validators, port + 100, txs, true).await;
            println!(
                "spam vs no spam, {validators} validator(s): {spammed:.0} / {quiet:.0} honest tx/s = ratio {:.2} (target >= 0.8)",
                spammed / quiet
            );
        }
    });
}
