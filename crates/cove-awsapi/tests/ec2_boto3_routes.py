"""Route tables and internet gateways through boto3 (imported by ec2_boto3.py):
create, attach, routes, associations (the main one too), EC2's refusals (each
checked to have stored nothing), the deletions in the wrong order, and another
tenant that sees and touches none of it."""

import json
import urllib.request


def routes(a, b, cfg, h):
    """`h`: ec2_boto3's helpers (refused, code_of, spec_of, step)."""
    vid = a.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    s1 = a.create_subnet(VpcId=vid, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    s2 = a.create_subnet(VpcId=vid, CidrBlock="10.40.2.0/24")["Subnet"]["SubnetId"]

    igw = a.create_internet_gateway(TagSpecifications=[
        {"ResourceType": "internet-gateway", "Tags": [{"Key": "Name", "Value": "gw"}]}])["InternetGateway"]
    gid = igw["InternetGatewayId"]
    assert gid.startswith("igw-") and igw["Attachments"] == [], igw
    got = a.describe_internet_gateways(InternetGatewayIds=[gid])["InternetGateways"]
    assert got[0]["Attachments"] == [] and got[0]["Tags"] == [{"Key": "Name", "Value": "gw"}], got
    a.attach_internet_gateway(InternetGatewayId=gid, VpcId=vid)
    got = a.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vid]}])
    assert [(g["InternetGatewayId"], g["Attachments"][0]["State"]) for g in got["InternetGateways"]] == [
        (gid, "available")], got
    h.refused(a, cfg, "Resource.AlreadyAssociated", a.attach_internet_gateway,
              InternetGatewayId=gid, VpcId=vid)
    spare = a.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    h.refused(a, cfg, "Resource.AlreadyAssociated", a.attach_internet_gateway,
              InternetGatewayId=spare, VpcId=vid)
    h.refused(a, cfg, "InvalidInternetGatewayID.NotFound", a.attach_internet_gateway,
              InternetGatewayId="igw-00000000000000000", VpcId=vid)

    rt = a.create_route_table(VpcId=vid, TagSpecifications=[
        {"ResourceType": "route-table", "Tags": [{"Key": "Name", "Value": "public"}]}])["RouteTable"]
    rid = rt["RouteTableId"]
    assert [(r["DestinationCidrBlock"], r["GatewayId"]) for r in rt["Routes"]] == [
        ("10.40.0.0/16", "local")], rt
    # ClientToken: the same call again answers the first table; other parameters
    # with the token are refused and store nothing.
    count = lambda: len(a.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"])
    before = count()
    once = a.create_route_table(VpcId=vid, ClientToken="cove-token-1")["RouteTable"]["RouteTableId"]
    again = a.create_route_table(VpcId=vid, ClientToken="cove-token-1")["RouteTable"]["RouteTableId"]
    assert once == again and count() == before + 1, (once, again, count(), before)
    h.refused(a, cfg, "IdempotentParameterMismatch", a.create_route_table, VpcId=vid,
              ClientToken="cove-token-1", TagSpecifications=[
                  {"ResourceType": "route-table", "Tags": [{"Key": "k", "Value": "v"}]}])
    code, _ = h.code_of(b.create_route_table, VpcId=vid, ClientToken="cove-token-1")
    assert code == "InvalidVpcID.NotFound", code  # tokens are per account
    a.delete_route_table(RouteTableId=once)
    a.create_route(RouteTableId=rid, DestinationCidrBlock="0.0.0.0/0", GatewayId=gid)
    table = a.describe_route_tables(RouteTableIds=[rid])["RouteTables"][0]
    assert [(r["DestinationCidrBlock"], r["GatewayId"], r["State"]) for r in table["Routes"]] == [
        ("10.40.0.0/16", "local", "active"), ("0.0.0.0/0", gid, "active")], table
    assert table["Tags"] == [{"Key": "Name", "Value": "public"}], table
    spec = json.dumps(h.spec_of(cfg))
    assert "0.0.0.0/0" in spec and "internet_gateway" in spec, spec
    h.refused(a, cfg, "RouteAlreadyExists", a.create_route, RouteTableId=rid,
              DestinationCidrBlock="0.0.0.0/0", GatewayId=gid)
    h.refused(a, cfg, "InvalidParameterValue", a.create_route, RouteTableId=rid,
              DestinationCidrBlock="10.40.0.0/16", GatewayId=gid)
    h.refused(a, cfg, "InvalidNatGatewayID.NotFound", a.create_route, RouteTableId=rid,
              DestinationCidrBlock="10.50.0.0/16", NatGatewayId="nat-00000000000000000")
    h.refused(a, cfg, "InvalidGatewayID.NotFound", a.create_route, RouteTableId=rid,
              DestinationCidrBlock="10.50.0.0/16", GatewayId=spare)
    h.refused(a, cfg, "MissingParameter", a.create_route, RouteTableId=rid,
              DestinationCidrBlock="10.50.0.0/16")
    h.refused(a, cfg, "InvalidParameterValue", a.create_route, RouteTableId=rid,
              DestinationCidrBlock="10.50.0.0/99", GatewayId=gid)
    h.refused(a, cfg, "InvalidRoute.NotFound", a.replace_route, RouteTableId=rid,
              DestinationCidrBlock="10.99.0.0/16", GatewayId=gid)
    h.refused(a, cfg, "InvalidRoute.NotFound", a.delete_route, RouteTableId=rid,
              DestinationCidrBlock="10.99.0.0/16")
    h.refused(a, cfg, "InvalidRouteTableID.NotFound", a.create_route,
              RouteTableId="rtb-00000000000000000", DestinationCidrBlock="10.50.0.0/16",
              GatewayId=gid)
    a.create_tags(Resources=[rid, gid], Tags=[{"Key": "env", "Value": "prod"}])
    listed = a.describe_tags(Filters=[{"Name": "resource-id", "Values": [rid, gid]},
                                      {"Name": "key", "Values": ["env"]}])["Tags"]
    assert sorted((t["ResourceId"], t["ResourceType"]) for t in listed) == sorted(
        [(rid, "route-table"), (gid, "internet-gateway")]), listed
    by_tag = a.describe_route_tables(Filters=[{"Name": "tag:env", "Values": ["prod"]}])
    assert [t["RouteTableId"] for t in by_tag["RouteTables"]] == [rid], by_tag
    h.step("routes", table=rid)

    assoc = a.associate_route_table(RouteTableId=rid, SubnetId=s1)["AssociationId"]
    assert assoc.startswith("rtbassoc-"), assoc
    table = a.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [s1]}])
    assert [(t["RouteTableId"], [x["RouteTableAssociationId"] for x in t["Associations"]])
            for t in table["RouteTables"]] == [(rid, [assoc])], table
    h.refused(a, cfg, "Resource.AlreadyAssociated", a.associate_route_table,
              RouteTableId=rid, SubnetId=s1)
    main = a.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]},
                                            {"Name": "association.main", "Values": ["true"]}])
    main_id = main["RouteTables"][0]["RouteTableId"]
    main_assoc = [x for x in main["RouteTables"][0]["Associations"] if x["Main"]][0][
        "RouteTableAssociationId"]
    h.refused(a, cfg, "DependencyViolation", a.delete_route_table, RouteTableId=rid)
    h.refused(a, cfg, "DependencyViolation", a.delete_route_table, RouteTableId=main_id)
    h.refused(a, cfg, "DependencyViolation", a.detach_internet_gateway,
              InternetGatewayId=gid, VpcId=vid)
    h.refused(a, cfg, "DependencyViolation", a.delete_internet_gateway, InternetGatewayId=gid)
    h.refused(a, cfg, "InvalidParameterValue", a.disassociate_route_table, AssociationId=main_assoc)
    h.refused(a, cfg, "InvalidAssociationID.NotFound", a.disassociate_route_table,
              AssociationId="rtbassoc-00000000000000000")

    # The main association moves to the new table, and back.
    moved = a.replace_route_table_association(AssociationId=main_assoc, RouteTableId=rid)
    now_main = a.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]},
                                                {"Name": "association.main", "Values": ["true"]}])
    assert [t["RouteTableId"] for t in now_main["RouteTables"]] == [rid], now_main
    a.replace_route_table_association(AssociationId=moved["NewAssociationId"], RouteTableId=main_id)
    back = a.describe_route_tables(Filters=[{"Name": "association.main", "Values": ["true"]},
                                            {"Name": "vpc-id", "Values": [vid]}])
    assert [t["RouteTableId"] for t in back["RouteTables"]] == [main_id], back
    h.step("associations", main=main_id)

    # The other tenant sees none of it and touches none of it.
    assert b.describe_internet_gateways()["InternetGateways"] == []
    assert b.describe_route_tables()["RouteTables"] == []
    for call, kw, want in [
        (b.delete_route_table, {"RouteTableId": rid}, "InvalidRouteTableID.NotFound"),
        (b.delete_internet_gateway, {"InternetGatewayId": spare}, "InvalidInternetGatewayID.NotFound"),
        (b.create_route, {"RouteTableId": rid, "DestinationCidrBlock": "10.60.0.0/16",
                          "GatewayId": gid}, "InvalidRouteTableID.NotFound"),
        (b.disassociate_route_table, {"AssociationId": assoc}, "InvalidAssociationID.NotFound"),
    ]:
        code, _ = h.code_of(call, **kw)
        assert code == want, (call.__name__, code)

    # In the right order everything goes.
    a.disassociate_route_table(AssociationId=assoc)
    a.delete_route(RouteTableId=rid, DestinationCidrBlock="0.0.0.0/0")
    a.detach_internet_gateway(InternetGatewayId=gid, VpcId=vid)
    h.refused(a, cfg, "Gateway.NotAttached", a.detach_internet_gateway,
              InternetGatewayId=gid, VpcId=vid)
    a.delete_internet_gateway(InternetGatewayId=gid)
    a.delete_internet_gateway(InternetGatewayId=spare)
    a.delete_route_table(RouteTableId=rid)
    a.delete_subnet(SubnetId=s1)
    a.delete_subnet(SubnetId=s2)
    a.delete_vpc(VpcId=vid)
    assert a.describe_internet_gateways()["InternetGateways"] == []
    assert "10.40.0.0/16" not in json.dumps(h.spec_of(cfg))
    h.step("gateways deleted")


