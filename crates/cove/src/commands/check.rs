//! `cove check -f spec.yaml --from SRC --to DST --proto tcp --port 5432`

use std::path::PathBuf;

use cove_analyze::{Analyzer, Endpoint, Flow, Outcome as HopOutcome, Verdict};
use cove_model::Protocol;

use crate::Outcome;
use crate::input::InputError;

/// Arguments of `cove check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec file (YAML); default: the applied network, with the functions
    /// deployed with `cove fn deploy`.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Which deployment (when no spec file is given).
    #[command(flatten)]
    pub target: crate::deploy::Target,
    /// Source: an ENI (`tenant/vpc/eni`, `vpc/eni`, `eni`), a resource id (`eni-…`,
    /// `i-…`), a private IP, or `internet`.
    #[arg(long)]
    pub from: String,
    /// Destination: same forms as --from, or any IPv4 address.
    #[arg(long)]
    pub to: String,
    /// `tcp`, `udp`, `icmp`, `all` (tcp, udp and icmp each) or an IP protocol number.
    #[arg(long, default_value = "tcp")]
    pub proto: String,
    /// Destination port (tcp, udp).
    #[arg(long)]
    pub port: Option<u16>,
    /// Source port of the client; by default every port of the Linux ephemeral range
    /// 32768-60999 must work for the return traffic.
    #[arg(long)]
    pub src_port: Option<u16>,
    /// ICMP type (default 8, echo request).
    #[arg(long, default_value_t = 8)]
    pub icmp_type: u8,
    /// ICMP code (default 0).
    #[arg(long, default_value_t = 0)]
    pub icmp_code: u8,
    /// With a `--to` name of S3 or a private API behind an interface endpoint: the
    /// HTTP method of the request the bucket's or API's policy decides on.
    #[arg(long, default_value = "GET")]
    pub http_method: String,
    /// With such a name: the request's path (`/index.html`, `/items/2`; path-style
    /// S3 names the bucket first).
    #[arg(long, default_value = "/")]
    pub http_path: String,
    /// Through a server (the caller's tenant's ENIs, `GET /v1/reachability`)
    /// instead of the local deployment.
    #[command(flatten)]
    pub remote: super::client::Remote,
    /// Print the verdict(s) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Protocol numbers (and ports) to probe for `--proto`/`--port`.
pub fn probes(proto: &str, port: Option<u16>) -> Result<Vec<(u8, u16)>, InputError> {
    let p = Protocol::parse(proto).ok_or_else(|| InputError::Argument {
        what: "--proto",
        text: proto.to_owned(),
        hint: "use tcp, udp, icmp, all, or an IP protocol number 0-255".to_owned(),
    })?;
    let need_port = || {
        port.ok_or_else(|| InputError::Argument {
            what: "--port",
            text: String::new(),
            hint: format!("--proto {proto} needs --port (the destination port, e.g. --port 5432)"),
        })
    };
    Ok(match p {
        Protocol::All => {
            let port = need_port()?;
            vec![
                (Protocol::TCP, port),
                (Protocol::UDP, port),
                (Protocol::ICMP, 0),
            ]
        }
        Protocol::Tcp | Protocol::Udp => vec![(p.number().unwrap_or_default(), need_port()?)],
        other => {
            if port.is_some() {
                return Err(InputError::Argument {
                    what: "--port",
                    text: port.map(|p| p.to_string()).unwrap_or_default(),
                    hint: format!("protocol {other} has no ports; drop --port"),
                });
            }
            vec![(other.number().unwrap_or_default(), 0)]
        }
    })
}

fn resolve(
    what: &'static str,
    text: &str,
    got: Result<Endpoint, cove_model::lookup::LookupError>,
) -> Result<Endpoint, InputError> {
    got.map_err(|e| InputError::Endpoint {
        what,
        text: text.to_owned(),
        reason: e.to_string(),
    })
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    if let Some(conn) = args.remote.conn(args.json)? {
        return remote(args, &conn);
    }
    let net = crate::deploy::network_arg(args.file.as_deref(), &args.target, false)?;
    let an = Analyzer::new(&net);
    // An ENI's public IP as the source is that ENI; from the internet, an address
    // as the destination is itself (a private address is not routed there).
    let src = resolve("--from", &args.from, an.resolve_source(&args.from))?;
    // Set when --to is a DNS name: the service's policy is decided too.
    let mut named = None;
    let dst = match an.resolve_destination(src, &args.to) {
        Ok(d) => d,
        // A private DNS name: resolved in the source VPC's view (issue 12).
        Err(e) if cove_dns::looks_like_name(&args.to) => {
            let Endpoint::Eni(s) = src else {
                return Err(resolve("--to", &args.to, Err(e))
                    .err()
                    .map_or_else(|| anyhow::anyhow!("unresolved"), Into::into));
            };
            match cove_dns::resolve(&net, net.enis[s.index()].vpc, &args.to) {
                Ok((ip, chain)) => {
                    named = Some(args.to.as_str());
                    if !args.json {
                        crate::output::outln!(
                            "{} resolves in {}'s view: {}",
                            args.to,
                            net.vpc_path(net.enis[s.index()].vpc),
                            chain.join(" → ")
                        );
                    }
                    resolve(
                        "--to",
                        &args.to,
                        an.resolve_destination(src, &ip.to_string()),
                    )?
                }
                Err(why) => return dns_blocked(args, &why),
            }
        }
        Err(e) => resolve("--to", &args.to, Err(e))?,
    };
    let probes = probes(&args.proto, args.port)?;
    let mut all_ok = true;
    let mut docs = Vec::new();
    for (protocol, port) in probes {
        let flow = Flow {
            src,
            dst,
            protocol,
            port,
            src_port: args.src_port,
            icmp: (args.icmp_type, args.icmp_code),
        };
        let mut verdict = an.check(&flow);
        if let Some(name) = named {
            let method = args.http_method.to_ascii_uppercase();
            let request = cove_analyze::endpoint_policy::ServiceRequest {
                name,
                method: &method,
                path: &args.http_path,
            };
            cove_analyze::endpoint_policy::apply(&net, &flow, &request, &mut verdict);
        }
        all_ok &= verdict.reachable;
        if args.json {
            docs.push(serde_json::json!({
                "from": args.from, "to": args.to,
                "protocol": Protocol::from_number(protocol).to_string(),
                "port": port, "verdict": verdict,
            }));
        } else {
            crate::output::out!("{}", render(&args.from, &args.to, protocol, port, &verdict));
        }
    }
    finish(args.json, docs, all_ok)
}

