//! The RPC's error answer (`api::ErrorBody`): a status and a message that says what was
//! wrong, and the parsers of path parameters that produce it.

use crate::api::ErrorBody;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use surety_types::{AccountId, OperatorId};

/// An error answer: status and a message.
pub(super) struct ApiError(pub(super) StatusCode, pub(super) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

pub(super) fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

pub(super) fn not_found(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, message.into())
}

pub(super) fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

pub(super) fn parse_account(text: &str) -> Result<AccountId, ApiError> {
    AccountId::from_hex(text).map_err(|e| bad_request(format!("account id {text:?}: {e}")))
}

pub(super) fn parse_operator(text: &str) -> Result<OperatorId, ApiError> {
    OperatorId::from_hex(text).map_err(|e| bad_request(format!("operator id {text:?}: {e}")))
}
