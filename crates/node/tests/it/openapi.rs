//! The OpenAPI document against real answers: every JSON answer of the RPC, good and bad,
//! validates against the schema the document gives for its route and status, so the schemas
//! (generated from `surety_node::api`) and the handlers cannot drift apart.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use surety_node::app::App;
use surety_node::mempool::MempoolLimits;
use surety_node::rpc::{router, SharedApp};
use surety_node::storage::Storage;
use surety_types::OperatorId;
use tower::ServiceExt;

/// `value` against `schema`, resolving `$ref`s in `document`: the parts of JSON Schema the
/// generated schemas use (type, properties, required, additionalProperties, items, oneOf,
/// anyOf, allOf, const, enum, maxItems).
pub(crate) fn validate(document: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let schema = resolve(document, schema);
    let Some(object) = schema.as_object() else {
        return match schema {
            Value::Bool(false) => Err(format!("nothing is allowed here, got {value}")),
            _ => Ok(()),
        };
    };
    if let Some(types) = object.get("type") {
        check_type(types, value)?;
    }
    if let Some(expected) = object.get("const") {
        if expected != value {
            return Err(format!("{value} is not {expected}"));
        }
    }
    if let Some(Value::Array(options)) = object.get("enum") {
        if !options.contains(value) {
            return Err(format!("{value} is none of {options:?}"));
        }
    }
    for all in object
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        validate(document, all, value)?;
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(options)) = object.get(key) {
            let errors: Vec<String> = options
                .iter()
                .filter_map(|option| validate(document, option, value).err())
                .collect();
            if errors.len() == options.len() {
                return Err(format!("{value} matches no {key} option: {errors:?}"));
            }
        }
    }
    match value {
        Value::Object(fields) => check_object(document, object, fields),
        Value::Array(items) => check_array(document, object, items),
        _ => Ok(()),
    }
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            let target = &document["components"]["schemas"][name];
            assert!(!target.is_null(), "{reference} is in the document");
            resolve(document, target)
        }
        None => schema,
    }
}

fn check_type(types: &Value, value: &Value) -> Result<(), String> {
    let names: Vec<&str> = match types {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let fits = |name: &str| match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => true,
    };
    if names.iter().any(|name| fits(name)) {
        Ok(())
    } else {
        Err(format!("{value} is not of type {types}"))
    }
}

fn check_object(
    document: &Value,
    schema: &serde_json::Map<String, Value>,
    fields: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = required.as_str().unwrap_or_default();
        if !fields.contains_key(name) {
            return Err(format!("required field {name} is missing"));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (name, field) in fields {
        match (
            properties.and_then(|p| p.get(name)),
            schema.get("additionalProperties"),
        ) {
            (Some(property), _) => {
                validate(document, property, field).map_err(|e| format!("{name}: {e}"))?
            }
            (None, Some(Value::Bool(false))) => {
                return Err(format!("field {name} is not in the schema"))
            }
            (None, Some(additional)) => validate(document, additional, field)?,
            (None, None) => {}
        }
    }
    Ok(())
}

fn check_array(
    document: &Value,
    schema: &serde_json::Map<String, Value>,
    items: &[Value],
) -> Result<(), String> {
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
        if items.len() as u64 > max {
            return Err(format!("{} items; at most {max}", items.len()));
        }
    }
    if let Some(item) = schema.get("items") {
        for (index, value) in items.iter().enumerate() {
            validate(document, item, value).map_err(|e| format!("[{index}]: {e}"))?;
        }
    }
    Ok(())
}

/// The schema the document gives for `method path` answering `status` (the route's template
/// is found by matching segments).
fn answer_schema<'a>(
    document: &'a Value,
    method: &str,
    uri: &str,
    status: StatusCode,
) -> &'a Value {
    let path = uri.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    let template = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part.starts_with('{') || part == segment)
        })
        // A literal segment beats a parameter (`/block/latest` over `/block/{height}`).
        .max_by_key(|template| template.matches('{').count() == 0)
        .unwrap_or_else(|| panic!("{uri} is documented"));
    let operation = &document["paths"][template][method.to_lowercase()];
    let schema = &operation["responses"][status.as_str()]["content"]["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {template} documents a JSON {status} answer"
    );
    schema
}

