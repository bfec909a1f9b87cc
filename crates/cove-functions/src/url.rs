//! Function URLs: an HTTP request becomes an API Gateway HTTP API (payload format
//! 2.0) event, and the function's answer becomes the HTTP response, as Lambda's
//! function URLs do. Pure.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The parts of an HTTP request a function URL event carries.
#[derive(Debug, Clone, Default)]
pub struct UrlRequest {
    /// Method (`GET`).
    pub method: String,
    /// Path after the function's URL prefix, starting with `/`.
    pub path: String,
    /// Raw query string (without `?`).
    pub query: String,
    /// Headers as received (names in any case, repeated names allowed).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Client address.
    pub source_ip: String,
    /// Protocol (`HTTP/1.1`).
    pub protocol: String,
    /// Request id.
    pub request_id: String,
    /// Milliseconds since the Unix epoch.
    pub time_epoch_ms: u64,
    /// The URL's id (`<url-id>` of `<url-id>.lambda-url.<region>.on.aws`).
    pub url_id: String,
    /// The domain the request was addressed to.
    pub domain: String,
}

/// The HTTP response a function's answer becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlResponse {
    /// Status code.
    pub status: u16,
    /// Headers (`Set-Cookie` once per cookie).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Whether a body is text Lambda passes as is (otherwise base64).
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let ct = ct.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("javascript")
        || ct.contains("x-www-form-urlencoded")
}

/// The payload-2.0 event for `req`.
pub fn event(req: &UrlRequest) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (k, v) in &req.headers {
        let k = k.to_ascii_lowercase();
        if k == "cookie" {
            cookies.extend(
                v.split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        headers
            .entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(v);
            })
            .or_insert_with(|| v.clone());
    }
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in req.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        query
            .entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let text = is_text(headers.get("content-type").map(String::as_str));
    let (body, b64) = if req.body.is_empty() {
        (Value::Null, false)
    } else if text && std::str::from_utf8(&req.body).is_ok() {
        (
            Value::String(String::from_utf8_lossy(&req.body).into_owned()),
            false,
        )
    } else {
        (
            Value::String(base64::engine::general_purpose::STANDARD.encode(&req.body)),
            true,
        )
    };
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let mut ev = Map::new();
    ev.insert("version".into(), json!("2.0"));
    ev.insert("routeKey".into(), json!("$default"));
    ev.insert("rawPath".into(), json!(req.path));
    ev.insert("rawQueryString".into(), json!(req.query));
    if !cookies.is_empty() {
        ev.insert("cookies".into(), json!(cookies));
    }
    ev.insert("headers".into(), json!(headers));
    if !query.is_empty() {
        ev.insert("queryStringParameters".into(), json!(query));
    }
    ev.insert(
        "requestContext".into(),
        json!({
            "accountId": "anonymous",
            "apiId": req.url_id,
            "domainName": req.domain,
            "domainPrefix": req.url_id,
            "http": {
                "method": req.method,
                "path": req.path,
                "protocol": req.protocol,
                "sourceIp": req.source_ip,
                "userAgent": user_agent,
            },
            "requestId": req.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": clf_time(req.time_epoch_ms),
            "timeEpoch": req.time_epoch_ms,
        }),
    );
    if !body.is_null() {
        ev.insert("body".into(), body);
    }
    ev.insert("isBase64Encoded".into(), json!(b64));
    Value::Object(ev)
}

/// The HTTP response for a function's successful answer: an object with
/// `statusCode` is taken apart (`headers`, `cookies`, `body`, `isBase64Encoded`);
/// anything else that is JSON is returned as a 200 `application/json` body.
pub fn response(answer: &[u8]) -> UrlResponse {
    let parsed: Option<Value> = serde_json::from_slice(answer).ok();
    let Some(Value::Object(obj)) = parsed.as_ref().filter(|v| v.get("statusCode").is_some()) else {
        let body = match &parsed {
            // A bare JSON string is the body itself.
            Some(Value::String(s)) => s.clone().into_bytes(),
            _ => answer.to_vec(),
        };
        return UrlResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        };
    };
    let status = obj
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..600).contains(s))
        .unwrap_or(500);
    let mut headers = Vec::new();
    if let Some(Value::Object(h)) = obj.get("headers") {
        for (k, v) in h {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            headers.push((k.to_ascii_lowercase(), v));
        }
    }
    if let Some(Value::Array(cs)) = obj.get("cookies") {
        for c in cs.iter().filter_map(Value::as_str) {
            headers.push(("set-cookie".into(), c.to_owned()));
        }
    }
    let raw = match obj.get("body") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let b64 = obj
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = if b64 {
        base64::engine::general_purpose::STANDARD
            .decode(raw.as_bytes())
            .unwrap_or_else(|_| raw.into_bytes())
    } else {
        raw.into_bytes()
    };
    if !headers.iter().any(|(k, _)| k == "content-type") && !body.is_empty() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    UrlResponse {
        status,
        headers,
        body,
    }
}

