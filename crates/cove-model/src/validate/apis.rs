//! Private HTTP APIs (issue 15), checked as API Gateway checks `CreateApi`,
//! `CreateRoute`, `CreateIntegration` and a private API's resource policy: ids
//! global across tenants (`ConflictException`), route keys it parses, one route
//! per key, integrations with a function of the tenant, CORS it accepts, and a
//! resource policy that cove can evaluate and names only the API's own resources
//! (`BadRequestException`, at the field inside the document).

use std::collections::BTreeMap;

use serde_json::Value;

use super::scope::Scopes;
use super::{Ctx, Path};
use crate::bucket_policy::{Policy, PolicyKind};
use crate::diag::ErrorCode;
use crate::http_api::{ApiRoute, Cors, HttpApi, METHODS, RouteKey};
use crate::spec::{ApiSpec, CorsSpec, Spec};

/// Every tenant's APIs.
pub(crate) fn apis(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for (ti, t) in spec.tenants.iter().enumerate() {
        let Some(tid) = sc.tenants.get(&t.name) else {
            continue;
        };
        let tpath = Path::root().item("tenants", &t.name, ti);
        let mut names = std::collections::BTreeSet::new();
        for (ai, a) in t.apis.iter().enumerate() {
            let path = tpath.item("apis", &a.name, ai);
            if !names.insert(a.name.clone()) {
                cx.error(
                    ErrorCode::ConflictException,
                    &path.key("name"),
                    format!("tenant `{}` declares API `{}` twice", t.name, a.name),
                    "give each API its own name",
                );
                continue;
            }
            let id = crate::http_api::api_id(&t.name, a);
            if id.len() != 10
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                cx.error(
                    ErrorCode::BadRequestException,
                    &path.key("id"),
                    format!("API id `{id}` is not 10 lowercase letters and digits"),
                    "write an id such as `a1b2c3d4e5`, or leave it out",
                );
                continue;
            }
            if let Some(owner) = ids.insert(id.clone(), format!("{}/{}", t.name, a.name)) {
                cx.error(
                    ErrorCode::ConflictException,
                    &path.key("id"),
                    format!("API id `{id}` is already used by {owner}"),
                    "API ids are global across tenants: pick another, or leave it out",
                );
                continue;
            }
            match a.endpoint_type.as_deref() {
                None | Some("PRIVATE") => {}
                Some(other) => {
                    cx.error(
                        ErrorCode::BadRequestException,
                        &path.key("endpoint_type"),
                        format!("endpoint type `{other}` is not served: cove's APIs are private"),
                        "write PRIVATE (callers reach it through an execute-api interface endpoint)",
                    );
                    continue;
                }
            }
            if let Some(api) = api(cx, &path, tid, &t.name, a, id) {
                cx.net.apis.push(api);
            }
        }
    }
}

