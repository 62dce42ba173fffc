//! Helpers for the tests that run real models and real networks.

pub(crate) mod minilm;
pub(crate) mod partition;

use std::sync::Once;

/// The node's own default filter (`node::init_logging`).
const FILTER_DEFAULT: &str = "info,arc_malachitebft=warn,libp2p=warn";

/// Logs of in-process nodes, set up once for the whole test binary. They go through the test
/// harness's capture, so each test's lines are shown with that test when it fails and a healthy
/// run prints none (Malachite logs dial errors while peers start, which is expected then).
/// `RUST_LOG` overrides the filter.
pub(crate) fn logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(FILTER_DEFAULT));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}
