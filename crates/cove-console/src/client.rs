//! The console's only way to the control plane: the API's own routes, called
//! in-process with the session's bearer token ([`cove_api::local::call_bearer`]),
//! so every page sees exactly what the token may see over HTTP.

use cove_api::ApiState;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An API refusal, as the API words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// The error code (`InvalidVpc.Range`, …).
    pub code: String,
    /// What was wrong.
    pub message: String,
    /// The field at fault, if any.
    pub field: Option<String>,
    /// What to do.
    pub hint: String,
}

impl Refusal {
    fn internal(message: impl Into<String>) -> Refusal {
        Refusal {
            status: 500,
            code: "InternalError".to_owned(),
            message: message.into(),
            field: None,
            hint: "try again; the server's log has the cause".to_owned(),
        }
    }

    /// Whether the token is no longer valid (the session must end).
    pub fn is_auth(&self) -> bool {
        self.status == 401
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field `{field}`)")?;
        }
        if !self.hint.is_empty() {
            write!(f, " — {}", self.hint)?;
        }
        Ok(())
    }
}

/// Calls the API as one token.
#[derive(Debug, Clone)]
pub struct Client<'a> {
    api: &'a ApiState,
    token: &'a str,
}

impl<'a> Client<'a> {
    /// A client of `api` acting with `token`.
    pub fn new(api: &'a ApiState, token: &'a str) -> Client<'a> {
        Client { api, token }
    }

    /// Sends `method path` with an optional JSON body; the answer's JSON (or
    /// `null` for an empty one).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Refusal> {
        let (ct, bytes) = match body {
            Some(b) => (Some("application/json"), b.to_string().into_bytes()),
            None => (None, Vec::new()),
        };
        self.raw(method, path, ct, bytes).await
    }

    /// Sends a body of `content_type`.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Value, Refusal> {
        let ans =
            cove_api::local::call_bearer(self.api, self.token, method, path, content_type, body)
                .await
                .map_err(|e| Refusal::internal(e.to_string()))?;
        let json: Value = if ans.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&ans.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&ans.body).into_owned()))
        };
        if ans.status >= 400 {
            let e = &json["error"];
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            return Err(Refusal {
                status: ans.status,
                code: if text("code").is_empty() {
                    format!("HTTP{}", ans.status)
                } else {
                    text("code")
                },
                message: text("message"),
                field: e["field"].as_str().map(str::to_owned),
                hint: text("hint"),
            });
        }
        Ok(json)
    }

    /// `GET path`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Refusal> {
        let v = self.send("GET", path, None).await?;
        serde_json::from_value(v).map_err(|e| Refusal::internal(format!("{path}: {e}")))
    }
}

/// `text` percent-encoded for a URL query value.
pub fn query_value(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                s.push(char::from(b));
            }
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query_value("a/b c&d=é"), "a%2Fb%20c%26d%3D%C3%A9");
        assert_eq!(query_value("10.0.0.1"), "10.0.0.1");
    }

    #[test]
    fn a_refusal_names_its_field_and_hint() {
        let r = Refusal {
            status: 400,
            code: "InvalidVpc.Range".into(),
            message: "the block is too big".into(),
            field: Some("cidr".into()),
            hint: "use /16 to /28".into(),
        };
        assert_eq!(
            r.to_string(),
            "InvalidVpc.Range: the block is too big (field `cidr`) — use /16 to /28"
        );
        assert!(!r.is_auth());
    }
}
