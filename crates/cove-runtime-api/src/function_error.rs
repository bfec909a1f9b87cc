//! What the invoker receives when the runtime posts an error (pure).
//!
//! Lambda keeps the error type the runtime names in `Lambda-Runtime-Function-Error-Type`
//! only when it looks like `Runtime.Xxx` or `Function.Xxx`; anything else becomes
//! `Function.Unknown` (a `Function.` prefix) or `Runtime.Unknown`. The error body is
//! passed to the invoker as posted when it is JSON; a body in the
//! `application/vnd.aws.lambda.error.cause+json` shape is filtered down to
//! `errorMessage`, `errorType` and `stackTrace` (the X-Ray `errorCause` stays
//! behind). A body that is not JSON is wrapped in a well-formed
//! `{"errorMessage","errorType"}` document so the invoker always gets JSON.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::types::InvokeOutcome;

/// The header that carries the runtime's error type on `/error` and `/init/error`.
pub const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";

/// The content type of an error body that also carries an X-Ray `errorCause`.
pub const ERROR_CAUSE_CONTENT_TYPE: &str = "application/vnd.aws.lambda.error.cause+json";

/// The error type Lambda records when the runtime names none it accepts.
pub const RUNTIME_UNKNOWN: &str = "Runtime.Unknown";

/// The error type Lambda records for an unaccepted `Function.` type.
pub const FUNCTION_UNKNOWN: &str = "Function.Unknown";

/// The error type Lambda records when the response body exceeds the limit.
pub const FUNCTION_RESPONSE_SIZE_TOO_LARGE: &str = "Function.ResponseSizeTooLarge";

/// The error type of an invocation whose response or error upload broke off.
pub const RUNTIME_TRUNCATED_RESPONSE: &str = "Runtime.TruncatedResponse";

/// The error type Lambda records for `header`, the runtime's
/// `Lambda-Runtime-Function-Error-Type`: kept when it contains `Runtime.` or
/// `Function.` followed by an upper-case letter and at least one more letter (Lambda's
/// own test, which is not anchored), else `Function.Unknown` for a `Function.` prefix
/// and `Runtime.Unknown` for everything else, a missing header included.
pub fn validated_error_type(header: Option<&str>) -> String {
    let header = header.unwrap_or("");
    if contains_typed_name(header) {
        header.to_owned()
    } else if header.starts_with("Function.") {
        FUNCTION_UNKNOWN.to_owned()
    } else {
        RUNTIME_UNKNOWN.to_owned()
    }
}

/// Whether `text` contains `(Runtime|Function)\.[A-Z][a-zA-Z]+` anywhere.
fn contains_typed_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    ["Runtime.", "Function."].iter().any(|prefix| {
        let mut from = 0;
        while let Some(found) = text[from..].find(prefix) {
            let rest = &bytes[from + found + prefix.len()..];
            if rest.first().is_some_and(u8::is_ascii_uppercase)
                && rest.get(1).is_some_and(u8::is_ascii_alphabetic)
            {
                return true;
            }
            from += found + 1;
        }
        false
    })
}

/// The standard `{"errorMessage","errorType"}` document (Lambda's field order).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDocument<'a> {
    /// What went wrong.
    #[serde(rename = "errorMessage")]
    pub error_message: &'a str,
    /// The error's type.
    #[serde(rename = "errorType")]
    pub error_type: &'a str,
}

impl ErrorDocument<'_> {
    /// The document as JSON.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// A body in the `application/vnd.aws.lambda.error.cause+json` shape.
#[derive(Deserialize)]
struct ErrorWithCause {
    #[serde(rename = "errorMessage", default)]
    error_message: String,
    #[serde(rename = "errorType", default)]
    error_type: String,
    #[serde(rename = "stackTrace", default)]
    stack_trace: Option<Vec<String>>,
}

/// What the invoker keeps of an [`ErrorWithCause`] body.
#[derive(Serialize)]
struct FilteredError<'a> {
    #[serde(rename = "errorMessage")]
    error_message: &'a str,
    #[serde(rename = "errorType")]
    error_type: &'a str,
    #[serde(rename = "stackTrace", skip_serializing_if = "Option::is_none")]
    stack_trace: Option<&'a [String]>,
}

