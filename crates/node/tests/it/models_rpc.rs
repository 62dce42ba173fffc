//! Model RPC: a model registered and uploaded through the node's mempool and blocks, then
//! listed, described, fetched chunk by chunk and streamed whole; bad input gets a 4xx.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use surety_infer::models::mlp::{self, MlpConfig};
use surety_infer::safetensors_loader::save_safetensors_f32;
use surety_ledger::models::msg::chunk_hash;
use surety_ledger::models::{FileKind, Lineage, Publication};
use surety_ledger::tx::Msg;
use surety_node::app::App;
use surety_node::mempool::MempoolLimits;
use surety_node::rpc::{router, SharedApp};
use surety_node::storage::Storage;
use surety_types::tx::Tx;
use surety_types::Amount;
use tower::ServiceExt;

const CHUNK_BYTES: u32 = 64;

fn setup() -> (SharedApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&dir.path().join("chain.redb")).unwrap();
    let app = App::open(storage, &genesis(), MempoolLimits::default()).unwrap();
    (Arc::new(Mutex::new(app)), dir)
}

fn weights() -> Vec<u8> {
    let values = |n: usize, seed: f32| (0..n).map(|i| (i as f32 * 0.37 + seed).sin()).collect();
    save_safetensors_f32(&[
        ("layers.0.weight", vec![3, 4], values(12, 0.1)),
        ("layers.0.bias", vec![3], values(3, 0.2)),
        ("layers.1.weight", vec![2, 3], values(6, 0.3)),
        ("layers.1.bias", vec![2], values(2, 0.4)),
    ])
    .unwrap()
}

fn signed(from: u8, nonce: u64, msg: Msg) -> Vec<u8> {
    let tx = Tx {
        chain_id: CHAIN.into(),
        signer: account(from),
        nonce,
        fee: Amount::new(1),
        msg,
    };
    surety_types::encoding::encode(&tx.sign(&key(from)))
}

async fn get(app: &SharedApp, uri: &str) -> (StatusCode, Vec<u8>) {
    let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = router(app.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

/// A JSON answer; every one but the document itself checked against the schema the OpenAPI
/// document gives for its route and status.
async fn get_json(app: &SharedApp, uri: &str) -> (StatusCode, Value) {
    if uri != "/openapi.json" {
        return crate::openapi::checked(app, "GET", uri, None).await;
    }
    let (status, bytes) = get(app, uri).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Register the tiny model and upload all but `keep_back` of its chunks, a block at a time.
fn publish(app: &SharedApp, publication: &Publication, keep_back: usize) {
    let mut app = app.lock().unwrap();
    let mut nonce = 0;
    let mut submit = |app: &mut App, msg: Msg| {
        app.submit(signed(2, nonce, msg)).expect("admitted");
        nonce += 1;
    };
    submit(
        &mut app,
        Msg::RegisterModel(Box::new(publication.register.clone())),
    );
    commit_next_at(&mut app, 1_000);
    let uploads: Vec<_> = publication.uploads().collect();
    let count = uploads.len() - keep_back;
    for chunk in uploads.into_iter().take(count) {
        submit(&mut app, Msg::UploadModelChunk(Box::new(chunk)));
    }
    commit_next_at(&mut app, 2_000);
}

#[tokio::test]
async fn a_published_model_is_listed_described_and_downloadable_chunk_by_chunk_or_whole() {
    let (app, _dir) = setup();
    let weights = weights();
    let manifest = mlp::load_mlp(
        "rpc-mlp",
        &weights,
        MlpConfig {
            widths: vec![4, 3, 2],
        },
    )
    .unwrap()
    .manifest()
    .clone();
    let publication = Publication::new(
        &manifest,
        &[(FileKind::Safetensors, &weights)],
        Lineage::default(),
        CHUNK_BYTES,
    )
    .unwrap();
    publish(&app, &publication, 0);
    let id = publication.model.to_string();

    let (status, list) = get_json(&app, "/models").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["name"], "rpc-mlp");
    assert_eq!(list[0]["status"]["state"], "active");
    assert_eq!(list[0]["text"], false);
    assert_eq!(list[0]["publisher"], account(2).to_string());

    let (status, one) = get_json(&app, &format!("/models/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["manifest"]["architecture"], "mlp");
    assert_eq!(one["manifest"]["tensor_count"], 4);
    assert_eq!(
        one["manifest"]["weights_root"],
        manifest.weights_root.to_string()
    );

    let root = publication.register.files[0].chunks_root;
    let mut assembled = Vec::new();
    for index in 0..publication.chunk_count(0) {
        let (status, chunk) = get(&app, &format!("/models/{id}/files/0/chunks/{index}")).await;
        assert_eq!(status, StatusCode::OK);
        let proof = publication.upload(0, index).unwrap().proof;
        assert!(proof.verify(&root, chunk_hash(&chunk).as_bytes()).is_ok());
        assembled.extend(chunk);
    }
    assert_eq!(assembled, weights);

    let (status, whole) = get(&app, &format!("/models/{id}/files/0")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whole, weights);
}

#[tokio::test]
async fn an_unfinished_upload_lists_its_missing_chunks_and_is_not_served_whole() {
    let (app, _dir) = setup();
    let weights = weights();
    let manifest = mlp::load_mlp(
        "partial",
        &weights,
        MlpConfig {
            widths: vec![4, 3, 2],
        },
    )
    .unwrap()
    .manifest()
    .clone();
    let publication = Publication::new(
        &manifest,
        &[(FileKind::Safetensors, &weights)],
        Lineage::default(),
        CHUNK_BYTES,
    )
    .unwrap();
    publish(&app, &publication, 2);
    let id = publication.model.to_string();
    let last = publication.chunk_count(0) - 1;

    let (status, missing) = get_json(&app, &format!("/models/{id}/files/0/missing")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(missing["status"]["state"], "uploading");
    assert_eq!(missing["missing"], serde_json::json!([last - 1, last]));
    let (_, limited) = get_json(&app, &format!("/models/{id}/files/0/missing?limit=1")).await;
    assert_eq!(limited["missing"], serde_json::json!([last - 1]));

    let (status, _) = get(&app, &format!("/models/{id}/files/0")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = get(&app, &format!("/models/{id}/files/0/chunks/{last}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&app, &format!("/models/{id}/files/0/chunks/0")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_model_paths_get_4xx_answers() {
    let (app, _dir) = setup();
    let unknown = format!("model_{}", "ab".repeat(32));
    for (uri, expected) in [
        ("/models/not-hex".to_string(), StatusCode::BAD_REQUEST),
        (format!("/models/{unknown}"), StatusCode::NOT_FOUND),
        (
            format!("/models/{unknown}/files/x"),
            StatusCode::BAD_REQUEST,
        ),
        (format!("/models/{unknown}/files/0"), StatusCode::NOT_FOUND),
        (
            format!("/models/{unknown}/files/0/chunks/-1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/models/{unknown}/files/0/chunks/0"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/models/{unknown}/files/0/missing?limit=x"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/models/{unknown}/files/0/missing?other=1"),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, body) = get_json(&app, &uri).await;
        assert_eq!(status, expected, "{uri}: {body}");
    }
    let (_, list) = get_json(&app, "/models").await;
    assert_eq!(list, serde_json::json!([]));
    let (_, openapi) = get_json(&app, "/openapi.json").await;
    assert!(openapi["paths"]["/models/{id}/files/{file}/chunks/{index}"].is_object());
}
