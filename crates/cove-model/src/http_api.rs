//! Private HTTP APIs (issue 15), pure: API Gateway's HTTP API route keys
//! (`GET /items/{id}`, `ANY /files/{path+}`, `$default`) and how a request picks
//! its route, CORS as an HTTP API configures it, and the validated API.
//!
//! Route selection is API Gateway's: the most specific route whose path matches
//! wins — at the first segment where two candidates differ, a literal beats a
//! `{param}`, which beats a greedy `{param+}`; then a route naming the method beats
//! `ANY`; `$default` catches what nothing else matches.

use serde::Serialize;

use crate::bucket_policy::Policy;
use crate::model::{FunctionId, TenantId};

/// The id of tenant `tenant`'s API `api`: its own, else 10 base-36 characters
/// of a hash of its path.
pub fn api_id(tenant: &str, api: &crate::spec::ApiSpec) -> String {
    use sha2::Digest as _;
    if let Some(id) = &api.id {
        return id.clone();
    }
    let d = sha2::Sha256::digest(format!("api:{tenant}/{}", api.name).as_bytes());
    d.iter()
        .take(10)
        .map(|b| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[usize::from(*b) % 36]))
        .collect()
}

/// The methods a route may name (`ANY`: all of them).
pub const METHODS: [&str; 8] = [
    "ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT",
];

/// One path segment of a route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Segment {
    /// Matches itself.
    Literal(String),
    /// `{name}`: one segment, given to the function as `pathParameters.name`.
    Param(String),
    /// `{name+}`: the rest of the path (last segment only).
    Greedy(String),
}

/// A route key as API Gateway writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RouteKey {
    /// `$default`: what no other route matches.
    Default,
    /// `METHOD /path`.
    Route {
        /// `None` for `ANY`.
        method: Option<String>,
        /// The path's segments.
        path: Vec<Segment>,
    },
}

/// A route key that API Gateway would refuse, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRouteKey(pub String);

impl RouteKey {
    /// Parses `GET /items/{id}`, `ANY /{proxy+}` or `$default`.
    pub fn parse(text: &str) -> Result<RouteKey, BadRouteKey> {
        if text == "$default" {
            return Ok(RouteKey::Default);
        }
        let (method, path) = text.split_once(' ').ok_or_else(|| {
            BadRouteKey(format!(
                "route key `{text}` is not `METHOD /path` or `$default`: write e.g. `GET /items/{{id}}`"
            ))
        })?;
        if !METHODS.contains(&method) {
            return Err(BadRouteKey(format!(
                "method `{method}` is not one of {}",
                METHODS.join(", ")
            )));
        }
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| BadRouteKey(format!("path `{path}` must start with `/`")))?;
        let mut segments = Vec::new();
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let mut names = std::collections::BTreeSet::new();
        for (i, part) in parts.iter().enumerate() {
            let seg = if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}'))
            {
                let (name, greedy) = match inner.strip_suffix('+') {
                    Some(n) => (n, true),
                    None => (inner, false),
                };
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(BadRouteKey(format!(
                        "path parameter `{part}` needs a name of letters, digits, `_` or `-`"
                    )));
                }
                if !names.insert(name.to_owned()) {
                    return Err(BadRouteKey(format!(
                        "path parameter `{name}` appears twice"
                    )));
                }
                if greedy && i + 1 != parts.len() {
                    return Err(BadRouteKey(format!(
                        "greedy parameter `{part}` must be the last segment"
                    )));
                }
                if greedy {
                    Segment::Greedy(name.to_owned())
                } else {
                    Segment::Param(name.to_owned())
                }
            } else {
                if part.is_empty() || part.contains(['{', '}', ' ', '?', '#']) {
                    return Err(BadRouteKey(format!(
                        "path segment `{part}` is empty or has `{{`, `}}`, a space, `?` or `#`"
                    )));
                }
                Segment::Literal((*part).to_owned())
            };
            segments.push(seg);
        }
        Ok(RouteKey::Route {
            method: (method != "ANY").then(|| method.to_owned()),
            path: segments,
        })
    }

    /// The path parameters if `method` and `path` (`/a/b`, not decoded) match.
    fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        let RouteKey::Route {
            method: m,
            path: segs,
        } = self
        else {
            return Some(Vec::new());
        };
        if m.as_deref().is_some_and(|m| m != method) {
            return None;
        }
        let parts: Vec<&str> = match path.strip_prefix('/')? {
            "" => Vec::new(),
            rest => rest.split('/').collect(),
        };
        let mut params = Vec::new();
        for (i, seg) in segs.iter().enumerate() {
            match seg {
                Segment::Greedy(name) => {
                    let rest = parts.get(i..).filter(|r| !r.is_empty())?;
                    params.push((name.clone(), percent_decode(&rest.join("/"))));
                    return Some(params);
                }
                Segment::Literal(l) => {
                    if parts.get(i) != Some(&l.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let p = parts.get(i).filter(|p| !p.is_empty())?;
                    params.push((name.clone(), percent_decode(p)));
                }
            }
        }
        (parts.len() == segs.len()).then_some(params)
    }

    /// How specific the route is (greater: more), for comparing two matches.
    fn rank(&self) -> (u8, Vec<u8>, u8) {
        match self {
            RouteKey::Default => (0, Vec::new(), 0),
            RouteKey::Route { method, path } => (
                1,
                path.iter()
                    .map(|s| match s {
                        Segment::Literal(_) => 3,
                        Segment::Param(_) => 2,
                        Segment::Greedy(_) => 1,
                    })
                    .collect(),
                u8::from(method.is_some()),
            ),
        }
    }
}

