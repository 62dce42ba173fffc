//! In-process validator networks on 127.0.0.1, each node with its own storage, Malachite
//! engine and libp2p transport: blocks finalise with identical state on every node, a
//! validator that double-signs is reported, frozen, jailed and later slashed while the chain
//! goes on, delegations change voting power only at the next epoch, and partitions (through
//! the relays of `support::partition`) decide nothing without a quorum and heal within
//! seconds.

use std::time::{Duration, Instant};

use surety_ledger::bank::Transfer;
use surety_ledger::staking::state::operator;
use surety_ledger::staking::Delegate;
use surety_ledger::tx::Msg;
use surety_node::localnet::{self, Localnet, LocalnetOptions};
use surety_node::node::{self, Behaviour, RunningNode};
use surety_types::encoding::encode;
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, Height, OperatorId, SigningKey};

use crate::support::partition::Links;

/// A network of `n` validators with seeded keys; `p2p_base` keeps tests' ports apart.
fn network(dir: &std::path::Path, n: usize, p2p_base: u16, epoch_blocks: u64) -> Localnet {
    crate::support::logging();
    let mut options = LocalnetOptions::new(n);
    options.chain_id = format!("net-test-{p2p_base}");
    options.p2p_base_port = p2p_base;
    options.rpc_base_port = 0;
    options.params.staking.epoch_blocks = epoch_blocks;
    options.params.bank.min_tx_fee = Amount::new(1);
    options.params.staking.unbonding_epochs = 4;
    options.params.slashing.slash_delay_epochs = 2;
    options.params.slashing.window_epochs = 1;
    options.params.slashing.evidence_max_age_epochs = 1;
    options.params.slashing.jail_epochs = 1;
    options.timeouts.block_time_ms = 20;
    options.timeouts.propose_ms = 500;
    let mut seed = p2p_base as u64 * 1_000;
    localnet::create(dir, &options, move || {
        seed += 1;
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        SigningKey::from_seed(bytes)
    })
    .unwrap()
}

