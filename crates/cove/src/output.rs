//! Printing: standard output that a closed pipe cannot break, diagnostics, and
//! errors (as text, and as JSON for `--json`).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use cove_model::{Diagnostic, Severity};

/// Set once standard output is closed (`cove … | head -1`): the rest is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output. A closed pipe (or any write error) is not an error
/// of the command: what it would print is dropped and it finishes its work (an
/// `apply` still records what it applied) and exits with its usual status.
pub fn write_stdout(bytes: &[u8]) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("warning: standard output failed ({e}); the rest of the output is dropped");
        }
    }
}

/// `print!` through [`write_stdout`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format!($($arg)*).as_bytes())
    };
}
pub(crate) use out;

/// `println!` through [`write_stdout`].
macro_rules! outln {
    () => {
        $crate::output::write_stdout(b"\n")
    };
    ($($arg:tt)*) => {{
        let mut line = format!($($arg)*);
        line.push('\n');
        $crate::output::write_stdout(line.as_bytes())
    }};
}
pub(crate) use outln;

/// Prints an error and its whole `source()` chain once, at the edge.
pub fn print_error_chain(err: &anyhow::Error) {
    print_error(err.as_ref());
}

/// Prints an error and its whole `source()` chain.
pub fn print_error(err: &dyn std::error::Error) {
    eprintln!("error: {err}");
    let mut cause = err.source();
    while let Some(c) = cause {
        eprintln!("  caused by: {c}");
        cause = c.source();
    }
}

/// The JSON document a `--json` command prints on standard output when it fails:
/// `{"error": {"kind", "message", "causes", "exit_code"}, "diagnostics"?}` (the
/// spec's diagnostics when it is invalid).
pub fn error_json(
    kind: &str,
    message: &str,
    causes: &[String],
    exit_code: u8,
    diagnostics: Option<&[Diagnostic]>,
) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "error": {
            "kind": kind,
            "message": message,
            "causes": causes,
            "exit_code": exit_code,
        }
    });
    if let Some(d) = diagnostics {
        doc["valid"] = serde_json::Value::Bool(false);
        doc["diagnostics"] = serde_json::json!(d);
    }
    doc
}

/// Prints `doc` (pretty) on standard output.
pub fn print_json(doc: &serde_json::Value) {
    let text = serde_json::to_string_pretty(doc).unwrap_or_else(|_| doc.to_string());
    outln!("{text}");
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
