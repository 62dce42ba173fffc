//! Blind results and private sortition (docs/market.md, "Blind results", "Audits: private
//! sortition", "Families"): the attacks the old commit flows let through, each played against
//! the ledger and asserted in numbers. Under the first flow a replica or an auditor committed
//! after another's result was public (and could copy it), the block seed decided whether a
//! result was audited after it was committed (and a challenge in that block suppressed the
//! audit), and nothing kept one owner's operators from auditing each other; under the second,
//! one designated auditor was drawn from a block seed and a pool read at draw time, which a
//! cheat could time and colluding proposers steer. Each test below fails if its defence is
//! taken out.

use super::*;
use std::collections::BTreeSet;
use surety_ledger::genesis::Genesis;
use surety_ledger::jobs::{JobsEvent, BATCH_ITEMS_MAX};
use surety_ledger::staking::{sign_family_consent, EditOperator, OperatorMetadata, StakingError};

/// A job of one replica submitted: its id, its worker and the honest execution of its input.
fn one_replica_job(market: &mut Market) -> (JobId, u16, Execution) {
    let job = market.submit(1);
    let worker = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
    (job, worker, honest)
}

/// The family consents of these tests admit their members through epoch 1,000.
const UNTIL: surety_types::Epoch = surety_types::Epoch::new(1_000);
use surety_ledger::tx;

/// `count` jobs of `replicas` at `fee`, submitted in one block and assigned in the next.
fn submit_jobs(market: &mut Market, count: u64, fee: u128, replicas: u32) -> Vec<JobId> {
    let nonce = market.chain.nonce(CLIENT);
    let txs: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            market.chain.sign_with_nonce(
                CLIENT,
                nonce + i,
                Msg::SubmitJob(Box::new(SubmitJob {
                    model: market.id,
                    input: JobInput::Activation(input(1.5).to_bytes()),
                    max_fee: Amount::new(fee),
                    deadline_blocks: 5,
                    replicas,
                })),
            )
        })
        .collect();
    let outcome = market.chain.block(&txs);
    let ids: Vec<JobId> = outcome.receipts.iter().map(job_of).collect();
    market.chain.block(&[]);
    for id in &ids {
        assert_eq!(market.job(id).status, JobStatus::Assigned);
    }
    ids
}

/// Blocks until `job` leaves `Revealing`; their events, with the height of each.
fn run_reveal_window(market: &mut Market, job: &JobId) -> Vec<(Height, Event)> {
    let mut seen = Vec::new();
    for _ in 0..20 {
        if !matches!(market.job(job).status, JobStatus::Revealing { .. }) {
            return seen;
        }
        let outcome = market.chain.block(&[]);
        seen.extend(events(&outcome).into_iter().map(|e| (outcome.height, e)));
    }
    panic!("job {job} is still revealing");
}

/// Blocks until every one of `jobs` is final; their events.
fn run_to_final(market: &mut Market, jobs: &[JobId]) -> Vec<Event> {
    let mut seen = Vec::new();
    for _ in 0..40 {
        if jobs.iter().all(|job| market.job(job).is_final()) {
            return seen;
        }
        seen.extend(events(&market.chain.block(&[])));
    }
    panic!("not all final: {jobs:?}");
}

/// Who was paid for `job`, and how much.
fn paid(events: &[Event], job: &JobId) -> Vec<(OperatorId, Amount)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Jobs(JobsEvent::JobPaid {
                job: j,
                operator,
                amount,
            }) if j == job => Some((*operator, *amount)),
            _ => None,
        })
        .collect()
}

/// A job of two replicas where `copier` (B) tried to pass off `a`'s result as its own and
/// its reveal was refused: at the reveal deadline B is reported and dropped (not replaced),
/// A's result alone is compared, and only then does the auditor reveal (and agree); A alone
/// is paid the whole fee's share for operators; B is paid nothing.
fn the_copier_is_dropped_and_unpaid(
    market: &mut Market,
    job: &JobId,
    (a, copier): (u16, u16),
    (auditor, honest): (u16, &Execution),
    until: Height,
    (a_before, copier_before): (Amount, Amount),
) {
    let window = run_reveal_window(market, job);
    let missed: Vec<(Height, OperatorId)> = window
        .iter()
        .filter_map(|(height, e)| match e {
            Event::Jobs(JobsEvent::DeadlineMissed { operator, .. }) => Some((*height, *operator)),
            _ => None,
        })
        .collect();
    assert_eq!(missed, vec![(until, operator(copier))]);
    let window_events: Vec<Event> = window.into_iter().map(|(_, e)| e).collect();
    // A seal it could not open counts as a wrong result withheld.
    assert_eq!(
        reported(&window_events, FaultKind::WithheldResult),
        vec![operator(copier)]
    );
    let record = market.job(job);
    assert!(record.assignment_of(&operator(copier)).is_none(), "dropped");
    assert_eq!(record.assignments.len(), 2, "and not replaced");
    assert_eq!(record.reassignments, 0);
    assert!(matches!(record.status, JobStatus::Challengeable { .. }));
    // The assignees' results are compared: the auditor's turn.
    assert_eq!(record.audits[0].clone().outcome, AuditOutcome::Pending);
    market.reveal_block(&[(auditor, *job, honest)]);
    assert_eq!(
        market.job(job).audits[0].clone().outcome,
        AuditOutcome::Agreed
    );
    let events = run_to_final(market, &[*job]);
    // The fee (2,000) is shared by the replicas that revealed: A alone, 90% after the audit
    // fund's share; A's account takes its 10% commission of it.
    assert_eq!(
        paid(&events, job),
        vec![(operator(a), Amount::new(FEE - FEE / 10))]
    );
    assert_eq!(
        market.chain.balance(a),
        a_before.checked_add(Amount::new(180)).unwrap()
    );
    assert_eq!(
        market.chain.balance(copier),
        copier_before,
        "the copier paid its refused reveals' fees and got nothing"
    );
}

#[test]
fn a_replica_that_sealed_before_the_other_revealed_cannot_reveal_a_copy_of_its_result() {
    let mut market = market();
    let (job, a, b) = market.submit_pair();
    let honest = execute(&market.model, &market.job(&job));
    // B must seal before anyone reveals: it has nothing to copy, so it seals a guess.
    let guess = tamper(&honest);
    market.seal_block(&[(a, job, &honest), (b, job, &guess), (AUDITOR, job, &honest)]);
    let auditor = market.auditor(&job);
    let JobStatus::Revealing { until } = market.job(&job).status else {
        panic!("every party sealed: {:?}", market.job(&job).status);
    };
    // A reveals; the auditor may not yet (B has not revealed: the results are not compared).
    market.reveal_block(&[(a, job, &honest)]);
    // A's output is public now. B reveals it as its own (signed by B, with B's salt): that is
    // not what B sealed.
    let a_before = market.chain.balance(a);
    let receipt = market.chain.submit(b, reveal_msg(b, &job, &honest));
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::SealMismatch))
    );
    assert!(receipt.charged);
    let b_before = market.chain.balance(b);
    the_copier_is_dropped_and_unpaid(
        &mut market,
        &job,
        (a, b),
        (auditor, &honest),
        until,
        (a_before, b_before),
    );
}

#[test]
fn a_replica_that_copies_another_s_seal_cannot_open_it_even_with_the_other_s_salt() {
    let mut market = market();
    let (job, a, b) = market.submit_pair();
    let honest = execute(&market.model, &market.job(&job));
    market.seal_block(&[(a, job, &honest)]);
    // Seals are public: B copies A's.
    let a_seal = market
        .job(&job)
        .assignment_of(&operator(a))
        .unwrap()
        .seal
        .unwrap();
    market.chain.submit_ok(
        b,
        Msg::SealResults(Box::new(SealResults {
            operator: operator(b),
            seals: vec![Seal {
                job,
                commitment: a_seal,
            }],
        })),
    );
    market.seal_block(&[(AUDITOR, job, &honest)]);
    let auditor = market.auditor(&job);
    let JobStatus::Revealing { until } = market.job(&job).status else {
        panic!("every party sealed: {:?}", market.job(&job).status);
    };
    // A reveals; the auditor may not yet (B has not revealed: the results are not compared).
    market.reveal_block(&[(a, job, &honest)]);
    // A's statement and salt are public now. B opens the copied seal with them, its own
    // signature on A's statement: the seal binds A's operator id, not B's.
    let a_before = market.chain.balance(a);
    let copy = Reveal {
        job,
        salt: salt(a, &job),
        result: commit_result(b, &job, &honest),
    };
    let copied = |reveal: Reveal| {
        Msg::RevealResults(Box::new(RevealResults {
            operator: operator(b),
            reveals: vec![reveal],
        }))
    };
    let receipt = market.chain.submit(b, copied(copy.clone()));
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::SealMismatch))
    );
    // A's own signed result is A's, not B's.
    let receipt = market.chain.submit(
        b,
        copied(Reveal {
            result: commit_result(a, &job, &honest),
            ..copy
        }),
    );
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::NotSigner {
            operator: operator(a)
        }))
    );
    let b_before = market.chain.balance(b);
    the_copier_is_dropped_and_unpaid(
        &mut market,
        &job,
        (a, b),
        (auditor, &honest),
        until,
        (a_before, b_before),
    );
}

