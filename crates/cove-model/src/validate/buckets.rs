//! Buckets of cove's object storage (issue 15), checked as S3 checks
//! `CreateBucket` and `PutBucketPolicy`: S3's naming rules
//! (`InvalidBucketName`), names global across tenants (`BucketAlreadyExists`,
//! `BucketAlreadyOwnedByYou`), and a policy cove can evaluate whose resources are
//! the bucket's own (`MalformedPolicy`, at the field inside the document).

use std::collections::BTreeMap;

use serde_json::Value;

use super::scope::Scopes;
use super::{Ctx, Path};
use crate::bucket_policy::{Bucket, Policy, bucket_name_problem};
use crate::diag::ErrorCode;
use crate::spec::Spec;

/// Every tenant's buckets.
pub(crate) fn buckets(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    // Bucket name → the tenant that declared it first.
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for (ti, t) in spec.tenants.iter().enumerate() {
        let Some(tid) = sc.tenants.get(&t.name) else {
            continue;
        };
        let tpath = Path::root().item("tenants", &t.name, ti);
        for (bi, b) in t.buckets.iter().enumerate() {
            let path = tpath.item("buckets", &b.name, bi);
            if let Some(why) = bucket_name_problem(&b.name) {
                cx.error(
                    ErrorCode::InvalidBucketName,
                    &path.key("name"),
                    format!("bucket name `{}` {why}", b.name),
                    "use 3-63 lowercase letters, digits, dots and hyphens, e.g. `spa-assets`",
                );
                continue;
            }
            match owners.get(&b.name) {
                Some(owner) if *owner == t.name => {
                    cx.error(
                        ErrorCode::BucketAlreadyOwnedByYou,
                        &path.key("name"),
                        format!("tenant `{}` declares bucket `{}` twice", t.name, b.name),
                        "declare each bucket once",
                    );
                    continue;
                }
                Some(_) => {
                    cx.error(
                        ErrorCode::BucketAlreadyExists,
                        &path.key("name"),
                        format!("bucket name `{}` is taken", b.name),
                        "bucket names are global across tenants: pick another name",
                    );
                    continue;
                }
                None => {
                    owners.insert(b.name.clone(), t.name.clone());
                }
            }
            let (document, policy) = match &b.policy {
                None => (None, None),
                Some(v) => match policy(cx, &path.key("policy"), &b.name, v) {
                    Some(p) => p,
                    None => continue,
                },
            };
            cx.net.buckets.push(Bucket {
                tenant: tid,
                name: b.name.clone(),
                policy_document: document,
                policy,
            });
        }
    }
}

/// The policy of bucket `bucket` at `path`: its compact JSON and the parsed
/// policy, or `None` after reporting why not.
fn policy(
    cx: &mut Ctx,
    path: &Path,
    bucket: &str,
    v: &Value,
) -> Option<(Option<String>, Option<Policy>)> {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let parsed = match Policy::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            let field = if e.field == "(document)" {
                path.clone()
            } else {
                path.key(&e.field)
            };
            cx.error(
                ErrorCode::MalformedPolicy,
                &field,
                e.message,
                "write the policy as S3 documents it (Version, Statement with Effect, Principal, Action, Resource, Condition)",
            );
            return None;
        }
    };
    let own = format!("arn:aws:s3:::{bucket}");
    for (i, s) in parsed.statements.iter().enumerate() {
        if let Some(r) = s
            .resources
            .iter()
            .find(|r| **r != own && !r.starts_with(&format!("{own}/")))
        {
            cx.error(
                ErrorCode::MalformedPolicy,
                &path.key(&format!("Statement[{i}].Resource")),
                format!("Policy has invalid resource: {r} is not bucket `{bucket}` or its objects"),
                format!("name {own} or {own}/…"),
            );
            return None;
        }
    }
    let compact = serde_json::from_str::<Value>(&text)
        .map(|v| v.to_string())
        .unwrap_or(text);
    Some((Some(compact), Some(parsed)))
}
