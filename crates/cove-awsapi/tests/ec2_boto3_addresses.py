"""Elastic IPs and NAT gateways through boto3 (imported by ec2_boto3.py): addresses
allocated from the operator's pool, a NAT pair using them, an address associated
with a network interface, EC2's refusals (each checked to have stored nothing), the
release order, the pool running dry, and another tenant that sees and touches none
of it."""

import json

import ec2_boto3_routes


def addresses_state(ec2, cfg, h):
    listed = sorted((x["AllocationId"], x.get("AssociationId"), x.get("NetworkInterfaceId"))
                    for x in ec2.describe_addresses()["Addresses"])
    nats = sorted(g["NatGatewayId"] for g in ec2.describe_nat_gateways()["NatGateways"])
    return listed, nats, h.state(ec2, cfg)


def refused(ec2, cfg, h, want, call, **kw):
    before = addresses_state(ec2, cfg, h)
    code, message = h.code_of(call, **kw)
    assert code == want, f"{call.__name__}({kw}): {code} ({message}), expected {want}"
    assert addresses_state(ec2, cfg, h) == before, f"{call.__name__}({kw}) was refused but changed something"
    return message


def addresses(a, b, cfg, h):
    pool = ["198.51.100.0/28"]
    ec2_boto3_routes.api_call(cfg, "PUT", "/v1/ip-pool", cfg["admin"], {"blocks": pool})
    vid = a.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    public = [a.create_subnet(VpcId=vid, CidrBlock=f"10.60.{i}.0/24",
                              AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
              for i, z in [(0, "a"), (1, "b")]]
    private = a.create_subnet(VpcId=vid, CidrBlock="10.60.10.0/24",
                              AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    igw = a.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    a.attach_internet_gateway(InternetGatewayId=igw, VpcId=vid)

    # Two Elastic IPs from the pool, one tagged at allocation.
    first = a.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "nat-a"}]}])
    second = a.allocate_address(Domain="vpc")
    ips = [first["PublicIp"], second["PublicIp"]]
    assert all(ip.startswith("198.51.100.") for ip in ips) and ips[0] != ips[1], ips
    allocs = [first["AllocationId"], second["AllocationId"]]
    assert all(x.startswith("eipalloc-") for x in allocs), allocs
    listed = {x["AllocationId"]: x for x in a.describe_addresses(AllocationIds=allocs)["Addresses"]}
    assert set(listed) == set(allocs) and "AssociationId" not in listed[allocs[0]], listed
    assert listed[allocs[0]]["Tags"] == [{"Key": "Name", "Value": "nat-a"}], listed
    tagged = a.describe_addresses(Filters=[{"Name": "tag:Name", "Values": ["nat-a"]}])["Addresses"]
    assert [x["AllocationId"] for x in tagged] == [allocs[0]], tagged
    h.step("addresses allocated", ips=ips)

    # A NAT pair, one gateway in each public subnet with its Elastic IP.
    refused(a, cfg, h, "MissingParameter", a.create_nat_gateway, SubnetId=public[0])
    refused(a, cfg, h, "UnsupportedOperation", a.create_nat_gateway, SubnetId=public[0],
            ConnectivityType="private", SecondaryPrivateIpAddressCount=2)
    refused(a, cfg, h, "InvalidAllocationID.NotFound", a.create_nat_gateway, SubnetId=public[0],
            AllocationId="eipalloc-00000000000000000")
    refused(a, cfg, h, "InvalidSubnetID.NotFound", a.create_nat_gateway,
            SubnetId="subnet-00000000000000000", AllocationId=allocs[0])
    refused(a, cfg, h, "InvalidParameterCombination", a.create_nat_gateway, SubnetId=public[0],
            AllocationId=allocs[0], ConnectivityType="private")
    refused(a, cfg, h, "DryRunOperation", a.create_nat_gateway, SubnetId=public[0],
            AllocationId=allocs[0], DryRun=True)
    nats = []
    for subnet, alloc in zip(public, allocs):
        made = a.create_nat_gateway(SubnetId=subnet, AllocationId=alloc, TagSpecifications=[
            {"ResourceType": "natgateway", "Tags": [{"Key": "pair", "Value": "yes"}]}])["NatGateway"]
        assert made["NatGatewayId"].startswith("nat-") and made["VpcId"] == vid, made
        assert made["NatGatewayAddresses"][0]["AllocationId"] == alloc, made
        nats.append(made["NatGatewayId"])
    refused(a, cfg, h, "Resource.AlreadyAssociated", a.create_nat_gateway, SubnetId=public[0],
            AllocationId=allocs[0])
    got = {g["NatGatewayId"]: g for g in a.describe_nat_gateways(
        Filters=[{"Name": "vpc-id", "Values": [vid]}])["NatGateways"]}
    assert set(got) == set(nats), got
    for nat, alloc, ip in zip(nats, allocs, ips):
        address = got[nat]["NatGatewayAddresses"][0]
        assert (address["AllocationId"], address["PublicIp"]) == (alloc, ip), got[nat]
        assert got[nat]["Tags"] == [{"Key": "pair", "Value": "yes"}], got[nat]
    paired = a.describe_nat_gateways(Filters=[{"Name": "tag:pair", "Values": ["yes"]}])
    assert len(paired["NatGateways"]) == 2, paired
    used = {x["AllocationId"]: x for x in a.describe_addresses()["Addresses"]}
    assert all(used[x].get("AssociationId", "").startswith("eipassoc-") for x in allocs), used
    spec = json.dumps(h.spec_of(cfg))
    # The tenant's spec names its allocations, never the addresses.
    assert allocs[0] in spec and ips[0] not in spec, spec
    # cove's own API lists the same Elastic IPs, with the spec field that uses each.
    own = {x["id"]: x for x in h.api(cfg, "/v1/connect/addresses")}
    assert set(own) == set(allocs), own
    assert all(".nat_gateways[" in own[x]["associated"] for x in allocs), own
    topology = json.dumps(h.api(cfg, "/v1/topology"))
    assert ips[0] in topology and ips[1] in topology, topology
    rt = a.create_route_table(VpcId=vid)["RouteTable"]["RouteTableId"]
    a.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nats[0])
    a.associate_route_table(RouteTableId=rt, SubnetId=private)
    h.step("nat pair", nats=nats)

    # Releasing an address in use is refused; so is another tenant's hand.
    refused(a, cfg, h, "InvalidIPAddress.InUse", a.release_address, AllocationId=allocs[0])
    refused(b, cfg, h, "InvalidAllocationID.NotFound", b.release_address, AllocationId=allocs[0])
    refused(b, cfg, h, "NatGatewayNotFound", b.delete_nat_gateway, NatGatewayId=nats[0])
    assert b.describe_addresses()["Addresses"] == [], b.describe_addresses()
    assert b.describe_nat_gateways()["NatGateways"] == []

    # An address on a network interface; reassociation needs AllowReassociation.
    eni = a.create_network_interface(SubnetId=public[0])["NetworkInterface"]["NetworkInterfaceId"]
    eni2 = a.create_network_interface(SubnetId=public[1])["NetworkInterface"]["NetworkInterfaceId"]
    # One allocated through cove's API is an Elastic IP of EC2's.
    made = ec2_boto3_routes.api_call(cfg, "POST", "/v1/connect/addresses", cfg["token"])
    third = {"AllocationId": made["id"], "PublicIp": made["public_ip"]}
    seen = a.describe_addresses(AllocationIds=[made["id"]])["Addresses"]
    assert [x["PublicIp"] for x in seen] == [made["public_ip"]], seen
    refused(a, cfg, h, "Resource.AlreadyAssociated", a.associate_address,
            AllocationId=allocs[0], NetworkInterfaceId=eni)
    refused(a, cfg, h, "InvalidNetworkInterfaceID.NotFound", a.associate_address,
            AllocationId=third["AllocationId"], NetworkInterfaceId="eni-00000000000000000")
    refused(a, cfg, h, "MissingParameter", a.associate_address, AllocationId=third["AllocationId"])
    assoc = a.associate_address(AllocationId=third["AllocationId"],
                                NetworkInterfaceId=eni)["AssociationId"]
    assert assoc.startswith("eipassoc-"), assoc
    iface = a.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
    assert iface["Association"]["PublicIp"] == third["PublicIp"], iface
    refused(a, cfg, h, "Resource.AlreadyAssociated", a.associate_address,
            AllocationId=third["AllocationId"], NetworkInterfaceId=eni2)
    moved = a.associate_address(AllocationId=third["AllocationId"], NetworkInterfaceId=eni2,
                                AllowReassociation=True)["AssociationId"]
    held = {x["AllocationId"]: x for x in a.describe_addresses()["Addresses"]}
    assert held[third["AllocationId"]]["NetworkInterfaceId"] == eni2, held
    assert held[third["AllocationId"]]["AssociationId"] == moved != assoc, held
    refused(a, cfg, h, "InvalidAssociationID.NotFound", a.disassociate_address,
            AssociationId="eipassoc-00000000000000000")
    a.disassociate_address(AssociationId=moved)
    assert "AssociationId" not in a.describe_addresses(
        AllocationIds=[third["AllocationId"]])["Addresses"][0]
    h.step("address associations", association=moved)

    # The pool: bravo takes what is left of it (16 addresses, 3 alpha's) and then
    # gets InsufficientAddressCapacity (the `static_ips` quota's AddressLimitExceeded
    # is cove-control's unit test).
    taken = [b.allocate_address(Domain="vpc")["AllocationId"] for _ in range(13)]
    refused(b, cfg, h, "InsufficientAddressCapacity", b.allocate_address, Domain="vpc")
    for x in taken:
        b.release_address(AllocationId=x)
    assert b.describe_addresses()["Addresses"] == []
    h.step("address limits")

    # Deleting the gateway leaves its route as a blackhole and frees its address.
    a.delete_nat_gateway(NatGatewayId=nats[0])
    routes = a.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Routes"]
    assert [(r["DestinationCidrBlock"], r["State"]) for r in routes] == [
        ("10.60.0.0/16", "active"), ("0.0.0.0/0", "blackhole")], routes
    a.release_address(AllocationId=allocs[0])
    a.release_address(AllocationId=third["AllocationId"])
    refused(a, cfg, h, "InvalidAllocationID.NotFound", a.release_address, AllocationId=allocs[0])
    a.delete_nat_gateway(NatGatewayId=nats[1])
    a.release_address(AllocationId=allocs[1])
    assert a.describe_addresses()["Addresses"] == [], a.describe_addresses()
    a.delete_network_interface(NetworkInterfaceId=eni)
    a.delete_network_interface(NetworkInterfaceId=eni2)
    a.disassociate_route_table(AssociationId=next(
        x["RouteTableAssociationId"]
        for x in a.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Associations"]))
    a.delete_route_table(RouteTableId=rt)
    a.detach_internet_gateway(InternetGatewayId=igw, VpcId=vid)
    a.delete_internet_gateway(InternetGatewayId=igw)
    for s in public + [private]:
        a.delete_subnet(SubnetId=s)
    a.delete_vpc(VpcId=vid)
    assert "10.60.0.0/16" not in json.dumps(h.spec_of(cfg))
    h.step("addresses released")
