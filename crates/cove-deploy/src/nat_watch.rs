//! The reconciler's watch over NAT gateway pairs (issue 11): on every tick of the
//! leader, the router's link notifications since the last tick say which paired
//! gateways are up ([`crate::Kernel::router_links`]: a socket in the router's
//! namespace, no process, nothing blocks), [`crate::failover::decide`] decides, and
//! a change of the takeovers is recorded in the store — the same tick then plans and
//! applies it (the partner gets the failed gateway's addresses and routes). Nothing
//! is opened while no VPC pairs its gateways.
//!
//! The desired network is validated once per generation ([`NatWatch`] keeps it),
//! for the watch and for the shared-ENI scaler alike.

use std::time::Instant;

use crate::error::DeployError;
use crate::failover::{Replication, TakeoverRecord, UpSince, Watched};
use crate::kernel::Kernel;
use crate::reconciler::Reconciler;
use crate::store::Generation;

/// What the watch keeps between ticks.
#[derive(Debug, Default)]
pub struct NatWatch {
    /// The generation everything below was read at.
    read_at: Option<Generation>,
    /// The desired network at `read_at` (`None`: nothing desired).
    pub(crate) network: Option<std::sync::Arc<cove_model::Network>>,
    /// The extra shared ENIs recorded at `read_at`.
    pub(crate) extras: Vec<cove_model::spec::SharedEniExtra>,
    /// The DNS resolver's catalog of the network at `read_at`.
    pub(crate) catalog: Option<std::sync::Arc<cove_dns::Catalog>>,
    /// The stand-in AWS services the network at `read_at` needs.
    pub(crate) stand_ins: Vec<cove_standin::StandInConfig>,
    /// The flow-log collector's plan for the network at `read_at` (none: no
    /// flow log).
    pub(crate) flow_logs: Option<std::sync::Arc<crate::flowlogs::FlowLogPlan>>,
    /// The object store's plan for the network at `read_at` (none: no bucket
    /// and no S3 endpoint).
    pub(crate) objects: Option<std::sync::Arc<crate::objects::ObjectsPlan>>,
    /// Why the object store's plan could not be made (its key secret).
    objects_problem: Option<String>,
    /// The private APIs' plan for the network at `read_at` (none: no API and
    /// no execute-api endpoint).
    pub(crate) apis: Option<std::sync::Arc<crate::apis::ApisPlan>>,
    watched: Vec<Watched>,
    records: Vec<TakeoverRecord>,
    replications: Vec<Replication>,
    up_since: UpSince,
    /// What the last replication attempt could not start.
    pub problems: Vec<String>,
    /// Whether the last look at the kernel found nothing to change (set by the
    /// tick; a fail-back waits for it).
    pub(crate) settled: bool,
    /// The namespaces the tick's drift check found changed (one look).
    pub(crate) drifted: crate::failover::Drifted,
}

impl<K: Kernel> Reconciler<K> {
    /// After a drift check found `plan`'s changes with no change of the desired
    /// state: a paired gateway whose namespace they touch counts as failed (its
    /// forwarding, table or routes changed), so its partner takes it over before
    /// the repair. Returns whether a takeover was recorded (the caller plans
    /// again).
    pub(crate) fn nat_drift(&mut self, plan: &cove_plan::Plan) -> Result<bool, DeployError> {
        let touched: crate::failover::Drifted = self
            .nat
            .watched
            .iter()
            .filter(|w| plan.ops.iter().any(|op| op.namespace() == w.ns))
            .map(|w| w.ns.clone())
            .collect();
        if touched.is_empty() {
            return Ok(false);
        }
        self.nat.drifted = touched;
        let generation = self.deployment().generations()?.desired;
        self.watch_nat_pairs(generation)
    }

