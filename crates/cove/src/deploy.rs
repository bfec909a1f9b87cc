//! What the kernel commands share: which deployment (prefix), where the applied spec
//! is kept, and loading the network to act on.

use std::path::{Path, PathBuf};

use anyhow::Context;
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
}

impl Target {
    /// `<state_dir>/<prefix>/applied.yaml`.
    pub fn applied_path(&self) -> PathBuf {
        self.state_dir.join(&self.prefix).join("applied.yaml")
    }

    /// The last applied network, if any (and still valid).
    pub fn applied_network(&self) -> Option<Network> {
        let text = std::fs::read_to_string(self.applied_path()).ok()?;
        cove_model::validate::validate_text(&text).network
    }

    /// Records `spec_text` as applied (written to a temporary file, then renamed).
    pub fn record_applied(&self, spec_text: &str) -> anyhow::Result<()> {
        let path = self.applied_path();
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the state directory {}", dir.display()))?;
        let tmp = dir.join("applied.yaml.tmp");
        std::fs::write(&tmp, spec_text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))?;
        Ok(())
    }

    /// Forgets the applied spec.
    pub fn forget_applied(&self) -> anyhow::Result<()> {
        match std::fs::remove_file(self.applied_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", self.applied_path().display())),
        }
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

/// Reads and validates a spec; returns the network and the text.
pub fn load(file: &Path) -> Result<(Network, String), InputError> {
    let text = std::fs::read_to_string(file).map_err(|source| InputError::ReadSpec {
        path: file.to_owned(),
        source,
    })?;
    // Validated from the same text that is recorded as applied.
    let net = input::network_from_text(file, &text)?;
    Ok((net, text))
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
    let (network, text) = load(&args.file)?;
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
