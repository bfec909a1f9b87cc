//! Handler validation: AWS's constraint on the `handler` field (`[^\s]+`, at most 128
//! characters) and the form each runtime's client expects, and what the handler
//! needs to find in the code directory.

use std::fmt;

use crate::runtime::Runtime;

/// AWS's maximum length of `handler`.
pub const MAX_HANDLER_LEN: usize = 128;

/// A handler that passed [`validate_handler`], and what it needs in the code directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The runtime the handler was validated for.
    pub runtime: Runtime,
    /// The handler as given.
    pub handler: String,
    /// What must exist in the code directory for the client to find the handler.
    pub needs: CodeNeed,
}

/// Files (relative to the code directory) the handler needs; the first that exists
/// is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeNeed {
    /// A source file or module, any one of these.
    AnyOf(Vec<String>),
    /// An executable file, any one of these, in order of preference.
    Executable(Vec<String>),
}

impl CodeNeed {
    /// The candidate paths, in order of preference.
    pub fn candidates(&self) -> &[String] {
        match self {
            CodeNeed::AnyOf(c) | CodeNeed::Executable(c) => c,
        }
    }
}

/// A `handler` value the runtime cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Empty or containing whitespace (AWS's pattern `[^\s]+`; `ValidationException`).
    #[error(
        "1 validation error detected: Value '{handler}' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+"
    )]
    Pattern {
        /// The rejected handler.
        handler: String,
    },
    /// Longer than 128 characters (`ValidationException`).
    #[error(
        "1 validation error detected: Value '{handler}' at 'handler' failed to satisfy constraint: Member must have length less than or equal to 128"
    )]
    TooLong {
        /// The rejected handler.
        handler: String,
    },
    /// Not of the form the runtime's client expects (`InvalidParameterValueException`).
    #[error(
        "handler '{handler}' is not valid for runtime {runtime}: {problem}; set `handler` to {expected}"
    )]
    Form {
        /// The runtime.
        runtime: Runtime,
        /// The rejected handler.
        handler: String,
        /// What is wrong with it.
        problem: Problem,
        /// The expected form, with an example.
        expected: &'static str,
    },
}

impl HandlerError {
    /// AWS's error code for this error.
    pub fn aws_code(&self) -> &'static str {
        match self {
            HandlerError::Pattern { .. } | HandlerError::TooLong { .. } => "ValidationException",
            HandlerError::Form { .. } => "InvalidParameterValueException",
        }
    }
}

/// What is wrong with a handler's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// No `.` separates the file or module from the function.
    NoSeparator,
    /// The file or module part is empty or has an empty path segment.
    EmptyPath,
    /// The function or method part is empty.
    EmptyFunction,
    /// The function or method is not an identifier.
    BadFunctionName,
    /// The Ruby class or module is not a constant path (`Module::Class`).
    BadConstant,
    /// Too many `.`-separated parts for the runtime.
    TooManyParts,
    /// A path segment is `..` or the path is absolute: it would leave the code directory.
    LeavesCodeDir,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::NoSeparator => "no '.' separates the file from the function",
            Problem::EmptyPath => "the file or module path is empty or has an empty segment",
            Problem::EmptyFunction => "the function name is empty",
            Problem::BadFunctionName => "the function name is not an identifier",
            Problem::BadConstant => "the class or module is not a constant such as Module::Class",
            Problem::TooManyParts => "it has more '.'-separated parts than FILE.CLASS.METHOD",
            Problem::LeavesCodeDir => "the path is absolute or has a '..' segment",
        })
    }
}

const PYTHON_FORM: &str = "MODULE.FUNCTION, e.g. lambda_function.lambda_handler (MODULE may be a dotted path such as pkg.module or a path such as src/module)";
const NODE_FORM: &str = "FILE.FUNCTION, e.g. index.handler (FILE is index.js, index.mjs or index.cjs, possibly in a directory such as src/index.handler)";
const RUBY_FORM: &str =
    "FILE.METHOD or FILE.Module::Class.METHOD, e.g. function.handler (FILE is function.rb)";
const EXECUTABLE_FORM: &str =
    "the name of the executable in the code directory, e.g. bootstrap or main";

