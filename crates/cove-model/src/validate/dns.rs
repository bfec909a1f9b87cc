//! Private hosted zones (issue 12): names, associations and record sets, checked
//! as Route 53 checks a change batch. Every problem is reported with its path.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::scope::Scopes;
use super::{Ctx, Path};
use crate::diag::ErrorCode;
use crate::dns::{HostedZone, Mx, RecordData, RecordSet, Srv, canonical_name, in_zone};
use crate::model::{TenantId, VpcId};
use crate::spec::{RecordSpec, Spec};

/// A record set's TTL when none is given (Route 53's console default).
pub const DEFAULT_TTL: u32 = 300;

/// Pass 2c: each tenant's hosted zones.
pub(crate) fn hosted_zones(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    // Per VPC, the zone names associated with it (two of one name conflict).
    let mut per_vpc: BTreeMap<VpcId, BTreeSet<String>> = BTreeMap::new();
    for (ti, t) in spec.tenants.iter().enumerate() {
        let Some(tid) = sc.tenants.get(&t.name) else {
            continue;
        };
        let tpath = Path::root().item("tenants", &t.name, ti);
        let mut names = BTreeSet::new();
        for (zi, z) in t.hosted_zones.iter().enumerate() {
            let zpath = tpath.item("hosted_zones", &z.name, zi);
            let name = match canonical_name(&z.name, false) {
                Ok(n) => n,
                Err(e) => {
                    cx.error(
                        ErrorCode::InvalidDomainName,
                        &zpath.key("name"),
                        format!("`{}`: {e}", z.name),
                        "name the zone with a domain such as `db.internal` (labels of letters, digits, `-`, `_`)",
                    );
                    continue;
                }
            };
            if !names.insert(name.clone()) {
                cx.error(
                    ErrorCode::HostedZoneAlreadyExists,
                    &zpath.key("name"),
                    format!("tenant `{}` has two hosted zones named `{name}`", t.name),
                    "merge their records into one zone",
                );
                continue;
            }
            let vpcs = associations(cx, sc, tid, &zpath, &z.vpcs, &name, &mut per_vpc);
            let records = record_sets(cx, &zpath, &name, &z.records);
            cx.net.hosted_zones.push(HostedZone {
                tenant: tid,
                name,
                vpcs,
                records,
            });
        }
    }
    cross_tenant(cx, spec, sc, &mut per_vpc);
}

/// VPCs that associate another tenant's zone (`associate_zones: [tenant/zone]`):
/// the zone must exist and authorize `tenant/vpc`, as Route 53 requires.
fn cross_tenant(
    cx: &mut Ctx,
    spec: &Spec,
    sc: &Scopes,
    per_vpc: &mut BTreeMap<VpcId, BTreeSet<String>>,
) {
    for (ti, t) in spec.tenants.iter().enumerate() {
        let Some(tid) = sc.tenants.get(&t.name) else {
            continue;
        };
        for (vi, v) in t.vpcs.iter().enumerate() {
            let Some(vid) = sc.tenant_vpcs[tid.index()].get(&v.name) else {
                continue;
            };
            let me = format!("{}/{}", t.name, v.name);
            for (ai, a) in v.associate_zones.iter().enumerate() {
                let path = Path::root()
                    .item("tenants", &t.name, ti)
                    .item("vpcs", &v.name, vi)
                    .key("associate_zones")
                    .index(ai);
                let found = a.split_once('/').and_then(|(owner, zone)| {
                    let zone = canonical_name(zone, false).ok()?;
                    cx.net.hosted_zones.iter().position(|z| {
                        z.name == zone && cx.net.tenants[z.tenant.index()].name == owner
                    })
                });
                let Some(zi) = found else {
                    cx.cross_tenant(
                        spec.cross_tenant_lenient,
                        ErrorCode::NoSuchHostedZone,
                        &path,
                        format!("no hosted zone `{a}`"),
                        "name another tenant's zone as `tenant/zone` (for the tenant's own zones, list the VPC in the zone's `vpcs`)",
                    );
                    continue;
                };
                let owner = &spec.tenants[cx.net.hosted_zones[zi].tenant.index()];
                let zone_spec = owner.hosted_zones.iter().find(|z| {
                    canonical_name(&z.name, false).ok().as_deref()
                        == Some(&cx.net.hosted_zones[zi].name)
                });
                let authorized =
                    zone_spec.is_some_and(|z| z.authorizations.iter().any(|x| x.trim() == me));
                if !authorized {
                    cx.cross_tenant(
                        spec.cross_tenant_lenient,
                        ErrorCode::NotAuthorized,
                        &path,
                        format!("zone `{a}` does not authorize VPC {me}"),
                        format!(
                            "the zone's owner adds `{me}` to the zone's `authorizations` first"
                        ),
                    );
                    continue;
                }
                let zone = cx.net.hosted_zones[zi].name.clone();
                if !per_vpc.entry(vid).or_default().insert(zone.clone()) {
                    cx.error(
                        ErrorCode::ConflictingDomainExists,
                        &path,
                        format!("VPC {me} is already associated with a zone named `{zone}`"),
                        "associate one zone of a name per VPC",
                    );
                    continue;
                }
                cx.net.hosted_zones[zi].vpcs.push(vid);
            }
        }
    }
}

