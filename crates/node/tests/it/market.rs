//! The verified inference market end to end (DESIGN §5): a 4-validator network on 127.0.0.1,
//! each node with its own storage, consensus engine and worker, real MiniLM registered at
//! genesis and served by every operator. Three more operators misbehave — one tampers with
//! its outputs, one serves another checkpoint, one never answers — and clients submit jobs
//! until each of them has been given work. Honest jobs complete and pay; the faulty ones are
//! caught by audit, lose the bisection dispute their workers play automatically, and are
//! jailed and frozen; the silent one is penalised (frozen, not jailed) and its job
//! reassigned. Then a false challenger loses its bond, an equivocating operator is tombstoned,
//! and oversized jobs are refused.
//!
//! Audits are by private sortition (docs/market.md, "Audits: private sortition"): once a job's
//! assignee has sealed, every operator of the model's pool outside its family proves its own
//! VRF over the sealed job and claims the audit when the draw selects it, with probability
//! `audit_rate · weight / pool`. Even at the highest rate (100%) and with six candidates of
//! equal weight, a job then gets no auditor with probability (5/6)^6 ≈ 33% (more while some
//! candidates are jailed or frozen: they stay in the epoch's pool but may not claim). So the
//! test cannot expect every faulty result to be caught, and does not let that pass silently
//! either. It pins the rule instead, job by job: a faulty job with at least one audit claimed
//! is failed, through a dispute the auditor won, and its operator jailed; a faulty job that no
//! VRF selected an auditor for is final with the wrong result (what sortition misses, and the
//! attacker keeps). Rounds of jobs go on until each faulty kind has had an audited job (every
//! worker audits honestly, whatever its own behaviour), so each kind is caught at least once;
//! the round limit makes a run that never audits one fail rather than pass.

use crate::support::minilm::{models_dir, settled, wait_for, MiniLm, MINILM};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use surety_infer::models::bert;
use surety_infer::Executor;
use surety_ledger::disputes::{self, Challenge, Outcome, Phase};
use surety_ledger::jobs::{self, JobInput, JobStatus, ResultStatement, SubmitJob};
use surety_ledger::slashing::Evidence;
use surety_ledger::tx::Msg;
use surety_node::localnet::{self, Localnet, LocalnetOptions};
use surety_node::node::{self, load_key, Behaviour, RunningNode};
use surety_node::worker::{self, Worker, WorkerBehaviour, WorkerConfig};
use surety_types::encoding::encode;
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, Hash, JobId, OperatorId, Ratio, SigningKey};

/// MiniLM's folder; a missing model fails the test with the command that fetches it, unless
/// `SURETY_SKIP_MODEL_TESTS=1` skips real-model tests on purpose.
fn minilm_folder() -> Option<PathBuf> {
    let folder = models_dir().join(MINILM);
    if folder.is_dir() {
        return Some(folder);
    }
    if std::env::var_os("SURETY_SKIP_MODEL_TESTS").is_some_and(|v| v == "1") {
        eprintln!(
            "SURETY_SKIP_MODEL_TESTS=1: skipping, {} is missing",
            folder.display()
        );
        return None;
    }
    panic!(
        "{} is missing: run scripts/fetch-models (or set SURETY_MODELS_DIR)",
        folder.display()
    );
}

const VALIDATORS: usize = 4;
/// Extra operators (no node of their own; their workers run beside validator nodes).
const TAMPER: usize = 0;
const OTHER_WEIGHTS: usize = 1;
const SILENT: usize = 2;

/// Seal deadline of the jobs the faulty operators are caught with. A missed seal is reassigned
/// at its deadline to an operator that is not frozen, and an operator is frozen while it is a
/// party to an open dispute: every honest auditor that challenged the tampering and
/// other-weights operators is, until the bisection ends (12 moves, each waiting for its
/// party's node to propose: 40–60 blocks on a loaded machine). With a deadline of 30 blocks
/// the silent operator's seal can come due while every honest operator but its job's own
/// auditor is in such a dispute; the job then fails with nobody to go to instead of being
/// reassigned. That is the likely cause of a failure of this test seen once in six runs with
/// the pipelined worker (missed and not reassigned), which opens its disputes sooner than the
/// old one. So the deadline outlasts the disputes its round's jobs open
/// (and a round waits for the disputes before it to end).
const ROUND_DEADLINE_BLOCKS: u64 = 150;

