//! End-to-end tests of the `cove` binary: exit codes, text and JSON output.

use std::path::PathBuf;

use assert_cmd::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example() -> PathBuf {
    root().join("examples/secure-compute.yaml")
}

fn cove() -> Command {
    Command::cargo_bin("cove").expect("binary")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn validate_example_exits_zero() {
    let out = cove()
        .args(["validate", "-f"])
        .arg(example())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("valid: 3 tenant(s), 3 VPC(s)"));
}

#[test]
fn validate_reports_all_errors_with_exit_two() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(example())
        .expect("example")
        .replacen("cidr: 10.40.0.0/16", "cidr: 10.40.0.0/8", 1)
        .replacen("network_acl: db }", "network_acl: nope, colour: red }", 1);
    std::fs::write(&bad, &text).expect("write");
    let before = std::fs::read(&bad).expect("read");
    let out = cove()
        .args(["validate", "--json", "-f"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["valid"], false);
    let codes: Vec<String> = doc["diagnostics"]
        .as_array()
        .expect("array")
        .iter()
        .map(|d| format!("{} {}", d["code"], d["path"]))
        .collect();
    assert!(
        codes
            .iter()
            .any(|c| c.contains("UnknownParameter") && c.contains("subnets[db-a].colour")),
        "{codes:?}"
    );
    assert!(
        codes.iter().any(|c| c.contains("InvalidVpc.Range")),
        "{codes:?}"
    );
    assert!(
        codes
            .iter()
            .any(|c| c.contains("InvalidNetworkAclID.NotFound")),
        "{codes:?}"
    );
    // Validation never changes the input.
    assert_eq!(before, std::fs::read(&bad).expect("read"));
}

#[test]
fn missing_file_is_invalid_input() {
    let out = cove()
        .args(["validate", "-f", "/nonexistent/spec.yaml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read spec file"));
}

#[test]
fn check_reachable_over_peering() {
    let out = cove()
        .args(["check", "-f"])
        .arg(example())
        .args([
            "--from",
            "functions/fn-a",
            "--to",
            "prod/db-1",
            "--proto",
            "tcp",
            "--port",
            "5432",
        ])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("REACHABLE"), "{text}");
    assert!(text.contains("fn-to-prod"), "{text}");
}

fn check_json(from: &str, to: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = cove()
        .args(["check", "--json", "-f"])
        .arg(example())
        .args(["--from", from, "--to", to])
        .args(extra)
        .output()
        .expect("run");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    (out.status.code(), doc)
}

#[test]
fn check_blocked_names_the_security_group() {
    // The app subnet's ACL is the default (allow all); the app SG has no inbound rule.
    let (code, doc) = check_json(
        "functions/fn-a",
        "prod/app-1",
        &["--proto", "tcp", "--port", "5432"],
    );
    assert_eq!(code, Some(3), "{doc:#}");
    let blocked = &doc["verdict"]["blocked"];
    assert_eq!(blocked["step"], "security-group-ingress", "{doc:#}");
    assert_eq!(blocked["direction"], "forward", "{doc:#}");
    assert!(
        blocked["component"]
            .as_str()
            .unwrap_or("")
            .contains("customer/prod/app"),
        "{doc:#}"
    );
}

#[test]
fn check_blocked_names_the_network_acl() {
    // The database subnet's ACL allows only 5432 from the function VPC.
    let (code, doc) = check_json(
        "functions/fn-a",
        "prod/db-1",
        &["--proto", "tcp", "--port", "22"],
    );
    assert_eq!(code, Some(3), "{doc:#}");
    let blocked = &doc["verdict"]["blocked"];
    assert_eq!(blocked["step"], "network-acl-ingress", "{doc:#}");
    assert!(
        blocked["component"]
            .as_str()
            .unwrap_or("")
            .contains("customer/prod/db"),
        "{doc:#}"
    );
    assert!(
        blocked["reason"]
            .as_str()
            .unwrap_or("")
            .contains("final `*` entry"),
        "{doc:#}"
    );
}

#[test]
fn check_all_protocols_prints_one_verdict_each() {
    let (code, doc) = check_json(
        "functions/fn-a",
        "prod/db-1",
        &["--proto", "all", "--port", "5432"],
    );
    assert_eq!(
        code,
        Some(3),
        "udp and icmp are blocked by the ACL: {doc:#}"
    );
    let list = doc.as_array().expect("array of verdicts");
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["verdict"]["reachable"], true, "{doc:#}");
    assert_eq!(list[1]["verdict"]["reachable"], false, "{doc:#}");
}