/// Java's `\s` (AWS validates with Java patterns): ASCII whitespace including VT.
fn is_aws_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

/// Whether `name` is an identifier (letters, digits, `_`; not starting with a digit).
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Checks a relative path: non-empty segments, not absolute, no `..`.
fn check_path(path: &str) -> Result<(), Problem> {
    if path.starts_with('/') || path.split('/').any(|s| s == "..") {
        return Err(Problem::LeavesCodeDir);
    }
    if path.split('/').any(str::is_empty) {
        return Err(Problem::EmptyPath);
    }
    Ok(())
}

/// Validates `handler` for `runtime` and says what it needs in the code directory.
pub fn validate_handler(runtime: Runtime, handler: &str) -> Result<Entry, HandlerError> {
    if handler.is_empty() || handler.chars().any(is_aws_space) {
        return Err(HandlerError::Pattern {
            handler: handler.to_owned(),
        });
    }
    // AWS counts Java characters (UTF-16 code units).
    if handler.encode_utf16().count() > MAX_HANDLER_LEN {
        return Err(HandlerError::TooLong {
            handler: handler.to_owned(),
        });
    }
    let (needs, expected) = match runtime {
        Runtime::Python311 => (python(handler), PYTHON_FORM),
        Runtime::Nodejs20 => (node(handler), NODE_FORM),
        Runtime::Ruby31 => (ruby(handler), RUBY_FORM),
        Runtime::Go => (go(handler), EXECUTABLE_FORM),
        Runtime::Provided => (
            Ok(CodeNeed::Executable(vec!["bootstrap".into()])),
            EXECUTABLE_FORM,
        ),
    };
    match needs {
        Ok(needs) => Ok(Entry {
            runtime,
            handler: handler.to_owned(),
            needs,
        }),
        Err(problem) => Err(HandlerError::Form {
            runtime,
            handler: handler.to_owned(),
            problem,
            expected,
        }),
    }
}

/// awslambdaric: `module, function = handler.rsplit(".", 1)`, then
/// `importlib.import_module(module.replace("/", "."))`.
fn python(handler: &str) -> Result<CodeNeed, Problem> {
    let (module, function) = handler.rsplit_once('.').ok_or(Problem::NoSeparator)?;
    if function.is_empty() {
        return Err(Problem::EmptyFunction);
    }
    if !is_identifier(function) {
        return Err(Problem::BadFunctionName);
    }
    let path = module.replace('.', "/");
    check_path(&path)?;
    let mut files = vec![format!("{path}.py"), format!("{path}/__init__.py")];
    // Sourceless and compiled modules import too.
    for suffix in [
        ".pyc",
        ".cpython-311-x86_64-linux-gnu.so",
        ".abi3.so",
        ".so",
    ] {
        files.push(format!("{path}{suffix}"));
    }
    Ok(CodeNeed::AnyOf(files))
}

/// aws-lambda-ric: the last path segment is `MODULE.FUNCTION[.NESTED…]`, split at its
/// first `.`; MODULE is MODULE.js / .mjs / .cjs in the directory, or a package in
/// node_modules.
fn node(handler: &str) -> Result<CodeNeed, Problem> {
    let (dir, base) = match handler.rsplit_once('/') {
        Some((dir, base)) => (Some(dir), base),
        None => (None, handler),
    };
    let (module, function) = base.split_once('.').ok_or(Problem::NoSeparator)?;
    if function.is_empty() || function.split('.').any(str::is_empty) {
        return Err(Problem::EmptyFunction);
    }
    if !function.split('.').all(is_identifier) {
        return Err(Problem::BadFunctionName);
    }
    if module.is_empty() {
        return Err(Problem::EmptyPath);
    }
    let path = match dir {
        Some(dir) => format!("{dir}/{module}"),
        None => module.to_owned(),
    };
    check_path(&path)?;
    let mut files: Vec<String> = ["js", "mjs", "cjs"]
        .iter()
        .map(|ext| format!("{path}.{ext}"))
        .collect();
    if dir.is_none() {
        files.push(format!("node_modules/{module}"));
    }
    Ok(CodeNeed::AnyOf(files))
}

