//! Griefing the court, played as attacks with their numbers (docs/market.md, "Loser pays" and
//! "Attacks considered"): a false challenger must pay the honest defendant's dispute costs, a
//! challenger that was right must come out whole, a job's finality can be held back only a
//! bounded number of disputes, the referee's input can come from the challenger when the
//! defendant falls silent, and a replica or auditor that committed the proven-wrong output is
//! slashed with the defendant whatever its own trace root.
//!
//! The market's helpers (a 6-layer MLP registered by transactions, operators 1..=4 serving
//! it, honest and tampered executions, the bisection played by both parties) are copied from
//! `market.rs` so that file stays the main engineer's.

use crate::common::*;
use surety_infer::models::mlp::MlpConfig;
use surety_infer::safetensors_loader::{load_safetensors, save_safetensors_f32};
use surety_infer::{Activation, Architecture, Executor, Model, Tensor, Trace};
use surety_ledger::bank::Pool;
use surety_ledger::disputes::{
    self, Challenge, DisputesError, DisputesEvent, Outcome, Party, Phase, ProvideStepInput,
    RevealStep,
};
use surety_ledger::jobs::{
    self, AuditOutcome, CommitResult, JobInput, JobStatus, JobsError, ResultStatement, SubmitJob,
};
use surety_ledger::models::msg::{chunk_hash, FileKind, Lineage, ModelFile};
use surety_ledger::models::RegisterModel;
use surety_ledger::models::UploadModelChunk;
use surety_ledger::params::{Params, INPUT_CHUNK_BYTES_MAX};
use surety_ledger::services::Allocate;
use surety_ledger::slashing::{FaultKind, SlashingEvent};
use surety_ledger::tx::{Msg, TxError, TX_BYTES_MAX};
use surety_ledger::Event;
use surety_types::merkle::MerkleTree;
use surety_types::tx::Tx;
use surety_types::{Amount, Hash, Height, JobId, ModelId, OperatorId, Ratio};

const PUBLISHER: u16 = 20;
const CLIENT: u16 = 21;
const CHALLENGER: u16 = 22;
const ALLOCATION: u128 = 50_000;
const FEE: u128 = 2_000;
/// The test chain's transaction fee (`common::Chain::sign`) and `min_tx_fee`.
const TX_FEE: u128 = 10;
/// Widths of the test model: 6 linear layers with ReLU between, 11 steps.
const WIDTHS: [u64; 7] = [8, 16, 16, 16, 16, 16, 4];

/// Every result is audited (`audit_rate` 100%), as in `market.rs`; the windows are short and
/// the referee's input is one chunk (the test model's activations are tens of bytes).
fn griefing_params() -> Params {
    let mut params = test_params();
    params.services.service_allocation_min = Amount::new(ALLOCATION);
    params.jobs.job_fee_min = Amount::new(FEE);
    params.jobs.job_fee_max = Amount::new(4_000);
    params.jobs.audit_rate = Ratio::ONE;
    params.jobs.audit_reward = Amount::new(FEE / 10);
    params.jobs.challenge_window_blocks = 4;
    params.jobs.audit_deadline_blocks = 4;
    params.jobs.deadline_blocks_min = 3;
    params.disputes.dispute_move_blocks = 3;
    params.disputes.challenge_bond = Amount::new(30_000);
    params.disputes.dispute_input_bytes_max = INPUT_CHUNK_BYTES_MAX as u64;
    params.disputes.dispute_input_blocks = 4;
    params.jobs.job_input_bytes_max = 4_096;
    params.jobs.in_flight_fee_fraction = Ratio::from_percent(9).unwrap();
    params
}

fn weights(variant: u32) -> Vec<u8> {
    let mut state = 0x9e37_79b9u32.wrapping_add(variant);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 2000) as f32 / 1000.0 - 1.0
    };
    let mut tensors = Vec::new();
    for (i, pair) in WIDTHS.windows(2).enumerate() {
        let (inp, out) = (pair[0] as usize, pair[1] as usize);
        let weight: Vec<f32> = (0..inp * out).map(|_| next() * 0.5).collect();
        let bias: Vec<f32> = (0..out).map(|_| next() * 0.1).collect();
        tensors.push((format!("layers.{i}.weight"), vec![out, inp], weight));
        tensors.push((format!("layers.{i}.bias"), vec![out], bias));
    }
    let refs: Vec<(&str, Vec<usize>, Vec<f32>)> = tensors
        .iter()
        .map(|(name, shape, values)| (name.as_str(), shape.clone(), values.clone()))
        .collect();
    save_safetensors_f32(&refs).unwrap()
}

fn model_from(bytes: &[u8]) -> Model {
    let config = MlpConfig {
        widths: WIDTHS.to_vec(),
    };
    Model::new(
        "market-test-mlp",
        Architecture::Mlp(config),
        load_safetensors(bytes).unwrap(),
        None,
    )
    .unwrap()
}

fn publish(model: &Model, file: &[u8], chunk_bytes: usize) -> (RegisterModel, Vec<Msg>) {
    let chunks: Vec<&[u8]> = file.chunks(chunk_bytes).collect();
    let leaves: Vec<[u8; 32]> = chunks.iter().map(|c| chunk_hash(c).0).collect();
    let tree = MerkleTree::from_leaves(&leaves);
    let register = RegisterModel {
        manifest: surety_types::encoding::encode(model.manifest()),
        files: vec![ModelFile {
            kind: FileKind::Safetensors,
            bytes: file.len() as u64,
            chunk_bytes: chunk_bytes as u32,
            chunks_root: tree.root(),
        }],
        lineage: Lineage::default(),
    };
    let id = model.model_id();
    let uploads = chunks
        .iter()
        .enumerate()
        .map(|(index, chunk)| {
            Msg::UploadModelChunk(Box::new(UploadModelChunk {
                model: id,
                file: 0,
                index: index as u32,
                bytes: chunk.to_vec(),
                proof: tree.proof(index).unwrap(),
            }))
        })
        .collect();
    (register, uploads)
}