/// Whether `body` is one complete JSON value.
pub fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// The outcome of an error the runtime posted (`/invocation/{id}/error` or
/// `/init/error`): the validated error type and the body the invoker receives.
pub fn posted_error(
    header_type: Option<&str>,
    content_type: Option<&str>,
    body: Bytes,
) -> InvokeOutcome {
    let error_type = validated_error_type(header_type);
    let body = if content_type == Some(ERROR_CAUSE_CONTENT_TYPE) {
        match serde_json::from_slice::<ErrorWithCause>(&body) {
            Ok(parsed) => Bytes::from(
                serde_json::to_vec(&FilteredError {
                    error_message: &parsed.error_message,
                    error_type: &parsed.error_type,
                    stack_trace: parsed.stack_trace.as_deref().filter(|s| !s.is_empty()),
                })
                .unwrap_or_default(),
            ),
            Err(_) => ErrorDocument {
                error_message: "Invalid error body",
                error_type: &error_type,
            }
            .to_bytes(),
        }
    } else if is_json(&body) {
        body
    } else {
        ErrorDocument {
            error_message: &String::from_utf8_lossy(&body),
            error_type: &error_type,
        }
        .to_bytes()
    };
    InvokeOutcome::FunctionError { error_type, body }
}

/// The invoker's document for a response or error body over `limit` bytes, in the
/// service's words.
pub fn response_too_large(limit: usize) -> InvokeOutcome {
    let message =
        format!("Response payload size exceeded maximum allowed payload size ({limit} bytes).");
    InvokeOutcome::FunctionError {
        error_type: FUNCTION_RESPONSE_SIZE_TOO_LARGE.to_owned(),
        body: ErrorDocument {
            error_message: &message,
            error_type: FUNCTION_RESPONSE_SIZE_TOO_LARGE,
        }
        .to_bytes(),
    }
}

/// The error type Lambda records when the runtime posts a response with an unknown
/// `Lambda-Runtime-Function-Response-Mode`.
pub const RUNTIME_INVALID_RESPONSE_MODE_HEADER: &str = "Runtime.InvalidResponseModeHeader";

/// The invoker's document when the runtime posted a response with an unknown
/// `Lambda-Runtime-Function-Response-Mode` (the invocation ends with it).
pub fn invalid_response_mode(value: &str) -> InvokeOutcome {
    let message = format!(
        "Invalid function response mode {value:?}: the runtime must send Lambda-Runtime-Function-Response-Mode buffered or streaming, or no such header"
    );
    InvokeOutcome::FunctionError {
        error_type: RUNTIME_INVALID_RESPONSE_MODE_HEADER.to_owned(),
        body: ErrorDocument {
            error_message: &message,
            error_type: RUNTIME_INVALID_RESPONSE_MODE_HEADER,
        }
        .to_bytes(),
    }
}