impl std::fmt::Display for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteKey::Default => f.write_str("$default"),
            RouteKey::Route { method, path } => {
                write!(f, "{} /", method.as_deref().unwrap_or("ANY"))?;
                let parts: Vec<String> = path
                    .iter()
                    .map(|s| match s {
                        Segment::Literal(l) => l.clone(),
                        Segment::Param(p) => format!("{{{p}}}"),
                        Segment::Greedy(p) => format!("{{{p}+}}"),
                    })
                    .collect();
                f.write_str(&parts.join("/"))
            }
        }
    }
}

/// `%XX` escapes decoded; anything else (a `%` not followed by two hex digits)
/// kept as it is. `+` stays `+` (a path, not a form).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| {
            char::from(c)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        };
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Path parameters by name, as the route names them.
pub type PathParams = Vec<(String, String)>;

/// The route of `routes` (each key with what it leads to) a request picks, with
/// its path parameters.
pub fn select<'a, T>(
    routes: impl IntoIterator<Item = (&'a RouteKey, T)>,
    method: &str,
    path: &str,
) -> Option<(&'a RouteKey, T, PathParams)> {
    routes
        .into_iter()
        .filter_map(|(k, t)| k.matches(method, path).map(|p| (k, t, p)))
        .max_by(|a, b| a.0.rank().cmp(&b.0.rank()))
}

/// CORS as an HTTP API configures it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cors {
    /// Allowed origins (`https://app.example`, or `*`).
    pub allow_origins: Vec<String>,
    /// Allowed methods (or `*`).
    pub allow_methods: Vec<String>,
    /// Allowed request headers, lowercase (or `*`).
    pub allow_headers: Vec<String>,
    /// Response headers the browser may read.
    pub expose_headers: Vec<String>,
    /// Seconds a preflight answer is cached.
    pub max_age: Option<u32>,
    /// Whether credentials (cookies) are allowed.
    pub allow_credentials: bool,
}

impl Cors {
    /// The `Access-Control-Allow-Origin` value for a request from `origin`
    /// (`None`: that origin is not allowed).
    pub fn allow_origin(&self, origin: &str) -> Option<String> {
        if self.allow_origins.iter().any(|o| o == "*") && !self.allow_credentials {
            return Some("*".to_owned());
        }
        self.allow_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin) || o == "*")
            .then(|| origin.to_owned())
    }

    /// The headers of the answer to a preflight (`OPTIONS` with `origin`,
    /// `Access-Control-Request-Method` and `-Headers`); none when the origin,
    /// the method or a header is not allowed.
    pub fn preflight(
        &self,
        origin: &str,
        method: &str,
        headers: &str,
    ) -> Option<Vec<(String, String)>> {
        let allow_origin = self.allow_origin(origin)?;
        let any =
            |list: &[String], v: &str| list.iter().any(|m| m == "*" || m.eq_ignore_ascii_case(v));
        if !any(&self.allow_methods, method) {
            return None;
        }
        let asked: Vec<String> = headers
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if !asked.iter().all(|h| any(&self.allow_headers, h)) {
            return None;
        }
        let mut out = vec![
            ("access-control-allow-origin".to_owned(), allow_origin),
            (
                "access-control-allow-methods".to_owned(),
                self.allow_methods.join(","),
            ),
        ];
        if !asked.is_empty() {
            out.push(("access-control-allow-headers".to_owned(), asked.join(",")));
        }
        if let Some(age) = self.max_age {
            out.push(("access-control-max-age".to_owned(), age.to_string()));
        }
        if self.allow_credentials {
            out.push((
                "access-control-allow-credentials".to_owned(),
                "true".to_owned(),
            ));
        }
        Some(out)
    }

    /// The headers added to an actual response for a request from `origin`.
    pub fn response_headers(&self, origin: &str) -> Vec<(String, String)> {
        let Some(allow) = self.allow_origin(origin) else {
            return Vec::new();
        };
        let mut out = vec![("access-control-allow-origin".to_owned(), allow)];
        if !self.expose_headers.is_empty() {
            out.push((
                "access-control-expose-headers".to_owned(),
                self.expose_headers.join(","),
            ));
        }
        if self.allow_credentials {
            out.push((
                "access-control-allow-credentials".to_owned(),
                "true".to_owned(),
            ));
        }
        out
    }
}