#[test]
fn a_lazy_auditor_cannot_open_its_seal_to_the_worker_s_revealed_output_and_is_not_rewarded() {
    let mut market = market();
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest)]);
    let auditor = market.claim_auditor(&job);
    // The auditor computes nothing and seals garbage, meaning to copy the worker's output.
    let lazy = Msg::SealResults(Box::new(SealResults {
        operator: operator(auditor),
        seals: vec![Seal {
            job,
            commitment: Hash::of("test.lazy", b"nothing computed"),
        }],
    }));
    market.chain.submit_ok(auditor, lazy);
    assert!(matches!(
        market.job(&job).status,
        JobStatus::Revealing { .. }
    ));
    // The worker reveals: its result is compared (alone) and the auditor's turn comes, with
    // `reveal_blocks` (4) from this block to reveal.
    let revealed = market.reveal_block(&[(worker, job, &honest)]).height;
    assert!(matches!(
        market.job(&job).status,
        JobStatus::Challengeable { .. }
    ));
    let until = revealed.saturating_plus(4);
    assert_eq!(market.job(&job).audits[0].clone().deadline, until);
    let fund_before = market.chain.pool(Pool::AuditFund);
    let receipt = market
        .chain
        .submit(auditor, reveal_msg(auditor, &job, &honest));
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::SealMismatch))
    );
    let auditor_before = market.chain.balance(auditor);
    // Blocks until the audit is out of `Pending` (its deadline passes).
    let mut window = Vec::new();
    for _ in 0..20 {
        if market.job(&job).audits[0].clone().outcome != AuditOutcome::Pending {
            break;
        }
        let outcome = market.chain.block(&[]);
        window.extend(events(&outcome).into_iter().map(|e| (outcome.height, e)));
    }
    let missed: Vec<(Height, OperatorId)> = window
        .iter()
        .filter_map(|(height, e)| match e {
            Event::Slashing(surety_ledger::slashing::SlashingEvent::OffenceReported {
                operator,
                kind: FaultKind::MissedDeadline,
                ..
            }) => Some((*height, *operator)),
            _ => None,
        })
        .collect();
    assert_eq!(missed, vec![(until, operator(auditor))]);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Missed
    );
    // The challenge window (4) opened with the auditor's turn, at the worker's reveal: the
    // job may be final, and paid, in the very block the auditor is reported.
    let mut events: Vec<Event> = window.into_iter().map(|(_, e)| e).collect();
    events.extend(run_to_final(&mut market, &[job]));
    assert_eq!(
        paid(&events, &job),
        vec![(operator(worker), Amount::new(FEE - FEE / 10))]
    );
    // The audit fund keeps the job's 10% (200): no audit reward was paid out of it.
    assert_eq!(
        market.chain.pool(Pool::AuditFund),
        fund_before.checked_add(Amount::new(FEE / 10)).unwrap()
    );
    assert_eq!(market.chain.balance(auditor), auditor_before, "no reward");
}

/// Operators' jobs, one list per operator, in operator order.
fn by_operator(parties: &[(u16, JobId)]) -> BTreeMap<u16, Vec<JobId>> {
    let mut map: BTreeMap<u16, Vec<JobId>> = BTreeMap::new();
    for (n, job) in parties {
        map.entry(*n).or_default().push(*job);
    }
    map
}

/// One reveal transaction per operator, each batching `reveal` over its jobs.
fn reveal_txs(
    market: &Market,
    parties: &[(u16, JobId)],
    reveal: impl Fn(u16, &JobId) -> Reveal,
) -> Vec<Vec<u8>> {
    by_operator(parties)
        .into_iter()
        .map(|(n, jobs)| {
            market.chain.sign(
                n,
                Msg::RevealResults(Box::new(RevealResults {
                    operator: operator(n),
                    reveals: jobs.iter().map(|job| reveal(n, job)).collect(),
                })),
            )
        })
        .collect()
}

#[test]
fn each_operator_is_selected_by_its_own_vrf_over_the_sealed_job_with_its_pool_share() {
    // Off chain: over 2,000 sealed states, an operator holding a quarter of a pool is selected
    // at 50% for about an eighth of them (250; 4 sigma: 191..=309), independently of the
    // others: about 1 − (7/8)^4 = 41% of the states select someone.
    let rate = Ratio::from_percent(50).unwrap();
    let (weight, total) = (Amount::new(50_000), Amount::new(200_000));
    let mut counts = [0usize; 4];
    let mut anyone = 0usize;
    for i in 0..2_000u32 {
        let job = JobId(Hash::of("test.job", &i.to_le_bytes()).0);
        let seals = Hash::of("test.seals", &i.to_le_bytes());
        let seed = Hash::of("test.seed", &i.to_le_bytes());
        let alpha = jobs::audit_alpha(CHAIN, &job, &seals, &seed);
        let mut any = false;
        for (index, n) in (1..=4u16).enumerate() {
            let draw = key(n)
                .vrf_prove(&alpha)
                .verify(&operator(n).0, &alpha)
                .expect("an operator's own proof verifies")
                .draw();
            if jobs::is_selected(rate, weight, total, draw) {
                counts[index] += 1;
                any = true;
            }
        }
        anyone += usize::from(any);
    }
    println!("selected of 2,000 per operator: {counts:?}; states with an auditor: {anyone}");
    assert!(counts.iter().all(|c| (191..=309).contains(c)), "{counts:?}");
    assert!((740..=900).contains(&anyone), "{anyone}");

    // On chain: a job's claim window opens at its last seal, and what the claims are weighed
    // against was fixed then; a claim is taken exactly when its VRF selects its operator,
    // which was computable (by that operator alone) before the block that takes it had a seed.
    let mut market = market();
    let (job, worker, honest) = one_replica_job(&mut market);
    // Before every assignee sealed there is nothing to claim.
    let early = market.chain.submit(
        1 + worker % 4,
        claim_msg_with(
            1 + worker % 4,
            &job,
            key(1 + worker % 4).vrf_prove(b"no window yet"),
        ),
    );
    assert_eq!(
        early.error_kind,
        Some(TxError::Jobs(JobsError::WrongPhase {
            job,
            what: "audit claims"
        }))
    );
    market.seal_block(&[(worker, job, &honest)]);
    // The last seal fixes the window; claims wait for the seed of the block after it.
    let window = market
        .job(&job)
        .audit_window
        .expect("the last seal fixes it");
    assert_eq!(window.seed, None);
    // A seed that selects one auditor: the fund holds this job's share, one reward.
    market.open_windows_with(&[job], |_, selected| selected.len() == 1, &[]);
    let window = market.job(&job).audit_window.unwrap();
    let (pool, weight, _) = market.audit_pool(&job);
    // The pool is the other three servers (operator 9 serves nothing), 50,000 each.
    assert_eq!(pool.len(), 3);
    assert_eq!(weight, Amount::new(150_000));
    assert_eq!(window.weight, weight);
    assert!(window.excluded.contains(&account(worker)));
    let predicted = market.selected(&job);
    println!("selected for {job}: {predicted:?} of {pool:?}");
    assert!(!predicted.is_empty(), "the test chain's seed was chosen so");
    // In the window's one open block left: the worker's own claim, a claim with a proof made
    // with another operator's key, and every candidate's claim.
    let (first, _) = pool[0];
    let (second, _) = pool[1];
    let mut txs = vec![
        market.chain.sign(worker, claim_msg(&market, worker, &job)),
        market.chain.sign(
            first,
            claim_msg_with(first, &job, audit_proof(&market, second, &job)),
        ),
    ];
    for (n, _) in &pool {
        let nonce = market.chain.nonce(*n) + u64::from(*n == first);
        txs.push(
            market
                .chain
                .sign_with_nonce(*n, nonce, claim_msg(&market, *n, &job)),
        );
    }
    let outcome = market.chain.block(&txs);
    // The worker itself may not claim, whatever its VRF says.
    assert!(
        matches!(
            outcome.receipts[0].error_kind,
            Some(TxError::Jobs(JobsError::NotAuditCandidate { .. }))
        ),
        "{:?}",
        outcome.receipts[0]
    );
    // A proof made with another operator's key does not verify.
    assert!(
        matches!(
            outcome.receipts[1].error_kind,
            Some(TxError::Jobs(JobsError::BadAuditProof(_)))
        ),
        "{:?}",
        outcome.receipts[1]
    );
    // Exactly the predicted candidates are taken, the others refused as not selected.
    for ((n, _), receipt) in pool.iter().zip(&outcome.receipts[2..]) {
        if predicted.contains(n) {
            assert!(receipt.is_ok(), "{n}: {receipt:?}");
        } else {
            assert_eq!(
                receipt.error_kind,
                Some(TxError::Jobs(JobsError::NotSelected {
                    job,
                    operator: operator(*n)
                })),
                "{n}"
            );
        }
    }
    let claimed: Vec<u16> = market
        .job(&job)
        .audits
        .iter()
        .map(|a| Market::index_of(&a.auditor))
        .collect();
    assert_eq!(claimed, predicted);
    // Every claimed auditor seals; the window closes; the job reveals and every audit agrees.
    let auditors: Vec<(u16, JobId, &Execution)> =
        predicted.iter().map(|n| (*n, job, &honest)).collect();
    market.batch_block(&auditors, Market::seal_items);
    market.until_revealing(&job);
    // After the window no claim is taken.
    if let Some((late, _)) = pool.iter().find(|(n, _)| !predicted.contains(n)) {
        let receipt = market.chain.submit(*late, claim_msg(&market, *late, &job));
        assert_eq!(
            receipt.error_kind,
            Some(TxError::Jobs(JobsError::WrongPhase {
                job,
                what: "audit claims"
            }))
        );
    }
    let mut parties = vec![(worker, job, &honest)];
    parties.extend(auditors);
    market.reveal_block(&parties);
    assert!(market
        .job(&job)
        .audits
        .iter()
        .all(|a| a.outcome == AuditOutcome::Agreed));
    let fund_before = market.chain.pool(Pool::AuditFund);
    let events = run_to_final(&mut market, &[job]);
    // Every agreeing auditor is paid its reward from the fund (which took the job's 10%).
    let rewards = predicted.len() as u128 * (FEE / 10);
    assert_eq!(
        market.chain.pool(Pool::AuditFund),
        fund_before
            .checked_add(Amount::new(FEE / 10))
            .unwrap()
            .checked_sub(Amount::new(rewards))
            .unwrap()
    );
    assert_eq!(
        paid(&events, &job),
        vec![(operator(worker), Amount::new(FEE - FEE / 10))]
    );
}

