//! What a private API does with one request, pure: which API (the `Host`
//! `<api-id>.execute-api.<region>.amazonaws.com`, or the `x-apigw-api-id`
//! header), whether its resource policy lets the caller invoke it (on the
//! endpoint and VPC the request came through), the CORS preflight, and the route.
//! The order is API Gateway's: an unknown API and a refused caller get `403`
//! before anything else is revealed; a path no route matches gets `404`.

use std::collections::BTreeMap;

use cove_model::bucket_policy::{Decision, Policy, RequestContext};
use cove_model::http_api::{Cors, PathParams, RouteKey, select};

/// One API as the gateway serves it.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Its id.
    pub id: String,
    /// Its ARN (`arn:aws:execute-api:<region>:<account>:<id>`).
    pub arn: String,
    /// The owner's account id (`requestContext.accountId`).
    pub account: String,
    /// Routes and the function each invokes (`tenant/name`).
    pub routes: Vec<(RouteKey, String)>,
    /// CORS, if configured.
    pub cors: Option<Cors>,
    /// The resource policy.
    pub policy: Policy,
}

/// The gateway's APIs by id.
pub type Apis = BTreeMap<String, ApiConfig>;

/// The parts of a request the decision needs.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// The method.
    pub method: &'a str,
    /// The path (not decoded).
    pub path: &'a str,
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// The `x-apigw-api-id` header.
    pub api_id: Option<&'a str>,
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// `Access-Control-Request-Method`.
    pub preflight_method: Option<&'a str>,
    /// `Access-Control-Request-Headers`.
    pub preflight_headers: Option<&'a str>,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// Answer with this status and JSON body, invoking nothing.
    Refuse {
        /// The status.
        status: u16,
        /// The body.
        body: String,
    },
    /// A CORS preflight: `204` with these headers.
    Preflight {
        /// The CORS headers (none: the origin, method or a header is not allowed).
        headers: Vec<(String, String)>,
    },
    /// Invoke a function.
    Invoke {
        /// The API's id.
        api: String,
        /// The function (`tenant/name`).
        function: String,
        /// The route key that matched.
        route_key: String,
        /// The path parameters.
        params: PathParams,
        /// CORS headers to add to the answer.
        cors: Vec<(String, String)>,
    },
}

/// The API id a request names: the first label of an
/// `<id>.execute-api.<region>.amazonaws.com` host (or of the endpoint-specific
/// `<id>-<vpce-id>.execute-api…`), else the `x-apigw-api-id` header.
pub fn api_id_of(req: &Request<'_>) -> Option<String> {
    req.host
        .and_then(cove_model::dns::api_id_of_host)
        .or_else(|| req.api_id.map(str::to_ascii_lowercase))
}

fn refuse(status: u16, message: &str) -> Dispatch {
    Dispatch::Refuse {
        status,
        body: serde_json::json!({ "message": message }).to_string(),
    }
}

