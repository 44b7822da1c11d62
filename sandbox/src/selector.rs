//! Label and field selectors, with the grammar and matching rules of
//! `k8s.io/apimachinery/pkg/labels` and `.../fields`.

use serde_json::Value;

use crate::status::ApiError;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

impl Requirement {
    fn matches(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::Eq(v), Some(x)) => x == v,
            (Op::Eq(_), None) => false,
            // `!=` and `notin` match objects that lack the key, as upstream does.
            (Op::NotEq(v), x) => x != Some(v.as_str()),
            (Op::In(vs), Some(x)) => vs.iter().any(|v| v == x),
            (Op::In(_), None) => false,
            (Op::NotIn(vs), x) => x.is_none_or(|x| !vs.iter().any(|v| v == x)),
            (Op::Exists, x) => x.is_some(),
            (Op::DoesNotExist, x) => x.is_none(),
            (Op::Gt(n), Some(x)) => x.parse::<i64>().is_ok_and(|x| x > *n),
            (Op::Lt(n), Some(x)) => x.parse::<i64>().is_ok_and(|x| x < *n),
            (Op::Gt(_) | Op::Lt(_), None) => false,
        }
    }
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the query form: `app=web,tier in (a,b),!canary,env!=prod`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(part).map_err(|m| {
                ApiError::bad_request(format!(
                    "unable to parse requirement: {m} in label selector \"{s}\""
                ))
            })?);
        }
        Ok(LabelSelector { reqs })
    }

    /// From a `metav1.LabelSelector` object (`matchLabels` + `matchExpressions`).
    /// `None` or `{}` is the empty selector, which matches everything.
    pub fn from_json(sel: Option<&Value>) -> Result<Self, String> {
        let mut reqs = Vec::new();
        let Some(sel) = sel else {
            return Ok(LabelSelector { reqs });
        };
        if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in ml {
                let v = v.as_str().ok_or("matchLabels values must be strings")?;
                reqs.push(Requirement {
                    key: k.clone(),
                    op: Op::Eq(v.to_string()),
                });
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e["key"].as_str().ok_or("matchExpressions need a key")?;
                let values: Vec<String> = e["values"]
                    .as_array()
                    .map(|vs| {
                        vs.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let op = match e["operator"].as_str() {
                    Some("In") => Op::In(values),
                    Some("NotIn") => Op::NotIn(values),
                    Some("Exists") => Op::Exists,
                    Some("DoesNotExist") => Op::DoesNotExist,
                    other => return Err(format!("{other:?} is not a valid selector operator")),
                };
                reqs.push(Requirement {
                    key: key.to_string(),
                    op,
                });
            }
        }
        Ok(LabelSelector { reqs })
    }

    /// From a Service's `spec.selector` map (equality only).
    pub fn from_map(map: &serde_json::Map<String, Value>) -> Self {
        let reqs = map
            .iter()
            .filter_map(|(k, v)| {
                Some(Requirement {
                    key: k.clone(),
                    op: Op::Eq(v.as_str()?.to_string()),
                })
            })
            .collect();
        LabelSelector { reqs }
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Matches a `metadata.labels` object (absent labels are no labels).
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|r| r.matches(get(&r.key)))
    }

    /// Matches an object by its `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.is_empty() || self.matches(obj.pointer("/metadata/labels"))
    }
}

