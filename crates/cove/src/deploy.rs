//! The deployment arguments the kernel commands share, turned into a
//! [`cove_deploy::Deployment`] (which does all of the work).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use cove_deploy::Deployment;
use cove_model::Network;

use crate::input::{self, InputError};

/// Which deployment on this host.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Prefix of every namespace cove creates (`<prefix>-…`); 1-12 characters a-z,
    /// 0-9. Separate prefixes are separate deployments.
    #[arg(long, env = "COVE_PREFIX", default_value = "cove")]
    pub prefix: String,
    /// Where cove keeps the last applied spec of each prefix.
    #[arg(long, env = "COVE_STATE_DIR", default_value = "/var/lib/cove")]
    pub state_dir: PathBuf,
    /// Seconds a command that changes the deployment waits while another one holds
    /// the prefix (then it fails as busy, exit status 6).
    #[arg(long, env = "COVE_LOCK_WAIT", default_value_t = 30)]
    pub lock_wait: u64,
    /// The store of the deployment's state: `postgres://…` or `sqlite:///PATH`
    /// (default: SQLite `<state-dir>/<prefix>/cove.db`).
    #[arg(long, env = "COVE_DATABASE")]
    pub database: Option<String>,
}

impl Target {
    /// The library's target (the prefix checked).
    pub fn target(&self) -> Result<cove_deploy::Target, InputError> {
        Ok(cove_deploy::Target::new(
            cove_deploy::Prefix::new(&self.prefix)?,
            self.state_dir.clone(),
            Duration::from_secs(self.lock_wait),
        )
        .with_database(self.database.clone()))
    }

    /// The deployment on this host.
    pub fn deployment(&self) -> anyhow::Result<Deployment> {
        Ok(Deployment::open(self.target()?)?)
    }
}

/// A spec file and the deployment it is for (`apply`, `plan`, `status`).
#[derive(Debug, Clone, clap::Args)]
pub struct SpecTarget {
    /// The spec file (YAML).
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
}

/// The network a read-only command works on: the spec file when given (with the
/// deployed functions when `with_deployed`), else the applied network.
pub fn network_arg(
    file: Option<&Path>,
    target: &Target,
    with_deployed: bool,
) -> anyhow::Result<Network> {
    match file {
        Some(f) if with_deployed => {
            let text = input::read_spec(f)?;
            Ok(target.deployment()?.validate_spec(f, &text)?)
        }
        Some(f) => Ok(input::load_network(f)?),
        None => {
            let applied = target.deployment()?.network()?;
            applied.ok_or_else(|| {
                InputError::Argument {
                    what: "-f",
                    text: String::new(),
                    hint: format!(
                        "nothing is applied under prefix {}; pass -f SPEC or run `cove apply -f SPEC` first",
                        target.prefix
                    ),
                }
                .into()
            })
        }
    }
}

/// An error and its sources on one line.
pub struct DisplayChain<'e>(pub &'e dyn std::error::Error);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut src = self.0.source();
        while let Some(s) = src {
            write!(f, ": {s}")?;
            src = s.source();
        }
        Ok(())
    }
}

/// How this process runs execution environments for the target's functions.
#[derive(Debug, Clone, clap::Args)]
pub struct RunOptions {
    /// Where the runtime clients are installed (`scripts/install-runtimes.sh`); mounted
    /// read-only at `/opt` in every environment.
    #[arg(
        long,
        env = "COVE_RUNTIME_DIR",
        default_value = cove_runtimes::fs::DEFAULT_RUNTIME_DIR
    )]
    pub runtime_dir: PathBuf,
    /// Idle environments are ended after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub idle_timeout: u64,
}

/// Each tenant's functions get the tenant's access key (the object store's).
fn credentials(target: &cove_deploy::Target) -> anyhow::Result<cove_scheduler::CredentialSource> {
    let secret = target
        .access_keys()
        .context("reading the tenants' access-key secret")?;
    Ok(cove_scheduler::CredentialSource::new(move |tenant| {
        let key = secret.tenant_key(tenant);
        Some(cove_runtimes::Credentials {
            access_key_id: key.access_key_id,
            secret_access_key: key.secret_access_key,
            session_token: None,
        })
    }))
}

/// The scheduler configuration for a deployment.
pub fn scheduler_config(
    target: &cove_deploy::Target,
    run: &RunOptions,
) -> anyhow::Result<cove_scheduler::SchedulerConfig> {
    let exe = std::env::current_exe().context("locating the cove executable")?;
    let beside = exe.with_file_name(cove_sandbox::InitProgram::BINARY);
    // The small init binary when it is installed beside cove, else cove itself.
    let init = if beside.is_file() {
        cove_sandbox::InitProgram::binary(beside)
    } else {
        cove_sandbox::InitProgram {
            program: exe,
            args: vec![crate::ENV_INIT_COMMAND.into()],
        }
    };
    Ok(cove_scheduler::SchedulerConfig {
        prefix: target.prefix().to_string(),
        runtime_dir: run.runtime_dir.clone(),
        lock_dir: target.slot_locks(),
        log_dir: Some(target.logs()),
        cgroup_root: target.prefix().cgroup_root().clone(),
        init,
        idle_timeout: Duration::from_secs(run.idle_timeout),
        region: cove_functions::config::DEFAULT_REGION.to_owned(),
        prefix_lock: Some(target.lock_path()),
        lock_wait: target.lock_wait,
        credentials: Some(credentials(target)?),
    })
}
