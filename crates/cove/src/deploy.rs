//! What the kernel commands share: which deployment (prefix), where the applied spec
//! is kept, and loading the network to act on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cove_functions::config::{CodeRef, FunctionConfig};
use cove_model::Network;

use crate::input::{self, InputError};
use crate::state::{self, StateError};

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
}

impl Target {
    /// `<state_dir>/<prefix>/applied.yaml`.
    pub fn applied_path(&self) -> PathBuf {
        self.state_dir.join(&self.prefix).join("applied.yaml")
    }

    /// The last applied spec's text; `None` if nothing is applied. A damaged,
    /// unreadable or oversized file is an error, never "nothing applied".
    pub fn applied_text(&self) -> Result<Option<String>, StateError> {
        state::read_state(&self.applied_path(), state::Kind::Applied)
    }

    /// The last applied network with the deployed functions; `None` if nothing is
    /// applied. A state file that cannot be read, parsed or validated is an error.
    pub fn applied_network(&self) -> anyhow::Result<Option<Network>> {
        let Some(text) = self.applied_text()? else {
            return Ok(None);
        };
        let deployed = self.deployed()?;
        let v = cove_model::validate::validate_text_with(&text, &deployed);
        match v.network {
            Some(n) => Ok(Some(n)),
            None => Err(StateError::Corrupt {
                path: self.applied_path(),
                reason: format!(
                    "with the deployed functions it does not validate: {}",
                    v.errors()
                        .map(|d| format!("{}: {}", d.path, d.message))
                        .take(3)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                fix: state::Kind::Applied.fix(&self.applied_path()),
            }
            .into()),
        }
    }

    /// `<state_dir>/<prefix>/deployed.yaml`: functions deployed with `cove fn deploy`.
    pub fn deployed_path(&self) -> PathBuf {
        self.state_dir.join(&self.prefix).join("deployed.yaml")
    }

    /// `<state_dir>/<prefix>/functions.json`: the code snapshot of every applied
    /// function.
    pub fn registry_path(&self) -> PathBuf {
        self.state_dir.join(&self.prefix).join("functions.json")
    }

    /// `<state_dir>/<prefix>/code`: the content-addressed code store.
    pub fn code_store(&self) -> PathBuf {
        self.state_dir.join(&self.prefix).join("code")
    }

    /// The functions deployed with `cove fn deploy` (none if the file is absent; any
    /// other failure is an error naming the file).
    pub fn deployed(&self) -> Result<Vec<cove_model::spec::DeployedFunction>, StateError> {
        let path = self.deployed_path();
        match state::read_state(&path, state::Kind::Deployed)? {
            Some(text) => serde_saphyr::from_str(&text).map_err(|e| StateError::Corrupt {
                reason: e.to_string(),
                fix: state::Kind::Deployed.fix(&path),
                path,
            }),
            None => Ok(Vec::new()),
        }
    }

    /// Records the deployed functions.
    pub fn record_deployed(
        &self,
        deployed: &[cove_model::spec::DeployedFunction],
    ) -> anyhow::Result<()> {
        let text = serde_saphyr::to_string(&deployed).context("encoding deployed functions")?;
        write_atomically(&self.deployed_path(), &state::with_trailer(&text))
    }

    /// The code snapshots recorded by the last apply (none if the file is absent).
    pub fn registry(&self) -> Result<BTreeMap<String, CodeRef>, StateError> {
        let path = self.registry_path();
        match state::read_state(&path, state::Kind::Registry)? {
            Some(text) => serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                reason: e.to_string(),
                fix: state::Kind::Registry.fix(&path),
                path,
            }),
            None => Ok(BTreeMap::new()),
        }
    }

    /// The applied functions, ready to run.
    pub fn applied_functions(&self) -> anyhow::Result<Vec<FunctionConfig>> {
        let net = self
            .applied_network()?
            .ok_or_else(|| InputError::Argument {
                what: "--prefix",
                text: self.prefix.clone(),
                hint: format!(
                    "nothing is applied under prefix {}; run `cove apply -f SPEC` first",
                    self.prefix
                ),
            })?;
        let registry = self.registry()?;
        Ok(cove_functions::config::functions(
            &net,
            &self.prefix,
            &registry,
        )?)
    }

    /// Records `spec_text` as applied and the functions' code snapshots (each file
    /// written to a temporary file, then renamed).
    pub fn record_applied(
        &self,
        spec_text: &str,
        code: &BTreeMap<String, CodeRef>,
    ) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(code).context("encoding the code registry")?;
        write_atomically(&self.registry_path(), &json)?;
        write_atomically(&self.applied_path(), &state::with_trailer(spec_text))
    }

    /// Forgets the deployment: the applied spec, the code registry and the functions
    /// deployed with `cove fn deploy` (so they do not come back with the next apply).
    pub fn forget_applied(&self) -> anyhow::Result<()> {
        for path in [
            self.applied_path(),
            self.registry_path(),
            self.deployed_path(),
        ] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
            }
        }
        Ok(())
    }

    /// Opens the host executor for this prefix.
    pub fn host(&self) -> Result<cove_host::Host, InputError> {
        cove_host::Host::new(&self.prefix).map_err(|e| InputError::Argument {
            what: "--prefix",
            text: self.prefix.clone(),
            hint: e.to_string(),
        })
    }
}

/// Reads and validates a spec with the target's deployed functions; returns the
/// network and the text.
pub fn load(file: &Path, target: &Target) -> anyhow::Result<(Network, String)> {
    let text = input::read_spec(file)?;
    let deployed = target.deployed()?;
    // Validated from the same text that is recorded as applied.
    let net = input::network_from_text_with(file, &text, &deployed)?;
    Ok((net, text))
}

