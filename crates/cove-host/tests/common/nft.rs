//! Helpers of the nf_tables element tests (`nftnl.rs`, `nftsets.rs`): tables
//! declared from cove-plan's description, element plans, and what `observe` reads.

use std::collections::{BTreeMap, BTreeSet};

use cove_host::Host;
use cove_plan::nftsets::{SetDecl, declarations};
use cove_plan::{NftTable, Op, Plan};

use super::{Guard, chain};

/// Elements by set name, in the planner's syntax.
pub type Elements = BTreeMap<String, BTreeSet<String>>;

/// A guard for a fresh host with prefix `<base><pid><tag>` (left over from an
/// earlier run: destroyed first).
pub fn fresh_host(base: &str, tag: char) -> Guard {
    let host = Host::new(&format!("{base}{}{tag}", std::process::id())).expect("valid prefix");
    let _ = host.destroy();
    Guard(host)
}

/// A table `inet cove` (generation `nl1`) declaring `decls`, as cove-plan's
/// description writes them.
pub fn table_of(decls: &[SetDecl], elements: Elements) -> NftTable {
    let body = declarations(decls);
    NftTable {
        name: "cove".to_owned(),
        generation: "nl1".to_owned(),
        text: format!("table inet cove {{\n\tcomment \"gen:nl1\"\n{body}}}\n"),
        elements,
        rules_digest: None,
        loaded_digest: None,
    }
}

/// A plan of one element change in cove's table in `ns`.
pub fn elements_op(ns: &str, add: Elements, delete: Elements) -> Plan {
    Plan {
        ops: vec![Op::NftElements {
            ns: ns.to_owned(),
            table: "cove".to_owned(),
            add,
            delete,
        }],
    }
}

/// Applies `plan`, which must succeed.
pub fn apply(host: &Host, plan: &Plan) {
    host.apply(plan)
        .unwrap_or_else(|e| panic!("apply failed: {}", chain(&e)));
}

/// The elements of cove's table in `ns`, as `observe` reads them.
pub fn observed(host: &Host, ns: &str) -> Elements {
    let state = host
        .observe()
        .unwrap_or_else(|e| panic!("observe failed: {}", chain(&e)));
    let t = state.namespaces[ns].nft.clone().expect("cove's table");
    assert_eq!(t.generation, "nl1");
    t.elements
}
