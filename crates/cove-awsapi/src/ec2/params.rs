//! EC2's Query parameters (pure): `Action=…&Version=…` as a form, lists as
//! `Name.1, Name.2, …`, filters as `Filter.N.Name` / `Filter.N.Value.M`.

use std::collections::BTreeMap;

use super::error::Ec2Error;

/// The parameters of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

/// One `Filter.N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Its name (`vpc-id`, `cidr-block`, `tag:Name`, …).
    pub name: String,
    /// Its values (any matches).
    pub values: Vec<String>,
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Params {
    /// Parses a form (`a=1&b=2`); the query string's and the body's parameters are
    /// both given, the body's last.
    pub fn parse(forms: &[&str]) -> Params {
        let mut map = BTreeMap::new();
        for form in forms {
            for pair in form.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                map.insert(form_decode(k), form_decode(v));
            }
        }
        Params(map)
    }

    /// Every parameter, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// A parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A parameter that must be there.
    pub fn required(&self, name: &str) -> Result<&str, Ec2Error> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Ec2Error::missing(name))
    }

    /// `name.1`, `name.2`, … in order.
    pub fn list(&self, name: &str) -> Vec<String> {
        let mut items: Vec<(usize, String)> = self
            .0
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(name)?.strip_prefix('.')?.parse().ok()?;
                Some((n, v.clone()))
            })
            .collect();
        items.sort();
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// The `Filter.N.Name` / `Filter.N.Value.M` filters.
    pub fn filters(&self) -> Result<Vec<Filter>, Ec2Error> {
        let mut out: BTreeMap<usize, Filter> = BTreeMap::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix("Filter.") else {
                continue;
            };
            let (n, field) = rest.split_once('.').unwrap_or((rest, ""));
            let n: usize = n.parse().map_err(|_| {
                Ec2Error::invalid_parameter(format!("the parameter `{k}` is not a filter"))
            })?;
            let f = out.entry(n).or_insert_with(|| Filter {
                name: String::new(),
                values: Vec::new(),
            });
            if field == "Name" {
                f.name = v.clone();
            } else if field.starts_with("Value.") {
                f.values.push(v.clone());
            }
        }
        out.into_values()
            .map(|f| {
                if f.name.is_empty() {
                    Err(Ec2Error::invalid_parameter(
                        "a filter has values but no Name".to_owned(),
                    ))
                } else {
                    Ok(f)
                }
            })
            .collect()
    }

    /// A boolean parameter (`true`/`false`), `false` when absent.
    pub fn flag(&self, name: &str) -> Result<bool, Ec2Error> {
        match self.get(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(Ec2Error::invalid_parameter(format!(
                "Invalid value '{v}' for {name}: use true or false"
            ))),
        }
    }

    /// `MaxResults` within `min..=max`, when given.
    pub fn max_results(&self, min: usize, max: usize) -> Result<Option<usize>, Ec2Error> {
        let Some(v) = self.get("MaxResults") else {
            return Ok(None);
        };
        match v.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(Ec2Error::invalid_parameter(format!(
                "Value ( {v} ) for parameter maxResults is invalid. Expecting a value between {min} and {max}."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_filters_and_flags() {
        let p = Params::parse(&[
            "Action=DescribeVpcs&VpcId.2=vpc-b&VpcId.1=vpc-a&VpcId.10=vpc-j",
            "Filter.1.Name=cidr&Filter.1.Value.1=10.0.0.0%2F16&Filter.2.Name=tag%3AName&Filter.2.Value.1=a+b&DryRun=true",
        ]);
        assert_eq!(p.get("Action"), Some("DescribeVpcs"));
        assert_eq!(p.list("VpcId"), ["vpc-a", "vpc-b", "vpc-j"]);
        let f = p.filters().expect("filters");
        assert_eq!(f[0].name, "cidr");
        assert_eq!(f[0].values, ["10.0.0.0/16"]);
        assert_eq!(
            (f[1].name.as_str(), f[1].values[0].as_str()),
            ("tag:Name", "a b")
        );
        assert!(p.flag("DryRun").expect("flag"));
        assert!(!p.flag("Other").expect("flag"));
        assert_eq!(
            p.required("CidrBlock").expect_err("missing").code,
            "MissingParameter"
        );
    }

    #[test]
    fn max_results_is_bounded() {
        let p = Params::parse(&["MaxResults=4"]);
        assert_eq!(
            p.max_results(5, 1000).expect_err("too small").code,
            "InvalidParameterValue"
        );
        let p = Params::parse(&["MaxResults=5"]);
        assert_eq!(p.max_results(5, 1000).expect("ok"), Some(5));
    }
}
