"""EC2's tags on endpoints, prefix lists, flow logs and peering connections, with
boto3 (run by ec2_boto3.py, which passes its helpers as `h`): TagSpecifications
on creation, CreateTags / DeleteTags, tag filters, DescribeTags, and a
peering's tags kept per account."""


def tagged(resources, key, value):
    return [{"ResourceType": resources, "Tags": [{"Key": key, "Value": value}]}]


def tags(a, b, cfg, h):
    vpc = a.create_vpc(CidrBlock="10.95.0.0/16")["Vpc"]["VpcId"]
    a.create_subnet(VpcId=vpc, CidrBlock="10.95.1.0/24", AvailabilityZone="us-east-1a")
    main = a.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]
    pl = a.create_managed_prefix_list(
        PrefixListName="com.amazonaws.us-east-1.s3", AddressFamily="IPv4", MaxEntries=2,
        Entries=[{"Cidr": "52.216.0.0/15"}],
        TagSpecifications=tagged("prefix-list", "team", "storage"))["PrefixList"]
    assert pl["Tags"] == [{"Key": "team", "Value": "storage"}], pl
    pl = pl["PrefixListId"]
    vpce = a.create_vpc_endpoint(VpcId=vpc, VpcEndpointType="Gateway",
                                 ServiceName="com.amazonaws.us-east-1.s3",
                                 RouteTableIds=[main["RouteTableId"]],
                                 TagSpecifications=tagged("vpc-endpoint", "Name", "s3"))["VpcEndpoint"]
    assert vpce["Tags"] == [{"Key": "Name", "Value": "s3"}], vpce
    vpce = vpce["VpcEndpointId"]
    fl = a.create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL",
                            TagSpecifications=tagged("vpc-flow-log", "env", "test"))["FlowLogIds"][0]
    # A tag specification of another resource type is refused, and stores nothing.
    h.refused(a, cfg, "InvalidParameterValue", a.create_flow_logs, ResourceIds=[vpc],
              ResourceType="VPC", TrafficType="ALL", TagSpecifications=tagged("vpc", "x", "y"))

    def by_tag(describe, key, value, field, id_field):
        got = describe(Filters=[{"Name": f"tag:{key}", "Values": [value]}])[field]
        return [x[id_field] for x in got]

    assert by_tag(a.describe_managed_prefix_lists, "team", "storage", "PrefixLists",
                  "PrefixListId") == [pl]
    assert by_tag(a.describe_vpc_endpoints, "Name", "s3", "VpcEndpoints", "VpcEndpointId") == [vpce]
    assert by_tag(a.describe_flow_logs, "env", "test", "FlowLogs", "FlowLogId") == [fl]
    assert by_tag(a.describe_flow_logs, "env", "prod", "FlowLogs", "FlowLogId") == []

    a.create_tags(Resources=[pl, vpce, fl], Tags=[{"Key": "owner", "Value": "ops"}])
    seen = a.describe_tags(Filters=[{"Name": "key", "Values": ["owner"]}])["Tags"]
    assert sorted((t["ResourceId"], t["ResourceType"]) for t in seen) == sorted(
        [(pl, "prefix-list"), (vpce, "vpc-endpoint"), (fl, "vpc-flow-log")]), seen
    a.delete_tags(Resources=[vpce], Tags=[{"Key": "owner"}])
    got = a.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
    assert got["Tags"] == [{"Key": "Name", "Value": "s3"}], got
    # Another tenant tags none of them, and sees none of their tags.
    for rid in (pl, vpce, fl):
        code, _ = h.code_of(b.create_tags, Resources=[rid], Tags=[{"Key": "x", "Value": "y"}])
        assert code.endswith("NotFound"), (rid, code)
    assert b.describe_tags(Filters=[{"Name": "key", "Values": ["owner", "team"]}])["Tags"] == []
    h.step("tags on endpoints, prefix lists, flow logs")

    # A peering connection: each account's tags are its own.
    peer = b.create_vpc(CidrBlock="10.96.0.0/16")["Vpc"]["VpcId"]
    made = a.create_vpc_peering_connection(
        VpcId=vpc, PeerVpcId=peer, PeerOwnerId=cfg["other_account"],
        TagSpecifications=tagged("vpc-peering-connection", "Name", "to-bravo"))["VpcPeeringConnection"]
    pcx = made["VpcPeeringConnectionId"]
    assert made["Tags"] == [{"Key": "Name", "Value": "to-bravo"}], made

    def tags_of(client):
        got = client.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
        return got["VpcPeeringConnections"][0].get("Tags", [])

    assert tags_of(b) == []
    b.create_tags(Resources=[pcx], Tags=[{"Key": "Name", "Value": "from-alpha"}])
    assert tags_of(b) == [{"Key": "Name", "Value": "from-alpha"}]
    assert tags_of(a) == [{"Key": "Name", "Value": "to-bravo"}]
    found = a.describe_vpc_peering_connections(
        Filters=[{"Name": "tag:Name", "Values": ["to-bravo"]}])["VpcPeeringConnections"]
    assert [c["VpcPeeringConnectionId"] for c in found] == [pcx], found
    assert b.describe_vpc_peering_connections(
        Filters=[{"Name": "tag:Name", "Values": ["to-bravo"]}])["VpcPeeringConnections"] == []
    listed = b.describe_tags(Filters=[{"Name": "resource-type",
                                       "Values": ["vpc-peering-connection"]}])["Tags"]
    assert [(t["ResourceId"], t["Value"]) for t in listed] == [(pcx, "from-alpha")], listed
    code, _ = h.code_of(a.create_tags, Resources=[pcx],
                        Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert code == "TagLimitExceeded", code
    assert tags_of(a) == [{"Key": "Name", "Value": "to-bravo"}]
    a.delete_tags(Resources=[pcx])
    assert tags_of(a) == [] and tags_of(b) == [{"Key": "Name", "Value": "from-alpha"}]
    h.step("tags on peerings")

    b.reject_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    a.delete_flow_logs(FlowLogIds=[fl])
    a.delete_vpc_endpoints(VpcEndpointIds=[vpce])
    a.delete_managed_prefix_list(PrefixListId=pl)
