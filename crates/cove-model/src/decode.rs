//! YAML (or JSON) text → [`Spec`], reporting every unknown field at once.
//!
//! The text is first parsed into a generic tree, then decoded into [`Spec`] while
//! `serde_ignored` records every key the spec does not know. A shape error (a list
//! where a map belongs) stops decoding and is reported with its path.

use serde::de::IntoDeserializer;
use serde_json::Value;

use crate::diag::{Diagnostic, ErrorCode};
use crate::spec::Spec;

/// Largest spec text cove reads: far beyond any real network (an import of tens of
/// thousands of interfaces is a few MiB), small enough that the parsed tree fits in
/// memory.
pub const MAX_SPEC_BYTES: usize = 256 * 1024 * 1024;

/// The parser's resource budget for `len` bytes of text. Without aliases every YAML
/// node takes at least one byte of text and at most two parser events, so node and
/// event limits proportional to the length (never below the parser's defaults)
/// admit every spec that fits [`MAX_SPEC_BYTES`] — however many objects `cove
/// import aws` wrote — while alias expansion ("billion laughs") and nesting keep the
/// parser's own fixed limits.
pub fn budget_for(len: usize) -> serde_saphyr::Budget {
    let d = serde_saphyr::Budget::default();
    let mut b = serde_saphyr::Budget::default();
    b.max_nodes = d.max_nodes.max(len.saturating_add(16));
    b.max_events = d.max_events.max(len.saturating_mul(2).saturating_add(16));
    b.max_total_scalar_bytes = d.max_total_scalar_bytes.max(len);
    b
}

/// Parses spec text. On success returns the spec and a diagnostic for each unknown
/// field (those make the spec invalid, but the rest can still be checked).
pub fn decode_spec(text: &str) -> Result<(Spec, Vec<Diagnostic>), Vec<Diagnostic>> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(vec![Diagnostic::error(
            ErrorCode::MalformedSpec,
            "(document)",
            format!(
                "the file is {} bytes; cove reads specs of at most {MAX_SPEC_BYTES} bytes",
                text.len()
            ),
            "split the network into several specs",
        )]);
    }
    // YAML 1.2 booleans only: a name such as `y`, `on` or `no` stays a string.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        budget: Some(budget_for(text.len())),
    };
    let tree: Value = match serde_saphyr::from_str_with_options(text, options) {
        Ok(Value::Null) => Value::Object(Default::default()),
        Ok(v) => v,
        Err(e) => {
            return Err(vec![Diagnostic::error(
                ErrorCode::MalformedSpec,
                "(document)",
                format!("the file is not valid YAML: {e}"),
                "fix the YAML syntax at the position given (indentation, quotes, colons)",
            )]);
        }
    };
    decode_tree(&tree)
}

/// Decodes an already-parsed tree (used by the importer's round-trip tests too).
pub fn decode_tree(tree: &Value) -> Result<(Spec, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut unknown: Vec<String> = Vec::new();
    let de = tree.clone().into_deserializer();
    let mut record = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let ignored = serde_ignored::Deserializer::new(de, &mut record);
    let spec: Spec = match serde_path_to_error::deserialize(ignored) {
        Ok(s) => s,
        Err(e) => {
            let (path, node) = walk(tree, &e.path().to_string());
            if let Some(d) = unquoted_account_id(&path, node) {
                return Err(vec![d]);
            }
            let inner = e.into_inner().to_string();
            return Err(vec![Diagnostic::error(
                ErrorCode::MalformedSpec,
                path,
                format!("wrong shape: {inner}"),
                "compare the field with the example spec in examples/ (a list needs `- ` items, a map needs `key: value`)",
            )]);
        }
    };
    let diags = unknown
        .into_iter()
        .map(|raw| {
            let path = pretty_path(tree, &raw);
            let field = path.rsplit('.').next().unwrap_or(&path).to_owned();
            Diagnostic::error(
                ErrorCode::UnknownParameter,
                path,
                format!("unknown field `{field}`"),
                "remove it or correct its spelling (docs/spec.md lists every field)",
            )
        })
        .collect();
    Ok((spec, diags))
}

