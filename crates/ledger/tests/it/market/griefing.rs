//! Griefing the court, played as attacks with their numbers (docs/market.md, "Loser pays" and
//! "Attacks considered"): a false challenger must pay the honest defendant's dispute costs, a
//! challenger that was right must come out whole, a job's finality can be held back only a
//! bounded number of disputes, the referee's input can come from the challenger when the
//! defendant falls silent, and a replica or auditor that committed the proven-wrong output
//! under a root of its own is a suspect: disputed in turn against the winner's claim, slashed
//! if it cannot answer the bisection, cleared (and the winner that staged the loss felled) if
//! it is honest.
//!
//! The market's helpers (a 6-layer MLP registered by transactions, operators 1..=4 serving
//! it, honest and tampered executions, the blind commit, the bisection played by both
//! parties) are `market.rs`'s.

use super::*;
use surety_ledger::disputes::{Challenger, DisputesEvent, Party};
use surety_ledger::params::INPUT_CHUNK_BYTES_MAX;
use surety_ledger::slashing::SlashingEvent;
use surety_ledger::tx::TX_BYTES_MAX;
use surety_types::tx::Tx;

/// The test chain's transaction fee (`common::Chain::sign`) and `min_tx_fee`.
const TX_FEE: u128 = 10;

/// `market.rs`'s parameters (audits at 100%, `collusion_fraction` 0, short
/// windows), with the referee's input at one chunk of `INPUT_CHUNK_BYTES_MAX` (the test
/// model's activations are tens of bytes).
fn griefing_params() -> Params {
    let mut params = market_params();
    params.disputes.dispute_input_bytes_max = INPUT_CHUNK_BYTES_MAX as u64;
    params
}

fn market() -> Market {
    market_with(griefing_params())
}

impl Market {
    /// The job's live assignees, as test indices.
    fn workers(&self, id: &JobId) -> Vec<u16> {
        self.assignees(id).iter().map(Market::index_of).collect()
    }

    fn dispute(&self, id: u64) -> disputes::Dispute {
        disputes::state::dispute(self.chain.ledger.store(), id).expect("dispute exists")
    }

    fn params(&self) -> &Params {
        self.chain.ledger.params()
    }

    /// The reporter recorded on operator `n`'s fault.
    fn reporter_of(&self, n: u16) -> Option<surety_types::AccountId> {
        surety_ledger::slashing::state::all_faults(self.chain.ledger.store())
            .into_iter()
            .find(|f| f.operator == operator(n))
            .expect("a fault")
            .reporter
    }

