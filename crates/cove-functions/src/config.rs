//! The functions of a network as the scheduler runs them: pure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cove_model::{FunctionId, Network};
use cove_plan::names::Names;
use serde::{Deserialize, Serialize};

/// The region cove reports to functions (`AWS_REGION`) and puts in ARNs.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The account id used in ARNs when the tenant has none.
pub const DEFAULT_ACCOUNT: &str = "000000000000";

/// Where a function's code was snapshotted: its SHA-256 and directory in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRef {
    /// SHA-256 of the code (hex, over every file's path, mode and contents).
    pub sha256: String,
    /// The snapshot directory (mounted read-only at `/var/task`).
    pub dir: PathBuf,
    /// Total size of the files, bytes.
    pub size: u64,
}

/// One function, ready to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionConfig {
    /// Function name (unique per tenant).
    pub name: String,
    /// `tenant/vpc` it is attached to.
    pub vpc: String,
    /// Owner tenant.
    pub tenant: String,
    /// Runtime as written.
    pub runtime: String,
    /// Handler as written.
    pub handler: String,
    /// Memory in MB.
    pub memory_mb: u32,
    /// Timeout in seconds.
    pub timeout_s: u32,
    /// The user's environment variables.
    pub environment: Vec<(String, String)>,
    /// Names of its subnets.
    pub subnets: Vec<String>,
    /// Names of its security groups.
    pub security_groups: Vec<String>,
    /// Network slots: the namespaces of its execution environments, in order
    /// (`concurrency` of them; each sends through a shared ENI).
    pub slots: Vec<String>,
    /// For each slot (same order), the address its connections leave with: its
    /// shared ENI's private address (what the VPC sees).
    pub slot_ips: Vec<std::net::Ipv4Addr>,
    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub arn: String,
    /// The code snapshot.
    pub code: CodeRef,
    /// The resolver its environments' `/etc/resolv.conf` names: its VPC's base
    /// address + 2 (`None`: the host's file is copied).
    #[serde(default)]
    pub nameserver: Option<std::net::Ipv4Addr>,
}

impl FunctionConfig {
    /// What identifies the function on a host: `tenant/name` (names are unique
    /// within a tenant only).
    pub fn key(&self) -> String {
        format!("{}/{}", self.tenant, self.name)
    }
}

/// A function whose code was not snapshotted (a bug in the caller: every function
/// of an applied network has a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("function {function} has no code snapshot; apply the spec again")]
pub struct MissingCode {
    /// `tenant/vpc/function`.
    pub function: String,
}

/// The path that keys a function's code snapshot: `tenant/vpc/function`.
pub fn function_path(net: &Network, f: FunctionId) -> String {
    let func = &net.functions[f.index()];
    format!("{}/{}", net.vpc_path(func.vpc), func.name)
}

/// The configuration of every function of `net` under `prefix`; `code` maps
/// [`function_path`] to the snapshot.
pub fn functions(
    net: &Network,
    prefix: &str,
    code: &BTreeMap<String, CodeRef>,
) -> Result<Vec<FunctionConfig>, MissingCode> {
    let names = Names::new(net, prefix);
    (0..net.functions.len())
        .map(|i| {
            let id = FunctionId(u32::try_from(i).unwrap_or(u32::MAX));
            let f = &net.functions[i];
            let path = function_path(net, id);
            let code = code
                .get(&path)
                .cloned()
                .ok_or(MissingCode { function: path })?;
            let vpc = &net.vpcs[f.vpc.index()];
            let tenant = &net.tenants[vpc.tenant.index()];
            let account = tenant.account_id.as_deref().unwrap_or(DEFAULT_ACCOUNT);
            Ok(FunctionConfig {
                name: f.name.clone(),
                vpc: net.vpc_path(f.vpc),
                tenant: tenant.name.clone(),
                runtime: f.runtime.clone(),
                handler: f.handler.clone(),
                memory_mb: f.memory_mb,
                timeout_s: f.timeout_s,
                environment: f.environment.clone(),
                subnets: f
                    .subnets
                    .iter()
                    .map(|s| net.subnets[s.index()].name.clone())
                    .collect(),
                security_groups: f
                    .security_groups
                    .iter()
                    .map(|g| net.security_groups[g.index()].name.clone())
                    .collect(),
                slots: (0..f.concurrency).map(|k| names.env_ns(id, k)).collect(),
                slot_ips: (0..f.concurrency)
                    .filter_map(|k| f.environment_eni(k).map(|e| net.enis[e.index()].private_ip))
                    .collect(),
                arn: format!(
                    "arn:aws:lambda:{DEFAULT_REGION}:{account}:function:{}",
                    f.name
                ),
                code,
                nameserver: cove_plan::resolver::base_plus_two(net, f.vpc),
            })
        })
        .collect()
}
