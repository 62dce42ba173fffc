//! The consensus binding (DESIGN §7): Malachite BFT drives the application core through its
//! app-channel interface. `ctx` defines Surety's consensus types, `signing` signs them with
//! validators' ed25519 keys, `codec` encodes engine messages, and `host` answers the engine.

pub mod codec;
pub mod ctx;
pub mod host;
pub mod signing;