fn associations(
    cx: &mut Ctx,
    sc: &Scopes,
    tid: TenantId,
    zpath: &Path,
    vpcs: &[String],
    zone: &str,
    per_vpc: &mut BTreeMap<VpcId, BTreeSet<String>>,
) -> Vec<VpcId> {
    let mut out = Vec::new();
    for (vi, v) in vpcs.iter().enumerate() {
        let path = zpath.key("vpcs").index(vi);
        let Some(vid) = sc.tenant_vpcs[tid.index()].get(v) else {
            cx.error(
                ErrorCode::InvalidVpcIdNotFound,
                &path,
                format!("this tenant has no VPC `{v}`"),
                "associate the zone with one of the tenant's VPCs, by name",
            );
            continue;
        };
        if !per_vpc.entry(vid).or_default().insert(zone.to_owned()) {
            cx.error(
                ErrorCode::ConflictingDomainExists,
                &path,
                format!("VPC `{v}` is already associated with a zone named `{zone}`"),
                "associate one zone of a name per VPC",
            );
            continue;
        }
        if !out.contains(&vid) {
            out.push(vid);
        }
    }
    out
}

fn record_sets(cx: &mut Ctx, zpath: &Path, zone: &str, records: &[RecordSpec]) -> Vec<RecordSet> {
    let mut out: Vec<RecordSet> = Vec::new();
    for (ri, r) in records.iter().enumerate() {
        let path = zpath.key("records").index(ri);
        let name = match &r.name {
            None => zone.to_owned(),
            Some(n) => match canonical_name(n, true) {
                Ok(n) => n,
                Err(e) => {
                    cx.error(
                        ErrorCode::InvalidChangeBatch,
                        &path.key("name"),
                        format!("`{n}`: {e}"),
                        "write a name inside the zone, such as `pg.db.internal` or `*.db.internal`",
                    );
                    continue;
                }
            },
        };
        if !in_zone(&name, zone) {
            cx.error(
                ErrorCode::InvalidChangeBatch,
                &path.key("name"),
                format!("`{name}` is not in zone `{zone}`"),
                format!("write a name that ends with `{zone}`, or put the record in its own zone"),
            );
            continue;
        }
        let ttl = match &r.ttl {
            None => DEFAULT_TTL,
            Some(t) => match t.text().trim().parse::<u32>() {
                Ok(v) if v <= 2_147_483_647 => v,
                _ => {
                    cx.error(
                        ErrorCode::InvalidChangeBatch,
                        &path.key("ttl"),
                        format!("`{}` is not a TTL", t.text()),
                        "give seconds from 0 to 2147483647 (or omit it for 300)",
                    );
                    continue;
                }
            },
        };
        let Some(data) = record_data(cx, &path, r) else {
            continue;
        };
        let clash = out.iter().find(|o| {
            o.name == name
                && (o.data.type_name() == data.type_name()
                    || matches!(o.data, RecordData::Cname(_))
                    || matches!(data, RecordData::Cname(_)))
        });
        if let Some(o) = clash {
            let message = if o.data.type_name() == data.type_name() {
                format!("a second {} record set for `{name}`", data.type_name())
            } else {
                format!(
                    "`{name}` has a CNAME and a {} record set",
                    if matches!(data, RecordData::Cname(_)) {
                        o.data.type_name()
                    } else {
                        data.type_name()
                    }
                )
            };
            cx.error(
                ErrorCode::InvalidChangeBatch,
                &path,
                message,
                "give each name one record set per type, and a CNAME alone at its name (put all values in one `values` list)",
            );
            continue;
        }
        out.push(RecordSet { name, ttl, data });
    }
    out
}

