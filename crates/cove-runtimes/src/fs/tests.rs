use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "cvrt-fs-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn file(&self, rel: &str, mode: u32) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, b"x").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn python_module_file_or_package() {
    let code = TempDir::new();
    let err = check_code(Runtime::Python311, "app.handler", &code.0).expect_err("must be rejected");
    let msg = err.to_string();
    assert!(matches!(err, CodeError::Missing { .. }));
    assert!(
        msg.contains("handler 'app.handler'") && msg.contains("app.py or app/__init__.py"),
        "{msg}"
    );
    assert!(msg.contains("change `handler`"), "{msg}");
    code.file("app/__init__.py", 0o644);
    let launch = check_code(Runtime::Python311, "app.handler", &code.0).expect("package");
    assert_eq!(launch.argv.last().map(String::as_str), Some("app.handler"));
    code.file("pkg/mod.py", 0o644);
    assert!(check_code(Runtime::Python311, "pkg/mod.handler", &code.0).is_ok());
    assert!(check_code(Runtime::Python311, "pkg.mod.handler", &code.0).is_ok());
}

#[test]
fn node_accepts_every_module_extension() {
    for ext in ["js", "mjs", "cjs"] {
        let code = TempDir::new();
        code.file(&format!("src/index.{ext}"), 0o644);
        assert!(
            check_code(Runtime::Nodejs20, "src/index.handler", &code.0).is_ok(),
            "{ext}"
        );
        assert!(
            check_code(Runtime::Nodejs20, "index.handler", &code.0).is_err(),
            "{ext}"
        );
    }
}

#[test]
fn unreadable_source_is_reported_with_the_fix() {
    let code = TempDir::new();
    code.file("function.rb", 0o600);
    let err =
        check_code(Runtime::Ruby31, "function.handler", &code.0).expect_err("must be rejected");
    assert!(
        matches!(
            err,
            CodeError::Permission {
                what: "readable",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 644"));
}

#[test]
fn go_prefers_the_handler_executable_and_falls_back_to_bootstrap() {
    let code = TempDir::new();
    let err = check_code(Runtime::Go, "hello", &code.0).expect_err("must be rejected");
    assert!(err.to_string().contains("hello or bootstrap"), "{err}");
    code.file("bootstrap", 0o755);
    let launch = check_code(Runtime::Go, "hello", &code.0).expect("fallback");
    assert_eq!(launch.argv, ["/var/task/bootstrap"]);
    code.file("hello", 0o755);
    let launch = check_code(Runtime::Go, "hello", &code.0).expect("handler");
    assert_eq!(launch.argv, ["/var/task/hello"]);
}

#[test]
fn executables_must_be_executable_by_others_and_be_files() {
    let code = TempDir::new();
    code.file("bootstrap", 0o744);
    let err = check_code(Runtime::Provided, "x", &code.0).expect_err("must be rejected");
    assert!(
        matches!(
            err,
            CodeError::Permission {
                what: "executable",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 755"));

    let dir_only = TempDir::new();
    std::fs::create_dir(dir_only.0.join("bootstrap")).expect("mkdir");
    assert!(matches!(
        check_code(Runtime::Provided, "x", &dir_only.0),
        Err(CodeError::Missing { .. })
    ));
}

#[test]
fn code_dir_and_handler_errors() {
    let code = TempDir::new();
    let missing = code.0.join("nope");
    assert!(matches!(
        check_code(Runtime::Provided, "x", &missing),
        Err(CodeError::CodeDir { .. })
    ));
    let file = code.file("plain", 0o644);
    assert!(matches!(
        check_code(Runtime::Provided, "x", &file),
        Err(CodeError::NotADirectory { .. })
    ));
    assert!(matches!(
        check_code(Runtime::Python311, "nodot", &code.0),
        Err(CodeError::Handler(_))
    ));
}

#[test]
fn installed_runtime_checks_client_files() {
    let rt = TempDir::new();
    for runtime in [Runtime::Python311, Runtime::Ruby31] {
        let err = check_installed(runtime, &rt.0).expect_err("must be rejected");
        let msg = err.to_string();
        assert!(matches!(err, InstallError::MissingClient { .. }), "{msg}");
        assert!(msg.contains("run scripts/install-runtimes.sh"), "{msg}");
        assert!(msg.contains(&rt.0.display().to_string()), "{msg}");
    }
    rt.file("ruby/bootstrap.rb", 0o600);
    assert!(matches!(
        check_installed(Runtime::Ruby31, &rt.0),
        Err(InstallError::NotReadable { .. })
    ));
    // Go and provided need nothing from the runtime directory.
    assert!(check_installed(Runtime::Go, &rt.0).is_ok());
    assert!(check_installed(Runtime::Provided, &rt.0).is_ok());
}
