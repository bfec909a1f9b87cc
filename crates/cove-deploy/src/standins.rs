//! Which stand-in AWS services the desired network needs (issue 12): one per ENI
//! of each interface endpoint to an AWS service (`com.amazonaws.…`; an endpoint to
//! another tenant's service is PrivateLink, handled by the data plane; S3 is the
//! object store, execute-api the private APIs). Kept running
//! by [`crate::Kernel::stand_in`] in `cove serve`.

use cove_model::{EndpointKind, Network};
use cove_plan::names::Names;
use cove_standin::StandInConfig;

/// The stand-ins `net` needs under deployment `prefix`, in a stable order.
pub fn stand_ins(net: &Network, prefix: &str) -> Vec<StandInConfig> {
    let names = Names::new(net, prefix);
    let mut out = Vec::new();
    for e in &net.endpoints {
        let EndpointKind::Interface { enis, .. } = &e.kind else {
            continue;
        };
        // S3 is cove's object store ([`crate::objects`]) and execute-api its
        // private APIs ([`crate::apis`]), not stand-ins.
        if !e.service.starts_with("com.amazonaws.")
            || crate::objects::is_s3(&e.service)
            || crate::apis::is_execute_api(&e.service)
        {
            continue;
        }
        for eni in enis {
            out.push(StandInConfig {
                ns: names.eni_ns(*eni),
                address: net.enis[eni.index()].private_ip,
                service: e.service.clone(),
                endpoint: format!("{}/{}", net.vpc_path(e.vpc), e.name),
            });
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_secrets_manager_endpoint_has_a_stand_in_per_eni() {
        let net = crate::example_network();
        let s = stand_ins(&net, "cove");
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(
            s.iter()
                .all(|c| c.service == "com.amazonaws.us-east-1.secretsmanager")
        );
        assert!(s.iter().all(|c| c.ns.starts_with("cove-e-")));
        assert_ne!(s[0].address, s[1].address);
    }
}
