//! The deployment workflow: changes of the desired state (each bumps the
//! generation), and one `reconcile()`: observe → a [`Plan`] stamped with the
//! generation it was made for → apply → record the applied generation. A plan made
//! for an older generation than the desired one is refused.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cove_functions::config::FunctionConfig;
use cove_model::Network;
use cove_model::spec::DeployedFunction;

use crate::desired::PlatformState;
use crate::error::DeployError;
use crate::kernel::Kernel;
use crate::lock::Locked;
use crate::store::{Desired, Generation, Generations, Store};
use crate::target::Target;

/// What a plan was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// The desired state of this generation: the plan can be applied while the
    /// desired state is still at this generation.
    Generation(Generation),
    /// A spec that is not the desired state (`cove plan`, `cove status`): shown,
    /// never applied.
    Preview,
}

/// The kernel changes that make the host match a network, and what they were
/// planned for.
#[derive(Debug)]
pub struct Plan {
    /// What the plan was made for.
    pub stamp: Stamp,
    /// The network.
    pub network: Network,
    /// The kernel layout the network wants.
    pub layout: cove_plan::HostState,
    /// The changes (empty: the kernel matches).
    pub changes: cove_plan::Plan,
}

/// A change of the desired state.
#[derive(Debug)]
pub struct Change {
    /// The desired generation after it (the same as before if nothing changed).
    pub generation: Generation,
    /// The desired network.
    pub network: Network,
    /// Warnings for the user (a runtime's client not installed on this host).
    pub warnings: Vec<String>,
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The generation the kernel holds now.
    pub generation: Generation,
    /// Kernel operations carried out (0: it already matched).
    pub changes: usize,
    /// Namespaces of the deployment.
    pub namespaces: usize,
    /// Execution environments removed because their slot is gone.
    pub reaped: usize,
    /// Time spent in the kernel.
    pub elapsed: Duration,
}

/// What a destroy removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destroyed {
    /// Namespaces removed.
    pub namespaces: usize,
    /// Execution environments removed.
    pub environments: usize,
}

/// One deployment: its target, its state and the kernel it runs on. Every command
/// goes through it.
#[derive(Debug)]
pub struct Deployment<K = crate::kernel::HostKernel> {
    target: Target,
    store: Store,
    kernel: K,
    /// The network and layout of the desired state at a generation, validated by
    /// the change that recorded it (a reconcile right after it does not validate
    /// and lay out the same network again).
    laid_out: Mutex<Option<(Generation, Network, cove_plan::HostState)>>,
}

impl Deployment<crate::kernel::HostKernel> {
    /// The deployment `target` on this host's kernel (its state opened).
    pub fn open(target: Target) -> Result<Self, DeployError> {
        let host =
            cove_host::Host::new(target.prefix().as_str()).map_err(|e| DeployError::Host {
                prefix: target.prefix().to_string(),
                source: Box::new(e),
            })?;
        let cgroup_root = target.prefix().cgroup_root().clone();
        Deployment::with_kernel(target, crate::kernel::HostKernel::new(host, cgroup_root))
    }

    /// The deployment `target` on this host's kernel, observed by a persistent
    /// observer (for a long-running process: `cove serve`'s reconciler).
    pub fn open_observing(target: Target) -> Result<Self, DeployError> {
        let d = Deployment::open(target)?;
        let Deployment {
            target,
            store,
            kernel,
            laid_out,
        } = d;
        Ok(Deployment {
            target,
            store,
            kernel: kernel.observing(),
            laid_out,
        })
    }
}

