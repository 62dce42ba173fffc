//! What `surety job status` and `surety job result` print: a job's status, assignments, audit
//! claim window, audits and dispute as lines, and its result with the proof of the job record checked here.

use super::VALUES_SHOWN_MAX;
use serde::Serialize;
use surety_infer::Activation;
use surety_ledger::disputes::{Dispute, Outcome, Party, Phase};
use surety_ledger::jobs::{Assignment, Audit, AuditOutcome, AuditWindow, Job, JobStatus};
use surety_node::api::{ActivationView, JobView, PrunedJob, SlotValues, SlotView};
use surety_types::{Hash, Height, JobId, ModelId};

pub(super) fn status_line(status: &JobStatus) -> String {
    match status {
        JobStatus::Queued => "queued (operators are drawn in the next block)".into(),
        JobStatus::Assigned => "assigned (operators are computing and sealing)".into(),
        JobStatus::Revealing { until } => {
            format!("revealing until height {until} (every result is sealed)")
        }
        JobStatus::Challengeable { until } => {
            format!("challengeable until height {until} (results are in and agree)")
        }
        JobStatus::Disputed { dispute } => format!("disputed (dispute {dispute})"),
        JobStatus::Final { height } => format!("final at height {height}"),
        JobStatus::Failed { reason } => format!("failed: {reason}"),
    }
}

fn assignment_line(assignment: &Assignment) -> String {
    let state = if assignment.missed {
        "missed its deadline (replaced)".to_string()
    } else {
        match (&assignment.seal, &assignment.result) {
            (_, Some(result)) => format!(
                "revealed at height {} (output {})",
                result.committed, result.output_hash
            ),
            (Some(_), None) => "sealed, not revealed yet".to_string(),
            (None, None) => "not sealed yet".to_string(),
        }
    };
    format!(
        "{}: assigned at {}, deadline {}, {state}",
        assignment.operator, assignment.assigned, assignment.deadline
    )
}

fn audit_line(audit: &Audit) -> String {
    let outcome = match &audit.outcome {
        AuditOutcome::Pending if audit.seal.is_none() => {
            format!("not sealed yet (deadline {})", audit.deadline)
        }
        AuditOutcome::Pending => format!("sealed, not revealed yet (deadline {})", audit.deadline),
        AuditOutcome::Agreed => "agreed".to_string(),
        AuditOutcome::Disputed { dispute } => format!("disagreed (dispute {dispute})"),
        AuditOutcome::Missed => "missed (the job went on without it)".to_string(),
        AuditOutcome::Deferred => {
            "disagreed (its dispute opens when the open one settles)".to_string()
        }
        AuditOutcome::Closed => "closed (the job failed first)".to_string(),
    };
    format!(
        "{} audits {} (claimed at {}): {outcome}",
        audit.auditor, audit.target, audit.claimed
    )
}

/// The claim window: when audits were (or are) taken and the pool weight they are drawn
/// against.
fn window_line(window: &AuditWindow) -> String {
    let opens = match window.seed {
        Some(_) => format!("open from {}", window.draw_at),
        None => format!("sealed at {}, opening at {}", window.opened, window.draw_at),
    };
    format!(
        "audit claims: {opens} to {} (epoch {} pool, weight {} outside the parties' families)",
        window.until, window.epoch, window.weight
    )
}

fn party_name(party: Party) -> &'static str {
    match party {
        Party::Defendant => "the defendant",
        Party::Challenger => "the challenger",
    }
}

pub(super) fn outcome_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::ChallengerRight => {
            "challenger right: the defendant's result is slashed, the job refunded, the bond returned"
                .into()
        }
        Outcome::DefendantRight => {
            "defendant right: the result stands, the challenger's bond is forfeited".into()
        }
        Outcome::BothWrong => {
            "both wrong: the referee's step matched neither side; both lose".into()
        }
        Outcome::Timeout { silent } => {
            let silent: Vec<&str> = silent.iter().map(|p| party_name(*p)).collect();
            format!("timeout: {} did not move in time and lost", silent.join(" and "))
        }
        Outcome::Void => {
            "void: the ledger could not settle it; nobody lost, the bond returned, the job refunded"
                .into()
        }
    }
}

fn phase_line(dispute: &Dispute) -> String {
    match &dispute.phase {
        Phase::Bisect {
            index,
            defendant,
            challenger,
            deadline,
        } => {
            let seen = |hash: &Option<Hash>| match hash {
                Some(hash) => format!("revealed {hash}"),
                None => "waiting".to_string(),
            };
            format!(
                "bisecting: leaf {index} asked by height {deadline} (defendant {}, challenger {})",
                seen(defendant),
                seen(challenger)
            )
        }
        Phase::AwaitInput { deadline } => format!(
            "step {} isolated: waiting for the referee's input by height {deadline}",
            dispute.disagreed
        ),
        Phase::Resolved { outcome, height } => {
            format!("resolved at height {height}: {}", outcome_line(outcome))
        }
    }
}