#[test]
fn nothing_done_after_the_seals_moves_anyone_s_chance_of_auditing_the_job() {
    // The second review's attack on the seeded draw: in the block before the draw a coalition
    // added allocation (or a family edit) so that the weighted draw landed on a partner. Now
    // claims are weighed against the epoch's pool snapshot and the weight fixed at the last
    // seal: an allocation made after the seals, however large, neither lets a newcomer claim
    // nor lowers anyone else's threshold.
    let mut market = market();
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest)]);
    market.open_windows(&[job]);
    let window = market.job(&job).audit_window.unwrap();
    let predicted = market.selected(&job);
    // In the window's open block: operator 9 (10,000,000 staked, serving nothing) allocates
    // a huge stake, then claims; then every selected candidate claims.
    let nonce9 = market.chain.nonce(9);
    let mut txs = vec![
        market.chain.sign_with_nonce(
            9,
            nonce9,
            Msg::Allocate(Allocate {
                model: market.id,
                amount: Amount::new(5_000_000),
            }),
        ),
        market
            .chain
            .sign_with_nonce(9, nonce9 + 1, claim_msg(&market, 9, &job)),
    ];
    txs.extend(
        predicted
            .iter()
            .map(|n| market.chain.sign(*n, claim_msg(&market, *n, &job))),
    );
    let outcome = market.chain.block(&txs);
    assert!(outcome.receipts[0].is_ok(), "{:?}", outcome.receipts[0]);
    // Operator 9 is not in the epoch's pool: its claim is refused, whatever its VRF.
    assert!(
        matches!(
            outcome.receipts[1].error_kind,
            Some(TxError::Jobs(JobsError::NotAuditCandidate { .. }))
        ),
        "{:?}",
        outcome.receipts[1]
    );
    // The weight claims are weighed against is the one fixed at the last seal, and every
    // selected candidate is still selected.
    assert_eq!(market.job(&job).audit_window.unwrap().weight, window.weight);
    assert!(
        outcome.receipts[2..].iter().all(|r| r.is_ok()),
        "{outcome:?}"
    );
    assert_eq!(market.job(&job).audits.len(), predicted.len());
    // The pool of the epoch after the allocation has operator 9 in it, with its weight.
    let epoch = window.epoch;
    let allocated = market.chain.ledger.params().epoch_of(market.chain.height());
    let next = Epoch::new(allocated.get() + 1);
    while market.chain.ledger.params().epoch_of(market.chain.height()) != next {
        market.chain.block(&[]);
    }
    let store = market.chain.ledger.store();
    assert!(jobs::pool::entry(store, epoch, &market.id, &operator(9)).is_none());
    assert_eq!(
        jobs::pool::entry(store, next, &market.id, &operator(9)).map(|e| e.weight),
        Some(Amount::new(5_000_000))
    );
}

#[test]
fn operators_of_one_family_never_audit_each_other_nor_hold_two_replicas_of_one_job() {
    // Jobs here pay 100: the fee floor is 100 and the audit reward 10, which keeps the
    // audit fund solvent (`Params::validate`: 100% · 10 = 10% · 100).
    let mut params = market_params();
    params.jobs.job_fee_min = Amount::new(100);
    params.jobs.audit_reward = Amount::new(10);
    let mut genesis: Genesis = market_genesis(params);
    // Operator 2 names operator 1 its family's head at genesis, with operator 1's consent.
    assert_eq!(genesis.operators[1].account, account(2));
    genesis.operators[1].metadata.family = Some(account(1));
    genesis.operators[1].metadata.family_consent =
        Some(sign_family_consent(&key(1), CHAIN, &account(2), UNTIL));
    genesis.operators[1].metadata.family_until = Some(UNTIL);
    let mut market = market_from(&genesis, &[1, 2, 3, 4, 9]);
    // Operators 3 and 4 declare one family by a transaction, headed (and consented to) by an
    // account that runs no operator.
    for n in [3, 4] {
        market.chain.submit_ok(
            n,
            Msg::EditOperator(EditOperator {
                commission: None,
                metadata: Some(OperatorMetadata {
                    moniker: format!("operator-{n}"),
                    family: Some(account(23)),
                    family_consent: Some(sign_family_consent(&key(23), CHAIN, &account(n), UNTIL)),
                    family_until: Some(UNTIL),
                    ..Default::default()
                }),
            }),
        );
    }
    let family = |operator: &OperatorId| match Market::index_of(operator) {
        1 | 2 => 'A',
        3 | 4 => 'B',
        _ => 'C',
    };
    let singles = submit_jobs(&mut market, 30, 100, 1);
    let pairs = submit_jobs(&mut market, 30, 100, 2);
    // Every assignee seals; then the auditors are drawn.
    let honest = execute(&market.model, &market.job(&singles[0]));
    let sealed: Vec<(u16, JobId, &Execution)> = singles
        .iter()
        .chain(&pairs)
        .flat_map(|job| {
            market
                .assignees(job)
                .into_iter()
                .map(|a| (Market::index_of(&a), *job, &honest))
        })
        .collect();
    market.seal_block(&sealed);
    // An operator of a party's family may not claim the job's audit, whatever its VRF (all
    // tried in one block, in the claim windows); then the first selected operator outside the
    // parties' families claims each.
    let servers = [1u16, 2, 3, 4, 9];
    let all: Vec<JobId> = singles.iter().chain(&pairs).copied().collect();
    let mut nonces: BTreeMap<u16, u64> = BTreeMap::new();
    let mut kin_txs = Vec::new();
    for job in &all {
        let parties: Vec<OperatorId> = market.assignees(job);
        for n in servers {
            let op = operator(n);
            if parties.contains(&op) || !parties.iter().any(|p| family(p) == family(&op)) {
                continue;
            }
            // Refused before its proof is looked at: any proof will do.
            let claim = claim_msg_with(n, job, key(n).vrf_prove(b"kin"));
            let nonce = *nonces.entry(n).or_insert_with(|| market.chain.nonce(n));
            kin_txs.push(market.chain.sign_with_nonce(n, nonce, claim));
            nonces.insert(n, nonce + 1);
        }
    }
    assert!(!kin_txs.is_empty());
    // The windows open (one seed for all 60: whatever it selects) and the kin claim at once.
    let outcome = market.open_windows_with(&all, |_, _| true, &kin_txs);
    for receipt in &outcome.receipts {
        assert!(
            matches!(
                receipt.error_kind,
                Some(TxError::Jobs(JobsError::NotAuditCandidate { .. }))
            ),
            "an operator claimed its family's job: {receipt:?}"
        );
    }
    let audited: Vec<JobId> = all
        .iter()
        .copied()
        .filter(|job| !market.selected(job).is_empty())
        .collect();
    println!("{} of 60 jobs have an operator selected", audited.len());
    assert!(audited.len() >= 20);
    market.claim_auditors(&audited);
    let singles: Vec<JobId> = singles
        .into_iter()
        .filter(|j| audited.contains(j))
        .collect();
    let pairs: Vec<JobId> = pairs.into_iter().filter(|j| audited.contains(j)).collect();
    // (worker's family, auditor's family) for single-replica jobs; the three families of
    // two-replica jobs, sorted.
    let mut single_tally: BTreeMap<(char, char), usize> = BTreeMap::new();
    for job in &singles {
        let worker = market.assignees(job)[0];
        let auditor = market.job(job).audits[0].auditor;
        *single_tally
            .entry((family(&worker), family(&auditor)))
            .or_default() += 1;
    }
    let mut pair_tally: BTreeMap<String, usize> = BTreeMap::new();
    for job in &pairs {
        let record = market.job(job);
        let mut families: Vec<char> = record
            .live_assignments()
            .map(|a| family(&a.operator))
            .collect();
        families.sort_unstable();
        let auditor = record.audits[0].auditor;
        families.push(family(&auditor));
        *pair_tally
            .entry(families.into_iter().collect())
            .or_default() += 1;
    }
    println!("single: {single_tally:?}; pairs: {pair_tally:?}");
    assert_eq!(single_tally.values().sum::<usize>(), singles.len());
    assert_eq!(pair_tally.values().sum::<usize>(), pairs.len());
    for ((worker, auditor), count) in &single_tally {
        assert_ne!(
            worker, auditor,
            "{count} jobs audited within family {worker}"
        );
    }
    for families in pair_tally.keys() {
        let set: BTreeSet<char> = families.chars().collect();
        assert_eq!(
            set.len(),
            3,
            "replicas and auditor of three families: {families}"
        );
    }
    // Both declared families did work, and were audited from outside.
    for f in ['A', 'B'] {
        assert!(single_tally.keys().any(|(worker, _)| *worker == f));
    }
}

