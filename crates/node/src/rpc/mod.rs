//! HTTP + JSON RPC (DESIGN §7): submit transactions, read receipts, accounts, operators,
//! delegations, the validator set, blocks and state proofs, registered models and their files
//! (whole or chunk by chunk, docs/models.md), the inference market, node status, Prometheus
//! metrics, and the OpenAPI document that describes all of it. Every body and path parameter
//! is untrusted: bad input gets a 4xx with a message that says what was wrong.
//!
//! Every JSON answer is a type of [`crate::api`], the contract the CLI reads too; the handlers
//! are the one place that reads ledger state for it. `chain` serves transactions, accounts,
//! staking, blocks, proofs, status and metrics; `models` the model registry; `market` jobs,
//! work, disputes and services; `openapi` the document, generated from the same types.

mod chain;
mod error;
mod market;
mod models;
pub mod openapi;

pub use crate::api::MISSING_CHUNKS_MAX;
pub use crate::app::SharedApp;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use surety_ledger::tx::TX_BYTES_MAX;

/// Hex doubles the bytes; leave room for the JSON around them.
const BODY_BYTES_MAX: usize = TX_BYTES_MAX * 2 + 1024;

pub fn router(app: SharedApp) -> Router {
    Router::new()
        .route("/tx", post(chain::submit_tx))
        .route("/tx/{hash}", get(chain::tx_status))
        .route("/txs/gossip", post(chain::gossip_txs))
        .route("/account/{id}", get(chain::account))
        .route("/operators", get(chain::operators))
        .route("/operator/{id}", get(chain::operator))
        .route("/delegations/{account}", get(chain::delegations))
        .route("/validators", get(chain::validators))
        .route("/block/latest", get(chain::latest_block))
        .route("/block/{height}", get(chain::block))
        .route("/proof/{key}", get(chain::proof))
        .route("/models", get(models::models_list))
        .route("/models/{id}", get(models::model))
        .route("/models/{id}/files/{file}", get(models::model_file))
        .route(
            "/models/{id}/files/{file}/missing",
            get(models::missing_chunks),
        )
        .route(
            "/models/{id}/files/{file}/chunks/{index}",
            get(models::model_chunk),
        )
        .route("/status", get(chain::status))
        .route("/metrics", get(chain::metrics))
        .route("/openapi.json", get(openapi))
        .merge(market::routes())
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(app)
}

async fn openapi() -> Json<serde_json::Value> {
    Json(openapi::document())
}