fn height(node: &RunningNode) -> u64 {
    node.app.lock().unwrap().ledger().height().get()
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every node holds the same blocks (so the same state roots, which headers carry) up to
/// `upto`.
fn assert_same_chain(nodes: &[&RunningNode], upto: u64) {
    for h in 1..=upto {
        let hashes: Vec<_> = nodes
            .iter()
            .map(|n| {
                let app = n.app.lock().unwrap();
                let block = app.storage().block(Height::new(h)).unwrap().expect("block");
                (block.hash(), block.header.previous_state_root)
            })
            .collect();
        assert!(
            hashes.windows(2).all(|w| w[0] == w[1]),
            "nodes disagree at height {h}: {hashes:?}"
        );
    }
}

fn signed(net: &Localnet, key: &SigningKey, nonce: u64, msg: Msg) -> Vec<u8> {
    let tx = Tx {
        chain_id: net.genesis.chain_id.clone(),
        signer: AccountId::from_key(&key.verification_key()),
        nonce,
        fee: Amount::new(1),
        msg,
    };
    encode(&tx.sign(key))
}

async fn start_all(net: &Localnet, byzantine: Option<usize>) -> Vec<RunningNode> {
    let mut nodes = Vec::new();
    for (i, config) in net.configs.iter().enumerate() {
        let behaviour = if byzantine == Some(i) {
            Behaviour::DoubleSign
        } else {
            Behaviour::Honest
        };
        nodes.push(node::start_with(config, behaviour).await.unwrap());
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_validators_finalise_blocks_with_identical_state_roots() {
    let dir = tempfile::tempdir().unwrap();
    let net = network(dir.path(), 4, 28_100, 1_000);
    let nodes = start_all(&net, None).await;
    // Transfers submitted to different validators reach blocks whoever proposes them.
    let payer = &net.account_keys[1];
    let to = AccountId::from_key(&net.account_keys[2].verification_key());
    for nonce in 0..8u64 {
        let bytes = signed(
            &net,
            payer,
            nonce,
            Msg::Transfer(Transfer {
                to,
                amount: Amount::new(1_000 + nonce as u128),
            }),
        );
        nodes[(nonce % 4) as usize]
            .app
            .lock()
            .unwrap()
            .submit(bytes)
            .unwrap();
    }
    let payer_id = AccountId::from_key(&payer.verification_key());
    wait_for(
        "the transfers to commit on every node",
        Duration::from_secs(60),
        || {
            nodes.iter().all(|n| {
                let app = n.app.lock().unwrap();
                surety_ledger::bank::state::account(app.ledger().store(), &payer_id).nonce == 8
            })
        },
    )
    .await;
    wait_for("height 12 on every node", Duration::from_secs(60), || {
        nodes.iter().all(|n| height(n) >= 12)
    })
    .await;
    let refs: Vec<&RunningNode> = nodes.iter().collect();
    assert_same_chain(&refs, 12);
    // Block h+1 carries the certificate of block h, signed by more than 2/3 of the set.
    {
        let app = nodes[0].app.lock().unwrap();
        let block = app.storage().block(Height::new(12)).unwrap().unwrap();
        let cert = block
            .header
            .last_commit
            .expect("block 12 certifies block 11");
        assert_eq!(cert.height, Height::new(11));
        assert!(
            cert.signatures.len() >= 3,
            "{} signers",
            cert.signatures.len()
        );
        // Its seed is its proposer's VRF draw over block 11's seed, checked here again.
        let previous = app.storage().block(Height::new(11)).unwrap().unwrap();
        let proposer_key = app
            .validator_set()
            .iter()
            .find(|v| v.operator == block.header.proposer)
            .expect("the proposer of block 12 is a validator")
            .consensus_key
            .0;
        let seed = surety_node::block::SeedDraw::verify(
            &block.header.seed_proof,
            &proposer_key,
            &block.header.chain_id,
            Height::new(12),
            &previous.header.seed,
        )
        .expect("the seed proof verifies");
        assert_eq!(block.header.seed, seed);
    }
    for n in nodes {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_double_signing_validator_is_reported_frozen_and_slashed_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // Short epochs, so the slash applies soon: about the shortest the parameters allow, one
    // block longer than an audit claim window at its longest (its seed delay and its claims,
    // each stretched to twice its length).
    let epoch = surety_ledger::params::Params::default()
        .jobs
        .claim_window_span_max()
        + 1;
    let net = network(dir.path(), 4, 28_200, epoch);
    let byzantine = 3;
    let nodes = start_all(&net, Some(byzantine)).await;
    let offender = OperatorId::from(AccountId::from_key(
        &net.account_keys[byzantine].verification_key(),
    ));
    let bonded_before = operator(nodes[0].app.lock().unwrap().ledger().store(), &offender)
        .unwrap()
        .tokens;
    let honest = &nodes[..byzantine];

    // Reported and frozen: tombstoned (equivocation jails for good) with a pending slash,
    // and out of the validator set.
    wait_for("the offender to be frozen", Duration::from_secs(90), || {
        honest.iter().all(|n| {
            let app = n.app.lock().unwrap();
            let op = operator(app.ledger().store(), &offender).unwrap();
            op.tombstoned && (op.is_frozen() || op.tokens < bonded_before)
        })
    })
    .await;
    let frozen_at = height(&honest[0]);
    assert!(
        honest[0]
            .app
            .lock()
            .unwrap()
            .validator_set()
            .iter()
            .all(|v| v.operator != offender),
        "a tombstoned operator leaves the set"
    );

    // Slashed after the delay, and the chain keeps finalising without it.
    wait_for("the slash to apply", Duration::from_secs(120), || {
        honest.iter().all(|n| {
            let app = n.app.lock().unwrap();
            let op = operator(app.ledger().store(), &offender).unwrap();
            op.tokens < bonded_before && !op.is_frozen()
        })
    })
    .await;
    let slashed = operator(honest[0].app.lock().unwrap().ledger().store(), &offender)
        .unwrap()
        .tokens;
    // One operator of four faulted: the correlated rule gives min(1, max(5%, 9·(1/4)²)).
    let total = Amount::new(bonded_before.get() * 4);
    let fraction = surety_ledger::slashing::correlated_fraction(
        net.genesis.params.slashing.equivocation,
        bonded_before,
        total,
    );
    assert_eq!(
        fraction,
        surety_types::Ratio::from_ppb(562_500_000).unwrap()
    );
    assert_eq!(
        slashed,
        Amount::new(bonded_before.get() - fraction.mul_floor(bonded_before).get())
    );
    wait_for(
        "more blocks without the offender",
        Duration::from_secs(60),
        || honest.iter().all(|n| height(n) >= frozen_at + 5),
    )
    .await;
    let upto = honest.iter().map(height).min().unwrap();
    let refs: Vec<&RunningNode> = honest.iter().collect();
    assert_same_chain(&refs, upto);
    let reports: u64 = honest
        .iter()
        .map(|n| n.app.lock().unwrap().consensus_stats.evidence_submitted)
        .sum();
    assert!(reports >= 1, "honest nodes submitted the evidence");
    for n in nodes {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delegation_changes_voting_power_at_the_next_epoch_only() {
    let dir = tempfile::tempdir().unwrap();
    // About the shortest epochs the parameters allow (longer than an audit claim window at its
    // longest).
    let epoch = surety_ledger::params::Params::default()
        .jobs
        .claim_window_span_max()
        + 1;
    let net = network(dir.path(), 4, 28_300, epoch);
    let nodes = start_all(&net, None).await;
    let target = OperatorId::from(AccountId::from_key(&net.account_keys[0].verification_key()));
    let power_of = |set: &[surety_ledger::staking::state::Validator]| {
        set.iter()
            .find(|v| v.operator == target)
            .map(|v| v.power)
            .unwrap()
    };
    wait_for("the first blocks", Duration::from_secs(60), || {
        height(&nodes[0]) >= 2
    })
    .await;
    let before = power_of(nodes[0].app.lock().unwrap().decided_set());
    let delegator = &node::load_key(&net.keys_dir.join("alice.json")).unwrap();
    let amount = Amount::new(before.get() * 3);
    let bytes = signed(
        &net,
        delegator,
        0,
        Msg::Delegate(Delegate {
            operator: target,
            amount,
        }),
    );
    for n in &nodes {
        // Submitted everywhere, so whoever proposes next includes it.
        let _ = n.app.lock().unwrap().submit(bytes.clone());
    }
    let delegator_id = AccountId::from_key(&delegator.verification_key());
    wait_for("the delegation to commit", Duration::from_secs(60), || {
        let app = nodes[0].app.lock().unwrap();
        surety_ledger::bank::state::account(app.ledger().store(), &delegator_id).nonce == 1
    })
    .await;
    let committed_at = height(&nodes[0]);
    let epoch_end = committed_at.div_ceil(epoch) * epoch;
    if committed_at < epoch_end {
        // Bonded now, but the set deciding blocks keeps the old power until the epoch ends.
        let app = nodes[0].app.lock().unwrap();
        assert_eq!(power_of(app.decided_set()), before);
        assert_eq!(power_of(&app.validator_set()), before);
    }
    wait_for("the next epoch", Duration::from_secs(90), || {
        nodes.iter().all(|n| height(n) > epoch_end + 1)
    })
    .await;
    for n in &nodes {
        let app = n.app.lock().unwrap();
        assert_eq!(
            power_of(app.decided_set()),
            Amount::new(before.get() + amount.get())
        );
    }
    // Blocks after the epoch end are certified by the new set: the bigger validator's
    // precommit is part of every quorum the engine counted with the new powers.
    let upto = nodes.iter().map(height).min().unwrap();
    let refs: Vec<&RunningNode> = nodes.iter().collect();
    assert_same_chain(&refs, upto);
    for n in nodes {
        n.stop().await;
    }
}

/// Submit honest transfers with nonces `first..first + count` round-robin to the nodes and wait
/// until node 0 has committed them all; returns transfers committed per second.
async fn honest_transfers(
    net: &Localnet,
    nodes: &[RunningNode],
    payer: &SigningKey,
    first: u64,
    count: u64,
) -> f64 {
    let to = AccountId::from_key(&net.account_keys[2].verification_key());
    let payer_id = AccountId::from_key(&payer.verification_key());
    let start = Instant::now();
    for nonce in first..first + count {
        let bytes = signed(
            net,
            payer,
            nonce,
            Msg::Transfer(Transfer {
                to,
                amount: Amount::new(10),
            }),
        );
        let node = &nodes[(nonce % nodes.len() as u64) as usize];
        node.app.lock().unwrap().submit(bytes).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_for(
        "the honest transfers to commit",
        Duration::from_secs(120),
        || {
            let app = nodes[0].app.lock().unwrap();
            surety_ledger::bank::state::account(app.ledger().store(), &payer_id).nonce
                == first + count
        },
    )
    .await;
    count as f64 / start.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_unpayable_transactions_from_fresh_keys_sent_to_one_node_leaves_honest_transfers_committing(
) {
    const HONEST: u64 = 30;
    const FLOOD_KEYS: u64 = 300;
    const PER_KEY: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    let net = network(dir.path(), 4, 28_400, 1_000);
    let nodes = start_all(&net, None).await;
    let payer = net.account_keys[1].clone();
    let quiet = honest_transfers(&net, &nodes, &payer, 0, HONEST).await;

    // Fresh keys that hold nothing, each filling its nonce window, all sent to node 0.
    let flood: Vec<Vec<u8>> = (0..FLOOD_KEYS)
        .flat_map(|k| {
            let mut seed = [0xf1u8; 32];
            seed[..8].copy_from_slice(&k.to_le_bytes());
            let key = SigningKey::from_seed(seed);
            let net = &net;
            (0..PER_KEY).map(move |nonce| {
                signed(
                    net,
                    &key,
                    nonce,
                    Msg::Transfer(Transfer {
                        to: AccountId([7; 32]),
                        amount: Amount::new(1),
                    }),
                )
            })
        })
        .collect();
    // Round and round, for as long as the honest transfers take.
    let target = nodes[0].app.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooding = stop.clone();
    let flooder = std::thread::spawn(move || {
        let (mut sent, mut refused) = (0usize, 0usize);
        for tx in flood.iter().cycle() {
            if flooding.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            sent += 1;
            if surety_node::app::lock(&target).submit(tx.clone()).is_err() {
                refused += 1;
            }
        }
        (sent, refused)
    });
    let flooded = honest_transfers(&net, &nodes, &payer, HONEST, HONEST).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (flood_len, refused) = tokio::task::spawn_blocking(move || flooder.join().unwrap())
        .await
        .unwrap();
    let waiting = nodes[0].app.lock().unwrap().mempool().len();
    println!(
        "honest transfers/s: {quiet:.1} without a flood, {flooded:.1} under a flood of \
         {flood_len} submissions of unpayable transactions ({refused} refused, {waiting} waiting on node 0); \
         ratio {:.2}",
        flooded / quiet
    );
    assert_eq!(refused, flood_len, "every unpayable transaction is refused");
    let tip = height(&nodes[0]);
    let refs: Vec<&RunningNode> = nodes.iter().collect();
    wait_for(
        "every node at node 0's tip",
        Duration::from_secs(60),
        || nodes.iter().all(|n| height(n) >= tip),
    )
    .await;
    assert_same_chain(&refs, tip);
    for n in nodes {
        n.stop().await;
    }
}

/// The highest height any of `nodes` has committed.
fn highest(nodes: &[RunningNode], which: &[usize]) -> u64 {
    which.iter().map(|i| height(&nodes[*i])).max().unwrap()
}

/// No relayed link is bypassed: every connection between validators goes through a relay.
async fn assert_no_direct_connections(links: &Links) {
    let direct = links.direct_connections().await;
    assert!(
        direct.is_empty(),
        "connections (validator, dialer's port) {direct:?} bypass the relays, so the cut is not \
         one: a dial by peer id to the listen address libp2p's identify cached"
    );
}

/// After a cut, let what was already in flight land (`SETTLE`), then watch `stalled` for
/// `HOLD` (and, if `live` is not empty, until `live` have decided `LIVE_BLOCKS` more blocks):
/// no node of `stalled` goes past the highest height they had once settled (a node may still
/// fetch a block its side decided before the cut), nor had they during the settle gone past
/// the highest height any node had at the cut plus one (a block whose precommits had all
/// arrived). Returns the highest height of `stalled` once settled.
async fn hold_cut(links: &Links, nodes: &[RunningNode], stalled: &[usize], live: &[usize]) -> u64 {
    const SETTLE: Duration = Duration::from_secs(1);
    const HOLD: Duration = Duration::from_secs(4);
    const LIVE_BLOCKS: u64 = 5;
    let all: Vec<usize> = (0..nodes.len()).collect();
    let at_cut = highest(nodes, &all);
    tokio::time::sleep(SETTLE).await;
    assert!(
        highest(nodes, stalled) <= at_cut + 1,
        "blocks past {} decided by {stalled:?} after the cut",
        at_cut + 1
    );
    let frozen = highest(nodes, stalled);
    let live_from = if live.is_empty() {
        0
    } else {
        highest(nodes, live)
    };
    let start = Instant::now();
    wait_for(
        "the live side to go on while the others stay",
        Duration::from_secs(60),
        || {
            let stayed = highest(nodes, stalled);
            assert!(
                stayed <= frozen,
                "height {stayed} decided by {stalled:?}, cut off from a quorum, past {frozen}"
            );
            start.elapsed() >= HOLD
                && (live.is_empty()
                    || live
                        .iter()
                        .all(|i| height(&nodes[*i]) >= live_from + LIVE_BLOCKS))
        },
    )
    .await;
    assert_no_direct_connections(links).await;
    assert!(highest(nodes, stalled) <= frozen);
    frozen
}

/// How long after `healed` every link of `cut` carried a new connection (libp2p redials a
/// persistent peer on a backoff: `docs/consensus.md`, Partitions).
async fn relinked(links: &Links, cut: &[(usize, usize)], healed: Instant) -> Duration {
    wait_for(
        "the validators to redial across the healed links",
        Duration::from_secs(60),
        || links.reconnected_since(cut, healed),
    )
    .await;
    healed.elapsed()
}

/// Every height any two nodes both hold, they hold the same block (safety across the
/// partitions); returns the lowest tip.
fn assert_no_conflicting_blocks(nodes: &[RunningNode]) -> u64 {
    let tips: Vec<u64> = nodes.iter().map(height).collect();
    let mut seen = std::collections::BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let app = node.app.lock().unwrap();
        for h in 1..=tips[i] {
            let hash = app
                .storage()
                .block(Height::new(h))
                .unwrap()
                .expect("block")
                .hash();
            let first = *seen.entry(h).or_insert((i, hash));
            assert_eq!(
                first.1, hash,
                "validators {} and {i} decided different blocks at height {h}",
                first.0
            );
        }
    }
    *tips.iter().min().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partition_without_a_quorum_decides_nothing_and_the_healed_network_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = network(dir.path(), 4, 28_500, 1_000);
    let links = Links::wire(&mut net.configs).await;
    let nodes = start_all(&net, None).await;
    let all = [0, 1, 2, 3];
    wait_for("height 3 on every node", Duration::from_secs(60), || {
        nodes.iter().all(|n| height(n) >= 3)
    })
    .await;
    assert_no_direct_connections(&links).await;
    if cfg!(target_os = "linux") {
        // The bypass check sees a connection that goes around the relays.
        let port = net.configs[0].p2p.listen.rsplit_once("/tcp/").unwrap().1;
        let around = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        let dialer = around.local_addr().unwrap().port();
        assert_eq!(links.direct_connections().await, vec![(0, dialer)]);
    }

    // 2|2: each side holds half the power, short of the 2/3 a decision needs.
    links.split(&[&[0, 1], &[2, 3]]);
    let frozen = hold_cut(&links, &nodes, &all, &[]).await;
    let healed = Instant::now();
    let cut = links.heal();
    let split_relinked = relinked(&links, &cut, healed).await;
    wait_for("a block after the heal", Duration::from_secs(60), || {
        highest(&nodes, &all) > frozen
    })
    .await;
    let split_next_block = healed.elapsed();
    wait_for("every node past the split", Duration::from_secs(60), || {
        nodes.iter().all(|n| height(n) > frozen)
    })
    .await;
    let split_all_on = healed.elapsed();

    // One isolated: the other three hold 3/4 of the power and go on without it.
    let isolated = 3;
    links.isolate(isolated);
    let stood_at = hold_cut(&links, &nodes, &[isolated], &[0, 1, 2]).await;
    let tip = highest(&nodes, &[0, 1, 2]);
    let healed = Instant::now();
    let cut = links.heal();
    let isolate_relinked = relinked(&links, &cut, healed).await;
    wait_for(
        "the isolated validator to catch up",
        Duration::from_secs(60),
        || height(&nodes[isolated]) >= tip,
    )
    .await;
    let isolate_caught_up = healed.elapsed();
    println!(
        "partitions heal: 2|2 split at height {frozen} healed -> links redialled {:.2} s, next \
         block {:.2} s, every node past it {:.2} s; validator {isolated} isolated at \
         {stood_at} while the others reached {tip}, healed -> links redialled {:.2} s, caught \
         up to {tip} {:.2} s",
        split_relinked.as_secs_f64(),
        split_next_block.as_secs_f64(),
        split_all_on.as_secs_f64(),
        isolate_relinked.as_secs_f64(),
        isolate_caught_up.as_secs_f64(),
    );

    // The isolated validator votes again: the chain reaches a height decided with it back.
    wait_for(
        "every node a few blocks on",
        Duration::from_secs(60),
        || nodes.iter().all(|n| height(n) >= tip + 3),
    )
    .await;
    let upto = assert_no_conflicting_blocks(&nodes);
    let refs: Vec<&RunningNode> = nodes.iter().collect();
    assert_same_chain(&refs, upto);
    for n in nodes {
        n.stop().await;
    }
}
