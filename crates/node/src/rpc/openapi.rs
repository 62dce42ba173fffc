//! The OpenAPI 3.1 document of the RPC. Paths, summaries and parameters are listed here; every
//! request and response schema is generated (schemars) from the [`crate::api`] type the
//! handler serves, so the document cannot drift from what is served. The node's tests check
//! real answers against these schemas.

use crate::api::*;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

/// The OpenAPI 3.1 description of this RPC.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut generator = settings.into_generator();
    let mut paths = chain_paths(&mut generator);
    paths.extend(model_paths(&mut generator));
    paths.extend(market_paths(&mut generator));
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Surety node RPC", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": { "schemas": generator.take_definitions(true) },
    })
}

/// A JSON answer of type `T`.
fn answer<T: JsonSchema>(generator: &mut SchemaGenerator, description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": generator.subschema_for::<T>() } } })
}

/// An error answer (`ErrorBody`).
fn error(generator: &mut SchemaGenerator, description: &str) -> Value {
    answer::<ErrorBody>(generator, description)
}

/// A JSON request body of type `T`.
fn request<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": generator.subschema_for::<T>() } } })
}

/// A raw answer of `content_type`.
fn raw(description: &str, content_type: &str) -> Value {
    json!({ "description": description, "content": { content_type: {} } })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn chain_paths(g: &mut SchemaGenerator) -> Map<String, Value> {
    let paths = json!({
        "/tx": { "post": {
            "summary": "Submit a signed transaction (hex of its borsh encoding)",
            "requestBody": request::<SubmitTx>(g),
            "responses": { "202": answer::<Submitted>(g, "admitted to the mempool; returns its hash"), "400": error(g, "bad input"), "402": error(g, "the sender's balance cannot pay the fees and spends of this and its waiting transactions"), "409": error(g, "already in the mempool"), "503": error(g, "mempool full, nothing cheaper per byte to evict") } } },
        "/txs/gossip": { "post": {
            "summary": "Transactions forwarded by a peer (admitted, not forwarded again)",
            "requestBody": request::<GossipTxs>(g),
            "responses": { "200": answer::<GossipAnswer>(g, "how many were admitted"), "400": error(g, "bad input") } } },
        "/tx/{hash}": { "get": { "summary": "Status and receipt of a transaction", "parameters": [path_param("hash", "transaction hash, hex")], "responses": { "200": answer::<TxStatus>(g, "pending, or committed with its receipt"), "400": error(g, "bad input"), "404": error(g, "unknown") } } },
        "/account/{id}": { "get": { "summary": "Balance, committed nonce, and the next nonce counting transactions waiting in this node's mempool", "parameters": [path_param("id", "account id (acc_… or hex)")], "responses": { "200": answer::<AccountView>(g, "account"), "400": error(g, "bad input") } } },
        "/operators": { "get": { "summary": "All operators", "responses": { "200": answer::<OperatorList>(g, "operators") } } },
        "/operator/{id}": { "get": { "summary": "One operator", "parameters": [path_param("id", "operator id (op_… or hex)")], "responses": { "200": answer::<OperatorView>(g, "operator and self-bond"), "400": error(g, "bad input"), "404": error(g, "unknown") } } },
        "/delegations/{account}": { "get": { "summary": "An account's delegations, pending rewards and unbonding entries", "parameters": [path_param("account", "account id")], "responses": { "200": answer::<DelegationsView>(g, "delegations"), "400": error(g, "bad input") } } },
        "/validators": { "get": { "summary": "The active validator set", "responses": { "200": answer::<ValidatorList>(g, "validators with power") } } },
        "/block/latest": { "get": { "summary": "The last committed block", "responses": { "200": answer::<BlockView>(g, "block"), "404": error(g, "no block yet") } } },
        "/block/{height}": { "get": { "summary": "A committed block", "parameters": [path_param("height", "block height")], "responses": { "200": answer::<BlockView>(g, "block"), "400": error(g, "bad input"), "404": error(g, "no such block") } } },
        "/proof/{key}": { "get": { "summary": "A state value with its inclusion or exclusion proof against the state root", "parameters": [path_param("key", "state key, hex")], "responses": { "200": answer::<ProofView>(g, "value, proof, root"), "400": error(g, "bad input") } } },
        "/status": { "get": { "summary": "Chain id, height, epoch, state root, mempool size", "responses": { "200": answer::<StatusView>(g, "status") } } },
        "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": raw("text exposition format", "text/plain") } } },
        "/openapi.json": { "get": { "summary": "This document", "responses": { "200": raw("OpenAPI document", "application/json") } } }
    });
    into_map(paths)
}

