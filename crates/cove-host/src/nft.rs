//! nftables, slow path: one `nft` process per operation, spawned from a thread that
//! is inside the namespace (a child inherits the spawning thread's namespace).
//!
//! cove's table carries its generation as the table comment (`comment "gen:<g>"`),
//! read back over netlink (`nftnl/ruleset.rs`) with the digest of its rules.

use std::io::Write;
use std::process::{Command, Stdio};

use std::collections::{BTreeMap, BTreeSet};

use cove_plan::NftTable;
use cove_plan::state::element_statements;

use crate::error::HostError;

/// The name of cove's table (family `inet`) in every namespace.
pub const TABLE: &str = "cove";

/// What precedes the generation in the table comment.
const GEN_PREFIX: &str = "gen:";

/// Runs `nft ARGS` with `input` on stdin and returns its stdout. Call only from a
/// thread inside namespace `ns`.
fn run(ns: &str, args: &[&str], input: Option<&str>) -> Result<String, HostError> {
    let spawn_err = |source| HostError::NftSpawn {
        ns: ns.to_owned(),
        source,
    };
    let mut child = Command::new("nft")
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // nft reads all of its input before it writes anything.
        stdin.write_all(text.as_bytes()).map_err(spawn_err)?;
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    if !out.status.success() {
        return Err(HostError::Nft {
            ns: ns.to_owned(),
            args: args.join(" "),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Replaces table `table.name` atomically: one batch that creates the table (so that
/// the delete cannot fail), deletes it, and adds `table.text`.
pub(crate) fn replace(ns: &str, table: &NftTable) -> Result<(), HostError> {
    let name = &table.name;
    let mut input = format!("table inet {name}\ndelete table inet {name}\n");
    input.push_str(&table.batch_text());
    input.push('\n');
    run(ns, &["-f", "-"], Some(&input)).map(drop)
}

/// Removes and adds set elements of table `table` in one batch: the path for
/// sets without a [`cove_plan::nft::set_schema`] (the others go over netlink, see
/// `nftnl.rs`). Unlike that path, adding an element that is there succeeds.
pub(crate) fn update_elements(
    ns: &str,
    table: &str,
    add: &BTreeMap<String, BTreeSet<String>>,
    delete: &BTreeMap<String, BTreeSet<String>>,
) -> Result<(), HostError> {
    let mut input = element_statements("delete", table, delete);
    input.push_str(&element_statements("add", table, add));
    if input.is_empty() {
        return Ok(());
    }
    run(ns, &["-f", "-"], Some(&input)).map(drop)
}

/// Deletes table `name` (absent is fine).
pub(crate) fn delete(ns: &str, name: &str) -> Result<(), HostError> {
    let input = format!("table inet {name}\ndelete table inet {name}\n");
    run(ns, &["-f", "-"], Some(&input)).map(drop)
}

/// The generation in a table comment (`gen:<g>`); empty without one (so that the
/// table is replaced).
pub(crate) fn generation(comment: Option<&str>) -> String {
    comment
        .and_then(|c| c.strip_prefix(GEN_PREFIX))
        .unwrap_or_default()
        .to_owned()
}

/// The elements of the sets and maps of cove's table (one `nft` process; only for
/// a table that has named sets).
pub(crate) fn elements(ns: &str) -> Result<BTreeMap<String, BTreeSet<String>>, HostError> {
    let json = run(ns, &["-j", "list", "table", "inet", TABLE], None)?;
    elements_in_json(ns, &json)
}

/// One element part in nft syntax: interface names quoted, verdicts as `jump X`,
/// prefixes and ranges as `a/len` and `a-b`.
fn part(value: &serde_json::Value, ty: &str) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) if ty == "ifname" => format!("\"{s}\""),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => {
            if let Some(j) = o.get("jump").or_else(|| o.get("goto")) {
                let verb = if o.contains_key("jump") {
                    "jump"
                } else {
                    "goto"
                };
                let target = j.get("target").and_then(Value::as_str).unwrap_or_default();
                format!("{verb} {target}")
            } else if let Some(p) = o.get("prefix") {
                let addr = p.get("addr").map(|a| part(a, "")).unwrap_or_default();
                let len = p.get("len").map(|l| part(l, "")).unwrap_or_default();
                format!("{addr}/{len}")
            } else if let Some(Value::Array(r)) = o.get("range") {
                let ends: Vec<String> = r.iter().map(|x| part(x, ty)).collect();
                ends.join("-")
            } else if let Some(Value::Array(c)) = o.get("concat") {
                c.iter()
                    .map(|x| part(x, ty))
                    .collect::<Vec<_>>()
                    .join(" . ")
            } else {
                value.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// A key (single or concatenated) in nft syntax, given the set's key types.
fn key(value: &serde_json::Value, types: &[String]) -> String {
    match value.get("concat").and_then(|c| c.as_array()) {
        Some(parts) => parts
            .iter()
            .enumerate()
            .map(|(i, p)| part(p, types.get(i).map_or("", String::as_str)))
            .collect::<Vec<_>>()
            .join(" . "),
        None => part(value, types.first().map_or("", String::as_str)),
    }
}

/// Every element of the sets and maps of cove's table in `nft -j list ruleset`
/// output, in the syntax the planner writes them.
fn elements_in_json(ns: &str, json: &str) -> Result<BTreeMap<String, BTreeSet<String>>, HostError> {
    use serde_json::Value;
    let v: Value = serde_json::from_str(json).map_err(|source| HostError::NftOutput {
        ns: ns.to_owned(),
        source,
    })?;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let entries = v
        .get("nftables")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in entries {
        let (set, is_map) = match (entry.get("set"), entry.get("map")) {
            (Some(s), _) => (s, false),
            (_, Some(m)) => (m, true),
            _ => continue,
        };
        // Only cove's own table (the ruleset may hold others).
        let ours = set.get("family").and_then(Value::as_str) == Some("inet")
            && set.get("table").and_then(Value::as_str) == Some(TABLE);
        if !ours {
            continue;
        }
        let Some(name) = set.get("name").and_then(Value::as_str) else {
            continue;
        };
        let types: Vec<String> = match set.get("type") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let data_ty = set.get("map").and_then(Value::as_str).unwrap_or_default();
        let Some(elems) = set.get("elem").and_then(Value::as_array) else {
            continue;
        };
        let bucket = out.entry(name.to_owned()).or_default();
        for e in elems {
            // `{"elem": {"val": …, …}}` wraps elements that carry flags or comments.
            let e = e.get("elem").and_then(|x| x.get("val")).unwrap_or(e);
            let text = match (is_map, e.as_array()) {
                (true, Some(pair)) if pair.len() == 2 => {
                    format!("{} : {}", key(&pair[0], &types), part(&pair[1], data_ty))
                }
                _ => key(e, &types),
            };
            bucket.insert(text);
        }
    }
    out.retain(|_, v| !v.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_in_the_planner_syntax() {
        let json = r#"{"nftables": [{"metainfo": {}},
          {"set": {"family": "inet", "table": "cove", "name": "eni_src", "type": ["ifname", "ipv4_addr"],
            "elem": [{"concat": ["e1", "10.0.0.5"]}]}},
          {"set": {"family": "inet", "table": "cove", "name": "links", "type": "ifname", "elem": ["e1", "e2"]}},
          {"map": {"family": "inet", "table": "cove", "name": "link_subnet", "type": "ifname", "map": "mark", "elem": [["e1", 1]]}},
          {"map": {"family": "inet", "table": "cove", "name": "nacl_out", "type": "ifname", "map": "verdict",
            "elem": [["e1", {"jump": {"target": "nacl_out_0"}}]]}},
          {"map": {"family": "inet", "table": "cove", "name": "p2p", "type": "ipv4_addr", "map": "ipv4_addr",
            "elem": [["203.0.113.10", "10.0.0.5"]]}},
          {"set": {"family": "inet", "table": "cove", "name": "empty", "type": "ipv4_addr"}}]}"#;
        let e = elements_in_json("x", json).expect("json");
        let get = |s: &str| e.get(s).map(|v| v.iter().cloned().collect::<Vec<_>>());
        assert_eq!(get("eni_src"), Some(vec!["\"e1\" . 10.0.0.5".to_owned()]));
        assert_eq!(
            get("links"),
            Some(vec!["\"e1\"".to_owned(), "\"e2\"".to_owned()])
        );
        assert_eq!(get("link_subnet"), Some(vec!["\"e1\" : 1".to_owned()]));
        assert_eq!(
            get("nacl_out"),
            Some(vec!["\"e1\" : jump nacl_out_0".to_owned()])
        );
        assert_eq!(get("p2p"), Some(vec!["203.0.113.10 : 10.0.0.5".to_owned()]));
        assert_eq!(get("empty"), None);
    }
}
