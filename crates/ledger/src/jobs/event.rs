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
        job: JobId,
        client: AccountId,
        model: ModelId,
        fee: Amount,
    },
    /// An operator was assigned a job, to commit by `deadline`.
    JobAssigned {
        job: JobId,
        operator: OperatorId,
        deadline: Height,
    },
    /// An assigned operator committed its result.
    ResultCommitted {
        job: JobId,
        operator: OperatorId,
        output_hash: Hash,
    },
    /// An operator (worker or auditor) missed its deadline.
    DeadlineMissed { job: JobId, operator: OperatorId },
    /// An auditor was drawn to re-execute a job's result.
    AuditAssigned {
        job: JobId,
        auditor: OperatorId,
        deadline: Height,
    },
    /// An auditor's result agreed with the audited one.
    AuditAgreed { job: JobId, auditor: OperatorId },
    /// A job's result stands: it was paid.
    JobFinal { job: JobId },
    /// A job failed and its client was refunded.
    JobFailed { job: JobId, reason: String },
    /// An operator's part of a final job's fee.
    JobPaid {
        job: JobId,
        operator: OperatorId,
        amount: Amount,
    },
}
