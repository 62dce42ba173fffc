//! The model registry (docs/models.md): records, manifests, missing chunks for resuming an
//! upload, single chunks, and whole files of active models streamed from state.

use super::error::{bad_request, internal, not_found, ApiError};
use crate::api::{
    ManifestView, MissingChunks, ModelList, ModelSummary, ModelView, MISSING_CHUNKS_MAX,
};
use crate::app::{lock, App, SharedApp};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use surety_ledger::models::{self, ModelRecord, ModelStatus};
use surety_types::ModelId;

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

pub(super) async fn models_list(State(app): State<SharedApp>) -> Json<ModelList> {
    let app = lock(&app);
    let records = models::state::all_models(app.ledger().store());
    Json(ModelList(records.iter().map(ModelSummary::of).collect()))
}

pub(super) async fn model(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<ModelView>, ApiError> {
    let id = parse_model(&id)?;
    let app = lock(&app);
    let record = model_record(&app, &id)?;
    let manifest = models::decode_manifest(&record.manifest).map_err(internal)?;
    Ok(Json(ModelView {
        summary: ModelSummary::of(&record),
        manifest: ManifestView {
            engine_version: manifest.engine_version,
            architecture: models::architecture_name(&manifest.architecture).to_string(),
            architecture_config: format!("{:?}", manifest.architecture),
            weights_root: manifest.weights_root,
            tensor_count: manifest.tensor_count,
            tokenizer: manifest.tokenizer,
            bytes: hex::encode(&record.manifest),
            name: manifest.name,
        },
    }))
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

pub(super) async fn model_chunk(
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

/// `?limit=` of `/models/{id}/files/{file}/missing`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MissingQuery {
    limit: Option<usize>,
}

pub(super) async fn missing_chunks(
    State(app): State<SharedApp>,
    Path((id, file)): Path<(String, String)>,
    query: Result<Query<MissingQuery>, QueryRejection>,
) -> Result<Json<MissingChunks>, ApiError> {
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
    Ok(Json(MissingChunks {
        model: id,
        file,
        chunks,
        status: record.status,
        missing,
    }))
}

/// The whole file, streamed chunk by chunk from state: each chunk is read under the lock on
/// its own, so a large file never sits whole in memory and never holds the node up. Only an
/// active model's files are served whole (an active model's chunks are never deleted).
pub(super) async fn model_file(
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