#[test]
fn check_unpeered_vpc_has_no_route() {
    let out = cove()
        .args(["check", "--json", "-f"])
        .arg(example())
        .args([
            "--from",
            "functions/fn-a",
            "--to",
            "analytics/warehouse/dw-1",
            "--proto",
            "icmp",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // 10.40.1.10 is outside the function VPC: the default route sends it to the NAT
    // gateway, whose public path reaches the internet, not a private VPC.
    assert!(
        !doc["verdict"]["reachable"].as_bool().unwrap_or(true),
        "{doc:#}"
    );
}

#[test]
fn check_unknown_eni_is_invalid_input() {
    let out = cove()
        .args(["check", "-f"])
        .arg(example())
        .args([
            "--from",
            "functions/nope",
            "--to",
            "prod/db-1",
            "--port",
            "1",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("functions/nope"));
}

#[test]
fn check_tcp_without_port_is_invalid_input() {
    let out = cove()
        .args(["check", "-f"])
        .arg(example())
        .args([
            "--from",
            "functions/fn-a",
            "--to",
            "prod/db-1",
            "--proto",
            "tcp",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--port"));
}

#[test]
fn matrix_json_lists_pairs() {
    let out = cove()
        .args(["matrix", "--json", "-f"])
        .arg(example())
        .args(["--ports", "tcp/5432"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let enis = doc["enis"].as_array().expect("enis");
    assert_eq!(enis.len(), 5);
}

#[test]
fn import_aws_snapshot_round_trips_through_validate() {
    let snap = root().join("../shared/aws-snapshots/batfish/test-vpc-peering");
    if !snap.exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "snapshot missing in CI"
        );
        eprintln!("skipping: {} not present", snap.display());
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("imported.yaml");
    let out = cove()
        .args(["import", "aws"])
        .arg(&snap)
        .arg("-o")
        .arg(&spec)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cove()
        .args(["validate", "-f"])
        .arg(&spec)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // The imported network answers questions: instance in VPC A reaches VPC B's subnet.
    let out = cove()
        .args(["check", "-f"])
        .arg(&spec)
        .args([
            "--from",
            "10.10.10.157",
            "--to",
            "192.168.2.229",
            "--proto",
            "tcp",
            "--port",
            "22",
        ])
        .output()
        .expect("run");
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "{}",
        stdout(&out)
    );
}

/// Runs `cove ARGS` with an empty state directory; returns (exit code, stdout as
/// JSON, stderr).
fn json_run(args: &[&std::ffi::OsStr]) -> (Option<i32>, serde_json::Value, String) {
    let state = tempfile::tempdir().expect("state");
    let out = cove()
        .env("COVE_STATE_DIR", state.path())
        .env("COVE_PREFIX", "hsjson")
        .args(args)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: stdout is not JSON ({e}): {}\nstderr: {err}",
            stdout(&out)
        )
    });
    (out.status.code(), doc, err)
}

#[test]
fn json_answers_every_failure_in_json() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("tmp");
    let invalid = dir.path().join("invalid.yaml");
    let text = std::fs::read_to_string(example()).expect("example");
    std::fs::write(
        &invalid,
        text.replacen("cidr: 10.40.0.0/16", "cidr: 10.40.0.0/8", 1),
    )
    .expect("write");
    let binary = dir.path().join("binary.yaml");
    std::fs::write(&binary, b"tenants:\n  - name: \xff\xfe\n").expect("write");
    let f = OsStr::new;
    let (inv, bin) = (invalid.as_os_str(), binary.as_os_str());
    fn check(spec: &OsStr) -> Vec<&OsStr> {
        let f = OsStr::new;
        vec![
            f("check"),
            f("--json"),
            f("-f"),
            spec,
            f("--from"),
            f("fn-a"),
            f("--to"),
            f("db-1"),
            f("--port"),
            f("5432"),
        ]
    }
    // An invalid spec: the diagnostics, as JSON, on stdout.
    for args in [check(inv), vec![f("plan"), f("--json"), f("-f"), inv]] {
        let (code, doc, _) = json_run(&args);
        assert_eq!(code, Some(2), "{args:?}: {doc}");
        assert_eq!(doc["error"]["kind"], "invalid_input", "{doc}");
        let diags = doc["diagnostics"].as_array().expect("diagnostics");
        assert!(
            diags
                .iter()
                .any(|d| d["code"] == "InvalidVpc.Range" && d["path"].as_str().is_some()),
            "{args:?}: {doc}"
        );
    }
    // Unreadable, not UTF-8, a missing state, a bad argument, a non-UTF-8 argument.
    let cases: Vec<(Vec<&OsStr>, i32, &str)> = vec![
        (
            vec![f("validate"), f("--json"), f("-f"), bin],
            2,
            "not UTF-8",
        ),
        (check(bin), 2, "not UTF-8"),
        (
            vec![f("status"), f("--json"), f("-f"), f("/nonexistent.yaml")],
            2,
            "cannot read spec file",
        ),
        (
            vec![f("matrix"), f("--json"), f("-f"), f("/dev/zero")],
            2,
            "larger than",
        ),
        (
            vec![f("fn"), f("list"), f("--json")],
            2,
            "nothing is applied",
        ),
        (
            vec![f("check"), f("--json"), f("--from"), f("a")],
            2,
            "--to",
        ),
        (
            vec![
                f("check"),
                f("--json"),
                f("--from"),
                OsStr::from_bytes(b"\xff"),
                f("--to"),
                f("b"),
            ],
            2,
            "UTF-8",
        ),
        (
            vec![f("import"), f("aws"), f("/nonexistent"), f("--json")],
            2,
            "cannot import",
        ),
    ];
    for (args, want, word) in cases {
        let (code, doc, err) = json_run(&args);
        assert_eq!(code, Some(want), "{args:?}: {doc} {err}");
        assert_eq!(doc["error"]["exit_code"], want, "{doc}");
        let all = format!("{} {}", doc["error"]["message"], doc["error"]["causes"]);
        assert!(all.contains(word), "{args:?}: {doc}");
    }
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    use std::process::{Command as Process, Stdio};
    let example = example();
    let spec = example.to_str().expect("utf-8");
    let runs: [(&[&str], i32); 4] = [
        (
            &[
                "matrix",
                "--json",
                "-f",
                spec,
                "--ports",
                "tcp/443,tcp/5432,icmp",
            ],
            0,
        ),
        (&["validate", "-f", spec], 0),
        (
            &[
                "check", "--json", "-f", spec, "--from", "fn-a", "--to", "db-1", "--port", "22",
            ],
            3,
        ),
        (&["validate", "--json", "-f", "/nonexistent.yaml"], 2),
    ];
    for (args, want) in runs {
        // A pipe whose reading end is closed before cove starts: every write fails
        // with EPIPE (what `cove … | head -1` does once head has exited).
        let (reader, writer) = nix::unistd::pipe().expect("pipe");
        drop(reader);
        let out = Process::new(assert_cmd::cargo::cargo_bin("cove"))
            .args(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

/// From the internet, an ENI's private address is not routed (only its public IP is
/// translated to it), and a NAT gateway's Elastic IP accepts nothing unsolicited.
#[test]
fn check_from_the_internet_takes_addresses_as_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("public.yaml");
    std::fs::write(
        &spec,
        r#"
tenants:
  - name: acme
    vpcs:
      - name: vpc
        cidr: 10.0.0.0/16
        internet_gateway: { name: igw }
        subnets: [{ name: public, cidr: 10.0.0.0/24, az: a, route_table: public }]
        nat_gateways: [{ name: nat, subnet: public, public_ips: [203.0.113.10] }]
        route_tables:
          - { name: public, routes: [{ destination: 0.0.0.0/0, internet_gateway: igw }] }
        security_groups:
          - { name: web, ingress: [{ protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }] }
        enis:
          - { name: web-1, subnet: public, private_ip: 10.0.0.20, public_ip: 203.0.113.20, security_groups: [web] }
"#,
    )
    .expect("write");
    let check = |to: &str| {
        let out = cove()
            .args(["check", "--json", "-f"])
            .arg(&spec)
            .args(["--from", "internet", "--to", to, "--port", "80"])
            .output()
            .expect("run");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        (out.status.code(), doc)
    };
    let (code, doc) = check("10.0.0.20");
    assert_eq!(code, Some(3), "{doc:#}");
    assert_eq!(
        doc["verdict"]["blocked"]["step"], "internet-gateway",
        "{doc:#}"
    );
    let (code, doc) = check("203.0.113.20");
    assert_eq!(code, Some(0), "{doc:#}");
    let (code, doc) = check("acme/vpc/web-1");
    assert_eq!(code, Some(0), "{doc:#}");
    let (code, doc) = check("203.0.113.10");
    assert_eq!(code, Some(3), "{doc:#}");
    assert_eq!(doc["verdict"]["blocked"]["step"], "nat-gateway", "{doc:#}");
}
