//! Lambda's environment: the variables every execution environment gets ("Defined
//! runtime environment variables" of the Lambda developer guide), and AWS's rules
//! for the variables users configure.

use crate::launch::{Layout, runtime_env};
use crate::runtime::Runtime;

/// Keys users may not set: Lambda's reserved variables (the developer guide's list,
/// plus the legacy credential names the service also rejects).
pub const RESERVED_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "AWS_SECURITY_TOKEN",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// AWS's limit on the configured variables: their JSON object, in bytes.
pub const MAX_USER_ENV_BYTES: usize = 4096;

/// `PATH` (Lambda's, with the runtime directory's `bin` last).
pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/opt/bin";

/// `LANG`. Lambda sets `en_US.UTF-8`; Debian hosts often lack that locale (Ruby then
/// falls back to US-ASCII strings), while `C.UTF-8` is built into glibc: same
/// encoding, always present.
pub const LANG: &str = "C.UTF-8";

/// `TZ`, as Lambda sets it.
pub const TZ: &str = ":UTC";

/// How the environment was started (`AWS_LAMBDA_INITIALIZATION_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitializationType {
    /// Started for an invocation.
    #[default]
    OnDemand,
    /// Started ahead of invocations (provisioned concurrency).
    ProvisionedConcurrency,
}

impl InitializationType {
    /// The variable's value.
    pub fn as_str(self) -> &'static str {
        match self {
            InitializationType::OnDemand => "on-demand",
            InitializationType::ProvisionedConcurrency => "provisioned-concurrency",
        }
    }
}

/// Credentials of the function's execution role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AWS_ACCESS_KEY_ID` (and the legacy `AWS_ACCESS_KEY`).
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, if the credentials are temporary.
    pub session_token: Option<String>,
}

