"""Lambda's API of a real `cove serve` driven by the AWS CLI and boto3 (issue 13):
a function created with `aws lambda create-function` into a network's subnets (found
with EC2's API), Active, invoked with the CLI and boto3, updated, its concurrency,
refusals with Lambda's codes, another tenant, deleted.

    python3 aws_lambda.py CONFIG.json
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


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
    step("updated")

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