struct Market {
    chain: Chain,
    model: Model,
    id: ModelId,
}

fn market() -> Market {
    market_with(griefing_params())
}

/// Operators 1..=4 (200k each) serve the model; a large operator 9 keeps faults uncorrelated.
fn market_with(params: Params) -> Market {
    let mut accounts: Vec<(u16, u128)> = (1..=4).map(|n| (n, 1_000_000)).collect();
    accounts.push((9, 20_000_000));
    accounts.extend((20..=23).map(|n| (n, 1_000_000)));
    let operators: Vec<(u16, u128)> = vec![
        (1, 200_000),
        (2, 200_000),
        (3, 200_000),
        (4, 200_000),
        (9, 10_000_000),
    ];
    let mut chain = Chain::new(params, &accounts, &operators);
    let file = weights(0);
    let model = model_from(&file);
    let id = model.model_id();
    let (register, uploads) = publish(&model, &file, 1024);
    chain.submit_ok(PUBLISHER, Msg::RegisterModel(Box::new(register)));
    let mut nonce = chain.nonce(PUBLISHER);
    let txs: Vec<Vec<u8>> = uploads
        .into_iter()
        .map(|msg| {
            let tx = chain.sign_with_nonce(PUBLISHER, nonce, msg);
            nonce += 1;
            tx
        })
        .collect();
    let outcome = chain.block(&txs);
    assert!(outcome.receipts.iter().all(|r| r.is_ok()));
    for n in 1..=4 {
        chain.submit_ok(
            n,
            Msg::Allocate(Allocate {
                model: id,
                amount: Amount::new(ALLOCATION),
            }),
        );
    }
    Market { chain, model, id }
}

fn input(seed: f32) -> Activation {
    let mut activation = Activation::new();
    let values: Vec<f32> = (0..8).map(|i| (i as f32 * 0.25 - 1.0) * seed).collect();
    activation.set("input", Tensor::f32(vec![1, 8], values));
    activation
}

impl Market {
    fn submit(&mut self, replicas: u32) -> JobId {
        let receipt = self.chain.submit_ok(
            CLIENT,
            Msg::SubmitJob(Box::new(SubmitJob {
                model: self.id,
                input: JobInput::Activation(input(1.5).to_bytes()),
                max_fee: Amount::new(FEE),
                deadline_blocks: 5,
                replicas,
            })),
        );
        let job = receipt
            .events
            .iter()
            .find_map(|e| match e {
                Event::Jobs(jobs::JobsEvent::JobSubmitted { job, .. }) => Some(*job),
                _ => None,
            })
            .expect("a JobSubmitted event");
        // Assigned at the next block, with its seed.
        self.chain.block(&[]);
        job
    }

    fn job(&self, id: &JobId) -> jobs::Job {
        jobs::state::job(self.chain.ledger.store(), id).expect("job exists")
    }

    fn assignees(&self, id: &JobId) -> Vec<u16> {
        self.job(id)
            .live_assignments()
            .map(|a| index_of(&a.operator))
            .collect()
    }

    fn dispute(&self, id: u64) -> disputes::Dispute {
        disputes::state::dispute(self.chain.ledger.store(), id).expect("dispute exists")
    }

    fn dispute_of(&self, job: &JobId) -> u64 {
        match self.job(job).status {
            JobStatus::Disputed { dispute } => dispute,
            other => panic!("job is not disputed: {other:?}"),
        }
    }

    fn params(&self) -> &Params {
        self.chain.ledger.params()
    }
}

fn index_of(operator: &OperatorId) -> u16 {
    (1..=4)
        .find(|n| crate::common::operator(*n) == *operator)
        .expect("a test operator")
}

/// A run of the model on a job's input: the output, its trace, and every activation (the
/// input first).
#[derive(Clone)]
struct Execution {
    output: Activation,
    trace: Trace,
    activations: Vec<Activation>,
}

fn execute(model: &Model, job: &jobs::Job) -> Execution {
    let executor = Executor::new(1).unwrap();
    let input = Activation::from_bytes(&job.input).unwrap();
    let run = model.run(&executor, input.clone()).unwrap();
    let mut activations = vec![input.clone()];
    for last in 0..model.program().len() {
        activations.push(
            model
                .activation_after(&executor, input.clone(), last)
                .unwrap(),
        );
    }
    Execution {
        output: run.output,
        trace: run.trace,
        activations,
    }
}

/// An execution whose output was altered after the fact, with its trace re-rooted to match.
fn tamper(honest: &Execution) -> Execution {
    let mut output = honest.output.clone();
    let (shape, values) = output.f32("logits").unwrap();
    let mut values = values.to_vec();
    values[0] += 1.0;
    output.set("logits", Tensor::f32(shape.to_vec(), values));
    let mut hashes = honest.trace.step_hashes.clone();
    *hashes.last_mut().unwrap() = output.hash();
    let mut activations = honest.activations.clone();
    *activations.last_mut().unwrap() = output.clone();
    Execution {
        output,
        trace: Trace::from_step_hashes(hashes),
        activations,
    }
}

