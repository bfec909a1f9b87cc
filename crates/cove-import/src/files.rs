//! Finding the export files and sorting their objects by kind.
//!
//! A file's content is identified by its top-level key (`{"Vpcs": [...]}`), not by
//! its name. Every folder that holds `.json` files is one account/region.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ImportError;
use crate::aws;
use crate::report::Report;
use crate::unmodeled;

/// One object read from a file.
#[derive(Debug, Clone)]
pub(crate) struct Rec<T> {
    /// The file it came from.
    pub file: PathBuf,
    /// Index of its folder in [`Snapshot::folders`].
    pub folder: usize,
    /// The object as written (to tell identical copies from conflicting ones).
    pub raw: Value,
    /// The typed object.
    pub item: T,
}

/// Everything cove models, read from all folders.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The folders, in walk order.
    pub folders: Vec<PathBuf>,
    /// VPCs.
    pub vpcs: Vec<Rec<aws::Vpc>>,
    /// Subnets.
    pub subnets: Vec<Rec<aws::Subnet>>,
    /// Route tables.
    pub route_tables: Vec<Rec<aws::RouteTable>>,
    /// Security groups.
    pub security_groups: Vec<Rec<aws::SecurityGroup>>,
    /// Network ACLs.
    pub network_acls: Vec<Rec<aws::NetworkAcl>>,
    /// Network interfaces from `NetworkInterfaces`.
    pub network_interfaces: Vec<Rec<aws::NetworkInterface>>,
    /// Instances from `Reservations`.
    pub instances: Vec<Rec<aws::Instance>>,
    /// Internet gateways.
    pub internet_gateways: Vec<Rec<aws::InternetGateway>>,
    /// NAT gateways.
    pub nat_gateways: Vec<Rec<aws::NatGateway>>,
    /// VPC endpoints.
    pub vpc_endpoints: Vec<Rec<aws::VpcEndpoint>>,
    /// Prefix lists.
    pub prefix_lists: Vec<Rec<aws::PrefixList>>,
    /// Peering connections.
    pub peerings: Vec<Rec<aws::VpcPeeringConnection>>,
}

/// Reads every `.json` file under `dir` (recursively, in sorted order).
pub(crate) fn load(dir: &Path, report: &mut Report) -> Result<Snapshot, ImportError> {
    if !dir.is_dir() {
        return Err(ImportError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let mut snap = Snapshot::default();
    let mut folders = Vec::new();
    collect_folders(dir, &mut folders)?;
    for (folder_dir, files) in folders {
        let folder = snap.folders.len();
        snap.folders.push(folder_dir);
        for file in files {
            let text = fs::read_to_string(&file).map_err(|source| ImportError::ReadFile {
                path: file.clone(),
                source,
            })?;
            let value: Value =
                serde_json::from_str(&text).map_err(|source| ImportError::ParseJson {
                    path: file.clone(),
                    source,
                })?;
            classify(&mut snap, folder, &file, value, report);
        }
    }
    Ok(snap)
}

/// Collects `(folder, json files)` for every folder under `dir` holding `.json` files.
fn collect_folders(dir: &Path, out: &mut Vec<(PathBuf, Vec<PathBuf>)>) -> Result<(), ImportError> {
    let entries = fs::read_dir(dir).map_err(|source| ImportError::ReadDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ImportError::ReadDir {
            path: dir.to_path_buf(),
            source,
        })?;
        paths.push(entry.path());
    }
    paths.sort();
    let is_json = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    };
    let files: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.is_file() && is_json(p))
        .cloned()
        .collect();
    if !files.is_empty() {
        out.push((dir.to_path_buf(), files));
    }
    for sub in paths.iter().filter(|p| p.is_dir()) {
        collect_folders(sub, out)?;
    }
    Ok(())
}

/// Sorts the objects of one file into the snapshot, reporting what cove does not model.
fn classify(snap: &mut Snapshot, folder: usize, file: &Path, value: Value, report: &mut Report) {
    let Value::Object(map) = value else {
        report.add(
            "file",
            file_id(file),
            "unrecognized file: the top level is not an object with a list of resources",
            file,
        );
        return;
    };
    let lists: Vec<(String, Vec<Value>)> = map
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::Array(items) => Some((k, items)),
            _ => None,
        })
        .collect();
    if lists.is_empty() {
        report.add(
            "file",
            file_id(file),
            "unrecognized file: no top-level list of resources (expected e.g. {\"Vpcs\": [...]})",
            file,
        );
        return;
    }
    let mut other = Vec::new();
    for (key, items) in lists {
        let ctx = Ctx {
            folder,
            file,
            report: &mut *report,
        };
        match key.as_str() {
            "Vpcs" => ctx.typed(items, "vpc", &mut snap.vpcs),
            "Subnets" => ctx.typed(items, "subnet", &mut snap.subnets),
            "RouteTables" => ctx.typed(items, "route-table", &mut snap.route_tables),
            "SecurityGroups" => ctx.typed(items, "security-group", &mut snap.security_groups),
            "NetworkAcls" => ctx.typed(items, "network-acl", &mut snap.network_acls),
            "NetworkInterfaces" => {
                ctx.typed(items, "network-interface", &mut snap.network_interfaces)
            }
            "InternetGateways" => ctx.typed(items, "internet-gateway", &mut snap.internet_gateways),
            "NatGateways" => ctx.typed(items, "nat-gateway", &mut snap.nat_gateways),
            "VpcEndpoints" => ctx.typed(items, "vpc-endpoint", &mut snap.vpc_endpoints),
            "PrefixLists" => ctx.typed(items, "prefix-list", &mut snap.prefix_lists),
            "VpcPeeringConnections" => {
                ctx.typed(items, "vpc-peering-connection", &mut snap.peerings)
            }
            "Reservations" => {
                let mut reservations: Vec<Rec<aws::Reservation>> = Vec::new();
                ctx.typed(items, "reservation", &mut reservations);
                for r in reservations {
                    let raw_instances = r.raw.get("Instances").and_then(Value::as_array);
                    for (i, inst) in r.item.instances.into_iter().enumerate() {
                        let raw = raw_instances
                            .and_then(|a| a.get(i))
                            .cloned()
                            .unwrap_or(Value::Null);
                        snap.instances.push(Rec {
                            file: r.file.clone(),
                            folder,
                            raw,
                            item: inst,
                        });
                    }
                }
            }
            "AvailabilityZones" => {} // metadata only: no network objects
            _ => other.push((key, items)),
        }
    }
    unmodeled::report_all(other, file, report);
}

/// The context for reading one file's lists.
struct Ctx<'a> {
    folder: usize,
    file: &'a Path,
    report: &'a mut Report,
}

impl Ctx<'_> {
    /// Reads each item as `T`; items that do not fit are reported.
    fn typed<T: DeserializeOwned>(self, items: Vec<Value>, kind: &str, out: &mut Vec<Rec<T>>) {
        for (i, raw) in items.into_iter().enumerate() {
            match serde_json::from_value::<T>(raw.clone()) {
                Ok(item) => out.push(Rec {
                    file: self.file.to_path_buf(),
                    folder: self.folder,
                    raw,
                    item,
                }),
                Err(e) => {
                    let id = unmodeled::object_id(&raw, &[]).unwrap_or_else(|| format!("#{i}"));
                    self.report
                        .add(kind, id, format!("could not be read: {e}"), self.file);
                }
            }
        }
    }
}

/// The file name, used as the id of file-level report items.
fn file_id(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string())
}
