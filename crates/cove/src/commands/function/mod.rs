//! `cove fn …`: functions attached to a VPC.

pub mod delete;
pub mod deploy;
pub mod invoke;
pub mod list;
pub mod logs;

use crate::Outcome;
use crate::deploy::Target;

/// The `cove fn` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Deploy (or update) a function attached to subnets of an applied VPC.
    Deploy(deploy::Args),
    /// List the applied functions.
    List(list::Args),
    /// Delete a function deployed with `cove fn deploy`.
    Delete(delete::Args),
    /// Invoke a function and print its answer (exit 5 if the function failed).
    Invoke(invoke::Args),
    /// Print what the function's environments wrote to standard output and error.
    Logs(logs::Args),
}

/// Runs a `cove fn` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Deploy(a) => deploy::run(a),
        Command::List(a) => list::run(a),
        Command::Delete(a) => delete::run(a),
        Command::Invoke(a) => invoke::run(a),
        Command::Logs(a) => logs::run(a),
    }
}

/// Validates the applied spec with `deployed` as the deployed functions, makes the
/// kernel match (the functions' network slots) and records both. Nothing is
/// recorded unless the kernel change succeeded, so a failure leaves the previous
/// deployment as the one the next apply converges to.
pub fn apply_deployed(
    target: &Target,
    deployed: &[cove_model::spec::DeployedFunction],
) -> anyhow::Result<cove_model::Network> {
    let text = target.applied_text()?.ok_or_else(|| crate::input::InputError::Argument {
        what: "--prefix",
        text: target.prefix.clone(),
        hint: format!(
            "nothing is applied under prefix {}; run `cove apply -f SPEC` first (functions attach to an applied VPC)",
            target.prefix
        ),
    })?;
    let validated = cove_model::validate::validate_text_with(&text, deployed);
    let Some(net) = validated.network else {
        crate::output::print_diagnostics_stderr(&validated.diagnostics);
        let concerned = functions_in_errors(&validated.diagnostics);
        return Err(crate::input::InputError::Argument {
            what: "function",
            text: if concerned.is_empty() {
                "(the applied spec)".to_owned()
            } else {
                concerned.join(", ")
            },
            hint: "fix the errors above; nothing was changed".into(),
        }
        .into());
    };
    let previous = target.registry()?;
    let mut code = std::collections::BTreeMap::new();
    for (i, f) in net.functions.iter().enumerate() {
        let id = cove_model::FunctionId(u32::try_from(i).unwrap_or(u32::MAX));
        let path = cove_functions::config::function_path(&net, id);
        let snap = if std::path::Path::new(&f.code).is_absolute() {
            cove_functions::code::snapshot(std::path::Path::new(&f.code), &target.code_store())?
        } else {
            previous.get(&path).cloned().ok_or_else(|| {
                anyhow::anyhow!(
                    "function {path} has no code snapshot; run `cove apply -f SPEC` with the spec file"
                )
            })?
        };
        crate::deploy::check_function_code(&path, f, &snap)?;
        code.insert(path, snap);
    }
    let desired = crate::deploy::layout(&net, target)?;
    let host = target.host()?;
    let observed = host.observe()?;
    let plan = cove_plan::diff(&observed, &desired);
    if !plan.is_empty() {
        host.apply(&plan)?;
    }
    target.record_deployed(deployed)?;
    target.record_applied(&text, &code)?;
    crate::deploy::reap_orphan_environments(target)?;
    Ok(net)
}

/// The functions an error is about (`…functions[NAME]…` in its path), each once, in
/// order: the error names them, not every deployed function.
fn functions_in_errors(diagnostics: &[cove_model::Diagnostic]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for d in diagnostics
        .iter()
        .filter(|d| d.severity == cove_model::diag::Severity::Error)
    {
        let name = d
            .path
            .split_once("functions[")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(name, _)| name.to_owned());
        if let Some(name) = name.filter(|n| !names.contains(n)) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_only_the_functions_they_are_about() {
        let error = |path: &str| {
            cove_model::Diagnostic::error(
                cove_model::diag::ErrorCode::LambdaInvalidParameterValue,
                path,
                "m",
                "h",
            )
        };
        let diags = [
            error("tenants[p].vpcs[v].functions[rb].runtime"),
            error("tenants[p].vpcs[v].functions[rb].handler"),
            error("tenants[p].vpcs[v].subnets[a].cidr"),
        ];
        assert_eq!(functions_in_errors(&diags), ["rb"]);
        assert!(functions_in_errors(&diags[2..]).is_empty());
    }
}