    /// How many disputes the job has had.
    fn disputes_of(&self, job: &JobId) -> usize {
        disputes::state::of_job(self.chain.ledger.store(), job).len()
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

/// A bisection move: `execution`'s leaf `index`, with its proof.
fn step_msg(dispute: u64, index: u64, execution: &Execution) -> Msg {
    Msg::RevealStep(Box::new(RevealStep {
        dispute,
        index,
        step_hash: execution.trace.step_hashes[index as usize],
        proof: execution.trace.proof(index as usize).unwrap(),
    }))
}

/// `market.rs`'s [`bisect`], counted in moves: the reveals each party sent.
fn bisect_moves(
    market: &mut Market,
    dispute: u64,
    defendant: (u16, &Execution),
    challenger: (u16, &Execution),
) -> u64 {
    bisect(market, dispute, defendant, challenger) / 2
}

/// `market.rs`'s [`provide_input`] (chunks of 100 bytes), with the number of chunk
/// transactions.
fn upload_input(
    market: &mut Market,
    dispute: u64,
    uploader: u16,
    execution: &Execution,
) -> (Vec<Event>, u64) {
    let step = market.dispute(dispute).isolated_step().expect("isolated");
    let chunks = execution.activations[step as usize]
        .to_bytes()
        .len()
        .div_ceil(100) as u64;
    (provide_input(market, dispute, uploader, execution), chunks)
}

/// Until the job is neither being committed nor challengeable (final, failed or disputed).
fn run_until_closed(market: &mut Market, job: &JobId) {
    for _ in 0..40 {
        if !matches!(
            market.job(job).status,
            JobStatus::Challengeable { .. } | JobStatus::Assigned | JobStatus::Revealing { .. }
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

fn resolved(events: &[Event], dispute: u64, outcome: Outcome) -> bool {
    events.contains(&Event::Disputes(DisputesEvent::DisputeResolved {
        dispute,
        outcome,
    }))
}

/// A job computed honestly by one worker and agreed by its auditor (both seal, then both
/// reveal): the worker and its run.
fn honest_job(market: &mut Market) -> (JobId, u16, Execution) {
    let job = market.submit(1);
    let worker = market.workers(&job)[0];
    let honest = execute(&market.model, &market.job(&job));
    market.seal_and_reveal(&job, &[(worker, &honest), (AUDITOR, &honest)]);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
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
    let dispute = dispute_of(market, &job);
    let moves = bisect_moves(market, dispute, (worker, honest), (CHALLENGER, &fabricated));
    let (events, chunks) = upload_input(market, dispute, worker, honest);
    assert!(resolved(&events, dispute, Outcome::DefendantRight));
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
    assert_eq!((moves, chunks), (3, 2));
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

/// A job whose worker committed a tampered output, its designated auditor colluding (it
/// seals and reveals the very same tampered run, so the audit agrees and the job is
/// challengeable), challenged by `CHALLENGER` with the honest run; the worker plays the
/// bisection to its own (tampered) trace and then stays silent, and the challenger uploads
/// the referee's input. Returns the job, the liar, the dispute, the challenger's balance just
/// before it challenged, its reveals and chunks, and the verdict's events.
fn true_challenge_with_a_silent_defendant(
    market: &mut Market,
) -> (JobId, u16, u64, Amount, u64, u64, Vec<Event>) {
    let job = market.submit(1);
    let liar = market.workers(&job)[0];
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    market.seal_and_reveal(&job, &[(liar, &tampered), (AUDITOR, &tampered)]);
    let auditor = market.auditor(&job);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Agreed
    );
    let before = market.chain.balance(CHALLENGER);
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, liar, &honest));
    let dispute = dispute_of(market, &job);
    let moves = bisect_moves(market, dispute, (liar, &tampered), (CHALLENGER, &honest));
    assert!(matches!(
        market.dispute(dispute).phase,
        Phase::AwaitInput { .. }
    ));
    // The defendant says nothing more; the challenger hands the referee the input.
    let (events, chunks) = upload_input(market, dispute, CHALLENGER, &honest);
    assert!(resolved(&events, dispute, Outcome::ChallengerRight));
    // The colluding auditor's audit is under the liar's very root: it falls at once, and no
    // suspect dispute follows (no other root shares the output).
    assert!(wrong_result_reported(&events, auditor));
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
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
    let dispute = dispute_of(&market, &job);
    let index = bisect_index(&market, dispute);
    // The defendant pays 100,000 for one reveal, hoping to bill it to the challenger: it is
    // counted 2 · min_tx_fee = 20.
    let tx = Tx {
        chain_id: CHAIN.into(),
        signer: account(worker),
        nonce: market.chain.nonce(worker),
        fee: Amount::new(100_000),
        msg: step_msg(dispute, index, &honest),
    };
    let outcome = market
        .chain
        .block(&[surety_types::encoding::encode(&tx.sign(&key(worker)))]);
    assert!(outcome.receipts[0].is_ok());
    assert_eq!(market.dispute(dispute).costs.defendant, Amount::new(20));
    assert_eq!(market.params().dispute_tx_cost_max(), Amount::new(20));
}

/// The most blocks after a worker's reveal (its result's `committed`) a job can be held from
/// finality when no block is full (each full block adds one, up to `deadline_blocks_max` per
/// reveal phase and per dispute): the rest of the reveal phase (`reveal_blocks`: a late
/// auditor or replica may reveal in its last block, and the results are compared at its
/// end), a challenge window, then `disputes_per_job_max + 1` disputes, each of
/// `⌈log2 steps⌉` moves and the input phase, each followed by a fresh window:
/// `1 + reveal_blocks + challenge_window_blocks + N · (T + challenge_window_blocks)`.
/// Suspect disputes (another result or agreeing audit with the lost output under another
/// root) add `S · T` on top (docs/market.md, "How long a job can be held"); these tests have
/// a single honest worker, so `S` is 0.
fn finality_delay_max(params: &Params, steps: u64) -> u64 {
    let moves = u64::from(64 - (steps - 1).leading_zeros());
    let (d, j) = (&params.disputes, &params.jobs);
    let dispute = moves * d.dispute_move_blocks + d.dispute_input_blocks;
    let disputes = u64::from(d.disputes_per_job_max) + 1;
    1 + j.reveal_blocks
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
    // A false challenge on another job first: what is left of its bond funds the insurance
    // pool that reimburses winners against staked losers.
    let (funding, funding_worker, funding_run) = honest_job(&mut market);
    play_false_challenge(&mut market, funding, funding_worker, &funding_run);
    let job = market.submit(2);
    let workers = market.workers(&job);
    let (worker, wrong_replica) = (workers[0], workers[1]);
    let honest = execute(&market.model, &market.job(&job));
    let wrong = tamper(&honest);
    // The replicas disagree: their dispute takes the one dispute the job may have; the
    // auditor, revealed in the same block, disagrees with the worker it audits (the first
    // result) and waits its turn.
    market.seal_and_reveal(
        &job,
        &[
            (worker, &honest),
            (wrong_replica, &wrong),
            (AUDITOR, &wrong),
        ],
    );
    let auditor = market.auditor(&job);
    let first = dispute_of(&market, &job);
    assert_eq!(market.dispute(first).defendant, operator(worker));
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Deferred
    );
    bisect(
        &mut market,
        first,
        (worker, &honest),
        (wrong_replica, &wrong),
    );
    let (events, _) = upload_input(&mut market, first, worker, &honest);
    assert!(wrong_result_reported(&events, wrong_replica));
    // The deferred audit decides itself in a dispute of its own, not on this verdict.
    assert!(!wrong_result_reported(&events, auditor));
    // The auditor's dispute opens although the job is at its limit: it is staked.
    let second = dispute_of(&market, &job);
    assert_ne!(second, first);
    assert_eq!(market.disputes_of(&job), 2);
    let insurance = market.chain.pool(Pool::Insurance);
    let moves = bisect_moves(&mut market, second, (worker, &honest), (auditor, &wrong));
    let (events, chunks) = upload_input(&mut market, second, worker, &honest);
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
    let workers = market.workers(&job);
    let (first, second) = (workers[0], workers[1]);
    let client_before = market.chain.balance(CLIENT);
    let honest = execute(&market.model, &market.job(&job));
    let liar = tamper(&honest);
    // The second replica has the liar's output under a trace root of its own (leaf 3 made
    // up): the results agree on the output, so no replica dispute opens.
    let copier = reroot(&liar, 3);
    assert_ne!(copier.trace.root(), liar.trace.root());
    assert_eq!(copier.output.hash(), liar.output.hash());
    // The honest auditor disagrees with its target (the first result, the liar's), and a
    // dispute opens between them.
    market.seal_and_reveal(
        &job,
        &[(first, &liar), (second, &copier), (AUDITOR, &honest)],
    );
    let auditor = market.auditor(&job);
    assert_eq!(market.job(&job).audits[0].clone().target, operator(first));
    let dispute = dispute_of(&market, &job);
    bisect(&mut market, dispute, (first, &liar), (auditor, &honest));
    // The liar's trace differs from the honest one at its last leaf only.
    assert_eq!(market.dispute(dispute).isolated_step(), Some(10));
    let (events, _) = upload_input(&mut market, dispute, auditor, &honest);
    assert!(resolved(&events, dispute, Outcome::ChallengerRight));
    assert_eq!(market.dispute(dispute).defendant_output, liar.output.hash());
    // The liar falls at once, the auditor its whistleblower; the copier, the same output
    // under another root, is not slashed on a verdict it was no party to: it is disputed in
    // turn against the winner's claim (no bond), and the job stays disputed, unrefunded.
    assert!(wrong_result_reported(&events, first));
    assert!(!wrong_result_reported(&events, second));
    assert_eq!(market.reporter_of(first), Some(account(auditor)));
    let suspect = dispute_of(&market, &job);
    assert_ne!(suspect, dispute);
    let record = market.dispute(suspect);
    assert_eq!(record.defendant, operator(second));
    assert_eq!(record.defendant_root, copier.trace.root());
    assert_eq!(record.challenger, Challenger::Operator(operator(auditor)));
    assert_eq!(record.challenger_root, honest.trace.root());
    assert_eq!(record.bond, Amount::ZERO);
    assert_eq!(market.chain.pool(Pool::JobEscrow), Amount::new(FEE));
    assert_eq!(market.chain.balance(CLIENT), client_before);
    // The copier cannot answer the bisection consistently: its made-up leaf 3 is agreed
    // past (leaf 5 is honest in both), and the step it loses at is the wrong last one,
    // whose input (an honest activation) the auditor holds.
    let moves = bisect_moves(&mut market, suspect, (second, &copier), (auditor, &honest));
    let step = market.dispute(suspect).isolated_step();
    let (events, chunks) = upload_input(&mut market, suspect, auditor, &honest);
    println!("copier: isolated {step:?} after {moves} moves, {chunks} chunks");
    assert!(resolved(&events, suspect, Outcome::ChallengerRight));
    assert!(wrong_result_reported(&events, second));
    assert_eq!(market.reporter_of(second), Some(account(auditor)));
    for n in [first, second] {
        assert!(market.chain.operator(n).jailed, "operator {n} jailed");
    }
    assert!(!market.chain.operator(auditor).jailed);
    // The chain is over: the job takes the first verdict's fate, and the client is refunded
    // its fee once, after both disputes.
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
    assert_eq!(market.disputes_of(&job), 2);
    assert_eq!(market.chain.pool(Pool::JobEscrow), Amount::ZERO);
    assert_eq!(
        market.chain.balance(CLIENT),
        client_before.checked_add(Amount::new(FEE)).unwrap()
    );
}

#[test]
fn an_auditor_that_agreed_with_a_wrong_output_is_slashed_with_it() {
    let mut market = market();
    let job = market.submit(1);
    let liar = market.workers(&job)[0];
    let client_before = market.chain.balance(CLIENT);
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    let agreeing = reroot(&tampered, 5);
    // The auditor "agrees" with the liar, under a root of its own (leaf 5 made up).
    market.seal_and_reveal(&job, &[(liar, &tampered), (AUDITOR, &agreeing)]);
    let auditor = market.auditor(&job);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Agreed
    );
    let challenger_before = market.chain.balance(CHALLENGER);
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, liar, &honest));
    let dispute = dispute_of(&market, &job);
    let moves = bisect_moves(
        &mut market,
        dispute,
        (liar, &tampered),
        (CHALLENGER, &honest),
    );
    let (events, chunks) = upload_input(&mut market, dispute, CHALLENGER, &honest);
    assert!(resolved(&events, dispute, Outcome::ChallengerRight));
    assert!(wrong_result_reported(&events, liar));
    assert!(!wrong_result_reported(&events, auditor));
    // The agreeing auditor is the suspect, disputed against the challenger's claim.
    let suspect = dispute_of(&market, &job);
    assert_ne!(suspect, dispute);
    let record = market.dispute(suspect);
    assert_eq!(record.defendant, operator(auditor));
    assert_eq!(record.defendant_root, agreeing.trace.root());
    assert_eq!(record.challenger, Challenger::Account(account(CHALLENGER)));
    assert_eq!(record.bond, Amount::ZERO);
    assert_eq!(market.chain.balance(CLIENT), client_before);
    // Its made-up leaf 5 is the first bisection move: the step is isolated there, and the
    // challenger hands the referee the honest activation before it.
    let suspect_moves = bisect_moves(
        &mut market,
        suspect,
        (auditor, &agreeing),
        (CHALLENGER, &honest),
    );
    assert_eq!(market.dispute(suspect).isolated_step(), Some(5));
    let (events, suspect_chunks) = upload_input(&mut market, suspect, CHALLENGER, &honest);
    assert!(resolved(&events, suspect, Outcome::ChallengerRight));
    assert!(wrong_result_reported(&events, auditor));
    assert!(market.chain.operator(auditor).jailed);
    assert!(market.chain.operator(liar).jailed);
    assert_eq!(market.reporter_of(liar), Some(account(CHALLENGER)));
    assert_eq!(market.reporter_of(auditor), Some(account(CHALLENGER)));
    // Two disputes, then the job fails and the client is refunded once.
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
    assert_eq!(market.disputes_of(&job), 2);
    assert_eq!(
        market.chain.balance(CLIENT),
        client_before.checked_add(Amount::new(FEE)).unwrap()
    );
    // The challenger's bond came back; the insurance pool is empty (the slashes fill it
    // when they apply), so it is out its fees: the challenge, and every reveal and chunk.
    let fees = 1 + moves + chunks + suspect_moves + suspect_chunks;
    println!(
        "agreeing auditor: {moves} + {suspect_moves} moves, {chunks} + {suspect_chunks} \
         chunks, the challenger paid {} in fees",
        u128::from(fees) * TX_FEE
    );
    assert_eq!(
        market.chain.balance(CHALLENGER),
        challenger_before
            .checked_sub(Amount::new(u128::from(fees) * TX_FEE))
            .unwrap()
    );
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

