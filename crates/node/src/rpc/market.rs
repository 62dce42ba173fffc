//! RPC for the inference market (DESIGN §5, docs/market.md): jobs with their results and a
//! proof of finality, an operator's open work, disputes, and the operators serving a model.
//! Merged into the main router by [`super::router`].

use super::error::{bad_request, internal, not_found, ApiError};
use crate::api::{
    ActivationView, DisputeList, DisputeView, EligibleOperator, JobProof, JobView, PrunedJob,
    ServiceView, WorkItem, WorkView,
};
use crate::app::{lock, SharedApp};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use surety_infer::Activation;
use surety_ledger::{disputes, jobs, services};
use surety_types::{JobId, ModelId, OperatorId};

/// Most disputes one listing returns.
const DISPUTES_LISTED_MAX: usize = 256;

pub(super) fn routes() -> Router<SharedApp> {
    Router::new()
        .route("/jobs/{id}", get(job))
        .route("/work/{operator}", get(work))
        .route("/disputes", get(dispute_list))
        .route("/disputes/{id}", get(dispute))
        .route("/services/{model}", get(service))
}

async fn job(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = JobId::from_hex(&id).map_err(|e| bad_request(format!("job id {id:?}: {e}")))?;
    let mut app = lock(&app);
    let height = app.ledger().height();
    let Some(record) = jobs::state::job(app.ledger().store(), &id) else {
        return archived(&app, &id).map(Json);
    };
    let output = output_of(&record);
    let certificate = app.certificate(height).ok().flatten();
    let state_root = app.ledger().state_root();
    // The job record (status included) proven against the state root that the commit
    // certificate of `height` signs: a client checks the signatures against the validator
    // set and the proof against the root, and then trusts `status` without trusting us.
    let key = surety_ledger::store::key("jobs/job", &[&id.0]);
    let (_, state_proof) = app.ledger_mut().prove(&key);
    Ok(Json(JobView {
        is_final: record.is_final(),
        job: record,
        output,
        proof: Some(JobProof {
            height,
            state_root,
            key: hex::encode(&key),
            state_proof,
            certificate,
        }),
        pruned: None,
    }))
}

/// A job no longer in state, from the node's archive: no proof, and says so.
fn archived(app: &crate::app::App, id: &JobId) -> Result<JobView, ApiError> {
    let entry = app
        .storage()
        .archived_job(id)
        .map_err(|e| internal(format!("job archive: {e}")))?
        .ok_or_else(|| not_found(format!("no job {id}")))?;
    Ok(JobView {
        is_final: entry.job.is_final(),
        output: output_of(&entry.job),
        job: entry.job,
        proof: None,
        pruned: Some(PrunedJob {
            closed: entry.closed,
            pruned: entry.pruned,
        }),
    })
}

fn output_of(record: &jobs::Job) -> Option<ActivationView> {
    record
        .result()
        .and_then(|result| Activation::from_bytes(&result.output).ok())
        .map(|activation| ActivationView::of(&activation))
}

async fn work(
    State(app): State<SharedApp>,
    Path(operator): Path<String>,
) -> Result<Json<WorkView>, ApiError> {
    let operator = OperatorId::from_hex(&operator)
        .map_err(|e| bad_request(format!("operator id {operator:?}: {e}")))?;
    let app = lock(&app);
    let work = jobs::state::work_of(app.ledger().store(), &operator)
        .into_iter()
        .map(|(job, role)| WorkItem { job, role })
        .collect();
    Ok(Json(WorkView { operator, work }))
}

/// `?from=&open=` of `/disputes`.
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
    query: Result<Query<DisputeQuery>, QueryRejection>,
) -> Result<Json<DisputeList>, ApiError> {
    let Query(query) = query.map_err(|e| bad_request(format!("query: {e}")))?;
    let app = lock(&app);
    let disputes =
        disputes::state::disputes_from(app.ledger().store(), query.from, DISPUTES_LISTED_MAX)
            .into_iter()
            .filter(|d| !query.open || d.is_open())
            .collect();
    Ok(Json(DisputeList { disputes }))
}

async fn dispute(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<DisputeView>, ApiError> {
    let id: u64 = id
        .parse()
        .map_err(|_| bad_request(format!("dispute id {id:?} is not a number")))?;
    let app = lock(&app);
    let dispute = disputes::state::dispute(app.ledger().store(), id)
        .ok_or_else(|| not_found(format!("no dispute {id}")))?;
    Ok(Json(DisputeView { dispute }))
}

async fn service(
    State(app): State<SharedApp>,
    Path(model): Path<String>,
) -> Result<Json<ServiceView>, ApiError> {
    let model =
        ModelId::from_hex(&model).map_err(|e| bad_request(format!("model id {model:?}: {e}")))?;
    let app = lock(&app);
    let store = app.ledger().store();
    let eligible = services::eligible(store, &model)
        .into_iter()
        .map(|(operator, weight)| EligibleOperator { operator, weight })
        .collect();
    Ok(Json(ServiceView {
        model,
        allocations: services::state::allocations_to(store, &model),
        eligible,
    }))
}
