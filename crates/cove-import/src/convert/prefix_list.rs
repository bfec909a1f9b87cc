//! Prefix lists: given to every tenant with a VPC in the same folder (account/region),
//! since AWS-managed lists are visible to every account of the region.

use std::collections::{BTreeMap, BTreeSet};

use cove_model::spec::PrefixListSpec;

use super::Builder;
use crate::aws;
use crate::files::Rec;
use crate::net;

/// Imports prefix lists into the tenants of their folder.
pub(super) fn import(b: &mut Builder, mut lists: Vec<Rec<aws::PrefixList>>) {
    let mut folder_tenants: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for v in b.vpcs.values() {
        folder_tenants
            .entry(v.folder)
            .or_default()
            .insert(v.tenant.clone());
    }
    lists.sort_by(|x, y| {
        (&x.item.prefix_list_id, x.folder).cmp(&(&y.item.prefix_list_id, y.folder))
    });
    for Rec {
        file, folder, item, ..
    } in lists
    {
        let id = item.prefix_list_id.clone();
        if !b.name_ok("prefix-list", &id, &file) {
            continue;
        }
        let Some(tenants) = folder_tenants.get(&folder) else {
            b.report.add(
                "prefix-list",
                &id,
                "no VPC was imported from its folder, so no tenant to give it to",
                &file,
            );
            continue;
        };
        let mut cidrs = Vec::new();
        for c in &item.cidrs {
            match net::parse_cidr(c) {
                Ok(n) => cidrs.push(n.to_string()),
                Err(e) => b
                    .report
                    .add("prefix-list", &id, format!("entry dropped: {e}"), &file),
            }
        }
        if let Some(name) = &item.prefix_list_name {
            b.prefix_list_names.insert(id.clone(), name.clone());
        }
        let spec = PrefixListSpec {
            name: id.clone(),
            id: Some(id.clone()),
            cidrs,
            tags: Default::default(),
        };
        for t in tenants {
            let lists = b.prefix_lists.entry(t.clone()).or_default();
            match lists.get(&id) {
                Some(existing) if *existing != spec => b.report.add(
                    "prefix-list",
                    &id,
                    format!("a different copy was already imported into {t}"),
                    &file,
                ),
                Some(_) => {}
                None => {
                    lists.insert(id.clone(), spec.clone());
                }
            }
        }
    }
}

impl Builder {
    /// The prefix list `pl` of `tenant`, if imported.
    pub(crate) fn prefix_list(&self, tenant: &str, pl: &str) -> Option<&PrefixListSpec> {
        self.prefix_lists.get(tenant)?.get(pl)
    }

    /// The prefix list of `tenant` whose AWS name is a gateway endpoint's service.
    pub(crate) fn prefix_list_for_service(&self, tenant: &str, service: &str) -> Option<String> {
        self.prefix_lists
            .get(tenant)?
            .keys()
            .find(|id| self.prefix_list_names.get(*id).map(String::as_str) == Some(service))
            .cloned()
    }
}
