//! NAT gateway pairs (issue 11): a VPC with `nat_failover: pair` pairs its public
//! NAT gateways two by two in the order of their names; the failover state that
//! cove recorded ([`crate::spec::NatTakeover`]) says which gateway's partner
//! carries its addresses now.

use super::scope::Scopes;
use super::{Ctx, Path};
use crate::diag::ErrorCode;
use crate::model::*;
use crate::spec::Spec;

/// Pass 2b (after the gateways are declared): each VPC's failover mode, the pairs,
/// and the recorded takeovers.
pub(crate) fn pairs(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    for (vi, scope) in sc.vpcs.iter().enumerate() {
        let v = &spec.tenants[scope.tenant_index].vpcs[scope.vpc_index];
        let vid = VpcId(super::scope::next_id(vi));
        let path = scope.path.key("nat_failover");
        let mode = match v.nat_failover.as_deref().map(str::trim) {
            None | Some("independent") => NatFailover::Independent,
            Some("pair") => NatFailover::Pair,
            Some(other) => {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &path,
                    format!("`{other}` is not a NAT failover mode"),
                    "use `pair` (gateways paired two by two take over each other's addresses) or `independent` (AWS's behaviour)",
                );
                continue;
            }
        };
        cx.net.vpcs[vid.index()].nat_failover = mode;
        if mode == NatFailover::Pair {
            pair_up(cx, vid, &path);
        }
    }
    takeovers(cx, spec);
}

/// Pairs the VPC's public gateways in the order of their names; an odd number is
/// an error naming them.
fn pair_up(cx: &mut Ctx, vid: VpcId, path: &Path) {
    let mut public: Vec<NatId> = cx.net.vpcs[vid.index()]
        .nat_gateways
        .iter()
        .copied()
        .filter(|n| cx.net.nat_gateways[n.index()].connectivity == NatConnectivity::Public)
        .collect();
    public.sort_by(|a, b| {
        cx.net.nat_gateways[a.index()]
            .name
            .cmp(&cx.net.nat_gateways[b.index()].name)
    });
    if public.len() % 2 == 1 {
        let names: Vec<&str> = public
            .iter()
            .map(|n| cx.net.nat_gateways[n.index()].name.as_str())
            .collect();
        let message = format!(
            "`nat_failover: pair` pairs public NAT gateways two by two, and VPC {} has {} ({})",
            cx.net.vpc_path(vid),
            public.len(),
            names.join(", ")
        );
        cx.error(
            ErrorCode::InvalidParameterValue,
            path,
            message,
            "add or remove a public NAT gateway (one per availability zone, in pairs), or set `nat_failover: independent`",
        );
        return;
    }
    for pair in public.chunks(2) {
        if let [a, b] = pair {
            cx.net.nat_gateways[a.index()].partner = Some(*b);
            cx.net.nat_gateways[b.index()].partner = Some(*a);
        }
    }
}

