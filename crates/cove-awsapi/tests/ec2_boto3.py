"""EC2's Query API of cove driven by the real boto3 (issue 13): VPCs, subnets and
zones, pagination, filters, DryRun, EC2's error codes, that a refused call stores
nothing, two tenants, and the signature's failures.

    python3 ec2_boto3.py CONFIG.json

CONFIG: the endpoint, two tenants' access keys and the first tenant's API token and
the API's base (to read its spec through cove's own API). Prints one JSON line per
step; a failed check raises AssertionError naming what it expected and saw.
"""

import datetime
import json
import sys
import urllib.request

import boto3
import ec2_boto3_addresses
import ec2_boto3_routes
import ec2_boto3_tags
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError


def step(name, **facts):
    print(json.dumps({"step": name, **facts}), flush=True)


def client(cfg, key, secret):
    return boto3.client(
        "ec2", endpoint_url=cfg["endpoint"], region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}))


def code_of(call, **kw):
    try:
        call(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError(f"{call.__name__}({kw}) was not refused")


def spec_of(cfg):
    return api(cfg, "/v1/spec")


def api(cfg, path):
    req = urllib.request.Request(cfg["api"] + path)
    req.add_header("Authorization", "Bearer " + cfg["token"])
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def state(ec2, cfg):
    vpcs = sorted((v["VpcId"], v["CidrBlock"]) for v in ec2.describe_vpcs()["Vpcs"])
    subnets = sorted((s["SubnetId"], s["CidrBlock"]) for s in ec2.describe_subnets()["Subnets"])
    return vpcs, subnets, spec_of(cfg)


def refused(ec2, cfg, want, call, **kw):
    before = state(ec2, cfg)
    code, message = code_of(call, **kw)
    assert code == want, f"{call.__name__}({kw}): {code} ({message}), expected {want}"
    assert state(ec2, cfg) == before, f"{call.__name__}({kw}) was refused but changed something"
    return message


def tags(a, b, cfg, vid, sid):
    """Tags: on creation, CreateTags, filters, DescribeTags, DeleteTags."""
    tagged = a.create_vpc(CidrBlock="10.11.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "team", "Value": "a"}]}])["Vpc"]
    assert {t["Key"]: t["Value"] for t in tagged["Tags"]} == {"Name": "web", "team": "a"}, tagged
    tid = tagged["VpcId"]
    named = a.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["web"]}])["Vpcs"]
    assert [v["VpcId"] for v in named] == [tid], named
    a.create_tags(Resources=[vid, sid], Tags=[{"Key": "Name", "Value": "main"}])
    got = a.describe_subnets(SubnetIds=[sid])["Subnets"][0]["Tags"]
    assert got == [{"Key": "Name", "Value": "main"}], got
    listed = a.describe_tags(Filters=[{"Name": "resource-id", "Values": [vid, sid]}])["Tags"]
    assert sorted((t["ResourceId"], t["ResourceType"], t["Value"]) for t in listed) == sorted(
        [(vid, "vpc", "main"), (sid, "subnet", "main")]), listed
    refused(a, cfg, "InvalidParameterValue", a.create_tags, Resources=[vid],
            Tags=[{"Key": "aws:reserved", "Value": "x"}])
    refused(a, cfg, "InvalidID", a.create_tags, Resources=["vpc-00000000000000000"],
            Tags=[{"Key": "k", "Value": "v"}])
    assert b.describe_tags()["Tags"] == [], b.describe_tags()
    code, _ = code_of(b.create_tags, Resources=[vid], Tags=[{"Key": "k", "Value": "v"}])
    assert code == "InvalidID", code
    a.delete_tags(Resources=[sid], Tags=[{"Key": "Name"}])
    assert a.describe_subnets(SubnetIds=[sid])["Subnets"][0].get("Tags", []) == []
    a.delete_vpc(VpcId=tid)
    step("tags", vpc=tid)


