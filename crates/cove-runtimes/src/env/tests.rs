use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn get<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    let mut found = env.iter().filter(|(k, _)| k == key);
    let first = found.next().map(|(_, v)| v.as_str());
    assert!(found.next().is_none(), "{key} is set twice");
    first
}

fn info(runtime: Runtime) -> EnvInfo {
    EnvInfo::new(
        runtime,
        "app.handler",
        "orders",
        "127.0.0.1:9001",
        &log_stream_name((2025, 3, 7), "$LATEST", "0123456789abcdef0123456789abcdef"),
    )
}

#[test]
fn standard_variables_follow_the_developer_guide() {
    let mut i = info(Runtime::Python311);
    i.memory_mb = 512;
    i.region = "eu-west-1".into();
    let env = lambda_environment(&i);
    let expect = [
        ("_HANDLER", "app.handler"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11"),
        ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/orders"),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2025/03/07/[$LATEST]0123456789abcdef0123456789abcdef",
        ),
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/opt"),
        ("TZ", ":UTC"),
        ("PYTHONPATH", "/var/task:/opt/python"),
    ];
    for (k, v) in expect {
        assert_eq!(get(&env, k), Some(v), "{k}");
    }
    assert!(get(&env, "PATH").is_some_and(|p| p.split(':').any(|d| d == "/usr/bin")));
    let ld = get(&env, "LD_LIBRARY_PATH").expect("LD_LIBRARY_PATH");
    assert!(ld.split(':').any(|d| d == "/var/task/lib"));
    assert!(get(&env, "AWS_ACCESS_KEY_ID").is_none());
    // Every reserved variable cove sets comes from the reserved list.
    for (k, _) in &env {
        let unreserved = [
            "LANG",
            "PATH",
            "LD_LIBRARY_PATH",
            "TZ",
            "PYTHONPATH",
            "PYTHONUNBUFFERED",
        ];
        assert!(
            RESERVED_KEYS.contains(&k.as_str()) || unreserved.contains(&k.as_str()),
            "{k}"
        );
    }
}

#[test]
fn provided_has_no_execution_env_and_runtimes_differ_only_in_their_extras() {
    let env = lambda_environment(&info(Runtime::Provided));
    assert!(get(&env, "AWS_EXECUTION_ENV").is_none());
    let ruby = lambda_environment(&info(Runtime::Ruby31));
    assert_eq!(get(&ruby, "AWS_EXECUTION_ENV"), Some("AWS_Lambda_ruby3.1"));
    assert!(get(&ruby, "RUBYLIB").is_some());
    let node = lambda_environment(&info(Runtime::Nodejs20));
    assert_eq!(
        get(&node, "AWS_EXECUTION_ENV"),
        Some("AWS_Lambda_nodejs20.x")
    );
    assert_eq!(get(&node, "PYTHONPATH"), None);
}

#[test]
fn credentials_fill_both_access_key_names() {
    let mut i = info(Runtime::Go);
    i.credentials = Some(Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "secret".into(),
        session_token: Some("token".into()),
    });
    let env = lambda_environment(&i);
    assert_eq!(get(&env, "AWS_ACCESS_KEY_ID"), Some("AKIDEXAMPLE"));
    assert_eq!(get(&env, "AWS_ACCESS_KEY"), Some("AKIDEXAMPLE"));
    assert_eq!(get(&env, "AWS_SECRET_ACCESS_KEY"), Some("secret"));
    assert_eq!(get(&env, "AWS_SESSION_TOKEN"), Some("token"));
}

#[test]
fn user_variables_extend_and_override_unreserved_but_never_reserved() {
    let mut i = info(Runtime::Python311);
    i.user = vars(&[
        ("DB_HOST", "10.0.0.5"),
        ("TZ", "Europe/Paris"),
        ("PYTHONPATH", "/var/task/vendor"),
        ("AWS_REGION", "evil-1"),
    ]);
    let env = lambda_environment(&i);
    assert_eq!(get(&env, "DB_HOST"), Some("10.0.0.5"));
    assert_eq!(get(&env, "TZ"), Some("Europe/Paris"));
    assert_eq!(get(&env, "PYTHONPATH"), Some("/var/task/vendor"));
    assert_eq!(get(&env, "AWS_REGION"), Some("us-east-1"));
}

