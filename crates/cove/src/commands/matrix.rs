//! `cove matrix -f spec.yaml [--enis a,b] [--ports tcp/5432,icmp]`

use std::path::PathBuf;

use cove_analyze::{Analyzer, Endpoint};
use cove_model::EniId;

use crate::Outcome;
use crate::input::InputError;

/// Arguments of `cove matrix`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec file (YAML); default: the applied network, with the functions
    /// deployed with `cove fn deploy`.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Which deployment (when no spec file is given).
    #[command(flatten)]
    pub target: crate::deploy::Target,
    /// ENIs to include (comma-separated names or ids); default: every user ENI.
    #[arg(long, value_delimiter = ',')]
    pub enis: Vec<String>,
    /// Probes, comma-separated: `tcp/5432`, `udp/53`, `icmp`, `50` (protocol number).
    #[arg(long, value_delimiter = ',', default_value = "tcp/443")]
    pub ports: Vec<String>,
    /// Print the matrix as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_probe(text: &str) -> Result<Vec<(u8, u16)>, InputError> {
    let (proto, port) = match text.split_once('/') {
        Some((p, port)) => {
            let port = port.parse::<u16>().map_err(|_| InputError::Argument {
                what: "--ports",
                text: text.to_owned(),
                hint: "write probes as tcp/5432, udp/53, icmp or a protocol number".to_owned(),
            })?;
            (p, Some(port))
        }
        None => (text, None),
    };
    super::check::probes(proto, port)
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let net = crate::deploy::network_arg(args.file.as_deref(), &args.target, false)?;
    let an = Analyzer::new(&net);
    let enis: Vec<EniId> = if args.enis.is_empty() {
        net.workload_enis()
    } else {
        args.enis
            .iter()
            .map(|t| match an.resolve(t) {
                Ok(Endpoint::Eni(e)) => Ok(e),
                Ok(_) => Err(InputError::Endpoint {
                    what: "--enis",
                    text: t.clone(),
                    reason: "not an ENI".to_owned(),
                }),
                Err(e) => Err(InputError::Endpoint {
                    what: "--enis",
                    text: t.clone(),
                    reason: e.to_string(),
                }),
            })
            .collect::<Result<_, _>>()?
    };
    let mut probes = Vec::new();
    for p in &args.ports {
        probes.extend(parse_probe(p)?);
    }
    let m = cove_analyze::matrix(&an, &enis, &probes);
    if args.json {
        let labels: Vec<String> = enis.iter().map(|e| net.eni_label(*e)).collect();
        let doc = serde_json::json!({ "enis": labels, "matrix": m });
        crate::output::outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Outcome::Ok);
    }
    for (pi, (proto, port)) in probes.iter().enumerate() {
        let p = cove_model::Protocol::from_number(*proto);
        let title = if p.has_ports() {
            format!("{p}/{port}")
        } else {
            p.to_string()
        };
        crate::output::outln!("{title}: rows = from, columns = to (Y reachable, . blocked)");
        let mut table = comfy_table::Table::new();
        table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
        let mut header = vec![String::new()];
        header.extend((0..enis.len()).map(|i| format!("{i}")));
        table.set_header(header);
        for (si, s) in enis.iter().enumerate() {
            let mut row = vec![format!("{si} {}", net.eni_label(*s))];
            for di in 0..enis.len() {
                row.push(if si == di {
                    "-".to_owned()
                } else if m.get(si, di, pi) {
                    "Y".to_owned()
                } else {
                    ".".to_owned()
                });
            }
            table.add_row(row);
        }
        crate::output::outln!("{table}");
    }
    Ok(Outcome::Ok)
}
