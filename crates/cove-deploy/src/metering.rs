//! The month's metering on disk (issue 14): what each tenant's and function's
//! interfaces sent per path, in `<state>/<prefix>/metering/<YYYY-MM>.json`,
//! updated every ten seconds by the collector ([`crate::flowlogs`]) — the number an
//! operator bills (private data transfer: peering and endpoints, per GB).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use cove_flowlog::{Meter, PathKind};
use serde::{Deserialize, Serialize};

/// A calendar month (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    /// The year.
    pub year: i64,
    /// 1–12.
    pub month: u32,
}

impl Month {
    /// The month of Unix time `secs` (UTC).
    pub fn of(secs: u64) -> Month {
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        let days = i64::try_from(secs / 86_400).unwrap_or(0) + 719_468;
        let era = days.div_euclid(146_097);
        let doe = days - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Month {
            year,
            month: u32::try_from(month).unwrap_or(1),
        }
    }

    /// This month.
    pub fn now() -> Month {
        Month::of(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    }

    /// `YYYY-MM`.
    pub fn text(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Month> {
        let (y, m) = text.split_once('-')?;
        let month: u32 = m.parse().ok()?;
        (y.len() == 4 && m.len() == 2 && (1..=12).contains(&month)).then_some(Month {
            year: y.parse().ok()?,
            month,
        })
    }
}

/// Bytes and packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// Bytes (IP).
    pub bytes: u64,
    /// Packets.
    pub packets: u64,
}

/// A month's totals: per tenant (and per function, `tenant/function`), per path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// tenant → path → sent.
    pub tenants: BTreeMap<String, BTreeMap<String, Sent>>,
    /// function → path → sent.
    pub functions: BTreeMap<String, BTreeMap<String, Sent>>,
}

impl Totals {
    /// These totals with `meter`'s added.
    pub fn plus(&self, meter: &Meter) -> Totals {
        let mut t = self.clone();
        let add = |map: &mut BTreeMap<String, BTreeMap<String, Sent>>,
                   key: &str,
                   path: PathKind,
                   c: cove_flowlog::Counts| {
            let s = map
                .entry(key.to_owned())
                .or_default()
                .entry(path.as_str().to_owned())
                .or_default();
            s.bytes += c.bytes;
            s.packets += c.packets;
        };
        for ((tenant, path), c) in &meter.tenants {
            add(&mut t.tenants, tenant, *path, *c);
        }
        for ((function, path), c) in &meter.functions {
            add(&mut t.functions, function, *path, *c);
        }
        t
    }

    /// Private data transfer (peering and endpoints) per tenant, in bytes.
    pub fn private_bytes(&self) -> BTreeMap<String, u64> {
        self.tenants
            .iter()
            .map(|(t, paths)| {
                let bytes = PathKind::ALL
                    .iter()
                    .filter(|p| p.is_private())
                    .filter_map(|p| paths.get(p.as_str()))
                    .map(|s| s.bytes)
                    .sum();
                (t.clone(), bytes)
            })
            .collect()
    }
}

/// The file of `month` under `dir`.
pub fn path_of(dir: &Path, month: &Month) -> PathBuf {
    dir.join(format!("{}.json", month.text()))
}

/// The saved totals of `month` (none yet: empty).
pub fn load(dir: &Path, month: &Month) -> Totals {
    std::fs::read(path_of(dir, month))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Saves `totals` as `month`'s (written aside, then renamed: never half a file).
pub fn save(dir: &Path, month: &Month, totals: &Totals) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = path_of(dir, month);
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(totals).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_of_unix_times() {
        assert_eq!(Month::of(0).text(), "1970-01");
        // 2026-12-06T10:00:00Z
        assert_eq!(Month::of(1_796_551_200).text(), "2026-12");
        // 2024-02-29T23:59:59Z and a second later
        assert_eq!(Month::of(1_709_251_199).text(), "2024-02");
        assert_eq!(Month::of(1_709_251_200).text(), "2024-03");
        assert_eq!(
            Month::parse("2026-12"),
            Some(Month {
                year: 2026,
                month: 12
            })
        );
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::parse("26-1"), None);
    }

    #[test]
    fn totals_add_meters_and_survive_a_save() {
        let mut m = Meter::default();
        m.tenants.insert(
            ("t".into(), PathKind::Peering),
            cove_flowlog::Counts {
                packets: 2,
                bytes: 3000,
            },
        );
        m.tenants.insert(
            ("t".into(), PathKind::IntraVpc),
            cove_flowlog::Counts {
                packets: 1,
                bytes: 100,
            },
        );
        let t = Totals::default().plus(&m).plus(&m);
        assert_eq!(
            t.tenants["t"]["peering"],
            Sent {
                bytes: 6000,
                packets: 4
            }
        );
        assert_eq!(t.private_bytes()["t"], 6000);
        let dir = tempfile::tempdir().expect("tmp");
        let month = Month {
            year: 2026,
            month: 12,
        };
        save(dir.path(), &month, &t).expect("save");
        assert_eq!(load(dir.path(), &month), t);
        assert_eq!(
            load(
                dir.path(),
                &Month {
                    year: 2026,
                    month: 11
                }
            ),
            Totals::default()
        );
    }
}
