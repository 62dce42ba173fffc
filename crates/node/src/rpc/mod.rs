//! HTTP + JSON RPC (DESIGN §7): submit transactions, read receipts, accounts, operators,
//! delegations, the validator set, blocks and state proofs, registered models and their files
//! (whole or chunk by chunk, docs/models.md), node status, Prometheus metrics, and the OpenAPI
//! document that describes all of it. Every body and path parameter is
//! untrusted: bad input gets a 4xx with a message that says what was wrong.

mod error;
pub mod market;

pub use crate::app::SharedApp;
use crate::app::{lock, App};
use crate::mempool::AdmitError;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use error::{bad_request, internal, not_found, ApiError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use surety_ledger::models::{self, ModelRecord, ModelStatus};
use surety_ledger::tx::TX_BYTES_MAX;
use surety_ledger::{bank, rewards, staking};
use surety_types::{AccountId, Hash, Height, ModelId, OperatorId};

/// Hex doubles the bytes; leave room for the JSON around them.
const BODY_BYTES_MAX: usize = TX_BYTES_MAX * 2 + 1024;
/// Longest state key a proof may be asked for.
const PROOF_KEY_BYTES_MAX: usize = 256;
/// Most missing chunk indices one `/models/{id}/files/{file}/missing` answer lists.
pub const MISSING_CHUNKS_MAX: usize = 4096;

pub fn router(app: SharedApp) -> Router {
    Router::new()
        .route("/tx", post(submit_tx))
        .route("/tx/{hash}", get(tx_status))
        .route("/txs/gossip", post(gossip_txs))
        .route("/account/{id}", get(account))
        .route("/operators", get(operators))
        .route("/operator/{id}", get(operator))
        .route("/delegations/{account}", get(delegations))
        .route("/validators", get(validators))
        .route("/block/latest", get(latest_block))
        .route("/block/{height}", get(block))
        .route("/proof/{key}", get(proof))
        .route("/models", get(models_list))
        .route("/models/{id}", get(model))
        .route("/models/{id}/files/{file}", get(model_file))
        .route("/models/{id}/files/{file}/missing", get(missing_chunks))
        .route("/models/{id}/files/{file}/chunks/{index}", get(model_chunk))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(market::routes())
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(app)
}

fn parse_account(text: &str) -> Result<AccountId, ApiError> {
    AccountId::from_hex(text).map_err(|e| bad_request(format!("account id {text:?}: {e}")))
}

fn parse_operator(text: &str) -> Result<OperatorId, ApiError> {
    OperatorId::from_hex(text).map_err(|e| bad_request(format!("operator id {text:?}: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitTx {
    /// Hex of the borsh-encoded signed transaction.
    pub tx: String,
}

#[derive(Serialize, Deserialize)]
pub struct Submitted {
    pub hash: Hash,
}

async fn submit_tx(
    State(app): State<SharedApp>,
    body: Result<Json<SubmitTx>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError(
            e.status(),
            format!(
                "body must be JSON {{\"tx\": \"<hex>\"}} within {BODY_BYTES_MAX} bytes: {}",
                e.body_text()
            ),
        )
    })?;
    let bytes =
        hex::decode(body.tx.trim()).map_err(|e| bad_request(format!("tx is not hex: {e}")))?;
    let hash = lock(&app).submit(bytes).map_err(|error| match error {
        AdmitError::Full(_) => ApiError(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
        AdmitError::Duplicate => ApiError(StatusCode::CONFLICT, error.to_string()),
        other => bad_request(other.to_string()),
    })?;
    Ok((StatusCode::ACCEPTED, Json(Submitted { hash })))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GossipTxs {
    pub txs: Vec<String>,
}

/// Most transactions in one gossip batch.
const GOSSIP_BATCH_MAX: usize = 4096;

/// Transactions a peer forwards: admitted like client transactions but not forwarded again.
/// Each is judged on its own; the answer counts the admitted ones.
async fn gossip_txs(
    State(app): State<SharedApp>,
    body: Result<Json<GossipTxs>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError(
            e.status(),
            format!(
                "body must be JSON {{\"txs\": [\"<hex>\", ...]}}: {}",
                e.body_text()
            ),
        )
    })?;
    if body.txs.len() > GOSSIP_BATCH_MAX {
        return Err(bad_request(format!(
            "{} transactions in one batch; at most {GOSSIP_BATCH_MAX}",
            body.txs.len()
        )));
    }
    let mut admitted = 0usize;
    let mut app = lock(&app);
    for tx in &body.txs {
        let Ok(bytes) = hex::decode(tx.trim()) else {
            continue;
        };
        if app.submit_gossiped(bytes).is_ok() {
            admitted += 1;
        }
    }
    Ok(Json(
        json!({ "admitted": admitted, "received": body.txs.len() }),
    ))
}

async fn tx_status(
    State(app): State<SharedApp>,
    Path(hash): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let hash = Hash::from_hex(&hash).map_err(|e| bad_request(format!("tx hash: {e}")))?;
    let app = lock(&app);
    if let Some(stored) = app.storage().receipt(&hash).map_err(internal)? {
        return Ok(Json(
            json!({ "status": "committed", "height": stored.height, "index": stored.index, "receipt": stored.receipt }),
        ));
    }
    if app.mempool().contains(&hash) {
        return Ok(Json(json!({ "status": "pending" })));
    }
    Err(not_found(format!("no transaction {hash}")))
}

async fn account(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_account(&id)?;
    let app = lock(&app);
    let record = bank::state::account(app.ledger().store(), &id);
    Ok(Json(
        json!({ "account": id, "balance": record.balance, "nonce": record.nonce, "next_nonce": app.next_nonce(&id) }),
    ))
}

async fn operators(State(app): State<SharedApp>) -> Json<Value> {
    let app = lock(&app);
    Json(json!(staking::state::all_operators(app.ledger().store())))
}

async fn operator(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_operator(&id)?;
    let app = lock(&app);
    let store = app.ledger().store();
    let operator = staking::state::operator(store, &id)
        .ok_or_else(|| not_found(format!("no operator {id}")))?;
    let self_bond = staking::self_bond(store, &operator);
    Ok(Json(
        json!({ "operator": operator, "self_bond": self_bond }),
    ))
}

async fn delegations(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_account(&id)?;
    let app = lock(&app);
    let store = app.ledger().store();
    let delegations: Vec<Value> = staking::state::operators_of(store, &id)
        .into_iter()
        .filter_map(|operator_id| {
            let operator = staking::state::operator(store, &operator_id)?;
            let delegation = staking::state::delegation(store, &operator_id, &id);
            Some(json!({
                "operator": operator_id,
                "shares": delegation.shares,
                "tokens": operator.tokens_for(delegation.shares),
                "pending_rewards": rewards::owed(store, &operator_id, &delegation),
            }))
        })
        .collect();
    let unbonding = staking::state::unbondings_of(store, &id);
    Ok(Json(
        json!({ "account": id, "delegations": delegations, "unbonding": unbonding }),
    ))
}

async fn validators(State(app): State<SharedApp>) -> Json<Value> {
    let app = lock(&app);
    Json(json!(staking::state::active_set(app.ledger().store())))
}

fn block_json(app: &App, height: Height) -> Result<Json<Value>, ApiError> {
    let block = app
        .storage()
        .block(height)
        .map_err(internal)?
        .ok_or_else(|| not_found(format!("no block at height {height}")))?;
    let tx_hashes: Vec<String> = block.txs.iter().map(hex::encode).collect();
    Ok(Json(
        json!({ "hash": block.hash(), "header": block.header, "txs": tx_hashes }),
    ))
}

async fn latest_block(State(app): State<SharedApp>) -> Result<Json<Value>, ApiError> {
    let app = lock(&app);
    let height = app.ledger().height();
    block_json(&app, height)
}

async fn block(
    State(app): State<SharedApp>,
    Path(height): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let height: u64 = height
        .parse()
        .map_err(|_| bad_request(format!("height {height:?} is not a number")))?;
    let app = lock(&app);
    block_json(&app, Height(height))
}

async fn proof(
    State(app): State<SharedApp>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = hex::decode(&key).map_err(|e| bad_request(format!("key is not hex: {e}")))?;
    if key.len() > PROOF_KEY_BYTES_MAX {
        return Err(bad_request(format!(
            "key is longer than {PROOF_KEY_BYTES_MAX} bytes"
        )));
    }
    let mut app = lock(&app);
    let height = app.ledger().height();
    let root = app.ledger().state_root();
    let (value, proof) = app.ledger_mut().prove(&key);
    Ok(Json(
        json!({ "height": height, "state_root": root, "key": hex::encode(&key), "value": value.map(hex::encode), "proof": proof }),
    ))
}

fn parse_model(text: &str) -> Result<ModelId, ApiError> {
    ModelId::from_hex(text).map_err(|e| bad_request(format!("model id {text:?}: {e}")))
}

fn parse_index(what: &str, text: &str) -> Result<u32, ApiError> {
    text.parse()
        .map_err(|_| bad_request(format!("{what} {text:?} is not a number")))
}

fn model_record(app: &App, id: &ModelId) -> Result<ModelRecord, ApiError> {
    models::state::model(app.ledger().store(), id)
        .ok_or_else(|| not_found(format!("no model {id}")))
}

/// A record without its manifest bytes (listings).
fn model_summary(record: &ModelRecord) -> Value {
    let chunks: Vec<u64> = record.files.iter().map(|f| f.chunk_count()).collect();
    json!({
        "id": record.id,
        "name": record.name,
        "publisher": record.publisher,
        "status": record.status,
        "steps": record.steps,
        "text": record.text,
        "lineage": record.lineage,
        "files": record.files,
        "file_chunks": chunks,
        "registered": record.registered,
    })
}

async fn models_list(State(app): State<SharedApp>) -> Json<Value> {
    let app = lock(&app);
    let records = models::state::all_models(app.ledger().store());
    Json(Value::Array(records.iter().map(model_summary).collect()))
}

async fn model(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_model(&id)?;
    let app = lock(&app);
    let record = model_record(&app, &id)?;
    let manifest = models::decode_manifest(&record.manifest).map_err(internal)?;
    let mut body = model_summary(&record);
    body["manifest"] = json!({
        "name": manifest.name,
        "engine_version": manifest.engine_version,
        "architecture": models::architecture_name(&manifest.architecture),
        "architecture_config": format!("{:?}", manifest.architecture),
        "weights_root": manifest.weights_root,
        "tensor_count": manifest.tensor_count,
        "tokenizer": manifest.tokenizer,
        "bytes": hex::encode(&record.manifest),
    });
    Ok(Json(body))
}

/// The record and the file's chunk count, for file routes.
fn model_file_of(app: &App, id: &ModelId, file: u32) -> Result<(ModelRecord, u64), ApiError> {
    let record = model_record(app, id)?;
    let commitment = record.files.get(file as usize).ok_or_else(|| {
        not_found(format!(
            "model {id} has {} files; no file {file}",
            record.files.len()
        ))
    })?;
    let chunks = commitment.chunk_count();
    Ok((record, chunks))
}

async fn model_chunk(
    State(app): State<SharedApp>,
    Path((id, file, index)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_model(&id)?;
    let file = parse_index("file", &file)?;
    let index = parse_index("chunk index", &index)?;
    let app = lock(&app);
    let (_, chunks) = model_file_of(&app, &id, file)?;
    if u64::from(index) >= chunks {
        return Err(not_found(format!(
            "file {file} has {chunks} chunks; no chunk {index}"
        )));
    }
    let bytes = models::state::chunk(app.ledger().store(), &id, file, index)
        .ok_or_else(|| not_found(format!("chunk {index} of file {file} is not stored")))?
        .to_vec();
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MissingQuery {
    limit: Option<usize>,
}

async fn missing_chunks(
    State(app): State<SharedApp>,
    Path((id, file)): Path<(String, String)>,
    query: Result<Query<MissingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| bad_request(e.body_text()))?;
    let limit = query
        .limit
        .unwrap_or(MISSING_CHUNKS_MAX)
        .min(MISSING_CHUNKS_MAX);
    let id = parse_model(&id)?;
    let file = parse_index("file", &file)?;
    let app = lock(&app);
    let (record, chunks) = model_file_of(&app, &id, file)?;
    let missing = match record.status {
        ModelStatus::Uploading { .. } => {
            models::state::missing_chunks(app.ledger().store(), &record, file, limit)
        }
        ModelStatus::Active { .. } | ModelStatus::Rejected { .. } | ModelStatus::Expired { .. } => {
            Vec::new()
        }
    };
    Ok(Json(json!({
        "model": id,
        "file": file,
        "chunks": chunks,
        "status": record.status,
        "missing": missing,
    })))
}

/// The whole file, streamed chunk by chunk from state: each chunk is read under the lock on
/// its own, so a large file never sits whole in memory and never holds the node up. Only an
/// active model's files are served whole (an active model's chunks are never deleted).
async fn model_file(
    State(app): State<SharedApp>,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_model(&id)?;
    let file = parse_index("file", &file)?;
    let (bytes, chunks) = {
        let app = lock(&app);
        let (record, chunks) = model_file_of(&app, &id, file)?;
        if !matches!(record.status, ModelStatus::Active { .. }) {
            return Err(ApiError(
                StatusCode::CONFLICT,
                format!(
                    "model {id} is not active ({:?}); fetch stored chunks one by one",
                    record.status
                ),
            ));
        }
        (record.files[file as usize].bytes, chunks as u32)
    };
    let stream = futures_util::stream::unfold(0u32, move |index| {
        let app = app.clone();
        async move {
            if index >= chunks {
                return None;
            }
            let chunk = models::state::chunk(lock(&app).ledger().store(), &id, file, index)
                .map(bytes::Bytes::copy_from_slice)
                .ok_or_else(|| {
                    std::io::Error::other(format!("chunk {index} of file {file} is missing"))
                });
            Some((chunk, index + 1))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, bytes.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn status(State(app): State<SharedApp>) -> Json<Value> {
    let app = lock(&app);
    let ledger = app.ledger();
    Json(json!({
        "chain_id": ledger.chain_id(),
        "height": ledger.height(),
        "epoch": ledger.params().epoch_of(ledger.height()),
        "state_root": ledger.state_root(),
        "timestamp_ms": ledger.timestamp_ms(),
        "mempool_txs": app.mempool().len(),
        "validators": staking::state::active_set(ledger.store()).len(),
        "consensus": {
            "heights_decided": app.consensus_stats.heights_decided,
            "heights_synced": app.consensus_stats.synced,
            "later_rounds": app.consensus_stats.later_rounds,
            "evidence_submitted": app.consensus_stats.evidence_submitted,
        },
    }))
}

async fn metrics(State(app): State<SharedApp>) -> impl IntoResponse {
    let app = lock(&app);
    let ledger = app.ledger();
    let store = ledger.store();
    let mut text = String::new();
    let mut gauge = |name: &str, help: &str, value: String| {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    };
    gauge(
        "surety_height",
        "Height of the last committed block.",
        ledger.height().0.to_string(),
    );
    gauge(
        "surety_mempool_txs",
        "Transactions waiting in the mempool.",
        app.mempool().len().to_string(),
    );
    gauge(
        "surety_consensus_heights_decided",
        "Heights this node decided in consensus since it started.",
        app.consensus_stats.heights_decided.to_string(),
    );
    gauge(
        "surety_consensus_heights_synced",
        "Heights this node committed from sync since it started.",
        app.consensus_stats.synced.to_string(),
    );
    gauge(
        "surety_consensus_later_rounds",
        "Heights decided in a round above 0 since start.",
        app.consensus_stats.later_rounds.to_string(),
    );
    if let Some(last) = app.consensus_stats.finality_ms.last() {
        gauge(
            "surety_consensus_last_finality_ms",
            "Start of the last height to its decision, milliseconds.",
            format!("{last:.3}"),
        );
    }
    gauge(
        "surety_validators",
        "Validators in the active set.",
        staking::state::active_set(store).len().to_string(),
    );
    gauge(
        "surety_bonded_tokens",
        "Tokens in the bonded pool.",
        bank::pool_balance(store, bank::Pool::Bonded).to_string(),
    );
    gauge(
        "surety_total_supply",
        "Total token supply, burned included.",
        bank::total_supply(store).to_string(),
    );
    gauge(
        "surety_burned_tokens",
        "Tokens burned.",
        bank::pool_balance(store, bank::Pool::Burned).to_string(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// The OpenAPI 3.1 description of this RPC.
pub fn openapi_document() -> Value {
    let mut document = core_openapi_document();
    if let (Some(paths), Value::Object(market)) =
        (document["paths"].as_object_mut(), market::openapi_paths())
    {
        paths.extend(market);
    }
    document
}

fn core_openapi_document() -> Value {
    let error = json!({ "description": "bad input", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let ok = |description: &str| json!({ "description": description, "content": { "application/json": {} } });
    let path_param = |name: &str, description: &str| json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Surety node RPC", "version": env!("CARGO_PKG_VERSION") },
        "paths": {
            "/tx": { "post": {
                "summary": "Submit a signed transaction (hex of its borsh encoding)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SubmitTx" } } } },
                "responses": { "202": ok("admitted to the mempool; returns its hash"), "400": error, "409": ok("already in the mempool"), "503": ok("mempool full") } } },
            "/txs/gossip": { "post": {
                "summary": "Transactions forwarded by a peer (admitted, not forwarded again)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/GossipTxs" } } } },
                "responses": { "200": ok("how many were admitted"), "400": error } } },
            "/tx/{hash}": { "get": { "summary": "Status and receipt of a transaction", "parameters": [path_param("hash", "transaction hash, hex")], "responses": { "200": ok("pending, or committed with its receipt"), "400": error, "404": ok("unknown") } } },
            "/account/{id}": { "get": { "summary": "Balance, committed nonce, and the next nonce counting transactions waiting in this node's mempool", "parameters": [path_param("id", "account id (acc_… or hex)")], "responses": { "200": ok("account"), "400": error } } },
            "/operators": { "get": { "summary": "All operators", "responses": { "200": ok("operators") } } },
            "/operator/{id}": { "get": { "summary": "One operator", "parameters": [path_param("id", "operator id (op_… or hex)")], "responses": { "200": ok("operator and self-bond"), "400": error, "404": ok("unknown") } } },
            "/delegations/{account}": { "get": { "summary": "An account's delegations, pending rewards and unbonding entries", "parameters": [path_param("account", "account id")], "responses": { "200": ok("delegations"), "400": error } } },
            "/validators": { "get": { "summary": "The active validator set", "responses": { "200": ok("validators with power") } } },
            "/block/latest": { "get": { "summary": "The last committed block", "responses": { "200": ok("block"), "404": ok("no block yet") } } },
            "/block/{height}": { "get": { "summary": "A committed block", "parameters": [path_param("height", "block height")], "responses": { "200": ok("block"), "400": error, "404": ok("no such block") } } },
            "/proof/{key}": { "get": { "summary": "A state value with its inclusion or exclusion proof against the state root", "parameters": [path_param("key", "state key, hex")], "responses": { "200": ok("value, proof, root"), "400": error } } },
            "/models": { "get": { "summary": "Every registered model: id, name, publisher, status, steps, text, lineage, file commitments", "responses": { "200": ok("models") } } },
            "/models/{id}": { "get": { "summary": "One model's record and manifest summary", "parameters": [path_param("id", "model id (model_… or hex)")], "responses": { "200": ok("model"), "400": error, "404": ok("unknown") } } },
            "/models/{id}/files/{file}": { "get": { "summary": "A whole file of an active model, streamed from state", "parameters": [path_param("id", "model id"), path_param("file", "file index in the registration")], "responses": { "200": { "description": "the file's bytes", "content": { "application/octet-stream": {} } }, "400": error, "404": ok("unknown model or file"), "409": ok("the model is not active") } } },
            "/models/{id}/files/{file}/chunks/{index}": { "get": { "summary": "One stored chunk of a model file (verify it against the file's chunks_root)", "parameters": [path_param("id", "model id"), path_param("file", "file index"), path_param("index", "chunk index")], "responses": { "200": { "description": "the chunk's bytes", "content": { "application/octet-stream": {} } }, "400": error, "404": ok("unknown, or not stored") } } },
            "/models/{id}/files/{file}/missing": { "get": { "summary": "Chunk indices of an uploading model's file not yet stored (for resuming an upload)", "parameters": [path_param("id", "model id"), path_param("file", "file index"), { "name": "limit", "in": "query", "required": false, "description": "most indices to list", "schema": { "type": "integer", "maximum": MISSING_CHUNKS_MAX } }], "responses": { "200": ok("status and missing indices"), "400": error, "404": ok("unknown model or file") } } },
            "/status": { "get": { "summary": "Chain id, height, epoch, state root, mempool size", "responses": { "200": ok("status") } } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": { "description": "text exposition format", "content": { "text/plain": {} } } } } },
            "/openapi.json": { "get": { "summary": "This document", "responses": { "200": ok("OpenAPI document") } } }
        },
        "components": { "schemas": {
            "SubmitTx": { "type": "object", "required": ["tx"], "additionalProperties": false, "properties": { "tx": { "type": "string", "description": "hex of the borsh-encoded SignedTx" } } },
            "GossipTxs": { "type": "object", "required": ["txs"], "additionalProperties": false, "properties": { "txs": { "type": "array", "maxItems": GOSSIP_BATCH_MAX, "items": { "type": "string" } } } },
            "Error": { "type": "object", "properties": { "error": { "type": "string" } } }
        } }
    })
}