/// A destination name that does not resolve in the source VPC: blocked at DNS,
/// with the reason.
fn dns_blocked(args: &Args, why: &cove_dns::Unresolved) -> anyhow::Result<Outcome> {
    if args.json {
        let doc = serde_json::json!({
            "from": args.from, "to": args.to,
            "verdict": { "reachable": false, "blocked_at": "dns", "reason": why.to_string() },
        });
        crate::output::outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        crate::output::outln!("BLOCKED {} → {}: at DNS: {why}", args.from, args.to);
    }
    Ok(Outcome::Blocked)
}

/// With `--json`, prints the verdicts (one object, or an array of several); the
/// outcome: reachable only if every probe was.
fn finish(json: bool, mut docs: Vec<serde_json::Value>, all_ok: bool) -> anyhow::Result<Outcome> {
    if json {
        let doc = if docs.len() == 1 {
            docs.remove(0)
        } else {
            serde_json::Value::Array(docs)
        };
        crate::output::outln!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(if all_ok {
        Outcome::Ok
    } else {
        Outcome::Blocked
    })
}

/// `cove check --server`: one `GET /v1/reachability` per probe.
fn remote(args: &Args, conn: &super::client::Conn) -> anyhow::Result<Outcome> {
    if args.file.is_some() || args.src_port.is_some() {
        return Err(InputError::Argument {
            what: if args.file.is_some() { "--file" } else { "--src-port" },
            text: String::new(),
            hint: "with --server, cove check answers for the stored spec and the ephemeral source ports: drop it, or check a spec file locally without --server".to_owned(),
        }
        .into());
    }
    let mut all_ok = true;
    let mut docs = Vec::new();
    for (protocol, port) in probes(&args.proto, args.port)? {
        let proto = Protocol::from_number(protocol).to_string();
        let mut path = format!(
            "/v1/reachability?from={}&to={}&protocol={}",
            query(&args.from),
            query(&args.to),
            query(&proto)
        );
        if Protocol::from_number(protocol).has_ports() {
            path.push_str(&format!("&port={port}"));
        }
        let v = conn.call("GET", &path, None)?;
        let verdict: Verdict = serde_json::from_value(v["verdict"].clone())?;
        all_ok &= verdict.reachable;
        if args.json {
            docs.push(serde_json::json!({
                "from": args.from, "to": args.to, "protocol": proto,
                "port": port, "verdict": v["verdict"],
            }));
        } else {
            crate::output::out!("{}", render(&args.from, &args.to, protocol, port, &verdict));
        }
    }
    finish(args.json, docs, all_ok)
}

/// `text` percent-encoded for a query string (RFC 3986 unreserved kept).
fn query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Text rendering of one verdict.
pub fn render(from: &str, to: &str, protocol: u8, port: u16, v: &Verdict) -> String {
    let proto = Protocol::from_number(protocol);
    let what = if proto.has_ports() {
        format!("{proto}/{port}")
    } else {
        proto.to_string()
    };
    let mut out = format!(
        "{} {from} -> {to} {what}\n",
        if v.reachable { "REACHABLE" } else { "BLOCKED" }
    );
    let mut section = |title: &str, hops: &[cove_analyze::Hop]| {
        if hops.is_empty() {
            return;
        }
        out.push_str(&format!("  {title}:\n"));
        for h in hops {
            let mark = match h.outcome {
                HopOutcome::Allow => "ok  ",
                HopOutcome::Deny => "DENY",
                HopOutcome::Pass => "    ",
            };
            out.push_str(&format!(
                "    {mark} {:<22} {}\n         {}\n",
                h.step.as_str(),
                h.component,
                h.detail
            ));
        }
    };
    section("forward", &v.forward);
    section("return", &v.ret);
    if let Some(b) = &v.blocked {
        let way = match b.direction {
            cove_analyze::Direction::Forward => "",
            cove_analyze::Direction::Return => " (return traffic)",
        };
        out.push_str(&format!(
            "  blocked at {}{way} by {}: {}\n",
            b.step.as_str(),
            b.component,
            b.reason
        ));
    }
    out
}
