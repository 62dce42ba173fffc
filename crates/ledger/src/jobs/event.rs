//! The events the jobs module emits, in receipts (transactions) and block outcomes (hooks).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{AccountId, Amount, Hash, Height, JobId, ModelId, OperatorId};

/// Something the jobs module did. In JSON, `{"type": "<snake_case name>", …fields}`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobsEvent {
    /// A job was submitted and its fee escrowed.
    JobSubmitted {
        /// The job's id (derived from the submitting transaction's hash).
        job: JobId,
        /// Who submitted it and pays.
        client: AccountId,
        /// The model to run.
        model: ModelId,
        /// The fee escrowed.
        fee: Amount,
    },
    /// An operator was assigned a job, to commit by `deadline`.
    JobAssigned {
        /// The job.
        job: JobId,
        /// The operator assigned.
        operator: OperatorId,
        /// The last height its result is taken.
        deadline: Height,
    },
    /// A deadline moved on by the slack blocks (full or off schedule) seen since it was set: the operator (worker or
    /// auditor) now has until `deadline`.
    DeadlineExtended {
        /// The job.
        job: JobId,
        /// The operator whose deadline moved.
        operator: OperatorId,
        /// The new last height its result is taken.
        deadline: Height,
    },
    /// An assignee or an auditor sealed its result (what it sealed stays hidden
    /// until the reveal).
    ResultSealed {
        /// The job.
        job: JobId,
        /// The operator.
        operator: OperatorId,
    },
    /// Every party sealed (or missed its seal deadline): they reveal until `until`.
    RevealsOpen {
        /// The job.
        job: JobId,
        /// The last height a reveal is taken.
        until: Height,
    },
    /// An auditor revealed its result (it is compared with the audited one).
    AuditRevealed {
        /// The job.
        job: JobId,
        /// The auditor.
        auditor: OperatorId,
    },
    /// One item of a batch (a seal or a reveal) was refused; the others stand.
    ItemRefused {
        /// The job the item was for.
        job: JobId,
        /// The operator that sent it.
        operator: OperatorId,
        /// Why it was refused.
        error: String,
    },
    /// An assigned operator revealed its result.
    ResultCommitted {
        /// The job.
        job: JobId,
        /// The operator.
        operator: OperatorId,
        /// The hash of the output it claims.
        output_hash: Hash,
    },
    /// An operator (worker or auditor) missed its deadline.
    DeadlineMissed {
        /// The job.
        job: JobId,
        /// The operator that missed it (slashed for `MissedDeadline`).
        operator: OperatorId,
    },
    /// Every live assignee of a job has sealed: its claim window opens at block `at`, with that
    /// block's seed.
    AuditClaimsScheduled {
        /// The job.
        job: JobId,
        /// The block whose begin hook opens the window.
        at: Height,
    },
    /// A job's claim window is open: operators whose VRF over the sealed job and the seed
    /// selects them claim its audit until `until` (docs/market.md, "Audits: private sortition").
    AuditClaimsOpen {
        /// The job.
        job: JobId,
        /// The last height a claim is taken.
        until: Height,
        /// The pool weight claims are weighed against.
        weight: Amount,
    },
    /// A job's claim window moved on by the slack blocks it saw: claims are taken until `until`.
    AuditClaimsExtended {
        /// The job.
        job: JobId,
        /// The new last height a claim is taken.
        until: Height,
    },
    /// An operator's VRF selected it to audit a job: it seals by `deadline`.
    AuditClaimed {
        /// The job.
        job: JobId,
        /// The auditor.
        auditor: OperatorId,
        /// The last height its seal is taken.
        deadline: Height,
    },
    /// A job's assignees' results are compared: an auditor reveals its result by `until`.
    AuditRevealOpen {
        /// The job.
        job: JobId,
        /// The auditor.
        auditor: OperatorId,
        /// The last height its reveal is taken.
        until: Height,
    },
    /// An auditor's result agreed with the audited one.
    AuditAgreed {
        /// The job.
        job: JobId,
        /// The auditor.
        auditor: OperatorId,
    },
    /// A job's result stands: it was paid. The job record stays in state until it is pruned
    /// (docs/market.md, "Pruning"); after that this event, the `RevealResults` transaction in
    /// block `committed` (the output's bytes), and a node's archive (`GET /jobs/{id}`) still
    /// say what it was.
    JobFinal {
        /// The job.
        job: JobId,
        /// The hash of the standing output (the last leaf of `trace_root`).
        output_hash: Hash,
        /// The standing result's trace root.
        trace_root: Hash,
        /// The height of the block whose `RevealResults` carried the standing output.
        committed: Height,
    },
    /// A job failed and its client was refunded.
    JobFailed {
        /// The job.
        job: JobId,
        /// Why it failed.
        reason: String,
    },
    /// A final or failed job left state: nothing could refer to it any more (its challenge
    /// window and the evidence age were over, no dispute over it open).
    JobPruned {
        /// The job.
        job: JobId,
    },
    /// An operator's part of a final job's fee.
    JobPaid {
        /// The job.
        job: JobId,
        /// The operator paid.
        operator: OperatorId,
        /// Tokens paid, after the audit fund's share.
        amount: Amount,
    },
}