impl<K: Kernel> Deployment<K> {
    /// The deployment `target` on `kernel` (its state opened).
    pub fn with_kernel(target: Target, kernel: K) -> Result<Self, DeployError> {
        let store = target.store()?;
        Ok(Deployment {
            target,
            store,
            kernel,
            laid_out: Mutex::new(None),
        })
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The state.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The kernel.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// Takes the prefix lock for `command` (see [`Target::lock`]).
    pub fn lock(&self, command: &str) -> Result<Locked, DeployError> {
        Ok(self.target.lock(command)?)
    }

    /// The desired and applied generations.
    pub fn generations(&self) -> Result<Generations, DeployError> {
        Ok(self.store.generations()?)
    }

    fn prefix(&self) -> String {
        self.target.prefix().to_string()
    }

    /// The desired network with the deployed functions; `None` if nothing is
    /// applied. A state that cannot be read, parsed or validated is an error.
    pub fn network(&self) -> Result<Option<Network>, DeployError> {
        Ok(self.desired_network()?.1)
    }

    /// The store's generation and the whole desired network in one read: the
    /// operator's spec with the deployed functions, merged with the control
    /// plane's desired spec (`None`: nothing desired).
    pub fn desired_network(&self) -> Result<(Generation, Option<Network>), DeployError> {
        let (generation, net, _) = self.desired_network_with_state()?;
        Ok((generation, net))
    }

    /// [`Deployment::desired_network`], with what the platform recorded that it was
    /// validated with (the reconciler's records), all from one read.
    pub fn desired_network_with_state(
        &self,
    ) -> Result<(Generation, Option<Network>, PlatformState), DeployError> {
        let snapshot = self.store.snapshot()?;
        let generation = Generation::of(snapshot.generation);
        let desired = self.store.desired_of(&snapshot)?;
        let (control, platform) = self.merged_inputs(&snapshot)?;
        let Some(v) = crate::desired::validate_desired(
            desired.spec.as_deref(),
            &desired.deployed,
            control,
            &platform,
        ) else {
            return Ok((generation, None, platform));
        };
        match v.network {
            Some(n) => Ok((generation, Some(n), platform)),
            None => {
                let path = self.store.dir().join(crate::store::DATABASE_FILE);
                Err(DeployError::DesiredInvalid {
                    errors: v
                        .errors()
                        .map(|d| format!("{}: {}", d.path, d.message))
                        .take(3)
                        .collect::<Vec<_>>()
                        .join("; "),
                    fix: "run `cove apply -f SPEC` with a valid spec (or `cove destroy`)"
                        .to_owned(),
                    path,
                })
            }
        }
    }

    /// The desired network, or [`DeployError::NothingApplied`] (`why` says what
    /// needs it).
    pub fn applied_network(&self, why: &'static str) -> Result<Network, DeployError> {
        self.network()?.ok_or_else(|| DeployError::NothingApplied {
            prefix: self.prefix(),
            why,
        })
    }

    /// The functions of the desired state, ready to run.
    pub fn functions(&self) -> Result<Vec<FunctionConfig>, DeployError> {
        let net = self.applied_network("")?;
        let mut code = self.store.code()?;
        // Tenants' functions (the API's) run their uploaded snapshot, which the
        // desired spec names by its path in the code store.
        let store = self.target.code_store();
        for (i, f) in net.functions.iter().enumerate() {
            let path = std::path::Path::new(&f.code);
            if path.parent() != Some(store.as_path()) {
                continue;
            }
            let id = cove_model::FunctionId(u32::try_from(i).unwrap_or(u32::MAX));
            let key = cove_functions::config::function_path(&net, id);
            if code.contains_key(&key) {
                continue;
            }
            let snap = crate::code::snapshot_given(path, &store)?;
            code.insert(key, snap);
        }
        cove_functions::config::functions(&net, self.target.prefix().as_str(), &code).map_err(
            |source| DeployError::Functions {
                prefix: self.prefix(),
                source,
            },
        )
    }

    /// Validates a spec's `text` (read from `file`) with the deployed functions.
    pub fn validate_spec(&self, file: &Path, text: &str) -> Result<Network, DeployError> {
        let deployed = self.store.deployed()?;
        let v = self.validate_whole(text, &deployed)?;
        let count = v.errors().count();
        v.network.ok_or_else(|| DeployError::InvalidSpec {
            path: file.to_owned(),
            count,
            diagnostics: v.diagnostics,
        })
    }

    /// Validates the operator's spec `text` with the functions `deployed`, as the
    /// whole desired state would be: merged with the control plane's tenants and
    /// with the reconciler's extra shared ENIs from the store (so that a plan,
    /// `cove status` or the apply of an operator's change never drops them).
    /// What the desired state merges into the operator's spec, from `snapshot`:
    /// the control plane's spec and the platform's records.
    fn merged_inputs(
        &self,
        snapshot: &cove_store::Snapshot,
    ) -> Result<(Option<cove_model::spec::Spec>, PlatformState), DeployError> {
        let db = || self.store.database().url().to_owned();
        let control = crate::desired::control_spec(snapshot, &self.target.code_store())
            .map_err(|source| crate::store::StoreError::ControlDecode { db: db(), source })?;
        let platform = crate::store::docs::platform_state_of(snapshot)
            .map_err(|source| crate::store::StoreError::Decode { db: db(), source })?;
        Ok((control, platform))
    }

    fn validate_whole(
        &self,
        text: &str,
        deployed: &[DeployedFunction],
    ) -> Result<cove_model::validate::Validated, DeployError> {
        let snapshot = self.store.snapshot()?;
        let (control, platform) = self.merged_inputs(&snapshot)?;
        Ok(
            crate::desired::validate_desired(Some(text), deployed, control, &platform)
                .unwrap_or_else(|| cove_model::validate::validate_text_with(text, deployed)),
        )
    }

    fn layout(&self, net: &Network) -> Result<cove_plan::HostState, DeployError> {
        cove_plan::desired(net, self.target.prefix().as_str()).map_err(|source| {
            DeployError::Layout {
                prefix: self.prefix(),
                source: Box::new(source),
            }
        })
    }

    /// Records `new` (whose network is `net`) as the desired state, bumping the
    /// generation if it changed.
    fn change(
        &self,
        lock: &Locked,
        new: &Desired,
        net: Network,
        warnings: Vec<String>,
    ) -> Result<Change, DeployError> {
        let layout = self.layout(&net)?;
        let generation =
            self.store
                .set_desired(lock, new)
                .map_err(|source| DeployError::Record {
                    prefix: self.prefix(),
                    source: Box::new(source),
                })?;
        *self.laid_out.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((generation, net.clone(), layout));
        Ok(Change {
            generation,
            network: net,
            warnings,
        })
    }

    /// Makes the spec `text` (read from `file`; relative code paths are relative to
    /// its directory) the desired spec: validated with the deployed functions, every
    /// function's code snapshotted, then recorded. Nothing is recorded if any of
    /// that fails.
    pub fn set_spec(&self, lock: &Locked, file: &Path, text: &str) -> Result<Change, DeployError> {
        let net = self.validate_spec(file, text)?;
        let base = file.parent().unwrap_or(Path::new("."));
        let code = crate::code::snapshot_spec(&net, base, &self.target.code_store())?;
        let new = Desired {
            spec: Some(text.to_owned()),
            deployed: self.store.deployed()?,
            code,
        };
        self.change(lock, &new, net, Vec::new())
    }

    /// Makes `deployed` the deployed functions: validated with the desired spec,
    /// their code snapshotted and checked against their handlers, then recorded.
    /// Nothing is recorded if any of that fails.
    pub fn set_deployed(
        &self,
        lock: &Locked,
        deployed: Vec<DeployedFunction>,
    ) -> Result<Change, DeployError> {
        let text = self
            .store
            .spec()?
            .ok_or_else(|| DeployError::NothingApplied {
                prefix: self.prefix(),
                why: " (functions attach to an applied VPC)",
            })?;
        let validated = self.validate_whole(&text, &deployed)?;
        let Some(net) = validated.network else {
            let concerned = functions_in_errors(&validated.diagnostics);
            return Err(DeployError::InvalidFunctions {
                functions: if concerned.is_empty() {
                    "(the applied spec)".to_owned()
                } else {
                    concerned.join(", ")
                },
                diagnostics: validated.diagnostics,
            });
        };
        let previous = self.store.code()?;
        let (code, warnings) =
            crate::code::snapshot_deployed(&net, &previous, &self.target.code_store())?;
        let new = Desired {
            spec: Some(text),
            deployed,
            code,
        };
        self.change(lock, &new, net, warnings)
    }

    /// Deploys `function` (replacing the tenant's function of the same name).
    pub fn deploy_function(
        &self,
        lock: &Locked,
        function: DeployedFunction,
    ) -> Result<Change, DeployError> {
        let mut deployed = self.store.deployed()?;
        let tenant = function.vpc.split('/').next().unwrap_or_default();
        match deployed.iter_mut().find(|d| {
            d.function.name == function.function.name && d.vpc.split('/').next() == Some(tenant)
        }) {
            Some(existing) => *existing = function,
            None => deployed.push(function),
        }
        self.set_deployed(lock, deployed)
    }

    /// Deletes the deployed function `name` (in `vpc`, `tenant/vpc`, when given).
    pub fn delete_function(
        &self,
        lock: &Locked,
        name: &str,
        vpc: Option<&str>,
    ) -> Result<Change, DeployError> {
        let mut deployed = self.store.deployed()?;
        let matches =
            |d: &DeployedFunction| d.function.name == name && vpc.is_none_or(|v| v == d.vpc);
        let vpcs: Vec<&str> = deployed
            .iter()
            .filter(|d| matches(d))
            .map(|d| d.vpc.as_str())
            .collect();
        if vpcs.len() > 1 {
            return Err(DeployError::AmbiguousFunction {
                name: name.to_owned(),
                vpcs: vpcs.join(", "),
            });
        }
        let before = deployed.len();
        deployed.retain(|d| !matches(d));
        if deployed.len() == before {
            let in_spec = self
                .network()?
                .is_some_and(|n| n.functions.iter().any(|f| f.name == name));
            return Err(DeployError::NoSuchFunction {
                name: name.to_owned(),
                hint: if in_spec {
                    "it is declared in the spec file: remove it there and run `cove apply -f SPEC`"
                } else {
                    "ResourceNotFoundException: no such function; `cove fn list` shows the deployed ones"
                },
            });
        }
        self.set_deployed(lock, deployed)
    }

    /// Observes the kernel and plans what makes it match the desired state; the
    /// plan is stamped with the desired generation it was made for.
    pub fn plan(&self) -> Result<Plan, DeployError> {
        let generation = self.store.generations()?.desired;
        // The layout of this generation, if it was made before (by the change
        // that recorded it, or by the last plan): a reconciler that plans again
        // and again for one generation parses and validates the spec once.
        let cached = self
            .laid_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(g, ..)| *g == generation)
            .map(|(_, network, layout)| (network.clone(), layout.clone()));
        if let Some((network, layout)) = cached {
            return self.plan_for(Stamp::Generation(generation), network, layout);
        }
        // The generation and the network from one read of the store.
        let (generation, network) = self.desired_network()?;
        let network = network.ok_or_else(|| DeployError::NothingApplied {
            prefix: self.prefix(),
            why: "",
        })?;
        let layout = self.layout(&network)?;
        *self.laid_out.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((generation, network.clone(), layout.clone()));
        self.plan_for(Stamp::Generation(generation), network, layout)
    }