fn dispute_text(dispute: &Dispute) -> String {
    let challenger = match &dispute.challenger {
        surety_ledger::disputes::Challenger::Operator(operator) => format!("operator {operator}"),
        surety_ledger::disputes::Challenger::Account(account) => {
            format!("account {account} (bond {})", dispute.bond)
        }
    };
    format!(
        "dispute {}: {} against {challenger}\n  agreed up to leaf {} of {}, disagree at leaf {}\n  {}",
        dispute.id,
        dispute.defendant,
        dispute.agreed,
        dispute.steps,
        dispute.disagreed,
        phase_line(dispute)
    )
}

pub(super) fn status_text(job: &Job, dispute: Option<&Dispute>) -> String {
    let mut lines = vec![
        format!("job {}", job.id),
        format!("status: {}", status_line(&job.status)),
        format!("model: {}", job.model),
        format!("client: {}", job.client),
        format!(
            "fee {} for {} replica(s), deadline {} blocks, submitted at height {}",
            job.fee, job.replicas, job.deadline_blocks, job.submitted
        ),
    ];
    if job.assignments.is_empty() {
        lines.push("assignments: (none yet)".into());
    } else {
        lines.push("assignments:".into());
        lines.extend(
            job.assignments
                .iter()
                .map(|a| format!("  {}", assignment_line(a))),
        );
    }
    match &job.audit_window {
        Some(window) => lines.push(window_line(window)),
        None => lines
            .push("audit claims: not open yet (they open once every assignee has sealed)".into()),
    }
    if job.audits.is_empty() {
        lines.push("audits: none".into());
    } else {
        lines.push("audits:".into());
        lines.extend(job.audits.iter().map(|a| format!("  {}", audit_line(a))));
    }
    if let Some(dispute) = dispute {
        lines.push(dispute_text(dispute));
    }
    lines.join("\n")
}

/// What `job result` shows: finality, the proof of the job record (checked here against the
/// state root the node names), the output and its values.
#[derive(Serialize)]
pub(super) struct ResultView {
    job: JobId,
    model: ModelId,
    status: JobStatus,
    #[serde(rename = "final")]
    is_final: bool,
    final_height: Option<Height>,
    output_hash: Option<Hash>,
    /// The output the node decoded is the committed one.
    output_checked: bool,
    output: Option<ActivationView>,
    /// `None` for a job pruned from state: the node's archive has no proof.
    proof: Option<ResultProof>,
    /// Set when the job was pruned from state and the answer is the node's archive.
    pruned: Option<PrunedJob>,
}

#[derive(Serialize)]
struct ResultProof {
    height: Height,
    state_root: Hash,
    state_proof_verified: bool,
    certificate_signatures: Option<usize>,
}

pub(super) fn result_view(answer: &JobView) -> ResultView {
    let job = &answer.job;
    // The state proof is of the job record's borsh bytes, the ledger's own encoding.
    let key = surety_ledger::store::key("jobs/job", &[&job.id.0]);
    let value = surety_types::encoding::encode(job);
    let proof = answer.proof.as_ref().map(|proof| ResultProof {
        height: proof.height,
        state_root: proof.state_root,
        state_proof_verified: proof
            .state_proof
            .verify(&proof.state_root, &key, Some(&value))
            .is_ok(),
        certificate_signatures: proof.certificate.as_ref().map(|c| c.signatures.len()),
    });
    let result = job.result();
    let output_checked = result.is_some_and(|result| {
        Activation::from_bytes(&result.output).is_ok_and(|a| a.hash() == result.output_hash)
    });
    let final_height = match job.status {
        JobStatus::Final { height } => Some(height),
        _ => None,
    };
    ResultView {
        job: job.id,
        model: job.model,
        status: job.status.clone(),
        is_final: job.is_final(),
        final_height,
        output_hash: result.map(|r| r.output_hash),
        output_checked,
        output: answer.output.clone(),
        proof,
        pruned: answer.pruned.clone(),
    }
}

pub(super) fn print_result(json: bool, view: &ResultView) {
    if json {
        println!("{}", serde_json::to_value(view).unwrap_or_default());
    } else {
        println!("{}", result_text(view));
    }
}

