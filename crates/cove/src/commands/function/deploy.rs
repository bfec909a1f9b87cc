//! `cove fn deploy NAME --runtime … --handler … --code … --subnets …`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cove_model::Network;
use cove_model::spec::{DeployedFunction, FunctionSpec, Scalar};

use crate::Outcome;
use crate::deploy::Target;
use crate::input::InputError;

/// Arguments of `cove fn deploy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Function name (1–64 of `A-Z a-z 0-9 - _`); deploying an existing name updates it.
    pub name: String,
    /// `python3.11`, `nodejs20`, `go`, `ruby3.1` or `provided`.
    #[arg(long)]
    pub runtime: String,
    /// Entry point: `module.function` (Python), `file.function` (Node.js), `file.method`
    /// (Ruby), the executable (Go, provided).
    #[arg(long)]
    pub handler: String,
    /// The code: a directory or a .zip file.
    #[arg(long)]
    pub code: PathBuf,
    /// Subnets to attach to (`tenant/vpc/subnet`, `vpc/subnet`, or a subnet name when
    /// unique), all in one VPC; comma-separated or repeated.
    /// Required locally; with `--server`, subnet names of the network (default: its
    /// private subnets).
    #[arg(long, value_delimiter = ',')]
    pub subnets: Vec<String>,
    /// With `--server`: the network (id or name) a new function attaches to.
    #[arg(long)]
    pub network: Option<String>,
    /// Security groups (names in the subnets' VPC); the VPC's default group when omitted.
    #[arg(long = "security-groups", value_delimiter = ',')]
    pub security_groups: Vec<String>,
    /// Memory in MB (128–10240).
    #[arg(long, default_value_t = cove_model::DEFAULT_FUNCTION_MEMORY_MB)]
    pub memory: u32,
    /// Timeout in seconds (1–900).
    #[arg(long, default_value_t = cove_model::DEFAULT_FUNCTION_TIMEOUT_S)]
    pub timeout: u32,
    /// Most concurrent executions (1–1000); one pre-attached environment namespace each, all sending through the shared ENI of their subnet and security groups (no subnet address each).
    #[arg(long, default_value_t = cove_model::DEFAULT_FUNCTION_CONCURRENCY)]
    pub concurrency: u32,
    /// An environment variable, `KEY=VALUE`; repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
    /// Through the API instead.
    #[command(flatten)]
    pub remote: super::remote::Remote,
    /// Print the API's JSON answer (with `--server`).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    if let Some(c) = args.remote.conn(args.json)? {
        return super::remote::deploy(&c, args);
    }
    if args.subnets.is_empty() {
        return Err(InputError::Argument {
            what: "--subnets",
            text: String::new(),
            hint: "name the subnets the function attaches to (`vpc/subnet`, comma-separated)"
                .into(),
        }
        .into());
    }
    let deployment = args.target.deployment()?;
    let lock = deployment.lock("fn deploy")?;
    let net = deployment.applied_network(" (functions attach to an applied VPC)")?;
    let (vpc, subnets) = resolve_subnets(&net, &args.subnets)?;
    let environment = parse_env(&args.env)?;
    // The code is checked and stored before anything else changes.
    let code = cove_deploy::code::snapshot_given(&args.code, &deployment.target().code_store())?;
    let function = FunctionSpec {
        name: args.name.clone(),
        runtime: args.runtime.clone(),
        handler: args.handler.clone(),
        code: code.dir.display().to_string(),
        memory: Some(Scalar::Int(i64::from(args.memory))),
        timeout: Some(Scalar::Int(i64::from(args.timeout))),
        environment,
        subnets,
        security_groups: args
            .security_groups
            .iter()
            .map(|g| g.rsplit('/').next().unwrap_or(g).to_owned())
            .collect(),
        concurrency: Some(Scalar::Int(i64::from(args.concurrency))),
        description: args.description.clone(),
        role: None,
        url: None,
    };
    let change = deployment.deploy_function(
        &lock,
        DeployedFunction {
            vpc: vpc.clone(),
            function,
        },
    )?;
    super::warn(&change);
    deployment.reconcile(&lock)?;
    let net = change.network;
    let f = net
        .functions
        .iter()
        .find(|f| f.name == args.name && net.vpc_path(f.vpc) == vpc)
        .ok_or_else(|| anyhow::anyhow!("function {} missing after deploy", args.name))?;
    let subnet_names: Vec<_> = f
        .subnets
        .iter()
        .map(|s| net.subnets[s.index()].name.as_str())
        .collect();
    let shared: Vec<String> = f
        .shared_enis
        .iter()
        .flatten()
        .map(|e| net.enis[e.index()].private_ip.to_string())
        .collect();
    crate::output::outln!(
        "deployed function {} ({}, {} MB, {} s) in {vpc}: {} environment(s) in {}, sending from shared ENI address(es) {}; code sha256 {} ({} bytes)",
        f.name,
        f.runtime,
        f.memory_mb,
        f.timeout_s,
        f.concurrency,
        subnet_names.join(", "),
        shared.join(", "),
        code.sha256,
        code.size
    );
    Ok(Outcome::Ok)
}

/// Resolves `--subnets` to one VPC (`tenant/vpc`) and subnet names in it.
fn resolve_subnets(net: &Network, given: &[String]) -> Result<(String, Vec<String>), InputError> {
    let mut vpc: Option<String> = None;
    let mut names = Vec::new();
    for g in given {
        let parts: Vec<&str> = g.split('/').collect();
        let matches: Vec<_> = net
            .subnets
            .iter()
            .filter(|s| {
                let v = &net.vpcs[s.vpc.index()];
                let t = &net.tenants[v.tenant.index()];
                match parts.as_slice() {
                    [n] => s.name == *n,
                    [vn, n] => v.name == *vn && s.name == *n,
                    [tn, vn, n] => t.name == *tn && v.name == *vn && s.name == *n,
                    _ => false,
                }
            })
            .collect();
        let s = match matches.as_slice() {
            [one] => *one,
            [] => {
                return Err(InputError::Argument {
                    what: "--subnets",
                    text: g.clone(),
                    hint: "no such subnet in the applied network (InvalidSubnetID.NotFound); write `tenant/vpc/subnet`".into(),
                });
            }
            _ => {
                return Err(InputError::Argument {
                    what: "--subnets",
                    text: g.clone(),
                    hint: "several subnets have this name; write `tenant/vpc/subnet`".into(),
                });
            }
        };
        let path = net.vpc_path(s.vpc);
        match &vpc {
            Some(v) if *v != path => {
                return Err(InputError::Argument {
                    what: "--subnets",
                    text: g.clone(),
                    hint: format!(
                        "InvalidParameterValueException: all subnets of a function must be in one VPC (the first is in {v}, this one in {path})"
                    ),
                });
            }
            _ => vpc = Some(path),
        }
        names.push(s.name.clone());
    }
    let vpc = vpc.ok_or_else(|| InputError::Argument {
        what: "--subnets",
        text: String::new(),
        hint: "give at least one subnet".into(),
    })?;
    Ok((vpc, names))
}

/// Parses `KEY=VALUE` pairs.
fn parse_env(pairs: &[String]) -> Result<BTreeMap<String, Scalar>, InputError> {
    let mut out = BTreeMap::new();
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            return Err(InputError::Argument {
                what: "--env",
                text: p.clone(),
                hint: "write KEY=VALUE".into(),
            });
        };
        out.insert(k.to_owned(), Scalar::Str(v.to_owned()));
    }
    Ok(out)
}
