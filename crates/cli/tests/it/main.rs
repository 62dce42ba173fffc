//! The CLI's integration tests, built as one binary (STYLE 13: one link instead of one per
//! file). Each module was a test file of its own; they run the `surety` binary
//! (`CARGO_BIN_EXE_surety`) against in-process nodes or the nodes it starts itself.
//!
//! Nothing here relies on having a process to itself: every node a test starts has its own
//! ports (fixed ones apart from each other's, or 0) and its own home directory.

mod cli;
mod dev;
mod localnet;
mod market;
mod model;