def api_call(cfg, method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(cfg["api"] + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return json.loads(text) if text else None


def acls(a, b, cfg, h):
    """Network ACLs: the default's entries, a new ACL, entries, associations; the
    analyzer (cove's API) sees the ACL EC2 made block a flow."""
    vid = a.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    s1 = a.create_subnet(VpcId=vid, CidrBlock="10.41.1.0/24")["Subnet"]["SubnetId"]
    s2 = a.create_subnet(VpcId=vid, CidrBlock="10.41.2.0/24")["Subnet"]["SubnetId"]
    default = a.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vid]},
                                               {"Name": "default", "Values": ["true"]}])
    d = default["NetworkAcls"][0]
    assert sorted((e["RuleNumber"], e["RuleAction"], e["Egress"]) for e in d["Entries"]) == [
        (100, "allow", False), (100, "allow", True), (32767, "deny", False),
        (32767, "deny", True)], d
    assert sorted(x["SubnetId"] for x in d["Associations"]) == sorted([s1, s2]), d

    acl = a.create_network_acl(VpcId=vid, TagSpecifications=[
        {"ResourceType": "network-acl", "Tags": [{"Key": "Name", "Value": "db"}]}])["NetworkAcl"]
    aid = acl["NetworkAclId"]
    assert aid.startswith("acl-") and [e["RuleNumber"] for e in acl["Entries"]] == [32767, 32767], acl
    a.create_network_acl_entry(NetworkAclId=aid, RuleNumber=100, Protocol="6", RuleAction="allow",
                               Egress=False, CidrBlock="10.41.0.0/16",
                               PortRange={"From": 5432, "To": 5432})
    a.create_network_acl_entry(NetworkAclId=aid, RuleNumber=100, Protocol="-1", RuleAction="allow",
                               Egress=True, CidrBlock="0.0.0.0/0")
    h.refused(a, cfg, "NetworkAclEntryAlreadyExists", a.create_network_acl_entry, NetworkAclId=aid,
              RuleNumber=100, Protocol="-1", RuleAction="allow", Egress=True, CidrBlock="0.0.0.0/0")
    h.refused(a, cfg, "InvalidParameterValue", a.create_network_acl_entry, NetworkAclId=aid,
              RuleNumber=40000, Protocol="-1", RuleAction="allow", Egress=True, CidrBlock="0.0.0.0/0")
    h.refused(a, cfg, "InvalidParameterValue", a.create_network_acl_entry, NetworkAclId=aid,
              RuleNumber=110, Protocol="-1", RuleAction="maybe", Egress=True, CidrBlock="0.0.0.0/0")
    h.refused(a, cfg, "InvalidNetworkAclEntry.NotFound", a.replace_network_acl_entry, NetworkAclId=aid,
              RuleNumber=120, Protocol="-1", RuleAction="deny", Egress=False, CidrBlock="0.0.0.0/0")
    h.refused(a, cfg, "InvalidNetworkAclEntry.NotFound", a.delete_network_acl_entry, NetworkAclId=aid,
              RuleNumber=120, Egress=False)
    h.refused(a, cfg, "InvalidNetworkAclID.NotFound", a.delete_network_acl,
              NetworkAclId="acl-00000000000000000")
    h.refused(a, cfg, "InvalidParameterValue", a.delete_network_acl, NetworkAclId=d["NetworkAclId"])
    got = a.describe_network_acls(NetworkAclIds=[aid])["NetworkAcls"][0]
    ingress = [(e["RuleNumber"], e["Protocol"], e.get("PortRange")) for e in got["Entries"]
               if not e["Egress"]]
    assert ingress == [(100, "6", {"From": 5432, "To": 5432}), (32767, "-1", None)], got
    assert got["Tags"] == [{"Key": "Name", "Value": "db"}], got
    a.create_tags(Resources=[aid, d["NetworkAclId"]], Tags=[{"Key": "tier", "Value": "data"}])
    tagged = a.describe_network_acls(Filters=[{"Name": "tag:tier", "Values": ["data"]}])
    assert sorted(n["NetworkAclId"] for n in tagged["NetworkAcls"]) == sorted(
        [aid, d["NetworkAclId"]]), tagged

    # s2 moves to the new ACL; the analyzer sees it.
    old = [x for x in d["Associations"] if x["SubnetId"] == s2][0]["NetworkAclAssociationId"]
    new = a.replace_network_acl_association(AssociationId=old, NetworkAclId=aid)["NewAssociationId"]
    got = a.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [s2]}])
    assert [n["NetworkAclId"] for n in got["NetworkAcls"]] == [aid], got
    h.refused(a, cfg, "DependencyViolation", a.delete_network_acl, NetworkAclId=aid)
    enis = [a.create_network_interface(SubnetId=sid, PrivateIpAddress=ip, Description=d)[
        "NetworkInterface"]["NetworkInterfaceId"]
            for sid, ip, d in [(s1, "10.41.1.10", "app"), (s2, "10.41.2.10", "db")]]
    h.refused(a, cfg, "InvalidIPAddress.InUse", a.create_network_interface, SubnetId=s1,
              PrivateIpAddress="10.41.1.10")
    h.refused(a, cfg, "InvalidParameterValue", a.create_network_interface, SubnetId=s1,
              PrivateIpAddress="10.41.2.99")
    listed = a.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vid]}])
    assert sorted(e["NetworkInterfaceId"] for e in listed["NetworkInterfaces"]) == sorted(enis), listed
    dsg = a.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vid]},
                                              {"Name": "group-name", "Values": ["default"]}])[
        "SecurityGroups"][0]["GroupId"]
    a.authorize_security_group_ingress(GroupId=dsg, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.41.0.0/16"}]}])

    def reach(port):
        q = f"/v1/reachability?from={enis[0]}&to={enis[1]}&protocol=tcp&port={port}"
        return h.api(cfg, q)

    assert reach(5432)["reachable"] is True, reach(5432)
    blocked = reach(22)
    assert blocked["reachable"] is False and "acl" in json.dumps(blocked).lower(), blocked
    a.replace_network_acl_entry(NetworkAclId=aid, RuleNumber=100, Protocol="6", RuleAction="deny",
                                Egress=False, CidrBlock="10.41.0.0/16",
                                PortRange={"From": 5432, "To": 5432})
    assert reach(5432)["reachable"] is False, reach(5432)
    h.step("acls", acl=aid)

    # Flow logs of the VPC and of one interface; an unknown resource is answered
    # as unsuccessful; the records' file is cove's.
    made = a.create_flow_logs(ResourceIds=[vid, "vpc-00000000000000000"], ResourceType="VPC",
                              TrafficType="REJECT", MaxAggregationInterval=60,
                              LogDestinationType="cloud-watch-logs", LogGroupName="ignored")
    assert len(made["FlowLogIds"]) == 1 and made["Unsuccessful"][0]["Error"]["Code"] == \
        "InvalidVpcID.NotFound", made
    eni_log = a.create_flow_logs(ResourceIds=[enis[1]], ResourceType="NetworkInterface",
                                 TrafficType="ALL")["FlowLogIds"][0]
    logs = a.describe_flow_logs()["FlowLogs"]
    assert sorted((f["ResourceId"], f["TrafficType"]) for f in logs) == sorted(
        [(vid, "REJECT"), (enis[1], "ALL")]), logs
    assert "flow_logs" in json.dumps(h.spec_of(cfg))
    h.refused(a, cfg, "InvalidParameterValue", a.create_flow_logs, ResourceIds=[vid],
              ResourceType="VPC", TrafficType="SOME")
    assert b.describe_flow_logs()["FlowLogs"] == []
    gone = a.delete_flow_logs(FlowLogIds=[made["FlowLogIds"][0], eni_log, "fl-00000000000000000"])
    assert [u["ResourceId"] for u in gone["Unsuccessful"]] == ["fl-00000000000000000"], gone
    assert a.describe_flow_logs()["FlowLogs"] == []
    h.step("flow logs")

    assert b.describe_network_acls()["NetworkAcls"] == [], b.describe_network_acls()
    code, _ = h.code_of(b.delete_network_acl, NetworkAclId=aid)
    assert code == "InvalidNetworkAclID.NotFound", code
    code, _ = h.code_of(b.replace_network_acl_association, AssociationId=new, NetworkAclId=aid)
    assert code == "InvalidNetworkAclID.NotFound", code

    # Back to the default, then everything goes.
    a.replace_network_acl_association(AssociationId=new, NetworkAclId=d["NetworkAclId"])
    a.delete_network_acl_entry(NetworkAclId=aid, RuleNumber=100, Egress=False)
    a.delete_network_acl(NetworkAclId=aid)
    for e in enis:
        a.delete_network_interface(NetworkInterfaceId=e)
    h.refused(a, cfg, "InvalidNetworkInterfaceID.NotFound", a.delete_network_interface,
              NetworkInterfaceId=enis[0])
    a.delete_subnet(SubnetId=s1)
    a.delete_subnet(SubnetId=s2)
    a.delete_vpc(VpcId=vid)
    assert vid not in [v["VpcId"] for v in a.describe_vpcs()["Vpcs"]]
    h.step("acls deleted")


def peerings(a, b, cfg, h):
    """A cross-account peering: requested with one tenant's key, accepted with the
    other's; its routes; refusals; reject; delete."""
    # Secure Compute networks to peer: alpha's `web`, bravo's `db` and `db2`.
    api_call(cfg, "PUT", "/v1/ip-pool", cfg["admin"], {"blocks": ["198.51.100.0/28"]})
    nets = [api_call(cfg, "POST", "/v1/connect/networks", token,
                 {"name": name, "cidr": cidr, "region": "us-east-1"})["vpc_id"]
            for token, name, cidr in [(cfg["token"], "web", "10.80.0.0/16"),
                                      (cfg["other_token"], "db", "10.81.0.0/16"),
                                      (cfg["other_token"], "db2", "10.82.0.0/16")]]
    mine, theirs, theirs2 = nets
    made = a.create_vpc_peering_connection(VpcId=mine, PeerVpcId=theirs,
                                           PeerOwnerId=cfg["other_account"])["VpcPeeringConnection"]
    pcx = made["VpcPeeringConnectionId"]
    assert pcx.startswith("pcx-") and made["Status"]["Code"] == "pending-acceptance", made
    assert made["RequesterVpcInfo"]["OwnerId"] == cfg["account"], made
    assert made["AccepterVpcInfo"] == {"OwnerId": cfg["other_account"], "VpcId": theirs,
                                       "Region": "us-east-1"}, made
    seen = b.describe_vpc_peering_connections(
        Filters=[{"Name": "status-code", "Values": ["pending-acceptance"]}])["VpcPeeringConnections"]
    assert [c["VpcPeeringConnectionId"] for c in seen] == [pcx], seen
    # A network's subnet takes tags (written again in the tenant's spec).
    subs = a.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [mine]}])["Subnets"]
    a.create_tags(Resources=[subs[0]["SubnetId"]], Tags=[{"Key": "Name", "Value": "app"}])
    again = a.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [mine]}])["Subnets"]
    assert len(again) == len(subs) == 4, again
    assert [s["Tags"] for s in again if s["SubnetId"] == subs[0]["SubnetId"]] == [
        [{"Key": "Name", "Value": "app"}]], again
    h.step("peering requested", id=pcx)

    def status(client):
        got = client.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
        return got["VpcPeeringConnections"][0]["Status"]["Code"]

    for call, kw, want in [
        (a.accept_vpc_peering_connection, {"VpcPeeringConnectionId": pcx}, "OperationNotPermitted"),
        (b.accept_vpc_peering_connection, {"VpcPeeringConnectionId": "pcx-00000000000000000"},
         "InvalidVpcPeeringConnectionID.NotFound"),
        (b.accept_vpc_peering_connection, {"VpcPeeringConnectionId": "nope"},
         "InvalidVpcPeeringConnectionId.Malformed"),
        (a.create_vpc_peering_connection, {"VpcId": mine, "PeerVpcId": theirs,
                                           "PeerOwnerId": cfg["other_account"]},
         "VpcPeeringConnectionAlreadyExists"),
        (a.create_vpc_peering_connection, {"VpcId": "vpc-00000000000000000", "PeerVpcId": theirs},
         "InvalidVpcID.NotFound"),
        (b.accept_vpc_peering_connection, {"VpcPeeringConnectionId": pcx, "DryRun": True},
         "DryRunOperation"),
    ]:
        code, message = h.code_of(call, **kw)
        assert code == want, (call.__name__, kw, code, message)
        assert status(a) == "pending-acceptance", (call.__name__, status(a))
    h.step("peering refusals")

    done = b.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)["VpcPeeringConnection"]
    assert done["Status"]["Code"] in ("provisioning", "active"), done
    # The network's private route tables route the peer's block over it.
    tables = a.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [mine]}])["RouteTables"]
    via = {(r.get("DestinationCidrBlock"), t["RouteTableId"]) for t in tables for r in t["Routes"]
           if r.get("VpcPeeringConnectionId") == pcx}
    assert via and all(d == "10.81.0.0/16" for d, _ in via), tables
    h.step("peering accepted", routes=len(via))

    # To an account without that VPC: failed, as AWS words it, seen only by the requester.
    failed = a.create_vpc_peering_connection(VpcId=mine, PeerVpcId="vpc-0123456789abcdef0",
                                             PeerOwnerId=cfg["other_account"])["VpcPeeringConnection"]
    assert failed["Status"]["Code"] == "failed", failed
    assert all(c["VpcPeeringConnectionId"] != failed["VpcPeeringConnectionId"]
               for c in b.describe_vpc_peering_connections()["VpcPeeringConnections"])
    other = a.create_vpc_peering_connection(VpcId=mine, PeerVpcId=theirs2,
                                            PeerOwnerId=cfg["other_account"])["VpcPeeringConnection"]
    b.reject_vpc_peering_connection(VpcPeeringConnectionId=other["VpcPeeringConnectionId"])
    got = a.describe_vpc_peering_connections(
        VpcPeeringConnectionIds=[other["VpcPeeringConnectionId"]])["VpcPeeringConnections"]
    assert got[0]["Status"]["Code"] == "rejected", got

    a.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    assert status(b) in ("deleted", "deleting"), status(b)
    tables = a.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [mine]}])["RouteTables"]
    assert not any(r.get("VpcPeeringConnectionId") == pcx for t in tables for r in t["Routes"]), tables
    h.step("peering deleted")