/// The same output as `execution` under another trace root: leaf `step` made up. A replica
/// that copied a wrong output and built a trace of its own around it.
fn reroot(execution: &Execution, step: usize) -> Execution {
    let mut hashes = execution.trace.step_hashes.clone();
    hashes[step] = Hash::of("made up", &[step as u8]);
    Execution {
        output: execution.output.clone(),
        trace: Trace::from_step_hashes(hashes),
        activations: execution.activations.clone(),
    }
}

fn commit_msg(n: u16, job: &JobId, execution: &Execution) -> Msg {
    let steps = execution.trace.len() as u64;
    let statement = ResultStatement {
        chain_id: CHAIN.into(),
        job: *job,
        output_hash: execution.output.hash(),
        trace_root: execution.trace.root(),
        steps,
    };
    Msg::CommitResult(Box::new(CommitResult {
        result: statement.sign(&key(n)),
        output: execution.output.to_bytes(),
        output_proof: execution.trace.proof(steps as usize - 1).unwrap(),
    }))
}

fn challenge_msg(job: JobId, operator: u16, claim: &Execution) -> Msg {
    let steps = claim.trace.len();
    Msg::Challenge(Box::new(Challenge {
        job,
        operator: crate::common::operator(operator),
        output_hash: claim.output.hash(),
        trace_root: claim.trace.root(),
        output_proof: claim.trace.proof(steps - 1).unwrap(),
    }))
}

fn reveal_msg(dispute: u64, index: u64, execution: &Execution) -> Msg {
    Msg::RevealStep(Box::new(RevealStep {
        dispute,
        index,
        step_hash: execution.trace.step_hashes[index as usize],
        proof: execution.trace.proof(index as usize).unwrap(),
    }))
}

/// Play the bisection for both parties to their own traces until the step is isolated;
/// returns the reveals each party sent.
fn bisect(
    market: &mut Market,
    dispute: u64,
    defendant: (u16, &Execution),
    challenger: (u16, &Execution),
) -> u64 {
    let mut moves = 0;
    loop {
        let Phase::Bisect { index, .. } = market.dispute(dispute).phase else {
            return moves;
        };
        let txs: Vec<Vec<u8>> = [defendant, challenger]
            .into_iter()
            .map(|(n, execution)| market.chain.sign(n, reveal_msg(dispute, index, execution)))
            .collect();
        let outcome = market.chain.block(&txs);
        assert!(outcome.receipts.iter().all(|r| r.is_ok()), "{outcome:?}");
        moves += 1;
    }
}

/// Upload the activation before the isolated step as `uploader`, in chunks of 100 bytes;
/// returns the events and the number of chunk transactions.
fn provide_input(
    market: &mut Market,
    dispute: u64,
    uploader: u16,
    execution: &Execution,
) -> (Vec<Event>, u64) {
    let step = market.dispute(dispute).isolated_step().expect("isolated");
    let bytes = execution.activations[step as usize].to_bytes();
    let mut all = Vec::new();
    let mut chunks = 0;
    for (index, chunk) in bytes.chunks(100).enumerate() {
        let receipt = market.chain.submit(
            uploader,
            Msg::ProvideStepInput(Box::new(ProvideStepInput {
                dispute,
                total: bytes.len() as u64,
                offset: (index * 100) as u64,
                bytes: chunk.to_vec(),
            })),
        );
        assert!(receipt.is_ok(), "{:?}", receipt.error);
        all.extend(receipt.events);
        chunks += 1;
    }
    (all, chunks)
}

/// The drawn audit (the block after the results), committed with `execution`.
fn audit_with(market: &mut Market, job: &JobId, execution: &Execution) -> u16 {
    if market.job(job).audit.is_none() {
        market.chain.block(&[]);
    }
    let audit = market.job(job).audit.expect("every result is audited");
    let auditor = index_of(&audit.auditor);
    market
        .chain
        .submit_ok(auditor, commit_msg(auditor, job, execution));
    auditor
}

fn run_until_closed(market: &mut Market, job: &JobId) {
    for _ in 0..40 {
        if !matches!(
            market.job(job).status,
            JobStatus::Challengeable { .. } | JobStatus::Assigned
        ) {
            break;
        }
        market.chain.block(&[]);
    }
}

fn wrong_result_reported(events: &[Event], n: u16) -> bool {
    events.iter().any(|e| {
        matches!(
            e,
            Event::Slashing(SlashingEvent::OffenceReported { operator, kind: FaultKind::WrongResult, .. })
                if *operator == crate::common::operator(n)
        )
    })
}

/// A job computed honestly by one worker and agreed by its auditor: the worker and its run.
fn honest_job(market: &mut Market) -> (JobId, u16, Execution) {
    let job = market.submit(1);
    let worker = market.assignees(&job)[0];
    let honest = execute(&market.model, &market.job(&job));
    market
        .chain
        .submit_ok(worker, commit_msg(worker, &job, &honest));
    audit_with(market, &job, &honest);
    assert_eq!(
        market.job(&job).audit.unwrap().outcome,
        AuditOutcome::Agreed
    );
    (job, worker, honest)
}

/// A false challenge of an honest worker's job, played to the end: both bisect, the worker
/// uploads the input, the referee agrees with it. Returns the dispute, the defendant's
/// reveals and chunks, and the verdict's events.
fn play_false_challenge(
    market: &mut Market,
    job: JobId,
    worker: u16,
    honest: &Execution,
) -> (u64, u64, u64, Vec<Event>) {
    let fabricated = tamper(honest);
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, worker, &fabricated));
    let dispute = market.dispute_of(&job);
    let moves = bisect(market, dispute, (worker, honest), (CHALLENGER, &fabricated));
    let (events, chunks) = provide_input(market, dispute, worker, honest);
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::DisputeResolved {
            dispute,
            outcome: Outcome::DefendantRight,
        }))
    );
    (dispute, moves, chunks, events)
}

