//! Printing diagnostics and error chains.

use cove_model::{Diagnostic, Severity};

/// Prints an error and its whole `source()` chain once, at the edge.
pub fn print_error_chain(err: &anyhow::Error) {
    eprintln!("error: {err}");
    let mut cause = err.source();
    while let Some(c) = cause {
        eprintln!("  caused by: {c}");
        cause = c.source();
    }
}

/// Renders diagnostics for a terminal.
pub fn render_diagnostics(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    out.push_str(&format!("{errors} error(s), {warnings} warning(s)\n"));
    out
}

/// Prints diagnostics to standard error.
pub fn print_diagnostics_stderr(diags: &[Diagnostic]) {
    eprint!("{}", render_diagnostics(diags));
}
