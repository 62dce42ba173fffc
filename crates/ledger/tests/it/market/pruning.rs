//! Pruning (docs/market.md, "Pruning"): a final or failed job leaves state once its windows
//! and the evidence age are over, its events still say what it was, evidence about it is then
//! refused as too old, and a burst of closed jobs is pruned a few at a time.

use super::*;
use std::collections::BTreeMap;
use surety_ledger::jobs::JobsEvent;
use surety_ledger::slashing::SlashingError;
use surety_types::Height;

/// Blocks until `job` is final or failed; the events of those blocks and the closed record.
fn run_until_closed(market: &mut Market, job: &JobId) -> (Vec<Event>, jobs::Job) {
    let mut seen = Vec::new();
    for _ in 0..40 {
        let record = market.job(job);
        if matches!(
            record.status,
            JobStatus::Final { .. } | JobStatus::Failed { .. }
        ) {
            return (seen, record);
        }
        seen.extend(events(&market.chain.block(&[])));
    }
    panic!("job {job} did not close");
}

/// Blocks until `job` is pruned, checking that it stays in state until then; the height of the
/// block that pruned it.
fn run_until_pruned(market: &mut Market, job: &JobId) -> Height {
    for _ in 0..200 {
        assert!(jobs::state::job(market.chain.ledger.store(), job).is_some());
        let outcome = market.chain.block(&[]);
        if outcome
            .events
            .contains(&Event::Jobs(JobsEvent::JobPruned { job: *job }))
        {
            assert!(jobs::state::job(market.chain.ledger.store(), job).is_none());
            return market.chain.height();
        }
    }
    panic!("job {job} was not pruned");
}

/// The prune rule worked out by hand: the first block of the epoch after the last one in which
/// evidence naming the latest assignment is taken, and never the block the job closed in.
fn expected_prune_height(market: &Market, record: &jobs::Job, closed: Height) -> Height {
    let params = market.chain.ledger.params();
    let blocks = params.staking.epoch_blocks;
    let latest = record
        .assignments
        .iter()
        .map(|a| a.assigned.get())
        .max()
        .unwrap()
        .max(record.submitted.get());
    let epoch = (latest - 1) / blocks;
    let first_refused = (epoch + params.slashing.evidence_max_age_epochs + 1) * blocks + 1;
    Height::new(first_refused.max(closed.get() + 1))
}

/// No key of the jobs or disputes modules names `job` any more (a schedule entry may: it is
/// taken at its height and finds nothing).
fn assert_no_trace(market: &Market, job: &JobId) {
    for (key, _) in market.chain.ledger.store().committed_entries() {
        let names_job = key.windows(32).any(|window| window == job.0);
        assert!(
            !names_job || key.starts_with(b"jobs/due/"),
            "{} still names the pruned job",
            String::from_utf8_lossy(key)
        );
    }
}

/// A single-replica job, computed honestly and audited, made final.
fn final_job(market: &mut Market) -> (JobId, u16, Execution, Vec<Event>, jobs::Job) {
    let job = market.submit(1);
    let worker = Market::index_of(&market.assignees(&job)[0]);
    let honest = execute(&market.model, &market.job(&job));
    market.seal_and_reveal(&job, &[(worker, &honest), (AUDITOR, &honest)]);
    let (events, record) = run_until_closed(market, &job);
    assert!(record.is_final());
    (job, worker, honest, events, record)
}

#[test]
fn a_final_job_is_gone_from_state_after_the_windows_and_its_events_carry_its_result() {
    let mut market = market();
    let (job, _, honest, events, record) = final_job(&mut market);
    let JobStatus::Final { height: closed } = record.status else {
        unreachable!("final_job returns a final job");
    };
    let result = record.result().unwrap().clone();
    assert_eq!(result.output, honest.output.to_bytes());
    assert!(events.contains(&Event::Jobs(JobsEvent::JobFinal {
        job,
        output_hash: honest.output.hash(),
        trace_root: honest.trace.root(),
        committed: result.committed,
    })));
    let expected = expected_prune_height(&market, &record, closed);
    assert_eq!(
        jobs::prune::prune_height(market.chain.ledger.params(), &record, closed),
        expected
    );
    assert!(expected > closed);
    assert_eq!(run_until_pruned(&mut market, &job), expected);
    assert_no_trace(&market, &job);
}

#[test]
fn a_failed_job_and_its_disputes_are_gone_from_state_after_the_windows() {
    let mut market = market();
    let Bisected {
        job,
        auditor,
        honest,
        dispute,
        ..
    } = tampered_and_bisected(&mut market);
    let events = provide_input(&mut market, dispute, auditor, &honest);
    assert!(events.iter().any(
        |e| matches!(e, Event::Jobs(JobsEvent::JobFailed { job: failed, .. }) if *failed == job)
    ));
    let record = market.job(&job);
    assert!(matches!(record.status, JobStatus::Failed { .. }));
    let closed = market.chain.height();
    let expected = expected_prune_height(&market, &record, closed);
    assert_eq!(run_until_pruned(&mut market, &job), expected);
    let store = market.chain.ledger.store();
    assert!(disputes::state::dispute(store, dispute).is_none());
    assert!(disputes::state::of_job(store, &job).is_empty());
    assert_no_trace(&market, &job);
}

