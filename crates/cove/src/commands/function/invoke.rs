//! `cove fn invoke NAME --payload JSON`: through a running `cove serve` when there is
//! one, else in this process (a cold start, then the environment is ended).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::Outcome;
use crate::deploy::{RunOptions, Target};
use crate::input::InputError;

/// Arguments of `cove fn invoke`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The function.
    pub name: String,
    /// The event (JSON).
    #[arg(long, conflicts_with = "payload_file")]
    pub payload: Option<String>,
    /// Read the event from a file (`-` for standard input).
    #[arg(long)]
    pub payload_file: Option<PathBuf>,
    /// Run it in this process even when `cove serve` is running.
    #[arg(long)]
    pub local: bool,
    /// `Tail`: also print the end of the invocation's log (4 KB) on standard error.
    #[arg(long, value_parser = ["None", "Tail"], default_value = "None")]
    pub log_type: String,
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
    /// How environments run (in-process invokes).
    #[command(flatten)]
    pub run: RunOptions,
    /// Through the API instead.
    #[command(flatten)]
    pub remote: super::remote::Remote,
    /// Print JSON: status, function error, request id, payload (with `--server`).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command: prints the function's answer on standard output (exit 0), or
/// its error document (exit 5).
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let payload = match (&args.payload, &args.payload_file) {
        (Some(p), _) => p.clone().into_bytes(),
        (None, Some(f)) if f.as_os_str() == "-" => {
            let mut v = Vec::new();
            std::io::stdin()
                .read_to_end(&mut v)
                .context("reading the payload from stdin")?;
            v
        }
        (None, Some(f)) => match cove_deploy::store::read_text(f) {
            Ok(Some(text)) => text.into_bytes(),
            Ok(None) => {
                return Err(InputError::Argument {
                    what: "--payload-file",
                    text: f.display().to_string(),
                    hint: "no such file".into(),
                }
                .into());
            }
            Err(e) => {
                return Err(InputError::Argument {
                    what: "--payload-file",
                    text: f.display().to_string(),
                    hint: format!("cannot use it: {}", crate::deploy::DisplayChain(&e)),
                }
                .into());
            }
        },
        (None, None) => b"{}".to_vec(),
    };
    if serde_json::from_slice::<serde_json::Value>(&payload).is_err() {
        return Err(InputError::Argument {
            what: "--payload",
            text: String::from_utf8_lossy(&payload).chars().take(80).collect(),
            hint: "InvalidRequestContentException: the payload must be JSON, e.g. '{\"key\":1}'"
                .into(),
        }
        .into());
    }
    if let Some(c) = args.remote.conn(args.json)? {
        return super::remote::invoke(&c, &args.name, &payload);
    }
    let deployment = args.target.deployment()?;
    let served = (!args.local)
        .then(|| deployment.store().serve_addr())
        .flatten()
        .filter(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok());
    let tail = args.log_type == "Tail";
    let (status, function_error, body, log) = match served {
        Some(addr) => over_http(addr, &args.name, &payload, tail)?,
        None => in_process(args, &deployment, payload, tail)?,
    };
    if let Some(log) = log {
        eprint!("{}", String::from_utf8_lossy(&log));
    }
    crate::output::write_stdout(&body);
    crate::output::outln!();
    match (status, function_error) {
        (200, None) => Ok(Outcome::Ok),
        (200, Some(kind)) => {
            // The error document's own type (a handler's exception class) says more
            // than the one the runtime recorded (`Runtime.Unknown` when it sent none).
            let document_type = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("errorType")?.as_str().map(str::to_owned));
            eprintln!("function error: {}", document_type.unwrap_or(kind));
            Ok(Outcome::FunctionError)
        }
        (404, _) => Err(InputError::Argument {
            what: "function",
            text: args.name.clone(),
            hint: "ResourceNotFoundException: no such function; `cove fn list` shows them".into(),
        }
        .into()),
        // ResourceConflictException: another cove command holds the prefix.
        (409, _) => Ok(Outcome::Exit(crate::EXIT_BUSY)),
        (code, _) => anyhow::bail!("the invoke failed with HTTP status {code}"),
    }
}

/// HTTP status, function error, answer, log tail.
type Answer = (u16, Option<String>, Vec<u8>, Option<Vec<u8>>);

fn in_process(
    args: &Args,
    deployment: &cove_deploy::Deployment,
    payload: Vec<u8>,
    tail: bool,
) -> anyhow::Result<Answer> {
    let config = crate::deploy::scheduler_config(deployment.target(), &args.run)?;
    let functions = deployment.functions()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        // Starting up reaps stale environments and prepares the cgroup root.
        let lock = deployment.lock("fn invoke")?;
        let scheduler = cove_scheduler::Scheduler::new(config, functions)?;
        drop(lock);
        let result = scheduler
            .invoke(
                &args.name,
                cove_scheduler::InvokeRequest {
                    payload: bytes::Bytes::from(payload),
                    log_tail: tail,
                    ..Default::default()
                },
            )
            .await;
        scheduler.shutdown().await;
        match result {
            Ok(r) => {
                eprintln!(
                    "request {} in {:.1?} ({} start)",
                    r.request_id,
                    r.duration,
                    if r.cold_start { "cold" } else { "warm" }
                );
                Ok((
                    200,
                    r.error_type.or(r.function_error),
                    r.payload.to_vec(),
                    r.log_tail,
                ))
            }
            Err(e @ cove_scheduler::InvokeError::NotFound { .. }) => {
                Ok((404, None, e.to_string().into_bytes(), None))
            }
            Err(e) => {
                let code = e.code();
                Err(anyhow::Error::new(e).context(code))
            }
        }
    })
}

/// One `POST /2015-03-31/functions/NAME/invocations` to `cove serve`.
fn over_http(addr: SocketAddr, name: &str, payload: &[u8], tail: bool) -> anyhow::Result<Answer> {
    let mut s =
        TcpStream::connect(addr).with_context(|| format!("connecting to cove serve at {addr}"))?;
    write!(
        s,
        "POST /2015-03-31/functions/{name}/invocations HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-Amz-Log-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if tail { "Tail" } else { "None" },
        payload.len()
    )?;
    s.write_all(payload)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .context("reading the answer of cove serve")?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("cove serve sent a malformed answer")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .context("cove serve sent no status")?;
    let mut function_error = None;
    let mut log = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("x-amz-function-error") {
                function_error = Some(v.trim().to_owned());
            } else if k.eq_ignore_ascii_case("x-amz-log-result") {
                use base64::Engine as _;
                log = base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .ok();
            }
        }
    }
    if status != 200 && status != 404 {
        eprintln!("{}", String::from_utf8_lossy(&body));
    }
    Ok((status, function_error, body, log))
}