    /// The desired state at `generation`, validated again only when the store
    /// moved since the last read; returns the generation it was read at.
    pub(crate) fn read_desired(
        &mut self,
        generation: Generation,
    ) -> Result<Option<Generation>, DeployError> {
        if self.nat.read_at == Some(generation) {
            return Ok(self.nat.read_at);
        }
        let (g, net, platform) = self.deployment().desired_network_with_state()?;
        let prefix = self.deployment().target().prefix().as_str().to_owned();
        (self.nat.watched, self.nat.replications) = net
            .as_ref()
            .map(|net| {
                let names = cove_plan::names::Names::new(net, &prefix);
                let eni = |n: cove_model::NatId| net.nat_gateways[n.index()].eni;
                (
                    crate::failover::watched(
                        net,
                        |n| names.eni_router_link(eni(n)),
                        |n| names.eni_ns(eni(n)),
                    ),
                    crate::failover::replications(net, |n| names.eni_ns(eni(n))),
                )
            })
            .unwrap_or_default();
        self.nat.catalog = net
            .as_ref()
            .map(|net| std::sync::Arc::new(crate::dns::catalog(net, &prefix)));
        self.nat.stand_ins = net
            .as_ref()
            .map(|net| crate::standins::stand_ins(net, &prefix))
            .unwrap_or_default();
        let target = self.deployment().target();
        (self.nat.objects, self.nat.objects_problem) = match &net {
            None => (None, None),
            Some(net) => match target.access_keys() {
                Ok(secret) => (
                    crate::objects::ObjectsPlan::new(net, &prefix, target.objects(), &secret).map(
                        |mut plan| {
                            plan.listen_on_host(self.config.objects_listen);
                            std::sync::Arc::new(plan)
                        },
                    ),
                    None,
                ),
                Err(e) => (
                    None,
                    Some(format!("object store: {}", crate::error::chain_text(&e))),
                ),
            },
        };
        self.nat.apis = net
            .as_ref()
            .and_then(|net| crate::apis::ApisPlan::new(net, &prefix))
            .map(std::sync::Arc::new);
        self.nat.network = net.map(std::sync::Arc::new);
        let (flow_dir, metering) = (
            self.deployment().target().flow_logs(),
            self.deployment().target().metering(),
        );
        self.nat.flow_logs = self.nat.network.as_ref().map(|net| {
            std::sync::Arc::new(crate::flowlogs::FlowLogPlan::new(
                std::sync::Arc::clone(net),
                &prefix,
                flow_dir,
                metering,
            ))
        });
        self.nat.records = platform.nat_takeovers;
        self.nat.extras = platform.shared_eni_extras;
        self.nat.read_at = Some(g);
        Ok(self.nat.read_at)
    }

    /// One look at the paired NAT gateways at the store's `generation` (see the
    /// module's documentation); returns whether a change was recorded.
    pub(crate) fn watch_nat_pairs(&mut self, generation: Generation) -> Result<bool, DeployError> {
        self.read_desired(generation)?;
        self.nat.problems = self.deployment().kernel().replicate(&self.nat.replications);
        // The VPCs' DNS resolver serves this generation's views.
        let dns = self.deployment().kernel().resolve(
            self.nat.catalog.as_ref(),
            &self.config.dns_upstreams,
            self.config.dns_fast_path,
        );
        self.nat.problems.extend(dns);
        let stand_ins = self.deployment().kernel().stand_in(&self.nat.stand_ins);
        self.nat.problems.extend(stand_ins);
        match &self.nat.objects_problem {
            None => {
                let objects = self
                    .deployment()
                    .kernel()
                    .objects(self.nat.objects.as_ref());
                self.nat.problems.extend(objects);
            }
            Some(e) => self.nat.problems.push(e.clone()),
        }
        let apis = self.deployment().kernel().apis(self.nat.apis.as_ref());
        self.nat.problems.extend(apis);
        let flows = self
            .deployment()
            .kernel()
            .flow_logs(self.nat.flow_logs.as_ref());
        self.nat.problems.extend(flows);
        if self.nat.watched.is_empty() && self.nat.records.is_empty() {
            return Ok(false);
        }
        let links = self
            .deployment()
            .kernel()
            .router_links()
            .map_err(|source| DeployError::Observe {
                prefix: self.deployment().target().prefix().as_str().to_owned(),
                source,
            })?;
        let Some(mut links) = links else {
            return Ok(false);
        };
        // A deleted namespace is down at once, even while a socket keeps it (and
        // its link) alive for a moment.
        for w in &self.nat.watched {
            if !self.deployment().kernel().namespace_exists(&w.ns) {
                links.remove(&w.link);
            }
        }
        let unix_now = self.unix_now();
        let at = crate::failover::Moment {
            now: Instant::now(),
            unix_now,
            failback_after: self.config.failback_after,
            settled: self.nat.settled,
        };
        let drifted = std::mem::take(&mut self.nat.drifted);
        let Some(want) = crate::failover::decide(
            &self.nat.watched,
            &self.nat.records,
            &links,
            &drifted,
            &mut self.nat.up_since,
            at,
        ) else {
            return Ok(false);
        };
        let Some(read_at) = self.nat.read_at else {
            return Ok(false);
        };
        self.deployment()
            .store()
            .set_nat_takeovers(read_at, &want)?;
        // Read again next tick (the records, and the generation they made).
        self.nat.read_at = None;
        Ok(true)
    }
}