fn network(dir: &std::path::Path, minilm: &MiniLm) -> Localnet {
    let mut options = LocalnetOptions::new(VALIDATORS);
    options.chain_id = "market-e2e".into();
    options.extra_operators = 3;
    options.p2p_base_port = 28_700;
    options.rpc_base_port = 0;
    let params = &mut options.params;
    // Long enough that the test ends in the epoch after the one its first rounds ran in: the
    // equivocation evidence at the end names a job the silent operator was given then, and
    // evidence more than `evidence_max_age_epochs` (1) old is refused. At most 10 blocks a
    // second, the test is past 600 blocks only on a much slower path (with 200-block epochs one
    // run of five timed out waiting for the tombstone, most likely for that).
    params.staking.epoch_blocks = 500;
    params.bank.min_tx_fee = Amount::new(1);
    params.staking.unbonding_epochs = 4;
    params.slashing.slash_delay_epochs = 2;
    params.slashing.window_epochs = 1;
    params.slashing.evidence_max_age_epochs = 1;
    params.slashing.jail_epochs = 1;
    // Every result audited; long enough windows for a loaded 2-core machine.
    params.jobs.audit_rate = Ratio::ONE;
    // The audit fund stays solvent at that rate (10% of a 1,000 fee in, 100 out a job).
    params.jobs.audit_reward = Amount::new(100);
    params.jobs.challenge_window_blocks = 25;
    params.jobs.reveal_blocks = 40;
    params.disputes.dispute_move_blocks = 40;
    params.jobs.deadline_blocks_min = 3;
    // Three-block seal deadlines are easy to censor for a coalition holding proposer slots:
    // the test assumes none (the defaults' 12-block claim windows are what cover 20%).
    params.jobs.collusion_fraction = Ratio::ZERO;
    options.timeouts.block_time_ms = 100;
    options.timeouts.propose_ms = 1_000;
    options.models = vec![minilm.localnet_model()];
    options.service_allocation = options.params.services.service_allocation_min;
    let mut seed = 7_000u64;
    localnet::create(dir, &options, move || {
        seed += 1;
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        SigningKey::from_seed(bytes)
    })
    .unwrap()
}

fn submit(node: &RunningNode, key: &SigningKey, msg: Msg) -> Hash {
    let mut app = node.app.lock().unwrap();
    let account = AccountId::from_key(&key.verification_key());
    let tx = Tx {
        chain_id: app.ledger().chain_id().to_string(),
        signer: account,
        nonce: app.next_nonce(&account),
        fee: Amount::new(1),
        msg,
    };
    let signed = tx.sign(key);
    let hash = signed.hash();
    app.submit(encode(&signed)).unwrap();
    hash
}

fn job(node: &RunningNode, id: &JobId) -> Option<jobs::Job> {
    jobs::state::job(node.app.lock().unwrap().ledger().store(), id)
}

/// Every operator's standing and fees in flight, and every dispute's span, for a failure's
/// message.
fn operators_now(node: &RunningNode) -> Vec<String> {
    let app = node.app.lock().unwrap();
    let store = app.ledger().store();
    surety_ledger::staking::state::all_operators(store)
        .into_iter()
        .map(|o| {
            format!(
                "{} jailed={} tombstoned={} pending_slashes={} dispute_holds={} in_flight={}",
                o.id,
                o.jailed,
                o.tombstoned,
                o.pending_slashes,
                o.dispute_holds,
                jobs::state::in_flight(store, &o.id)
            )
        })
        .chain(
            disputes::state::disputes_from(store, 0, usize::MAX)
                .into_iter()
                .map(|d| {
                    let resolved = match &d.phase {
                        Phase::Resolved { height, .. } => Some(*height),
                        _ => None,
                    };
                    format!(
                        "dispute {} opened {} resolved {resolved:?} defendant {} challenger {:?}",
                        d.id, d.opened, d.defendant, d.challenger
                    )
                }),
        )
        .collect()
}