/// Applies the recorded takeovers: a gateway with a partner whose partner is not
/// itself carried. A record naming no such gateway (removed, or its VPC no longer
/// pairs) is ignored: cove wrote it, the user cannot correct it.
fn takeovers(cx: &mut Ctx, spec: &Spec) {
    for t in &spec.nat_takeovers {
        let Some(n) = (0..cx.net.nat_gateways.len()).find(|&i| {
            let g = &cx.net.nat_gateways[i];
            g.name == t.gateway && cx.net.vpc_path(g.vpc) == t.vpc
        }) else {
            continue;
        };
        let Some(partner) = cx.net.nat_gateways[n].partner else {
            continue;
        };
        if cx.net.nat_gateways[partner.index()].carried_by.is_none() {
            cx.net.nat_gateways[n].carried_by = Some(partner);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::ErrorCode;
    use crate::spec::NatTakeover;
    use crate::validate::tests::expect_one;
    use crate::validate::{Validated, validate, validate_text};

    fn spec(mode: &str, gateways: &[&str]) -> String {
        let mut t = format!(
            "tenants:\n  - name: t\n    vpcs:\n      - name: v\n        cidr: 10.9.0.0/16\n        nat_failover: {mode}\n\
             \x20       internet_gateway: {{ name: igw }}\n\
             \x20       subnets:\n          - {{ name: pub, cidr: 10.9.0.0/24, az: a }}\n\
             \x20       nat_gateways:\n"
        );
        for (i, g) in gateways.iter().enumerate() {
            t.push_str(&format!(
                "          - {{ name: {g}, subnet: pub, public_ips: [203.0.113.{}] }}\n",
                10 + i
            ));
        }
        t
    }

    fn with_takeovers(text: &str, failed: &[&str]) -> Validated {
        let (mut s, _) = crate::decode::decode_spec(text).expect("decodes");
        s.nat_takeovers = failed
            .iter()
            .map(|g| NatTakeover {
                vpc: "t/v".into(),
                gateway: (*g).into(),
            })
            .collect();
        validate(&s)
    }

    #[test]
    fn pair_mode_pairs_gateways_by_name_and_takeovers_apply_once_per_pair() {
        let v = with_takeovers(
            &spec("pair", &["nat-d", "nat-a", "nat-c", "nat-b"]),
            &["nat-b", "nat-a", "nat-c", "nobody"],
        );
        let net = v.network.expect("valid");
        let name = |n: Option<crate::NatId>| n.map(|n| net.nat_gateways[n.index()].name.clone());
        let by = |g: &str| {
            net.nat_gateways
                .iter()
                .find(|x| x.name == g)
                .expect("gateway")
                .clone()
        };
        assert_eq!(name(by("nat-a").partner).as_deref(), Some("nat-b"));
        assert_eq!(name(by("nat-c").partner).as_deref(), Some("nat-d"));
        // nat-b failed first: nat-a carries it; nat-a's own record then has no
        // healthy partner and is ignored.
        assert_eq!(name(by("nat-b").carried_by).as_deref(), Some("nat-a"));
        assert_eq!(by("nat-a").carried_by, None);
        assert_eq!(name(by("nat-c").carried_by).as_deref(), Some("nat-d"));
    }

    #[test]
    fn independent_is_the_default_and_ignores_takeovers() {
        let v = with_takeovers(&spec("independent", &["a", "b"]), &["a"]);
        let net = v.network.expect("valid");
        assert!(
            net.nat_gateways
                .iter()
                .all(|g| g.partner.is_none() && g.carried_by.is_none())
        );
        let text =
            spec("independent", &["a", "b"]).replace("        nat_failover: independent\n", "");
        let net = validate_text(&text).network.expect("valid");
        assert_eq!(net.vpcs[0].nat_failover, crate::NatFailover::Independent);
    }

    #[test]
    fn an_odd_number_or_an_unknown_mode_is_refused() {
        let v = validate_text(&spec("pair", &["a", "b", "c"]));
        expect_one(
            &v,
            ErrorCode::InvalidParameterValue,
            "tenants[t].vpcs[v].nat_failover",
        );
        let e = v.errors().next().expect("error");
        assert!(e.message.contains("a, b, c"), "{}", e.message);
        assert!(e.hint.contains("independent"), "{}", e.hint);
        let v = validate_text(&spec("active-active", &["a", "b"]));
        expect_one(
            &v,
            ErrorCode::InvalidParameterValue,
            "tenants[t].vpcs[v].nat_failover",
        );
    }

    #[test]
    fn takeovers_are_never_read_from_a_spec_document() {
        let (s, unknown) =
            crate::decode::decode_spec("tenants: []\nnat_takeovers: [{ vpc: t/v, gateway: a }]\n")
                .expect("decodes");
        assert!(s.nat_takeovers.is_empty());
        assert!(!unknown.is_empty());
    }
}