impl std::fmt::Display for LabelSelector {
    /// The string form, as `metav1.FormatLabelSelector` prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .reqs
            .iter()
            .map(|r| match &r.op {
                Op::Eq(v) => format!("{}={v}", r.key),
                Op::NotEq(v) => format!("{}!={v}", r.key),
                Op::In(vs) => format!("{} in ({})", r.key, vs.join(",")),
                Op::NotIn(vs) => format!("{} notin ({})", r.key, vs.join(",")),
                Op::Exists => r.key.clone(),
                Op::DoesNotExist => format!("!{}", r.key),
                Op::Gt(n) => format!("{}>{n}", r.key),
                Op::Lt(n) => format!("{}<{n}", r.key),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Splits on commas that are not inside `( )`.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let value = |v: &str| -> Result<String, String> {
        let v = v.trim();
        if valid_value(v) {
            Ok(v.to_string())
        } else {
            Err(format!("invalid label value: \"{v}\""))
        }
    };
    let key = |k: &str| -> Result<String, String> {
        let k = k.trim();
        if valid_key(k) {
            Ok(k.to_string())
        } else {
            Err(format!("invalid label key \"{k}\""))
        }
    };
    if let Some(k) = part.strip_prefix('!') {
        return Ok(Requirement {
            key: key(k)?,
            op: Op::DoesNotExist,
        });
    }
    for (sym, f) in [
        ("!=", Op::NotEq as fn(String) -> Op),
        ("==", Op::Eq),
        ("=", Op::Eq),
    ] {
        if let Some((k, v)) = part.split_once(sym) {
            return Ok(Requirement {
                key: key(k)?,
                op: f(value(v)?),
            });
        }
    }
    for (sym, gt) in [(">", true), ("<", false)] {
        if let Some((k, v)) = part.split_once(sym) {
            let n: i64 = v.trim().parse().map_err(|_| {
                format!("for 'Gt', 'Lt' operators, the value must be an integer: \"{v}\"")
            })?;
            return Ok(Requirement {
                key: key(k)?,
                op: if gt { Op::Gt(n) } else { Op::Lt(n) },
            });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let rest = words[1].trim_start();
        let (op, list) = if let Some(l) = rest.strip_prefix("notin") {
            (false, l)
        } else if let Some(l) = rest.strip_prefix("in") {
            (true, l)
        } else {
            return Err(format!("found '{rest}', expected: in, notin, =, ==, !="));
        };
        let list = list.trim();
        let inner = list
            .strip_prefix('(')
            .and_then(|l| l.strip_suffix(')'))
            .ok_or_else(|| format!("found '{list}', expected: '('"))?;
        let values = inner.split(',').map(value).collect::<Result<Vec<_>, _>>()?;
        return Ok(Requirement {
            key: key(words[0])?,
            op: if op {
                Op::In(values)
            } else {
                Op::NotIn(values)
            },
        });
    }
    Ok(Requirement {
        key: key(part)?,
        op: Op::Exists,
    })
}

/// A field selector: `metadata.name=web,status.phase!=Running`. Any dotted path into
/// the object may be named; the real server allows a fixed set per type, which
/// includes every one the tools and kubectl use.
#[derive(Clone, Debug, Default)]
pub struct FieldSelector {
    reqs: Vec<(Vec<String>, bool, String)>,
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (path, eq, v) = if let Some((p, v)) = part.split_once("!=") {
                (p, false, v)
            } else if let Some((p, v)) = part.split_once("==") {
                (p, true, v)
            } else if let Some((p, v)) = part.split_once('=') {
                (p, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector: '{part}' is not a valid field selector: need an operator"
                )));
            };
            reqs.push((
                path.trim().split('.').map(String::from).collect(),
                eq,
                v.trim().to_string(),
            ));
        }
        Ok(FieldSelector { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// The name asked for by `metadata.name=X`, so a list can be a lookup.
    pub fn name(&self) -> Option<&str> {
        self.reqs
            .iter()
            .find(|(p, eq, _)| *eq && p.len() == 2 && p[0] == "metadata" && p[1] == "name")
            .map(|(_, _, v)| v.as_str())
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(path, eq, want)| {
            let mut cur = obj;
            for seg in path {
                cur = &cur[seg.as_str()];
            }
            let got = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (got == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Value {
        json!({ "metadata": { "labels": v } })
    }

    #[test]
    fn equality_and_inequality() {
        let s = LabelSelector::parse("app=web,color==blue").unwrap();
        assert!(s.matches_object(&labels(json!({"app": "web", "color": "blue", "x": "y"}))));
        assert!(!s.matches_object(&labels(json!({"app": "web", "color": "green"}))));
        assert!(!s.matches_object(&labels(json!({"app": "web"}))));
        let ne = LabelSelector::parse("color!=blue").unwrap();
        assert!(ne.matches_object(&labels(json!({"color": "green"}))));
        assert!(
            ne.matches_object(&labels(json!({}))),
            "!= matches a missing key"
        );
        assert!(!ne.matches_object(&labels(json!({"color": "blue"}))));
    }

    #[test]
    fn set_based() {
        let s = LabelSelector::parse("color in (blue, green),tier notin (db)").unwrap();
        assert!(s.matches_object(&labels(json!({"color": "green"}))));
        assert!(!s.matches_object(&labels(json!({"color": "red"}))));
        assert!(!s.matches_object(&labels(json!({"color": "blue", "tier": "db"}))));
        assert!(s.matches_object(&labels(json!({"color": "blue", "tier": "web"}))));
        let ex = LabelSelector::parse("canary,!legacy").unwrap();
        assert!(ex.matches_object(&labels(json!({"canary": ""}))));
        assert!(!ex.matches_object(&labels(json!({"canary": "1", "legacy": "1"}))));
        assert!(!ex.matches_object(&labels(json!({}))));
    }

    #[test]
    fn numeric_comparisons() {
        let s = LabelSelector::parse("rev>3").unwrap();
        assert!(s.matches_object(&labels(json!({"rev": "4"}))));
        assert!(!s.matches_object(&labels(json!({"rev": "3"}))));
        assert!(!s.matches_object(&labels(json!({"rev": "x"}))));
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["app=we b", "a in b", "a in (x", "a foo (x)", "=x", "rev>x"] {
            let e = LabelSelector::parse(bad).unwrap_err();
            assert_eq!(e.code, 400, "{bad}");
        }
    }

    #[test]
    fn empty_matches_everything() {
        let s = LabelSelector::parse("").unwrap();
        assert!(s.is_empty());
        assert!(s.matches_object(&json!({"metadata": {}})));
    }

    #[test]
    fn from_label_selector_object() {
        let s = LabelSelector::from_json(Some(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "color", "operator": "In", "values": ["blue"]},
                                 {"key": "old", "operator": "DoesNotExist"}]
        })))
        .unwrap();
        assert!(s.matches_object(&labels(json!({"app": "web", "color": "blue"}))));
        assert!(!s.matches_object(&labels(json!({"app": "web", "color": "blue", "old": "1"}))));
        assert_eq!(s.to_string(), "app=web,color in (blue),!old");
        assert!(
            LabelSelector::from_json(Some(
                &json!({"matchExpressions": [{"key": "a", "operator": "Near"}]})
            ))
            .is_err()
        );
    }

    #[test]
    fn field_selectors() {
        let f = FieldSelector::parse("metadata.name=web,status.phase!=Failed").unwrap();
        assert_eq!(f.name(), Some("web"));
        let obj = json!({"metadata": {"name": "web"}, "status": {"phase": "Running"}});
        assert!(f.matches(&obj));
        let failed = json!({"metadata": {"name": "web"}, "status": {"phase": "Failed"}});
        assert!(!f.matches(&failed));
        assert!(!f.matches(&json!({"metadata": {"name": "api"}})));
        assert_eq!(FieldSelector::parse("nope").unwrap_err().code, 400);
    }
}
