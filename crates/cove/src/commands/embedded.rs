//! The two ways of the API commands (`cove tenant|token|ip-pool|network|peering`):
//! through a server (`--server URL --token T`, or `COVE_SERVER` / `COVE_TOKEN`), or
//! **embedded**: without a server, on the deployment's own store (`--prefix`,
//! `--state-dir`, `--database`, as the kernel commands), through the very same API
//! code in this process ([`cove_api::local`]: the router, its validation, scoping,
//! idempotency, audit and errors). The local operator acts as the admin, or, for the
//! tenant commands, as the tenant named by `--tenant NAME|ID`.
//!
//! A change recorded in embedded mode reaches the kernel the way an API change
//! does, through the reconciler: `network` and `peering` changes run one reconciler
//! tick in this process (the reconciler lease, then the prefix lock), so the network
//! is `ready` with no server at all; when a `cove serve` holds the lease, it applies
//! the change. `--no-reconcile` only records it (a `cove serve` or the next
//! `cove apply` applies it).

use serde_json::Value;

use super::client::{ClientError, Conn, parse_answer};
use crate::input::InputError;

/// Where an API command runs and how it answers.
#[derive(Debug, Clone, clap::Args)]
pub struct Api {
    /// The API's base URL (`http://127.0.0.1:9001`): work through it. Without it
    /// the command works on the local deployment's store (embedded mode).
    #[arg(long, env = "COVE_SERVER")]
    pub server: Option<String>,
    /// An API token (`cove_…`) for `--server`; the operator's admin token for
    /// `tenant`, `ip-pool` and `token create` of another tenant.
    #[arg(long, env = "COVE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the API's JSON answer.
    #[arg(long)]
    pub json: bool,
    /// The local deployment (embedded mode).
    #[command(flatten)]
    pub target: crate::deploy::Target,
}

/// [`Api`] of a command that acts for a tenant (`network`, `peering`).
#[derive(Debug, Clone, clap::Args)]
pub struct TenantApi {
    /// Embedded mode: act as this tenant (its name or `ten-…` id). Through a
    /// server the token says which tenant you are.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Embedded mode: only record the change; a running `cove serve` (or the next
    /// `cove apply`) applies it to the kernel.
    #[arg(long)]
    pub no_reconcile: bool,
    /// Server, token, output and deployment.
    #[command(flatten)]
    pub api: Api,
}

impl Api {
    /// The session of an operator command.
    pub fn session(&self) -> anyhow::Result<Session> {
        match self.remote()? {
            Some(conn) => Ok(Session::Remote(conn)),
            None => self.embedded(cove_api::local::LocalIdentity::Operator, false),
        }
    }

    fn remote(&self) -> Result<Option<Conn>, InputError> {
        let Some(server) = &self.server else {
            return Ok(None);
        };
        let token = self.token.clone().ok_or_else(|| InputError::Argument {
            what: "--token",
            text: String::new(),
            hint: "--server needs an API token: give --token cove_… or set COVE_TOKEN (or leave out --server to work on the local store)"
                .to_owned(),
        })?;
        Ok(Some(Conn {
            server: server.clone(),
            token,
            json: self.json,
        }))
    }

    fn embedded(
        &self,
        who: cove_api::local::LocalIdentity,
        reconcile: bool,
    ) -> anyhow::Result<Session> {
        let target = self.target.target()?;
        let store = target.store()?;
        let api =
            cove_api::ApiState::new(store.database().clone()).with_code_store(target.code_store());
        Ok(Session::Embedded(Box::new(Embedded {
            target,
            store,
            api,
            who,
            reconcile,
            json: self.json,
        })))
    }
}

impl TenantApi {
    /// The session of a tenant command: through the server (its token says the
    /// tenant), or embedded as `--tenant`.
    pub fn session(&self) -> anyhow::Result<Session> {
        match (self.api.remote()?, &self.tenant) {
            (Some(_), Some(t)) => Err(InputError::Argument {
                what: "--tenant",
                text: t.clone(),
                hint: "--tenant is for the local store (no --server); through a server the token says which tenant you are"
                    .to_owned(),
            }
            .into()),
            (Some(conn), None) => Ok(Session::Remote(conn)),
            (None, None) => Err(InputError::Argument {
                what: "--tenant",
                text: String::new(),
                hint: "without --server the command works on the local store: name the tenant to act as with --tenant NAME|ID (or give --server URL --token cove_…)"
                    .to_owned(),
            }
            .into()),
            (None, Some(t)) => self.api.embedded(
                cove_api::local::LocalIdentity::Tenant(t.clone()),
                !self.no_reconcile,
            ),
        }
    }
}

