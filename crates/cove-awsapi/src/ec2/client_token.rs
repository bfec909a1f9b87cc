//! EC2's `ClientToken`: a call carrying one is run once per tenant and token. The
//! same token with the same parameters answers the first call's document again;
//! with other parameters it is `IdempotentParameterMismatch`. Kept in the store's
//! idempotency records (24 hours), apart from the API's `Idempotency-Key`s; a
//! refused call keeps nothing, so it can be retried with its token.

use std::future::Future;

use cove_api::ApiState;
use cove_control::TenantId;
use cove_store::IdempotencyBegin;

use super::error::Ec2Error;
use super::params::Params;

/// The hash that tells two calls apart: every parameter but the signature's
/// (a presigned query's `X-Amz-*`) and `DryRun`, in order.
pub fn call_hash(p: &Params) -> String {
    let mut text = String::new();
    for (k, v) in p.iter() {
        if k.starts_with("X-Amz-") || k == "DryRun" {
            continue;
        }
        text.push_str(k);
        text.push('=');
        text.push_str(v);
        text.push('\n');
    }
    cove_control::idempotency::request_hash("EC2", "/", text.as_bytes())
}

/// Runs `call` (answering an HTTP status and a document) once for `token`.
pub async fn once<F, Fut>(
    api: &ApiState,
    tenant: &TenantId,
    token: &str,
    p: &Params,
    call: F,
) -> Result<(u16, String), Ec2Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = (u16, String)>,
{
    if cove_control::idempotency::check_key(token).is_err() {
        return Err(Ec2Error::invalid_parameter(format!(
            "Value ({token}) for parameter clientToken is invalid: 1 to 255 visible ASCII characters"
        )));
    }
    let key = format!("ec2:{token}");
    let hash = call_hash(p);
    let store = &api.service.store;
    let internal = |e: &dyn std::fmt::Display| Ec2Error {
        status: 500,
        code: "InternalError".to_owned(),
        message: e.to_string(),
    };
    let begun = store
        .idempotency_begin(Some(&tenant.0), &key, &hash)
        .await
        .map_err(|e| internal(&e))?;
    match begun {
        IdempotencyBegin::Replay(r) => Ok((r.status, r.response)),
        IdempotencyBegin::Mismatch { .. } => Err(Ec2Error::new(
            "IdempotentParameterMismatch",
            format!(
                "Arguments on this idempotent request are inconsistent with arguments used in previous request(s) with the client token '{token}'."
            ),
        )),
        IdempotencyBegin::InProgress => Err(Ec2Error::new(
            "IncorrectState",
            format!("A request with the client token '{token}' is still being handled; retry it."),
        )),
        IdempotencyBegin::Started => {
            let (status, body) = call().await;
            if status == 200 {
                store
                    .idempotency_finish(Some(&tenant.0), &key, &hash, status, &body)
                    .await
                    .map_err(|e| internal(&e))?;
            } else {
                store
                    .idempotency_abandon(Some(&tenant.0), &key, &hash)
                    .await
                    .map_err(|e| internal(&e))?;
            }
            Ok((status, body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_ignores_the_signature_and_dry_run_only() {
        let a = Params::parse(&["Action=CreateRouteTable&VpcId=vpc-1&ClientToken=t"]);
        let signed = Params::parse(&[
            "Action=CreateRouteTable&VpcId=vpc-1&ClientToken=t&X-Amz-Signature=abc&DryRun=false",
        ]);
        let other = Params::parse(&["Action=CreateRouteTable&VpcId=vpc-2&ClientToken=t"]);
        assert_eq!(call_hash(&a), call_hash(&signed));
        assert_ne!(call_hash(&a), call_hash(&other));
    }
}