#[test]
fn layout_changes_the_roots() {
    let layout = Layout {
        task_root: "/tmp/t".into(),
        runtime_dir: "/srv/rt".into(),
    };
    let env = lambda_environment_in(&info(Runtime::Python311), &layout);
    assert_eq!(get(&env, "LAMBDA_TASK_ROOT"), Some("/tmp/t"));
    assert_eq!(get(&env, "LAMBDA_RUNTIME_DIR"), Some("/srv/rt"));
    assert_eq!(get(&env, "PYTHONPATH"), Some("/tmp/t:/srv/rt/python"));
}

#[test]
fn key_pattern() {
    for good in ["DB", "a1", "Db_HOST_2", "x_"] {
        assert_eq!(
            validate_user_environment(&vars(&[(good, "v")])),
            Ok(()),
            "{good}"
        );
    }
    let err = validate_user_environment(&vars(&[
        ("OK_KEY", "v"),
        ("A", "v"),
        ("_X", "v"),
        ("1A", "v"),
        ("A-B", "v"),
        ("", "v"),
        ("ÉTÉ", "v"),
    ]))
    .expect_err("must be rejected");
    assert_eq!(err.aws_code(), "ValidationException");
    assert_eq!(
        err,
        EnvError::InvalidKeys {
            keys: ["A", "_X", "1A", "A-B", "", "ÉTÉ"]
                .map(String::from)
                .to_vec()
        }
    );
    assert!(err.to_string().contains("'environment.variables'"));
    assert!(err.to_string().contains("[a-zA-Z]([a-zA-Z0-9_])+"));
}

#[test]
fn reserved_keys_use_aws_wording_and_list_every_key() {
    let err = validate_user_environment(&vars(&[
        ("AWS_REGION", "x"),
        ("FINE", "y"),
        ("AWS_ACCESS_KEY_ID", "z"),
    ]))
    .expect_err("must be rejected");
    assert_eq!(err.aws_code(), "InvalidParameterValueException");
    assert_eq!(
        err.to_string(),
        "Lambda was unable to configure your environment variables because the environment \
         variables you have provided contains reserved keys that are currently not supported \
         for modification. Reserved keys used in this request: AWS_REGION, AWS_ACCESS_KEY_ID"
    );
    // Unreserved defaults may be set.
    let ok = vars(&[("TZ", "UTC"), ("LANG", "de_DE.UTF-8"), ("PATH", "/x")]);
    assert_eq!(validate_user_environment(&ok), Ok(()));
}

#[test]
fn duplicate_keys_are_rejected() {
    let err = validate_user_environment(&vars(&[("AB", "1"), ("CD", "2"), ("AB", "3")]))
        .expect_err("must be rejected");
    assert_eq!(err, EnvError::DuplicateKey { key: "AB".into() });
}

#[test]
fn size_limit_is_on_the_json_object() {
    // {"KEY":"<v>"} is 10 bytes plus the value; fill to exactly 4096.
    let at_limit = vars(&[("KEY", &"v".repeat(MAX_USER_ENV_BYTES - 10))]);
    assert_eq!(measured_json(&at_limit).len(), MAX_USER_ENV_BYTES);
    assert_eq!(validate_user_environment(&at_limit), Ok(()));
    let over = vars(&[("KEY", &"v".repeat(MAX_USER_ENV_BYTES - 9))]);
    let err = validate_user_environment(&over).expect_err("must be rejected");
    assert_eq!(err.aws_code(), "InvalidParameterValueException");
    assert!(matches!(err, EnvError::TooLarge { bytes: 4097, .. }));
    assert!(
        err.to_string()
            .contains("exceeded the 4KB limit. String measured: {\"KEY\":\"vvv")
    );
    // Escapes count: a quote is two bytes in the JSON.
    let quotes = vars(&[("KEY", &"\"".repeat(2043))]);
    assert_eq!(measured_json(&quotes).len(), 10 + 2 * 2043);
    assert_eq!(validate_user_environment(&quotes), Ok(()));
    let more = vars(&[("KEY", &"\"".repeat(2043)), ("K", "")]);
    assert!(matches!(
        validate_user_environment(&more),
        Err(EnvError::InvalidKeys { .. })
    ));
}

#[test]
fn measured_json_keeps_the_given_order() {
    let v = vars(&[("ZZ", "1"), ("AA", "2")]);
    assert_eq!(measured_json(&v), r#"{"ZZ":"1","AA":"2"}"#);
}