/// An API command's session.
#[derive(Debug)]
pub enum Session {
    /// Through a server.
    Remote(Conn),
    /// In this process, on the local store.
    Embedded(Box<Embedded>),
}

/// The embedded API: the deployment's store and the API's state over it.
#[derive(Debug)]
pub struct Embedded {
    target: cove_deploy::Target,
    store: cove_deploy::Store,
    api: cove_api::ApiState,
    who: cove_api::local::LocalIdentity,
    reconcile: bool,
    json: bool,
}

impl Session {
    /// Sends `method path` with an optional JSON body; answers the JSON body of a
    /// 2xx answer (the API's error otherwise, alike both ways).
    pub fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        match self {
            Session::Remote(c) => c.call(method, path, body),
            Session::Embedded(e) => e.call(method, path, body),
        }
    }

    /// Prints `v` as JSON with `--json`, else `text(v)`.
    pub fn print(&self, v: &Value, text: impl FnOnce(&Value) -> String) {
        let json = match self {
            Session::Remote(c) => c.json,
            Session::Embedded(e) => e.json,
        };
        if json {
            crate::output::outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            crate::output::out!("{}", text(v));
        }
    }

    /// After a change of `object` (its API path, if it still exists): in embedded
    /// mode, one reconciler tick applies it (unless `--no-reconcile`), and the
    /// object is read again so that what is printed is what the kernel now has
    /// (`ready`, `active`). Through a server, or when nothing was applied here,
    /// `answer` is returned as it is.
    pub fn settle(&self, answer: Value, object: Option<&str>) -> anyhow::Result<Value> {
        let Session::Embedded(e) = self else {
            return Ok(answer);
        };
        if !e.reconcile {
            eprintln!(
                "cove: recorded; a running `cove serve` (or the next `cove apply`) applies it to the kernel"
            );
            return Ok(answer);
        }
        if !e.reconcile_once()? {
            return Ok(answer);
        }
        match object {
            Some(path) => Ok(e.call("GET", path, None)?),
            None => Ok(answer),
        }
    }
}

impl Embedded {
    fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let (content_type, bytes) = match body {
            Some(b) => (
                Some("application/json"),
                serde_json::to_vec(b).unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        let answer = self
            .store
            .block_on(cove_api::local::call(
                &self.api,
                &self.who,
                method,
                path,
                content_type,
                bytes,
            ))
            .map_err(|source| ClientError::Local { source })?;
        let where_ = format!("{path} (embedded, prefix {})", self.target.prefix());
        parse_answer(
            method,
            &where_,
            answer.status,
            &String::from_utf8_lossy(&answer.body),
        )
    }

    /// One reconciler tick in this process; `true` if this process applied the
    /// desired state (or found the kernel matching it).
    fn reconcile_once(&self) -> anyhow::Result<bool> {
        use anyhow::Context;
        const RECORDED: &str = "the change is recorded; applying it to the kernel failed (a running `cove serve` or the next `cove apply` retries)";
        let deployment = cove_deploy::Deployment::open(self.target.clone()).context(RECORDED)?;
        let mut config = cove_deploy::ReconcilerConfig::for_this_process();
        config.holder = format!("{} (cove, embedded)", config.holder);
        let mut reconciler = cove_deploy::Reconciler::new(deployment, config);
        let tick = reconciler.tick();
        reconciler.release();
        match tick.context(RECORDED)? {
            cove_deploy::Tick::Applied {
                generation, ops, ..
            } => {
                eprintln!("cove: applied generation {generation} ({ops} kernel operation(s))");
                Ok(true)
            }
            cove_deploy::Tick::InSync => Ok(true),
            cove_deploy::Tick::Follower { leader } => {
                eprintln!("cove: recorded; the running `cove serve` ({leader}) applies it");
                Ok(false)
            }
            cove_deploy::Tick::Empty => Ok(false),
            cove_deploy::Tick::Busy => {
                eprintln!(
                    "cove: recorded; another cove command holds the prefix: a running `cove serve` or the next `cove apply` applies it"
                );
                Ok(false)
            }
        }
    }
}