/// The review's attack on families: a cheat (operator 3) names the family of a big honest
/// head (operator 1, with operator 2 its consented member: half the cheat's auditor pool) as
/// its own, to drop that family from its auditors and so raise the colluding share of the
/// rest. Without the head's consent the declaration is refused, so the honest family still
/// audits the cheat's jobs.
#[test]
fn a_cheat_cannot_join_an_honest_family_without_its_heads_consent_so_that_family_still_audits_it() {
    let mut params = market_params();
    params.jobs.job_fee_min = Amount::new(100);
    params.jobs.audit_reward = Amount::new(10);
    let mut genesis: Genesis = market_genesis(params);
    genesis.operators[1].metadata.family = Some(account(1));
    genesis.operators[1].metadata.family_consent =
        Some(sign_family_consent(&key(1), CHAIN, &account(2), UNTIL));
    genesis.operators[1].metadata.family_until = Some(UNTIL);
    let mut market = market_from(&genesis, &[1, 2, 3, 4, 9]);
    const CHEAT: u16 = 3;
    let before = market.chain.operator(CHEAT);
    // Undeclared consent, and one the cheat signed with its own key.
    for consent in [
        None,
        Some(sign_family_consent(
            &key(CHEAT),
            CHAIN,
            &account(CHEAT),
            UNTIL,
        )),
    ] {
        let receipt = market.chain.submit(
            CHEAT,
            Msg::EditOperator(EditOperator {
                commission: None,
                metadata: Some(OperatorMetadata {
                    family: Some(account(1)),
                    family_consent: consent,
                    family_until: consent.map(|_| UNTIL),
                    ..Default::default()
                }),
            }),
        );
        let refused = match consent {
            None => StakingError::FamilyConsentMissing { head: account(1) },
            Some(_) => StakingError::FamilyConsentInvalid { head: account(1) },
        };
        assert_eq!(receipt.error_kind, Some(TxError::Staking(refused)));
    }
    assert_eq!(
        market.chain.operator(CHEAT),
        before,
        "the cheat's record is unchanged"
    );
    assert_eq!(before.metadata.family, None);
    // The honest family (operators 1 and 2) stays in the cheat's auditor pool.
    let jobs = submit_jobs(&mut market, 40, 100, 1);
    let honest = execute(&market.model, &market.job(&jobs[0]));
    let sealed: Vec<(u16, JobId, &Execution)> = jobs
        .iter()
        .map(|job| (Market::index_of(&market.assignees(job)[0]), *job, &honest))
        .collect();
    market.seal_block(&sealed);
    let cheats: Vec<&JobId> = jobs
        .iter()
        .filter(|job| market.assignees(job)[0] == operator(CHEAT))
        .collect();
    println!("the cheat's jobs: {}", cheats.len());
    assert!(!cheats.is_empty());
    for job in cheats {
        // The honest head is not among the excluded owners, and both its operators may claim,
        // weighing in the pool the cheat's claims are weighed against.
        let window = market.job(job).audit_window.unwrap();
        assert!(!window.excluded.contains(&account(1)));
        let (pool, weight, _) = market.audit_pool(job);
        let candidates: Vec<u16> = pool.iter().map(|(n, _)| *n).collect();
        assert!(
            candidates.contains(&1) && candidates.contains(&2),
            "{candidates:?}"
        );
        assert_eq!(
            weight,
            Amount::new(4 * ALLOCATION),
            "operators 1, 2, 4 and 9"
        );
    }
}

#[test]
fn a_sybil_challenge_in_the_block_of_the_reveals_does_not_stop_the_audit() {
    let mut market = market();
    let job = market.submit(1);
    let liar = Market::index_of(&market.assignees(&job)[0]);
    // The auditor is drawn once the liar has sealed: nothing later moves or cancels it.
    let honest = execute(&market.model, &market.job(&job));
    let tampered = tamper(&honest);
    // The liar's sybils challenge its result around the reveals, meaning to hold the job in a
    // dispute they then lose on purpose: under the old flow the audit was drawn only for a
    // challengeable job, so it never came.
    market.seal_block(&[(liar, job, &tampered), (AUDITOR, job, &honest)]);
    let auditor = market.auditor(&job);
    let steps = honest.trace.len();
    let sybil_challenge = |market: &Market, sybil: u16| {
        market.chain.sign(
            sybil,
            Msg::Challenge(Box::new(Challenge {
                job,
                operator: operator(liar),
                output_hash: honest.output.hash(),
                trace_root: honest.trace.root(),
                output_proof: honest.trace.proof(steps - 1).unwrap(),
            })),
        )
    };
    let sybil_before = market.chain.balance(23);
    let txs = vec![
        sybil_challenge(&market, CHALLENGER),
        market.chain.sign(liar, reveal_msg(liar, &job, &tampered)),
        // The liar's result is public and compared now: the job is challengeable (and its
        // auditor's turn has come). This challenge is taken: its dispute is the job's.
        sybil_challenge(&market, 23),
        // The auditor reveals behind it: its disagreeing audit is taken and waits.
        market
            .chain
            .sign(auditor, reveal_msg(auditor, &job, &honest)),
        sybil_challenge(&market, PUBLISHER),
    ];
    let outcome = market.chain.block(&txs);
    let not_challengeable = |receipt: &surety_ledger::Receipt| {
        matches!(
            receipt.error_kind,
            Some(TxError::Jobs(JobsError::Disputes(
                DisputesError::NotChallengeable(j)
            ))) if j == job
        )
    };
    // Before the liar's reveal (revealing) and after the sybil's dispute opened (disputed).
    for sybil in [0, 4] {
        let receipt = &outcome.receipts[sybil];
        assert!(not_challengeable(receipt), "{receipt:?}");
    }
    for taken in [1, 2, 3] {
        let receipt = &outcome.receipts[taken];
        assert!(receipt.is_ok(), "{receipt:?}");
    }
    let bond = Amount::new(30_000);
    assert_eq!(
        market.chain.pool(Pool::DisputeBonds),
        bond,
        "one bond taken"
    );
    let sybil_dispute = dispute_of(&market, &job);
    let record = disputes::state::dispute(market.chain.ledger.store(), sybil_dispute).unwrap();
    assert_eq!(record.defendant, operator(liar));
    assert_eq!(record.challenger.account(), account(23));
    // The audit was taken and compared at the reveals; its dispute waits for the sybil's.
    let audit = market.job(&job).audits[0].clone();
    assert_eq!(audit.output_hash, Some(honest.output.hash()));
    assert_eq!(audit.outcome, AuditOutcome::Deferred);
    // The sybil loses on purpose: the liar answers the first move, the sybil never does.
    let index = bisect_index(&market, sybil_dispute);
    market.chain.submit_ok(
        liar,
        Msg::RevealStep(Box::new(RevealStep {
            dispute: sybil_dispute,
            index,
            step_hash: tampered.trace.step_hashes[index as usize],
            proof: tampered.trace.proof(index as usize).unwrap(),
        })),
    );
    for _ in 0..10 {
        if dispute_of(&market, &job) != sybil_dispute {
            break;
        }
        market.chain.block(&[]);
    }
    let lost = disputes::state::dispute(market.chain.ledger.store(), sybil_dispute).unwrap();
    assert!(
        matches!(lost.phase, Phase::Resolved { .. }),
        "{:?}",
        lost.phase
    );
    assert_eq!(market.chain.pool(Pool::DisputeBonds), Amount::ZERO);
    assert!(
        market.chain.balance(23) < sybil_before.checked_sub(bond).unwrap(),
        "the sybil lost its bond"
    );
    // The liar's result stood, so the deferred audit's dispute opened: the job's now.
    let dispute = dispute_of(&market, &job);
    assert_ne!(dispute, sybil_dispute);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Disputed { dispute }
    );
    let record = disputes::state::dispute(market.chain.ledger.store(), dispute).unwrap();
    assert_eq!(record.defendant, operator(liar));
    assert_eq!(record.challenger.account(), account(auditor));
    bisect(&mut market, dispute, (liar, &tampered), (auditor, &honest));
    let events = provide_input(&mut market, dispute, auditor, &honest);
    assert_eq!(
        reported(&events, FaultKind::WrongResult),
        vec![operator(liar)]
    );
    assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
}