#[test]
fn a_false_challenger_pays_the_honest_defendants_costs_from_its_bond() {
    let mut market = market();
    let (job, worker, honest) = honest_job(&mut market);
    let defendant_before = market.chain.balance(worker);
    let challenger_before = market.chain.balance(CHALLENGER);
    let insurance_before = market.chain.pool(Pool::Insurance);
    let bond = market.params().disputes.challenge_bond;
    let (dispute, moves, chunks, events) = play_false_challenge(&mut market, job, worker, &honest);
    // 11 steps, the tampered leaf the last: 3 bisection moves, then a 2-chunk input (100
    // bytes a chunk). Every transaction paid the minimum fee of 10, below the
    // per-transaction cap of 2 · 10: the defendant's costs are 5 · 10 = 50.
    let defendant_costs = Amount::new(u128::from(moves + chunks) * TX_FEE);
    println!(
        "false challenge: {moves} reveals and {chunks} chunks by the defendant, costs \
         {defendant_costs}, bond {bond}"
    );
    assert_eq!(market.dispute(dispute).costs.defendant, defendant_costs);
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::CostsPaidFromBond {
            dispute,
            challenger: account(CHALLENGER),
            defendant: account(worker),
            amount: defendant_costs,
        }))
    );
    let rest = bond.checked_sub(defendant_costs).unwrap();
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::BondForfeited {
            dispute,
            challenger: account(CHALLENGER),
            amount: rest,
        }))
    );
    // The honest defendant is whole: every fee it paid for its reveals and its upload came
    // back from the bond.
    assert_eq!(market.chain.balance(worker), defendant_before);
    // The rest of the bond went to the insurance pool.
    assert_eq!(
        market.chain.pool(Pool::Insurance),
        insurance_before.checked_add(rest).unwrap()
    );
    // The false challenger lost its bond and paid its own fees: the challenge and 3 reveals.
    let challenger_fees = Amount::new(u128::from(1 + moves) * TX_FEE);
    assert_eq!(
        market.chain.balance(CHALLENGER),
        challenger_before
            .checked_sub(bond)
            .unwrap()
            .checked_sub(challenger_fees)
            .unwrap()
    );
    assert!(!market.chain.operator(worker).jailed);
    run_until_closed(&mut market, &job);
    assert!(market.job(&job).is_final());
}

/// A job whose worker committed a tampered output, challenged by `CHALLENGER` with the honest
/// one before the audit; the worker plays the bisection to its own (tampered) trace and then
/// stays silent, and the challenger uploads the referee's input. Returns the job, the liar,
/// the dispute, the challenger's balance just before it challenged, its reveals and chunks,
/// and the verdict's events.
fn true_challenge_with_a_silent_defendant(
    market: &mut Market,
) -> (JobId, u16, u64, Amount, u64, u64, Vec<Event>) {
    let job = market.submit(1);
    let liar = market.assignees(&job)[0];
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    market
        .chain
        .submit_ok(liar, commit_msg(liar, &job, &tampered));
    let before = market.chain.balance(CHALLENGER);
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, liar, &honest));
    let dispute = market.dispute_of(&job);
    let moves = bisect(market, dispute, (liar, &tampered), (CHALLENGER, &honest));
    assert!(matches!(
        market.dispute(dispute).phase,
        Phase::AwaitInput { .. }
    ));
    // The defendant says nothing more; the challenger hands the referee the input.
    let (events, chunks) = provide_input(market, dispute, CHALLENGER, &honest);
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::DisputeResolved {
            dispute,
            outcome: Outcome::ChallengerRight,
        }))
    );
    (job, liar, dispute, before, moves, chunks, events)
}

#[test]
fn a_challenger_uploads_the_input_while_the_defendant_is_silent_and_wins() {
    let mut market = market();
    let insurance = market.chain.pool(Pool::Insurance);
    assert_eq!(insurance, Amount::ZERO, "nothing slashed or forfeited yet");
    let bond = market.params().disputes.challenge_bond;
    let (job, liar, dispute, before, moves, chunks, events) =
        true_challenge_with_a_silent_defendant(&mut market);
    assert!(wrong_result_reported(&events, liar));
    assert!(market.chain.operator(liar).jailed);
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
    // The bond came back; the costs are owed from an insurance pool that is still empty
    // (the liar's slash pays into it when it applies), so none were paid now.
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::BondReturned {
            dispute,
            challenger: account(CHALLENGER),
            amount: bond,
        }))
    );
    let owed = Amount::new(u128::from(moves + chunks) * TX_FEE);
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::CostsReimbursed {
            dispute,
            party: Party::Challenger,
            account: account(CHALLENGER),
            amount: Amount::ZERO,
            owed,
        }))
    );
    let fees = Amount::new(u128::from(1 + moves + chunks) * TX_FEE);
    assert_eq!(
        market.chain.balance(CHALLENGER),
        before.checked_sub(fees).unwrap()
    );
}

