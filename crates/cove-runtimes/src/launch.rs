//! The command that starts a runtime's client inside an execution environment.
//!
//! Inside the sandbox the function's code is at `/var/task` and cove's runtime
//! directory at `/opt` ([`Layout::sandbox`]); the interpreters are Debian's, under
//! `/usr/bin`, readable by the sandbox's unprivileged user:
//!
//! | runtime | argv |
//! | --- | --- |
//! | `python3.11` | `/usr/bin/python3.11 -m awslambdaric HANDLER` |
//! | `nodejs20` | `/usr/bin/node /opt/node/node_modules/aws-lambda-ric/bin/index.mjs HANDLER` |
//! | `ruby3.1` | `/usr/bin/ruby3.1 /opt/ruby/bootstrap.rb` (handler from `_HANDLER`) |
//! | `go` | `/var/task/HANDLER` (or `/var/task/bootstrap`) |
//! | `provided` | `/var/task/bootstrap` |
//!
//! The working directory is always the task root (awslambdaric and aws-lambda-ric
//! resolve the handler from it).

use crate::handler::{CodeNeed, Entry, HandlerError, validate_handler};
use crate::runtime::Runtime;

/// Debian's Python 3.11.
pub const PYTHON: &str = "/usr/bin/python3.11";
/// Node.js 20 (Debian's or NodeSource's `nodejs` package).
pub const NODE: &str = "/usr/bin/node";
/// Debian's Ruby 3.1.
pub const RUBY: &str = "/usr/bin/ruby3.1";

/// Where the code and the runtime directory are, as the runtime process sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The function's code (read-only): `LAMBDA_TASK_ROOT`.
    pub task_root: String,
    /// cove's installed runtime clients (read-only): `LAMBDA_RUNTIME_DIR`.
    pub runtime_dir: String,
}

impl Layout {
    /// The sandbox's fixed layout: code at `/var/task`, runtimes at `/opt`.
    pub fn sandbox() -> Layout {
        Layout {
            task_root: "/var/task".into(),
            runtime_dir: "/opt".into(),
        }
    }

    /// `path` (relative) under the task root.
    pub fn task(&self, path: &str) -> String {
        format!("{}/{path}", self.task_root)
    }

    /// `path` (relative) under the runtime directory.
    pub fn runtime(&self, path: &str) -> String {
        format!("{}/{path}", self.runtime_dir)
    }
}

/// How to start a runtime: run `argv` in `cwd` with Lambda's environment
/// ([`crate::lambda_environment`], which already contains `extra_env`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The program (absolute path) and its arguments.
    pub argv: Vec<String>,
    /// The working directory (the task root).
    pub cwd: String,
    /// Variables this runtime's client needs beyond Lambda's standard ones
    /// (`PYTHONPATH`, `RUBYLIB`, …).
    pub extra_env: Vec<(String, String)>,
}

/// The launch command for `handler` in the sandbox layout.
pub fn launch(runtime: Runtime, handler: &str) -> Result<Launch, HandlerError> {
    launch_in(runtime, handler, &Layout::sandbox())
}

/// The launch command for `handler` in `layout` (tests run clients outside a sandbox).
pub fn launch_in(runtime: Runtime, handler: &str, layout: &Layout) -> Result<Launch, HandlerError> {
    Ok(validate_handler(runtime, handler)?.launch(layout, None))
}

/// The runtime-specific variables of `runtime` in `layout`.
pub fn runtime_env(runtime: Runtime, layout: &Layout) -> Vec<(String, String)> {
    let pair = |k: &str, v: String| (k.to_owned(), v);
    match runtime {
        // Lambda's order: the function's code first, then the runtime's libraries.
        // Unbuffered output: what the function and awslambdaric print (the error
        // report of a failed invocation among it) reaches the log before the
        // invocation's answer, even if the environment is ended right after.
        Runtime::Python311 => vec![
            pair(
                "PYTHONPATH",
                format!("{}:{}", layout.task_root, layout.runtime("python")),
            ),
            pair("PYTHONUNBUFFERED", "1".to_owned()),
        ],
        // Lambda's Ruby runtime: the code's directory on the load path, gems vendored
        // with bundler (`bundle config set path vendor/bundle`) on the gem path.
        Runtime::Ruby31 => vec![
            pair("RUBYLIB", layout.task_root.clone()),
            pair("GEM_PATH", layout.task("vendor/bundle/ruby/3.1.0")),
        ],
        // Node resolves the function's modules from the task root (node_modules);
        // cove ships no SDK, so Lambda's NODE_PATH has nothing to point at.
        Runtime::Nodejs20 | Runtime::Go | Runtime::Provided => Vec::new(),
    }
}

