//! The API's error answer: `{ "error": { code, message, field, hint, request_id } }`
//! with the status of the code. The request id comes from the request's task (set by
//! the middleware), so every error, also the router's own 404/405, carries it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cove_control::ControlError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::ServiceError;

tokio::task_local! {
    /// The id of the request this task answers.
    pub(crate) static REQUEST_ID: String;
}

/// The request id of the running request (empty outside one).
pub(crate) fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// An error answer's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, where, how to fix it, and which request it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, AWS's spelling where AWS has one (`InvalidVpc.Range`).
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// The request field it is about (`cidr`, `Idempotency-Key`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// How to fix it.
    pub hint: String,
    /// The request's id (also the `x-request-id` header): quote it to the operator.
    pub request_id: String,
}

/// An error the API answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// The field, if any.
    pub field: Option<String>,
    /// How to fix it.
    pub hint: String,
}

impl ApiError {
    /// An error with an API-level code (one cove-control does not have).
    pub fn new(
        status: StatusCode,
        code: &str,
        field: Option<&str>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
            field: field.map(str::to_owned),
            hint: hint.into(),
        }
    }

    /// A malformed request body or parameter (400 `InvalidParameterValue`).
    pub fn invalid(field: &str, message: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            Some(field),
            message,
            hint,
        )
    }

    /// A failure of the service itself (500); the detail goes to the operator's log
    /// only, with the request id.
    pub fn internal(err: &dyn std::error::Error) -> ApiError {
        let mut text = err.to_string();
        let mut src = err.source();
        while let Some(s) = src {
            text.push_str(": ");
            text.push_str(&s.to_string());
            src = s.source();
        }
        eprintln!("cove-api: request {}: {text}", current_request_id());
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            None,
            "the service failed to handle the request",
            "retry; if it keeps failing, give the operator the request id",
        )
    }

    /// The body, with the running request's id.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.clone(),
                message: self.message.clone(),
                field: self.field.clone(),
                hint: self.hint.clone(),
                request_id: current_request_id(),
            },
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            code: e.code.as_str().to_owned(),
            message: e.message,
            field: e.field,
            hint: e.hint,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::Refused(c) => c.into(),
            other => ApiError::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}