/// The operator a job was first given to, if it was given to anyone.
fn first_assignee(job: &jobs::Job) -> Option<OperatorId> {
    job.assignments.first().map(|a| a.operator)
}

fn operator_record(node: &RunningNode, id: &OperatorId) -> surety_ledger::staking::Operator {
    surety_ledger::staking::state::operator(node.app.lock().unwrap().ledger().store(), id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_market_pays_honest_work_and_proves_and_punishes_every_fault() {
    let Some(folder) = minilm_folder() else {
        return;
    };
    crate::support::logging();
    let minilm = MiniLm::load(&folder);
    let dir = tempfile::tempdir().unwrap();
    let net = network(dir.path(), &minilm);
    let mut nodes = Vec::new();
    for config in &net.configs {
        nodes.push(node::start_with(config, Behaviour::Honest).await.unwrap());
    }
    // The faulty operators' workers, each beside a validator node.
    let extra_key = |i: usize| load_key(&net.keys_dir.join(format!("operator-{i}.json"))).unwrap();
    let extra_id =
        |i: usize| OperatorId::from(AccountId::from_key(&extra_key(i).verification_key()));
    for (i, behaviour) in [
        (TAMPER, WorkerBehaviour::TamperOutput),
        (
            OTHER_WEIGHTS,
            WorkerBehaviour::OtherWeights(minilm.other.clone()),
        ),
        (SILENT, WorkerBehaviour::Silent),
    ] {
        let worker = Worker::new(
            nodes[i].app.clone(),
            extra_key(i),
            WorkerConfig {
                threads: 1,
                poll_ms: 50,
                behaviour,
            },
        )
        .unwrap();
        tokio::spawn(worker.run());
    }
    let model_id = minilm.model.model_id();
    let alice = load_key(&net.keys_dir.join("alice.json")).unwrap();
    let bob = load_key(&net.keys_dir.join("bob.json")).unwrap();
    // The smallest fee: each operator's allocation (the minimum) holds 12 such jobs in
    // flight (0.5% of 2,500,000), against one at `job_fee_max`.
    let fee = net.genesis.params.jobs.job_fee_min;

    // Clients submit jobs until every faulty operator has been given one (each job goes to
    // an operator drawn by stake; faulty operators are jailed once caught).
    let mut jobs_submitted: Vec<(JobId, String)> = Vec::new();
    let faulty = [extra_id(TAMPER), extra_id(OTHER_WEIGHTS), extra_id(SILENT)];
    let started = Instant::now();
    let mut hashes = Vec::new();
    // Each faulty job is audited with probability about 1/2 here (above); 24 rounds give each
    // faulty operator a dozen jobs in expectation before it is caught.
    for round in 0..24 {
        // A party to an open dispute (the honest auditor that challenged a faulty result
        // included) is frozen and gets no new work: with disputes of earlier rounds still
        // open, every operator could be frozen or jailed at once, and a job would fail
        // unassigned. So a round starts once the disputes before it are over.
        wait_for(
            "the earlier rounds' disputes to be over",
            Duration::from_secs(180),
            || {
                disputes::state::disputes_from(
                    nodes[0].app.lock().unwrap().ledger().store(),
                    0,
                    usize::MAX,
                )
                .iter()
                .all(|d| !d.is_open())
            },
        )
        .await;
        for k in 0..4 {
            let text = format!("sentence {round}-{k}: stake-secured verifiable inference");
            // One client, one node: nonces count the client's pending transactions in that
            // node's mempool (without gossip, another node would hand out the same nonce).
            let hash = submit(
                &nodes[0],
                &alice,
                Msg::SubmitJob(Box::new(SubmitJob {
                    model: model_id,
                    input: JobInput::Text(text.clone()),
                    max_fee: fee,
                    deadline_blocks: ROUND_DEADLINE_BLOCKS,
                    replicas: 1,
                })),
            );
            jobs_submitted.push((jobs::job_id(&hash), text));
            hashes.push((0, hash));
        }
        wait_for(
            "the round's jobs to be committed",
            Duration::from_secs(120),
            || {
                hashes.iter().all(|(n, hash)| {
                    nodes[*n]
                        .app
                        .lock()
                        .unwrap()
                        .storage()
                        .receipt(hash)
                        .unwrap()
                        .is_some()
                })
            },
        )
        .await;
        for (n, hash) in hashes.drain(..) {
            let stored = nodes[n]
                .app
                .lock()
                .unwrap()
                .storage()
                .receipt(&hash)
                .unwrap()
                .unwrap();
            assert!(
                stored.receipt.is_ok(),
                "job refused: {:?}",
                stored.receipt.error
            );
        }
        wait_for(
            "the round's jobs to be assigned",
            Duration::from_secs(120),
            || {
                jobs_submitted.iter().all(|(id, _)| {
                    job(&nodes[0], id).is_some_and(|j| j.status != JobStatus::Queued)
                })
            },
        )
        .await;
        // Whether a faulty result is audited is known once its claim window is over.
        let cheats = [extra_id(TAMPER), extra_id(OTHER_WEIGHTS)];
        wait_for(
            "the claim windows of the faulty operators' jobs to be over",
            Duration::from_secs(120),
            || {
                let height = nodes[0].app.lock().unwrap().ledger().height();
                jobs_submitted
                    .iter()
                    .filter_map(|(id, _)| job(&nodes[0], id))
                    .filter(|j| first_assignee(j).is_some_and(|f| cheats.contains(&f)))
                    .all(|j| {
                        settled(&j.status)
                            || j.audit_window.as_ref().is_some_and(|w| height > w.until)
                    })
            },
        )
        .await;
        let records: Vec<jobs::Job> = jobs_submitted
            .iter()
            .filter_map(|(id, _)| job(&nodes[0], id))
            .collect();
        let honest_first = records
            .iter()
            .any(|j| first_assignee(j).is_some_and(|f| !faulty.contains(&f)));
        let silent_given = records
            .iter()
            .any(|j| first_assignee(j) == Some(extra_id(SILENT)));
        let audited = |cheat: &OperatorId| {
            records
                .iter()
                .any(|j| first_assignee(j) == Some(*cheat) && !j.audits.is_empty())
        };
        if honest_first && silent_given && cheats.iter().all(audited) {
            break;
        }
    }
    wait_for(
        "every job to be final or failed",
        Duration::from_secs(600),
        || {
            jobs_submitted
                .iter()
                .all(|(id, _)| job(&nodes[0], id).is_some_and(|j| settled(&j.status)))
        },
    )
    .await;
    eprintln!(
        "{} jobs settled in {:.1} s",
        jobs_submitted.len(),
        started.elapsed().as_secs_f64()
    );

    let executor = Executor::new(1).unwrap();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unaudited: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, text) in &jobs_submitted {
        let record = job(&nodes[0], id).unwrap();
        let first = record.assignments[0].operator;
        let (honest_embedding, honest_trace) = bert::embed(&minilm.model, &executor, text).unwrap();
        let cheat = match first {
            f if f == extra_id(TAMPER) => Some("tamper"),
            f if f == extra_id(OTHER_WEIGHTS) => Some("other-weights"),
            _ => None,
        };
        if let (Some(kind), true) = (cheat, record.audits.is_empty()) {
            // No operator's VRF selected it: nobody audited, and the wrong result stands.
            assert!(record.is_final(), "{record:?}");
            let result = record.result().unwrap();
            assert_ne!(result.trace_root, honest_trace.root(), "{record:?}");
            *unaudited.entry(kind).or_default() += 1;
        } else if let Some(kind) = cheat {
            // Caught by the audit, lost the dispute, refunded.
            assert!(
                matches!(record.status, JobStatus::Failed { .. }),
                "{record:?}"
            );
            let dispute = disputes::state::disputes_from(
                nodes[0].app.lock().unwrap().ledger().store(),
                0,
                usize::MAX,
            )
            .into_iter()
            .find(|d| d.job == *id)
            .expect("a dispute over the job");
            let rounds = 64 - (dispute.steps - 1).leading_zeros() as u64;
            assert!(dispute.moves <= 2 * rounds, "{} moves", dispute.moves);
            assert!(
                matches!(
                    dispute.phase,
                    Phase::Resolved {
                        outcome: Outcome::ChallengerRight,
                        ..
                    }
                ),
                "{dispute:?}"
            );
            let record = operator_record(&nodes[0], &first);
            assert!(record.jailed, "the faulty operator is jailed");
            *seen.entry(kind).or_default() += 1;
        } else if first == extra_id(SILENT) {
            // Missed its deadline: penalised, the job went to someone else.
            assert!(record.assignments[0].missed, "{record:?}");
            assert!(
                record.assignments.len() >= 2,
                "the silent operator's job was not reassigned: {record:?}\noperators: {:?}",
                operators_now(&nodes[0])
            );
            // A market fault: frozen until its small slash applies (no new work), not jailed
            // (it stays a validator).
            let silent = operator_record(&nodes[0], &first);
            assert!(silent.is_frozen() && !silent.jailed, "{silent:?}");
            *seen.entry("silent").or_default() += 1;
        } else {
            assert!(record.is_final(), "{record:?}");
            let result = record.result().unwrap();
            assert_eq!(result.trace_root, honest_trace.root());
            let output = surety_infer::Activation::from_bytes(&result.output).unwrap();
            assert_eq!(
                output.f32("embedding").unwrap().1,
                honest_embedding.as_slice()
            );
            *seen.entry("honest").or_default() += 1;
        }
    }
    eprintln!("outcomes: {seen:?}; faulty jobs no VRF selected an auditor for: {unaudited:?}");
    for kind in ["honest", "tamper", "other-weights", "silent"] {
        assert!(
            seen.get(kind).is_some_and(|n| *n > 0),
            "no job went the {kind} way: {seen:?}"
        );
    }
    // Every node agrees on the state.
    let roots: Vec<_> = nodes
        .iter()
        .map(|n| {
            let app = n.app.lock().unwrap();
            (app.ledger().height(), app.ledger().state_root())
        })
        .collect();
    let least = roots.iter().map(|(h, _)| *h).min().unwrap();
    wait_for(
        "all nodes at the same height",
        Duration::from_secs(30),
        || {
            nodes
                .iter()
                .all(|n| n.app.lock().unwrap().ledger().height() >= least)
        },
    )
    .await;

    // A false challenger: bob challenges an honest result with a made-up trace, plays his
    // side of the bisection honestly to it, and loses his bond.
    let text = "a result worth challenging".to_string();
    let hash = submit(
        &nodes[1],
        &alice,
        Msg::SubmitJob(Box::new(SubmitJob {
            model: model_id,
            input: JobInput::Text(text.clone()),
            max_fee: fee,
            deadline_blocks: 30,
            replicas: 1,
        })),
    );
    let target = jobs::job_id(&hash);
    wait_for("the job's result", Duration::from_secs(120), || {
        job(&nodes[0], &target).is_some_and(|j| matches!(j.status, JobStatus::Challengeable { .. }))
    })
    .await;
    let record = job(&nodes[0], &target).unwrap();
    let defendant = record.live_assignments().next().unwrap().operator;
    let honest = worker::execute(
        minilm.model.clone(),
        &executor,
        &record,
        &WorkerBehaviour::Honest,
    )
    .unwrap();
    let fabricated = worker::execute(
        minilm.model.clone(),
        &executor,
        &record,
        &WorkerBehaviour::TamperOutput,
    )
    .unwrap();
    assert_eq!(record.result().unwrap().trace_root, honest.trace.root());
    let steps = fabricated.trace.len();
    let bond = net.genesis.params.disputes.challenge_bond;
    let bob_id = AccountId::from_key(&bob.verification_key());
    let bob_before =
        surety_ledger::bank::balance(nodes[0].app.lock().unwrap().ledger().store(), &bob_id);
    submit(
        &nodes[0],
        &bob,
        Msg::Challenge(Box::new(Challenge {
            job: target,
            operator: defendant,
            output_hash: fabricated.output.hash(),
            trace_root: fabricated.trace.root(),
            output_proof: fabricated.trace.proof(steps - 1).unwrap(),
        })),
    );
    let mut revealed = std::collections::BTreeSet::new();
    let dispute_id = loop {
        if let Some(JobStatus::Disputed { dispute }) = job(&nodes[0], &target).map(|j| j.status) {
            break dispute;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    let resolved = loop {
        assert!(Instant::now() < deadline, "the dispute did not resolve");
        let dispute =
            disputes::state::dispute(nodes[0].app.lock().unwrap().ledger().store(), dispute_id)
                .unwrap();
        if let Phase::Resolved { outcome, .. } = &dispute.phase {
            break outcome.clone();
        }
        if let Some(reveal) = worker::reveal_for(&dispute, &bob_id, &fabricated.trace) {
            if revealed.insert(reveal.index) {
                submit(&nodes[0], &bob, Msg::RevealStep(Box::new(reveal)));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(resolved, Outcome::DefendantRight);
    let bob_after =
        surety_ledger::bank::balance(nodes[0].app.lock().unwrap().ledger().store(), &bob_id);
    assert!(
        bob_after
            < bob_before
                .checked_sub(bond)
                .unwrap()
                .checked_add(Amount::new(1))
                .unwrap()
    );
    assert!(!operator_record(&nodes[0], &defendant).jailed);
    wait_for(
        "the challenged job to be final",
        Duration::from_secs(120),
        || job(&nodes[0], &target).is_some_and(|j| j.is_final()),
    )
    .await;

    // Equivocation: two different signed results by one operator for one job, submitted by
    // anyone, tombstone it (here: the silent operator, for a job it was given).
    let (silent_job, _) = jobs_submitted
        .iter()
        .find(|(id, _)| {
            job(&nodes[0], id)
                .is_some_and(|j| j.assignments.iter().any(|a| a.operator == extra_id(SILENT)))
        })
        .unwrap();
    let chain_id = net.genesis.chain_id.clone();
    let statement = |output: Hash| {
        ResultStatement {
            chain_id: chain_id.clone(),
            job: *silent_job,
            output_hash: output,
            trace_root: output,
            steps: steps as u64,
        }
        .sign(&extra_key(SILENT))
    };
    submit(
        &nodes[2],
        &bob,
        Msg::SubmitEvidence(Box::new(Evidence::ResultEquivocation {
            first: statement(Hash::of("one", b"")),
            second: statement(Hash::of("two", b"")),
        })),
    );
    wait_for(
        "the equivocating operator to be tombstoned",
        Duration::from_secs(60),
        || operator_record(&nodes[0], &extra_id(SILENT)).tombstoned,
    )
    .await;

    // An oversized input is refused at admission with a clear error: it never reaches a
    // block, so nothing is charged or escrowed.
    let alice_id = AccountId::from_key(&alice.verification_key());
    let refused = {
        let mut app = nodes[3].app.lock().unwrap();
        let tx = Tx {
            chain_id: app.ledger().chain_id().to_string(),
            signer: alice_id,
            nonce: app.next_nonce(&alice_id),
            fee: Amount::new(1),
            msg: Msg::SubmitJob(Box::new(SubmitJob {
                model: model_id,
                input: JobInput::Text(
                    "x".repeat(net.genesis.params.jobs.job_input_bytes_max as usize + 1),
                ),
                max_fee: fee,
                deadline_blocks: 30,
                replicas: 1,
            })),
        };
        app.submit(encode(&tx.sign(&alice))).unwrap_err()
    };
    assert!(
        matches!(
            refused,
            surety_node::mempool::AdmitError::OutOfBounds(jobs::JobsError::InputTooLarge { .. })
        ),
        "{refused}"
    );
    assert!(refused.to_string().contains("input is"), "{refused}");

    for node in nodes {
        node.stop().await;
    }
}
