"""Drives a running `cove serve` with the real clients (boto3 and the AWS CLI v1), as
crates/cove/tests/lambda_fidelity.rs runs it.

Environment: ENDPOINT (http://127.0.0.1:PORT), FUNCTION (a python3.11 function of
./function with concurrency 1, never invoked before), COVE_BIN, COVE_PREFIX,
COVE_STATE_DIR (for `cove fn logs`). Argument: the phase, `main` (serve started with a
short --async-retry-delay) or `age` (serve started with --max-event-age 2).

Every check raises on failure; the last line printed is `OK <phase> <checks>`.
"""

import base64
import json
import os
import subprocess
import sys
import threading
import time

import boto3
import botocore.config
import botocore.exceptions

ENDPOINT = os.environ["ENDPOINT"]
FUNCTION = os.environ["FUNCTION"]
REGION = "us-east-1"
# A guard against hanging forever, not a performance threshold.
EVENTUALLY_S = 180

checks = []


def check(name, cond, detail=""):
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    checks.append(name)


def client():
    return boto3.client(
        "lambda",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="hl",
        aws_secret_access_key="hl",
        config=botocore.config.Config(
            retries={"total_max_attempts": 1}, read_timeout=120, connect_timeout=10
        ),
    )


lam = client()
# The function's ARN carries its tenant's account.
ARN = lam.get_function(FunctionName=FUNCTION)["Configuration"]["FunctionArn"]
ACCOUNT = ARN.split(":")[4]


def invoke(**kw):
    r = lam.invoke(**kw)
    body = r["Payload"].read()
    return r, json.loads(body) if body else None


def error_of(call):
    """(HTTP status, error code, the exception) of a call that must fail."""
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"], e
    raise AssertionError("the call succeeded")


def logs():
    out = subprocess.run(
        [os.environ["COVE_BIN"], "fn", "logs", FUNCTION, "--tail", "10000000"],
        capture_output=True, check=True, text=True, timeout=60)
    return out.stdout


def fidelity_lines(text, tag):
    found = []
    for line in text.splitlines():
        if "FIDELITY " in line:
            doc = json.loads(line.split("FIDELITY ", 1)[1])
            if doc.get("tag") == tag:
                found.append(doc)
    return found


def until(what, probe):
    deadline = time.monotonic() + EVENTUALLY_S
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


def hold(seconds, tag):
    """Keeps the function's only environment busy: a synchronous invocation that sleeps,
    started in a thread; returns once the function is inside it."""
    result = {}

    def run():
        result["r"] = invoke(FunctionName=FUNCTION,
                             Payload=json.dumps({"op": "sleep", "seconds": seconds, "tag": tag}))
        result["done"] = time.monotonic()

    t = threading.Thread(target=run)
    t.start()
    until(f"{tag} running", lambda: fidelity_lines(logs(), tag))
    return t, result


def tail_log(r):
    return base64.b64decode(r["LogResult"]).decode()


