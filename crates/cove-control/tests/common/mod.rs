//! A test world: a state, a clock that ticks once per command, random bytes from a
//! counter, the operator's actor and a public IP pool.

#![allow(dead_code)]

pub mod ops;

use cove_control::*;
use cove_model::spec::TenantSpec;

/// Start of the test clock (2027-01-15).
pub const T0: u64 = 1_800_000_000;

pub struct World {
    pub state: ControlState,
    pub tick: u64,
    pub admin: Actor,
}

impl World {
    /// A state with an admin token and a pool of 16 addresses (203.0.113.0/28).
    pub fn new() -> World {
        let mut w = World {
            state: ControlState::default(),
            tick: 0,
            admin: Actor::Admin {
                token: TokenId(String::new()),
            },
        };
        let secret = w.run(bootstrap_admin).expect("bootstrap").secret;
        w.admin = authenticate(&w.state, &secret, UnixTime(T0)).expect("admin authenticates");
        let admin = w.admin.clone();
        w.run(|s, _| set_ip_pool(s, &admin, &["203.0.113.0/28".to_owned()]))
            .expect("pool");
        w
    }

    /// The next command's time and random bytes.
    pub fn env(&mut self) -> Env {
        self.tick += 1;
        let mut random = [0u8; 32];
        random[..8].copy_from_slice(&self.tick.to_le_bytes());
        Env {
            now: UnixTime(T0 + self.tick),
            random,
        }
    }

    /// The current time (of the last command).
    pub fn now(&self) -> UnixTime {
        UnixTime(T0 + self.tick)
    }

    /// Runs a command and applies its changes.
    pub fn run<T>(
        &mut self,
        f: impl FnOnce(&ControlState, &Env) -> Result<Outcome<T>, ControlError>,
    ) -> Result<T, ControlError> {
        let env = self.env();
        let o = f(&self.state, &env)?;
        self.state.apply(&o.changes);
        Ok(o.value)
    }

    /// Runs a command that must fail; checks that it changed nothing.
    pub fn refused<T: std::fmt::Debug>(
        &mut self,
        f: impl FnOnce(&ControlState, &Env) -> Result<Outcome<T>, ControlError>,
    ) -> ControlError {
        let before = self.state.clone();
        let e = self.run(f).expect_err("the command must be refused");
        assert_eq!(self.state, before, "a refused command changed the state");
        e
    }

    /// A new tenant.
    pub fn tenant(&mut self, name: &str) -> TenantId {
        let admin = self.admin.clone();
        self.run(|s, e| {
            create_tenant(
                s,
                &admin,
                e,
                CreateTenant {
                    name: Some(name.to_owned()),
                    quotas: None,
                },
            )
        })
        .expect("tenant")
        .id
    }

    /// A new network with defaults (2 AZs in us-east-1) and the given block, if any.
    pub fn network(&mut self, t: &TenantId, name: &str, cidr: Option<&str>) -> Network {
        self.run(|s, e| {
            create_network(
                s,
                t,
                e,
                CreateNetwork {
                    name: Some(name.to_owned()),
                    cidr: cidr.map(str::to_owned),
                    region: Some("us-east-1".to_owned()),
                    availability_zones: None,
                    nat_failover: None,
                },
                &TenantSpec::default(),
            )
        })
        .expect("network")
    }

    /// Marks everything waiting for the kernel as applied.
    pub fn reconcile(&mut self) {
        let applied = Applied::of(&self.state);
        self.run(|s, e| Ok(complete(s, e, &applied)))
            .expect("complete");
    }

    /// Requests a peering from `from`'s network to `to` (in `to`'s tenant's account).
    pub fn request(&mut self, t: &TenantId, from: &Network, to: &Network) -> PeeringView {
        let account = self.state.tenants[&to.tenant].account_id.clone();
        self.run(|s, e| {
            request_peering(
                s,
                t,
                e,
                RequestPeering {
                    vpc_id: Some(from.vpc_id.clone()),
                    peer_vpc_id: Some(to.vpc_id.clone()),
                    peer_owner_id: Some(account),
                    tags: None,
                },
            )
        })
        .expect("request")
    }
}

/// Asserts an error's code, field and status.
pub fn expect_error(e: &ControlError, code: ErrorCode, field: Option<&str>) {
    assert_eq!(e.code, code, "{e:?}");
    assert_eq!(e.field.as_deref(), field, "{e:?}");
    assert_eq!(e.status, code.http_status(), "{e:?}");
    assert!(!e.message.is_empty() && !e.hint.is_empty(), "{e:?}");
}