/// `%XX` escapes and `+` (as a space) decoded; invalid escapes kept as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `epoch_s` (seconds since the Unix epoch) as Lambda writes a function URL's
/// `CreationTime` (`2021-10-31T12:00:00.000Z`).
pub fn creation_time(epoch_s: u64) -> String {
    cove_runtime_api::payloads::rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch_s),
    )
}

/// API Gateway's request time: `12/Mar/2020:19:03:58 +0000`.
fn clf_time(epoch_ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (y, m, d) = cove_runtime_api::payloads::civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000",
        MONTHS[usize::try_from(m.saturating_sub(1)).unwrap_or(0) % 12],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> UrlRequest {
        UrlRequest {
            method: "POST".into(),
            path: "/orders/7".into(),
            query: "a=1&b=x%20y&a=2".into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Cookie".into(), "s=1; t=2".into()),
                ("X-Multi".into(), "a".into()),
                ("x-multi".into(), "b".into()),
                ("User-Agent".into(), "curl/8".into()),
            ],
            body: br#"{"n":1}"#.to_vec(),
            source_ip: "10.20.1.5".into(),
            protocol: "HTTP/1.1".into(),
            request_id: "r-1".into(),
            time_epoch_ms: 1_583_348_638_390,
            url_id: "api".into(),
            domain: "api.lambda-url.us-east-1.on.aws".into(),
        }
    }

    #[test]
    fn request_becomes_a_payload_2_event() {
        let ev = event(&req());
        assert_eq!(ev["version"], "2.0");
        assert_eq!(ev["rawPath"], "/orders/7");
        assert_eq!(ev["rawQueryString"], "a=1&b=x%20y&a=2");
        assert_eq!(ev["queryStringParameters"]["a"], "1,2");
        assert_eq!(ev["queryStringParameters"]["b"], "x y");
        assert_eq!(ev["headers"]["x-multi"], "a,b");
        assert!(ev["headers"].get("cookie").is_none());
        assert_eq!(ev["cookies"], json!(["s=1", "t=2"]));
        assert_eq!(ev["requestContext"]["http"]["method"], "POST");
        assert_eq!(ev["requestContext"]["http"]["userAgent"], "curl/8");
        assert_eq!(ev["requestContext"]["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(ev["body"], r#"{"n":1}"#);
        assert_eq!(ev["isBase64Encoded"], false);
        let mut bin = req();
        bin.headers = vec![("content-type".into(), "application/octet-stream".into())];
        bin.body = vec![0, 255, 1];
        let ev = event(&bin);
        assert_eq!(ev["isBase64Encoded"], true);
        assert_eq!(ev["body"], "AP8B");
    }

    #[test]
    fn answers_become_http_responses() {
        let r = response(
            br#"{"statusCode":201,"headers":{"X-A":"1"},"cookies":["c=1"],"body":"made"}"#,
        );
        assert_eq!(r.status, 201);
        assert!(r.headers.contains(&("x-a".into(), "1".into())));
        assert!(r.headers.contains(&("set-cookie".into(), "c=1".into())));
        assert_eq!(r.body, b"made");
        let r = response(br#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#);
        assert_eq!(r.body, b"hi");
        // Without statusCode: the JSON itself, 200.
        let r = response(br#"{"ok":true}"#);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, br#"{"ok":true}"#.as_slice())
        );
        let r = response(br#""plain""#);
        assert_eq!(r.body, b"plain");
    }
}
