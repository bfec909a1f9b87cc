//! cove's deployment workflow as a library: what `cove apply`, `plan`, `status`,
//! `destroy`, `fn deploy`/`delete` and `cove serve` share.
//!
//! * one **state** per prefix ([`store`]): the desired state (the spec, the
//!   functions deployed with `cove fn deploy`, the code registry) and the
//!   generations (desired, applied); the only module that reads or writes it;
//! * one **workflow** ([`Deployment`]): a change of the desired state
//!   ([`Deployment::set_spec`], [`Deployment::deploy_function`],
//!   [`Deployment::delete_function`], [`Deployment::destroy`]) bumps the
//!   generation; [`Deployment::reconcile`] observes the kernel, makes a [`Plan`]
//!   stamped with the generation it was made for, applies it and records the
//!   applied generation. A plan for an older generation is refused
//!   ([`DeployError::StalePlan`]);
//! * the **prefix lock** ([`Target::lock`]): every change takes [`Locked`];
//! * the state's **permissions** ([`perms`]), **code snapshots** ([`code`]) and the
//!   reaping of environments whose network slot is gone ([`Kernel`]);
//! * the control plane over the store ([`control_service`]: read → decide → commit
//!   with the expected generation, for the API and the CLI's embedded mode), its
//!   documents' one format being [`store::control_docs`];
//! * the continuous **reconciler** of `cove serve` ([`Reconciler`]): one leader per
//!   store (a lease), changes and drift repaired without a command.

pub mod apis;
pub mod code;
pub mod control_service;
pub mod desired;
pub mod dns;
pub mod endpoint_listeners;
pub mod error;
pub mod failover;
pub mod flowlog_files;
pub mod flowlogs;
pub mod kernel;
pub mod lock;
pub mod metering;
pub mod nat_watch;
pub mod objects;
pub mod perms;
pub mod reconcile;
pub mod reconciler;
pub mod shared_scale;
pub mod standins;
pub mod store;
pub mod target;
#[cfg(test)]
mod test_kernel;

pub use crate::error::{DeployError, KernelError};
pub use crate::kernel::{HostKernel, Kernel};
pub use crate::lock::{LockError, Locked};
pub use crate::reconcile::{Applied, Change, Deployment, Destroyed, Plan, Stamp};
pub use crate::reconciler::{Reconciler, ReconcilerConfig, Repeat, Tick};
pub use crate::store::{Desired, Generation, Generations, Store};
pub use crate::target::{InvalidPrefix, Prefix, Target};

/// The shipped example's network, for unit tests.
#[cfg(test)]
pub(crate) use cove_testgen::example_network;
