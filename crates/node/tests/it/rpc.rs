//! RPC: real requests through the router (no socket), good and bad.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use surety_ledger::smt::StateProof;
use surety_node::app::App;
use surety_node::mempool::MempoolLimits;
use surety_node::rpc::{router, SharedApp};
use surety_node::storage::Storage;
use surety_types::{Hash, OperatorId};
use tower::ServiceExt;

fn setup() -> (SharedApp, tempfile::TempDir) {
    let genesis = genesis();
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&dir.path().join("chain.redb")).unwrap();
    let app = App::open(storage, &genesis, MempoolLimits::default()).unwrap();
    (Arc::new(Mutex::new(app)), dir)
}

fn signed_transfer(nonce: u64) -> String {
    hex::encode(transfer(2, nonce, 3, 500))
}

async fn call(
    app: &SharedApp,
    method: &str,
    uri: &str,
    body: Option<String>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .unwrap();
    let response = router(app.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, value)
}

fn commit_next_block(app: &SharedApp) {
    let mut app = app.lock().unwrap();
    commit_next_at(&mut app, 1_000);
}

#[tokio::test]
async fn a_submitted_transaction_is_pending_then_committed_with_its_receipt() {
    let (app, _dir) = setup();
    let (status, body) = call(
        &app,
        "POST",
        "/tx",
        Some(format!(r#"{{"tx":"{}"}}"#, signed_transfer(0))),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let hash = body["hash"].as_str().unwrap().to_string();
    let (_, pending) = call(&app, "GET", &format!("/tx/{hash}"), None).await;
    assert_eq!(pending["status"], "pending");
    commit_next_block(&app);
    let (status, committed) = call(&app, "GET", &format!("/tx/{hash}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(committed["status"], "committed");
    assert_eq!(committed["receipt"]["error"], Value::Null);
    let (_, account3) = call(&app, "GET", &format!("/account/{}", account(3)), None).await;
    assert_eq!(account3["balance"], "10000500");
    let (_, block) = call(&app, "GET", "/block/latest", None).await;
    assert_eq!(block["header"]["height"], 1);
}

#[tokio::test]
async fn bad_bodies_get_a_4xx_with_a_clear_message() {
    let (app, _dir) = setup();
    let cases = [
        ("not json", StatusCode::BAD_REQUEST, "JSON"),
        (
            r#"{"tx": 5}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected a string",
        ),
        (r#"{"tx": "zz"}"#, StatusCode::BAD_REQUEST, "not hex"),
        (
            r#"{"tx": "00", "extra": 1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field",
        ),
        (
            r#"{"tx": "0102"}"#,
            StatusCode::BAD_REQUEST,
            "does not decode",
        ),
    ];
    for (body, expected, words) in cases {
        let (status, answer) = call(&app, "POST", "/tx", Some(body.to_string())).await;
        assert_eq!(status, expected, "{body}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default().to_string();
        assert!(
            message.contains(words),
            "{body}: {message:?} should mention {words:?}"
        );
    }
    // A forged signature.
    let mut forged = hex::decode(signed_transfer(0)).unwrap();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let (status, answer) = call(
        &app,
        "POST",
        "/tx",
        Some(format!(r#"{{"tx":"{}"}}"#, hex::encode(forged))),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["error"].as_str().unwrap().contains("signature"));
    // The same transaction twice.
    let body = format!(r#"{{"tx":"{}"}}"#, signed_transfer(0));
    assert_eq!(
        call(&app, "POST", "/tx", Some(body.clone())).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        call(&app, "POST", "/tx", Some(body)).await.0,
        StatusCode::CONFLICT
    );
    // A sender with nothing to pay the fee with (account 50 holds no tokens).
    let (status, answer) = call(
        &app,
        "POST",
        "/tx",
        Some(format!(
            r#"{{"tx":"{}"}}"#,
            hex::encode(transfer(50, 0, 3, 1))
        )),
    )
    .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("cannot pay"));
    // Oversized body.
    let huge = format!(r#"{{"tx":"{}"}}"#, "00".repeat(200_000));
    assert_eq!(
        call(&app, "POST", "/tx", Some(huge)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn bad_path_parameters_get_a_4xx() {
    let (app, _dir) = setup();
    assert_eq!(
        call(&app, "GET", "/account/xyz", None).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(&app, "GET", "/operator/acc_00", None).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(
            &app,
            "GET",
            &format!("/operator/{}", OperatorId([7; 32])),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, "GET", "/block/abc", None).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(&app, "GET", "/block/99", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, "GET", &format!("/tx/{}", Hash([3; 32])), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, "GET", "/proof/nothex", None).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(&app, "GET", &format!("/proof/{}", "00".repeat(300)), None)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_state_proof_from_the_rpc_verifies_against_the_reported_root() {
    let (app, _dir) = setup();
    let key = surety_ledger::bank::state::account_key(&account(2));
    let (status, answer) = call(&app, "GET", &format!("/proof/{}", hex::encode(&key)), None).await;
    assert_eq!(status, StatusCode::OK);
    let root: Hash = serde_json::from_value(answer["state_root"].clone()).unwrap();
    let proof: StateProof = serde_json::from_value(answer["proof"].clone()).unwrap();
    let value = hex::decode(answer["value"].as_str().unwrap()).unwrap();
    assert_eq!(proof.verify(&root, &key, Some(&value)), Ok(()));
}

#[tokio::test]
async fn status_metrics_validators_and_the_openapi_document_are_served() {
    let (app, _dir) = setup();
    let (_, status) = call(&app, "GET", "/status", None).await;
    assert_eq!(status["chain_id"], crate::common::CHAIN);
    assert_eq!(status["validators"], 1);
    let (code, metrics) = call(&app, "GET", "/metrics", None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(metrics
        .as_str()
        .unwrap()
        .contains("surety_bonded_tokens 2000000"));
    let (_, validators) = call(&app, "GET", "/validators", None).await;
    assert_eq!(validators.as_array().unwrap().len(), 1);
    let (_, openapi) = call(&app, "GET", "/openapi.json", None).await;
    for path in [
        "/tx",
        "/tx/{hash}",
        "/account/{id}",
        "/validators",
        "/proof/{key}",
        "/metrics",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path} documented");
    }
    let (_, delegations) = call(&app, "GET", &format!("/delegations/{}", account(1)), None).await;
    assert_eq!(delegations["delegations"][0]["tokens"], "2000000");
}

#[tokio::test]
async fn gossiped_batches_are_bounded_and_judged_one_by_one() {
    let (app, _dir) = setup();
    let batch = |txs: Vec<String>| Some(serde_json::json!({ "txs": txs }).to_string());
    // Good, not hex, and a bad signature: only the good one is admitted.
    let mut forged = transfer(2, 1, 3, 500);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let (status, body) = call(
        &app,
        "POST",
        "/txs/gossip",
        batch(vec![signed_transfer(0), "zz".into(), hex::encode(forged)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["admitted"], 1);
    assert_eq!(body["received"], 3);
    assert_eq!(app.lock().unwrap().mempool().len(), 1);
    // A gossiped transaction is not queued for forwarding again.
    app.lock().unwrap().enable_gossip();
    call(&app, "POST", "/txs/gossip", batch(vec![signed_transfer(1)])).await;
    assert!(app.lock().unwrap().take_outbox().is_empty());
    let (status, _) = call(
        &app,
        "POST",
        "/tx",
        Some(format!(r#"{{"tx":"{}"}}"#, signed_transfer(2))),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        app.lock().unwrap().take_outbox().len(),
        1,
        "a client's tx is forwarded"
    );
    // Too many in one batch, or a malformed body: a 4xx that says why.
    let (status, body) = call(&app, "POST", "/txs/gossip", batch(vec!["00".into(); 4097])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("at most 4096"),
        "{body}"
    );
    let (status, body) = call(&app, "POST", "/txs/gossip", Some(r#"{"tx":"00"}"#.into())).await;
    assert!(status.is_client_error(), "{status}");
    assert!(body["error"].as_str().unwrap().contains("txs"), "{body}");
    // The next nonce counts the sender's waiting transactions.
    let (_, account) = call(&app, "GET", &format!("/account/{}", account(2)), None).await;
    assert_eq!(account["nonce"], 0);
    assert_eq!(account["next_nonce"], 3);
}
