//! What the functions tests share: a recording [`FunctionRunner`], zips made in
//! memory, uploads, a server with the runner, a network and a function body.

#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use cove_api::runner::{
    FunctionKey, FunctionRunner, InvocationType, InvokeCall, Invoked, RunError, RunFuture, Running,
};
use cove_testdb::TestDb;
use serde_json::{Value, json};

use super::{Answer, Server};

/// Records every call; a payload containing `fail` is a function error; functions
/// named `pending*` are not running yet.
#[derive(Debug, Default)]
pub struct Recorder {
    pub calls: Mutex<Vec<InvokeCall>>,
    pub logs: Mutex<Vec<(FunctionKey, u64)>>,
    /// What it claims to run of each function.
    pub running: Mutex<Vec<(FunctionKey, Running)>>,
}

impl FunctionRunner for Recorder {
    fn running(&self, function: &FunctionKey) -> Option<Running> {
        self.running
            .lock()
            .expect("running")
            .iter()
            .find(|(k, _)| k == function)
            .map(|(_, r)| r.clone())
    }

    fn invoke(&self, call: InvokeCall) -> RunFuture<Invoked> {
        self.calls.lock().expect("calls").push(call.clone());
        Box::pin(async move {
            if call.function.name.starts_with("pending") {
                return Err(RunError {
                    status: 404,
                    code: "ResourceNotFoundException".into(),
                    message: "not here".into(),
                });
            }
            let failed = String::from_utf8_lossy(&call.payload).contains("fail");
            Ok(Invoked {
                payload: match call.kind {
                    InvocationType::Event => Vec::new(),
                    InvocationType::RequestResponse if failed => {
                        br#"{"errorMessage":"boom","errorType":"Exception"}"#.to_vec()
                    }
                    InvocationType::RequestResponse => format!(
                        r#"{{"tenant":"{}","function":"{}"}}"#,
                        call.function.tenant, call.function.name
                    )
                    .into_bytes(),
                },
                function_error: failed.then(|| "Unhandled".to_owned()),
                request_id: call.request_id,
            })
        })
    }

    fn logs(&self, function: FunctionKey, tail: u64) -> RunFuture<Vec<u8>> {
        self.logs
            .lock()
            .expect("logs")
            .push((function.clone(), tail));
        Box::pin(async move {
            Ok(format!(
                "START\nhello from {}/{}\nEND\n",
                function.tenant, function.name
            )
            .into_bytes())
        })
    }
}

/// A zip of `files` (name, contents); `link` adds a symbolic link (name, target).
pub fn zip(files: &[(&str, &str)], link: Option<(&str, &str)>) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    for (name, body) in files {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        z.write_all(body.as_bytes()).expect("write");
    }
    if let Some((name, target)) = link {
        z.add_symlink(name, target, zip::write::SimpleFileOptions::default())
            .expect("link");
    }
    z.finish().expect("finish");
    buf.into_inner()
}

pub const HANDLER: &str = "def handler(event, context):\n    return event\n";

pub async fn upload(srv: &Server, token: &str, body: Vec<u8>) -> Answer {
    srv.send_raw(
        "POST",
        "/v1/functions/code",
        Some(token),
        body,
        &[("content-type", "application/zip")],
    )
    .await
    .0
}

pub async fn upload_ok(srv: &Server, token: &str, files: &[(&str, &str)]) -> String {
    let a = upload(srv, token, zip(files, None)).await;
    assert_eq!(a.status, 201, "{}", a.text);
    a.json["code"].as_str().expect("code").to_owned()
}

pub fn error_of(a: &Answer) -> (u16, String, String) {
    (
        a.status,
        a.code().to_owned(),
        a.json["error"]["field"].as_str().unwrap_or("").to_owned(),
    )
}

pub async fn start(db: TestDb) -> (Server, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let srv = Server::start_functions(db, rec.clone()).await;
    srv.pool(&["203.0.113.0/28"]).await;
    (srv, rec)
}

pub async fn network(srv: &Server, token: &str, name: &str, cidr: &str) -> Value {
    srv.ok(
        201,
        "POST",
        "/v1/connect/networks",
        token,
        Some(json!({ "name": name, "region": "us-east-1", "cidr": cidr })),
    )
    .await
}

pub fn function(name: &str, network: &str, code: &str) -> Value {
    json!({
        "name": name, "network": network, "runtime": "python3.11",
        "handler": "app.handler", "code": code,
    })
}