/// Snapshots the code of every function of `net` into the target's store. Relative
/// code paths are relative to the directory of `spec_file`; a path already in the
/// store is used as it is.
pub fn snapshot_code(
    net: &Network,
    spec_file: &Path,
    target: &Target,
) -> anyhow::Result<BTreeMap<String, CodeRef>> {
    let store = target.code_store();
    let base = spec_file.parent().unwrap_or(Path::new("."));
    let mut out = BTreeMap::new();
    for (i, f) in net.functions.iter().enumerate() {
        let id = cove_model::FunctionId(u32::try_from(i).unwrap_or(u32::MAX));
        let path = cove_functions::config::function_path(net, id);
        let src = base.join(&f.code);
        let code =
            cove_functions::code::snapshot(&src, &store).map_err(|e| InputError::Argument {
                what: "function code",
                text: format!("{path}: {}", f.code),
                hint: format!("{}", DisplayChain(&e)),
            })?;
        out.insert(path, code);
    }
    Ok(out)
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

/// Writes `text` atomically (see [`state::write_atomically`]); the directory was
/// made root's alone when the command took the prefix lock.
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    Ok(state::write_atomically(path, text.as_bytes())?)
}

/// The kernel layout of `net` under the target's prefix.
pub fn layout(net: &Network, target: &Target) -> Result<cove_plan::HostState, InputError> {
    cove_plan::desired(net, &target.prefix).map_err(|e| InputError::Argument {
        what: "spec",
        text: target.prefix.clone(),
        hint: e.to_string(),
    })
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

/// What the kernel holds next to what the spec wants.
pub struct Comparison {
    /// The spec's network.
    pub network: Network,
    /// The spec's text.
    pub text: String,
    /// The kernel layout the spec wants.
    pub desired: cove_plan::HostState,
    /// The executor.
    pub host: cove_host::Host,
    /// The changes that make the kernel match.
    pub plan: cove_plan::Plan,
}

/// Loads the spec, lays it out, observes the kernel and plans the difference.
pub fn compare(args: &SpecTarget) -> anyhow::Result<Comparison> {
    let (network, text) = load(&args.file, &args.target)?;
    let desired = layout(&network, &args.target)?;
    let host = args.target.host()?;
    let observed = host.observe()?;
    let plan = cove_plan::diff(&observed, &desired);
    Ok(Comparison {
        network,
        text,
        desired,
        host,
        plan,
    })
}

/// The network a read-only command works on: the spec file when given, else the
/// applied network with the deployed functions.
pub fn network_arg(file: Option<&Path>, target: &Target) -> anyhow::Result<Network> {
    match file {
        Some(f) => Ok(input::load_network(f)?),
        None => target.applied_network()?.ok_or_else(|| {
            InputError::Argument {
                what: "-f",
                text: String::new(),
                hint: format!(
                    "nothing is applied under prefix {}; pass -f SPEC or run `cove apply -f SPEC` first",
                    target.prefix
                ),
            }
            .into()
        }),
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

impl Target {
    /// `<state_dir>/<prefix>/serve.addr`: where a running `cove serve` listens.
    pub fn serve_addr_path(&self) -> PathBuf {
        self.state_dir.join(&self.prefix).join("serve.addr")
    }

    /// The scheduler configuration for this deployment.
    pub fn scheduler_config(
        &self,
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
        let base = self.state_dir.join(&self.prefix);
        Ok(cove_scheduler::SchedulerConfig {
            prefix: self.prefix.clone(),
            runtime_dir: run.runtime_dir.clone(),
            lock_dir: base.join("slots"),
            log_dir: Some(base.join("logs")),
            cgroup_root: format!("cove-{}", self.prefix),
            init,
            idle_timeout: std::time::Duration::from_secs(run.idle_timeout),
            region: cove_functions::config::DEFAULT_REGION.to_owned(),
            prefix_lock: Some(self.lock_path()),
            lock_wait: std::time::Duration::from_secs(self.lock_wait),
        })
    }
}

/// Checks that the code holds what the handler needs (and warns when the runtime's
/// client is not installed here): a bad deployment is refused before anything changes.
pub fn check_function_code(
    path: &str,
    f: &cove_model::Function,
    code: &CodeRef,
) -> Result<(), InputError> {
    // The runtime parsed during validation.
    let Ok(runtime) = f.runtime.parse::<cove_runtimes::Runtime>() else {
        return Ok(());
    };
    cove_runtimes::fs::check_code(runtime, &f.handler, &code.dir).map_err(|e| {
        InputError::Argument {
            what: "function code",
            text: format!("{path} (handler {})", f.handler),
            hint: e.to_string(),
        }
    })?;
    if let Err(e) = cove_runtimes::fs::check_installed(runtime, &cove_runtimes::fs::runtime_dir()) {
        eprintln!("warning: function {path} cannot run on this host yet: {e}");
    }
    Ok(())
}

/// Ends the execution environments whose network slot is gone (a deleted function,
/// a smaller concurrency): their processes died with the namespace; this removes
/// their cgroups. Environments of live slots are left alone.
pub fn reap_orphan_environments(target: &Target) -> anyhow::Result<usize> {
    let root = format!("cove-{}", target.prefix);
    let slot_prefix = format!("{}-f-", target.prefix);
    let report = cove_sandbox::reap_stale(&root, |id| {
        // `p<pid>-<slot namespace>-<n>`
        let ns = id
            .split_once('-')
            .and_then(|(_, rest)| rest.rsplit_once('-'))
            .map(|(ns, _)| ns);
        ns.is_some_and(|ns| {
            ns.starts_with(&slot_prefix) && Path::new(cove_host::NETNS_DIR).join(ns).exists()
        })
    })
    .context("removing the environments of deleted network slots")?;
    Ok(report.reaped.len())
}
