//! Blind results (docs/market.md, "Blind results", "Audits", "Families"): the attacks the old
//! commit flow let through, each played against the ledger and asserted in numbers. Under the
//! old flow a replica or an auditor committed after another's result was public (and could
//! copy it), the block seed decided whether a result was audited after it was committed (and a
//! challenge in that block suppressed the audit), and nothing kept one owner's operators from
//! auditing each other. Each test below fails if its defence is taken out.

use super::*;
use std::collections::BTreeSet;
use surety_ledger::genesis::Genesis;
use surety_ledger::jobs::{JobsEvent, BATCH_ITEMS_MAX};
use surety_ledger::staking::{sign_family_consent, EditOperator, OperatorMetadata, StakingError};
use surety_ledger::tx;

/// Whether operator `n`'s VRF over `job` selects it to audit at `rate`: what only `n` can
/// compute before it reveals, and no block seed enters.
fn selected(n: u16, job: &JobId, rate: Ratio) -> bool {
    let output = audit_proof(n, job)
        .verify(&operator(n).0, &jobs::audit_alpha(CHAIN, job))
        .expect("an operator's own proof verifies");
    jobs::is_selected(rate, output.draw())
}

/// The market's parameters with audits selected at 50%. The audit rule then needs a smaller
/// fee cap and a smaller in-flight cap: 50% · 10% · 50,000 = 2,500 of expected slash against a
/// fee of at most 2,000, and 4% (2,000) in flight under 5%. Jobs here pay 500, so the fee
/// floor is 500 and the audit reward 100, which keeps the audit fund solvent
/// (`Params::validate`: 50% · 100 = 10% · 500).
fn half_audited() -> Params {
    let mut params = market_params();
    params.jobs.audit_rate = Ratio::from_percent(50).unwrap();
    params.jobs.job_fee_min = Amount::new(500);
    params.jobs.audit_reward = Amount::new(100);
    params.jobs.job_fee_max = Amount::new(FEE);
    params.jobs.in_flight_fee_fraction = Ratio::from_percent(4).unwrap();
    params
}

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
    assert_eq!(record.audit.unwrap().outcome, AuditOutcome::Pending);
    market.reveal_block(&[(auditor, *job, honest)]);
    assert_eq!(market.job(job).audit.unwrap().outcome, AuditOutcome::Agreed);
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
    let job = market.submit(2);
    let replicas = market.assignees(&job);
    let (a, b) = (
        Market::index_of(&replicas[0]),
        Market::index_of(&replicas[1]),
    );
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
    let receipt = market.chain.submit(b, reveal_msg(b, &job, &honest, false));
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
    let job = market.submit(2);
    let replicas = market.assignees(&job);
    let (a, b) = (
        Market::index_of(&replicas[0]),
        Market::index_of(&replicas[1]),
    );
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
        audit_proof: None,
        result: Some(commit_result(b, &job, &honest)),
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
            result: Some(commit_result(a, &job, &honest)),
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
    let job = market.submit(1);
    let worker = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
    market.seal_block(&[(worker, job, &honest)]);
    let auditor = market.draw_auditor(&job);
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
    assert_eq!(market.job(&job).audit.unwrap().deadline, until);
    let fund_before = market.chain.pool(Pool::AuditFund);
    let receipt = market
        .chain
        .submit(auditor, reveal_msg(auditor, &job, &honest, true));
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::SealMismatch))
    );
    let auditor_before = market.chain.balance(auditor);
    // Blocks until the audit is out of `Pending` (its deadline passes).
    let mut window = Vec::new();
    for _ in 0..20 {
        if market.job(&job).audit.unwrap().outcome != AuditOutcome::Pending {
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
        market.job(&job).audit.unwrap().outcome,
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
fn the_audit_decision_is_the_auditor_s_vrf_over_the_job_whatever_the_block_seed() {
    let rate = Ratio::from_percent(50).unwrap();
    // Over 100 job ids, each operator's VRF selects it for about half (3 sigma: 35..=65).
    let ids: Vec<JobId> = (0..100u32)
        .map(|i| JobId(Hash::of("test.job", &i.to_le_bytes()).0))
        .collect();
    let counts: Vec<usize> = (1..=4)
        .map(|n| ids.iter().filter(|id| selected(n, id, rate)).count())
        .collect();
    println!("selected of 100, per operator: {counts:?}");
    assert!(counts.iter().all(|c| (35..=65).contains(c)), "{counts:?}");
    assert!((170..=230).contains(&counts.iter().sum::<usize>()));
    // On chain: the same four jobs (same transactions, so the same ids) under four block
    // seeds. The seed designates the auditor; the auditor's VRF alone selects it.
    let mut decided: BTreeMap<(JobId, u16), bool> = BTreeMap::new();
    let mut auditors: BTreeMap<JobId, BTreeSet<u16>> = BTreeMap::new();
    for shift in 0..4u64 {
        let mut market = market_with(half_audited());
        // Another time, so another seed, for every block from here.
        market.chain.time_ms += shift * 7_000;
        let jobs = submit_jobs(&mut market, 4, 500, 1);
        let honest = execute(&market.model, &market.job(&jobs[0]));
        let workers: Vec<(u16, JobId)> = jobs
            .iter()
            .map(|job| (Market::index_of(&market.assignees(job)[0]), *job))
            .collect();
        let sealed: Vec<(u16, JobId, &Execution)> =
            workers.iter().map(|(n, job)| (*n, *job, &honest)).collect();
        market.seal_block(&sealed);
        // The auditors are drawn once the workers have sealed, and seal in turn.
        let audits: Vec<(u16, JobId)> = jobs
            .iter()
            .map(|job| (market.draw_auditor(job), *job))
            .collect();
        let sealed: Vec<(u16, JobId, &Execution)> =
            audits.iter().map(|(n, job)| (*n, *job, &honest)).collect();
        market.seal_block(&sealed);
        // The workers reveal first: their results are compared, and the auditors' turn comes.
        let worker_reveals = reveal_txs(&market, &workers, |n, job| reveal(n, job, &honest, false));
        let outcome = market.chain.block(&worker_reveals);
        assert!(outcome.receipts.iter().all(|r| r.is_ok()), "{outcome:?}");
        for job in &jobs {
            assert!(matches!(
                market.job(job).status,
                JobStatus::Challengeable { .. }
            ));
        }
        // A proof made with another operator's key (the job's worker's) does not verify.
        let forged = reveal_txs(&market, &audits, |n, job| {
            let worker = workers.iter().find(|(_, j)| j == job).unwrap().0;
            Reveal {
                audit_proof: Some(audit_proof(worker, job)),
                ..reveal(n, job, &honest, true)
            }
        });
        for receipt in market.chain.block(&forged).receipts {
            assert!(
                matches!(
                    receipt.error_kind,
                    Some(TxError::Jobs(JobsError::BadAuditProof(_)))
                ),
                "{receipt:?}"
            );
        }
        // A selected auditor owes its result with its proof.
        let selected_audits: Vec<(u16, JobId)> = audits
            .iter()
            .copied()
            .filter(|(n, job)| selected(*n, job, rate))
            .collect();
        let without_result = reveal_txs(&market, &selected_audits, |n, job| Reveal {
            result: None,
            ..reveal(n, job, &honest, true)
        });
        for receipt in market.chain.block(&without_result).receipts {
            assert!(
                matches!(
                    receipt.error_kind,
                    Some(TxError::Jobs(JobsError::Invalid(_)))
                ),
                "{receipt:?}"
            );
        }
        // The auditors' real reveals, one batch per operator: a selected auditor with its
        // result, the others without.
        let txs = reveal_txs(&market, &audits, |n, job| Reveal {
            result: selected(n, job, rate).then(|| commit_result(n, job, &honest)),
            ..reveal(n, job, &honest, true)
        });
        let outcome = market.chain.block(&txs);
        assert!(outcome.receipts.iter().all(|r| r.is_ok()), "{outcome:?}");
        let revealed: BTreeMap<JobId, (OperatorId, bool)> = events(&outcome)
            .into_iter()
            .filter_map(|e| match e {
                Event::Jobs(JobsEvent::AuditRevealed {
                    job,
                    auditor,
                    selected,
                }) => Some((job, (auditor, selected))),
                _ => None,
            })
            .collect();
        assert_eq!(revealed.len(), 4);
        for (n, job) in &audits {
            let predicted = selected(*n, job, rate);
            assert_eq!(revealed[job], (operator(*n), predicted));
            let audit = market.job(job).audit.unwrap();
            assert_eq!(audit.selected, Some(predicted));
            let expected = if predicted {
                AuditOutcome::Agreed
            } else {
                AuditOutcome::NotSelected
            };
            assert_eq!(audit.outcome, expected);
            assert!(matches!(
                market.job(job).status,
                JobStatus::Challengeable { .. }
            ));
            // The same job audited by the same auditor: the same decision, whatever the seed.
            assert_eq!(*decided.entry((*job, *n)).or_insert(predicted), predicted);
            auditors.entry(*job).or_default().insert(*n);
        }
        run_to_final(&mut market, &jobs);
    }
    assert_eq!(auditors.len(), 4, "the same four job ids under every seed");
    let moved = auditors.values().filter(|set| set.len() > 1).count();
    println!("designated auditors per job across the seeds: {auditors:?}");
    assert!(moved >= 1, "the seed moved some designation: {auditors:?}");
    let yes = decided.values().filter(|s| **s).count();
    assert!(yes >= 1 && yes < decided.len(), "{decided:?}");
}

#[test]
fn a_not_selected_auditor_that_audits_anyway_opens_no_dispute() {
    let rate = Ratio::from_percent(50).unwrap();
    let mut market = market_with(half_audited());
    let jobs = submit_jobs(&mut market, 4, 500, 1);
    let honest = execute(&market.model, &market.job(&jobs[0]));
    let tampered = tamper(&honest);
    // Every selected auditor agrees; every other one "audits" anyway, with another output.
    let mut parties: Vec<(u16, JobId, &Execution)> = jobs
        .iter()
        .map(|job| (Market::index_of(&market.assignees(job)[0]), *job, &honest))
        .collect();
    market.seal_block(&parties);
    let mut auditors = Vec::new();
    let mut unselected = Vec::new();
    for job in &jobs {
        let auditor = market.draw_auditor(job);
        if selected(auditor, job, rate) {
            auditors.push((auditor, *job, &honest));
        } else {
            auditors.push((auditor, *job, &tampered));
            unselected.push(*job);
        }
    }
    println!("{} of 4 auditors not selected", unselected.len());
    assert!(!unselected.is_empty());
    market.seal_block(&auditors);
    parties.extend(auditors);
    let outcome = market.reveal_block(&parties);
    assert!(!events(&outcome).iter().any(|e| matches!(
        e,
        Event::Disputes(disputes::DisputesEvent::DisputeOpened { .. })
    )));
    for job in &unselected {
        let record = market.job(job);
        let audit = record.audit.unwrap();
        assert_eq!(audit.outcome, AuditOutcome::NotSelected);
        assert_eq!(audit.selected, Some(false));
        assert_eq!(audit.output_hash, None, "its result is not taken");
        assert!(matches!(record.status, JobStatus::Challengeable { .. }));
        assert!(disputes::state::of_job(market.chain.ledger.store(), job).is_empty());
    }
    let events = run_to_final(&mut market, &jobs);
    for job in &jobs {
        assert_eq!(
            paid(&events, job),
            vec![(market.assignees(job)[0], Amount::new(500 - 50))]
        );
    }
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
        Some(sign_family_consent(&key(1), CHAIN, &account(2)));
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
                    family_consent: Some(sign_family_consent(&key(23), CHAIN, &account(n))),
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
    for job in singles.iter().chain(&pairs) {
        market.draw_auditor(job);
    }
    // (worker's family, auditor's family) for single-replica jobs; the three families of
    // two-replica jobs, sorted.
    let mut single_tally: BTreeMap<(char, char), usize> = BTreeMap::new();
    for job in &singles {
        let worker = market.assignees(job)[0];
        let auditor = market
            .job(job)
            .audit
            .expect("always someone outside")
            .auditor;
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
        let auditor = record.audit.expect("the third family audits").auditor;
        families.push(family(&auditor));
        *pair_tally
            .entry(families.into_iter().collect())
            .or_default() += 1;
    }
    println!("single: {single_tally:?}; pairs: {pair_tally:?}");
    assert_eq!(single_tally.values().sum::<usize>(), 30);
    assert_eq!(pair_tally.values().sum::<usize>(), 30);
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
        Some(sign_family_consent(&key(1), CHAIN, &account(2)));
    let mut market = market_from(&genesis, &[1, 2, 3, 4, 9]);
    const CHEAT: u16 = 3;
    let before = market.chain.operator(CHEAT);
    // Undeclared consent, and one the cheat signed with its own key.
    for consent in [
        None,
        Some(sign_family_consent(&key(CHEAT), CHAIN, &account(CHEAT))),
    ] {
        let receipt = market.chain.submit(
            CHEAT,
            Msg::EditOperator(EditOperator {
                commission: None,
                metadata: Some(OperatorMetadata {
                    family: Some(account(1)),
                    family_consent: consent,
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
    for job in &jobs {
        market.draw_auditor(job);
    }
    let cheats: Vec<&JobId> = jobs
        .iter()
        .filter(|job| market.assignees(job)[0] == operator(CHEAT))
        .collect();
    let by_honest_family = cheats
        .iter()
        .filter(|job| {
            let auditor = market
                .job(job)
                .audit
                .expect("always someone outside")
                .auditor;
            matches!(Market::index_of(&auditor), 1 | 2)
        })
        .count();
    println!(
        "the cheat's {} jobs: {by_honest_family} audited by the honest family it tried to join",
        cheats.len()
    );
    assert!(!cheats.is_empty());
    assert!(by_honest_family > 0);
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
        market
            .chain
            .sign(liar, reveal_msg(liar, &job, &tampered, false)),
        // The liar's result is public and compared now: the job is challengeable (and its
        // auditor's turn has come). This challenge is taken: its dispute is the job's.
        sybil_challenge(&market, 23),
        // The auditor reveals behind it: its disagreeing audit is taken and waits.
        market
            .chain
            .sign(auditor, reveal_msg(auditor, &job, &honest, true)),
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
    let audit = market.job(&job).audit.unwrap();
    assert_eq!(audit.selected, Some(true));
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
        market.job(&job).audit.unwrap().outcome,
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
            None => record.audit.and_then(|a| a.seal),
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
        let mut item = reveal(n, job, &honest, false);
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
            .map(|job| reveal(n, job, &honest, true))
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
        assert_eq!(market.job(job).audit.unwrap().outcome, AuditOutcome::Agreed);
    }
    assert_eq!(
        market.job(&jobs[1]).audit.unwrap().outcome,
        AuditOutcome::Pending
    );
    // Its reveal with the right salt completes the second job's reveals; its auditor reveals
    // after it, in the same block.
    let auditor = market.auditor(&jobs[1]);
    market.reveal_block(&[(bad, jobs[1], &honest), (auditor, jobs[1], &honest)]);
    for job in &jobs {
        let record = market.job(job);
        assert!(matches!(record.status, JobStatus::Challengeable { .. }));
        assert_eq!(record.audit.unwrap().outcome, AuditOutcome::Agreed);
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
    let reveals = |count: usize| {
        let reveals = (0..count)
            .map(|i| Reveal {
                job: JobId(Hash::of("test.job", &(i as u64).to_le_bytes()).0),
                salt: [0; 32],
                audit_proof: None,
                result: None,
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
        .submit(auditor, reveal_msg(auditor, job, honest, true));
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Jobs(JobsError::WrongPhase {
            job: *job,
            what: "the auditor's reveal"
        }))
    );
    assert!(receipt.charged);
    assert_eq!(
        market.job(job).audit.unwrap().selected,
        None,
        "nothing revealed"
    );
}

#[test]
fn an_auditor_cannot_reveal_before_the_assignees_results_are_compared() {
    // An honest worker: the auditor's reveal waits for the worker's.
    let mut market = market();
    let job = market.submit(1);
    let worker = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
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
            .sign(auditor, reveal_msg(auditor, &job, &honest, true)),
        market
            .chain
            .sign(worker, reveal_msg(worker, &job, &honest, false)),
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
        market.job(&job).audit.unwrap().outcome,
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
        market.job(&job).audit.unwrap().outcome,
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
                market.job(&job).audit.unwrap().outcome,
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
                Some(Amount::new(ALLOCATION / 10))
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
                .submit(auditor, reveal_msg(auditor, &job, &honest, true));
            assert!(!receipt.is_ok(), "the job is over: {receipt:?}");
            assert_eq!(
                slash_of(&mut market, cheater),
                Some(Amount::new(ALLOCATION / 10)),
                "the same slash as the wrong result it would have revealed"
            );
        }
        assert!(market.chain.operator(cheater).tokens < cheater_tokens);
    }
}

#[test]
fn no_assignee_knows_its_auditor_when_it_seals() {
    // The attack (review, high): the auditor was drawn with the assignees, in state before
    // anyone sealed; a cheater whose undeclared partner was the designated auditor cheated on
    // exactly those jobs (caught with probability 0 there). Now nobody is the auditor until
    // every assignee has sealed, and the draw uses the seed of a block at least
    // `AUDITOR_DRAW_DELAY` after the last seal, which nobody knew when that seal was included.
    let mut market = market();
    let job = market.submit(2);
    let replicas = market.assignees(&job);
    let (a, b) = (
        Market::index_of(&replicas[0]),
        Market::index_of(&replicas[1]),
    );
    let first = market.job(&job).assignments[0].assigned;
    let honest = execute(&market.model, &market.job(&job));
    assert!(market.job(&job).audit.is_none(), "no auditor at assignment");
    market.seal_block(&[(a, job, &honest)]);
    assert!(market.job(&job).audit.is_none(), "nor after one seal");
    // A seal from anyone else is refused: there is no auditor to be.
    let outsider = (1..=4u16).find(|n| *n != a && *n != b).unwrap();
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
            Event::Jobs(JobsEvent::AuditorDrawScheduled { job: j, at }) if j == job => Some(at),
            _ => None,
        })
        .expect("the last seal schedules the draw");
    assert_eq!(at, jobs::auditor_draw_height(first, last.height));
    assert!(at.get() >= last.height.get() + jobs::AUDITOR_DRAW_DELAY);
    // Sealed, but nobody reveals yet: the auditor has not sealed (it has not been drawn).
    let receipt = market.chain.submit(a, reveal_msg(a, &job, &honest, false));
    assert!(
        matches!(
            receipt.error_kind,
            Some(TxError::Jobs(JobsError::WrongPhase { .. }))
        ),
        "{receipt:?}"
    );
    while market.chain.height().get() + 1 < at.get() {
        market.chain.block(&[]);
        assert!(market.job(&job).audit.is_none());
        assert_eq!(market.job(&job).status, JobStatus::Assigned);
    }
    let drawn = market.chain.block(&[]);
    assert_eq!(drawn.height, at);
    let auditor = events(&drawn)
        .into_iter()
        .find_map(|e| match e {
            Event::Jobs(JobsEvent::AuditAssigned {
                job: j, auditor, ..
            }) if j == job => Some(auditor),
            _ => None,
        })
        .expect("drawn in the begin hook of block `at`");
    assert!(auditor != operator(a) && auditor != operator(b));
    assert_eq!(market.auditor(&job), Market::index_of(&auditor));
    // The assignees reveal only once the auditor has sealed.
    assert_eq!(market.job(&job).status, JobStatus::Assigned);
    let n = Market::index_of(&auditor);
    market.seal_block(&[(n, job, &honest)]);
    assert!(matches!(
        market.job(&job).status,
        JobStatus::Revealing { .. }
    ));
    market.reveal_block(&[(a, job, &honest), (b, job, &honest), (n, job, &honest)]);
    run_to_final(&mut market, &[job]);
    assert!(market.job(&job).is_final());
}