/// Lambda's Ruby runtime: `handler.split('.')` into FILE.METHOD or FILE.CLASS.METHOD.
fn ruby(handler: &str) -> Result<CodeNeed, Problem> {
    let parts: Vec<&str> = handler.split('.').collect();
    let (file, constant, method) = match parts.as_slice() {
        [_] => return Err(Problem::NoSeparator),
        [file, method] => (*file, None, *method),
        [file, constant, method] => (*file, Some(*constant), *method),
        _ => return Err(Problem::TooManyParts),
    };
    if file.is_empty() {
        return Err(Problem::EmptyPath);
    }
    check_path(file)?;
    if method.is_empty() {
        return Err(Problem::EmptyFunction);
    }
    let bare = method
        .strip_suffix('?')
        .or_else(|| method.strip_suffix('!'))
        .unwrap_or(method);
    if !is_identifier(bare) {
        return Err(Problem::BadFunctionName);
    }
    if let Some(constant) = constant {
        let ok = constant.split("::").all(|seg| {
            seg.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && is_identifier(seg)
        });
        if !ok {
            return Err(Problem::BadConstant);
        }
    }
    Ok(CodeNeed::AnyOf(vec![format!("{file}.rb")]))
}

/// go1.x: the handler is the executable's path in the code directory; `bootstrap`
/// is the fallback (the `provided` convention Go functions use today).
fn go(handler: &str) -> Result<CodeNeed, Problem> {
    check_path(handler)?;
    let mut candidates = vec![handler.to_owned()];
    if handler != "bootstrap" {
        candidates.push("bootstrap".to_owned());
    }
    Ok(CodeNeed::Executable(candidates))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(runtime: Runtime, handler: &str) -> Problem {
        match validate_handler(runtime, handler) {
            Err(HandlerError::Form { problem, .. }) => problem,
            other => panic!("{handler} for {runtime}: expected a form error, got {other:?}"),
        }
    }

    fn needs(runtime: Runtime, handler: &str) -> Vec<String> {
        validate_handler(runtime, handler)
            .unwrap_or_else(|e| panic!("{handler} for {runtime}: {e}"))
            .needs
            .candidates()
            .to_vec()
    }

    #[test]
    fn aws_pattern_applies_to_every_runtime() {
        for runtime in crate::runtime::ALL {
            for bad in ["", "a b", "a\tb", "index.handler\n", "x\u{0B}y"] {
                let err = validate_handler(runtime, bad).expect_err("must be rejected");
                assert_eq!(err.aws_code(), "ValidationException", "{bad:?}");
                assert!(matches!(err, HandlerError::Pattern { .. }), "{bad:?}");
                assert!(err.to_string().contains("at 'handler'"));
            }
        }
    }

    #[test]
    fn length_limit_counts_characters() {
        let ok = format!("{}.handler", "m".repeat(MAX_HANDLER_LEN - 8));
        assert_eq!(ok.len(), MAX_HANDLER_LEN);
        assert!(validate_handler(Runtime::Python311, &ok).is_ok());
        let long = format!("m{ok}");
        let err = validate_handler(Runtime::Python311, &long).expect_err("must be rejected");
        assert!(matches!(err, HandlerError::TooLong { .. }));
        assert!(err.to_string().contains("less than or equal to 128"));
        // Multi-byte characters count once: 128 'é' is 256 bytes but 128 characters.
        let accented = format!("{}.h", "é".repeat(MAX_HANDLER_LEN - 2));
        assert!(accented.len() > MAX_HANDLER_LEN);
        assert!(validate_handler(Runtime::Python311, &accented).is_ok());
    }

    #[test]
    fn python_module_paths() {
        assert_eq!(
            needs(Runtime::Python311, "lambda_function.lambda_handler")[..2],
            ["lambda_function.py", "lambda_function/__init__.py"]
        );
        assert_eq!(
            needs(Runtime::Python311, "pkg.mod.handler")[0],
            "pkg/mod.py"
        );
        assert_eq!(needs(Runtime::Python311, "src/app.main")[0], "src/app.py");
        assert_eq!(problem(Runtime::Python311, "handler"), Problem::NoSeparator);
        assert_eq!(problem(Runtime::Python311, "app."), Problem::EmptyFunction);
        assert_eq!(problem(Runtime::Python311, ".main"), Problem::EmptyPath);
        assert_eq!(problem(Runtime::Python311, "a..b.main"), Problem::EmptyPath);
        assert_eq!(
            problem(Runtime::Python311, "app.2fast"),
            Problem::BadFunctionName
        );
        assert_eq!(
            problem(Runtime::Python311, "../x.main"),
            Problem::LeavesCodeDir
        );
        assert_eq!(
            problem(Runtime::Python311, "/etc/x.main"),
            Problem::LeavesCodeDir
        );
    }

    #[test]
    fn node_files_and_nested_functions() {
        assert_eq!(
            needs(Runtime::Nodejs20, "index.handler"),
            ["index.js", "index.mjs", "index.cjs", "node_modules/index"]
        );
        assert_eq!(
            needs(Runtime::Nodejs20, "src/app.handlers.get"),
            ["src/app.js", "src/app.mjs", "src/app.cjs"]
        );
        assert_eq!(problem(Runtime::Nodejs20, "index"), Problem::NoSeparator);
        assert_eq!(
            problem(Runtime::Nodejs20, "src.dir/index"),
            Problem::NoSeparator
        );
        assert_eq!(problem(Runtime::Nodejs20, "index."), Problem::EmptyFunction);
        assert_eq!(
            problem(Runtime::Nodejs20, "index.a..b"),
            Problem::EmptyFunction
        );
        assert_eq!(problem(Runtime::Nodejs20, ".handler"), Problem::EmptyPath);
        assert_eq!(
            problem(Runtime::Nodejs20, "../up.handler"),
            Problem::LeavesCodeDir
        );
        assert_eq!(
            problem(Runtime::Nodejs20, "index.my-fn"),
            Problem::BadFunctionName
        );
    }

    #[test]
    fn ruby_methods_and_constants() {
        assert_eq!(needs(Runtime::Ruby31, "function.handler"), ["function.rb"]);
        assert_eq!(
            needs(Runtime::Ruby31, "lib/app.App::Handler.process"),
            ["lib/app.rb"]
        );
        assert_eq!(needs(Runtime::Ruby31, "f.ready?"), ["f.rb"]);
        assert_eq!(problem(Runtime::Ruby31, "function"), Problem::NoSeparator);
        assert_eq!(problem(Runtime::Ruby31, "a.B.c.d"), Problem::TooManyParts);
        assert_eq!(
            problem(Runtime::Ruby31, "f.lower::Case.m"),
            Problem::BadConstant
        );
        assert_eq!(problem(Runtime::Ruby31, "f.A::.m"), Problem::BadConstant);
        assert_eq!(problem(Runtime::Ruby31, "f."), Problem::EmptyFunction);
        assert_eq!(problem(Runtime::Ruby31, ".m"), Problem::EmptyPath);
    }

    #[test]
    fn go_names_an_executable_with_bootstrap_fallback() {
        assert_eq!(needs(Runtime::Go, "main"), ["main", "bootstrap"]);
        assert_eq!(needs(Runtime::Go, "bin/hello"), ["bin/hello", "bootstrap"]);
        assert_eq!(needs(Runtime::Go, "bootstrap"), ["bootstrap"]);
        assert_eq!(problem(Runtime::Go, "../main"), Problem::LeavesCodeDir);
        assert_eq!(problem(Runtime::Go, "bin//main"), Problem::EmptyPath);
    }

    #[test]
    fn provided_ignores_the_handler_name() {
        for handler in ["bootstrap", "anything.goes", "x"] {
            assert_eq!(needs(Runtime::Provided, handler), ["bootstrap"]);
        }
    }

    #[test]
    fn form_errors_name_the_field_and_the_expected_form() {
        let err = validate_handler(Runtime::Python311, "handler").expect_err("must be rejected");
        assert_eq!(err.aws_code(), "InvalidParameterValueException");
        let msg = err.to_string();
        assert!(msg.contains("handler 'handler'"), "{msg}");
        assert!(msg.contains("python3.11"), "{msg}");
        assert!(msg.contains("set `handler` to MODULE.FUNCTION"), "{msg}");
    }
}
