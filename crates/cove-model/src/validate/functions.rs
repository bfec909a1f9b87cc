//! Functions: name, runtime, handler, limits, environment, and the network
//! attachment (subnets, security groups). Their network slots get addresses in
//! [`super::attachments::addresses`], after every other interface of the VPC, so that
//! adding a function never renumbers anything else.

use std::collections::HashMap;

use super::scope::{Scopes, next_id};
use super::{Ctx, Path};
use crate::diag::ErrorCode;
use crate::model::*;
use crate::spec::{FunctionSpec, Scalar, Spec};

/// Most environments (and network slots) one function may have.
pub(crate) const MAX_CONCURRENCY: u32 = 1000;

/// Pass 3b: declares every function of every VPC.
pub(crate) fn functions(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    // Function names are unique per tenant (Lambda: per account and region).
    let mut seen: HashMap<(usize, &str), String> = HashMap::new();
    for (vi, scope) in sc.vpcs.iter().enumerate() {
        let vid = VpcId(next_id(vi));
        let v = &spec.tenants[scope.tenant_index].vpcs[scope.vpc_index];
        for (fi, f) in v.functions.iter().enumerate() {
            let path = scope.path.item("functions", &f.name, fi);
            let name_ok = function_name(cx, &path, &f.name);
            if name_ok {
                let here = format!("{}/{}", cx.net.vpc_path(vid), f.name);
                if let Some(first) = seen.insert((scope.tenant_index, f.name.as_str()), here) {
                    cx.error(
                        ErrorCode::ResourceConflict,
                        &path.key("name"),
                        format!(
                            "Function already exist: {} (also declared as {first})",
                            f.name
                        ),
                        "function names are unique within a tenant; rename one of them",
                    );
                }
            }
            let rt = runtime(cx, &path, &f.runtime);
            let runtime_ok = rt.is_some();
            handler(cx, &path, rt, &f.handler);
            if let Some(u) = &f.url
                && !matches!(u.auth_type.as_str(), "NONE" | "AWS_IAM")
            {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &path.key("url").key("auth_type"),
                    format!("`{}` is not a function URL's auth type", u.auth_type),
                    "use NONE (anyone may call the URL) or AWS_IAM (requests signed with the tenant's access key)",
                );
            }
            if f.code.trim().is_empty() {
                cx.error(
                    ErrorCode::MissingParameter,
                    &path.key("code"),
                    "`code` is missing",
                    "give the function's code: a directory or a .zip file, relative to the spec file",
                );
            }
            let memory = int_field(
                cx,
                &path.key("memory"),
                f.memory.as_ref(),
                (128, 10240),
                DEFAULT_FUNCTION_MEMORY_MB,
                "memory in MB",
            );
            let timeout = int_field(
                cx,
                &path.key("timeout"),
                f.timeout.as_ref(),
                (1, 900),
                DEFAULT_FUNCTION_TIMEOUT_S,
                "timeout in seconds",
            );
            let concurrency = int_field(
                cx,
                &path.key("concurrency"),
                f.concurrency.as_ref(),
                (1, MAX_CONCURRENCY),
                DEFAULT_FUNCTION_CONCURRENCY,
                "most concurrent executions",
            );
            let environment = environment(cx, &path, f);
            let subnets = subnets(cx, scope, &path, f);
            let groups = security_groups(cx, scope, vid, &path, f);
            let (Some(memory_mb), Some(timeout_s), Some(concurrency), Some(environment)) =
                (memory, timeout, concurrency, environment)
            else {
                continue;
            };
            if !(name_ok && runtime_ok) || subnets.is_empty() {
                continue;
            }
            let id = FunctionId(next_id(cx.net.functions.len()));
            cx.net.vpcs[vid.index()].functions.push(id);
            cx.net.functions.push(Function {
                vpc: vid,
                name: f.name.clone(),
                runtime: f.runtime.trim().to_owned(),
                handler: f.handler.clone(),
                code: f.code.clone(),
                memory_mb,
                timeout_s,
                environment,
                subnets,
                security_groups: groups,
                concurrency,
                shared_enis: Vec::new(),
                description: f.description.clone(),
            });
        }
    }
}

/// Lambda's function-name rule: 1–64 of `A-Z a-z 0-9 - _`.
pub fn is_valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
}

fn function_name(cx: &mut Ctx, path: &Path, name: &str) -> bool {
    if is_valid_function_name(name) {
        return true;
    }
    let (code, message) = if name.is_empty() {
        (ErrorCode::MissingParameter, "`name` is missing".to_owned())
    } else {
        (
            ErrorCode::LambdaInvalidParameterValue,
            format!("`{name}` is not a valid function name"),
        )
    };
    cx.error(
        code,
        &path.key("name"),
        message,
        "use 1 to 64 letters, digits, `-` or `_`",
    );
    false
}

