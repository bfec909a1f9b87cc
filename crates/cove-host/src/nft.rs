//! nftables, slow path: one `nft` process per operation, spawned from a thread that
//! is inside the namespace (a child inherits the spawning thread's namespace).
//!
//! cove's table carries its generation as the table comment (`comment "gen:<g>"`),
//! so that it can be observed without parsing the rules.

use std::io::Write;
use std::process::{Command, Stdio};

use cove_plan::NftTable;

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
    input.push_str(&table.text);
    input.push('\n');
    run(ns, &["-f", "-"], Some(&input)).map(drop)
}

/// Deletes table `name` (absent is fine).
pub(crate) fn delete(ns: &str, name: &str) -> Result<(), HostError> {
    let input = format!("table inet {name}\ndelete table inet {name}\n");
    run(ns, &["-f", "-"], Some(&input)).map(drop)
}

/// Reads cove's table: its generation from the table comment, the text left empty.
/// A table without a `gen:` comment is reported with an empty generation (so that
/// it is replaced).
pub(crate) fn observe(ns: &str) -> Result<Option<NftTable>, HostError> {
    let json = run(ns, &["-j", "list", "tables"], None)?;
    let Some(comment) = find_table(ns, &json)? else {
        return Ok(None);
    };
    let comment = match comment {
        Some(c) => Some(c),
        // nft before 1.0.7 leaves table comments out of its JSON: read the text.
        None => {
            let text = run(ns, &["-t", "list", "table", "inet", TABLE], None)?;
            comment_in_text(&text)
        }
    };
    let generation = comment
        .as_deref()
        .and_then(|c| c.strip_prefix(GEN_PREFIX))
        .unwrap_or_default()
        .to_owned();
    Ok(Some(NftTable {
        name: TABLE.to_owned(),
        generation,
        text: String::new(),
    }))
}

/// In `nft -j list tables` output: `None` if there is no `inet` table named
/// [`TABLE`], else its comment if the JSON carries one.
fn find_table(ns: &str, json: &str) -> Result<Option<Option<String>>, HostError> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|source| HostError::NftOutput {
            ns: ns.to_owned(),
            source,
        })?;
    let entries = v
        .get("nftables")
        .and_then(|n| n.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in entries {
        let Some(t) = entry.get("table") else {
            continue;
        };
        let family = t.get("family").and_then(|f| f.as_str());
        let name = t.get("name").and_then(|f| f.as_str());
        if family == Some("inet") && name == Some(TABLE) {
            let comment = t.get("comment").and_then(|c| c.as_str()).map(str::to_owned);
            return Ok(Some(comment));
        }
    }
    Ok(None)
}

/// The table comment in `nft list table` text: the `comment "…"` line before the
/// first set, map or chain.
fn comment_in_text(text: &str) -> Option<String> {
    for line in text.lines().skip(1) {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("comment \"") {
            return rest.strip_suffix('"').map(str::to_owned);
        }
        if line.ends_with('{') {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_table_in_json() {
        let old = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "ip", "name": "cove", "handle": 1}},
            {"table": {"family": "inet", "name": "cove", "handle": 2}}]}"#;
        assert_eq!(find_table("x", old).expect("json"), Some(None));
        let new = r#"{"nftables": [{"table": {"family": "inet", "name": "cove",
            "handle": 2, "comment": "gen:abc"}}]}"#;
        assert_eq!(
            find_table("x", new).expect("json"),
            Some(Some("gen:abc".to_owned()))
        );
        let none = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}]}"#;
        assert_eq!(find_table("x", none).expect("json"), None);
        assert!(find_table("x", "not json").is_err());
    }

    #[test]
    fn reads_the_comment_from_text() {
        let text =
            "table inet cove {\n\tcomment \"gen:42\"\n\tchain fw {\n\t\tcomment \"no\"\n\t}\n}\n";
        assert_eq!(comment_in_text(text).as_deref(), Some("gen:42"));
        let bare = "table inet cove {\n\tchain fw {\n\t\tcomment \"no\"\n\t}\n}\n";
        assert_eq!(comment_in_text(bare), None);
    }
}
