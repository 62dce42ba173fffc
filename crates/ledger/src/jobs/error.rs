use surety_types::{Amount, JobId, OperatorId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobsError {
    #[error("{0}")]
    Invalid(String),
    #[error("no job {0}")]
    UnknownJob(JobId),
    #[error("fee {got} is outside the allowed {min}..={max}")]
    FeeOutOfRange {
        got: Amount,
        min: Amount,
        max: Amount,
    },
    #[error("operator {operator} has no open assignment or audit for job {job}")]
    NotAssigned { job: JobId, operator: OperatorId },
    #[error(transparent)]
    Models(#[from] crate::models::ModelsError),
    #[error(transparent)]
    Bank(#[from] crate::bank::BankError),
    #[error(transparent)]
    Arithmetic(#[from] surety_types::ArithmeticError),
}