#[test]
fn a_job_is_not_pruned_while_evidence_about_it_can_still_be_submitted_and_evidence_after_is_refused_as_too_old(
) {
    let mut market = market();
    let (job, worker, honest, _, record) = final_job(&mut market);
    let JobStatus::Final { height: closed } = record.status else {
        unreachable!("final_job returns a final job");
    };
    let prune = jobs::prune::prune_height(market.chain.ledger.params(), &record, closed);
    let tampered = tamper(&honest);
    let sign = |execution: &Execution| {
        ResultStatement {
            chain_id: CHAIN.into(),
            job,
            output_hash: execution.output.hash(),
            trace_root: execution.trace.root(),
            steps: execution.trace.len() as u64,
        }
        .sign(&key(worker))
    };
    let evidence = || {
        Msg::SubmitEvidence(Box::new(Evidence::ResultEquivocation {
            first: sign(&honest),
            second: sign(&tampered),
        }))
    };
    // Up to the block before the prune height, evidence is taken: the job is still there.
    market
        .chain
        .run_blocks(prune.get() - 2 - market.chain.height().get());
    let receipt = market.chain.submit(CHALLENGER, evidence());
    assert_eq!(market.chain.height().get(), prune.get() - 1);
    assert!(receipt.is_ok(), "{:?}", receipt.error);
    // In the prune block it is too old (the job leaves at the end of that block) ...
    let receipt = market.chain.submit(CHALLENGER, evidence());
    assert_eq!(market.chain.height(), prune);
    assert!(
        matches!(
            receipt.error_kind,
            Some(TxError::Slashing(SlashingError::EvidenceTooOld { .. }))
        ),
        "{:?}",
        receipt.error
    );
    assert!(jobs::state::job(market.chain.ledger.store(), &job).is_none());
    // ... and after, with the job gone, refused as too old too, with a clear error.
    let receipt = market.chain.submit(CHALLENGER, evidence());
    assert_eq!(
        receipt.error_kind,
        Some(TxError::Slashing(SlashingError::JobTooOldOrUnknown(job)))
    );
    assert!(receipt.error.unwrap().contains("too old"));
}

#[test]
fn a_burst_of_more_final_jobs_than_the_cap_is_pruned_over_several_blocks_keeping_every_invariant() {
    const CAP: u32 = 3;
    const JOBS: usize = 8;
    let mut params = market_params();
    params.jobs.prune_steps_per_block_max = CAP;
    let mut market = market_with(params);
    let mut nonces: BTreeMap<u16, u64> = BTreeMap::new();
    let mut sign = |market: &Market, n: u16, msg: Msg| {
        let nonce = nonces.entry(n).or_insert_with(|| market.chain.nonce(n));
        let tx = market.chain.sign_with_nonce(n, *nonce, msg);
        *nonce += 1;
        tx
    };
    let submits: Vec<Vec<u8>> = (0..JOBS)
        .map(|_| {
            let msg = Msg::SubmitJob(Box::new(SubmitJob {
                model: market.id,
                input: JobInput::Activation(input(1.5).to_bytes()),
                max_fee: Amount::new(FEE),
                deadline_blocks: 5,
                replicas: 1,
            }));
            sign(&market, CLIENT, msg)
        })
        .collect();
    let outcome = market.chain.block(&submits);
    let ids: Vec<JobId> = outcome.receipts.iter().map(job_of).collect();
    market.chain.block(&[]);
    // Every worker and auditor seals all it owes in one transaction, then reveals likewise.
    let honest = execute(&market.model, &market.job(&ids[0]));
    let parties: Vec<(u16, JobId, &Execution)> = ids
        .iter()
        .flat_map(|job| {
            let worker = Market::index_of(&market.assignees(job)[0]);
            [(worker, *job, &honest), (AUDITOR, *job, &honest)]
        })
        .collect();
    market.seal_and_reveal_all(&parties);
    for job in &ids {
        run_until_closed(&mut market, job);
        assert!(market.job(job).is_final());
    }
    // Every block checks every invariant (`Chain::block`); none prunes more than the cap.
    let mut pruned_per_block = Vec::new();
    while pruned_per_block.iter().sum::<usize>() < JOBS {
        assert!(pruned_per_block.len() < 200, "the burst was not pruned");
        let outcome = market.chain.block(&[]);
        let pruned = outcome
            .events
            .iter()
            .filter(|e| matches!(e, Event::Jobs(JobsEvent::JobPruned { .. })))
            .count();
        assert!(pruned <= CAP as usize, "{pruned} jobs pruned in one block");
        pruned_per_block.push(pruned);
    }
    let blocks_pruning = pruned_per_block.iter().filter(|n| **n > 0).count();
    assert!(
        blocks_pruning >= JOBS.div_ceil(CAP as usize),
        "pruned over {pruned_per_block:?}"
    );
    for job in &ids {
        assert!(jobs::state::job(market.chain.ledger.store(), job).is_none());
        assert_no_trace(&market, job);
    }
    assert!(jobs::state::prune_queue(market.chain.ledger.store()).is_empty());
}
