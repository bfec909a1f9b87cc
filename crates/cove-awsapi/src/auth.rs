//! Who signed a request: SigV4 checked against the tenants' access keys (derived
//! from the deployment's key secret, once per tenant and process), the tenant it
//! identifies.

use std::time::SystemTime;

use axum::http::request::Parts;
use cove_api::ApiState;
use cove_api::service::Current;
use cove_control::TenantId;

use crate::sigv4::{self, Received, SigError, Signer};

/// The tenant whose access key is `key`, with its secret (each tenant's key
/// derived once per process: [`cove_api::access_key::KeyIndex`]).
pub fn tenant_of_key(api: &ApiState, cur: &Current, key: &str) -> Option<(TenantId, String)> {
    let secrets = api.access_keys.as_ref()?;
    let names = cur.state.tenants.values().map(|t| t.name.as_str());
    let (name, secret) = api.key_index.lookup(secrets, names, key)?;
    let t = cur.state.tenants.values().find(|t| t.name == name)?;
    Some((t.id.clone(), secret))
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
