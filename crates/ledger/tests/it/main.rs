//! The ledger's integration tests, built as one binary (one link instead of five on 2 cores):
//! scenarios, the reference-model state machine, determinism, family consent, the model
//! registry and the inference market, each a module, sharing `common`.

mod common;
mod determinism;
mod family;
mod market;
mod models;
mod scenarios;
mod state_machine;
