use surety_types::ModelId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelsError {
    #[error("no model {0}")]
    UnknownModel(ModelId),
    #[error("model {0} is not active (its files are not all uploaded, or were rejected)")]
    NotActive(ModelId),
    #[error("{0}")]
    Invalid(String),
}
