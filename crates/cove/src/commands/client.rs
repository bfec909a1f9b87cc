//! The HTTP client of the API commands (`cove network|peering|tenant|token|ip-pool`
//! with `--server`, and `cove fn …` with `--server`):
//! `--server URL --token T` (or `COVE_SERVER` / `COVE_TOKEN`), JSON in and out, the
//! API's error document turned into an error naming its code, field, hint and
//! request id (the same for the in-process calls of embedded mode, `embedded.rs`).

use serde_json::Value;

/// Where the API is and who calls it.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The API's base URL (`http://127.0.0.1:9100`).
    pub server: String,
    /// An API token (`cove_…`).
    pub token: String,
    /// Print the API's JSON answer.
    pub json: bool,
}

/// `--server` / `--token` of a command that also works without a server (on the
/// local deployment): with a server (or `COVE_SERVER`) it goes through the API.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Remote {
    /// The API's base URL (`http://127.0.0.1:9001`): work through it instead of on
    /// the local deployment.
    #[arg(long, env = "COVE_SERVER")]
    pub server: Option<String>,
    /// An API token (`cove_…`) for `--server`.
    #[arg(long, env = "COVE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl Remote {
    /// The connection when `--server` is given (`None`: work locally).
    pub fn conn(&self, json: bool) -> Result<Option<Conn>, crate::input::InputError> {
        let Some(server) = &self.server else {
            return Ok(None);
        };
        let token = self
            .token
            .clone()
            .ok_or_else(|| crate::input::InputError::Argument {
                what: "--token",
                text: String::new(),
                hint: "--server needs an API token: give --token cove_… or set COVE_TOKEN"
                    .to_owned(),
            })?;
        Ok(Some(Conn {
            server: server.clone(),
            token,
            json,
        }))
    }
}

/// Failures of an API call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached or answered garbage.
    #[error("cannot {method} {url}")]
    Transport {
        /// The method.
        method: &'static str,
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: ureq::Error,
    },
    /// The answer is not JSON.
    #[error("{method} {url} answered {status} with a body that is not JSON")]
    NotJson {
        /// The method.
        method: &'static str,
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// An in-process call (embedded mode) could not be made.
    #[error("the embedded API call failed")]
    Local {
        /// The cause.
        #[source]
        source: cove_api::local::LocalError,
    },
    /// The API refused the request.
    #[error("{code}: {message}{}{} (HTTP {status}, request {request_id})\nhint: {hint}",
        .field.as_ref().map(|f| format!(" (field `{f}`)")).unwrap_or_default(), "")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's error code.
        code: String,
        /// Its message.
        message: String,
        /// The field, if any.
        field: Option<String>,
        /// How to fix it.
        hint: String,
        /// The request id.
        request_id: String,
    },
}

/// A request body.
enum Body<'a> {
    /// None.
    Empty,
    /// JSON.
    Json(&'a Value),
    /// Text with its content type (a YAML or JSON spec as written).
    Text(&'a str, &'a str),
}