    /// Observes the kernel and plans what would make it match `network` (a spec
    /// that is not the desired state): for showing, never applied.
    pub fn preview(&self, network: Network) -> Result<Plan, DeployError> {
        let layout = self.layout(&network)?;
        self.plan_for(Stamp::Preview, network, layout)
    }

    fn plan_for(
        &self,
        stamp: Stamp,
        network: Network,
        layout: cove_plan::HostState,
    ) -> Result<Plan, DeployError> {
        let observed = self
            .kernel
            .observe()
            .map_err(|source| DeployError::Observe {
                prefix: self.prefix(),
                source,
            })?;
        let changes = cove_plan::diff(&observed, &layout);
        Ok(Plan {
            stamp,
            network,
            layout,
            changes,
        })
    }

    /// Carries out `plan` and records its generation as applied, then ends the
    /// environments whose network slot is gone. A plan for an older generation than
    /// the desired one ([`DeployError::StalePlan`]) or a preview is refused;
    /// nothing is recorded if the kernel change fails.
    pub fn apply(&self, lock: &Locked, plan: &Plan) -> Result<Applied, DeployError> {
        self.apply_fenced(lock, plan, &mut || Ok(None))
    }

    /// [`Deployment::apply`], recording the applied generation only while the lease
    /// that `fence` renews (right after the kernel change, which may outlast the
    /// lease's TTL) is held.
    /// (the reconciler's lease) is held.
    pub fn apply_fenced(
        &self,
        lock: &Locked,
        plan: &Plan,
        fence: &mut dyn FnMut() -> Result<Option<cove_store::Lease>, DeployError>,
    ) -> Result<Applied, DeployError> {
        let Stamp::Generation(planned) = plan.stamp else {
            return Err(DeployError::PreviewPlan {
                prefix: self.prefix(),
            });
        };
        let desired = self.store.generations()?.desired;
        if planned != desired {
            return Err(DeployError::StalePlan {
                prefix: self.prefix(),
                planned,
                desired,
            });
        }
        let started = Instant::now();
        // What an interrupted create or delete left (the plan does not see it).
        let leftovers = self
            .kernel
            .remove_leftovers()
            .map_err(|source| DeployError::Apply {
                prefix: self.prefix(),
                generation: planned,
                source,
            })?;
        if !plan.changes.is_empty() {
            self.kernel
                .apply(&plan.changes)
                .map_err(|source| DeployError::Apply {
                    prefix: self.prefix(),
                    generation: planned,
                    source,
                })?;
        }
        let elapsed = started.elapsed();
        self.store
            .set_applied(lock, planned, fence()?.as_ref())
            .map_err(|source| DeployError::Record {
                prefix: self.prefix(),
                source: Box::new(source),
            })?;
        let reaped =
            self.kernel
                .reap_orphan_environments()
                .map_err(|source| DeployError::Reap {
                    prefix: self.prefix(),
                    source,
                })?;
        Ok(Applied {
            generation: planned,
            changes: plan.changes.ops.len() + leftovers,
            namespaces: plan.layout.namespaces.len(),
            reaped,
            elapsed,
        })
    }

