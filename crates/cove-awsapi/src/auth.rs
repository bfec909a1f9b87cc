//! Who signed a request: SigV4 checked against every tenant's access key (one
//! HMAC each, from the deployment's key secret), the tenant it identifies.

use std::time::SystemTime;

use axum::http::request::Parts;
use cove_api::ApiState;
use cove_api::service::Current;
use cove_control::TenantId;

use crate::sigv4::{self, Received, SigError, Signer};

/// The tenant whose access key is `key`, with its secret.
pub fn tenant_of_key(api: &ApiState, cur: &Current, key: &str) -> Option<(TenantId, String)> {
    let secrets = api.access_keys.as_ref()?;
    cur.state.tenants.values().find_map(|t| {
        let k = secrets.tenant_key(&t.name);
        (k.access_key_id == key).then(|| (t.id.clone(), k.secret_access_key))
    })
}

/// Checks the request's signature: who signed, and their tenant.
pub fn verify(
    api: &ApiState,
    cur: &Current,
    parts: &Parts,
    body: &[u8],
) -> Result<(Signer, TenantId), SigError> {
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let received = Received {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers,
        body,
    };
    // The key is looked up once: the tenant found with the secret is kept.
    let found = std::cell::RefCell::new(None);
    let signer = sigv4::verify(&received, SystemTime::now(), |key| {
        let (tenant, secret) = tenant_of_key(api, cur, key)?;
        *found.borrow_mut() = Some(tenant);
        Some(secret)
    })?;
    let tenant = found.into_inner().ok_or(SigError::UnknownKey)?;
    Ok((signer, tenant))
}
