//! Flow logs across a NAT gateway (issue 14; root, `CI=true`): a client's
//! connections to the internet through a NAT gateway with two public IPs are
//! logged at the client with the public IP the internet saw each one come from
//! (`cove-nat-srcaddr`, and `cove-nat-dstaddr` on the replies), and at the NAT
//! gateway's interface with the client as the packet-level source
//! (`pkt-srcaddr`), as AWS logs a NAT gateway's interface.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::Deployment;
use common::flows::lines_of;
use cove_plan::names::Names;

const SPEC: &str = "tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.77.0.0/16
        internet_gateway: { name: igw }
        subnets:
          - { name: public, cidr: 10.77.0.0/24, az: az1, route_table: public }
          - { name: private, cidr: 10.77.1.0/24, az: az1, route_table: private }
        route_tables:
          - name: public
            routes:
              - { destination: 0.0.0.0/0, internet_gateway: igw }
          - name: private
            routes:
              - { destination: 0.0.0.0/0, nat_gateway: nat }
        nat_gateways:
          - { name: nat, subnet: public, public_ips: [203.0.113.90, 203.0.113.91] }
        enis:
          - { name: c, subnet: private, private_ip: 10.77.1.10 }
        flow_logs:
          - name: nat
            max_aggregation_interval: 1
            file_format: json
            log_format: '${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${cove-nat-srcaddr} ${cove-nat-dstaddr} ${flow-direction} ${action}'
";

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 10);
const PORT: u16 = 18_700;
const CONNECTIONS: usize = 8;

#[test]
fn nat_flows_show_the_addresses_on_both_sides() {
    if !cove_probe::privileged("flow_log_nat") {
        return;
    }
    let d = Deployment::new("fn");
    let (_dir, _spec, net) = d.apply_text(SPEC);
    let (_serve, _addr) = common::functions::serve(&d, &[]);
    let names = Names::new(&net, &d.prefix);
    let client_ns = names.eni_ns(net.find_eni("t/v/c").expect("c"));
    let internet = net.internet_stand_in();
    let nat = &net.nat_gateways[0];
    let nat_ips: Vec<String> = nat
        .private_ips(net.enis[nat.eni.index()].private_ip)
        .iter()
        .map(ToString::to_string)
        .collect();
    let server = common::internet::Internet::listen(&names.outside_ns(), internet, PORT);
    common::flows::wait_for_collector(&d);
    // Client port → the public IP the internet saw.
    let mut seen_as: BTreeMap<u16, IpAddr> = BTreeMap::new();
    for _ in 0..CONNECTIONS {
        let s = common::tcp::connect_from(&client_ns, internet, PORT, 0).expect("connect");
        let port = s.local_addr().expect("local").port();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while server.sources().len() <= seen_as.len() {
            assert!(std::time::Instant::now() < deadline, "not accepted");
            std::thread::sleep(Duration::from_millis(10));
        }
        seen_as.insert(port, *server.sources().last().expect("source"));
        drop(s);
    }
    let publics: BTreeSet<IpAddr> = seen_as.values().copied().collect();
    assert_eq!(publics.len(), 2, "both public IPs used: {seen_as:?}");

    let path = d.state.path().join(&d.prefix).join("flow-logs/t/v/nat.log");
    let client_out =
        |l: &str| l.contains(&format!("\"srcaddr\":\"{CLIENT}\"")) && l.contains("\"egress\"");
    let lines = lines_of(&path, CONNECTIONS, client_out);
    std::thread::sleep(Duration::from_secs(2));
    let all = lines_of(&path, lines.len(), |_| true);
    let records: Vec<serde_json::Value> = all
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON record"))
        .collect();
    let port_of =
        |v: &serde_json::Value, f: &str| u16::try_from(v[f].as_u64().expect("port")).expect("port");
    // At the client: each connection with the public IP it left from, and its
    // replies with the public IP they were sent to.
    let mut checked = BTreeSet::new();
    for r in &records {
        let (src, dst) = (r["srcaddr"].as_str(), r["dstaddr"].as_str());
        if src == Some(&CLIENT.to_string()) && r["flow-direction"] == "egress" {
            let port = port_of(r, "srcport");
            let Some(public) = seen_as.get(&port) else {
                continue;
            };
            assert_eq!(r["cove-nat-srcaddr"], public.to_string(), "{r}");
            assert_eq!(r["pkt-srcaddr"], CLIENT.to_string(), "{r}");
            assert!(r["cove-nat-dstaddr"].is_null(), "{r}");
            checked.insert(port);
        }
        if dst == Some(&CLIENT.to_string()) && r["flow-direction"] == "ingress" {
            if let Some(public) = seen_as.get(&port_of(r, "dstport")) {
                assert_eq!(r["cove-nat-dstaddr"], public.to_string(), "{r}");
            }
        }
    }
    assert_eq!(
        checked,
        seen_as.keys().copied().collect(),
        "a record per connection at the client: {all:#?}"
    );
    // At the NAT gateway's interface: its own connections to the internet
    // host, with the client as the packet-level source, and the public IP the
    // internet gateway mapped its address to.
    let at_gateway: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| {
            r["srcaddr"]
                .as_str()
                .is_some_and(|a| nat_ips.iter().any(|n| n == a))
                && r["flow-direction"] == "egress"
                && r["dstport"] == PORT
        })
        .collect();
    assert!(
        at_gateway.len() >= CONNECTIONS,
        "the gateway's records: {all:#?}"
    );
    for r in &at_gateway {
        assert_eq!(r["pkt-srcaddr"], CLIENT.to_string(), "{r}");
        let public: IpAddr = r["cove-nat-srcaddr"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no public IP: {r}"));
        assert!(publics.contains(&public), "{r}");
    }
}