#[test]
fn a_challenger_that_wins_is_made_whole() {
    let mut market = market();
    // A false challenge first: what is left of its bond funds the insurance pool.
    let (job, worker, honest) = honest_job(&mut market);
    play_false_challenge(&mut market, job, worker, &honest);
    let insurance = market.chain.pool(Pool::Insurance);
    assert!(insurance > Amount::ZERO);
    let (_, liar, dispute, before, moves, chunks, events) =
        true_challenge_with_a_silent_defendant(&mut market);
    let costs = Amount::new(u128::from(moves + chunks) * TX_FEE);
    assert_eq!(market.dispute(dispute).costs.challenger, costs);
    assert_eq!(
        market.dispute(dispute).costs.defendant,
        Amount::new(u128::from(moves) * TX_FEE)
    );
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::CostsReimbursed {
            dispute,
            party: Party::Challenger,
            account: account(CHALLENGER),
            amount: costs,
            owed: costs,
        }))
    );
    // Whole but for the fee of its `Challenge` transaction: bond back, every reveal and
    // chunk repaid by the insurance pool, which the liar's slash refills.
    assert_eq!(
        market.chain.balance(CHALLENGER),
        before.checked_sub(Amount::new(TX_FEE)).unwrap()
    );
    assert_eq!(
        market.chain.pool(Pool::Insurance),
        insurance.checked_sub(costs).unwrap()
    );
    assert!(market.chain.operator(liar).jailed);
}

#[test]
fn a_party_paying_huge_fees_is_counted_only_the_capped_cost() {
    let mut market = market();
    let (job, worker, honest) = honest_job(&mut market);
    let fabricated = tamper(&honest);
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, worker, &fabricated));
    let dispute = market.dispute_of(&job);
    let Phase::Bisect { index, .. } = market.dispute(dispute).phase else {
        panic!("bisecting")
    };
    // The defendant pays 100,000 for one reveal, hoping to bill it to the challenger: it is
    // counted 2 · min_tx_fee = 20.
    let tx = Tx {
        chain_id: CHAIN.into(),
        signer: account(worker),
        nonce: market.chain.nonce(worker),
        fee: Amount::new(100_000),
        msg: reveal_msg(dispute, index, &honest),
    };
    let outcome = market
        .chain
        .block(&[surety_types::encoding::encode(&tx.sign(&key(worker)))]);
    assert!(outcome.receipts[0].is_ok());
    assert_eq!(market.dispute(dispute).costs.defendant, Amount::new(20));
    assert_eq!(market.params().dispute_tx_cost_max(), Amount::new(20));
}

/// The most blocks after its results are compared (`committed`) a job can be held from
/// finality when no block is full (each full block adds one, up to `deadline_blocks_max` per
/// dispute and per audit): the audit's deadline, then `disputes_per_job_max + 1` disputes,
/// each of `⌈log2 steps⌉` moves and the input phase, each followed by a fresh window.
fn finality_delay_max(params: &Params, steps: u64) -> u64 {
    let moves = u64::from(64 - (steps - 1).leading_zeros());
    let (d, j) = (&params.disputes, &params.jobs);
    let dispute = moves * d.dispute_move_blocks + d.dispute_input_blocks;
    let disputes = u64::from(d.disputes_per_job_max) + 1;
    1 + j.audit_deadline_blocks
        + j.challenge_window_blocks
        + disputes * (dispute + j.challenge_window_blocks)
}

#[test]
fn the_fourth_challenge_of_a_job_is_refused_and_the_job_becomes_final_at_a_bounded_height() {
    let mut market = market();
    let (job, worker, honest) = honest_job(&mut market);
    let committed = market.job(&job).assignments[0]
        .result
        .as_ref()
        .unwrap()
        .committed;
    let limit = market.params().disputes.disputes_per_job_max;
    assert_eq!(limit, 3);
    let bond = market.params().disputes.challenge_bond;
    let challenger_before = market.chain.balance(CHALLENGER);
    let worker_before = market.chain.balance(worker);
    // Three false challenges, one after the other: each reopens the window.
    for _ in 0..limit {
        play_false_challenge(&mut market, job, worker, &honest);
        assert!(matches!(
            market.job(&job).status,
            JobStatus::Challengeable { .. }
        ));
    }
    // The fourth is refused, and charges only its fee.
    let receipt = market
        .chain
        .submit(CHALLENGER, challenge_msg(job, worker, &tamper(&honest)));
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::Disputes(
            DisputesError::TooManyDisputes {
                job,
                disputes: 3,
                limit: 3,
            }
        )))
    );
    run_until_closed(&mut market, &job);
    assert!(market.job(&job).is_final());
    let final_height = market.chain.height();
    let bound = finality_delay_max(market.params(), honest.trace.len() as u64);
    println!(
        "3 false challenges: final at {final_height}, {} blocks after the commit at \
         {committed}; the bound is {bound}; the challenger lost {}, the worker is whole",
        final_height.get() - committed.get(),
        challenger_before
            .checked_sub(market.chain.balance(CHALLENGER))
            .unwrap()
    );
    assert!(final_height <= Height::new(committed.get() + bound));
    // The attacker paid three bonds' worth less the defendant's costs to insurance, and the
    // defendant's costs on top: it bought at most `bound` blocks of delay.
    assert!(
        challenger_before
            .checked_sub(market.chain.balance(CHALLENGER))
            .unwrap()
            > bond.checked_mul(3).unwrap()
    );
    // The worker paid every reveal and chunk of three disputes and got each back; on top it
    // earned its commission on the job: 10% of 90% of the fee.
    assert_eq!(
        market.chain.balance(worker),
        worker_before
            .checked_add(Amount::new(FEE * 9 / 10 / 10))
            .unwrap()
    );
}

