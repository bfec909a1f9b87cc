//! Lambda's errors: `x-amzn-ErrorType` and a JSON body `{"Type", "message"}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One Lambda error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaError {
    /// HTTP status.
    pub status: u16,
    /// Lambda's error type (`ResourceNotFoundException`, …).
    pub code: String,
    /// Its message.
    pub message: String,
}

impl LambdaError {
    /// An error of `code` (`status`).
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> LambdaError {
        LambdaError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// `InvalidParameterValueException` (400).
    pub fn invalid(message: impl Into<String>) -> LambdaError {
        LambdaError::new(400, "InvalidParameterValueException", message)
    }

    /// `ResourceNotFoundException` (404) for function `name`.
    pub fn no_function(name: &str, region: &str, account: &str) -> LambdaError {
        LambdaError::new(
            404,
            "ResourceNotFoundException",
            format!("Function not found: arn:aws:lambda:{region}:{account}:function:{name}"),
        )
    }

    /// The body Lambda sends.
    pub fn body(&self) -> String {
        let kind = if self.status >= 500 {
            "Service"
        } else {
            "User"
        };
        serde_json::json!({ "Type": kind, "message": self.message }).to_string()
    }
}

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut r = (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&self.code) {
            r.headers_mut().insert("x-amzn-errortype", v);
        }
        r
    }
}

/// cove's API error codes as Lambda's.
pub fn from_api(status: u16, code: &str, message: &str, field: Option<&str>) -> LambdaError {
    let kind = match code {
        "ResourceNotFoundException"
        | "ResourceConflictException"
        | "TooManyRequestsException"
        | "RequestTooLargeException"
        | "ServiceException"
        | "InvalidRequestContentException"
        | "InvalidParameterValueException" => code.to_owned(),
        _ if status == 404 => "ResourceNotFoundException".to_owned(),
        _ if status == 409 => "ResourceConflictException".to_owned(),
        _ if status == 429 => "TooManyRequestsException".to_owned(),
        _ if status >= 500 => "ServiceException".to_owned(),
        _ => "InvalidParameterValueException".to_owned(),
    };
    let message = match field {
        Some(f) if !message.contains(f) => format!("{message} (field {f})"),
        _ => message.to_owned(),
    };
    LambdaError::new(status, &kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_bodies_are_lambdas() {
        let e = from_api(404, "NotFound", "no such function `f`", Some("name"));
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(
            e.body(),
            r#"{"Type":"User","message":"no such function `f` (field name)"}"#
        );
        assert_eq!(
            from_api(400, "InvalidVpc.Range", "x", None).code,
            "InvalidParameterValueException"
        );
        assert_eq!(
            from_api(503, "ServiceException", "x", None).body(),
            r#"{"Type":"Service","message":"x"}"#
        );
    }
}