/// The invoker's document when the runtime's upload of a response or error broke off
/// before its end.
pub fn truncated_response(request_id: &str) -> InvokeOutcome {
    let message =
        format!("RequestId: {request_id} Error: the runtime's response upload was truncated");
    InvokeOutcome::FunctionError {
        error_type: RUNTIME_TRUNCATED_RESPONSE.to_owned(),
        body: ErrorDocument {
            error_message: &message,
            error_type: RUNTIME_TRUNCATED_RESPONSE,
        }
        .to_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parts(outcome: InvokeOutcome) -> (String, Value) {
        match outcome {
            InvokeOutcome::FunctionError { error_type, body } => (
                error_type,
                serde_json::from_slice(&body).expect("the invoker's body is JSON"),
            ),
            InvokeOutcome::Response { .. } => panic!("an error outcome was expected"),
        }
    }

    #[test]
    fn error_types_follow_lambdas_pattern() {
        for kept in [
            "Runtime.ImportModuleError",
            "Function.MyError",
            "Runtime.Ab",
            "xx Runtime.ExitError yy",
        ] {
            assert_eq!(validated_error_type(Some(kept)), kept);
        }
        assert_eq!(validated_error_type(Some("Function.x")), FUNCTION_UNKNOWN);
        assert_eq!(validated_error_type(Some("Function.")), FUNCTION_UNKNOWN);
        for unknown in [
            "Unhandled",
            "Runtime.A",
            "Runtime.abc",
            "",
            "ZeroDivisionError",
            "Runtime.9x",
        ] {
            assert_eq!(
                validated_error_type(Some(unknown)),
                RUNTIME_UNKNOWN,
                "{unknown}"
            );
        }
        assert_eq!(validated_error_type(None), RUNTIME_UNKNOWN);
    }

    #[test]
    fn a_later_match_counts_when_an_earlier_prefix_does_not() {
        assert_eq!(
            validated_error_type(Some("Runtime.x Runtime.Ok")),
            "Runtime.x Runtime.Ok"
        );
    }

    #[test]
    fn json_bodies_pass_through_byte_for_byte() {
        let body = Bytes::from_static(
            br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":["a"]}"#,
        );
        match posted_error(Some("Unhandled"), Some("application/json"), body.clone()) {
            InvokeOutcome::FunctionError {
                error_type,
                body: out,
            } => {
                assert_eq!(error_type, RUNTIME_UNKNOWN);
                assert_eq!(out, body);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_body_that_is_not_json_is_wrapped() {
        let (error_type, body) = parts(posted_error(
            Some("Runtime.Crash"),
            None,
            Bytes::from_static(b"segfault \"here\""),
        ));
        assert_eq!(error_type, "Runtime.Crash");
        assert_eq!(
            body,
            json!({"errorMessage": "segfault \"here\"", "errorType": "Runtime.Crash"})
        );
    }

    #[test]
    fn an_empty_or_binary_body_is_wrapped_too() {
        let (_, empty) = parts(posted_error(None, None, Bytes::new()));
        assert_eq!(
            empty,
            json!({"errorMessage": "", "errorType": RUNTIME_UNKNOWN})
        );
        let (_, binary) = parts(posted_error(None, None, Bytes::from_static(&[0xff, b'a'])));
        assert_eq!(binary["errorMessage"], "\u{fffd}a");
    }

    #[test]
    fn error_cause_bodies_are_filtered() {
        let body = json!({
            "errorMessage": "m", "errorType": "T", "stackTrace": ["l1", "l2"],
            "errorCause": {"paths": [], "working_directory": "/", "exceptions": []}
        });
        let (_, out) = parts(posted_error(
            Some("Runtime.X1"),
            Some(ERROR_CAUSE_CONTENT_TYPE),
            Bytes::from(body.to_string()),
        ));
        assert_eq!(
            out,
            json!({"errorMessage": "m", "errorType": "T", "stackTrace": ["l1", "l2"]})
        );
        let (_, no_stack) = parts(posted_error(
            None,
            Some(ERROR_CAUSE_CONTENT_TYPE),
            Bytes::from_static(br#"{"errorMessage":"m","errorType":"T"}"#),
        ));
        assert_eq!(no_stack, json!({"errorMessage": "m", "errorType": "T"}));
    }

    #[test]
    fn an_unparsable_error_cause_body_says_so() {
        let (error_type, out) = parts(posted_error(
            Some("Runtime.Bad"),
            Some(ERROR_CAUSE_CONTENT_TYPE),
            Bytes::from_static(b"[1,2"),
        ));
        assert_eq!(error_type, "Runtime.Bad");
        assert_eq!(
            out,
            json!({"errorMessage": "Invalid error body", "errorType": "Runtime.Bad"})
        );
    }

    #[test]
    fn too_large_uses_the_services_wording() {
        let (error_type, out) = parts(response_too_large(6_291_556));
        assert_eq!(error_type, FUNCTION_RESPONSE_SIZE_TOO_LARGE);
        assert_eq!(
            out,
            json!({
                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                "errorType": "Function.ResponseSizeTooLarge"
            })
        );
    }

    #[test]
    fn truncated_names_the_request() {
        let (error_type, out) = parts(truncated_response("r-1"));
        assert_eq!(error_type, RUNTIME_TRUNCATED_RESPONSE);
        assert!(
            out["errorMessage"]
                .as_str()
                .is_some_and(|m| m.starts_with("RequestId: r-1 Error: "))
        );
    }
}
