//! RPC for the inference market (DESIGN §5, docs/market.md): jobs with their results and a
//! proof of finality, an operator's open work, disputes, and the operators serving a model.
//! Merged into the main router by [`super::router`].

use super::error::{bad_request, not_found, ApiError};
use crate::app::{lock, SharedApp};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use surety_infer::{Activation, Data};
use surety_ledger::{disputes, jobs, services};
use surety_types::{JobId, ModelId, OperatorId};

/// Most values of an output shown decoded (larger outputs are given as hex only).
const OUTPUT_VALUES_SHOWN_MAX: usize = 65_536;
/// Most disputes one listing returns.
const DISPUTES_LISTED_MAX: usize = 256;

pub fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/jobs/{id}", get(job))
        .route("/work/{operator}", get(work))
        .route("/disputes", get(dispute_list))
        .route("/disputes/{id}", get(dispute))
        .route("/services/{model}", get(service))
}

/// An activation as JSON: each slot's name, type, shape and (when not too large) values.
pub fn activation_json(activation: &Activation) -> Value {
    let slots: Vec<Value> = activation
        .slots
        .iter()
        .map(|(name, tensor)| {
            let values = match &tensor.data {
                Data::F32(values) if values.len() <= OUTPUT_VALUES_SHOWN_MAX => json!(values),
                Data::U32(values) if values.len() <= OUTPUT_VALUES_SHOWN_MAX => json!(values),
                _ => Value::Null,
            };
            json!({ "name": name, "dtype": format!("{:?}", tensor.data.dtype()), "shape": tensor.shape, "values": values })
        })
        .collect();
    json!({ "hash": activation.hash(), "slots": slots })
}

async fn job(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = JobId::from_hex(&id).map_err(|e| bad_request(format!("job id {id:?}: {e}")))?;
    let mut app = lock(&app);
    let height = app.ledger().height();
    let record = jobs::state::job(app.ledger().store(), &id)
        .ok_or_else(|| not_found(format!("no job {id}")))?;
    let output = record
        .result()
        .and_then(|result| Activation::from_bytes(&result.output).ok())
        .map(|activation| activation_json(&activation));
    let certificate = app.certificate(height).ok().flatten();
    let root = app.ledger().state_root();
    // The job record (status included) proven against the state root that the commit
    // certificate of `height` signs: a client checks the signatures against the validator
    // set and the proof against the root, and then trusts `status` without trusting us.
    let key = surety_ledger::store::key("jobs/job", &[&id.0]);
    let (_, proof) = app.ledger_mut().prove(&key);
    Ok(Json(json!({
        "job": record,
        "final": record.is_final(),
        "output": output,
        "proof": {
            "height": height,
            "state_root": root,
            "key": hex::encode(&key),
            "state_proof": proof,
            "certificate": certificate,
        },
    })))
}

async fn work(
    State(app): State<SharedApp>,
    Path(operator): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let operator = OperatorId::from_hex(&operator)
        .map_err(|e| bad_request(format!("operator id {operator:?}: {e}")))?;
    let app = lock(&app);
    let work: Vec<Value> = jobs::state::work_of(app.ledger().store(), &operator)
        .into_iter()
        .map(|(job, role)| json!({ "job": job, "role": role }))
        .collect();
    Ok(Json(json!({ "operator": operator, "work": work })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisputeQuery {
    /// First dispute id to list.
    #[serde(default)]
    from: u64,
    #[serde(default)]
    open: bool,
}

async fn dispute_list(
    State(app): State<SharedApp>,
    query: Result<Query<DisputeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| bad_request(format!("query: {e}")))?;
    let app = lock(&app);
    let listed: Vec<disputes::Dispute> =
        disputes::state::disputes_from(app.ledger().store(), query.from, DISPUTES_LISTED_MAX)
            .into_iter()
            .filter(|d| !query.open || d.is_open())
            .collect();
    Ok(Json(json!({ "disputes": listed })))
}

async fn dispute(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: u64 = id
        .parse()
        .map_err(|_| bad_request(format!("dispute id {id:?} is not a number")))?;
    let app = lock(&app);
    let record = disputes::state::dispute(app.ledger().store(), id)
        .ok_or_else(|| not_found(format!("no dispute {id}")))?;
    Ok(Json(json!({ "dispute": record })))
}

async fn service(
    State(app): State<SharedApp>,
    Path(model): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let model =
        ModelId::from_hex(&model).map_err(|e| bad_request(format!("model id {model:?}: {e}")))?;
    let app = lock(&app);
    let store = app.ledger().store();
    let allocations = services::state::allocations_to(store, &model);
    let eligible: Vec<Value> = services::eligible(store, &model)
        .into_iter()
        .map(|(operator, weight)| json!({ "operator": operator, "weight": weight }))
        .collect();
    Ok(Json(
        json!({ "model": model, "allocations": allocations, "eligible": eligible }),
    ))
}

/// The market's entries in the OpenAPI document's `paths`.
pub fn openapi_paths() -> Value {
    let ok = |description: &str| json!({ "description": description, "content": { "application/json": {} } });
    let error = json!({ "description": "bad input", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let path_param = |name: &str, description: &str| json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } });
    json!({
        "/jobs/{id}": { "get": { "summary": "A job: status, assignments, audit, the standing result's output decoded, and a proof of the job record against the state root signed by the latest commit certificate", "parameters": [path_param("id", "job id (job_… or hex)")], "responses": { "200": ok("job"), "400": error, "404": ok("unknown") } } },
        "/work/{operator}": { "get": { "summary": "Jobs an operator must compute or audit now", "parameters": [path_param("operator", "operator id")], "responses": { "200": ok("work"), "400": error } } },
        "/disputes": { "get": { "summary": "Disputes from an id on (`from`), optionally only open ones (`open=true`)", "responses": { "200": ok("disputes"), "400": error } } },
        "/disputes/{id}": { "get": { "summary": "One dispute: parties, roots, bisection interval, phase", "parameters": [path_param("id", "dispute number")], "responses": { "200": ok("dispute"), "400": error, "404": ok("unknown") } } },
        "/services/{model}": { "get": { "summary": "Stake allocated to a model's service, and the operators eligible for its work", "parameters": [path_param("model", "model id")], "responses": { "200": ok("allocations"), "400": error } } }
    })
}