#[test]
fn seals_and_reveals_are_batched_and_each_item_applies_on_its_own() {
    let mut market = market();
    // Three jobs of three replicas: every operator is a replica or the auditor of each.
    let jobs = submit_jobs(&mut market, 3, FEE, 3);
    let honest = execute(&market.model, &market.job(&jobs[0]));
    let works_on = |market: &Market, n: u16, job: &JobId| {
        market.job(job).assignment_of(&operator(n)).is_some()
    };
    // Each job leaves out one of the four operators (its auditor, once drawn): at least one
    // operator (`all`) is a replica of all three, and another (`two`) of the first two.
    let all = (1..=4u16)
        .find(|n| jobs.iter().all(|job| works_on(&market, *n, job)))
        .expect("three jobs leave out at most three operators");
    let two = (1..=4u16)
        .find(|n| *n != all && jobs[..2].iter().all(|job| works_on(&market, *n, job)))
        .expect("two jobs of three replicas share at least two operators");
    let sealed = |market: &Market, n: u16, job: &JobId| {
        let record = market.job(job);
        match record.assignment_of(&operator(n)) {
            Some(a) => a.seal,
            None => record.audits.first().and_then(|a| a.seal),
        }
    };
    let batch = |n: u16, seals: Vec<Seal>| {
        Msg::SealResults(Box::new(SealResults {
            operator: operator(n),
            seals,
        }))
    };
    let unknown = JobId([0xee; 32]);
    // `all` seals all three jobs in one transaction.
    let receipt = market.chain.submit_ok(
        all,
        batch(
            all,
            jobs.iter().map(|job| seal(all, job, &honest)).collect(),
        ),
    );
    let sealed_events = receipt
        .events
        .iter()
        .filter(|e| matches!(e, Event::Jobs(JobsEvent::ResultSealed { .. })))
        .count();
    assert_eq!(sealed_events, 3);
    for job in &jobs {
        assert_eq!(
            sealed(&market, all, job),
            Some(seal(all, job, &honest).commitment)
        );
    }
    // A batch naming one job twice is refused before it reaches a block (one item per job).
    let twice = batch(
        two,
        vec![
            seal(two, &jobs[0], &honest),
            seal(two, &jobs[0], &tamper(&honest)),
        ],
    );
    let bytes = market.chain.sign(two, twice);
    assert!(matches!(
        tx::decode_and_check_shape(&bytes, CHAIN),
        Err(TxError::Jobs(JobsError::Invalid(_)))
    ));
    // `two` seals jobs[0] alone, then sends a batch with a good item, an unknown job, and a
    // second seal for jobs[0]: the good one applies, the others are refused items and leave
    // no trace.
    market
        .chain
        .submit_ok(two, batch(two, vec![seal(two, &jobs[0], &honest)]));
    let second = seal(two, &jobs[0], &tamper(&honest));
    let receipt = market.chain.submit_ok(
        two,
        batch(
            two,
            vec![
                seal(two, &unknown, &honest),
                seal(two, &jobs[1], &honest),
                second,
            ],
        ),
    );
    let refused_items: Vec<(JobId, String)> = refused(&receipt.events)
        .into_iter()
        .map(|(job, op, error)| {
            assert_eq!(op, operator(two));
            (job, error)
        })
        .collect();
    assert_eq!(refused_items.len(), 2, "{refused_items:?}");
    assert_eq!(refused_items[0].0, unknown);
    // The operator owes the unknown job nothing: refused on the work index, before any job is
    // loaded.
    assert_eq!(
        refused_items[0].1,
        JobsError::NotAssigned {
            job: unknown,
            operator: operator(two)
        }
        .to_string()
    );
    assert_eq!(refused_items[1].0, jobs[0]);
    assert_eq!(
        refused_items[1].1,
        JobsError::NotAssigned {
            job: jobs[0],
            operator: operator(two)
        }
        .to_string()
    );
    assert_eq!(
        sealed(&market, two, &jobs[0]),
        Some(seal(two, &jobs[0], &honest).commitment)
    );
    assert_eq!(
        sealed(&market, two, &jobs[1]),
        Some(seal(two, &jobs[1], &honest).commitment)
    );
    assert_eq!(sealed(&market, two, &jobs[2]), None);
    // A batch of nothing but bad items fails the transaction, with the first item's error.
    let other = JobId([0xef; 32]);
    let receipt = market.chain.submit(
        3,
        batch(
            3,
            vec![seal(3, &unknown, &honest), seal(3, &other, &honest)],
        ),
    );
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::NotAssigned {
            job: unknown,
            operator: operator(3)
        }))
    );
    assert!(receipt.events.is_empty());
    // Every other replica seals what it owes, in one transaction each; then the auditors are
    // drawn (each job's fourth operator) and seal.
    let rest: Vec<(u16, JobId, &Execution)> = (1..=4u16)
        .flat_map(|n| jobs.iter().map(move |job| (n, *job)))
        .filter(|(n, job)| works_on(&market, *n, job) && sealed(&market, *n, job).is_none())
        .map(|(n, job)| (n, job, &honest))
        .collect();
    let auditors: Vec<(u16, JobId, &Execution)> =
        jobs.iter().map(|job| (AUDITOR, *job, &honest)).collect();
    market.seal_block(&[rest, auditors].concat());
    for job in &jobs {
        let mut parties: Vec<u16> = market.assignees(job).iter().map(Market::index_of).collect();
        parties.push(market.auditor(job));
        parties.sort_unstable();
        assert_eq!(
            parties,
            vec![1, 2, 3, 4],
            "every operator works on every job"
        );
    }
    for job in &jobs {
        assert!(matches!(
            market.job(job).status,
            JobStatus::Revealing { .. }
        ));
    }
    // Each operator reveals all it owes as an assignee in one transaction; `bad`'s batch has
    // a bad salt for the second job: the other items open. The auditors of the first and the
    // third job reveal after them in the same block (the auditor reveals once the assignees'
    // results are compared), one batch per operator.
    let bad = Market::index_of(&market.assignees(&jobs[1])[0]);
    let everyone: Vec<(u16, JobId)> = (1..=4u16)
        .flat_map(|n| jobs.iter().map(move |job| (n, *job)))
        .collect();
    let (audits, assignees): (Vec<_>, Vec<_>) = everyone
        .iter()
        .copied()
        .partition(|(n, job)| market.is_auditor(job, *n));
    let mut txs = reveal_txs(&market, &assignees, |n, job| {
        let mut item = reveal(n, job, &honest);
        if n == bad && *job == jobs[1] {
            item.salt = [0; 32];
        }
        item
    });
    let revealing = by_operator(&assignees);
    for (n, audited) in by_operator(&audits) {
        let reveals: Vec<Reveal> = audited
            .iter()
            .filter(|job| **job != jobs[1])
            .map(|job| reveal(n, job, &honest))
            .collect();
        if reveals.is_empty() {
            continue;
        }
        // After its own assignee batch in this block, if it has one.
        let nonce = market.chain.nonce(n) + u64::from(revealing.contains_key(&n));
        txs.push(market.chain.sign_with_nonce(
            n,
            nonce,
            Msg::RevealResults(Box::new(RevealResults {
                operator: operator(n),
                reveals,
            })),
        ));
    }
    let outcome = market.chain.block(&txs);
    assert!(outcome.receipts.iter().all(|r| r.is_ok()), "{outcome:?}");
    let refused_items = refused(&events(&outcome));
    assert_eq!(
        refused_items,
        vec![(jobs[1], operator(bad), JobsError::SealMismatch.to_string())]
    );
    assert!(matches!(
        market.job(&jobs[0]).status,
        JobStatus::Challengeable { .. }
    ));
    assert!(matches!(
        market.job(&jobs[1]).status,
        JobStatus::Revealing { .. }
    ));
    assert!(matches!(
        market.job(&jobs[2]).status,
        JobStatus::Challengeable { .. }
    ));
    for job in [&jobs[0], &jobs[2]] {
        assert_eq!(
            market.job(job).audits[0].clone().outcome,
            AuditOutcome::Agreed
        );
    }
    assert_eq!(
        market.job(&jobs[1]).audits[0].clone().outcome,
        AuditOutcome::Pending
    );
    // Its reveal with the right salt completes the second job's reveals; its auditor reveals
    // after it, in the same block.
    let auditor = market.auditor(&jobs[1]);
    market.reveal_block(&[(bad, jobs[1], &honest), (auditor, jobs[1], &honest)]);
    for job in &jobs {
        let record = market.job(job);
        assert!(matches!(record.status, JobStatus::Challengeable { .. }));
        assert_eq!(record.audits[0].clone().outcome, AuditOutcome::Agreed);
    }
    let events = run_to_final(&mut market, &jobs);
    for job in &jobs {
        // 2,000 over three replicas: 666 each, 600 after the audit fund's 10% (66).
        let amounts: Vec<Amount> = paid(&events, job).into_iter().map(|(_, a)| a).collect();
        assert_eq!(amounts, vec![Amount::new(666 - 66); 3]);
    }
}

#[test]
fn a_batch_of_more_than_batch_items_max_is_refused_at_decode() {
    let market = market();
    let sealed = |count: usize| {
        let seals = (0..count)
            .map(|i| Seal {
                job: JobId(Hash::of("test.job", &(i as u64).to_le_bytes()).0),
                commitment: Hash::of("test.seal", &(i as u64).to_le_bytes()),
            })
            .collect();
        market.chain.sign(
            1,
            Msg::SealResults(Box::new(SealResults {
                operator: operator(1),
                seals,
            })),
        )
    };
    let batch_error = |bytes: &[u8]| match tx::decode_and_check_shape(bytes, CHAIN) {
        Err(TxError::Jobs(JobsError::Invalid(message))) => Some(message),
        other => panic!("{:?}", other.map(|_| ())),
    };
    // A full batch of seals fits in one transaction and passes its shape check.
    let full = sealed(BATCH_ITEMS_MAX);
    assert!(
        full.len() <= tx::TX_BYTES_MAX,
        "a batch of {BATCH_ITEMS_MAX} seals is {} bytes, over TX_BYTES_MAX ({})",
        full.len(),
        tx::TX_BYTES_MAX
    );
    assert!(tx::decode_and_check_shape(&full, CHAIN).is_ok());
    // One more item is refused at decode, for its length: nothing charged, never executed.
    let over = sealed(BATCH_ITEMS_MAX + 1);
    assert!(
        over.len() <= tx::TX_BYTES_MAX,
        "refused for its count, not its size"
    );
    let message = batch_error(&over).unwrap();
    assert!(
        message.contains(&format!("not {}", BATCH_ITEMS_MAX + 1)),
        "{message}"
    );
    assert!(batch_error(&sealed(0)).unwrap().contains("not 0"));
    // The same holds for reveals.
    let run = market
        .model
        .run(&Executor::new(1).unwrap(), input(1.5))
        .unwrap();
    let honest = Execution {
        output: run.output,
        trace: run.trace,
        activations: Vec::new(),
    };
    let result = commit_result(1, &JobId([7; 32]), &honest);
    let reveals = |count: usize| {
        let reveals = (0..count)
            .map(|i| Reveal {
                job: JobId(Hash::of("test.job", &(i as u64).to_le_bytes()).0),
                salt: [0; 32],
                result: result.clone(),
            })
            .collect();
        market.chain.sign(
            1,
            Msg::RevealResults(Box::new(RevealResults {
                operator: operator(1),
                reveals,
            })),
        )
    };
    assert!(tx::decode_and_check_shape(&reveals(1), CHAIN).is_ok());
    assert!(tx::decode_and_check_shape(&reveals(BATCH_ITEMS_MAX + 1), CHAIN).is_err());
    assert!(batch_error(&reveals(0)).unwrap().contains("not 0"));
    // Claims carry an 80-byte proof each: a full batch of `CLAIM_ITEMS_MAX` fits in one
    // transaction, one more is refused at decode.
    let proof = key(1).vrf_prove(b"claim");
    let claims = |count: usize| {
        let claims = (0..count)
            .map(|i| jobs::AuditClaim {
                job: JobId(Hash::of("test.job", &(i as u64).to_le_bytes()).0),
                proof,
            })
            .collect();
        market.chain.sign(
            1,
            Msg::ClaimAudits(Box::new(jobs::ClaimAudits {
                operator: operator(1),
                claims,
            })),
        )
    };
    let full = claims(jobs::CLAIM_ITEMS_MAX);
    assert!(full.len() <= tx::TX_BYTES_MAX, "{} bytes", full.len());
    assert!(tx::decode_and_check_shape(&full, CHAIN).is_ok());
    assert!(tx::decode_and_check_shape(&claims(jobs::CLAIM_ITEMS_MAX + 1), CHAIN).is_err());
    assert!(batch_error(&claims(0)).unwrap().contains("not 0"));
}

