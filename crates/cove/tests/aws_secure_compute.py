"""The Secure Compute picture built with the AWS clients (issue 13), against a real
`cove serve`: a cross-account peering requested with the app tenant's key and
accepted with the database tenant's, a route table and a network ACL of the app's,
a function created with `aws lambda create-function` in the app network's private
subnets, whose packets reach the database in the peered network only after the
database's security group lets them in (EC2's AuthorizeSecurityGroupIngress); and a
VPC of the app's made with EC2 alone, whose function reaches the database's Elastic
IP from its NAT gateway's Elastic IP.

    python3 aws_secure_compute.py CONFIG.json
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

HANDLER = '''
import socket

def handler(event, context):
    try:
        with socket.create_connection((event["host"], event["port"]), timeout=2) as s:
            return {"ok": True, "banner": s.recv(200).decode().strip()}
    except OSError as e:
        return {"ok": False, "error": repr(e)}
'''


def _code(call, **kw):
    try:
        call(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError(f"{call.__name__}({kw}) was not refused")


def step(name, **facts):
    print(json.dumps({"step": name, **facts}), flush=True)


def clients(cfg, who):
    s = boto3.session.Session(aws_access_key_id=cfg[who + "_key"],
                              aws_secret_access_key=cfg[who + "_secret"], region_name="us-east-1")
    conf = Config(retries={"max_attempts": 1})
    return (s.client("ec2", endpoint_url=cfg["endpoint"], config=conf),
            s.client("lambda", endpoint_url=cfg["endpoint"], config=conf))


def main(path):
    cfg = json.load(open(path))
    ec2, lam = clients(cfg, "app")
    dec2, _ = clients(cfg, "db")
    web, db = cfg["web_vpc"], cfg["db_vpc"]

    # A cross-account peering: requested by the app's account, accepted by the database's.
    pcx = ec2.create_vpc_peering_connection(VpcId=web, PeerVpcId=db, PeerOwnerId=cfg["db_account"])[
        "VpcPeeringConnection"]["VpcPeeringConnectionId"]
    dec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    deadline = time.time() + 120
    while True:
        got = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
        if got["VpcPeeringConnections"][0]["Status"]["Code"] == "active":
            break
        assert time.time() < deadline, got
        time.sleep(0.5)
    step("peered", id=pcx)

    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [web]}])["Subnets"]
    private = [s["SubnetId"] for s in subnets if int(s["CidrBlock"].split(".")[2]) >= 128]
    assert len(private) == 2, subnets
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [web]}])["RouteTables"]
    via = [t["RouteTableId"] for t in tables for r in t["Routes"]
           if r.get("VpcPeeringConnectionId") == pcx and r["DestinationCidrBlock"] == "10.74.0.0/16"]
    assert len(via) == 2, tables
    # A table of the app's own, with a blackhole-free route to the database's block
    # over the peering, made and removed again: the network's tables keep routing.
    own = ec2.create_route_table(VpcId=web)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=own, DestinationCidrBlock="10.74.0.0/16",
                     VpcPeeringConnectionId=pcx)
    ec2.delete_route(RouteTableId=own, DestinationCidrBlock="10.74.0.0/16")
    ec2.delete_route_table(RouteTableId=own)
    step("tables", routed=via)

    # A network ACL on the app's private subnets: the function's port to the
    # database is allowed, and the answers.
    acl = ec2.create_network_acl(VpcId=web)["NetworkAcl"]["NetworkAclId"]
    for egress in (True, False):
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="-1",
                                     RuleAction="allow", Egress=egress, CidrBlock="0.0.0.0/0")
    assocs = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [web]},
                                                {"Name": "default", "Values": ["true"]}])
    for a in assocs["NetworkAcls"][0]["Associations"]:
        if a["SubnetId"] in private:
            ec2.replace_network_acl_association(AssociationId=a["NetworkAclAssociationId"],
                                                NetworkAclId=acl)
    got = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]
    assert sorted(a["SubnetId"] for a in got["Associations"]) == sorted(private), got
    step("acl", id=acl)

    # A gateway endpoint for S3 on the private tables: its prefix list made with
    # EC2's API, routed by the tables.
    code_of = lambda call, **kw: _code(call, **kw)
    assert code_of(ec2.create_vpc_endpoint, VpcId=web, VpcEndpointType="Gateway",
                   ServiceName="com.amazonaws.us-east-1.s3",
                   RouteTableIds=via) == "InvalidServiceName"
    pl = ec2.create_managed_prefix_list(
        PrefixListName="com.amazonaws.us-east-1.s3", AddressFamily="IPv4", MaxEntries=5,
        Entries=[{"Cidr": "52.216.0.0/15"}, {"Cidr": "3.5.0.0/19"}])["PrefixList"]["PrefixListId"]
    vpce = ec2.create_vpc_endpoint(VpcId=web, VpcEndpointType="Gateway",
                                   ServiceName="com.amazonaws.us-east-1.s3",
                                   RouteTableIds=via)["VpcEndpoint"]["VpcEndpointId"]
    got = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
    assert got["VpcEndpointType"] == "Gateway" and sorted(got["RouteTableIds"]) == sorted(via), got
    tables = ec2.describe_route_tables(RouteTableIds=via)["RouteTables"]
    assert all(any(r.get("DestinationPrefixListId") == pl and r.get("GatewayId") == vpce
                   for r in t["Routes"]) for t in tables), tables
    assert code_of(ec2.delete_managed_prefix_list, PrefixListId=pl) == "DependencyViolation"
    step("endpoint", id=vpce, prefix_list=pl)

    # The NAT pair and its static IPs, as EC2 shows them: NAT gateways and
    # Elastic IPs, the same addresses cove's API gave the network.
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [web]}])["NatGateways"]
    public = sorted(a["PublicIp"] for n in nats for a in n["NatGatewayAddresses"] if "PublicIp" in a)
    assert len(nats) == 2 and public == sorted(cfg["static_ips"]), (nats, cfg["static_ips"])
    eips = ec2.describe_addresses()["Addresses"]
    assert sorted(a["PublicIp"] for a in eips) == public, eips
    nat_enis = {a["NetworkInterfaceId"] for n in nats for a in n["NatGatewayAddresses"]}
    assert {a["NetworkInterfaceId"] for a in eips} == nat_enis, (eips, nats)
    managed = ec2.describe_network_interfaces(Filters=[
        {"Name": "interface-type", "Values": ["nat_gateway"]}])["NetworkInterfaces"]
    assert {e["NetworkInterfaceId"] for e in managed} == nat_enis, managed
    dbs = dec2.describe_network_interfaces(Filters=[
        {"Name": "private-ip-address", "Values": [cfg["db_ip"]]}])["NetworkInterfaces"]
    assert len(dbs) == 1 and dbs[0]["VpcId"] == db, dbs
    assert ec2.describe_network_interfaces(Filters=[
        {"Name": "private-ip-address", "Values": [cfg["db_ip"]]}])["NetworkInterfaces"] == []
    step("addresses", public=public)

    sg = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [web]}, {"Name": "group-name", "Values": ["default"]}])[
        "SecurityGroups"][0]["GroupId"]
    work = tempfile.mkdtemp(prefix="cove-aws-sc-")
    zpath = os.path.join(work, "reach.zip")
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("handler.py", HANDLER)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=cfg["app_key"],
               AWS_SECRET_ACCESS_KEY=cfg["app_secret"], AWS_DEFAULT_REGION="us-east-1")
    role = f"arn:aws:iam::{cfg['app_account']}:role/reach"
    out = subprocess.run(
        ["aws", "--endpoint-url", cfg["endpoint"], "lambda", "create-function",
         "--function-name", "reach", "--runtime", "python3.11", "--role", role,
         "--handler", "handler.handler", "--zip-file", "fileb://" + zpath, "--timeout", "10",
         "--vpc-config", f"SubnetIds={','.join(private)},SecurityGroupIds={sg}"],
        env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    deadline = time.time() + 180
    while lam.get_function_configuration(FunctionName="reach")["State"] != "Active":
        assert time.time() < deadline, lam.get_function_configuration(FunctionName="reach")
        time.sleep(0.5)
    shared = ec2.describe_network_interfaces(Filters=[
        {"Name": "interface-type", "Values": ["lambda"]}, {"Name": "vpc-id", "Values": [web]}])
    assert shared["NetworkInterfaces"], shared
    assert all(e["SubnetId"] in private and e["RequesterManaged"]
               for e in shared["NetworkInterfaces"]), shared
    step("created")

    def reach():
        r = lam.invoke(FunctionName="reach",
                       Payload=json.dumps({"host": cfg["db_ip"], "port": 5432}))
        assert "FunctionError" not in r, r
        return json.loads(r["Payload"].read())

    # The database's default group lets in only its own members: no packet gets there.
    first = reach()
    assert first["ok"] is False, first
    step("blocked", error=first["error"])

    dsg = dec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [db]}, {"Name": "group-name", "Values": ["default"]}])[
        "SecurityGroups"][0]["GroupId"]
    dec2.authorize_security_group_ingress(GroupId=dsg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "IpRanges": [{"CidrIp": "10.73.0.0/16", "Description": "the app network"}]}])
    deadline = time.time() + 120
    while True:
        answer = reach()
        if answer["ok"]:
            break
        assert time.time() < deadline, answer
        time.sleep(1)
    banner = answer["banner"]
    assert banner.startswith("cove-db 10.73."), banner
    step("allowed", banner=banner)

    edge(cfg, ec2, lam, dec2, dsg, zpath)

    # The database's account sees the peering but none of the app's things.
    assert dec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [web]}])[
        "RouteTables"] == []
    try:
        dec2.describe_network_acls(NetworkAclIds=[acl])
        raise AssertionError("the other account saw the ACL")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidNetworkAclID.NotFound", e.response
    lam.delete_function(FunctionName="reach")
    step("isolated")


def connects(lam, function, host):
    """The function's answer once it connects to `host`:5432 (within 2 minutes:
    the kernel gets what was just made as soon as the reconciler applies it)."""
    deadline = time.time() + 120
    while True:
        r = lam.invoke(FunctionName=function, Payload=json.dumps({"host": host, "port": 5432}))
        assert "FunctionError" not in r, r
        answer = json.loads(r["Payload"].read())
        if answer["ok"]:
            return answer
        assert time.time() < deadline, answer
        time.sleep(1)


def edge(cfg, ec2, lam, dec2, dsg, zpath):
    """A VPC of the app's own, all made with EC2's API: a public subnet behind an
    internet gateway holding a NAT gateway with an Elastic IP, a private subnet
    routed through it, a function there. The database's account gives an interface
    of its network's public subnet an Elastic IP and lets the NAT gateway's address
    in: the function's connection arrives from the NAT gateway's Elastic IP, at
    the database's Elastic IP, over real packets."""
    vid = ec2.create_vpc(CidrBlock="10.75.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vid, CidrBlock="10.75.0.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vid, CidrBlock="10.75.1.0/24",
                                AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vid)
    out = ec2.create_route_table(VpcId=vid)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=out, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=out, SubnetId=public)
    nat_ip = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=nat_ip["AllocationId"])[
        "NatGateway"]["NatGatewayId"]
    inside = ec2.create_route_table(VpcId=vid)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=inside, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.associate_route_table(RouteTableId=inside, SubnetId=private)
    sg = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vid]}, {"Name": "group-name", "Values": ["default"]}])[
        "SecurityGroups"][0]["GroupId"]

    # The database's side: an Elastic IP on its public interface, and its group
    # lets the NAT gateway's address in.
    db_ip = dec2.allocate_address(Domain="vpc")
    eni = dec2.describe_network_interfaces(Filters=[
        {"Name": "private-ip-address", "Values": [cfg["edge_db_ip"]]}])["NetworkInterfaces"]
    assert len(eni) == 1, eni
    dec2.associate_address(AllocationId=db_ip["AllocationId"],
                           NetworkInterfaceId=eni[0]["NetworkInterfaceId"])
    dec2.authorize_security_group_ingress(GroupId=dsg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "IpRanges": [{"CidrIp": nat_ip["PublicIp"] + "/32"}]}])
    step("edge built", nat=nat, nat_ip=nat_ip["PublicIp"], db_ip=db_ip["PublicIp"])

    with open(zpath, "rb") as f:
        lam.create_function(FunctionName="egress", Runtime="python3.11",
                            Role=f"arn:aws:iam::{cfg['app_account']}:role/egress",
                            Handler="handler.handler", Code={"ZipFile": f.read()}, Timeout=10,
                            VpcConfig={"SubnetIds": [private], "SecurityGroupIds": [sg]})
    deadline = time.time() + 180
    while lam.get_function_configuration(FunctionName="egress")["State"] != "Active":
        assert time.time() < deadline, lam.get_function_configuration(FunctionName="egress")
        time.sleep(0.5)
    answer = connects(lam, "egress", db_ip["PublicIp"])
    assert answer["banner"] == "cove-db " + nat_ip["PublicIp"], answer
    step("through the nat", banner=answer["banner"])

    # The same VPC peered with the database's network (a VPC made with EC2 on
    # one side): the owner routes the network's block over the connection — more
    # specific than the NAT gateway's default route — and the database's group
    # lets the VPC's block in; the connection arrives from the function's own
    # private address, over real packets.
    pcx = ec2.create_vpc_peering_connection(VpcId=vid, PeerVpcId=cfg["db_vpc"],
                                            PeerOwnerId=cfg["db_account"])[
        "VpcPeeringConnection"]["VpcPeeringConnectionId"]
    dec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    ec2.create_route(RouteTableId=inside, DestinationCidrBlock="10.74.0.0/16",
                     VpcPeeringConnectionId=pcx)
    dec2.authorize_security_group_ingress(GroupId=dsg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "IpRanges": [{"CidrIp": "10.75.0.0/16"}]}])
    answer = connects(lam, "egress", cfg["db_ip"])
    assert answer["banner"].startswith("cove-db 10.75.1."), answer
    step("over the vpc's peering", id=pcx, banner=answer["banner"])
    lam.delete_function(FunctionName="egress")


if __name__ == "__main__":
    main(sys.argv[1])
