//! `cove fn …` against a server (`--server URL --token …`, or `COVE_SERVER` /
//! `COVE_TOKEN`): the same commands through the API's `/v1/functions`. Without a
//! server they work on the local deployment as before.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use super::super::client::{Conn, lines, table};
use crate::Outcome;
use crate::input::InputError;

/// Where the API is, if the command should go through it (the same `--server` /
/// `--token` as every command that also works locally).
pub use super::super::client::Remote;

const SHOW: [&str; 9] = [
    "name",
    "network",
    "runtime",
    "handler",
    "code",
    "memory",
    "timeout",
    "concurrency",
    "subnets",
];

/// The code at `path` as a zip: a `.zip` file as it is, a directory zipped.
pub fn zip_code(path: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_file() {
        return std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let p = e.path();
            let rel = p
                .strip_prefix(path)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let m = std::fs::symlink_metadata(&p)?;
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                use std::os::unix::fs::PermissionsExt;
                let opts = zip::write::SimpleFileOptions::default()
                    .unix_permissions(m.permissions().mode() & 0o777);
                z.start_file(rel, opts)?;
                z.write_all(&std::fs::read(&p)?)?;
            }
        }
    }
    z.finish()?;
    Ok(buf.into_inner())
}

/// `cove fn deploy --server …`: uploads the code, then creates the function in
/// `network` (or updates it if it exists).
pub fn deploy(c: &Conn, a: &super::deploy::Args) -> anyhow::Result<Outcome> {
    let zip = zip_code(&a.code)?;
    let up = c.call_raw(
        "POST",
        "/v1/functions/code",
        &zip,
        &[("content-type", "application/zip")],
        &[],
    )?;
    let up: Value = serde_json::from_slice(&up.body).context("the upload's answer")?;
    let code = up["code"].as_str().unwrap_or_default().to_owned();
    let environment: serde_json::Map<String, Value> = a
        .env
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_owned(), json!(v))
        })
        .collect();
    let mut body = json!({
        "runtime": a.runtime, "handler": a.handler, "code": code,
        "memory": a.memory, "timeout": a.timeout, "concurrency": a.concurrency,
        "environment": environment,
    });
    if !a.subnets.is_empty() {
        body["subnets"] = json!(a.subnets);
    }
    if !a.security_groups.is_empty() {
        body["security_groups"] = json!(a.security_groups);
    }
    if let Some(d) = &a.description {
        body["description"] = json!(d);
    }
    let path = format!("/v1/functions/{}", a.name);
    let exists = match c.call("GET", &path, None) {
        Ok(_) => true,
        Err(super::super::client::ClientError::Api { status: 404, .. }) => false,
        Err(e) => return Err(e.into()),
    };
    let v = if exists {
        c.call("PATCH", &path, Some(&body))?
    } else {
        let network = a.network.clone().ok_or_else(|| InputError::Argument {
            what: "--network",
            text: String::new(),
            hint: "name the network (id or name) the function attaches to".into(),
        })?;
        body["name"] = json!(a.name);
        body["network"] = json!(network);
        c.call("POST", "/v1/functions", Some(&body))?
    };
    c.print(&v, |v| lines(v, &SHOW));
    Ok(Outcome::Ok)
}

/// `cove fn list --server …`.
pub fn list(c: &Conn) -> anyhow::Result<Outcome> {
    let v = c.call("GET", "/v1/functions", None)?;
    c.print(&v, |v| {
        table(v, &["name", "network", "runtime", "handler", "code"])
    });
    Ok(Outcome::Ok)
}

/// `cove fn delete --server …`.
pub fn delete(c: &Conn, name: &str) -> anyhow::Result<Outcome> {
    c.call("DELETE", &format!("/v1/functions/{name}"), None)?;
    c.print(&json!({ "deleted": name }), |_| {
        format!("deleted function {name}\n")
    });
    Ok(Outcome::Ok)
}

/// `cove fn invoke --server …`: prints the answer (exit 5 on a function error).
pub fn invoke(c: &Conn, name: &str, payload: &[u8]) -> anyhow::Result<Outcome> {
    let r = c.call_raw(
        "POST",
        &format!("/v1/functions/{name}/invocations"),
        payload,
        &[("content-type", "application/json")],
        &["x-amz-function-error", "x-amzn-requestid"],
    )?;
    let failed = r.header("x-amz-function-error").is_some();
    if c.json {
        let body: Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&r.body)));
        let v = json!({
            "status": r.status,
            "function_error": r.header("x-amz-function-error"),
            "request_id": r.header("x-amzn-requestid"),
            "payload": body,
        });
        crate::output::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        crate::output::write_stdout(&r.body);
        crate::output::outln!("");
    }
    Ok(if failed {
        Outcome::FunctionError
    } else {
        Outcome::Ok
    })
}

/// `cove fn logs --server …`.
pub fn logs(c: &Conn, name: &str, tail: u64) -> anyhow::Result<Outcome> {
    let r = c.call_raw(
        "GET",
        &format!("/v1/functions/{name}/logs?tail={tail}"),
        &[],
        &[],
        &[],
    )?;
    if c.json {
        let v = json!({ "function": name, "logs": String::from_utf8_lossy(&r.body) });
        crate::output::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        crate::output::write_stdout(&r.body);
    }
    Ok(Outcome::Ok)
}