/// Blocks until operator `n`'s slash applies (at most past the slash delay): its amount.
fn slash_of(market: &mut Market, n: u16) -> Option<Amount> {
    let apply =
        market.chain.epoch().get() + market.chain.ledger.params().slashing.slash_delay_epochs;
    while market.chain.epoch() < Epoch::new(apply + 1) {
        let outcome = market.chain.block(&[]);
        let slashed = outcome.events.iter().find_map(|e| match e {
            Event::Slashing(surety_ledger::slashing::SlashingEvent::Slashed {
                operator: o,
                amount,
                ..
            }) if *o == operator(n) => Some(*amount),
            _ => None,
        });
        if slashed.is_some() {
            return slashed;
        }
    }
    None
}

/// The auditor's reveal, refused in the `Revealing` phase.
fn refused_too_early(market: &mut Market, job: &JobId, auditor: u16, honest: &Execution) {
    let receipt = market
        .chain
        .submit(auditor, reveal_msg(auditor, job, honest));
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::WrongPhase {
            job: *job,
            what: "the auditor's reveal"
        }))
    );
    assert!(receipt.charged);
    assert_eq!(
        market.job(job).audits[0].output_hash,
        None,
        "nothing revealed"
    );
}

#[test]
fn an_auditor_cannot_reveal_before_the_assignees_results_are_compared() {
    // An honest worker: the auditor's reveal waits for the worker's.
    let mut market = market();
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest), (AUDITOR, job, &honest)]);
    let auditor = market.auditor(&job);
    assert!(matches!(
        market.job(&job).status,
        JobStatus::Revealing { .. }
    ));
    refused_too_early(&mut market, &job, auditor, &honest);
    // In one block, the auditor's reveal before the worker's: still refused, the worker's
    // taken.
    let txs = vec![
        market
            .chain
            .sign(auditor, reveal_msg(auditor, &job, &honest)),
        market.chain.sign(worker, reveal_msg(worker, &job, &honest)),
    ];
    let outcome = market.chain.block(&txs);
    assert_eq!(
        outcome.receipts[0].error_kind,
        Some(TxError::Jobs(JobsError::WrongPhase {
            job,
            what: "the auditor's reveal"
        }))
    );
    assert!(outcome.receipts[1].is_ok(), "{:?}", outcome.receipts[1]);
    assert!(matches!(
        market.job(&job).status,
        JobStatus::Challengeable { .. }
    ));
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Pending
    );
    // The worker's result is compared: the auditor's reveal is taken, and agrees.
    let worker_before = market.chain.balance(worker);
    let outcome = market.reveal_block(&[(auditor, job, &honest)]);
    assert!(
        events(&outcome).contains(&Event::Jobs(JobsEvent::AuditAgreed {
            job,
            auditor: operator(auditor)
        }))
    );
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Agreed
    );
    let final_events = run_to_final(&mut market, &[job]);
    assert_eq!(
        paid(&final_events, &job),
        vec![(operator(worker), Amount::new(FEE - FEE / 10))]
    );
    // 1,800 to the operator, its account's 10% commission: 180.
    assert_eq!(
        market.chain.balance(worker),
        worker_before.checked_add(Amount::new(180)).unwrap()
    );

    // A cheater (a tampered output) that waits for the audit decision before revealing sees
    // nothing until its own deadline: the auditor's reveal is refused in every block of the
    // reveal window. It must choose blind.
    for withhold in [false, true] {
        let mut market = super::market();
        let job = market.submit(1);
        let cheater = Market::index_of(&market.assignees(&job)[0]);
        let honest = execute(&market.model, &market.job(&job));
        let tampered = tamper(&honest);
        let client_before = market.chain.balance(CLIENT);
        let cheater_tokens = market.chain.operator(cheater).tokens;
        market.seal_block(&[(cheater, job, &tampered), (AUDITOR, job, &honest)]);
        let auditor = market.auditor(&job);
        let JobStatus::Revealing { until } = market.job(&job).status else {
            panic!("both sealed: {:?}", market.job(&job).status);
        };
        // The auditor tries every block before the cheater's deadline (the last block at
        // which the cheater may still reveal).
        while market.chain.height().saturating_plus(1) < until {
            refused_too_early(&mut market, &job, auditor, &honest);
        }
        assert!(matches!(
            market.job(&job).status,
            JobStatus::Revealing { .. }
        ));
        if !withhold {
            // It reveals in its last block: the audit comes after, disagrees, and the
            // dispute slashes it 10% of its allocation (5,000) for a wrong result.
            market.reveal_block(&[(cheater, job, &tampered)]);
            market.reveal_block(&[(auditor, job, &honest)]);
            let dispute = dispute_of(&market, &job);
            assert_eq!(
                market.job(&job).audits[0].clone().outcome,
                AuditOutcome::Disputed { dispute }
            );
            bisect(
                &mut market,
                dispute,
                (cheater, &tampered),
                (auditor, &honest),
            );
            let verdict = provide_input(&mut market, dispute, auditor, &honest);
            assert_eq!(
                reported(&verdict, FaultKind::WrongResult),
                vec![operator(cheater)]
            );
            assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
            assert_eq!(
                market.chain.balance(CLIENT),
                client_before.checked_add(Amount::new(FEE)).unwrap(),
                "refunded"
            );
            assert_eq!(
                slash_of(&mut market, cheater),
                Some(Amount::new(ALLOCATION / 5))
            );
        } else {
            // It withholds: at its deadline it is reported for a withheld result, slashed as
            // a wrong result (withholding buys nothing over revealing), the job (no result
            // revealed) fails and the client is refunded; the auditor's turn never comes, and
            // the cheater is paid nothing.
            let outcome = market.chain.block(&[]);
            assert_eq!(outcome.height, until);
            let window = events(&outcome);
            assert_eq!(
                reported(&window, FaultKind::WithheldResult),
                vec![operator(cheater)]
            );
            assert!(reported(&window, FaultKind::WrongResult).is_empty());
            assert!(matches!(market.job(&job).status, JobStatus::Failed { .. }));
            assert!(paid(&window, &job).is_empty());
            assert_eq!(
                market.chain.balance(CLIENT),
                client_before.checked_add(Amount::new(FEE)).unwrap(),
                "refunded"
            );
            let receipt = market
                .chain
                .submit(auditor, reveal_msg(auditor, &job, &honest));
            assert!(!receipt.is_ok(), "the job is over: {receipt:?}");
            assert_eq!(
                slash_of(&mut market, cheater),
                Some(Amount::new(ALLOCATION / 5)),
                "the same slash as the wrong result it would have revealed"
            );
        }
        assert!(market.chain.operator(cheater).tokens < cheater_tokens);
    }
}

#[test]
fn a_flood_that_fills_the_claim_window_does_not_keep_the_auditor_out() {
    // The attack: fill every block of a job's claim window so that no honest claim
    // gets in, and the job reveals unaudited. Blocks the flood fills do not count against the
    // window: it moves on by one block per full block (at most doubling), and the claim made
    // once the flood is over is taken.
    let mut market = market();
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest)]);
    let window = market.job(&job).audit_window.unwrap();
    let spammer = 23;
    let mut extended = Vec::new();
    // The window opens in a full block (with a seed that selects someone), and every block of
    // it is full.
    let flood = full_block(&market, spammer, 131);
    market.open_windows_with(&[job], |_, selected| !selected.is_empty(), &flood);
    while market.chain.height() < window.until {
        let outcome = market.chain.block(&full_block(&market, spammer, 131));
        extended.extend(events(&outcome).into_iter().filter_map(|e| match e {
            Event::Jobs(JobsEvent::AuditClaimsExtended { job: j, until }) if j == job => {
                Some(until)
            }
            _ => None,
        }));
    }
    let params = market.chain.ledger.params().jobs.clone();
    assert_eq!(
        extended,
        vec![window.until.saturating_plus(params.audit_claim_blocks)],
        "moved on by the full blocks it saw, at most its length"
    );
    assert_eq!(
        market.job(&job).status,
        JobStatus::Assigned,
        "still taking claims"
    );
    let (listed, until) = jobs::open_claims(market.chain.ledger.store(), &market.id)[0];
    assert_eq!((listed, until), (job, extended[0]));
    let auditor = market.claim_auditor(&job);
    market.seal_block(&[(auditor, job, &honest)]);
    market.until_revealing(&job);
    market.reveal_block(&[(worker, job, &honest), (auditor, job, &honest)]);
    assert_eq!(market.job(&job).audits[0].outcome, AuditOutcome::Agreed);
    // A window stretches at most once its length: a flood held on past that only costs fees.
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest)]);
    let opened = market.job(&job).audit_window.unwrap();
    for _ in 0..8 {
        if market.job(&job).status != JobStatus::Assigned {
            break;
        }
        market.chain.block(&full_block(&market, spammer, 131));
    }
    let record = market.job(&job);
    assert!(matches!(record.status, JobStatus::Revealing { .. }));
    assert!(record.audits.is_empty());
    assert_eq!(
        record.audit_window.unwrap().until,
        opened.until.saturating_plus(params.audit_claim_blocks)
    );
}

