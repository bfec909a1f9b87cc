//! `cove serve` with its control-plane API for the API tests (`api_functions.rs`,
//! `two_tenants.rs`): started on a deployment, driven over HTTP, stopped on drop.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Deployment;
use super::functions::Background;

/// How long any wait may last before the test fails (a guard against hanging, not
/// a performance threshold).
pub const GUARD: Duration = Duration::from_secs(120);

/// A deployment under `cvhf<tag><pid>`, destroyed on drop.
pub fn deployment(tag: &str) -> Deployment {
    Deployment {
        prefix: format!("cvhf{tag}{}", std::process::id() % 10_000),
        state: tempfile::tempdir().expect("state dir"),
    }
}

/// `cove serve` with its API; stopped on drop (SIGTERM: it ends every environment;
/// SIGKILL if it does not exit), before the deployment is destroyed.
pub struct Serve {
    pub child: Background,
    pub log: std::path::PathBuf,
    pub base: String,
    pub admin: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let pid = self.child.0.id().to_string();
        let _ = Process::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if self.child.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Serve {
    pub fn start(d: &Deployment) -> Serve {
        Serve::start_on(d, None)
    }

    /// `cove serve` on the store `database` (a URL), or the default SQLite file.
    pub fn start_on(d: &Deployment, database: Option<&str>) -> Serve {
        let log = d.state.path().join("serve.log");
        let out = std::fs::File::create(&log).expect("log");
        let err = out.try_clone().expect("log");
        let child = Process::new(assert_cmd::cargo::cargo_bin("cove"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--api-listen",
                "127.0.0.1:0",
            ])
            .env("COVE_PREFIX", &d.prefix)
            .env("COVE_STATE_DIR", d.state.path())
            .env_remove("COVE_SERVER")
            .env_remove("COVE_TOKEN")
            .envs(database.map(|u| ("COVE_DATABASE", u)))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("cove serve");
        let child = Background(child);
        let started = Instant::now();
        let base = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(b) = text
                .lines()
                .find_map(|l| l.strip_prefix("cove serve: control-plane API on "))
                .and_then(|r| r.split_whitespace().next())
            {
                break b.to_owned();
            }
            assert!(
                started.elapsed() < GUARD,
                "cove serve did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let admin = std::fs::read_to_string(d.state.path().join(&d.prefix).join("admin-token"))
            .expect("admin token")
            .trim()
            .to_owned();
        Serve {
            child,
            log,
            base,
            admin,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs the Python checks `script` (under `crates/cove/tests/`) with the JSON
    /// config `cfg` (10 minutes at most) and asserts that it succeeded and printed
    /// each of `steps` (`{"step": NAME}` lines); answers its output.
    pub fn run_checks(&self, script: &str, cfg: &std::path::Path, steps: &[&str]) -> String {
        let out = Process::new("timeout")
            .args(["600", "python3"])
            .arg(
                super::functions::repo()
                    .join("crates/cove/tests")
                    .join(script),
            )
            .arg(cfg)
            .output()
            .expect("python3");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "the checks of {script} failed:\n{stdout}\n{}\ncove serve's log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        for step in steps {
            assert!(
                stdout.contains(&format!("\"step\": \"{step}\"")),
                "step {step} of {script} did not run:\n{stdout}"
            );
        }
        stdout
    }

    /// `method path` with a JSON body (or raw bytes); answers (status, JSON or text).
    pub fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.raw(method, path, token, bytes, "application/json")
    }

    pub fn raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {token}");
        let resp = match method {
            "GET" => agent.get(&url).header("authorization", &auth).call(),
            "DELETE" => agent.delete(&url).header("authorization", &auth).call(),
            "POST" => agent
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", content_type)
                .send(body.unwrap_or_default()),
            "PATCH" => agent
                .patch(&url)
                .header("authorization", &auth)
                .header("content-type", content_type)
                .send(body.unwrap_or_default()),
            _ => agent
                .put(&url)
                .header("authorization", &auth)
                .header("content-type", content_type)
                .send(body.unwrap_or_default()),
        };
        let mut resp = resp.expect("request");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    pub fn ok(
        &self,
        want: u16,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let (st, v) = self.call(method, path, token, body);
        assert_eq!(
            st,
            want,
            "{method} {path}: {v}\ncove serve's log:\n{}",
            self.log()
        );
        v
    }

    /// A tenant and its token: (tenant, secret, token id).
    pub fn tenant(&self, name: &str) -> (Value, String, String) {
        let t = self.ok(
            201,
            "POST",
            "/v1/tenants",
            &self.admin,
            Some(json!({ "name": name })),
        );
        let id = t["id"].as_str().expect("id");
        let tok = self.ok(
            201,
            "POST",
            &format!("/v1/tenants/{id}/tokens"),
            &self.admin,
            Some(json!({})),
        );
        (
            t.clone(),
            tok["secret"].as_str().expect("secret").to_owned(),
            tok["token"]["id"].as_str().expect("token id").to_owned(),
        )
    }

    /// Waits until `GET path` has `key` = `want`.
    pub fn wait_for(&self, path: &str, token: &str, key: &str, want: &str) -> Value {
        let started = Instant::now();
        loop {
            let (_, v) = self.call("GET", path, token, None);
            if v[key] == want {
                return v;
            }
            assert!(
                started.elapsed() < GUARD,
                "{path}: {key} is not {want} ({v}); cove serve's log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Invokes until the function runs (it answers 409 until the reconciler applied
    /// it and `cove serve` loaded it).
    pub fn invoke(&self, name: &str, token: &str, event: &Value) -> Value {
        let started = Instant::now();
        loop {
            let (st, v) = self.call(
                "POST",
                &format!("/v1/functions/{name}/invocations"),
                token,
                Some(event.clone()),
            );
            if st != 409 {
                assert_eq!(st, 200, "{v}\ncove serve's log:\n{}", self.log());
                return v;
            }
            assert!(
                started.elapsed() < GUARD,
                "{name} never ran: {v}; cove serve's log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A directory zipped in memory.
pub fn zip_dir(dir: &Path) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_file() {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            z.start_file(name, zip::write::SimpleFileOptions::default())
                .expect("entry");
            z.write_all(&std::fs::read(&p).expect("read"))
                .expect("write");
        }
    }
    z.finish().expect("finish");
    buf.into_inner()
}
