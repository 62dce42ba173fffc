//! The node's integration tests, built as one binary (STYLE 13: one link instead of one per
//! file). Each module was a test file of its own; `common` holds the fixtures of the
//! in-process tests, `support` the real-model and network helpers.
//!
//! Nothing here relies on having a process to itself: network tests keep their ports apart
//! (`p2p_base`), the crash test re-runs this binary for its child (`crash::crash_child`), and
//! logging is set up once for all (`support::logging`).

mod common;
mod support;

mod crash;
mod job_archive;
mod market;
mod mempool;
mod models_rpc;
mod network;
mod openapi;
mod rpc;
mod storage_and_mempool;