def groups(a, b, cfg, vid):
    """Security groups and their rules."""
    db = a.create_security_group(GroupName="db", Description="database", VpcId=vid)["GroupId"]
    assert db.startswith("sg-"), db
    refused(a, cfg, "InvalidGroup.Duplicate", a.create_security_group, GroupName="db",
            Description="again", VpcId=vid)
    refused(a, cfg, "InvalidParameterValue", a.create_security_group, GroupName="default",
            Description="x", VpcId=vid)
    refused(a, cfg, "InvalidVpcID.NotFound", a.create_security_group, GroupName="x",
            Description="x", VpcId="vpc-00000000000000000")
    found = a.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vid]}])["SecurityGroups"]
    by_name = {g["GroupName"]: g for g in found}
    assert set(by_name) == {"default", "db"}, by_name
    default = by_name["default"]["GroupId"]
    assert by_name["db"]["Description"] == "database", by_name["db"]
    # A new group allows all outbound and nothing inbound, as EC2's.
    assert by_name["db"]["IpPermissions"] == [], by_name["db"]
    assert [(p["IpProtocol"], p["IpRanges"][0]["CidrIp"]) for p in by_name["db"]["IpPermissionsEgress"]] == [
        ("-1", "0.0.0.0/0")], by_name["db"]
    made = a.authorize_security_group_ingress(GroupId=db, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "IpRanges": [{"CidrIp": "10.10.0.0/16", "Description": "app"}],
        "UserIdGroupPairs": [{"GroupId": default}]}])["SecurityGroupRules"]
    assert len(made) == 2 and all(r["SecurityGroupRuleId"].startswith("sgr-") for r in made), made
    cidr_rule = next(r for r in made if r.get("CidrIpv4") == "10.10.0.0/16")
    refused(a, cfg, "InvalidPermission.Duplicate", a.authorize_security_group_ingress, GroupId=db,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                            "IpRanges": [{"CidrIp": "10.10.0.0/16"}]}])
    refused(a, cfg, "InvalidGroup.NotFound", a.authorize_security_group_ingress, GroupId=db,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1,
                            "UserIdGroupPairs": [{"GroupId": "sg-00000000000000000"}]}])
    refused(a, cfg, "RulesPerSecurityGroupLimitExceeded", a.authorize_security_group_ingress,
            GroupId=db, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                        "IpRanges": [{"CidrIp": f"10.200.{i}.0/24"} for i in range(59)]}])
    a.authorize_security_group_egress(GroupId=db, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    rules = a.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [db]}])["SecurityGroupRules"]
    assert sorted((r["IsEgress"], r["IpProtocol"], r["FromPort"]) for r in rules) == [
        (False, "tcp", 5432), (False, "tcp", 5432), (True, "-1", -1), (True, "tcp", 443)], rules
    assert any(r.get("Description") == "app" for r in rules), rules
    a.revoke_security_group_ingress(GroupId=db, SecurityGroupRuleIds=[cidr_rule["SecurityGroupRuleId"]])
    refused(a, cfg, "InvalidSecurityGroupRuleId.NotFound", a.revoke_security_group_ingress,
            GroupId=db, SecurityGroupRuleIds=[cidr_rule["SecurityGroupRuleId"]])
    refused(a, cfg, "InvalidPermission.NotFound", a.revoke_security_group_ingress, GroupId=db,
            IpPermissions=[{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
                            "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    left = a.describe_security_groups(GroupIds=[db])["SecurityGroups"][0]["IpPermissions"]
    assert [g["GroupId"] for p in left for g in p["UserIdGroupPairs"]] == [default], left
    assert all(not p["IpRanges"] for p in left), left
    # The spec holds the group as cove writes it.
    groups_in_spec = [g["name"] for v in spec_of(cfg)["vpcs"] for g in v.get("security_groups", [])]
    assert "db" in groups_in_spec, groups_in_spec
    # default cannot go; a group another group's rule names cannot go.
    refused(a, cfg, "CannotDelete", a.delete_security_group, GroupId=default)
    a.authorize_security_group_ingress(GroupId=default, IpPermissions=[{
        "IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": db}]}])
    refused(a, cfg, "DependencyViolation", a.delete_security_group, GroupId=db)
    refused(a, cfg, "DependencyViolation", a.delete_vpc, VpcId=vid)
    a.revoke_security_group_ingress(GroupId=default, IpPermissions=[{
        "IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": db}]}])
    # The other tenant sees none of it and cannot touch it.
    others = b.describe_security_groups()["SecurityGroups"]
    assert not any(g["GroupId"] in (db, default) for g in others), others
    code, _ = code_of(b.authorize_security_group_ingress, GroupId=db, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert code == "InvalidGroup.NotFound", code
    a.delete_security_group(GroupId=db)
    refused(a, cfg, "InvalidGroup.NotFound", a.delete_security_group, GroupId=db)
    step("security groups", group=db, rules=len(rules))


def main(path):
    cfg = json.load(open(path))
    a = client(cfg, cfg["key"], cfg["secret"])
    b = client(cfg, cfg["other_key"], cfg["other_secret"])

    zones = [z["ZoneName"] for z in a.describe_availability_zones()["AvailabilityZones"]]
    assert zones[:2] == ["us-east-1a", "us-east-1b"], zones
    step("zones", zones=zones)

    vpc = a.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]
    vid = vpc["VpcId"]
    assert vid.startswith("vpc-") and vpc["CidrBlock"] == "10.10.0.0/16", vpc
    got = a.describe_vpcs(VpcIds=[vid])["Vpcs"]
    assert [v["CidrBlock"] for v in got] == ["10.10.0.0/16"], got
    assert got[0]["OwnerId"] == cfg["account"], got
    by_filter = a.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.10.0.0/16"]}])["Vpcs"]
    assert [v["VpcId"] for v in by_filter] == [vid], by_filter
    assert "10.10.0.0/16" in json.dumps(spec_of(cfg)), "the VPC is not in the tenant's spec"
    assert vid in json.dumps(api(cfg, "/v1/topology")), "cove's topology does not show the VPC"
    attr = lambda name: a.describe_vpc_attribute(VpcId=vid, Attribute=name)
    assert attr("enableDnsSupport")["EnableDnsSupport"]["Value"] is True
    a.modify_vpc_attribute(VpcId=vid, EnableDnsHostnames={"Value": True})
    assert attr("enableDnsHostnames")["EnableDnsHostnames"]["Value"] is True
    a.modify_vpc_attribute(VpcId=vid, EnableDnsHostnames={"Value": False})
    a.modify_vpc_attribute(VpcId=vid, EnableDnsSupport={"Value": False})
    assert attr("enableDnsSupport")["EnableDnsSupport"]["Value"] is False
    refused(a, cfg, "InvalidParameterCombination", a.modify_vpc_attribute, VpcId=vid,
            EnableDnsHostnames={"Value": True})
    a.modify_vpc_attribute(VpcId=vid, EnableDnsSupport={"Value": True})
    assoc = a.associate_vpc_cidr_block(VpcId=vid, CidrBlock="10.12.0.0/16")[
        "CidrBlockAssociation"]["AssociationId"]
    blocks = a.describe_vpcs(VpcIds=[vid])["Vpcs"][0]["CidrBlockAssociationSet"]
    assert sorted(c["CidrBlock"] for c in blocks) == ["10.10.0.0/16", "10.12.0.0/16"], blocks
    assert assoc in [c["AssociationId"] for c in blocks], blocks
    primary = [c["AssociationId"] for c in blocks if c["CidrBlock"] == "10.10.0.0/16"][0]
    refused(a, cfg, "InvalidVpc.Range", a.associate_vpc_cidr_block, VpcId=vid,
            CidrBlock="10.10.0.0/16")
    refused(a, cfg, "OperationNotPermitted", a.disassociate_vpc_cidr_block, AssociationId=primary)
    refused(a, cfg, "InvalidVpcCidrBlockAssociationID.NotFound", a.disassociate_vpc_cidr_block,
            AssociationId="vpc-cidr-assoc-00000000000000000")
    a.disassociate_vpc_cidr_block(AssociationId=assoc)
    assert [c["CidrBlock"] for c in a.describe_vpcs(VpcIds=[vid])["Vpcs"][0][
        "CidrBlockAssociationSet"]] == ["10.10.0.0/16"]
    step("vpc", id=vid)

    sub = a.create_subnet(VpcId=vid, CidrBlock="10.10.1.0/24", AvailabilityZone="us-east-1b")["Subnet"]
    sid = sub["SubnetId"]
    subs = a.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vid]}])["Subnets"]
    assert [(s["SubnetId"], s["CidrBlock"], s["AvailabilityZone"]) for s in subs] == [
        (sid, "10.10.1.0/24", "us-east-1b")], subs
    assert subs[0]["AvailableIpAddressCount"] == 251, subs
    tables = a.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"]
    assert len(tables) == 1 and any(x.get("Main") for x in tables[0]["Associations"]), tables
    assert [(r["DestinationCidrBlock"], r["GatewayId"]) for r in tables[0]["Routes"]] == [
        ("10.10.0.0/16", "local")], tables
    assert a.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vid]}])[
        "InternetGateways"] == []
    step("subnet", id=sid)

    tags(a, b, cfg, vid, sid)

    # Refusals: EC2's codes, nothing stored.
    refused(a, cfg, "InvalidVpc.Range", a.create_vpc, CidrBlock="10.0.0.0/8")
    refused(a, cfg, "InvalidParameterValue", a.create_vpc, CidrBlock="not-a-cidr")
    refused(a, cfg, "MissingParameter", a.create_subnet, VpcId=vid, CidrBlock="")
    refused(a, cfg, "InvalidSubnet.Range", a.create_subnet, VpcId=vid, CidrBlock="10.99.0.0/24")
    refused(a, cfg, "InvalidSubnet.Conflict", a.create_subnet, VpcId=vid, CidrBlock="10.10.1.0/25")
    refused(a, cfg, "InvalidVpcID.NotFound", a.create_subnet, VpcId="vpc-00000000000000000",
            CidrBlock="10.10.2.0/24")
    refused(a, cfg, "InvalidParameterValue", a.create_subnet, VpcId=vid, CidrBlock="10.10.2.0/24",
            AvailabilityZone="eu-west-1a")
    refused(a, cfg, "DependencyViolation", a.delete_vpc, VpcId=vid)
    refused(a, cfg, "InvalidVpcID.NotFound", a.describe_vpcs, VpcIds=["vpc-00000000000000000"])
    refused(a, cfg, "InvalidParameterValue", a.describe_vpcs,
            Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    refused(a, cfg, "DryRunOperation", a.create_vpc, CidrBlock="10.20.0.0/16", DryRun=True)
    refused(a, cfg, "InvalidVpc.Range", a.create_vpc, CidrBlock="10.0.0.0/8", DryRun=True)
    refused(a, cfg, "DryRunOperation", a.describe_vpcs, DryRun=True)
    step("refusals")

    groups(a, b, cfg, vid)
    ec2_boto3_routes.routes(a, b, cfg, sys.modules[__name__])
    ec2_boto3_routes.acls(a, b, cfg, sys.modules[__name__])
    ec2_boto3_addresses.addresses(a, b, cfg, sys.modules[__name__])

    # Pagination: 6 VPCs, pages of 5.
    made = [a.create_vpc(CidrBlock=f"10.{30 + i}.0.0/16")["Vpc"]["VpcId"] for i in range(5)]
    first = a.describe_vpcs(MaxResults=5)
    assert len(first["Vpcs"]) == 5 and first.get("NextToken"), first
    second = a.describe_vpcs(MaxResults=5, NextToken=first["NextToken"])
    assert len(second["Vpcs"]) == 1 and not second.get("NextToken"), second
    seen = {v["VpcId"] for v in first["Vpcs"] + second["Vpcs"]}
    assert seen == set(made + [vid]), seen
    refused(a, cfg, "InvalidPaginationToken", a.describe_vpcs, MaxResults=5, NextToken="nope")
    paginator = a.get_paginator("describe_vpcs")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 5}))
    assert sum(len(p["Vpcs"]) for p in pages) == 6, pages
    step("pages", pages=len(pages))

    # The other tenant sees none of it and touches none of it.
    assert b.describe_vpcs()["Vpcs"] == [], b.describe_vpcs()
    assert b.describe_subnets()["Subnets"] == []
    code, _ = code_of(b.delete_vpc, VpcId=vid)
    assert code == "InvalidVpcID.NotFound", code
    code, _ = code_of(b.delete_subnet, SubnetId=sid)
    assert code == "InvalidSubnetID.NotFound", code
    step("isolated")

    # Deleting in the right order works.
    a.delete_subnet(SubnetId=sid)
    a.delete_vpc(VpcId=vid)
    for m in made:
        a.delete_vpc(VpcId=m)
    assert a.describe_vpcs()["Vpcs"] == [], a.describe_vpcs()
    assert "10.10.0.0/16" not in json.dumps(spec_of(cfg))
    assert vid not in json.dumps(api(cfg, "/v1/topology"))
    step("deleted")

    # Signatures: an unknown key, a wrong secret, a clock 20 minutes off.
    code, _ = code_of(client(cfg, "AKIANOBODYNOBODYNOB0", cfg["secret"]).describe_vpcs)
    assert code == "AuthFailure", code
    code, _ = code_of(client(cfg, cfg["key"], "x" * 40).describe_vpcs)
    assert code == "SignatureDoesNotMatch", code
    real = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: real() - datetime.timedelta(minutes=20)
    try:
        code, _ = code_of(client(cfg, cfg["key"], cfg["secret"]).describe_vpcs)
    finally:
        botocore.auth.get_current_datetime = real
    assert code == "RequestExpired", code
    step("signatures")

    # Last: it gives both tenants networks.
    ec2_boto3_routes.peerings(a, b, cfg, sys.modules[__name__])
    ec2_boto3_routes.standalone_peerings(a, b, cfg, sys.modules[__name__])
    ec2_boto3_tags.tags(a, b, cfg, sys.modules[__name__])


if __name__ == "__main__":
    main(sys.argv[1])