/// Ask the RPC and check the answer against the document; the answer.
pub(crate) async fn checked(
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
    let value: Value = serde_json::from_slice(&bytes).expect("a JSON answer");
    let document = surety_node::rpc::openapi::document();
    let schema = answer_schema(&document, method, uri, status);
    if let Err(error) = validate(&document, schema, &value) {
        panic!("{method} {uri} answered {status} {value}, which its schema refuses: {error}");
    }
    (status, value)
}

#[tokio::test]
async fn every_answer_validates_against_the_schema_its_route_documents() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&dir.path().join("chain.redb")).unwrap();
    let app: SharedApp = Arc::new(Mutex::new(
        App::open(storage, &genesis(), MempoolLimits::default()).unwrap(),
    ));
    let body = format!(r#"{{"tx":"{}"}}"#, hex::encode(transfer(2, 0, 3, 500)));
    let (status, submitted) = checked(&app, "POST", "/tx", Some(body.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let hash = submitted["hash"].as_str().unwrap().to_string();
    checked(&app, "GET", &format!("/tx/{hash}"), None).await;
    let (status, _) = checked(&app, "POST", "/tx", Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    commit_next_at(&mut app.lock().unwrap(), 1_000);
    let gossip = format!(
        r#"{{"txs":["{}", "zz"]}}"#,
        hex::encode(transfer(2, 1, 3, 5))
    );
    let operator = OperatorId::from(account(1));
    let key = hex::encode(surety_ledger::staking::state::operator_key(&operator));
    let model = "11".repeat(32);
    for (method, uri, body, expected) in [
        (
            "POST",
            "/txs/gossip".to_string(),
            Some(gossip),
            StatusCode::OK,
        ),
        (
            "POST",
            "/tx".to_string(),
            Some("not json".into()),
            StatusCode::BAD_REQUEST,
        ),
        ("GET", format!("/tx/{hash}"), None, StatusCode::OK),
        (
            "GET",
            format!("/tx/{}", "00".repeat(32)),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            format!("/account/{}", account(1)),
            None,
            StatusCode::OK,
        ),
        (
            "GET",
            "/account/nonsense".to_string(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        ("GET", "/operators".to_string(), None, StatusCode::OK),
        ("GET", format!("/operator/{operator}"), None, StatusCode::OK),
        (
            "GET",
            format!("/delegations/{}", account(1)),
            None,
            StatusCode::OK,
        ),
        ("GET", "/validators".to_string(), None, StatusCode::OK),
        ("GET", "/block/latest".to_string(), None, StatusCode::OK),
        ("GET", "/block/1".to_string(), None, StatusCode::OK),
        ("GET", "/block/9".to_string(), None, StatusCode::NOT_FOUND),
        ("GET", format!("/proof/{key}"), None, StatusCode::OK),
        ("GET", "/status".to_string(), None, StatusCode::OK),
        ("GET", "/models".to_string(), None, StatusCode::OK),
        (
            "GET",
            format!("/models/{model}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        ("GET", format!("/jobs/{model}"), None, StatusCode::NOT_FOUND),
        ("GET", format!("/work/{operator}"), None, StatusCode::OK),
        (
            "GET",
            "/disputes?open=true".to_string(),
            None,
            StatusCode::OK,
        ),
        (
            "GET",
            "/disputes/7".to_string(),
            None,
            StatusCode::NOT_FOUND,
        ),
        ("GET", format!("/services/{model}"), None, StatusCode::OK),
    ] {
        let (status, answer) = checked(&app, method, &uri, body).await;
        assert_eq!(status, expected, "{method} {uri}: {answer}");
    }
}
