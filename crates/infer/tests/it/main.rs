//! surety-infer's integration tests, built as one binary (house style rule 13: one link on
//! two cores instead of one per file). Each module is one former test file.

mod common;
mod minilm;
mod smollm;
mod tiny;
mod training;
