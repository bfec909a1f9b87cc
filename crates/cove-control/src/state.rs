//! The whole control-plane state, the documents it is stored as, and what a command
//! returns: its answer and the documents it changed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::error::{ControlError, ErrorCode, Result};
use crate::ids::{NetworkId, PeeringId, TenantId, TokenId};
use crate::types::{ElasticIp, IpPool, Network, Peering, Tenant, Token};

/// Everything the control plane decides on. Serializable as a whole, and as
/// [`Object`]s (one stored document each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlState {
    /// Tenants by id.
    pub tenants: BTreeMap<TenantId, Tenant>,
    /// Tokens by the SHA-256 of their secret (what authentication looks up).
    pub tokens: BTreeMap<String, Token>,
    /// Networks by id.
    pub networks: BTreeMap<NetworkId, Network>,
    /// Peering connections by id.
    pub peerings: BTreeMap<PeeringId, Peering>,
    /// The operator's public IP pool.
    pub ip_pool: IpPool,
    /// Elastic IPs by allocation id.
    #[serde(default)]
    pub elastic_ips: BTreeMap<String, ElasticIp>,
}

/// The kind of a stored document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A [`Tenant`], keyed by id.
    Tenant,
    /// A [`Token`], keyed by the hash of its secret.
    Token,
    /// A [`Network`], keyed by id.
    Network,
    /// A [`Peering`], keyed by id.
    Peering,
    /// The [`IpPool`], key `pool`.
    IpPool,
    /// An [`ElasticIp`], keyed by allocation id.
    ElasticIp,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Tenant,
        Kind::Token,
        Kind::Network,
        Kind::Peering,
        Kind::IpPool,
        Kind::ElasticIp,
    ];

    /// The kind with this store name, if it is one of the control plane's.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind's name in a store (`tenant`, `ip_pool`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tenant => "tenant",
            Kind::Token => "token",
            Kind::Network => "network",
            Kind::Peering => "peering",
            Kind::IpPool => "ip_pool",
            Kind::ElasticIp => "elastic_ip",
        }
    }
}

/// One stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
pub enum Object {
    /// A tenant.
    Tenant(Tenant),
    /// A token.
    Token(Token),
    /// A network.
    Network(Network),
    /// A peering connection.
    Peering(Peering),
    /// The IP pool.
    IpPool(IpPool),
    /// An Elastic IP.
    ElasticIp(ElasticIp),
}

/// Where a document is stored: kind and key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// Its kind.
    pub kind: Kind,
    /// Its key within the kind.
    pub key: String,
}

impl Object {
    /// Its stored body: the object itself, untagged (the kind is the document's).
    pub fn to_body(&self) -> Result<Box<serde_json::value::RawValue>, serde_json::Error> {
        use serde_json::value::to_raw_value;
        match self {
            Object::Tenant(x) => to_raw_value(x),
            Object::Token(x) => to_raw_value(x),
            Object::Network(x) => to_raw_value(x),
            Object::Peering(x) => to_raw_value(x),
            Object::IpPool(x) => to_raw_value(x),
            Object::ElasticIp(x) => to_raw_value(x),
        }
    }

    /// An object of `kind` read back from its stored body ([`Object::to_body`]).
    pub fn from_body(kind: Kind, body: &str) -> Result<Object, serde_json::Error> {
        Ok(match kind {
            Kind::Tenant => Object::Tenant(serde_json::from_str(body)?),
            Kind::Token => Object::Token(serde_json::from_str(body)?),
            Kind::Network => Object::Network(serde_json::from_str(body)?),
            Kind::Peering => Object::Peering(serde_json::from_str(body)?),
            Kind::IpPool => Object::IpPool(serde_json::from_str(body)?),
            Kind::ElasticIp => Object::ElasticIp(serde_json::from_str(body)?),
        })
    }