/// The attack slashing by output let through (docs/market.md, "Attacks considered"), played:
/// a defendant with the right output under a trace made up at leaf 8, and a colluding bonded
/// challenger whose trace is honest there and wrong after; together they steer the bisection
/// (5 agreed, 8 not, 7 agreed) onto the made-up leaf, and the pair loses on purpose. The
/// honest replica with the same (right) output under its own root is then a suspect,
/// disputed against the staged winner's claim: it plays honestly, the claim is false past the
/// made-up leaf (leaf 9), and the honest replica wins. Nobody honest is slashed; the staged
/// winner, a bonded account, has no bond at stake in a suspect dispute and loses its fees
/// there (an operator would be reported `WrongResult`); the honest replica is reimbursed its
/// costs from the insurance pool; the agreeing auditor is never disputed (the winner fell:
/// its claim proves nothing any more).
#[test]
fn a_pair_losing_on_purpose_does_not_get_honest_same_output_results_slashed() {
    let mut market = market();
    // A false challenge on another job first: what is left of its bond funds the insurance
    // pool.
    let (funding, funding_worker, funding_run) = honest_job(&mut market);
    play_false_challenge(&mut market, funding, funding_worker, &funding_run);
    let job = market.submit(2);
    let workers = market.workers(&job);
    let honest = execute(&market.model, &market.job(&job));
    // The colluding defendant: the right output, leaf 8 made up.
    let made_up = reroot(&honest, 8);
    let (colluder, honest_replica) = (workers[0], workers[1]);
    market.seal_and_reveal(
        &job,
        &[
            (colluder, &made_up),
            (honest_replica, &honest),
            (AUDITOR, &honest),
        ],
    );
    let auditor = market.auditor(&job);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Agreed
    );
    let client_before = market.chain.balance(CLIENT);
    // The colluding challenger: honest up to leaf 8, wrong after it to the output.
    let mut hashes = honest.trace.step_hashes.clone();
    for (leaf, hash) in hashes.iter_mut().enumerate().skip(9) {
        *hash = Hash::of("wrong on purpose", &[leaf as u8]);
    }
    let mut output = honest.output.clone();
    let (shape, values) = output.f32("logits").unwrap();
    let mut values = values.to_vec();
    values[2] += 3.0;
    output.set("logits", Tensor::f32(shape.to_vec(), values));
    *hashes.last_mut().unwrap() = output.hash();
    let partner = Execution {
        output,
        trace: Trace::from_step_hashes(hashes),
        activations: honest.activations.clone(),
    };
    let insurance_before = market.chain.pool(Pool::Insurance);
    let challenger_before = market.chain.balance(CHALLENGER);
    let replica_before = market.chain.balance(honest_replica);
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, colluder, &partner));
    let staged = dispute_of(&market, &job);
    let staged_moves = bisect_moves(
        &mut market,
        staged,
        (colluder, &made_up),
        (CHALLENGER, &partner),
    );
    assert_eq!(market.dispute(staged).isolated_step(), Some(8));
    let (events, staged_chunks) = upload_input(&mut market, staged, CHALLENGER, &honest);
    assert!(resolved(&events, staged, Outcome::ChallengerRight));
    // The colluder's own root is proven false at leaf 8: it falls, its partner reporting it.
    assert!(wrong_result_reported(&events, colluder));
    assert_eq!(market.reporter_of(colluder), Some(account(CHALLENGER)));
    for n in [honest_replica, auditor] {
        assert!(!wrong_result_reported(&events, n), "operator {n} reported");
    }
    // The honest replica, the lost output under another root, is disputed against the
    // staged winner's claim.
    let suspect = dispute_of(&market, &job);
    assert_ne!(suspect, staged);
    let record = market.dispute(suspect);
    assert_eq!(record.defendant, operator(honest_replica));
    assert_eq!(record.challenger, Challenger::Account(account(CHALLENGER)));
    assert_eq!(record.challenger_root, partner.trace.root());
    assert_eq!(record.bond, Amount::ZERO);
    let moves = bisect_moves(
        &mut market,
        suspect,
        (honest_replica, &honest),
        (CHALLENGER, &partner),
    );
    assert_eq!(market.dispute(suspect).isolated_step(), Some(9));
    let (events, chunks) = upload_input(&mut market, suspect, honest_replica, &honest);
    assert!(resolved(&events, suspect, Outcome::DefendantRight));
    // Nobody honest is reported, over the whole attack.
    let faults = surety_ledger::slashing::state::all_faults(market.chain.ledger.store());
    let slashed: Vec<OperatorId> = faults.iter().map(|f| f.operator).collect();
    assert_eq!(slashed, vec![operator(colluder)]);
    assert!(!market.chain.operator(honest_replica).jailed);
    assert!(!market.chain.operator(auditor).jailed);
    // The chain ends with the winner felled (the auditor is not disputed); the job takes the
    // first verdict's fate: the colluder's result was false, the job fails and the client is
    // refunded once.
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
    assert_eq!(market.disputes_of(&job), 2);
    assert_eq!(
        market.chain.balance(CLIENT),
        client_before.checked_add(Amount::new(FEE)).unwrap()
    );
    // Who paid what. The honest replica: its reveals and chunks, reimbursed from the
    // insurance pool (no bond stands behind a suspect dispute), so it is whole. The staged
    // winner: its bond back from the staged dispute with its costs there reimbursed, then its
    // own fees in the suspect dispute and the challenge's: it bought nothing but the
    // colluder's slash (whose whistleblower share, paid when the slash applies, is below it).
    let replica_costs = Amount::new(u128::from(moves + chunks) * TX_FEE);
    assert!(
        events.contains(&Event::Disputes(DisputesEvent::CostsReimbursed {
            dispute: suspect,
            party: Party::Defendant,
            account: account(honest_replica),
            amount: replica_costs,
            owed: replica_costs,
        }))
    );
    assert_eq!(market.chain.balance(honest_replica), replica_before);
    let staged_costs = Amount::new(u128::from(staged_moves + staged_chunks) * TX_FEE);
    let challenger_fees = Amount::new(u128::from(1 + moves) * TX_FEE);
    println!(
        "pair losing on purpose: staged {staged_moves} moves + {staged_chunks} chunks \
         (reimbursed {staged_costs}); suspect {moves} moves + {chunks} chunks, the honest \
         replica reimbursed {replica_costs}; the staged winner out {challenger_fees}"
    );
    assert_eq!(
        market.chain.balance(CHALLENGER),
        challenger_before.checked_sub(challenger_fees).unwrap()
    );
    assert_eq!(
        market.chain.pool(Pool::Insurance),
        insurance_before
            .checked_sub(staged_costs)
            .unwrap()
            .checked_sub(replica_costs)
            .unwrap()
    );
}

