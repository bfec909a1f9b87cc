//! Reading records back (`cove flows`, the API): a line of a flow log's file
//! parsed by the flow log's own fields, and filters on interface, address,
//! action and time — each needing its field in the flow log's format.

use std::net::Ipv4Addr;

use cove_model::flowlog::{Field, FileFormat, FlowLog};

/// A record read back: each of the flow log's fields with its value (`None`:
/// `-` / `null`).
pub type Row = Vec<(Field, Option<String>)>;

/// The record on `line` of a file of `log`; `None` if it does not fit the
/// format (a line written with an earlier format).
pub fn parse_line(log: &FlowLog, line: &str) -> Option<Row> {
    match log.file_format {
        FileFormat::Text => {
            let values: Vec<&str> = line.split(' ').collect();
            (values.len() == log.fields.len()).then(|| {
                log.fields
                    .iter()
                    .zip(values)
                    .map(|(f, v)| {
                        (
                            *f,
                            (v != "-").then(|| v.replace("%20", " ").replace("%25", "%")),
                        )
                    })
                    .collect()
            })
        }
        FileFormat::Json => {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            let o = v.as_object()?;
            log.fields
                .iter()
                .map(|f| {
                    let value = match o.get(f.name())? {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    };
                    Some((*f, value))
                })
                .collect()
        }
    }
}

/// Which records to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The interface (`interface-id`).
    pub interface: Option<String>,
    /// Source or destination address.
    pub addr: Option<Ipv4Addr>,
    /// `ACCEPT` or `REJECT`.
    pub action: Option<String>,
    /// Records that end at or after this (Unix s).
    pub since: Option<u64>,
    /// Records that start at or before this (Unix s).
    pub until: Option<u64>,
}

/// A filter a flow log cannot apply: its format lacks the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "flow log `{log}` records no `{field}`, so it cannot be filtered by {what}: add ${{{field}}} to its log_format, or choose another flow log with --log"
)]
pub struct MissingField {
    /// The flow log.
    pub log: String,
    /// The field its format would need.
    pub field: &'static str,
    /// The filter.
    pub what: &'static str,
}

impl Filter {
    /// Whether `log`'s records carry every field this filter reads.
    pub fn check(&self, log: &FlowLog) -> Result<(), MissingField> {
        let need = |on: bool, field: Field, what| {
            if on && !log.fields.contains(&field) {
                Err(MissingField {
                    log: log.name.clone(),
                    field: field.name(),
                    what,
                })
            } else {
                Ok(())
            }
        };
        need(self.interface.is_some(), Field::InterfaceId, "interface")?;
        need(self.addr.is_some(), Field::SrcAddr, "address")?;
        need(self.addr.is_some(), Field::DstAddr, "address")?;
        need(self.action.is_some(), Field::Action, "action")?;
        need(self.since.is_some(), Field::End, "time")?;
        need(self.until.is_some(), Field::Start, "time")?;
        Ok(())
    }

    /// Whether `row` passes.
    pub fn keeps(&self, row: &Row) -> bool {
        let get = |f: Field| {
            row.iter()
                .find(|(x, _)| *x == f)
                .and_then(|(_, v)| v.as_deref())
        };
        let num = |f: Field| get(f).and_then(|v| v.parse::<u64>().ok());
        if let Some(i) = &self.interface {
            if get(Field::InterfaceId) != Some(i.as_str()) {
                return false;
            }
        }
        if let Some(a) = self.addr {
            let a = a.to_string();
            if get(Field::SrcAddr) != Some(a.as_str()) && get(Field::DstAddr) != Some(a.as_str()) {
                return false;
            }
        }
        if let Some(act) = &self.action {
            if get(Field::Action) != Some(act.as_str()) {
                return false;
            }
        }
        if let Some(s) = self.since {
            if num(Field::End).is_none_or(|e| e < s) {
                return false;
            }
        }
        if let Some(u) = self.until {
            if num(Field::Start).is_none_or(|st| st > u) {
                return false;
            }
        }
        true
    }
}

/// `row` as a JSON object keyed by field name (numbers as numbers).
pub fn row_json(row: &Row) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (f, v) in row {
        let value = match v {
            None => serde_json::Value::Null,
            Some(s) => s.parse::<u64>().map_or_else(
                |_| serde_json::Value::String(s.clone()),
                serde_json::Value::from,
            ),
        };
        map.insert(f.name().to_owned(), value);
    }
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use cove_model::VpcId;
    use cove_model::flowlog::{DEFAULT_FORMAT, FlowLogScope, TrafficType, parse_format};

    use super::*;

    fn log(format: FileFormat) -> FlowLog {
        FlowLog {
            vpc: VpcId(0),
            name: "all".into(),
            scope: FlowLogScope::Vpc,
            traffic: TrafficType::All,
            interval_s: 60,
            fields: parse_format(DEFAULT_FORMAT).expect("default"),
            file_format: format,
            max_file_bytes: 1 << 20,
        }
    }

    const LINE: &str =
        "2 123456789012 eni-1 10.0.0.1 10.0.0.2 40000 5432 6 10 840 1000 1010 ACCEPT OK";

    #[test]
    fn lines_parse_by_their_format_and_filters_select() {
        let l = log(FileFormat::Text);
        let row = parse_line(&l, LINE).expect("parses");
        assert_eq!(row[3], (Field::SrcAddr, Some("10.0.0.1".into())));
        assert!(parse_line(&l, "2 a b").is_none());
        let keep = |f: Filter| f.keeps(&row);
        assert!(keep(Filter::default()));
        assert!(keep(Filter {
            interface: Some("eni-1".into()),
            addr: Some(Ipv4Addr::new(10, 0, 0, 2)),
            action: Some("ACCEPT".into()),
            since: Some(1010),
            until: Some(1000),
        }));
        assert!(!keep(Filter {
            interface: Some("eni-2".into()),
            ..Filter::default()
        }));
        assert!(!keep(Filter {
            addr: Some(Ipv4Addr::new(10, 0, 0, 3)),
            ..Filter::default()
        }));
        assert!(!keep(Filter {
            action: Some("REJECT".into()),
            ..Filter::default()
        }));
        assert!(!keep(Filter {
            since: Some(1011),
            ..Filter::default()
        }));
        assert!(!keep(Filter {
            until: Some(999),
            ..Filter::default()
        }));
        let json = row_json(&row);
        assert_eq!(json["bytes"], 840);
        let j = log(FileFormat::Json);
        assert_eq!(parse_line(&j, &json.to_string()), Some(row));
    }

    #[test]
    fn a_filter_needs_its_field() {
        let mut l = log(FileFormat::Text);
        l.fields = parse_format("${srcaddr} ${dstaddr}").expect("format");
        let f = Filter {
            action: Some("ACCEPT".into()),
            ..Filter::default()
        };
        let e = f.check(&l).expect_err("no action field");
        assert_eq!(e.field, "action");
        assert!(
            Filter {
                addr: Some(Ipv4Addr::LOCALHOST),
                ..Filter::default()
            }
            .check(&l)
            .is_ok()
        );
    }
}