fn model_paths(g: &mut SchemaGenerator) -> Map<String, Value> {
    let limit = json!({ "name": "limit", "in": "query", "required": false, "description": "most indices to list", "schema": { "type": "integer", "maximum": MISSING_CHUNKS_MAX } });
    let paths = json!({
        "/models": { "get": { "summary": "Every registered model: id, name, publisher, status, steps, text, lineage, file commitments", "responses": { "200": answer::<ModelList>(g, "models") } } },
        "/models/{id}": { "get": { "summary": "One model's record and manifest summary", "parameters": [path_param("id", "model id (model_… or hex)")], "responses": { "200": answer::<ModelView>(g, "model"), "400": error(g, "bad input"), "404": error(g, "unknown") } } },
        "/models/{id}/files/{file}": { "get": { "summary": "A whole file of an active model, streamed from state", "parameters": [path_param("id", "model id"), path_param("file", "file index in the registration")], "responses": { "200": raw("the file's bytes", "application/octet-stream"), "400": error(g, "bad input"), "404": error(g, "unknown model or file"), "409": error(g, "the model is not active") } } },
        "/models/{id}/files/{file}/chunks/{index}": { "get": { "summary": "One stored chunk of a model file (verify it against the file's chunks_root)", "parameters": [path_param("id", "model id"), path_param("file", "file index"), path_param("index", "chunk index")], "responses": { "200": raw("the chunk's bytes", "application/octet-stream"), "400": error(g, "bad input"), "404": error(g, "unknown, or not stored") } } },
        "/models/{id}/files/{file}/missing": { "get": { "summary": "Chunk indices of an uploading model's file not yet stored (for resuming an upload)", "parameters": [path_param("id", "model id"), path_param("file", "file index"), limit], "responses": { "200": answer::<MissingChunks>(g, "status and missing indices"), "400": error(g, "bad input"), "404": error(g, "unknown model or file") } } }
    });
    into_map(paths)
}

fn market_paths(g: &mut SchemaGenerator) -> Map<String, Value> {
    let paths = json!({
        "/jobs/{id}": { "get": { "summary": "A job: status, assignments, audit claim window and audits, the standing result's output decoded, and a proof of the job record against the state root signed by the latest commit certificate; a job pruned from state comes from the node's archive, with `pruned` set and no proof", "parameters": [path_param("id", "job id (job_… or hex)")], "responses": { "200": answer::<JobView>(g, "job"), "400": error(g, "bad input"), "404": error(g, "unknown") } } },
        "/work/{operator}": { "get": { "summary": "Jobs an operator must compute or audit now", "parameters": [path_param("operator", "operator id")], "responses": { "200": answer::<WorkView>(g, "work"), "400": error(g, "bad input") } } },
        "/disputes": { "get": { "summary": "Disputes from an id on (`from`), optionally only open ones (`open=true`)", "responses": { "200": answer::<DisputeList>(g, "disputes"), "400": error(g, "bad input") } } },
        "/disputes/{id}": { "get": { "summary": "One dispute: parties, roots, bisection interval, phase", "parameters": [path_param("id", "dispute number")], "responses": { "200": answer::<DisputeView>(g, "dispute"), "400": error(g, "bad input"), "404": error(g, "unknown") } } },
        "/services/{model}": { "get": { "summary": "Stake allocated to a model's service, and the operators eligible for its work", "parameters": [path_param("model", "model id")], "responses": { "200": answer::<ServiceView>(g, "allocations"), "400": error(g, "bad input") } } }
    });
    into_map(paths)
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("a json! object literal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_answer_names_a_generated_schema() {
        let document = document();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for name in [
            "ErrorBody",
            "SubmitTx",
            "Submitted",
            "GossipTxs",
            "GossipAnswer",
            "TxStatus",
            "AccountView",
            "OperatorList",
            "OperatorView",
            "DelegationsView",
            "ValidatorList",
            "BlockView",
            "ProofView",
            "ModelList",
            "ModelView",
            "MissingChunks",
            "StatusView",
            "JobView",
            "WorkView",
            "DisputeList",
            "DisputeView",
            "ServiceView",
        ] {
            assert!(schemas.contains_key(name), "{name} in components.schemas");
        }
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, answer) in operation["responses"].as_object().unwrap() {
                    let Some(schema) = answer["content"]["application/json"].get("schema") else {
                        continue;
                    };
                    let reference = schema["$ref"].as_str().unwrap_or_default();
                    let name = reference.trim_start_matches("#/components/schemas/");
                    assert!(
                        schemas.contains_key(name),
                        "{method} {path} {status}: {reference} is generated"
                    );
                }
            }
        }
        assert_eq!(
            schemas["GossipTxs"]["properties"]["txs"]["maxItems"],
            GOSSIP_BATCH_MAX
        );
    }
}