impl Conn {
    /// Sends `method path` with an optional JSON body; answers the JSON body of a
    /// 2xx answer.
    pub fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let body = match (method, body) {
            ("GET" | "DELETE", _) | ("POST", None) => Body::Empty,
            (_, Some(b)) => Body::Json(b),
            (_, None) => Body::Json(&Value::Null),
        };
        self.send(method, path, body)
    }

    /// Sends `text` (of `content_type`) as the body of `method path`; answers the
    /// JSON body of a 2xx answer.
    pub fn call_text(
        &self,
        method: &'static str,
        path: &str,
        content_type: &str,
        text: &str,
    ) -> Result<Value, ClientError> {
        self.send(method, path, Body::Text(content_type, text))
    }

    fn send(&self, method: &'static str, path: &str, body: Body<'_>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.server.trim_end_matches('/'));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let auth = format!("Bearer {}", self.token);
        let transport = |source| ClientError::Transport {
            method,
            url: url.clone(),
            source,
        };
        let sent = match (method, body) {
            ("GET", _) => agent.get(&url).header("authorization", &auth).call(),
            ("DELETE", _) => agent.delete(&url).header("authorization", &auth).call(),
            (m, body) => {
                let r = match m {
                    "POST" => agent.post(&url),
                    "PATCH" => agent.patch(&url),
                    _ => agent.put(&url),
                }
                .header("authorization", &auth);
                match body {
                    Body::Empty => r.send_empty(),
                    Body::Json(b) => r.send_json(b),
                    Body::Text(ct, text) => r.header("content-type", ct).send(text),
                }
            }
        };
        let mut resp = sent.map_err(transport)?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|source| ClientError::Transport {
                method,
                url: url.clone(),
                source,
            })?;
        parse_answer(method, &url, status, &text)
    }

    /// Sends `method path` with a raw body of `content_type` and extra headers;
    /// answers the status, the headers asked for in `want` and the raw body of a 2xx
    /// answer (an error answer is the API's error).
    pub fn call_raw(
        &self,
        method: &'static str,
        path: &str,
        body: &[u8],
        headers: &[(&str, &str)],
        want: &[&str],
    ) -> Result<Raw, ClientError> {
        let url = format!("{}{path}", self.server.trim_end_matches('/'));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let auth = format!("Bearer {}", self.token);
        let transport = |source| ClientError::Transport {
            method,
            url: url.clone(),
            source,
        };
        let sent = if method == "GET" {
            let mut r = agent.get(&url).header("authorization", &auth);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call()
        } else {
            let mut r = agent.post(&url).header("authorization", &auth);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send(body)
        };
        let mut resp = sent.map_err(transport)?;
        let status = resp.status().as_u16();
        let got: Vec<(String, String)> = want
            .iter()
            .filter_map(|k| {
                let v = resp.headers().get(*k)?.to_str().ok()?;
                Some(((*k).to_owned(), v.to_owned()))
            })
            .collect();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .map_err(transport)?;
        if (200..300).contains(&status) {
            return Ok(Raw {
                status,
                headers: got,
                body: bytes,
            });
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|source| ClientError::NotJson {
            method,
            url: url.clone(),
            status,
            source,
        })?;
        Err(api_error(status, &v))
    }

    /// Prints `v` as JSON with `--json`, else `text(v)`.
    pub fn print(&self, v: &Value, text: impl FnOnce(&Value) -> String) {
        if self.json {
            crate::output::outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            crate::output::out!("{}", text(v));
        }
    }
}

/// The JSON body of a 2xx answer (`null` for 204), or the API's error.
pub fn parse_answer(
    method: &'static str,
    url: &str,
    status: u16,
    text: &str,
) -> Result<Value, ClientError> {
    if text.trim().is_empty() && (200..300).contains(&status) {
        // 204 No Content (a delete).
        return Ok(Value::Null);
    }
    let v: Value = serde_json::from_str(text).map_err(|source| ClientError::NotJson {
        method,
        url: url.to_owned(),
        status,
        source,
    })?;
    if (200..300).contains(&status) {
        return Ok(v);
    }
    Err(api_error(status, &v))
}

/// A raw answer: status, the headers asked for, body.
#[derive(Debug, Clone)]
pub struct Raw {
    /// HTTP status.
    pub status: u16,
    /// `(name, value)` of the headers asked for that were present.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Raw {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The API's error document as an error.
fn api_error(status: u16, v: &Value) -> ClientError {
    let e = &v["error"];
    let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
    ClientError::Api {
        status,
        code: s("code"),
        message: s("message"),
        field: e["field"].as_str().map(str::to_owned),
        hint: s("hint"),
        request_id: s("request_id"),
    }
}

/// A JSON field as text (`-` when absent).
pub fn field(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

/// Rows of `keys` for each object of a list, as a table.
pub fn table(list: &Value, keys: &[&str]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::NOTHING);
    t.set_header(keys.iter().map(|k| k.to_uppercase()));
    for v in list.as_array().map(Vec::as_slice).unwrap_or_default() {
        t.add_row(keys.iter().map(|k| field(v, k)));
    }
    format!("{t}\n")
}

/// `key: value` lines of an object.
pub fn lines(v: &Value, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("{k}: {}\n", field(v, k)))
        .collect()
}
