//! `cove import aws DIR [-o FILE]`

use std::path::PathBuf;

use anyhow::Context;

use crate::Outcome;

/// Where to import from.
#[derive(Debug, clap::Subcommand)]
pub enum Source {
    /// An AWS `describe-*` JSON export: one folder per account/region (nested folders
    /// are walked). Prints the spec (YAML) or writes it with -o.
    Aws(AwsArgs),
}

/// Arguments of `cove import aws`.
#[derive(Debug, clap::Args)]
pub struct AwsArgs {
    /// The export folder.
    pub dir: PathBuf,
    /// Write the spec here instead of standard output.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Print `{spec, report}` as JSON instead of YAML plus a report on stderr.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(source: &Source) -> anyhow::Result<Outcome> {
    let Source::Aws(args) = source;
    let import = cove_import::import_aws_dir(&args.dir).map_err(|source| {
        crate::input::InputError::Import {
            dir: args.dir.clone(),
            source,
        }
    })?;
    let validated = cove_model::validate::validate(&import.spec);
    if args.json {
        let doc = serde_json::json!({
            "spec": import.spec,
            "report": import.report,
            "diagnostics": validated.diagnostics,
        });
        let text = serde_json::to_string_pretty(&doc)?;
        write_out(args, &text)?;
    } else {
        let yaml = serde_saphyr::to_string(&import.spec).context("serializing the spec")?;
        write_out(args, &yaml)?;
        for item in &import.report {
            eprintln!(
                "not imported: {} {} ({}): {}",
                item.kind,
                item.id,
                item.file.display(),
                item.reason
            );
        }
        eprintln!(
            "imported {} tenant(s), {} VPC(s); {} object(s) not imported (listed above)",
            import.spec.tenants.len(),
            import
                .spec
                .tenants
                .iter()
                .map(|t| t.vpcs.len())
                .sum::<usize>(),
            import.report.len()
        );
        if !validated.diagnostics.is_empty() {
            eprint!(
                "{}",
                crate::output::render_diagnostics(&validated.diagnostics)
            );
        }
    }
    Ok(if validated.network.is_some() {
        Outcome::Ok
    } else {
        Outcome::Invalid
    })
}

fn write_out(args: &AwsArgs, text: &str) -> anyhow::Result<()> {
    match &args.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display())),
        None => {
            crate::output::out!("{text}");
            Ok(())
        }
    }
}