    /// Its kind and key.
    pub fn key(&self) -> ObjectKey {
        let (kind, key) = match self {
            Object::Tenant(t) => (Kind::Tenant, t.id.0.clone()),
            Object::Token(t) => (Kind::Token, t.hash.clone()),
            Object::Network(n) => (Kind::Network, n.id.0.clone()),
            Object::Peering(p) => (Kind::Peering, p.id.0.clone()),
            Object::IpPool(_) => (Kind::IpPool, "pool".to_owned()),
            Object::ElasticIp(e) => (Kind::ElasticIp, e.id.clone()),
        };
        ObjectKey { kind, key }
    }

    /// The tenant that owns it (`None`: the operator's, or shared by two tenants —
    /// a peering is listed under its requester).
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Object::Tenant(t) => Some(&t.id),
            Object::Token(t) => match &t.owner {
                crate::types::TokenOwner::Admin => None,
                crate::types::TokenOwner::Tenant(id) => Some(id),
            },
            Object::Network(n) => Some(&n.tenant),
            Object::Peering(p) => Some(&p.requester.tenant),
            Object::IpPool(_) => None,
            Object::ElasticIp(e) => Some(&e.tenant),
        }
    }
}

/// One document change.
// A command returns a handful of changes; boxing every document would not pay.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Create or replace.
    Put(Object),
    /// Remove.
    Delete(ObjectKey),
}

/// What a command returns: its answer and the documents to write (all in one
/// transaction). An empty `changes` means the command changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<T> {
    /// The answer (the object as the caller may see it).
    pub value: T,
    /// The documents to write.
    pub changes: Vec<Change>,
}

/// Who is calling, as authentication found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The operator.
    Admin {
        /// The token used.
        token: TokenId,
    },
    /// A tenant.
    Tenant {
        /// The tenant.
        tenant: TenantId,
        /// The token used.
        token: TokenId,
    },
}

impl Actor {
    /// The tenant it acts for, if it is a tenant.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Actor::Admin { .. } => None,
            Actor::Tenant { tenant, .. } => Some(tenant),
        }
    }

    /// The token used.
    pub fn token(&self) -> &TokenId {
        match self {
            Actor::Admin { token } | Actor::Tenant { token, .. } => token,
        }
    }

    /// Refuses anyone but the operator.
    pub(crate) fn require_admin(&self, what: &str) -> Result<()> {
        match self {
            Actor::Admin { .. } => Ok(()),
            Actor::Tenant { .. } => Err(ControlError::general(
                ErrorCode::UnauthorizedOperation,
                format!("{what} needs the operator's admin token"),
                "ask the operator; a tenant token manages only its own networks, peerings and tokens",
            )),
        }
    }
}

impl ControlState {
    /// Rebuilds the state from stored documents (in any order).
    pub fn from_objects(objects: impl IntoIterator<Item = Object>) -> Self {
        let mut s = ControlState::default();
        for o in objects {
            s.put(o);
        }
        s
    }

    /// The state as documents (the pool only once it is configured or was used).
    pub fn objects(&self) -> Vec<Object> {
        let mut out: Vec<Object> = Vec::new();
        out.extend(self.tenants.values().cloned().map(Object::Tenant));
        out.extend(self.tokens.values().cloned().map(Object::Token));
        out.extend(self.networks.values().cloned().map(Object::Network));
        out.extend(self.peerings.values().cloned().map(Object::Peering));
        if self.ip_pool != IpPool::default() {
            out.push(Object::IpPool(self.ip_pool.clone()));
        }
        out.extend(self.elastic_ips.values().cloned().map(Object::ElasticIp));
        out
    }

    /// Applies a command's changes.
    pub fn apply(&mut self, changes: &[Change]) {
        for c in changes {
            match c {
                Change::Put(o) => self.put(o.clone()),
                Change::Delete(k) => self.delete(k),
            }
        }
    }

