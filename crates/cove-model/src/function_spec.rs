//! The spec of functions (part of [`crate::spec`]): a function attached to a VPC,
//! its URL, and a function deployed beside the applied spec.

use serde::{Deserialize, Serialize};

use crate::spec::{Scalar, Spec};

/// A function attached to the VPC: each of its execution environments runs in a
/// network slot (an ENI in one of `subnets` with `security_groups`). All
/// `concurrency` slots are attached ahead of time, so a cold start never waits for the
/// network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionSpec {
    /// Function name, unique within the tenant: 1–64 of `A-Z a-z 0-9 - _`.
    pub name: String,
    /// `python3.11`, `nodejs20`, `go`, `ruby3.1` or `provided`.
    pub runtime: String,
    /// Entry point: `module.function` (Python), `file.function` (Node.js),
    /// `file.method` (Ruby), the executable (Go, provided).
    pub handler: String,
    /// The code: a directory or a `.zip` file (relative to the spec file). It is
    /// copied when applied, like Lambda's deployment package.
    pub code: String,
    /// Memory in MB, 128–10240 (default 128); CPU is proportional to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Scalar>,
    /// Timeout in seconds, 1–900 (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Scalar>,
    /// Environment variables for the function's code.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub environment: std::collections::BTreeMap<String, Scalar>,
    /// Subnets (names in this VPC) the execution environments attach to.
    pub subnets: Vec<String>,
    /// Security groups (names in this VPC); the VPC's default group when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Most execution environments at once (reserved concurrency), 1–1000,
    /// default 10; one network slot each. Beyond it, invokes are throttled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Scalar>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The execution role's ARN, as Lambda's API was given it (recorded, shown
    /// back; cove grants nothing by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Its function URL (Lambda's `CreateFunctionUrlConfig`), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<FunctionUrlSpec>,
}

/// A function URL: HTTP requests to `/lambda-url/<url-id>/…` on the API's
/// listener become the function's events (payload format 2.0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionUrlSpec {
    /// `NONE` (anyone may call it) or `AWS_IAM` (SigV4-signed with an access key
    /// of the function's own tenant).
    pub auth_type: String,
    /// CORS settings, as Lambda's API gives them (`AllowOrigins`, …): applied to the
    /// URL's answers (`cove_functions::cors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<serde_json::Value>,
    /// When it was made (ISO 8601, Lambda's `CreationTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// A function deployed with `cove fn deploy` rather than declared in the spec file:
/// kept beside the applied spec and added to it whenever the network is built.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeployedFunction {
    /// The VPC it is attached to: `tenant/vpc`.
    pub vpc: String,
    /// The function (its `code` is the snapshot's absolute path).
    pub function: FunctionSpec,
}

impl Spec {
    /// Adds deployed functions to their VPCs. A function whose VPC does not exist is
    /// returned (with the reason) and not added.
    pub fn add_functions(&mut self, deployed: &[DeployedFunction]) -> Vec<(String, String)> {
        let mut missing = Vec::new();
        for d in deployed {
            let found = d.vpc.split_once('/').and_then(|(t, v)| {
                self.tenants
                    .iter_mut()
                    .find(|x| x.name == t)?
                    .vpcs
                    .iter_mut()
                    .find(|x| x.name == v)
            });
            match found {
                Some(vpc) => vpc.functions.push(d.function.clone()),
                None => missing.push((
                    d.function.name.clone(),
                    format!("VPC `{}` is no longer in the spec", d.vpc),
                )),
            }
        }
        missing
    }
}