/// What [`lambda_environment`] needs to know about one execution environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvInfo {
    /// The function's runtime.
    pub runtime: Runtime,
    /// The function's handler (`_HANDLER`).
    pub handler: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION` (`$LATEST` for the unpublished version).
    pub function_version: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub memory_mb: u32,
    /// `AWS_REGION` and `AWS_DEFAULT_REGION`.
    pub region: String,
    /// `AWS_LAMBDA_RUNTIME_API`: the environment's Runtime API endpoint, `host:port`.
    pub runtime_api: String,
    /// `AWS_LAMBDA_LOG_GROUP_NAME` (Lambda's default: `/aws/lambda/<function name>`).
    pub log_group_name: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME` (see [`log_stream_name`]).
    pub log_stream_name: String,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`.
    pub initialization_type: InitializationType,
    /// The execution role's credentials, if the function has any.
    pub credentials: Option<Credentials>,
    /// The function's configured variables (check them with
    /// [`validate_user_environment`] first).
    pub user: Vec<(String, String)>,
}

impl EnvInfo {
    /// An environment of `function_name` (`$LATEST`, 128 MB, `us-east-1`, on demand,
    /// no credentials, no user variables; log group `/aws/lambda/<name>`).
    pub fn new(
        runtime: Runtime,
        handler: &str,
        function_name: &str,
        runtime_api: &str,
        log_stream_name: &str,
    ) -> EnvInfo {
        EnvInfo {
            runtime,
            handler: handler.to_owned(),
            function_name: function_name.to_owned(),
            function_version: "$LATEST".to_owned(),
            memory_mb: 128,
            region: "us-east-1".to_owned(),
            runtime_api: runtime_api.to_owned(),
            log_group_name: format!("/aws/lambda/{function_name}"),
            log_stream_name: log_stream_name.to_owned(),
            initialization_type: InitializationType::OnDemand,
            credentials: None,
            user: Vec::new(),
        }
    }
}

/// Lambda's log stream name for an environment started on `date` (year, month, day,
/// UTC): `YYYY/MM/DD/[VERSION]INSTANCE`, where INSTANCE identifies the environment
/// (Lambda uses 32 hex digits).
pub fn log_stream_name(date: (u16, u8, u8), version: &str, instance: &str) -> String {
    let (y, m, d) = date;
    format!("{y:04}/{m:02}/{d:02}/[{version}]{instance}")
}

/// The complete environment of a runtime process in the sandbox layout: Lambda's
/// reserved variables, the unreserved defaults (`LANG`, `PATH`, `LD_LIBRARY_PATH`,
/// `TZ`), the runtime's own ([`crate::Launch::extra_env`]) and the user's variables,
/// which replace unreserved defaults of the same name. Reserved keys among the
/// user's variables are ignored (reject them earlier with
/// [`validate_user_environment`]). Nothing is inherited from cove's own environment.
pub fn lambda_environment(info: &EnvInfo) -> Vec<(String, String)> {
    lambda_environment_in(info, &Layout::sandbox())
}

/// [`lambda_environment`] for the paths of `layout`.
pub fn lambda_environment_in(info: &EnvInfo, layout: &Layout) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: &str| env.push((k.to_owned(), v.to_owned()));
    set("_HANDLER", &info.handler);
    set("AWS_REGION", &info.region);
    set("AWS_DEFAULT_REGION", &info.region);
    if let Some(id) = info.runtime.execution_env_id() {
        set("AWS_EXECUTION_ENV", &format!("AWS_Lambda_{id}"));
    }
    set("AWS_LAMBDA_FUNCTION_NAME", &info.function_name);
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        &info.memory_mb.to_string(),
    );
    set("AWS_LAMBDA_FUNCTION_VERSION", &info.function_version);
    set(
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        info.initialization_type.as_str(),
    );
    set("AWS_LAMBDA_LOG_GROUP_NAME", &info.log_group_name);
    set("AWS_LAMBDA_LOG_STREAM_NAME", &info.log_stream_name);
    if let Some(c) = &info.credentials {
        set("AWS_ACCESS_KEY_ID", &c.access_key_id);
        set("AWS_ACCESS_KEY", &c.access_key_id);
        set("AWS_SECRET_ACCESS_KEY", &c.secret_access_key);
        if let Some(token) = &c.session_token {
            set("AWS_SESSION_TOKEN", token);
        }
    }
    set("AWS_LAMBDA_RUNTIME_API", &info.runtime_api);
    set("LAMBDA_TASK_ROOT", &layout.task_root);
    set("LAMBDA_RUNTIME_DIR", &layout.runtime_dir);
    set("LANG", LANG);
    set("PATH", PATH);
    let (task, rt) = (&layout.task_root, &layout.runtime_dir);
    set(
        "LD_LIBRARY_PATH",
        &format!("/lib64:/usr/lib64:{rt}:{rt}/lib:{task}:{task}/lib"),
    );
    set("TZ", TZ);
    env.extend(runtime_env(info.runtime, layout));

    for (key, value) in &info.user {
        if RESERVED_KEYS.contains(&key.as_str()) {
            continue;
        }
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1.clone_from(value),
            None => env.push((key.clone(), value.clone())),
        }
    }
    env
}

/// The function's configured variables break one of AWS's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A key does not match `[a-zA-Z]([a-zA-Z0-9_])+` (`ValidationException`).
    #[error(
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (invalid keys: {keys}); start each key with a letter and use only letters, digits and '_', at least 2 characters", keys = .keys.join(", ")
    )]
    InvalidKeys {
        /// The offending keys, in the order given.
        keys: Vec<String>,
    },
    /// A key is given twice (`InvalidParameterValueException`).
    #[error(
        "environment variable {key} is given more than once in `environment.variables`; keep one"
    )]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// Reserved keys are set (`InvalidParameterValueException`, AWS's wording).
    #[error(
        "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {keys}", keys = .keys.join(", ")
    )]
    ReservedKeys {
        /// The reserved keys used, in the order given.
        keys: Vec<String>,
    },
    /// The variables' JSON is over 4 KB (`InvalidParameterValueException`, AWS's
    /// wording, with the string that was measured).
    #[error(
        "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
    )]
    TooLarge {
        /// The JSON object AWS measures.
        measured: String,
        /// Its size in bytes.
        bytes: usize,
    },
}

impl EnvError {
    /// AWS's error code for this error.
    pub fn aws_code(&self) -> &'static str {
        match self {
            EnvError::InvalidKeys { .. } => "ValidationException",
            EnvError::DuplicateKey { .. }
            | EnvError::ReservedKeys { .. }
            | EnvError::TooLarge { .. } => "InvalidParameterValueException",
        }
    }
}

/// Whether `key` matches AWS's `[a-zA-Z]([a-zA-Z0-9_])+`.
fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The JSON object AWS measures for the 4 KB limit (`{"KEY":"value",…}`, in order).
pub fn measured_json(vars: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = vars
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Checks the function's configured variables against AWS's rules, in AWS's order:
/// key pattern, reserved keys, total size.
pub fn validate_user_environment(vars: &[(String, String)]) -> Result<(), EnvError> {
    let invalid: Vec<String> = vars
        .iter()
        .filter(|(k, _)| !valid_key(k))
        .map(|(k, _)| k.clone())
        .collect();
    if !invalid.is_empty() {
        return Err(EnvError::InvalidKeys { keys: invalid });
    }
    for (i, (key, _)) in vars.iter().enumerate() {
        if vars[..i].iter().any(|(k, _)| k == key) {
            return Err(EnvError::DuplicateKey { key: key.clone() });
        }
    }
    let reserved: Vec<String> = vars
        .iter()
        .filter(|(k, _)| RESERVED_KEYS.contains(&k.as_str()))
        .map(|(k, _)| k.clone())
        .collect();
    if !reserved.is_empty() {
        return Err(EnvError::ReservedKeys { keys: reserved });
    }
    let measured = measured_json(vars);
    if measured.len() > MAX_USER_ENV_BYTES {
        let bytes = measured.len();
        return Err(EnvError::TooLarge { measured, bytes });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
