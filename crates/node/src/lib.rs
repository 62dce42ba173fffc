//! The Surety node: everything that does IO around the pure ledger (DESIGN §7) — durable
//! storage of blocks, receipts and state (redb), the mempool, the consensus binding, the RPC,
//! and the operator and auditor worker. The ledger never touches a file, a socket or a clock;
//! this crate owns all of them.

pub mod api;
pub mod app;
pub mod block;
pub mod consensus;
pub mod localnet;
pub mod mempool;
pub mod node;
pub mod rpc;
pub mod storage;
pub mod worker;