impl Entry {
    /// The launch command in `layout`. `found` is the candidate the filesystem check
    /// found (it picks the executable of `go`: the handler or the `bootstrap`
    /// fallback); without it the first candidate is assumed.
    pub fn launch(&self, layout: &Layout, found: Option<&str>) -> Launch {
        let argv = match (self.runtime, &self.needs) {
            (Runtime::Python311, _) => vec![
                PYTHON.to_owned(),
                "-m".to_owned(),
                "awslambdaric".to_owned(),
                self.handler.clone(),
            ],
            (Runtime::Nodejs20, _) => vec![
                NODE.to_owned(),
                layout.runtime("node/node_modules/aws-lambda-ric/bin/index.mjs"),
                self.handler.clone(),
            ],
            (Runtime::Ruby31, _) => vec![RUBY.to_owned(), layout.runtime("ruby/bootstrap.rb")],
            (Runtime::Go | Runtime::Provided, needs) => {
                let first = needs
                    .candidates()
                    .first()
                    .map_or("bootstrap", String::as_str);
                let exe = match (found, needs) {
                    (Some(f), CodeNeed::Executable(c)) if c.iter().any(|x| x == f) => f,
                    _ => first,
                };
                vec![layout.task(exe)]
            }
        };
        Launch {
            argv,
            cwd: layout.task_root.clone(),
            extra_env: runtime_env(self.runtime, layout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(runtime: Runtime, handler: &str) -> Vec<String> {
        launch(runtime, handler).expect("valid handler").argv
    }

    #[test]
    fn sandbox_commands_use_debian_interpreters_and_opt() {
        assert_eq!(
            argv(Runtime::Python311, "app.handler"),
            ["/usr/bin/python3.11", "-m", "awslambdaric", "app.handler"]
        );
        assert_eq!(
            argv(Runtime::Nodejs20, "index.handler"),
            [
                "/usr/bin/node",
                "/opt/node/node_modules/aws-lambda-ric/bin/index.mjs",
                "index.handler"
            ]
        );
        assert_eq!(
            argv(Runtime::Ruby31, "function.handler"),
            ["/usr/bin/ruby3.1", "/opt/ruby/bootstrap.rb"]
        );
        assert_eq!(argv(Runtime::Go, "hello"), ["/var/task/hello"]);
        assert_eq!(argv(Runtime::Provided, "whatever"), ["/var/task/bootstrap"]);
        for runtime in crate::runtime::ALL {
            let handler = if runtime == Runtime::Ruby31 {
                "f.m"
            } else {
                "a.b"
            };
            assert_eq!(
                launch(runtime, handler).map(|l| l.cwd),
                Ok("/var/task".into())
            );
        }
    }

    #[test]
    fn go_uses_the_executable_the_check_found() {
        let entry = validate_handler(Runtime::Go, "hello").expect("valid");
        let sandbox = Layout::sandbox();
        assert_eq!(
            entry.launch(&sandbox, Some("bootstrap")).argv,
            ["/var/task/bootstrap"]
        );
        assert_eq!(
            entry.launch(&sandbox, Some("hello")).argv,
            ["/var/task/hello"]
        );
        // Something that is not a candidate is ignored.
        assert_eq!(
            entry.launch(&sandbox, Some("other")).argv,
            ["/var/task/hello"]
        );
    }

    #[test]
    fn layout_moves_every_path() {
        let layout = Layout {
            task_root: "/tmp/code".into(),
            runtime_dir: "/srv/rt".into(),
        };
        let l = launch_in(Runtime::Nodejs20, "index.handler", &layout).expect("valid");
        assert_eq!(
            l.argv[1],
            "/srv/rt/node/node_modules/aws-lambda-ric/bin/index.mjs"
        );
        assert_eq!(l.cwd, "/tmp/code");
        let py = launch_in(Runtime::Python311, "a.b", &layout).expect("valid");
        assert_eq!(
            py.extra_env,
            [
                (
                    "PYTHONPATH".to_owned(),
                    "/tmp/code:/srv/rt/python".to_owned()
                ),
                ("PYTHONUNBUFFERED".to_owned(), "1".to_owned())
            ]
        );
        let rb = launch_in(Runtime::Ruby31, "f.m", &layout).expect("valid");
        assert_eq!(rb.argv[1], "/srv/rt/ruby/bootstrap.rb");
        assert_eq!(
            rb.extra_env,
            [
                ("RUBYLIB".to_owned(), "/tmp/code".to_owned()),
                (
                    "GEM_PATH".to_owned(),
                    "/tmp/code/vendor/bundle/ruby/3.1.0".to_owned()
                )
            ]
        );
    }

    #[test]
    fn invalid_handlers_do_not_launch() {
        assert!(launch(Runtime::Python311, "nodot").is_err());
        assert!(launch(Runtime::Go, "../escape").is_err());
    }
}