/// One route of an API: its key and the function it invokes.
#[derive(Debug, Clone, Serialize)]
pub struct ApiRoute {
    /// The route key.
    pub key: RouteKey,
    /// The function integration (payload format 2.0).
    pub function: FunctionId,
}

/// A private HTTP API, as validated.
#[derive(Debug, Clone, Serialize)]
pub struct HttpApi {
    /// Its owner.
    pub tenant: TenantId,
    /// Its name (unique within the tenant).
    pub name: String,
    /// Its id (10 lowercase letters and digits), as in
    /// `<id>.execute-api.<region>.amazonaws.com`.
    pub id: String,
    /// Its region.
    pub region: String,
    /// Its routes.
    pub routes: Vec<ApiRoute>,
    /// Its CORS configuration, if any.
    pub cors: Option<Cors>,
    /// Its resource policy (compact JSON).
    pub policy_document: String,
    /// The same, parsed.
    #[serde(skip)]
    pub policy: Policy,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn routes(keys: &[&str]) -> Vec<(RouteKey, usize)> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| (RouteKey::parse(k).expect(k), i))
            .collect()
    }

    fn pick(
        r: &[(RouteKey, usize)],
        method: &str,
        path: &str,
    ) -> Option<(String, Vec<(String, String)>)> {
        select(r.iter().map(|(k, t)| (k, t)), method, path).map(|(k, _, p)| (k.to_string(), p))
    }

    #[test]
    fn the_most_specific_route_wins() {
        let r = routes(&[
            "GET /items/{id}",
            "GET /items/special",
            "ANY /items/{id}",
            "ANY /files/{path+}",
            "POST /items",
            "$default",
        ]);
        assert_eq!(
            pick(&r, "GET", "/items/42"),
            Some(("GET /items/{id}".into(), vec![("id".into(), "42".into())]))
        );
        assert_eq!(
            pick(&r, "GET", "/items/special").unwrap().0,
            "GET /items/special"
        );
        assert_eq!(
            pick(&r, "DELETE", "/items/42").unwrap().0,
            "ANY /items/{id}"
        );
        assert_eq!(
            pick(&r, "GET", "/files/a/b%20c.txt"),
            Some((
                "ANY /files/{path+}".into(),
                vec![("path".into(), "a/b c.txt".into())]
            ))
        );
        assert_eq!(pick(&r, "POST", "/items").unwrap().0, "POST /items");
        assert_eq!(pick(&r, "GET", "/items").unwrap().0, "$default");
        assert_eq!(pick(&r, "GET", "/items/42/more").unwrap().0, "$default");
        let strict = routes(&["GET /items/{id}"]);
        assert_eq!(pick(&strict, "GET", "/items/"), None);
        assert_eq!(pick(&strict, "PUT", "/items/1"), None);
        assert_eq!(pick(&routes(&["GET /"]), "GET", "/").unwrap().0, "GET /");
    }

    #[test]
    fn bad_route_keys_say_what_to_write() {
        for (k, want) in [
            ("/items", "METHOD /path"),
            ("FETCH /items", "not one of"),
            ("GET items", "must start with `/`"),
            ("GET /{a+}/b", "must be the last"),
            ("GET /{a}/{a}", "appears twice"),
            ("GET /{}", "needs a name"),
            ("GET /a//b", "is empty"),
        ] {
            let e = RouteKey::parse(k).expect_err(k).to_string();
            assert!(e.contains(want), "{k}: {e}");
        }
    }

    #[test]
    fn cors_preflight_and_responses() {
        let c = Cors {
            allow_origins: vec!["http://spa.example".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["content-type".into()],
            expose_headers: vec!["x-request-id".into()],
            max_age: Some(300),
            allow_credentials: false,
        };
        let h = c
            .preflight("http://spa.example", "POST", "Content-Type")
            .unwrap();
        assert!(h.contains(&(
            "access-control-allow-origin".into(),
            "http://spa.example".into()
        )));
        assert!(h.contains(&("access-control-max-age".into(), "300".into())));
        assert!(c.preflight("http://evil.example", "POST", "").is_none());
        assert!(c.preflight("http://spa.example", "DELETE", "").is_none());
        assert!(
            c.preflight("http://spa.example", "GET", "x-secret")
                .is_none()
        );
        assert_eq!(
            c.response_headers("http://spa.example")[1],
            (
                "access-control-expose-headers".into(),
                "x-request-id".into()
            )
        );
        assert!(c.response_headers("http://evil.example").is_empty());
        let any = Cors {
            allow_origins: vec!["*".into()],
            allow_methods: vec!["*".into()],
            ..Cors::default()
        };
        assert_eq!(any.allow_origin("http://x").as_deref(), Some("*"));
    }
}