#[test]
fn a_staked_disagreement_still_opens_past_the_challenge_limit_and_its_winner_is_reimbursed() {
    let mut params = griefing_params();
    params.disputes.disputes_per_job_max = 1;
    let mut market = market_with(params);
    let job = market.submit(1);
    let worker = market.assignees(&job)[0];
    let honest = execute(&market.model, &market.job(&job));
    let wrong = tamper(&honest);
    market
        .chain
        .submit_ok(worker, commit_msg(worker, &job, &honest));
    // A false challenge takes the one dispute a challenge may open; the audit drawn meanwhile
    // disagrees with the worker and waits its turn.
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, worker, &wrong));
    let first = market.dispute_of(&job);
    let audit = market.job(&job).audit.expect("drawn");
    let auditor = index_of(&audit.auditor);
    market
        .chain
        .submit_ok(auditor, commit_msg(auditor, &job, &wrong));
    assert_eq!(
        market.job(&job).audit.unwrap().outcome,
        AuditOutcome::Deferred
    );
    bisect(&mut market, first, (worker, &honest), (CHALLENGER, &wrong));
    provide_input(&mut market, first, worker, &honest);
    // The auditor's dispute opens although the job is at its limit: it is staked.
    let second = market.dispute_of(&job);
    assert_ne!(second, first);
    assert_eq!(
        disputes::state::of_job(market.chain.ledger.store(), &job).len(),
        2
    );
    let insurance = market.chain.pool(Pool::Insurance);
    let moves = bisect(&mut market, second, (worker, &honest), (auditor, &wrong));
    let (events, chunks) = provide_input(&mut market, second, worker, &honest);
    assert!(wrong_result_reported(&events, auditor));
    // The honest defendant's costs against a staked loser come from the insurance pool
    // (which the first challenger's bond funded, and the auditor's slash refills).
    let costs = Amount::new(u128::from(moves + chunks) * TX_FEE);
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::CostsReimbursed {
            dispute: second,
            party: Party::Defendant,
            account: account(worker),
            amount: costs,
            owed: costs,
        }))
    );
    assert_eq!(
        market.chain.pool(Pool::Insurance),
        insurance.checked_sub(costs).unwrap()
    );
    // A bonded challenge is refused now.
    let receipt = market
        .chain
        .submit(CHALLENGER, challenge_msg(job, worker, &wrong));
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::Disputes(
            DisputesError::TooManyDisputes {
                job,
                disputes: 2,
                limit: 1,
            }
        )))
    );
    run_until_closed(&mut market, &job);
    assert!(market.job(&job).is_final());
}

#[test]
fn a_replica_with_its_own_root_but_the_defendants_wrong_output_is_slashed_with_it() {
    let mut market = market();
    let job = market.submit(2);
    let assignees = market.assignees(&job);
    let (first, second) = (assignees[0], assignees[1]);
    let honest = execute(&market.model, &market.job(&job));
    let liar = tamper(&honest);
    // The second replica has the liar's output under a trace root of its own (leaf 3 made
    // up): the results agree on the output, so no replica dispute opens.
    let copier = reroot(&liar, 3);
    assert_ne!(copier.trace.root(), liar.trace.root());
    assert_eq!(copier.output.hash(), liar.output.hash());
    market
        .chain
        .submit_ok(first, commit_msg(first, &job, &liar));
    market
        .chain
        .submit_ok(second, commit_msg(second, &job, &copier));
    assert!(matches!(
        market.job(&job).status,
        JobStatus::Challengeable { .. }
    ));
    // The honest auditor disagrees with its target, and a dispute opens between them.
    let auditor = audit_with(&mut market, &job, &honest);
    let target = index_of(&market.job(&job).audit.unwrap().target);
    let target_run = if target == first { &liar } else { &copier };
    let dispute = market.dispute_of(&job);
    bisect(
        &mut market,
        dispute,
        (target, target_run),
        (auditor, &honest),
    );
    // The liar's trace differs from the honest one at its last leaf, the copier's at leaf 3
    // first: either way the step's input is an honest activation the auditor holds.
    let (events, _) = provide_input(&mut market, dispute, auditor, &honest);
    let record = market.dispute(dispute);
    assert!(
        matches!(
            record.phase,
            Phase::Resolved {
                outcome: Outcome::ChallengerRight,
                ..
            }
        ),
        "{record:?}"
    );
    assert_eq!(record.defendant_output, liar.output.hash());
    // Both replicas are slashed, whichever was the defendant: the proven-wrong output is
    // theirs, whatever the root.
    for n in [first, second] {
        assert!(market.chain.operator(n).jailed, "operator {n} jailed");
    }
    assert!(wrong_result_reported(&events, first));
    assert!(wrong_result_reported(&events, second));
    // The auditor is the whistleblower for the target, whose own root holds the proven-false
    // leaf; nobody is paid for the other, slashed on its output alone (a pair losing on
    // purpose must not profit from results slashed with it).
    let reporter_of = |n: u16| {
        surety_ledger::slashing::state::all_faults(market.chain.ledger.store())
            .into_iter()
            .find(|f| f.operator == crate::common::operator(n))
            .expect("a fault")
            .reporter
    };
    let other = if target == first { second } else { first };
    assert_eq!(reporter_of(target), Some(account(auditor)));
    assert_eq!(reporter_of(other), None);
    assert!(!market.chain.operator(auditor).jailed);
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
}

