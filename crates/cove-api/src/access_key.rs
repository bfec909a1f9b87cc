//! `GET /v1/access-key`: the caller's tenant's access key pair for the object
//! store (issue 15) — what its functions get as `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY`, and what a tenant's own tools (the AWS CLI on its
//! corporate network) sign requests with. Derived from the deployment's secret,
//! so it is the same on every call; the key identifies the tenant and its account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;

/// A tenant's access key pair.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessKey {
    /// `AWS_ACCESS_KEY_ID` (`AKIA…`).
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// The tenant's account id (bucket policies' principals).
    pub account_id: String,
}

/// The caller's tenant's access key pair.
#[utoipa::path(get, path = "/v1/access-key", tag = "objects",
    responses((status = 200, body = AccessKey), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn access_key(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<AccessKey>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let secret = api.access_keys.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            None,
            "this server holds no access-key secret",
            "ask the `cove serve` that reconciles the deployment",
        )
    })?;
    let cur = api.service.current().await?;
    let t = cur.state.tenants.get(&tenant).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "UnauthorizedOperation",
            None,
            "the token's tenant no longer exists",
            "sign in with a token of an existing tenant",
        )
    })?;
    let key = secret.tenant_key(&t.name);
    Ok(Json(AccessKey {
        access_key_id: key.access_key_id,
        secret_access_key: key.secret_access_key,
        account_id: t.account_id.clone(),
    }))
}

/// Which tenant an access key id belongs to, remembered: each tenant's key is
/// derived (two HMACs) once per process, not once per tenant on every signed
/// request. Keys depend only on the deployment's secret and the tenant's name, so
/// a remembered pair stays true; a lookup answers only tenants that exist now.
#[derive(Debug, Default)]
pub struct KeyIndex {
    known: std::sync::Mutex<Derived>,
}

/// Access key id → (tenant name, secret access key), and the names derived.
type Derived = (
    std::collections::HashMap<String, (String, String)>,
    std::collections::HashSet<String>,
);

impl KeyIndex {
    /// The tenant (of `names`, the tenants now) whose key is `key_id`, with its
    /// secret access key.
    pub fn lookup<'n>(
        &self,
        secret: &cove_objects::KeySecret,
        names: impl Iterator<Item = &'n str>,
        key_id: &str,
    ) -> Option<(String, String)> {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let names: Vec<&str> = names.collect();
        if let Some((name, s)) = known.0.get(key_id)
            && names.contains(&name.as_str())
        {
            return Some((name.clone(), s.clone()));
        }
        for n in &names {
            if known.1.insert((*n).to_owned()) {
                let k = secret.tenant_key(n);
                known
                    .0
                    .insert(k.access_key_id, ((*n).to_owned(), k.secret_access_key));
            }
        }
        known
            .0
            .get(key_id)
            .filter(|(name, _)| names.contains(&name.as_str()))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_finds_each_tenant_by_its_key_and_only_while_it_exists() {
        let secret = cove_objects::KeySecret::from_bytes([3; 32]);
        let index = KeyIndex::default();
        let a = secret.tenant_key("alpha");
        let b = secret.tenant_key("bravo");
        let both = ["alpha", "bravo"];
        let found = index.lookup(&secret, both.iter().copied(), &b.access_key_id);
        assert_eq!(
            found,
            Some(("bravo".to_owned(), b.secret_access_key.clone()))
        );
        let found = index.lookup(&secret, both.iter().copied(), &a.access_key_id);
        assert_eq!(found, Some(("alpha".to_owned(), a.secret_access_key)));
        assert_eq!(
            index.lookup(&secret, both.iter().copied(), "AKIANOBODYNOBODYNOB0"),
            None
        );
        // bravo deleted: its key no longer answers, though remembered.
        assert_eq!(
            index.lookup(&secret, ["alpha"].into_iter(), &b.access_key_id),
            None
        );
        // A tenant made since is found.
        let c = secret.tenant_key("charlie");
        let three = ["alpha", "bravo", "charlie"];
        assert_eq!(
            index
                .lookup(&secret, three.iter().copied(), &c.access_key_id)
                .map(|x| x.0),
            Some("charlie".to_owned())
        );
    }
}
