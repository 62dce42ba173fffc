//! What the fuzz targets share: the chain id transactions are checked against, so the seed
//! corpus's transactions pass the chain check and the fuzzer explores past it.

/// The chain every target's transactions are checked against.
pub const CHAIN_ID: &str = "surety-fuzz";