    fn put(&mut self, o: Object) {
        match o {
            Object::Tenant(t) => {
                self.tenants.insert(t.id.clone(), t);
            }
            Object::Token(t) => {
                self.tokens.insert(t.hash.clone(), t);
            }
            Object::Network(n) => {
                self.networks.insert(n.id.clone(), n);
            }
            Object::Peering(p) => {
                self.peerings.insert(p.id.clone(), p);
            }
            Object::IpPool(p) => self.ip_pool = p,
            Object::ElasticIp(e) => {
                self.elastic_ips.insert(e.id.clone(), e);
            }
        }
    }

    fn delete(&mut self, k: &ObjectKey) {
        match k.kind {
            Kind::Tenant => {
                self.tenants.remove(&TenantId(k.key.clone()));
            }
            Kind::Token => {
                self.tokens.remove(&k.key);
            }
            Kind::Network => {
                self.networks.remove(&NetworkId(k.key.clone()));
            }
            Kind::Peering => {
                self.peerings.remove(&PeeringId(k.key.clone()));
            }
            Kind::IpPool => self.ip_pool = IpPool::default(),
            Kind::ElasticIp => {
                self.elastic_ips.remove(&k.key);
            }
        }
    }

    /// Every id in the state (so that a new one differs from all of them): object
    /// ids, AWS-style resource ids and account ids.
    pub(crate) fn taken_ids(&self) -> BTreeSet<&str> {
        let mut s = BTreeSet::new();
        for t in self.tenants.values() {
            s.insert(t.id.as_str());
            s.insert(t.account_id.as_str());
        }
        for t in self.tokens.values() {
            s.insert(t.id.as_str());
        }
        for n in self.networks.values() {
            s.insert(n.id.as_str());
            s.insert(n.vpc_id.as_str());
            s.insert(n.internet_gateway_id.as_str());
            for x in &n.subnets {
                s.insert(x.id.as_str());
                s.insert(x.route_table_id.as_str());
            }
            for x in &n.nat_gateways {
                s.insert(x.id.as_str());
            }
        }
        for p in self.peerings.keys() {
            s.insert(p.as_str());
        }
        for e in self.elastic_ips.keys() {
            s.insert(e.as_str());
        }
        s
    }

    /// The tenant, which the caller has authenticated as (an internal error if it
    /// is gone: answered as not found).
    pub(crate) fn tenant(&self, id: &TenantId) -> Result<&Tenant> {
        self.tenants.get(id).ok_or_else(|| {
            ControlError::general(
                ErrorCode::InvalidTenantIdNotFound,
                format!("tenant `{id}` does not exist"),
                "list tenants with the admin token",
            )
        })
    }

    /// The tenant's network `id`; another tenant's network is not found.
    pub fn network(&self, tenant: &TenantId, id: &NetworkId) -> Result<&Network> {
        self.networks
            .get(id)
            .filter(|n| &n.tenant == tenant)
            .ok_or_else(|| network_not_found(id.as_str()))
    }

    /// The tenant's networks, oldest first.
    pub fn networks_of(&self, tenant: &TenantId) -> Vec<&Network> {
        let mut v: Vec<&Network> = self
            .networks
            .values()
            .filter(|n| &n.tenant == tenant)
            .collect();
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        v
    }

    /// Every public address held, with the holder: networks' static IPs (the
    /// network's id) and Elastic IPs (the allocation id).
    pub(crate) fn ips_in_use(&self) -> BTreeMap<Ipv4Addr, &str> {
        self.networks
            .values()
            .flat_map(|n| n.static_ips.iter().map(move |ip| (*ip, n.id.as_str())))
            .chain(
                self.elastic_ips
                    .values()
                    .map(|e| (e.public_ip, e.id.as_str())),
            )
            .collect()
    }
}

/// `InvalidNetworkID.NotFound` for `id`, the same whether it does not exist or is
/// another tenant's.
pub(crate) fn network_not_found(id: &str) -> ControlError {
    ControlError::field(
        ErrorCode::InvalidNetworkIdNotFound,
        "id",
        format!("network `{id}` does not exist"),
        "list your networks to find its id",
    )
}
