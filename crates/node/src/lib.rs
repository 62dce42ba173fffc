//! The Surety node: everything that does IO around the pure ledger (DESIGN §7) — durable
//! storage of blocks, receipts and state (redb), the mempool, and (to come) the consensus
//! binding, RPC and workers. The ledger never touches a file, a socket or a clock; this crate
//! owns all of them.

pub mod app;
pub mod block;
pub mod consensus;
pub mod localnet;
pub mod mempool;
pub mod node;
pub mod rpc;
pub mod storage;