def main_phase():
    # REPORT lines: a cold start's carries Init Duration, a warm one's does not.
    r, _ = invoke(FunctionName=FUNCTION, Payload=b"{}", LogType="Tail")
    cold = tail_log(r)
    report = [l for l in cold.splitlines() if l.startswith("REPORT RequestId:")]
    check("cold REPORT has Init Duration", len(report) == 1 and "\tInit Duration: " in report[0]
          and report[0].endswith(" ms"), cold)
    r, _ = invoke(FunctionName=FUNCTION, Payload=b"{}", LogType="Tail")
    warm = tail_log(r)
    check("warm REPORT has no Init Duration", "REPORT RequestId:" in warm
          and "Init Duration" not in warm, warm)

    # Function names: name, partial ARN, full ARN, qualifier (boto3 percent-encodes
    # `:` and `$` in the path).
    for name, extra in [
        (FUNCTION, {}),
        (f"{ACCOUNT}:function:{FUNCTION}", {}),
        (ARN, {}),
        (f"{FUNCTION}:$LATEST", {}),
        (f"{ARN}:$LATEST", {}),
        (FUNCTION, {"Qualifier": "$LATEST"}),
    ]:
        r, body = invoke(FunctionName=name, Payload=b'{"op": "echo"}', **extra)
        check(f"invoke {name} {extra}", r["StatusCode"] == 200 and "FunctionError" not in r
              and body["op"] == "echo", (r, body))
        check(f"get_function {name}",
              lam.get_function(FunctionName=name, **extra)["Configuration"]["FunctionArn"] == ARN)
    status, code, _ = error_of(lambda: lam.invoke(FunctionName=FUNCTION, Qualifier="prod"))
    check("unknown qualifier", (status, code) == (404, "ResourceNotFoundException"), code)
    status, code, _ = error_of(
        lambda: lam.invoke(FunctionName=f"{FUNCTION}:$LATEST", Qualifier="prod"))
    check("qualifier mismatch", (status, code) == (400, "InvalidParameterValueException"), code)
    status, code, _ = error_of(lambda: lam.invoke(
        FunctionName=f"arn:aws:lambda:{REGION}:{'1' if ACCOUNT[0] != '1' else '2'}{ACCOUNT[1:]}:function:{FUNCTION}"))
    check("other account", (status, code) == (404, "ResourceNotFoundException"), code)
    for bad in ["bad name!", "a/b", "x" * 65, f"{FUNCTION}:", "fn:a:b"]:
        for op in [lambda: lam.invoke(FunctionName=bad),
                   lambda: lam.get_function(FunctionName=bad),
                   lambda: lam.get_function_configuration(FunctionName=bad)]:
            status, code, e = error_of(op)
            check(f"invalid name {bad!r}", (status, code) == (400, "ValidationException")
                  and "functionName" in str(e), (status, code, e))
    status, code, _ = error_of(lambda: lam.invoke(FunctionName="no-such-function"))
    check("unknown function", (status, code) == (404, "ResourceNotFoundException"), code)

    # GetFunctionConfiguration is GetFunction's Configuration, with boto3 and the CLI.
    conf = lam.get_function_configuration(FunctionName=FUNCTION)
    conf.pop("ResponseMetadata")
    check("get_function_configuration",
          conf == lam.get_function(FunctionName=ARN)["Configuration"], conf)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="hl", AWS_SECRET_ACCESS_KEY="hl",
               AWS_DEFAULT_REGION=REGION)
    cli = subprocess.run(["aws", "lambda", "get-function-configuration", "--function-name",
                          ARN, "--endpoint-url", ENDPOINT, "--output", "json"],
                         capture_output=True, text=True, env=env, timeout=120)
    check("aws lambda get-function-configuration", cli.returncode == 0
          and json.loads(cli.stdout)["FunctionName"] == FUNCTION, cli.stderr)
    out = os.path.join(os.environ["COVE_STATE_DIR"], "cli-out.json")
    cli = subprocess.run(["aws", "lambda", "invoke", "--function-name", f"{ACCOUNT}:function:{FUNCTION}",
                          "--payload", '{"op": "echo"}', "--endpoint-url", ENDPOINT, out],
                         capture_output=True, text=True, env=env, timeout=120)
    check("aws lambda invoke by partial ARN", cli.returncode == 0
          and json.load(open(out))["op"] == "echo", cli.stdout + cli.stderr)

    # Client context: base64 JSON in, the JSON in the function's context.
    cc = {"custom": {"k": "v", "name": "café 🐟"}, "env": {"platform": "hl"},
          "client": {"installation_id": "inst-hl"}}
    r, body = invoke(FunctionName=FUNCTION, Payload=b"{}",
                     ClientContext=base64.b64encode(json.dumps(cc).encode()).decode())
    check("client context round trip", "FunctionError" not in r and body["client_context"] == {
        "custom": cc["custom"], "env": cc["env"], "installation_id": "inst-hl"}, body)
    for bad in ["not base64!", base64.b64encode(b"{not json").decode(),
                base64.b64encode(b"[1, 2]").decode()]:
        status, code, e = error_of(lambda: lam.invoke(FunctionName=FUNCTION, ClientContext=bad))
        check(f"invalid client context {bad!r}",
              (status, code) == (400, "InvalidRequestContentException")
              and "Client context must be a valid Base64-encoded JSON object." in str(e), e)
    r, body = invoke(FunctionName=FUNCTION, Payload=b"{}")
    check("no client context", body["client_context"] is None, body)

    # Error names.
    big = b'{"a": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    try:
        lam.invoke(FunctionName=FUNCTION, Payload=big)
        raise AssertionError("a 6 MB payload was accepted")
    except lam.exceptions.RequestTooLargeException as e:
        check("RequestTooLargeException (sync)", e.response["ResponseMetadata"]["HTTPStatusCode"] == 413)
    try:
        lam.invoke(FunctionName=FUNCTION, InvocationType="Event",
                   Payload=b'{"a": "' + b"x" * (1024 * 1024) + b'"}')
        raise AssertionError("a 1 MB event was accepted")
    except lam.exceptions.RequestTooLargeException:
        check("RequestTooLargeException (event)", True)
    for kind in ["RequestResponse", "Event"]:
        status, code, _ = error_of(
            lambda: lam.invoke(FunctionName=FUNCTION, InvocationType=kind, Payload=b"{nope"))
        check(f"malformed JSON {kind}", (status, code) == (400, "InvalidRequestContentException"), code)

    # An Event at the concurrency limit waits for the environment, then runs, under the
    # request id of its 202.
    t, _ = hold(2, "hold-1")
    r = lam.invoke(FunctionName=FUNCTION, InvocationType="Event",
                   Payload=json.dumps({"op": "echo", "tag": "queued-1"}))
    check("Event accepted", r["StatusCode"] == 202)
    request_id = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    t.join()
    ran = until("queued-1 ran", lambda: fidelity_lines(logs(), "queued-1"))
    check("queued Event ran once with its request id",
          [d["request_id"] for d in ran] == [request_id], ran)

    # A failing Event runs three times (two retries), under one request id, then is
    # discarded.
    r = lam.invoke(FunctionName=FUNCTION, InvocationType="Event",
                   Payload=json.dumps({"op": "fail", "tag": "retry-1"}))
    request_id = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    until("retry-1 discarded",
          lambda: f"EVENT RequestId: {request_id} discarded after 3 attempts" in logs())
    text = logs()
    attempts = fidelity_lines(text, "retry-1")
    check("three attempts", [d["request_id"] for d in attempts] == [request_id] * 3,
          "\n".join(l for l in text.splitlines() if request_id in l or "retry-1" in l))
    text = logs()
    check("two retries logged", text.count(f"EVENT RequestId: {request_id} attempt") == 2, text)


def age_phase():
    # An event older than the maximum event age (2 s here) is dropped, not run.
    t, result = hold(6, "hold-2")
    sent = time.monotonic()
    r = lam.invoke(FunctionName=FUNCTION, InvocationType="Event",
                   Payload=json.dumps({"op": "echo", "tag": "aged-1"}))
    request_id = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    t.join()
    # The environment was busy for longer than the maximum age after the event came.
    check("precondition: held past the maximum age", result["done"] - sent > 2,
          result["done"] - sent)
    until("aged-1 dropped", lambda: f"EVENT RequestId: {request_id} dropped" in logs())
    r, _ = invoke(FunctionName=FUNCTION, Payload=json.dumps({"op": "echo", "tag": "after"}))
    check("aged event never ran", fidelity_lines(logs(), "aged-1") == [])


if __name__ == "__main__":
    phase = sys.argv[1]
    {"main": main_phase, "age": age_phase}[phase]()
    print(f"OK {phase} {len(checks)}")