    /// Observe → plan for the desired generation → apply → record.
    pub fn reconcile(&self, lock: &Locked) -> Result<Applied, DeployError> {
        let plan = self.plan()?;
        self.apply(lock, &plan)
    }

    /// Removes every kernel object and execution environment of the deployment and
    /// forgets its desired state. Continues past errors and reports all of them.
    pub fn destroy(&self, lock: &Locked) -> Result<Destroyed, DeployError> {
        let destroyed = self.kernel.destroy();
        let removed = self.kernel.remove_environments();
        let namespaces = destroyed.map_err(|errors| DeployError::Destroy {
            prefix: self.prefix(),
            errors,
        })?;
        let environments = removed.map_err(|source| DeployError::RemoveEnvironments {
            prefix: self.prefix(),
            source,
        })?;
        self.store
            .forget(lock)
            .map_err(|source| DeployError::Record {
                prefix: self.prefix(),
                source: Box::new(source),
            })?;
        Ok(Destroyed {
            namespaces,
            environments,
        })
    }
}

/// The functions an error is about (`…functions[NAME]…` in its path), each once, in
/// order: the error names them, not every deployed function.
fn functions_in_errors(diagnostics: &[cove_model::Diagnostic]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for d in diagnostics
        .iter()
        .filter(|d| d.severity == cove_model::diag::Severity::Error)
    {
        let name = d
            .path
            .split_once("functions[")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(name, _)| name.to_owned());
        if let Some(name) = name.filter(|n| !names.contains(n)) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