#[test]
fn an_auditor_that_agreed_with_a_wrong_output_is_slashed_with_it() {
    let mut market = market();
    let job = market.submit(1);
    let liar = market.assignees(&job)[0];
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    market
        .chain
        .submit_ok(liar, commit_msg(liar, &job, &tampered));
    // The auditor "agrees" with the liar, under a root of its own.
    let auditor = audit_with(&mut market, &job, &reroot(&tampered, 5));
    assert_eq!(
        market.job(&job).audit.unwrap().outcome,
        AuditOutcome::Agreed
    );
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, liar, &honest));
    let dispute = market.dispute_of(&job);
    bisect(
        &mut market,
        dispute,
        (liar, &tampered),
        (CHALLENGER, &honest),
    );
    let (events, _) = provide_input(&mut market, dispute, CHALLENGER, &honest);
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::DisputeResolved {
            dispute,
            outcome: Outcome::ChallengerRight,
        }))
    );
    assert!(wrong_result_reported(&events, liar));
    assert!(wrong_result_reported(&events, auditor));
    assert!(market.chain.operator(auditor).jailed);
}

#[test]
fn a_chunk_of_the_referee_input_fits_in_one_transaction_so_a_block_that_is_not_full_has_room_for_it(
) {
    // `dispute_input_blocks` is sized at one chunk a block (`Params::validate`): a block that
    // does not stretch the deadline had room for one more transaction of `TX_BYTES_MAX`.
    let market = market();
    let tx = market.chain.sign(
        CHALLENGER,
        Msg::ProvideStepInput(Box::new(ProvideStepInput {
            dispute: u64::MAX,
            total: u64::MAX,
            offset: u64::MAX,
            bytes: vec![0xff; INPUT_CHUNK_BYTES_MAX],
        })),
    );
    assert!(tx.len() <= TX_BYTES_MAX, "{} bytes", tx.len());
}

#[test]
fn parameters_that_let_a_dispute_be_griefed_are_refused() {
    use surety_ledger::params::ParamsError;
    // A bond below the defender's worst case: (64 + 1 chunk) · 20.
    let mut params = griefing_params();
    params.disputes.challenge_bond = Amount::new(1_299);
    assert_eq!(
        params.validate(),
        Err(ParamsError::BondBelowWorstCase {
            bond: Amount::new(1_299),
            worst_case: Amount::new(1_300),
        })
    );
    // An audit fund that pays more than it takes: 100% · 201 > 10% · 2,000.
    let mut params = griefing_params();
    params.jobs.audit_reward = Amount::new(201);
    assert_eq!(
        params.validate(),
        Err(ParamsError::AuditFundInsolvent {
            income: Amount::new(200),
            expected_reward: Amount::new(201),
        })
    );
    // An input phase too short for its chunks: 3 blocks of floor + 1 chunk.
    let mut params = griefing_params();
    params.disputes.dispute_input_blocks = 3;
    assert_eq!(
        params.validate(),
        Err(ParamsError::InputDeadlineTooShort {
            blocks: 3,
            needed: 4,
        })
    );
    assert_eq!(griefing_params().validate(), Ok(()));
}

/// The open problem of slashing by output (docs/market.md, "Attacks considered"), played: a
/// defendant with the right output under a trace made up at leaf 8, and a colluding
/// challenger whose trace is honest there and wrong after; together they steer the bisection
/// (5 agreed, 8 not, 7 agreed) onto the made-up leaf. The pair loses on purpose; the
/// honest replica with the same (right) output, and the auditor that agreed, are slashed with
/// the defendant. What holds: nobody is paid the whistleblower share for them, so the pair
/// only pays (the defendant's slash) to grief. The sound fix needs a dispute of their own.
#[test]
fn a_pair_losing_on_purpose_gets_same_output_results_slashed_but_earns_nothing_from_them() {
    let mut market = market();
    let job = market.submit(2);
    let assignees = market.assignees(&job);
    let honest = execute(&market.model, &market.job(&job));
    // The colluding defendant: the right output, leaf 8 made up.
    let made_up = reroot(&honest, 8);
    let (colluder, honest_replica) = (assignees[0], assignees[1]);
    market
        .chain
        .submit_ok(colluder, commit_msg(colluder, &job, &made_up));
    market
        .chain
        .submit_ok(honest_replica, commit_msg(honest_replica, &job, &honest));
    let auditor = audit_with(&mut market, &job, &honest);
    assert_eq!(
        market.job(&job).audit.unwrap().outcome,
        AuditOutcome::Agreed
    );
    // The colluding challenger: honest up to leaf 8, wrong after it to the output.
    let mut hashes = honest.trace.step_hashes.clone();
    for (leaf, hash) in hashes.iter_mut().enumerate().skip(9) {
        *hash = Hash::of("wrong on purpose", &[leaf as u8]);
    }
    let mut partner = honest.clone();
    partner.trace = Trace::from_step_hashes(hashes);
    let mut output = honest.output.clone();
    let (shape, values) = output.f32("logits").unwrap();
    let mut values = values.to_vec();
    values[2] += 3.0;
    output.set("logits", Tensor::f32(shape.to_vec(), values));
    let mut hashes = partner.trace.step_hashes.clone();
    *hashes.last_mut().unwrap() = output.hash();
    partner.trace = Trace::from_step_hashes(hashes);
    partner.output = output;
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, colluder, &partner));
    let dispute = market.dispute_of(&job);
    bisect(
        &mut market,
        dispute,
        (colluder, &made_up),
        (CHALLENGER, &partner),
    );
    assert_eq!(market.dispute(dispute).isolated_step(), Some(8));
    let (events, _) = provide_input(&mut market, dispute, CHALLENGER, &honest);
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::DisputeResolved {
            dispute,
            outcome: Outcome::ChallengerRight,
        }))
    );
    for n in [colluder, honest_replica, auditor] {
        assert!(wrong_result_reported(&events, n), "operator {n} reported");
    }
    let reporter_of = |n: u16| {
        surety_ledger::slashing::state::all_faults(market.chain.ledger.store())
            .into_iter()
            .find(|f| f.operator == crate::common::operator(n))
            .expect("a fault")
            .reporter
    };
    assert_eq!(reporter_of(colluder), Some(account(CHALLENGER)));
    assert_eq!(reporter_of(honest_replica), None);
    assert_eq!(reporter_of(auditor), None);
}