/// The pair's partner honest up to leaf 8 and wrong after it, to a wrong output: the staged
/// winner of [`a_pair_losing_on_purpose_does_not_get_honest_same_output_results_slashed`].
fn wrong_after_eight(honest: &Execution) -> Execution {
    let mut hashes = honest.trace.step_hashes.clone();
    for (leaf, hash) in hashes.iter_mut().enumerate().skip(9) {
        *hash = Hash::of("wrong on purpose", &[leaf as u8]);
    }
    let mut output = honest.output.clone();
    let (shape, values) = output.f32("logits").unwrap();
    let mut values = values.to_vec();
    values[2] += 3.0;
    output.set("logits", Tensor::f32(shape.to_vec(), values));
    *hashes.last_mut().unwrap() = output.hash();
    Execution {
        output,
        trace: Trace::from_step_hashes(hashes),
        activations: honest.activations.clone(),
    }
}

/// The same staged loss with an operator as the staged winner: a replica (three replicas: the
/// colluder first, its partner second, so the replicas' dispute is theirs) or the job's
/// auditor (which audits the colluder, the first result). The honest replica, disputed in
/// turn against the partner's claim, wins; the partner, staked, is reported `WrongResult`
/// with the honest replica its whistleblower; nobody honest is reported.
fn staged_loss_by_operators(partner_audits: bool) {
    let mut market = market();
    let job = market.submit(if partner_audits { 2 } else { 3 });
    let workers = market.workers(&job);
    let honest = execute(&market.model, &market.job(&job));
    let made_up = reroot(&honest, 8);
    let wrong = wrong_after_eight(&honest);
    let colluder = workers[0];
    let client_before = market.chain.balance(CLIENT);
    // The replicas seal; the auditor is drawn after them (the partner, when it audits, is
    // whoever the draw names: the staging does not need to know it in advance).
    let mut parties: Vec<(u16, JobId, &Execution)> = if partner_audits {
        vec![(colluder, job, &made_up), (workers[1], job, &honest)]
    } else {
        vec![
            (colluder, job, &made_up),
            (workers[1], job, &wrong),
            (workers[2], job, &honest),
        ]
    };
    market.seal_block(&parties);
    let auditor = market.claim_auditor(&job);
    let (partner, honest_replica) = if partner_audits {
        (auditor, workers[1])
    } else {
        (workers[1], workers[2])
    };
    let audit = (auditor, job, if partner_audits { &wrong } else { &honest });
    market.seal_block(&[audit]);
    parties.push(audit);
    market.reveal_block(&parties);
    let staged = dispute_of(&market, &job);
    let record = market.dispute(staged);
    assert_eq!(record.defendant, operator(colluder));
    assert_eq!(record.challenger, Challenger::Operator(operator(partner)));
    bisect(&mut market, staged, (colluder, &made_up), (partner, &wrong));
    assert_eq!(market.dispute(staged).isolated_step(), Some(8));
    let (events, _) = upload_input(&mut market, staged, partner, &honest);
    assert!(resolved(&events, staged, Outcome::ChallengerRight));
    assert!(wrong_result_reported(&events, colluder));
    assert!(!wrong_result_reported(&events, honest_replica));
    let suspect = dispute_of(&market, &job);
    let record = market.dispute(suspect);
    assert_eq!(record.defendant, operator(honest_replica));
    assert_eq!(record.challenger, Challenger::Operator(operator(partner)));
    bisect(
        &mut market,
        suspect,
        (honest_replica, &honest),
        (partner, &wrong),
    );
    assert_eq!(market.dispute(suspect).isolated_step(), Some(9));
    let (events, _) = upload_input(&mut market, suspect, honest_replica, &honest);
    assert!(resolved(&events, suspect, Outcome::DefendantRight));
    // The staged winner falls, reported by the honest replica it tried to get slashed.
    assert!(wrong_result_reported(&events, partner));
    assert_eq!(market.reporter_of(partner), Some(account(honest_replica)));
    assert!(market.chain.operator(partner).jailed);
    let faults = surety_ledger::slashing::state::all_faults(market.chain.ledger.store());
    let mut slashed: Vec<OperatorId> = faults.iter().map(|f| f.operator).collect();
    slashed.sort();
    let mut expected = vec![operator(colluder), operator(partner)];
    expected.sort();
    assert_eq!(slashed, expected);
    assert!(!market.chain.operator(honest_replica).jailed);
    assert!(!market.chain.operator(auditor).jailed || partner_audits);
    // Two disputes, then the first verdict's fate: the job fails, the client refunded once.
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
    assert_eq!(market.disputes_of(&job), 2);
    assert_eq!(
        market.chain.balance(CLIENT),
        client_before.checked_add(Amount::new(FEE)).unwrap()
    );
}

