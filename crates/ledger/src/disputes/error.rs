#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisputesError {
    #[error("{0}")]
    Invalid(String),
    #[error("no dispute {0}")]
    UnknownDispute(u64),
    #[error(transparent)]
    Jobs(#[from] crate::jobs::JobsError),
    #[error(transparent)]
    Models(#[from] crate::models::ModelsError),
    #[error(transparent)]
    Bank(#[from] crate::bank::BankError),
    #[error(transparent)]
    Arithmetic(#[from] surety_types::ArithmeticError),
}