/// The decision for `req`, coming from `cx`.
pub fn dispatch(apis: &Apis, req: &Request<'_>, cx: &RequestContext) -> Dispatch {
    let Some(api) = api_id_of(req).and_then(|id| apis.get(&id)) else {
        return refuse(403, "Forbidden");
    };
    let resource = format!(
        "{}/$default/{}/{}",
        api.arn,
        req.method,
        req.path.trim_start_matches('/')
    );
    match api
        .policy
        .decide(cx, "execute-api:Invoke", &resource, false)
    {
        Decision::Allow => {}
        Decision::ImplicitDeny => {
            return refuse(
                403,
                &format!(
                    "User: anonymous is not authorized to perform: execute-api:Invoke on resource: {resource}"
                ),
            );
        }
        Decision::ExplicitDeny(_) => {
            return refuse(
                403,
                &format!(
                    "User: anonymous is not authorized to perform: execute-api:Invoke on resource: {resource} with an explicit deny"
                ),
            );
        }
    }
    if let (Some(cors), "OPTIONS", Some(origin), Some(method)) =
        (&api.cors, req.method, req.origin, req.preflight_method)
    {
        return Dispatch::Preflight {
            headers: cors
                .preflight(origin, method, req.preflight_headers.unwrap_or(""))
                .unwrap_or_default(),
        };
    }
    let Some((key, function, params)) =
        select(api.routes.iter().map(|(k, f)| (k, f)), req.method, req.path)
    else {
        return refuse(404, "Not Found");
    };
    Dispatch::Invoke {
        api: api.id.clone(),
        function: function.clone(),
        route_key: key.to_string(),
        params,
        cors: match (&api.cors, req.origin) {
            (Some(c), Some(o)) => c.response_headers(o),
            _ => Vec::new(),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use cove_model::bucket_policy::PolicyKind;

    const ARN: &str = "arn:aws:execute-api:us-east-1:111111111111:a1b2c3d4e5";

    fn apis() -> Apis {
        let policy = Policy::parse_as(
            r#"{"Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
                 "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-good"}}},
                {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/DELETE/*"}]}"#,
            PolicyKind::Api { arn: ARN },
        )
        .unwrap();
        let api = ApiConfig {
            id: "a1b2c3d4e5".into(),
            arn: ARN.into(),
            account: "111111111111".into(),
            routes: vec![
                (
                    RouteKey::parse("GET /items/{id}").unwrap(),
                    "t/items".into(),
                ),
                (
                    RouteKey::parse("DELETE /items/{id}").unwrap(),
                    "t/items".into(),
                ),
            ],
            cors: Some(Cors {
                allow_origins: vec!["http://spa.example".into()],
                allow_methods: vec!["GET".into()],
                ..Cors::default()
            }),
            policy,
        };
        BTreeMap::from([(api.id.clone(), api)])
    }

    fn from(vpce: &str) -> RequestContext {
        RequestContext {
            source_vpce: Some(vpce.into()),
            ..RequestContext::default()
        }
    }

    fn get<'a>(path: &'a str) -> Request<'a> {
        Request {
            method: "GET",
            path,
            host: Some("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"),
            ..Request::default()
        }
    }

    #[test]
    fn a_request_through_the_allowed_endpoint_invokes_its_route() {
        let d = dispatch(&apis(), &get("/items/7"), &from("vpce-good"));
        let Dispatch::Invoke {
            function,
            route_key,
            params,
            ..
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(
            (function.as_str(), route_key.as_str()),
            ("t/items", "GET /items/{id}")
        );
        assert_eq!(params, [("id".to_owned(), "7".to_owned())]);
        // The API named by header, through the endpoint's own DNS name.
        let mut r = get("/items/7");
        r.host = Some("vpce-good-123.execute-api.us-east-1.vpce.amazonaws.com");
        r.api_id = Some("a1b2c3d4e5");
        assert!(matches!(
            dispatch(&apis(), &r, &from("vpce-good")),
            Dispatch::Invoke { .. }
        ));
        r.host = Some("a1b2c3d4e5-vpce-good.execute-api.us-east-1.amazonaws.com");
        r.api_id = None;
        assert!(matches!(
            dispatch(&apis(), &r, &from("vpce-good")),
            Dispatch::Invoke { .. }
        ));
    }

    #[test]
    fn others_are_refused_before_anything_is_revealed() {
        let a = apis();
        let Dispatch::Refuse { status, body } = dispatch(&a, &get("/items/7"), &from("vpce-bad"))
        else {
            panic!()
        };
        assert_eq!(status, 403);
        assert!(body.contains("not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:111111111111:a1b2c3d4e5/$default/GET/items/7\""), "{body}");
        // Even a path with no route: 403, not 404.
        assert!(matches!(
            dispatch(&a, &get("/nothing"), &from("vpce-bad")),
            Dispatch::Refuse { status: 403, .. }
        ));
        let mut del = get("/items/7");
        del.method = "DELETE";
        let Dispatch::Refuse { body, .. } = dispatch(&a, &del, &from("vpce-good")) else {
            panic!()
        };
        assert!(body.contains("with an explicit deny"), "{body}");
        let mut unknown = get("/items/7");
        unknown.host = Some("zzzzzzzzzz.execute-api.us-east-1.amazonaws.com");
        assert_eq!(
            dispatch(&a, &unknown, &from("vpce-good")),
            Dispatch::Refuse {
                status: 403,
                body: r#"{"message":"Forbidden"}"#.into()
            }
        );
        assert!(matches!(
            dispatch(&a, &get("/nothing"), &from("vpce-good")),
            Dispatch::Refuse { status: 404, .. }
        ));
    }

    #[test]
    fn cors_preflights_are_answered_by_the_api() {
        let mut r = get("/items/7");
        r.method = "OPTIONS";
        r.origin = Some("http://spa.example");
        r.preflight_method = Some("GET");
        // The policy allows OPTIONS through the good endpoint too.
        let Dispatch::Preflight { headers } = dispatch(&apis(), &r, &from("vpce-good")) else {
            panic!()
        };
        assert!(headers.contains(&(
            "access-control-allow-origin".into(),
            "http://spa.example".into()
        )));
        r.origin = Some("http://evil.example");
        assert_eq!(
            dispatch(&apis(), &r, &from("vpce-good")),
            Dispatch::Preflight { headers: vec![] }
        );
        let mut g = get("/items/7");
        g.origin = Some("http://spa.example");
        let Dispatch::Invoke { cors, .. } = dispatch(&apis(), &g, &from("vpce-good")) else {
            panic!()
        };
        assert_eq!(
            cors,
            [(
                "access-control-allow-origin".to_owned(),
                "http://spa.example".to_owned()
            )]
        );
    }
}