#[test]
fn a_replica_that_wins_a_staged_loss_falls_to_the_honest_replica_it_was_meant_to_get_slashed() {
    staged_loss_by_operators(false);
}

#[test]
fn an_auditor_that_wins_a_staged_loss_falls_to_the_honest_replica_it_was_meant_to_get_slashed() {
    staged_loss_by_operators(true);
}

#[test]
fn anyone_may_upload_the_referee_input_and_a_third_party_s_fees_are_its_own() {
    let mut market = market();
    let (job, worker, honest) = honest_job(&mut market);
    let fabricated = tamper(&honest);
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, worker, &fabricated));
    let dispute = dispute_of(&market, &job);
    let moves = bisect_moves(
        &mut market,
        dispute,
        (worker, &honest),
        (CHALLENGER, &fabricated),
    );
    // Neither party uploads; a watcher (the publisher's account) does.
    let (events, _) = upload_input(&mut market, dispute, PUBLISHER, &honest);
    assert!(resolved(&events, dispute, Outcome::DefendantRight));
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
        let dispute = dispute_of(&market, &job);
        loop {
            match market.dispute(dispute).phase {
                Phase::Bisect {
                    index, deadline, ..
                } => {
                    run_until_next_is(&mut market, deadline);
                    let txs: Vec<Vec<u8>> = [(worker, &honest), (CHALLENGER, &fabricated)]
                        .into_iter()
                        .map(|(n, run)| market.chain.sign(n, step_msg(dispute, index, run)))
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
    let workers = market.workers(&job);
    let (first, second) = (workers[0], workers[1]);
    let honest = execute(&market.model, &market.job(&job));
    // Both replicas are honest and agree; their roots even match; so does the auditor.
    // A false challenge of one of them, which then goes offline: it loses by timeout.
    market.seal_and_reveal(
        &job,
        &[(first, &honest), (second, &honest), (AUDITOR, &honest)],
    );
    let auditor = market.auditor(&job);
    market
        .chain
        .submit_ok(CHALLENGER, challenge_msg(job, first, &tamper(&honest)));
    let dispute = dispute_of(&market, &job);
    let index = bisect_index(&market, dispute);
    market
        .chain
        .submit_ok(CHALLENGER, step_msg(dispute, index, &tamper(&honest)));
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
    // with the same output (and root) and the auditor that agreed are not, and no suspect
    // dispute follows a timeout.
    assert!(market.chain.operator(first).jailed);
    assert!(!market.chain.operator(second).jailed);
    assert!(!market.chain.operator(auditor).jailed);
    assert_eq!(market.disputes_of(&job), 1);
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
}

#[test]
fn a_third_replica_with_another_wrong_output_is_disputed_after_the_first_verdict() {
    // The attack: two cheats on a three-replica job answer differently. The replicas'
    // dispute is between the first result and the first that differs, and the third result
    // was never compared again: after the verdict it was paid. Now it is a suspect, disputed
    // against the winner.
    let mut market = market();
    let job = market.submit(3);
    let workers = market.workers(&job);
    let honest = execute(&market.model, &market.job(&job));
    let wrong = tamper(&honest);
    let other_wrong = wrong_after_eight(&honest);
    assert_ne!(wrong.output.hash(), other_wrong.output.hash());
    market.seal_and_reveal(
        &job,
        &[
            (workers[0], &honest),
            (workers[1], &wrong),
            (workers[2], &other_wrong),
            (AUDITOR, &honest),
        ],
    );
    let first = dispute_of(&market, &job);
    let record = market.dispute(first);
    assert_eq!(record.defendant, operator(workers[0]));
    assert_eq!(
        record.challenger,
        Challenger::Operator(operator(workers[1]))
    );
    bisect(
        &mut market,
        first,
        (workers[0], &honest),
        (workers[1], &wrong),
    );
    let (events, _) = upload_input(&mut market, first, workers[0], &honest);
    assert!(resolved(&events, first, Outcome::DefendantRight));
    assert!(wrong_result_reported(&events, workers[1]));
    assert!(!wrong_result_reported(&events, workers[2]));
    // The third answer is disputed in turn, against the winner's claim, and falls.
    let second = dispute_of(&market, &job);
    assert_ne!(second, first);
    let record = market.dispute(second);
    assert_eq!(record.defendant, operator(workers[2]));
    assert_eq!(
        record.challenger,
        Challenger::Operator(operator(workers[0]))
    );
    bisect(
        &mut market,
        second,
        (workers[2], &other_wrong),
        (workers[0], &honest),
    );
    let (events, _) = upload_input(&mut market, second, workers[0], &honest);
    assert!(resolved(&events, second, Outcome::ChallengerRight));
    assert!(wrong_result_reported(&events, workers[2]));
    assert_eq!(market.reporter_of(workers[2]), Some(account(workers[0])));
    // The job is final with the honest result, and only the honest replica is paid.
    let mut events = Vec::new();
    for _ in 0..40 {
        if market.job(&job).is_final() {
            break;
        }
        events.extend(crate::market::events(&market.chain.block(&[])));
    }
    assert!(market.job(&job).is_final());
    let paid: Vec<OperatorId> = events
        .iter()
        .filter_map(|e| match e {
            Event::Jobs(jobs::JobsEvent::JobPaid { operator, .. }) => Some(*operator),
            _ => None,
        })
        .collect();
    assert_eq!(paid, vec![operator(workers[0])]);
    assert!(!market.chain.operator(workers[0]).jailed);
}