fn api(
    cx: &mut Ctx,
    path: &Path,
    tid: crate::model::TenantId,
    tenant: &str,
    a: &ApiSpec,
    id: String,
) -> Option<HttpApi> {
    let region = a.region.clone().unwrap_or_else(|| "us-east-1".to_owned());
    let account = crate::ids::account_id(&cx.net, tid);
    let arn = format!("arn:aws:execute-api:{region}:{account}:{id}");
    let mut ok = true;
    if a.routes.is_empty() {
        cx.error(
            ErrorCode::BadRequestException,
            &path.key("routes"),
            format!("API `{}` has no route", a.name),
            "add a route, e.g. `{ route: 'GET /items/{id}', function: items }`",
        );
        ok = false;
    }
    let mut routes = Vec::new();
    let mut keys = BTreeMap::new();
    for (ri, r) in a.routes.iter().enumerate() {
        let rpath = path.key("routes").index(ri);
        let key = match RouteKey::parse(&r.route) {
            Ok(k) => k,
            Err(e) => {
                cx.error(
                    ErrorCode::BadRequestException,
                    &rpath.key("route"),
                    e.0,
                    "write `METHOD /path/{param}`, `ANY /path/{param+}` or `$default`",
                );
                ok = false;
                continue;
            }
        };
        if let Some(first) = keys.insert(key.to_string(), ri) {
            cx.error(
                ErrorCode::ConflictException,
                &rpath.key("route"),
                format!("route key `{key}` is also routes[{first}]'s"),
                "give each route key one integration",
            );
            ok = false;
            continue;
        }
        let function = cx
            .net
            .functions
            .iter()
            .position(|f| f.name == r.function && cx.net.vpcs[f.vpc.index()].tenant == tid);
        let Some(f) = function.and_then(|f| u32::try_from(f).ok()) else {
            cx.error(
                ErrorCode::BadRequestException,
                &rpath.key("function"),
                format!("Invalid integration: tenant `{tenant}` has no function `{}`", r.function),
                "declare the function under one of the tenant's VPCs (functions:), or deploy it with `cove fn deploy` before this API",
            );
            ok = false;
            continue;
        };
        routes.push(ApiRoute {
            key,
            function: crate::model::FunctionId(f),
        });
    }
    let cors = match &a.cors {
        None => None,
        Some(c) => {
            let parsed = cors(cx, &path.key("cors"), c);
            ok &= parsed.is_some();
            parsed
        }
    };
    let (policy_document, policy) = match &a.policy {
        None => {
            cx.error(
                ErrorCode::BadRequestException,
                &path.key("policy"),
                format!("private API `{}` has no resource policy, so no one may invoke it", a.name),
                "add a policy allowing execute-api:Invoke on execute-api:/* with a condition on aws:SourceVpce or aws:SourceVpc",
            );
            return None;
        }
        Some(v) => {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match Policy::parse_as(&text, PolicyKind::Api { arn: &arn }) {
                Ok(p) => (
                    serde_json::from_str::<Value>(&text)
                        .map(|v| v.to_string())
                        .unwrap_or(text),
                    p,
                ),
                Err(e) => {
                    let at = path.key("policy");
                    let field = if e.field == "(document)" {
                        at
                    } else {
                        at.key(&e.field)
                    };
                    cx.error(
                        ErrorCode::BadRequestException,
                        &field,
                        format!("Invalid policy document: {}", e.message),
                        "write the policy as API Gateway documents it (Effect, Principal, Action execute-api:Invoke, Resource execute-api:/*, Condition)",
                    );
                    return None;
                }
            }
        }
    };
    for (i, s) in policy.statements.iter().enumerate() {
        if let Some(r) = s
            .resources
            .iter()
            .find(|r| !r.starts_with(&format!("{arn}/")) && **r != arn)
        {
            cx.error(
                ErrorCode::BadRequestException,
                &path.key("policy").key(&format!("Statement[{i}].Resource")),
                format!(
                    "Invalid policy document: {r} is not a resource of API `{}` ({arn})",
                    a.name
                ),
                "name the API's own resources: execute-api:/* or execute-api:/$default/GET/items/*",
            );
            return None;
        }
    }
    ok.then(|| HttpApi {
        tenant: tid,
        name: a.name.clone(),
        id,
        region,
        routes,
        cors,
        policy_document,
        policy,
    })
}

fn cors(cx: &mut Ctx, path: &Path, c: &CorsSpec) -> Option<Cors> {
    let mut ok = true;
    for (i, m) in c.allow_methods.iter().enumerate() {
        if m != "*" && (m == "ANY" || !METHODS.contains(&m.to_ascii_uppercase().as_str())) {
            cx.error(
                ErrorCode::BadRequestException,
                &path.key("allow_methods").index(i),
                format!("`{m}` is not an HTTP method"),
                "write GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or *",
            );
            ok = false;
        }
    }
    for (i, o) in c.allow_origins.iter().enumerate() {
        let well_formed = o == "*"
            || ((o.starts_with("http://") || o.starts_with("https://"))
                && !o.trim_end_matches('/').contains(['?', '#', ' '])
                && o.matches('/').count() == 2);
        if !well_formed {
            cx.error(
                ErrorCode::BadRequestException,
                &path.key("allow_origins").index(i),
                format!("`{o}` is not an origin"),
                "write scheme://host[:port] (no path), e.g. http://spa-assets.s3.us-east-1.amazonaws.com, or *",
            );
            ok = false;
        }
    }
    let allow_credentials = c.allow_credentials.unwrap_or(false);
    if allow_credentials && c.allow_origins.iter().any(|o| o == "*") {
        cx.error(
            ErrorCode::BadRequestException,
            &path.key("allow_credentials"),
            "allow_credentials cannot be true while allow_origins has *",
            "list the origins that may send cookies",
        );
        ok = false;
    }
    let max_age = match c.max_age.as_ref().map(crate::spec::Scalar::text) {
        None => None,
        Some(t) => match t.parse::<u32>() {
            Ok(n) if n <= 86_400 => Some(n),
            _ => {
                cx.error(
                    ErrorCode::BadRequestException,
                    &path.key("max_age"),
                    format!("max_age `{t}` is not 0–86400 seconds"),
                    "write a number of seconds up to 86400",
                );
                ok = false;
                None
            }
        },
    };
    ok.then(|| Cors {
        allow_origins: c.allow_origins.clone(),
        allow_methods: c
            .allow_methods
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect(),
        allow_headers: c
            .allow_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        expose_headers: c.expose_headers.clone(),
        max_age,
        allow_credentials,
    })
}
