"""Lambda's API of a real `cove serve` driven by the AWS CLI and boto3 (issue 13):
a function created with `aws lambda create-function` into a network's subnets (found
with EC2's API), Active, invoked with the CLI and boto3, updated, its concurrency,
its function URL (unsigned, then signed only), refusals with Lambda's codes,
another tenant, deleted.

    python3 aws_lambda.py CONFIG.json
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import urllib.error
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

# A function that answers its URL's requests with what it was asked.
WEB = """
import json

def handler(event, context):
    http = event["requestContext"]["http"]
    return {"statusCode": 201, "headers": {"x-from": "cove",
                                           "access-control-allow-origin": "https://fn.example"},
            "body": json.dumps({"path": event["rawPath"], "query": event["rawQueryString"],
                                "method": http["method"], "body": event.get("body"),
                                "source": http["sourceIp"]})}
"""


def step(name, **facts):
    print(json.dumps({"step": name, **facts}), flush=True)


def session(cfg, key, secret):
    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                 region_name="us-east-1")


def code_of(call, **kw):
    try:
        call(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError(f"{call.__name__}({kw}) was not refused")


def fetch(url, method="GET", body=None, signer=None):
    """(status, JSON or text) of one request to `url`, signed with `signer`'s key
    (SigV4, service `lambda`) when given."""
    headers = {}
    if signer:
        req = AWSRequest(method=method, url=url, data=body or b"")
        SigV4Auth(Credentials(*signer), "lambda", "us-east-1").add_auth(req)
        headers = dict(req.headers)
    r = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=60) as got:
            status, text = got.status, got.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def fetch_full(url, method="GET", headers=None):
    """(status, headers with lower-case names, text) of one unsigned request."""
    r = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=60) as got:
            return got.status, {k.lower(): v for k, v in got.headers.items()}, got.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


def url_hosts_and_cors(lam, url):
    """The URL by its host name (any path), and its CORS settings applied."""
    base, url_id = url.split("/lambda-url/")
    url_id = url_id.strip("/")
    host = f"{url_id}.lambda-url.us-east-1.on.aws"
    status, _, text = fetch_full(base + "/orders/8?y=2", headers={"Host": host})
    assert status == 201, (status, text)
    got = json.loads(text)
    assert got["path"] == "/orders/8" and got["query"] == "y=2", got
    # Another id in the host name is no URL.
    status, _, _ = fetch_full(base + "/", headers={"Host": "0" * 32 + ".lambda-url.us-east-1.on.aws"})
    assert status == 404, status
    step("url by host")

    assert code_of(lam.update_function_url_config, FunctionName="web",
                   Cors={"MaxAge": 100000}) == "InvalidParameterValueException"
    assert code_of(lam.update_function_url_config, FunctionName="web",
                   Cors={"AllowMethods": ["FETCH"]}) == "InvalidParameterValueException"
    lam.update_function_url_config(FunctionName="web", Cors={
        "AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["content-type"], "ExposeHeaders": ["x-from"], "MaxAge": 300})
    # A preflight is answered by the URL (200, no body: the function, which
    # answers 201, did not run).
    status, h, text = fetch_full(url + "orders", "OPTIONS", {
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert status == 200 and text == "", (status, text)
    assert h.get("access-control-allow-origin") == "https://app.example", h
    assert h.get("access-control-allow-methods") == "GET,POST", h
    assert h.get("access-control-allow-headers") == "content-type", h
    assert h.get("access-control-max-age") == "300", h
    status, h, _ = fetch_full(url + "orders", "OPTIONS", {
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert status == 200 and "access-control-allow-origin" not in h, h
    # Answers: the URL's CORS headers replace the function's own.
    status, h, _ = fetch_full(url, headers={"Origin": "https://app.example"})
    assert status == 201 and h.get("access-control-allow-origin") == "https://app.example", h
    assert h.get("access-control-expose-headers") == "x-from" and h.get("x-from") == "cove", h
    status, h, _ = fetch_full(url, headers={"Origin": "https://evil.example"})
    assert status == 201 and "access-control-allow-origin" not in h, h
    step("url cors")


def urls(cfg, lam, other, env, work, private, sg):
    """Function URLs: made with the CLI, called without a signature (NONE), then
    only with the tenant's own signature (AWS_IAM), removed."""
    zpath = os.path.join(work, "web.zip")
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("web.py", WEB)
    with open(zpath, "rb") as f:
        lam.create_function(FunctionName="web", Runtime="python3.11", Handler="web.handler",
                            Role=f"arn:aws:iam::{cfg['account']}:role/web",
                            Code={"ZipFile": f.read()},
                            VpcConfig={"SubnetIds": private, "SecurityGroupIds": [sg]})
    out = subprocess.run(
        ["aws", "--endpoint-url", cfg["endpoint"], "lambda", "create-function-url-config",
         "--function-name", "web", "--auth-type", "NONE"],
        env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    url = made["FunctionUrl"]
    assert made["AuthType"] == "NONE" and "/lambda-url/" in url and url.endswith("/"), made
    assert made["FunctionArn"].endswith(":function:web"), made
    assert code_of(lam.create_function_url_config, FunctionName="web",
                   AuthType="NONE") == "ResourceConflictException"
    assert code_of(lam.create_function_url_config, FunctionName="web",
                   AuthType="MAYBE") == "InvalidParameterValueException"
    assert code_of(other.get_function_url_config, FunctionName="web") == "ResourceNotFoundException"
    assert lam.get_function_url_config(FunctionName="web")["FunctionUrl"] == url
    deadline = time.time() + 120
    while True:
        status, answer = fetch(url + "orders/7?x=1", "POST", b"hello")
        if status == 201:
            break
        assert time.time() < deadline, (status, answer)
        time.sleep(0.5)
    assert answer == {"path": "/orders/7", "query": "x=1", "method": "POST", "body": "hello",
                      "source": "127.0.0.1"}, answer
    step("url", url=url)
    url_hosts_and_cors(lam, url)

    lam.update_function_url_config(FunctionName="web", AuthType="AWS_IAM")
    assert lam.get_function_url_config(FunctionName="web")["AuthType"] == "AWS_IAM"
    deadline = time.time() + 60
    while fetch(url)[0] != 403:
        assert time.time() < deadline, fetch(url)
        time.sleep(0.5)
    status, answer = fetch(url + "signed", signer=(cfg["key"], cfg["secret"]))
    assert status == 201 and answer["path"] == "/signed", (status, answer)
    status, _ = fetch(url + "signed", signer=(cfg["other_key"], cfg["other_secret"]))
    assert status == 403, status
    status, _ = fetch(url + "signed", signer=(cfg["key"], "x" * 40))
    assert status == 403, status
    step("url signed")

    lam.delete_function_url_config(FunctionName="web")
    assert code_of(lam.get_function_url_config, FunctionName="web") == "ResourceNotFoundException"
    assert fetch(url)[0] == 404
    lam.delete_function(FunctionName="web")
    step("url deleted")


def main(path):
    cfg = json.load(open(path))
    conf = Config(retries={"max_attempts": 1})
    a = session(cfg, cfg["key"], cfg["secret"])
    ec2 = a.client("ec2", endpoint_url=cfg["endpoint"], config=conf)
    lam = a.client("lambda", endpoint_url=cfg["endpoint"], config=conf)
    other = session(cfg, cfg["other_key"], cfg["other_secret"]).client(
        "lambda", endpoint_url=cfg["endpoint"], config=conf)

    vpc = cfg["vpc_id"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    assert len(subnets) == 4, subnets
    private = subnets[2:]
    default = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    sg = default[0]["GroupId"]
    # The network's gateways and tables as EC2 shows them: the internet gateway, a
    # public table to it, private tables to the NAT pair.
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])
    igw = [g["InternetGatewayId"] for g in igws["InternetGateways"]]
    assert len(igw) == 1 and igw[0].startswith("igw-"), igws
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    defaults = {r.get("GatewayId") or r.get("NatGatewayId") for t in tables for r in t["Routes"]
                if r.get("DestinationCidrBlock") == "0.0.0.0/0"}
    assert igw[0] in defaults and any(d and d.startswith("nat-") for d in defaults), tables
    associated = {a["SubnetId"] for t in tables for a in t["Associations"] if a.get("SubnetId")}
    assert associated == set(subnets), (associated, subnets)
    step("found", subnets=private, group=sg, tables=len(tables))

    work = tempfile.mkdtemp(prefix="cove-aws-lambda-")
    zpath = os.path.join(work, "hello.zip")
    with zipfile.ZipFile(zpath, "w") as z:
        for name in os.listdir(cfg["code_dir"]):
            z.write(os.path.join(cfg["code_dir"], name), name)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=cfg["key"], AWS_SECRET_ACCESS_KEY=cfg["secret"],
               AWS_DEFAULT_REGION="us-east-1")
    role = f"arn:aws:iam::{cfg['account']}:role/hello"
    out = subprocess.run(
        ["aws", "--endpoint-url", cfg["endpoint"], "lambda", "create-function",
         "--function-name", "hello", "--runtime", "python3.11", "--role", role,
         "--handler", "handler.handler", "--zip-file", "fileb://" + zpath, "--timeout", "10",
         "--vpc-config", f"SubnetIds={','.join(private)},SecurityGroupIds={sg}",
         "--environment", "Variables={GREETING=hi}"],
        env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    assert made["FunctionName"] == "hello" and made["Role"] == role, made
    assert made["State"] == "Pending" and made["VpcConfig"]["VpcId"] == vpc, made
    assert sorted(made["VpcConfig"]["SubnetIds"]) == sorted(private), made
    step("created", state=made["State"])

    deadline = time.time() + 120
    while lam.get_function_configuration(FunctionName="hello")["State"] != "Active":
        assert time.time() < deadline, lam.get_function_configuration(FunctionName="hello")
        time.sleep(0.5)
    conf_now = lam.get_function_configuration(FunctionName="hello")
    assert conf_now["LastUpdateStatus"] == "Successful", conf_now
    assert conf_now["CodeSize"] == os.path.getsize(zpath), (conf_now, os.path.getsize(zpath))
    # Lambda's CodeSha256 is the zip's digest (what Terraform's source_code_hash is).
    with open(zpath, "rb") as f:
        zip_digest = base64.b64encode(hashlib.sha256(f.read()).digest()).decode()
    assert conf_now["CodeSha256"] == zip_digest, (conf_now["CodeSha256"], zip_digest)
    assert conf_now["Environment"]["Variables"] == {"GREETING": "hi"}, conf_now
    step("active")

    res = os.path.join(work, "out.json")
    out = subprocess.run(
        ["aws", "--endpoint-url", cfg["endpoint"], "lambda", "invoke", "--function-name", "hello",
         "--payload", json.dumps({"op": "echo", "via": "cli"}), res],
        env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    answer = json.load(open(res))
    assert answer["event"]["via"] == "cli" and answer["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "hello", answer
    r = lam.invoke(FunctionName="hello", Payload=json.dumps({"op": "error"}))
    assert r["FunctionError"] == "Unhandled", r
    step("invoked")

    listed = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert listed == ["hello"], listed
    got = lam.get_function(FunctionName="hello")
    assert got["Configuration"]["FunctionArn"].endswith(":function:hello"), got
    lam.update_function_configuration(FunctionName="hello", MemorySize=256)
    assert lam.get_function_configuration(FunctionName="hello")["MemorySize"] == 256
    lam.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=2)
    assert lam.get_function_concurrency(FunctionName="hello")["ReservedConcurrentExecutions"] == 2
    # The same files in another zip (a comment changes its bytes): CodeSha256 is
    # the new zip's, as Lambda's.
    z2 = os.path.join(work, "hello2.zip")
    with zipfile.ZipFile(z2, "w") as z:
        z.comment = b"second upload"
        for name in os.listdir(cfg["code_dir"]):
            z.write(os.path.join(cfg["code_dir"], name), name)
    with open(z2, "rb") as f:
        z2_bytes = f.read()
    z2_digest = base64.b64encode(hashlib.sha256(z2_bytes).digest()).decode()
    assert z2_digest != zip_digest
    updated = lam.update_function_code(FunctionName="hello", ZipFile=z2_bytes)
    assert updated["CodeSha256"] == z2_digest, (updated["CodeSha256"], z2_digest)
    assert updated["CodeSize"] == len(z2_bytes), updated
    step("updated")

    urls(cfg, lam, other, env, work, private, sg)

    # Refusals with Lambda's codes.
    zip_bytes = open(zpath, "rb").read()
    base = dict(Runtime="python3.11", Role=role, Handler="handler.handler", Code={"ZipFile": zip_bytes})
    assert code_of(lam.create_function, FunctionName="hello", VpcConfig={
        "SubnetIds": private, "SecurityGroupIds": [sg]}, **base) == "ResourceConflictException"
    assert code_of(lam.create_function, FunctionName="novpc", **base) == "InvalidParameterValueException"
    assert code_of(lam.create_function, FunctionName="bad", VpcConfig={
        "SubnetIds": ["subnet-00000000000000000"], "SecurityGroupIds": [sg]}, **base) == "InvalidParameterValueException"
    assert code_of(lam.get_function, FunctionName="nope") == "ResourceNotFoundException"
    assert code_of(other.get_function, FunctionName="hello") == "ResourceNotFoundException"
    assert code_of(other.invoke, FunctionName="hello") == "ResourceNotFoundException"
    bad = session(cfg, cfg["key"], "x" * 40).client("lambda", endpoint_url=cfg["endpoint"], config=conf)
    assert code_of(bad.list_functions) == "InvalidSignatureException"
    nobody = session(cfg, "AKIANOBODYNOBODYNOB0", "x" * 40).client(
        "lambda", endpoint_url=cfg["endpoint"], config=conf)
    assert code_of(nobody.list_functions) == "UnrecognizedClientException"
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["hello"]
    step("refusals")

    lam.delete_function(FunctionName="hello")
    assert code_of(lam.get_function, FunctionName="hello") == "ResourceNotFoundException"
    step("deleted")


if __name__ == "__main__":
    main(sys.argv[1])