#[test]
fn anyone_may_upload_the_referee_input_and_a_third_party_s_fees_are_its_own() {
    let mut market = market();
    let (job, worker, honest) = honest_job(&mut market);
    let fabricated = tamper(&honest);
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, worker, &fabricated));
    let dispute = market.dispute_of(&job);
    let moves = bisect(
        &mut market,
        dispute,
        (worker, &honest),
        (CHALLENGER, &fabricated),
    );
    // Neither party uploads; a watcher (the publisher's account) does.
    let (events, _) = provide_input(&mut market, dispute, PUBLISHER, &honest);
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::DisputeResolved {
            dispute,
            outcome: Outcome::DefendantRight,
        }))
    );
    let costs = market.dispute(dispute).costs;
    assert_eq!(costs.defendant, Amount::new(u128::from(moves) * TX_FEE));
    assert_eq!(costs.challenger, Amount::new(u128::from(moves) * TX_FEE));
}

/// Run empty blocks until the next block is `height`.
fn run_until_next_is(market: &mut Market, height: Height) {
    while market.chain.height().get() + 1 < height.get() {
        market.chain.block(&[]);
    }
}

#[test]
fn a_job_held_as_long_as_the_rules_allow_is_still_final_within_the_bound() {
    let mut market = market();
    let (job, worker, honest) = honest_job(&mut market);
    let committed = market.job(&job).assignments[0]
        .result
        .as_ref()
        .unwrap()
        .committed;
    let fabricated = tamper(&honest);
    for _ in 0..market.params().disputes.disputes_per_job_max {
        // Each challenge in the last block of the window, each reveal and the input in the
        // last block of their phase: the slowest a dispute can go without a full block.
        let JobStatus::Challengeable { until } = market.job(&job).status else {
            panic!("window open")
        };
        run_until_next_is(&mut market, until);
        market
            .chain
            .submit_ok(CHALLENGER, challenge_msg(job, worker, &fabricated));
        let dispute = market.dispute_of(&job);
        loop {
            match market.dispute(dispute).phase {
                Phase::Bisect {
                    index, deadline, ..
                } => {
                    run_until_next_is(&mut market, deadline);
                    let txs: Vec<Vec<u8>> = [(worker, &honest), (CHALLENGER, &fabricated)]
                        .into_iter()
                        .map(|(n, run)| market.chain.sign(n, reveal_msg(dispute, index, run)))
                        .collect();
                    let outcome = market.chain.block(&txs);
                    assert!(outcome.receipts.iter().all(|r| r.is_ok()));
                }
                Phase::AwaitInput { deadline } => {
                    // Two chunks of 100 bytes: the first a block before the deadline.
                    run_until_next_is(&mut market, Height::new(deadline.get() - 1));
                    provide_input(&mut market, dispute, worker, &honest);
                }
                Phase::Resolved { ref outcome, .. } => {
                    assert_eq!(outcome, &Outcome::DefendantRight);
                    break;
                }
            }
        }
    }
    run_until_closed(&mut market, &job);
    assert!(market.job(&job).is_final());
    let held = market.chain.height().get() - committed.get();
    let bound = finality_delay_max(market.params(), honest.trace.len() as u64);
    println!("held as long as allowed: final {held} blocks after the commit, bound {bound}");
    assert!(held <= bound, "{held} > {bound}");
}

#[test]
fn a_defendant_that_falls_silent_loses_alone_and_peers_with_its_output_are_not_slashed() {
    let mut market = market();
    let job = market.submit(2);
    let assignees = market.assignees(&job);
    let (first, second) = (assignees[0], assignees[1]);
    let honest = execute(&market.model, &market.job(&job));
    // Both replicas are honest and agree; their roots even match.
    for n in [first, second] {
        market.chain.submit_ok(n, commit_msg(n, &job, &honest));
    }
    audit_with(&mut market, &job, &honest);
    // A false challenge of one of them, which then goes offline: it loses by timeout.
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, first, &tamper(&honest)));
    let dispute = market.dispute_of(&job);
    let Phase::Bisect { index, .. } = market.dispute(dispute).phase else {
        panic!("bisecting")
    };
    market
        .chain
        .submit_ok(CHALLENGER, reveal_msg(dispute, index, &tamper(&honest)));
    market
        .chain
        .run_blocks(market.params().disputes.dispute_move_blocks);
    assert!(matches!(
        market.dispute(dispute).phase,
        Phase::Resolved {
            outcome: Outcome::Timeout { ref silent },
            ..
        } if silent == &vec![Party::Defendant]
    ));
    // A silence proves nothing about the output: the silent operator is slashed, its peer
    // with the same output (and root) and the auditor that agreed are not.
    assert!(market.chain.operator(first).jailed);
    assert!(!market.chain.operator(second).jailed);
    let auditor = index_of(&market.job(&job).audit.unwrap().auditor);
    assert!(!market.chain.operator(auditor).jailed);
}
