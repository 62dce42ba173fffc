//! The job archive (docs/node.md, "Job archive"): a job the ledger pruned from state is still
//! served by `GET /jobs/{id}`, from the node's archive, with no state proof and saying so.

use crate::openapi::checked;
use axum::http::StatusCode;
use std::sync::{Arc, Mutex};
use surety_infer::{Activation, Tensor};
use surety_ledger::jobs::{Assignment, Job, JobResult, JobStatus, JobsEvent};
use surety_ledger::{BlockOutcome, Event, Ledger};
use surety_node::api::JobView;
use surety_node::app::App;
use surety_node::block::{Block, BlockHeader};
use surety_node::mempool::MempoolLimits;
use surety_node::rpc::SharedApp;
use surety_node::storage::{archive_entries, ArchivedJob, Storage};
use surety_types::{AccountId, Amount, Hash, Height, JobId, ModelId, OperatorId};

fn output() -> Activation {
    let mut activation = Activation::new();
    activation.set("embedding", Tensor::f32(vec![4], vec![0.5, 1.0, 1.5, 2.0]));
    activation
}

/// A job made final at height 30, with `output()` as its standing result.
fn final_job(id: JobId) -> Job {
    let output = output();
    Job {
        id,
        client: AccountId([1; 32]),
        model: ModelId([2; 32]),
        input: vec![1, 2, 3],
        input_hash: Hash([3; 32]),
        steps: 4,
        fee: Amount::new(5_000),
        replicas: 1,
        deadline_blocks: 20,
        submitted: Height::new(3),
        assignments: vec![Assignment {
            operator: OperatorId([9; 32]),
            assigned: Height::new(4),
            deadline: Height::new(24),
            seal: Some(Hash([6; 32])),
            result: Some(JobResult {
                output: output.to_bytes(),
                output_hash: output.hash(),
                trace_root: Hash([5; 32]),
                committed: Height::new(6),
            }),
            missed: false,
            stretch: Default::default(),
        }],
        reassignments: 0,
        audit_window: None,
        audits: Vec::new(),
        status: JobStatus::Final {
            height: Height::new(30),
        },
    }
}

#[test]
fn a_block_that_closes_and_prunes_jobs_is_archived_from_its_events_and_changes() {
    let job = final_job(JobId([7; 32]));
    let earlier = JobId([8; 32]);
    let key = surety_ledger::store::key("jobs/job", &[&job.id.0]);
    let outcome = BlockOutcome {
        height: Height::new(30),
        receipts: vec![],
        events: vec![
            Event::Jobs(JobsEvent::JobFinal {
                job: job.id,
                output_hash: output().hash(),
                trace_root: Hash([5; 32]),
                committed: Height::new(6),
            }),
            Event::Jobs(JobsEvent::JobPruned { job: earlier }),
        ],
        state_root: Hash::ZERO,
        validator_set: None,
        changes: vec![(key, Some(surety_types::encoding::encode(&job)))],
    };
    let (closed, pruned) = archive_entries(&outcome);
    assert_eq!(
        closed,
        vec![ArchivedJob {
            job,
            closed: Height::new(30),
            pruned: None,
        }]
    );
    assert_eq!(pruned, vec![earlier]);
}

#[tokio::test]
async fn a_pruned_job_is_served_from_the_archive_with_no_proof_and_says_it_was_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&dir.path().join("chain.redb")).unwrap();
    let app = App::open(storage, &crate::common::genesis(), MempoolLimits::default()).unwrap();
    let app: SharedApp = Arc::new(Mutex::new(app));
    let job = final_job(JobId([7; 32]));
    app.lock()
        .unwrap()
        .storage()
        .archive_job(&ArchivedJob {
            job: job.clone(),
            closed: Height::new(30),
            pruned: Some(Height::new(51)),
        })
        .unwrap();
    // Not in the ledger's state (this chain never ran it), so the archive answers; the answer
    // validates against the route's documented schema.
    let (status, body) = checked(&app, "GET", &format!("/jobs/{}", job.id), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view: JobView = serde_json::from_value(body).unwrap();
    assert!(view.is_final);
    assert_eq!(view.job, job);
    assert!(view.proof.is_none(), "a pruned record has no state proof");
    let pruned = view.pruned.expect("it says it was pruned");
    assert_eq!(
        (pruned.closed, pruned.pruned),
        (Height::new(30), Some(Height::new(51)))
    );
    assert_eq!(
        view.output.expect("the output, decoded").hash,
        output().hash()
    );
    let (status, _) = checked(&app, "GET", &format!("/jobs/{}", JobId([6; 32])), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn next_block(ledger: &Ledger, previous_hash: Hash) -> Block {
    let height = ledger.height().next();
    Block {
        header: BlockHeader {
            chain_id: ledger.chain_id().into(),
            height,
            timestamp_ms: 1_000 * height.get(),
            proposer: OperatorId::from(crate::common::account(1)),
            seed: Hash::of("seed", &height.get().to_le_bytes()),
            seed_proof: surety_types::vrf::VrfProof([0; 80]),
            absent_validators: None,
            previous_hash,
            previous_state_root: ledger.state_root(),
            tx_root: Block::tx_root(&[]),
            last_commit: None,
        },
        txs: vec![],
    }
}

/// The commit path: a stored block whose outcome closes a job puts the record in the archive
/// in the same write; a later block's prune is noted on it. (The closing event and record are
/// added to a real block's outcome: a market needs a served model, which the ledger's own
/// tests run.)
#[test]
fn committing_a_block_that_closes_a_job_archives_it_and_a_later_prune_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&dir.path().join("chain.redb")).unwrap();
    let mut ledger = storage.load_or_init(&crate::common::genesis()).unwrap();
    let job = final_job(JobId([7; 32]));
    let mut previous = Hash::ZERO;
    for extra in [
        Event::Jobs(JobsEvent::JobFinal {
            job: job.id,
            output_hash: output().hash(),
            trace_root: Hash([5; 32]),
            committed: Height::new(6),
        }),
        Event::Jobs(JobsEvent::JobPruned { job: job.id }),
    ] {
        let block = next_block(&ledger, previous);
        let mut outcome = ledger
            .apply_block(&block.context(ledger.params()), &block.txs)
            .unwrap();
        if matches!(extra, Event::Jobs(JobsEvent::JobFinal { .. })) {
            let key = surety_ledger::store::key("jobs/job", &[&job.id.0]);
            outcome
                .changes
                .push((key, Some(surety_types::encoding::encode(&job))));
        }
        outcome.events.push(extra);
        storage
            .commit_block(&block, &outcome, &[], &crate::common::certify(&block))
            .unwrap();
        previous = block.hash();
        let archived = storage.archived_job(&job.id).unwrap().expect("archived");
        assert_eq!(archived.job, job);
        assert_eq!(archived.closed, Height::new(1));
        let pruned = (block.header.height == Height::new(2)).then_some(Height::new(2));
        assert_eq!(archived.pruned, pruned);
    }
}
