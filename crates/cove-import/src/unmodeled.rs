//! Resources cove does not model (transit gateways, VPNs, load balancers, …): one
//! report item per object, by its id.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::report::Report;

/// What is known about a top-level key cove does not model: report kind, id fields
/// (first present wins) and the reason.
struct Known {
    key: &'static str,
    kind: &'static str,
    ids: &'static [&'static str],
    reason: &'static str,
}

const KNOWN: &[Known] = &[
    Known {
        key: "TransitGateways",
        kind: "transit-gateway",
        ids: &["TransitGatewayId"],
        reason: "cove does not model transit gateways; routes to it are kept as `unmodeled`",
    },
    Known {
        key: "TransitGatewayAttachments",
        kind: "transit-gateway-attachment",
        ids: &["TransitGatewayAttachmentId"],
        reason: "cove does not model transit gateways",
    },
    Known {
        key: "TransitGatewayVpcAttachments",
        kind: "transit-gateway-vpc-attachment",
        ids: &["TransitGatewayAttachmentId"],
        reason: "cove does not model transit gateways",
    },
    Known {
        key: "TransitGatewayRouteTables",
        kind: "transit-gateway-route-table",
        ids: &["TransitGatewayRouteTableId"],
        reason: "cove does not model transit gateways",
    },
    Known {
        key: "TransitGatewayPropagations",
        kind: "transit-gateway-propagations",
        ids: &["TransitGatewayRouteTableId"],
        reason: "cove does not model transit gateways",
    },
    Known {
        key: "TransitGatewayStaticRoutes",
        kind: "transit-gateway-static-routes",
        ids: &["TransitGatewayRouteTableId"],
        reason: "cove does not model transit gateways",
    },
    Known {
        key: "VpnGateways",
        kind: "vpn-gateway",
        ids: &["VpnGatewayId"],
        reason: "cove does not model virtual private gateways; routes to it are kept as `unmodeled`",
    },
    Known {
        key: "VpnConnections",
        kind: "vpn-connection",
        ids: &["VpnConnectionId"],
        reason: "cove does not model VPN connections",
    },
    Known {
        key: "CustomerGateways",
        kind: "customer-gateway",
        ids: &["CustomerGatewayId"],
        reason: "cove does not model customer gateways",
    },
    Known {
        key: "LoadBalancers",
        kind: "load-balancer",
        ids: &["LoadBalancerArn", "LoadBalancerName"],
        reason: "cove does not model load balancers (their network interfaces are imported as ENIs)",
    },
    Known {
        key: "TargetGroups",
        kind: "target-group",
        ids: &["TargetGroupArn", "TargetGroupName"],
        reason: "cove does not model load balancers",
    },
    Known {
        key: "DBInstances",
        kind: "rds-instance",
        ids: &["DBInstanceIdentifier", "DbiResourceId"],
        reason: "cove does not model RDS instances (their network interfaces are imported as ENIs)",
    },
    Known {
        key: "DomainStatusList",
        kind: "elasticsearch-domain",
        ids: &["DomainId", "DomainName", "ARN"],
        reason: "cove does not model Elasticsearch domains",
    },
    Known {
        key: "ServiceDetails",
        kind: "vpc-endpoint-service",
        ids: &["ServiceId", "ServiceName"],
        reason: "cove does not model endpoint services; endpoints name their service as text",
    },
    Known {
        key: "ServiceNames",
        kind: "vpc-endpoint-service",
        ids: &[],
        reason: "cove does not model endpoint services; endpoints name their service as text",
    },
    Known {
        key: "Addresses",
        kind: "elastic-ip",
        ids: &["AllocationId", "PublicIp"],
        reason: "elastic IPs are not separate objects in cove; associated ones appear as the public IP of their ENI or NAT gateway",
    },
];

/// Reports every object of the given `(top-level key, items)` lists.
pub(crate) fn report_all(lists: Vec<(String, Vec<Value>)>, file: &Path, report: &mut Report) {
    // `ServiceNames` repeats the names of `ServiceDetails`: report each service once.
    let mut service_names = BTreeSet::new();
    for (key, items) in &lists {
        if key == "ServiceDetails" {
            for item in items {
                if let Some(n) = item.get("ServiceName").and_then(Value::as_str) {
                    service_names.insert(n.to_owned());
                }
            }
        }
    }
    for (key, items) in lists {
        let known = KNOWN.iter().find(|k| k.key == key);
        for (i, item) in items.iter().enumerate() {
            if key == "ServiceNames" && item.as_str().is_some_and(|n| service_names.contains(n)) {
                continue;
            }
            let ids = known.map(|k| k.ids).unwrap_or(&[]);
            let id = object_id(item, ids).unwrap_or_else(|| format!("{key}[{i}]"));
            match known {
                Some(k) => report.add(k.kind, id, k.reason, file),
                None => report.add(
                    key.clone(),
                    id,
                    format!("cove does not model `{key}` resources"),
                    file,
                ),
            }
        }
    }
}

/// The id of an arbitrary AWS object: the first of `preferred` that is a string, else
/// the first `…Id` field, else an `…Arn` or `…Name` field; a bare string is its own id.
pub(crate) fn object_id(item: &Value, preferred: &[&str]) -> Option<String> {
    if let Some(s) = item.as_str() {
        return Some(s.to_owned());
    }
    let map = item.as_object()?;
    let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(id) = preferred.iter().find_map(|k| text(k)) {
        return Some(id);
    }
    for suffix in ["Id", "Arn", "Name"] {
        let found = map
            .iter()
            .filter(|(k, _)| k.ends_with(suffix) && !k.ends_with("OwnerId"))
            .find_map(|(_, v)| v.as_str().map(str::to_owned));
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_prefer_known_fields() {
        let v = json!({"OwnerId": "1", "TransitGatewayId": "tgw-1"});
        assert_eq!(object_id(&v, &[]).as_deref(), Some("tgw-1"));
        assert_eq!(object_id(&json!("x"), &[]).as_deref(), Some("x"));
        assert_eq!(object_id(&json!({"a": 1}), &[]), None);
    }

    #[test]
    fn service_names_are_reported_once() {
        let mut r = Report::default();
        let lists = vec![
            (
                "ServiceDetails".to_owned(),
                vec![json!({"ServiceName": "s3", "ServiceId": "vpce-svc-1"})],
            ),
            ("ServiceNames".to_owned(), vec![json!("s3"), json!("other")]),
            ("Weird".to_owned(), vec![json!({"WeirdId": "w-1"})]),
        ];
        report_all(lists, Path::new("f.json"), &mut r);
        let items = r.finish();
        let ids: Vec<_> = items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, vec!["w-1", "other", "vpce-svc-1"]);
    }
}
