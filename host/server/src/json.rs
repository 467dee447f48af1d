//! Answers as JSON: every body the server sends, errors included, is a JSON
//! object with its content type set.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `body` as JSON, with `status`.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).expect("answers always serialise");
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An error, as every route answers one: `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: String) -> Response {
    json(status, &ErrorBody { error: message })
}

/// Every error's body.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub(crate) struct ErrorBody {
    /// What was wrong, naming the field, file or limit.
    pub(crate) error: String,
}