#[test]
fn a_cheat_cannot_keep_an_honest_auditor_out_by_freezing_it_with_a_challenge() {
    // The attack: an honest claim is public in the mempool; the cheat front-runs it, in the
    // same block, with a bonded challenge of another of that operator's results, which freezes
    // the operator (a party to an open dispute), hoping its claim is refused. A freeze is no
    // reason to refuse an audit (nor to leave an epoch's audit pool): the claim is taken.
    let mut market = market();
    let first = submit_with_deadline(&mut market, 1, 20);
    let x = Market::index_of(&market.assignees(&first)[0]);
    let (second, y) = (0..8)
        .find_map(|_| {
            let job = submit_with_deadline(&mut market, 1, 20);
            let y = Market::index_of(&market.assignees(&job)[0]);
            (y != x).then_some((job, y))
        })
        .expect("another worker within 8 jobs");
    // X's first result is audited, agreed and challengeable.
    let honest = execute(&market.model, &market.job(&first));
    market.seal_and_reveal(&first, &[(x, &honest), (AUDITOR, &honest)]);
    assert!(matches!(
        market.job(&first).status,
        JobStatus::Challengeable { .. }
    ));
    // Y seals the second job; its window opens with a seed that selects X.
    let second_honest = execute(&market.model, &market.job(&second));
    market.seal_block(&[(y, second, &second_honest)]);
    market.open_windows_with(&[second], |_, selected| selected.contains(&x), &[]);
    // In one block: the cheat's challenge of X's first result, then X's claim.
    let fabricated = tamper(&honest);
    let steps = honest.trace.len();
    let challenge = market.chain.sign(
        CHALLENGER,
        Msg::Challenge(Box::new(Challenge {
            job: first,
            operator: operator(x),
            output_hash: fabricated.output.hash(),
            trace_root: fabricated.trace.root(),
            output_proof: fabricated.trace.proof(steps - 1).unwrap(),
        })),
    );
    let claim = market.chain.sign(x, claim_msg(&market, x, &second));
    let outcome = market.chain.block(&[challenge, claim]);
    assert!(outcome.receipts[0].is_ok(), "{:?}", outcome.receipts[0]);
    assert!(
        market.chain.operator(x).is_frozen(),
        "the challenge froze X"
    );
    assert!(outcome.receipts[1].is_ok(), "{:?}", outcome.receipts[1]);
    assert!(market.job(&second).audit_of(&operator(x)).is_some());
    // An epoch's audit pool taken while X is frozen has X in it.
    let store = market.chain.ledger.store();
    let pool = surety_ledger::services::audit_pool(store, &market.id);
    assert!(pool.iter().any(|(op, _, _)| *op == operator(x)));
    let eligible = surety_ledger::services::eligible_with_family(store, &market.id);
    assert!(
        !eligible.iter().any(|(op, _, _)| *op == operator(x)),
        "while it takes no new assignment"
    );
}

#[test]
fn an_operator_with_a_slash_pending_is_out_of_the_next_epoch_s_audit_pool() {
    // It may not claim (it could claim and fall silent for nothing more); in the pool's weight
    // it would only lower every other operator's chance (second review of sortition: a missed
    // deadline keeps a slash pending for `slash_delay_epochs`).
    let mut market = market();
    let job = market.submit(1);
    let late = Market::index_of(&market.assignees(&job)[0]);
    let deadline = market.job(&job).assignments[0].deadline;
    while market.chain.height() < deadline {
        market.chain.block(&[]);
    }
    let record = market.chain.operator(late);
    assert!(record.pending_slashes > 0 && !record.jailed, "{record:?}");
    let epoch = market.chain.epoch();
    while market.chain.epoch() == epoch {
        market.chain.block(&[]);
    }
    let next = market.chain.epoch();
    let store = market.chain.ledger.store();
    assert!(market.chain.operator(late).pending_slashes > 0);
    assert!(jobs::pool::entry(store, next, &market.id, &operator(late)).is_none());
    // The other servers are in it.
    let others = [1u16, 2, 3, 4].into_iter().filter(|n| *n != late);
    for n in others {
        assert!(
            jobs::pool::entry(store, next, &market.id, &operator(n)).is_some(),
            "{n}"
        );
    }
}

#[test]
fn no_assignee_knows_whether_or_by_whom_it_is_audited_when_it_seals() {
    // The attack (first review, high): the auditor was drawn with the assignees, in state
    // before anyone sealed; a cheater whose undeclared partner was the designated auditor
    // cheated on exactly those jobs. The second design drew it from a later block's seed, which
    // a cheat could time. Now an auditor is whoever's own VRF over the job's seals and the seed
    // of a later block selects it: nothing to claim, and nothing anyone could compute, until
    // the last seal is in and that block has begun.
    let mut market = market();
    let (job, a, b) = market.submit_pair();
    let honest = execute(&market.model, &market.job(&job));
    assert!(
        market.job(&job).audit_window.is_none(),
        "no window at assignment"
    );
    market.seal_block(&[(a, job, &honest)]);
    assert!(
        market.job(&job).audit_window.is_none(),
        "nor after one seal"
    );
    // A claim or a seal from anyone else is refused: there is no window, and no auditor.
    let outsider = (1..=4u16).find(|n| *n != a && *n != b).unwrap();
    let receipt = market.chain.submit(
        outsider,
        claim_msg_with(outsider, &job, key(outsider).vrf_prove(b"guess")),
    );
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::WrongPhase {
            job,
            what: "audit claims"
        }))
    );
    let receipt = market
        .chain
        .submit(outsider, seal_msg(outsider, &job, &honest));
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::NotAssigned {
            job,
            operator: operator(outsider)
        }))
    );
    let last = market.seal_block(&[(b, job, &honest)]);
    let at = events(&last)
        .into_iter()
        .find_map(|e| match e {
            Event::Jobs(JobsEvent::AuditClaimsScheduled { job: j, at }) if j == job => Some(at),
            _ => None,
        })
        .expect("the last seal schedules the claim window");
    let params = market.chain.ledger.params().jobs.clone();
    assert_eq!(at, last.height.saturating_plus(params.audit_seed_delay));
    // What the VRFs run on is fixed by the seals and the seed of block `at`, which did not
    // exist when B sealed: each possible seed gives other selections, and nobody but each
    // candidate can tell which.
    let window = market.job(&job).audit_window.unwrap();
    assert_eq!(window.seed, None);
    let outcomes: BTreeSet<Vec<u16>> = (0..32u32)
        .map(|i| {
            let seed = Hash::of("test.other-seed", &i.to_le_bytes());
            market.selected_for(&job, &window.seals, &seed)
        })
        .collect();
    println!("selections over 32 seeds: {outcomes:?}");
    assert!(outcomes.len() > 1, "the selection moves with the seed");
    // Sealed, but nobody reveals until the window is over (tried in the window's first block).
    let early_reveal = market.chain.sign(a, reveal_msg(a, &job, &honest));
    let opening =
        market.open_windows_with(&[job], |_, selected| !selected.is_empty(), &[early_reveal]);
    assert!(
        matches!(
            opening.receipts[0].error_kind,
            Some(TxError::Jobs(JobsError::WrongPhase { .. }))
        ),
        "{:?}",
        opening.receipts[0]
    );
    assert_eq!(opening.height, at);
    let opened = events(&opening)
        .into_iter()
        .find_map(|e| match e {
            Event::Jobs(JobsEvent::AuditClaimsOpen { job: j, until, .. }) if j == job => {
                Some(until)
            }
            _ => None,
        })
        .expect("block `at` opens the claim window");
    assert_eq!(opened, at.saturating_plus(params.audit_claim_blocks));
    let n = market.claim_auditor(&job);
    assert!(n != a && n != b);
    market.seal_block(&[(n, job, &honest)]);
    market.until_revealing(&job);
    // The reveals open at the end of the window's last block at the earliest.
    assert!(market.chain.height() >= opened);
    market.reveal_block(&[(a, job, &honest), (b, job, &honest), (n, job, &honest)]);
    run_to_final(&mut market, &[job]);
    assert!(market.job(&job).is_final());
}

#[test]
fn an_auditor_whose_run_takes_the_whole_deadline_still_has_the_grace_to_seal() {
    let mut market = market();
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest)]);
    let auditor = market.claim_auditor(&job);
    let record = market.job(&job);
    let audit = record.audits[0].clone();
    // Its run may take the job's whole deadline (an assignee has as long); then it has
    // `reveal_blocks` (4) more to seal in, the window the audit bound counts as censorable
    // (`Params::audit_seal_grace`). Before, its deadline was the job's alone: a run that took
    // it left no block to seal in.
    let run_done = audit.claimed.saturating_plus(record.deadline_blocks);
    assert_eq!(audit.deadline, run_done.saturating_plus(4));
    while market.chain.height().saturating_plus(1) < audit.deadline {
        market.chain.block(&[]);
    }
    assert!(market.chain.height() > run_done);
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Pending
    );
    // The seal lands in the grace's last block, and counts.
    let receipt = market
        .chain
        .submit_ok(auditor, seal_msg(auditor, &job, &honest));
    assert_eq!(market.chain.height(), audit.deadline);
    assert!(receipt.error_kind.is_none());
    let sealed = market.job(&job).audits[0].clone();
    assert!(sealed.seal.is_some());
    assert_eq!(sealed.outcome, AuditOutcome::Pending);
    // The audit then completes as any other: the worker reveals, the auditor agrees.
    market.reveal_block(&[(worker, job, &honest)]);
    market
        .chain
        .submit_ok(auditor, reveal_msg(auditor, &job, &honest));
    assert_eq!(
        market.job(&job).audits[0].clone().outcome,
        AuditOutcome::Agreed
    );
}

