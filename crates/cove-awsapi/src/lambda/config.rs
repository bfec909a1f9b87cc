//! A function as Lambda's `FunctionConfiguration` (pure): cove's view of it (`GET
//! /v1/functions/{name}`), its VPC, subnets and groups by their EC2 ids, its role.

use serde_json::{Value, json};

/// What the configuration needs besides cove's view.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// The region the request was signed for.
    pub region: String,
    /// The tenant's account id.
    pub account: String,
    /// The function's VPC's id.
    pub vpc_id: String,
    /// Its subnets' ids, in order.
    pub subnet_ids: Vec<String>,
    /// Its groups' ids, in order.
    pub group_ids: Vec<String>,
    /// Its role, as given.
    pub role: Option<String>,
    /// Bytes of its deployment package (the zip as uploaded; 0 when unknown).
    pub code_size: u64,
    /// SHA-256 of that zip, base64, when cove kept it.
    pub zip_sha256: Option<String>,
}

/// `sha256:<hex>` as base64 (Lambda's `CodeSha256` form): the answer for code
/// whose zip's digest cove did not keep (cove's digest is of the unpacked code).
pub fn code_sha256(code: &str) -> String {
    let hex = code.strip_prefix("sha256:").unwrap_or(code);
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

/// The function's ARN.
pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

/// The configuration of `view` (cove's `FunctionView` JSON).
pub fn configuration(view: &Value, at: &Placement) -> Value {
    let name = view["name"].as_str().unwrap_or_default();
    let num = |k: &str, default: u64| {
        view[k]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| view[k].as_u64())
            .unwrap_or(default)
    };
    let active = view["state"].as_str() == Some("Active");
    let mut c = json!({
        "FunctionName": name,
        "FunctionArn": arn(&at.region, &at.account, name),
        "Runtime": view["runtime"],
        "Role": at.role.clone().unwrap_or_default(),
        "Handler": view["handler"],
        "CodeSize": at.code_size,
        "Description": view["description"].as_str().unwrap_or_default(),
        "Timeout": num("timeout", 3),
        "MemorySize": num("memory", 128),
        "CodeSha256": at
            .zip_sha256
            .clone()
            .unwrap_or_else(|| code_sha256(view["code"].as_str().unwrap_or_default())),
        "Version": "$LATEST",
        "VpcConfig": {
            "SubnetIds": at.subnet_ids,
            "SecurityGroupIds": at.group_ids,
            "VpcId": at.vpc_id,
        },
        "State": if active { "Active" } else { "Pending" },
        "LastUpdateStatus": if active { "Successful" } else { "InProgress" },
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": { "Size": 512 },
    });
    if !active {
        c["StateReason"] = json!("The function is being created.");
        c["StateReasonCode"] = json!("Creating");
        c["LastUpdateStatusReason"] = json!("The function is being updated.");
        c["LastUpdateStatusReasonCode"] = json!("Creating");
    }
    if let Some(env) = view["environment"].as_object().filter(|e| !e.is_empty()) {
        c["Environment"] = json!({ "Variables": env });
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_becomes_lambdas_configuration() {
        let view = json!({
            "name": "hello", "runtime": "python3.11", "handler": "app.handler",
            "code": format!("sha256:{}", "ab".repeat(32)), "memory": "256", "timeout": "10",
            "environment": { "A": "1" }, "state": "Active"
        });
        let at = Placement {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-1".into()],
            group_ids: vec!["sg-1".into()],
            role: Some("arn:aws:iam::123456789012:role/r".into()),
            code_size: 345,
            zip_sha256: None,
        };
        let c = configuration(&view, &at);
        assert_eq!(c["CodeSize"], 345);
        assert_eq!(
            c["FunctionArn"],
            "arn:aws:lambda:us-east-1:123456789012:function:hello"
        );
        assert_eq!(
            (c["MemorySize"].as_u64(), c["Timeout"].as_u64()),
            (Some(256), Some(10))
        );
        assert_eq!(
            (c["State"].as_str(), c["LastUpdateStatus"].as_str()),
            (Some("Active"), Some("Successful"))
        );
        assert_eq!(c["Environment"]["Variables"]["A"], "1");
        assert_eq!(c["VpcConfig"]["SubnetIds"][0], "subnet-1");
        assert_eq!(c["CodeSha256"].as_str().map(str::len), Some(44));
        let pending = configuration(&json!({ "name": "x", "state": "Pending" }), &at);
        assert_eq!(
            (
                pending["State"].as_str(),
                pending["StateReasonCode"].as_str()
            ),
            (Some("Pending"), Some("Creating"))
        );
    }
}