/// The proof of the job record, or why there is none (a job pruned from state).
fn proof_line(view: &ResultView) -> String {
    let Some(proof) = &view.proof else {
        let pruned = view.pruned.as_ref().and_then(|p| p.pruned);
        return format!(
            "proof: none, the job was pruned from state{} and this is the node's archive of \
             block {}: only the output hash is checked",
            pruned.map_or_else(String::new, |height| format!(" at height {height}")),
            view.pruned
                .as_ref()
                .map_or_else(|| "?".to_string(), |p| p.closed.to_string()),
        );
    };
    let signatures = match proof.certificate_signatures {
        Some(count) => format!("{count} certificate signature(s)"),
        None => "no certificate yet".into(),
    };
    format!(
        "proof: job record {} against state root {} at height {}, {signatures}",
        if proof.state_proof_verified {
            "proven"
        } else {
            "NOT proven"
        },
        proof.state_root,
        proof.height,
    )
}

pub(super) fn result_text(view: &ResultView) -> String {
    let mut lines = vec![
        format!("job {}", view.job),
        format!("status: {}", status_line(&view.status)),
    ];
    if !view.is_final {
        lines.push("result: not final".into());
        return lines.join("\n");
    }
    lines.push(proof_line(view));
    lines.push(format!(
        "output hash: {}{}",
        view.output_hash
            .map_or_else(|| "?".to_string(), |hash| hash.to_string()),
        if view.output_checked {
            " (checked)"
        } else {
            " (output does NOT match it)"
        }
    ));
    for slot in view.output.iter().flat_map(|output| &output.slots) {
        lines.push(slot_text(slot));
    }
    lines.join("\n")
}