/// The code of a cove-runtimes error (`ValidationException` or
/// `InvalidParameterValueException`, as AWS answers).
fn lambda_code(aws: &str) -> ErrorCode {
    if aws == "ValidationException" {
        ErrorCode::LambdaValidation
    } else {
        ErrorCode::LambdaInvalidParameterValue
    }
}

fn runtime(cx: &mut Ctx, path: &Path, runtime: &str) -> Option<cove_runtimes::Runtime> {
    let r = runtime.trim();
    if r.is_empty() {
        cx.error(
            ErrorCode::MissingParameter,
            &path.key("runtime"),
            "`runtime` is missing",
            format!("use one of {}", cove_runtimes::accepted_spellings()),
        );
        return None;
    }
    match r.parse::<cove_runtimes::Runtime>() {
        Ok(rt) => Some(rt),
        Err(e) => {
            cx.error(
                lambda_code(e.aws_code()),
                &path.key("runtime"),
                e.to_string(),
                "set `runtime` to one that cove runs (listed above)",
            );
            None
        }
    }
}

fn handler(cx: &mut Ctx, path: &Path, runtime: Option<cove_runtimes::Runtime>, handler: &str) {
    if handler.is_empty() {
        cx.error(
            ErrorCode::MissingParameter,
            &path.key("handler"),
            "`handler` is missing",
            "name the entry point, e.g. `app.handler` (module.function) or `bootstrap`",
        );
        return;
    }
    let Some(rt) = runtime else { return };
    if let Err(e) = cove_runtimes::validate_handler(rt, handler) {
        cx.error(
            lambda_code(e.aws_code()),
            &path.key("handler"),
            e.to_string(),
            "e.g. `app.handler` for Python, Node.js and Ruby, `bootstrap` for Go and provided",
        );
    }
}

/// Parses an integer field in `range` (inclusive); `default` when absent.
fn int_field(
    cx: &mut Ctx,
    path: &Path,
    value: Option<&Scalar>,
    range: (u32, u32),
    default: u32,
    what: &str,
) -> Option<u32> {
    let Some(v) = value else {
        return Some(default);
    };
    let parsed = match v {
        Scalar::Int(n) => u32::try_from(*n).ok(),
        Scalar::Str(s) => s.trim().parse::<u32>().ok(),
    };
    match parsed {
        Some(n) if (range.0..=range.1).contains(&n) => Some(n),
        _ => {
            cx.error(
                ErrorCode::LambdaInvalidParameterValue,
                path,
                format!("`{}` is not a valid {what}", v.text()),
                format!(
                    "give a whole number from {} to {} (default {default})",
                    range.0, range.1
                ),
            );
            None
        }
    }
}

fn environment(cx: &mut Ctx, path: &Path, f: &FunctionSpec) -> Option<Vec<(String, String)>> {
    let vars: Vec<(String, String)> = f
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.text()))
        .collect();
    match cove_runtimes::validate_user_environment(&vars) {
        Ok(()) => Some(vars),
        Err(e) => {
            let epath = path.key("environment");
            let at = match &e {
                cove_runtimes::EnvError::InvalidKeys { keys } if keys.len() == 1 => {
                    epath.key(&keys[0])
                }
                _ => epath,
            };
            cx.error(
                lambda_code(e.aws_code()),
                &at,
                e.to_string(),
                "rename or remove these variables (keys: a letter, then letters, digits or `_`; cove sets the AWS_ and LAMBDA_ ones itself; at most 4 KB in all)",
            );
            None
        }
    }
}

fn subnets(
    cx: &mut Ctx,
    scope: &super::scope::VpcScope,
    path: &Path,
    f: &FunctionSpec,
) -> Vec<SubnetId> {
    if f.subnets.is_empty() {
        cx.error(
            ErrorCode::MissingParameter,
            &path.key("subnets"),
            "a function needs at least one subnet",
            "list the subnets (names in this VPC) its environments attach to",
        );
    }
    let mut out = Vec::new();
    for (i, s) in f.subnets.iter().enumerate() {
        match scope.subnets.get(s) {
            Some(id) if scope.broken_subnets.contains(&id) => {}
            Some(id) if !out.contains(&id) => out.push(id),
            Some(_) => {}
            None => cx.error(
                ErrorCode::InvalidSubnetIdNotFound,
                &path.key("subnets").index(i),
                format!("subnet `{s}` does not exist in this VPC"),
                "name a subnet declared under this VPC's `subnets`",
            ),
        }
    }
    out
}

fn security_groups(
    cx: &mut Ctx,
    scope: &super::scope::VpcScope,
    vid: VpcId,
    path: &Path,
    f: &FunctionSpec,
) -> Vec<SgId> {
    let mut groups = super::attachments::groups(cx, scope, vid, path, &f.security_groups);
    groups.sort_unstable();
    groups
}