def standalone_peerings(a, b, cfg, h):
    """VPCs made with CreateVpc peered across accounts: no routes of their own
    (the owners write them), a route over the connection, the peered VPC kept
    until the connection is deleted."""
    mine = a.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    theirs = b.create_vpc(CidrBlock="10.91.0.0/16")["Vpc"]["VpcId"]
    clash = b.create_vpc(CidrBlock="10.90.128.0/17")["Vpc"]["VpcId"]
    failed = a.create_vpc_peering_connection(VpcId=mine, PeerVpcId=clash,
                                             PeerOwnerId=cfg["other_account"])["VpcPeeringConnection"]
    assert failed["Status"]["Code"] == "failed", failed
    made = a.create_vpc_peering_connection(VpcId=mine, PeerVpcId=theirs,
                                           PeerOwnerId=cfg["other_account"])["VpcPeeringConnection"]
    pcx = made["VpcPeeringConnectionId"]
    assert made["Status"]["Code"] == "pending-acceptance", made
    # Another account's VPC is not the requester's to peer from.
    code, _ = h.code_of(a.create_vpc_peering_connection, VpcId=theirs, PeerVpcId=mine)
    assert code == "InvalidVpcID.NotFound", code
    done = b.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)["VpcPeeringConnection"]
    assert done["Status"]["Code"] in ("provisioning", "active"), done

    def main_table(client, vpc):
        got = client.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "association.main", "Values": ["true"]}])
        return got["RouteTables"][0]

    # As in AWS, accepting adds no route to a VPC's tables: the owner adds it.
    assert not [r for r in main_table(a, mine)["Routes"] if r.get("VpcPeeringConnectionId")]
    a.create_route(RouteTableId=main_table(a, mine)["RouteTableId"],
                   DestinationCidrBlock="10.91.0.0/16", VpcPeeringConnectionId=pcx)
    b.create_route(RouteTableId=main_table(b, theirs)["RouteTableId"],
                   DestinationCidrBlock="10.90.0.0/16", VpcPeeringConnectionId=pcx)
    via = [r for r in main_table(a, mine)["Routes"] if r.get("VpcPeeringConnectionId") == pcx]
    assert [(r["DestinationCidrBlock"], r["State"]) for r in via] == [("10.91.0.0/16", "active")], via
    # Not from a VPC the connection does not join.
    code, _ = h.code_of(b.create_route, RouteTableId=main_table(b, clash)["RouteTableId"],
                        DestinationCidrBlock="10.90.0.0/16", VpcPeeringConnectionId=pcx)
    assert code == "InvalidVpcPeeringConnectionID.NotFound", code
    h.step("standalone peering", id=pcx)

    # A peered VPC is kept until the connection is deleted; the refusal stores nothing.
    as_b = dict(cfg, token=cfg["other_token"])
    before = h.spec_of(as_b)
    code, _ = h.code_of(b.delete_vpc, VpcId=theirs)
    assert code == "DependencyViolation", code
    assert h.spec_of(as_b) == before
    a.delete_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    gone = [r for r in main_table(a, mine)["Routes"] if r.get("DestinationCidrBlock") == "10.91.0.0/16"]
    assert [r["State"] for r in gone] == ["blackhole"], gone
    b.delete_vpc(VpcId=theirs)
    b.delete_vpc(VpcId=clash)
    h.step("standalone peering deleted")