/// The values of `r` as its type wants them; `None` after reporting what is wrong.
fn record_data(cx: &mut Ctx, path: &Path, r: &RecordSpec) -> Option<RecordData> {
    let kind = r.kind.trim().to_ascii_uppercase();
    let values: Vec<String> = r
        .values
        .iter()
        .map(|v| v.text().trim().to_owned())
        .collect();
    if values.is_empty() {
        cx.error(
            ErrorCode::InvalidChangeBatch,
            &path.key("values"),
            format!("a {kind} record set needs at least one value"),
            "list its values under `values`",
        );
        return None;
    }
    let mut bad = |i: usize, what: &str, hint: &str| {
        cx.error(
            ErrorCode::InvalidChangeBatch,
            &path.key("values").index(i),
            format!("`{}` is not {what}", values[i]),
            hint,
        );
    };
    let host = |v: &str| canonical_name(v, false).ok();
    let data = match kind.as_str() {
        "A" => RecordData::A(parse_all(
            &values,
            |v| v.parse::<Ipv4Addr>().ok(),
            |i| {
                bad(i, "an IPv4 address", "write addresses such as 10.20.1.5");
            },
        )?),
        "AAAA" => RecordData::Aaaa(parse_all(
            &values,
            |v| v.parse::<Ipv6Addr>().ok(),
            |i| {
                bad(i, "an IPv6 address", "write addresses such as fd00::5");
            },
        )?),
        "CNAME" => {
            if values.len() > 1 {
                cx.error(
                    ErrorCode::InvalidChangeBatch,
                    &path.key("values"),
                    format!("a CNAME has one target; {} given", values.len()),
                    "give one name; use A records for several addresses",
                );
                return None;
            }
            RecordData::Cname(
                parse_all(&values, host, |i| {
                    bad(i, "a domain name", "write the name the alias points to");
                })?
                .remove(0),
            )
        }
        "TXT" => RecordData::Txt(parse_all(
            &values,
            |v| (v.len() <= 255).then(|| v.to_owned()),
            |i| {
                bad(
                    i,
                    "a string of at most 255 bytes",
                    "split long text into several values",
                );
            },
        )?),
        "SRV" => RecordData::Srv(parse_all(
            &values,
            |v| {
                let w: Vec<&str> = v.split_whitespace().collect();
                match w.as_slice() {
                    [p, wt, port, target] => Some(Srv {
                        priority: p.parse().ok()?,
                        weight: wt.parse().ok()?,
                        port: port.parse().ok()?,
                        target: host(target)?,
                    }),
                    _ => None,
                }
            },
            |i| {
                bad(
                    i,
                    "`PRIORITY WEIGHT PORT TARGET`",
                    "write e.g. `10 5 5432 pg.db.internal`",
                );
            },
        )?),
        "MX" => RecordData::Mx(parse_all(
            &values,
            |v| {
                let w: Vec<&str> = v.split_whitespace().collect();
                match w.as_slice() {
                    [p, h] => Some(Mx {
                        preference: p.parse().ok()?,
                        exchange: host(h)?,
                    }),
                    _ => None,
                }
            },
            |i| {
                bad(i, "`PREFERENCE HOST`", "write e.g. `10 mail.db.internal`");
            },
        )?),
        other => {
            cx.error(
                ErrorCode::InvalidChangeBatch,
                &path.key("type"),
                format!("`{other}` is not a record type cove answers"),
                "use A, AAAA, CNAME, TXT, SRV or MX",
            );
            return None;
        }
    };
    Some(data)
}

/// Every value parsed, or `None` after `bad` was told each index that failed.
fn parse_all<T>(
    values: &[String],
    parse: impl Fn(&str) -> Option<T>,
    mut bad: impl FnMut(usize),
) -> Option<Vec<T>> {
    let mut out = Vec::with_capacity(values.len());
    let mut ok = true;
    for (i, v) in values.iter().enumerate() {
        match parse(v) {
            Some(x) => out.push(x),
            None => {
                bad(i);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