/// One output slot: its name, type, dimension and first values.
fn slot_text(slot: &SlotView) -> String {
    let dimension: u64 = slot.shape.iter().map(|&d| d as u64).product();
    let (shown, count): (Vec<String>, usize) = match &slot.values {
        None => {
            return format!(
                "{} ({} {:?}, dimension {dimension}): (too large to show; see the output hex in `surety job status --json`)",
                slot.name, slot.dtype, slot.shape
            )
        }
        Some(SlotValues::F32(values)) => (
            values.iter().take(VALUES_SHOWN_MAX).map(|x| format!("{:.6}", f64::from(*x))).collect(),
            values.len(),
        ),
        Some(SlotValues::U32(values)) => (
            values.iter().take(VALUES_SHOWN_MAX).map(u32::to_string).collect(),
            values.len(),
        ),
    };
    let more = if count > VALUES_SHOWN_MAX {
        ", …"
    } else {
        ""
    };
    format!(
        "{} ({} {:?}, dimension {dimension}): [{}{more}]",
        slot.name,
        slot.dtype,
        slot.shape,
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use surety_infer::Tensor;
    use surety_ledger::jobs::JobResult;
    use surety_ledger::smt::{ProofTerminal, StateProof};
    use surety_node::api::JobProof;
    use surety_node::block::{CommitCertificate, CommitSignature};
    use surety_types::{AccountId, Amount, OperatorId, Signature, SigningKey};

    fn job(status: JobStatus, output: Option<&Activation>) -> Job {
        Job {
            id: JobId([7; 32]),
            client: AccountId([1; 32]),
            model: ModelId([2; 32]),
            input: vec![],
            input_hash: Hash([0; 32]),
            steps: 4,
            fee: Amount::new(5_000),
            replicas: 1,
            deadline_blocks: 20,
            submitted: Height::new(3),
            assignments: vec![Assignment {
                operator: OperatorId([9; 32]),
                assigned: Height::new(4),
                deadline: Height::new(24),
                seal: output.map(|_| Hash([6; 32])),
                result: output.map(|output| JobResult {
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
            status,
        }
    }

    fn embedding(dimension: usize) -> Activation {
        let mut activation = Activation::new();
        let values = (0..dimension).map(|i| i as f32 / 4.0).collect();
        activation.set("embedding", Tensor::f32(vec![dimension], values));
        activation
    }

    /// A `GET /jobs/{id}` answer whose proof does not prove the record (an empty path), with
    /// a certificate of `signatures` signatures, if any.
    fn answer(job: Job, output: Option<&Activation>, signatures: Option<u8>) -> JobView {
        let certificate = signatures.map(|count| CommitCertificate {
            height: Height::new(30),
            round: 0,
            block_hash: Hash([4; 32]),
            signatures: (0..count)
                .map(|i| CommitSignature {
                    validator: SigningKey::from_seed([i; 32]).verification_key(),
                    signature: Signature([i; 64]),
                })
                .collect(),
        });
        JobView {
            is_final: job.is_final(),
            output: output.map(ActivationView::of),
            proof: Some(JobProof {
                height: Height::new(31),
                state_root: Hash([3; 32]),
                key: String::new(),
                state_proof: StateProof {
                    siblings: vec![],
                    terminal: ProofTerminal::Empty,
                },
                certificate,
            }),
            pruned: None,
            job,
        }
    }

    #[test]
    fn status_shows_assignments_audit_and_the_dispute() {
        let text = status_text(&job(JobStatus::Assigned, None), None);
        assert!(text.contains("status: assigned"), "{text}");
        assert!(text.contains("deadline 24, not sealed yet"), "{text}");
        assert!(text.contains("audits: none"), "{text}");
        assert!(text.contains("audit claims: not open yet"), "{text}");
        let mut disputed = job(JobStatus::Disputed { dispute: 3 }, Some(&embedding(4)));
        disputed.audit_window = Some(AuditWindow {
            opened: Height::new(6),
            draw_at: Height::new(7),
            seed: Some(Hash([8; 32])),
            until: Height::new(17),
            epoch: surety_types::Epoch::new(0),
            seals: Hash([6; 32]),
            weight: Amount::new(7_500_000),
            excluded: vec![AccountId([9; 32])],
        });
        let audit = |auditor: u8, claimed: u64, outcome: AuditOutcome| Audit {
            auditor: OperatorId([auditor; 32]),
            claimed: Height::new(claimed),
            target: OperatorId([9; 32]),
            deadline: Height::new(30),
            seal: Some(Hash([6; 32])),
            output_hash: None,
            trace_root: None,
            outcome,
            stretch: Default::default(),
        };
        disputed.audits = vec![
            audit(8, 7, AuditOutcome::Agreed),
            audit(10, 9, AuditOutcome::Disputed { dispute: 3 }),
        ];
        assert_eq!(super::super::dispute_of_job(&disputed), Some(3));
        let text = status_text(&disputed, None);
        assert!(text.contains("revealed at height 6"), "{text}");
        assert!(text.contains("audit claims: open from 7 to 17"), "{text}");
        assert!(text.contains("(claimed at 7): agreed"), "{text}");
        assert!(
            text.contains("(claimed at 9): disagreed (dispute 3)"),
            "{text}"
        );
    }

    #[test]
    fn a_final_result_shows_the_dimension_and_the_first_values_only() {
        let output = embedding(384);
        let record = job(
            JobStatus::Final {
                height: Height::new(30),
            },
            Some(&output),
        );
        let view =
            serde_json::to_value(result_view(&answer(record.clone(), Some(&output), Some(3))))
                .unwrap();
        assert_eq!(view["final_height"], 30);
        assert_eq!(view["output_checked"], true);
        assert_eq!(view["proof"]["certificate_signatures"], 3);
        // The proof in this answer does not prove the record: it is not claimed proven.
        assert_eq!(view["proof"]["state_proof_verified"], false);
        assert_eq!(
            view["output"]["slots"][0]["values"]
                .as_array()
                .unwrap()
                .len(),
            384
        );
        let text = result_text(&result_view(&answer(record, Some(&output), Some(3))));
        assert!(text.contains("final at height 30"), "{text}");
        assert!(text.contains("3 certificate signature(s)"), "{text}");
        assert!(text.contains("NOT proven"), "{text}");
        assert!(
            text.contains("embedding (F32 [384], dimension 384): [0.000000, 0.250000, 0.500000"),
            "{text}"
        );
        assert!(text.contains("1.750000, …]"), "{text}");
        assert!(!text.contains("2.000000"), "only the first values: {text}");
    }

    #[test]
    fn a_pruned_job_still_shows_its_result_and_says_it_has_no_proof() {
        let output = embedding(4);
        let record = job(
            JobStatus::Final {
                height: Height::new(30),
            },
            Some(&output),
        );
        let mut pruned = answer(record, Some(&output), None);
        pruned.proof = None;
        pruned.pruned = Some(PrunedJob {
            closed: Height::new(30),
            pruned: Some(Height::new(51)),
        });
        let view = result_view(&pruned);
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["output_checked"], true);
        assert_eq!(json["proof"], serde_json::Value::Null);
        assert_eq!(json["pruned"]["closed"], 30);
        let text = result_text(&view);
        assert!(text.contains("final at height 30"), "{text}");
        assert!(text.contains("pruned from state at height 51"), "{text}");
        assert!(text.contains("archive of block 30"), "{text}");
        assert!(text.contains("embedding"), "{text}");
    }

    #[test]
    fn a_result_that_is_not_final_says_so() {
        let record = job(
            JobStatus::Challengeable {
                until: Height::new(40),
            },
            Some(&embedding(2)),
        );
        let text = result_text(&result_view(&answer(record, None, None)));
        assert!(text.contains("challengeable until height 40"), "{text}");
        assert!(text.ends_with("result: not final"), "{text}");
    }

    #[test]
    fn outcomes_name_the_side_that_lost() {
        let text = outcome_line(&Outcome::Timeout {
            silent: vec![Party::Defendant],
        });
        assert_eq!(text, "timeout: the defendant did not move in time and lost");
        assert!(outcome_line(&Outcome::DefendantRight).contains("bond is forfeited"));
    }
}