/// An account id written without quotes: YAML reads `012345678901` as a number and
/// drops the leading zero, so say to quote it.
fn unquoted_account_id(path: &str, node: Option<&Value>) -> Option<Diagnostic> {
    if path.rsplit('.').next() != Some("account_id") {
        return None;
    }
    let n = node?.as_f64()?;
    let text = format!("{n}");
    let digits = if text.len() <= 12 && text.chars().all(|c| c.is_ascii_digit()) {
        format!("{text:0>12}")
    } else {
        "111122223333".to_owned()
    };
    Some(Diagnostic::error(
        ErrorCode::InvalidParameterValue,
        path,
        format!(
            "the account id is not quoted, so YAML read it as the number {n} (leading zeros are dropped)"
        ),
        format!(
            "quote it: account_id: \"{digits}\" (an account id is 12 digits, leading zeros included)"
        ),
    ))
}

/// Turns serde's `tenants[0].vpcs[1].cidr` (or `tenants.0.vpcs.1.cidr`) into
/// `tenants[acme].vpcs[app].cidr` by looking up the `name` of each list item in the tree.
pub fn pretty_path(tree: &Value, raw: &str) -> String {
    walk(tree, raw).0
}

/// The pretty path of `raw` and the node there, if the tree has one.
fn walk<'t>(tree: &'t Value, raw: &str) -> (String, Option<&'t Value>) {
    enum Tok<'a> {
        Key(&'a str),
        Index(usize),
    }
    let mut toks = Vec::new();
    for seg in raw.split('.').filter(|s| !s.is_empty()) {
        let (key, rest) = match seg.find('[') {
            Some(p) => (&seg[..p], &seg[p..]),
            None => (seg, ""),
        };
        match key.parse::<usize>() {
            Ok(i) => toks.push(Tok::Index(i)),
            Err(_) if !key.is_empty() => toks.push(Tok::Key(key)),
            Err(_) => {}
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            if let Ok(i) = idx.trim_end_matches(']').parse::<usize>() {
                toks.push(Tok::Index(i));
            }
        }
    }
    if toks.is_empty() {
        return ("(document)".to_owned(), Some(tree));
    }
    let mut out = String::new();
    let mut node = Some(tree);
    for tok in toks {
        match tok {
            Tok::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
                node = node.and_then(|n| n.get(k));
            }
            Tok::Index(i) => {
                let item = node.and_then(|n| n.get(i));
                match item.and_then(|it| it.get("name")).and_then(Value::as_str) {
                    Some(name) => out.push_str(&format!("[{name}]")),
                    None => out.push_str(&format!("[{i}]")),
                }
                node = item;
            }
        }
    }
    (out, node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_unknown_field_with_named_path() {
        let text = r#"
tenants:
  - name: acme
    colour: blue
    vpcs:
      - name: app
        cidr: 10.0.0.0/16
        subnets:
          - name: a
            cidr: 10.0.1.0/24
            az: x
            cidrr: 1
"#;
        let (spec, diags) = decode_spec(text).expect("decodes");
        assert_eq!(spec.tenants[0].vpcs[0].subnets[0].cidr, "10.0.1.0/24");
        let paths: Vec<_> = diags.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "tenants[acme].colour",
                "tenants[acme].vpcs[app].subnets[a].cidrr"
            ]
        );
        assert!(diags.iter().all(|d| d.code == ErrorCode::UnknownParameter));
    }

    #[test]
    fn shape_error_has_path() {
        let text = "tenants:\n  - name: acme\n    vpcs: 3\n";
        let err = decode_spec(text).expect_err("wrong shape");
        assert_eq!(err[0].code, ErrorCode::MalformedSpec);
        assert_eq!(err[0].path, "tenants[acme].vpcs");
    }

    #[test]
    fn syntax_error_is_malformed() {
        let err = decode_spec("tenants: [\n").expect_err("bad yaml");
        assert_eq!(err[0].code, ErrorCode::MalformedSpec);
    }

    #[test]
    fn yaml_1_1_boolean_words_are_names() {
        let text = "tenants:\n  - name: y\n    vpcs:\n      - { name: on, cidr: 10.0.0.0/16 }\n";
        let (spec, diags) = decode_spec(text).expect("decodes");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(spec.tenants[0].name, "y");
        assert_eq!(spec.tenants[0].vpcs[0].name, "on");
    }

    #[test]
    fn empty_document_is_an_empty_spec() {
        let (spec, diags) = decode_spec("").expect("empty ok");
        assert!(spec.tenants.is_empty());
        assert!(diags.is_empty());
    }
}
