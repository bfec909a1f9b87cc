//! A function URL's CORS settings (Lambda's `Cors`), pure: parsed and checked
//! as Lambda checks them, then applied to requests as Lambda applies them — a
//! preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is
//! answered without invoking the function, and an answer to an allowed origin
//! carries the `Access-Control-*` headers the settings give (the function's own
//! are replaced).

use serde_json::Value;

/// Most origins, headers or methods one setting lists (Lambda's limit).
const MAX_ITEMS: usize = 100;

/// Longest `MaxAge`, in seconds (Lambda's limit).
const MAX_AGE_S: u64 = 86_400;

/// The methods a URL may allow.
const METHODS: [&str; 8] = [
    "GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS", "*",
];

/// A URL's CORS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
    /// Request headers a preflight allows (`*` for any).
    pub allow_headers: Vec<String>,
    /// Methods a preflight allows (`*` for any).
    pub allow_methods: Vec<String>,
    /// Origins allowed (`*` for any).
    pub allow_origins: Vec<String>,
    /// Response headers the browser may read.
    pub expose_headers: Vec<String>,
    /// How long a preflight's answer may be cached, in seconds.
    pub max_age: Option<u64>,
}

/// What is wrong with a `Cors` value: the field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Cors.{field}: {reason}")]
pub struct CorsError {
    /// The field (`AllowOrigins`, …).
    pub field: &'static str,
    /// Why it is refused.
    pub reason: String,
}

fn list(v: &Value, field: &'static str, max_len: usize) -> Result<Vec<String>, CorsError> {
    let bad = |reason: String| CorsError { field, reason };
    let Some(items) = v.get(field) else {
        return Ok(Vec::new());
    };
    if items.is_null() {
        return Ok(Vec::new());
    }
    let items = items
        .as_array()
        .ok_or_else(|| bad("must be a list of strings".to_owned()))?;
    if items.len() > MAX_ITEMS {
        return Err(bad(format!(
            "lists {} items; at most {MAX_ITEMS}",
            items.len()
        )));
    }
    items
        .iter()
        .map(|i| {
            let s = i
                .as_str()
                .ok_or_else(|| bad("must be a list of strings".to_owned()))?;
            if s.is_empty() || s.len() > max_len {
                return Err(bad(format!("`{s}` is not 1 to {max_len} characters")));
            }
            Ok(s.to_owned())
        })
        .collect()
}

impl Cors {
    /// The settings Lambda's `Cors` object gives (`AllowCredentials`,
    /// `AllowHeaders`, `AllowMethods`, `AllowOrigins`, `ExposeHeaders`, `MaxAge`).
    pub fn parse(v: &Value) -> Result<Cors, CorsError> {
        let obj = v.as_object().ok_or(CorsError {
            field: "Cors",
            reason: "must be an object".to_owned(),
        })?;
        const KNOWN: [&str; 6] = [
            "AllowCredentials",
            "AllowHeaders",
            "AllowMethods",
            "AllowOrigins",
            "ExposeHeaders",
            "MaxAge",
        ];
        if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(CorsError {
                field: "Cors",
                reason: format!("unknown field `{k}`; Lambda's are {}", KNOWN.join(", ")),
            });
        }
        let allow_credentials = match v.get("AllowCredentials") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(CorsError {
                    field: "AllowCredentials",
                    reason: "must be true or false".to_owned(),
                });
            }
        };
        let allow_methods = list(v, "AllowMethods", 6)?;
        if let Some(m) = allow_methods
            .iter()
            .find(|m| !METHODS.contains(&m.to_ascii_uppercase().as_str()))
        {
            return Err(CorsError {
                field: "AllowMethods",
                reason: format!("`{m}` is not an HTTP method; give {}", METHODS.join(", ")),
            });
        }
        let max_age = match v.get("MaxAge") {
            None | Some(Value::Null) => None,
            Some(n) => match n.as_u64().filter(|s| *s <= MAX_AGE_S) {
                Some(s) => Some(s),
                None => {
                    return Err(CorsError {
                        field: "MaxAge",
                        reason: format!("must be 0 to {MAX_AGE_S} seconds"),
                    });
                }
            },
        };
        Ok(Cors {
            allow_credentials,
            allow_headers: list(v, "AllowHeaders", 1024)?,
            allow_methods: allow_methods
                .into_iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
            allow_origins: list(v, "AllowOrigins", 253)?,
            expose_headers: list(v, "ExposeHeaders", 1024)?,
            max_age,
        })
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if
    /// that origin is allowed.
    fn allowed_origin(&self, origin: &str) -> Option<String> {
        let any = self.allow_origins.iter().any(|o| o == "*");
        if self
            .allow_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
        {
            return Some(origin.to_owned());
        }
        // With credentials a browser refuses `*`: the origin is named instead.
        any.then(|| {
            if self.allow_credentials {
                origin.to_owned()
            } else {
                "*".to_owned()
            }
        })
    }

    /// The CORS headers for `origin` (none when it is not allowed): the allowed
    /// origin, what `more` adds, credentials, `Vary`.
    fn headers(
        &self,
        origin: &str,
        more: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Vec<(String, String)> {
        let Some(allow) = self.allowed_origin(origin) else {
            return Vec::new();
        };
        let mut h = vec![("access-control-allow-origin".to_owned(), allow)];
        more(&mut h);
        if self.allow_credentials {
            h.push((
                "access-control-allow-credentials".to_owned(),
                "true".to_owned(),
            ));
        }
        h.push(("vary".to_owned(), "Origin".to_owned()));
        h
    }

    /// The answer's headers to a preflight from `origin` (none when the origin is
    /// not allowed: the browser then refuses the request).
    pub fn preflight(&self, origin: &str) -> Vec<(String, String)> {
        self.headers(origin, |h| {
            for (name, list) in [
                ("access-control-allow-methods", &self.allow_methods),
                ("access-control-allow-headers", &self.allow_headers),
            ] {
                if !list.is_empty() {
                    h.push((name.to_owned(), list.join(",")));
                }
            }
            if let Some(age) = self.max_age {
                h.push(("access-control-max-age".to_owned(), age.to_string()));
            }
        })
    }

    /// The headers an answer to a request from `origin` carries (none when the
    /// origin is not allowed).
    pub fn response(&self, origin: &str) -> Vec<(String, String)> {
        self.headers(origin, |h| {
            if !self.expose_headers.is_empty() {
                h.push((
                    "access-control-expose-headers".to_owned(),
                    self.expose_headers.join(","),
                ));
            }
        })
    }
}

/// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
pub fn is_preflight(method: &str, origin: Option<&str>, request_method: Option<&str>) -> bool {
    method.eq_ignore_ascii_case("OPTIONS") && origin.is_some() && request_method.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lambda_fields_parse_and_bad_ones_name_their_field() {
        let c = Cors::parse(&json!({
            "AllowOrigins": ["https://app.example.com"],
            "AllowMethods": ["get", "POST"],
            "AllowHeaders": ["content-type"],
            "ExposeHeaders": ["x-trace"],
            "MaxAge": 600,
            "AllowCredentials": true,
        }))
        .expect("valid");
        assert_eq!(c.allow_methods, ["GET", "POST"]);
        assert_eq!(c.max_age, Some(600));
        for (bad, field) in [
            (json!({"MaxAge": 86_401}), "MaxAge"),
            (json!({"AllowMethods": ["FETCH"]}), "AllowMethods"),
            (json!({"AllowOrigins": "*"}), "AllowOrigins"),
            (json!({"AllowOrigins": [""]}), "AllowOrigins"),
            (json!({"AllowCredentials": "yes"}), "AllowCredentials"),
            (json!({"Origins": ["*"]}), "Cors"),
            (json!(["*"]), "Cors"),
        ] {
            assert_eq!(Cors::parse(&bad).map_err(|e| e.field), Err(field), "{bad}");
        }
    }

    #[test]
    fn only_allowed_origins_get_headers() {
        let c = Cors::parse(&json!({
            "AllowOrigins": ["https://app.example.com"],
            "AllowMethods": ["GET"],
            "ExposeHeaders": ["x-trace"],
            "MaxAge": 60,
        }))
        .expect("valid");
        let pre = c.preflight("https://app.example.com");
        assert!(pre.contains(&(
            "access-control-allow-origin".to_owned(),
            "https://app.example.com".to_owned()
        )));
        assert!(pre.contains(&("access-control-max-age".to_owned(), "60".to_owned())));
        assert!(c.preflight("https://evil.example.net").is_empty());
        assert!(c.response("https://evil.example.net").is_empty());
        let resp = c.response("https://app.example.com");
        assert!(resp.contains(&(
            "access-control-expose-headers".to_owned(),
            "x-trace".to_owned()
        )));
    }

    #[test]
    fn a_wildcard_names_the_origin_only_with_credentials() {
        let any = Cors::parse(&json!({"AllowOrigins": ["*"]})).expect("valid");
        assert_eq!(any.response("https://a.example")[0].1, "*");
        let creds =
            Cors::parse(&json!({"AllowOrigins": ["*"], "AllowCredentials": true})).expect("valid");
        assert_eq!(
            creds.response("https://a.example")[0].1,
            "https://a.example"
        );
        assert!(is_preflight("OPTIONS", Some("https://a"), Some("GET")));
        assert!(!is_preflight("OPTIONS", Some("https://a"), None));
        assert!(!is_preflight("GET", Some("https://a"), Some("GET")));
    }
}