/// The heights `job`'s claim window moved on to in `outcome` (`AuditClaimsExtended`).
fn claims_extended(outcome: &surety_ledger::BlockOutcome, job: &JobId) -> Vec<Height> {
    events(outcome)
        .into_iter()
        .filter_map(|e| match e {
            Event::Jobs(JobsEvent::AuditClaimsExtended { job: j, until }) if j == *job => {
                Some(until)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn later_rounds_over_a_claim_window_move_it_on_so_no_colluder_of_a_later_round_decides_it() {
    // The attack (the review of the proposer margin, medium): the next heights' proposers are
    // public once a block is in, so a coalition can knock the honest round-0 proposers of a
    // job's claim window out (a denial of service timed to the window), or withhold its own
    // round-0 blocks, so that later rounds decide every height of it; its colluders among
    // those leave the honest claim out and the job reveals unaudited. Counted in the window,
    // each such height would be a colluder's with far more than the collusion share. A block
    // built off its height's schedule moves the window on by one instead (at most its length),
    // and the claim sent meanwhile lands in the first block a round-0 proposer builds.
    let mut market = market();
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest)]);
    market.open_windows(&[job]);
    let window = market.job(&job).audit_window.unwrap();
    let length = market.chain.ledger.params().jobs.audit_claim_blocks;
    // Every height of the window goes to a later round, whose proposer leaves the claim out.
    market.chain.off_schedule = true;
    let mut extended = Vec::new();
    while market.chain.height() < window.until {
        let outcome = market.chain.block(&[]);
        extended.extend(claims_extended(&outcome, &job));
    }
    market.chain.off_schedule = false;
    assert_eq!(
        extended,
        vec![window.until.saturating_plus(length)],
        "moved on by the {length} heights decided off schedule"
    );
    assert_eq!(market.job(&job).status, JobStatus::Assigned);
    // The first block on schedule takes the claim: the job is audited.
    let auditor = market.claim_auditor(&job);
    assert!(market.job(&job).audit_of(&operator(auditor)).is_some());
    market.seal_block(&[(auditor, job, &honest)]);
    market.until_revealing(&job);
    market.reveal_block(&[(worker, job, &honest), (auditor, job, &honest)]);
    assert_eq!(market.job(&job).audits[0].outcome, AuditOutcome::Agreed);

    // The stretch is capped at the window's length: later rounds kept up past that (what nodes
    // raise their later-round alarm for, docs/node.md) end the window, unaudited.
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest)]);
    market.open_windows(&[job]);
    let opened = market.job(&job).audit_window.unwrap();
    market.chain.off_schedule = true;
    for _ in 0..3 * length {
        if market.job(&job).status != JobStatus::Assigned {
            break;
        }
        market.chain.block(&[]);
    }
    market.chain.off_schedule = false;
    let record = market.job(&job);
    assert!(matches!(record.status, JobStatus::Revealing { .. }));
    assert!(record.audits.is_empty());
    assert_eq!(
        record.audit_window.unwrap().until,
        opened.until.saturating_plus(length)
    );
}

#[test]
fn a_seed_a_later_round_chose_does_not_open_a_claim_window() {
    // The attack: the block whose seed opens a job's claim window (and enters every auditor's
    // VRF) is the one the seed delay ends at. A coalition that knocks that height's honest
    // round-0 proposer out, or withholds its own round-0 block, hands the height to a later
    // round, perhaps its own colluder, whose seed it knew before the seal (grinding the salt
    // against it; `Params::audit_fund_drain`) or can pick among its candidates. A block off
    // its schedule restarts the delay's run: the window opens with the seed of a block that
    // ends `audit_seed_delay + 1` blocks in a row built by their round-0 proposers, at most
    // `audit_seed_delay` late.
    let mut market = market();
    let delay = market.chain.ledger.params().jobs.audit_seed_delay;
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest)]);
    let window = market.job(&job).audit_window.unwrap();
    while market.chain.height().saturating_plus(1) < window.draw_at {
        market.chain.block(&[]);
    }
    market.chain.off_schedule = true;
    let outcome = market.chain.block(&[]);
    market.chain.off_schedule = false;
    assert_eq!(outcome.height, window.draw_at);
    let moved = market.job(&job).audit_window.unwrap();
    assert_eq!(moved.seed, None, "not opened with the later round's seed");
    // `delay + 1` after it, capped at `delay` late.
    assert_eq!(moved.draw_at, window.draw_at.saturating_plus(delay));
    assert_eq!(moved.until, window.until.saturating_plus(delay));
    assert!(events(&outcome).iter().any(|e| matches!(
        e,
        Event::Jobs(JobsEvent::AuditClaimsScheduled { job: j, at }) if *j == job && *at == moved.draw_at
    )));
    // The block at the new height, on schedule, opens it with its own seed.
    while market.chain.height().saturating_plus(1) < moved.draw_at {
        market.chain.block(&[]);
    }
    let time_ms = market.chain.time_ms;
    market.chain.block(&[]);
    let opened = market.job(&job).audit_window.unwrap();
    assert_eq!(
        opened.seed,
        Some(Hash::of("seed", &(time_ms + 1_000).to_le_bytes()))
    );
    assert_eq!(opened.until, moved.until);

    // The seal's own block off its schedule counts too (the review of the stretch): a cheat
    // that knocks out its seal block's round-0 proposer for a colluder of a later round would
    // otherwise hold the first height of the delay's run with far more than the collusion
    // share (`1 − 0.8^(k+1)` for k rounds knocked out).
    let (job, worker, honest) = one_replica_job(&mut market);
    market.chain.off_schedule = true;
    market.seal_block(&[(worker, job, &honest)]);
    market.chain.off_schedule = false;
    let window = market.job(&job).audit_window.unwrap();
    while market.chain.height() < window.draw_at {
        market.chain.block(&[]);
    }
    let moved = market.job(&job).audit_window.unwrap();
    assert_eq!(moved.seed, None);
    assert_eq!(moved.draw_at, window.draw_at.saturating_plus(1));
    // A block out of the count before the window opened does not move its end: the claims'
    // run is the window's own.
    market.open_windows(&[job]);
    let opened = market.job(&job).audit_window.unwrap();
    let mut extended = Vec::new();
    while market.chain.height() < opened.until {
        let outcome = market.chain.block(&[]);
        extended.extend(claims_extended(&outcome, &job));
    }
    assert_eq!(extended, vec![]);
    assert_eq!(market.job(&job).audit_window.unwrap().until, opened.until);
}

#[test]
fn a_knocked_out_height_restarts_the_claim_window_s_run_instead_of_joining_two() {
    // The attack (the second review of the stretch, medium to high): with a window that moved
    // on by the count of its slack blocks, a coalition holding a window's heights but one
    // knocks that honest round-0 proposer out when a colluder holds a later round: the height
    // is not counted, the window moves on by one, and the colluders' heights on both sides of
    // it make one run, every height of the window theirs. At one later round per patch that
    // multiplied the censorship term by about 5; at two, the audit rule failed. A slack block
    // now restarts the window's final run: the window ends `audit_claim_blocks` blocks after
    // it, so its last `audit_claim_blocks` heights are always counted ones.
    let mut market = market();
    let length = market.chain.ledger.params().jobs.audit_claim_blocks;
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest)]);
    market.open_windows(&[job]);
    let window = market.job(&job).audit_window.unwrap();
    // The window's first claim block is knocked out (the test chain's claims are 2 blocks).
    market.chain.off_schedule = true;
    let knocked = market.chain.block(&[]).height;
    market.chain.off_schedule = false;
    let mut extended = Vec::new();
    while market.chain.height() < window.until {
        let outcome = market.chain.block(&[]);
        extended.extend(claims_extended(&outcome, &job));
    }
    assert_eq!(
        extended,
        vec![knocked.saturating_plus(length)],
        "a full run after the knocked-out height"
    );
    assert!(knocked.saturating_plus(length) > window.until);
    // The first block after takes the claim: the job is audited.
    let auditor = market.claim_auditor(&job);
    assert!(market.job(&job).audit_of(&operator(auditor)).is_some());
}

#[test]
fn a_burst_of_later_rounds_before_the_opening_spends_none_of_the_claim_window_s_stretch() {
    // The attack (the review of the stretch, medium): with one cap for the opening and the
    // end, a coalition withholds its own round-0 blocks during the seed delay, where no claim
    // is due and withholding costs it nothing, until the cap is spent; the window then cannot
    // stretch, and knocking out honest proposers in it hands its heights to colluders of later
    // rounds, who censor the claims. The opening has a cap of its own (`audit_seed_delay`)
    // and the end's (`audit_claim_blocks`) counts from the opening on.
    let mut market = market();
    let (job, worker, honest) = one_replica_job(&mut market);
    market.seal_block(&[(worker, job, &honest)]);
    let window = market.job(&job).audit_window.unwrap();
    let params = market.chain.ledger.params().jobs.clone();
    // Every block from the seal on is off schedule, through the window's first end.
    market.chain.off_schedule = true;
    while market.chain.height() < window.draw_at {
        market.chain.block(&[]);
    }
    let moved = market.job(&job).audit_window.unwrap();
    assert_eq!(
        moved.draw_at,
        window.draw_at.saturating_plus(params.audit_seed_delay)
    );
    // Past the opening's cap the window opens with the seed it has (a burst that long, at
    // least half of the heights of two delays, is what the nodes' later-round alarm shows:
    // docs/market.md, *Remaining assumptions*).
    market.open_windows(&[job]);
    let opened = market.job(&job).audit_window.unwrap();
    assert_eq!(opened.until, moved.until);
    let mut extended = Vec::new();
    while market.chain.height() < opened.until {
        let outcome = market.chain.block(&[]);
        extended.extend(claims_extended(&outcome, &job));
    }
    market.chain.off_schedule = false;
    assert_eq!(
        extended,
        vec![opened.until.saturating_plus(params.audit_claim_blocks)],
        "the window still moves on by its whole length"
    );
    // The first block on schedule takes the claim: the job is audited.
    let auditor = market.claim_auditor(&job);
    assert!(market.job(&job).audit_of(&operator(auditor)).is_some());
}
