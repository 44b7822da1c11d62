//! The web provider: GET a URL, take a value out of its JSON with
//! `jsonPath`, judge it. Argo's web metric (`metricproviders/webmetric`)
//! takes a Kubernetes JSONPath (`{$.status}`); here a subset of it:
//! `{$.a.b}`, `{.a.b}`, `$.a`, `['key-with-dashes']`, `[0]`, `[-1]` and
//! `[*]` (every element, giving a list). Without `jsonPath` the result is
//! the whole JSON body (or the body as a string when it is not JSON).
//! A status other than 2xx is an error measurement, as in Argo.

use std::time::Duration;

use serde_json::Value;

use super::condition;

/// One step of a path.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
}

/// A parsed `jsonPath`.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    source: String,
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses the subset described in the module doc.
    pub fn parse(source: &str) -> Result<JsonPath, String> {
        let bad = |why: &str| {
            format!("jsonPath {source:?}: {why} (supported: {{$.a.b}}, ['k'], [0], [*])")
        };
        let mut s = source.trim();
        if let Some(inner) = s.strip_prefix('{') {
            s = inner.strip_suffix('}').ok_or_else(|| bad("{ without }"))?;
        }
        s = s.trim();
        s = s.strip_prefix('$').unwrap_or(s);
        let chars: Vec<char> = s.chars().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && !matches!(chars[j], '.' | '[') {
                        j += 1;
                    }
                    if j == start {
                        return Err(bad("an empty field name"));
                    }
                    steps.push(Step::Field(chars[start..j].iter().collect()));
                    i = j;
                }
                '[' => {
                    let end = chars[i..]
                        .iter()
                        .position(|c| *c == ']')
                        .map(|p| p + i)
                        .ok_or_else(|| bad("[ without ]"))?;
                    let inner: String = chars[i + 1..end].iter().collect();
                    let inner = inner.trim();
                    let quoted = |q: char| inner.strip_prefix(q).and_then(|x| x.strip_suffix(q));
                    steps.push(if inner == "*" {
                        Step::All
                    } else if let Some(k) = quoted('\'').or_else(|| quoted('"')) {
                        Step::Field(k.to_string())
                    } else {
                        Step::Index(
                            inner
                                .parse()
                                .map_err(|_| bad(&format!("[{inner}] is not an index")))?,
                        )
                    });
                    i = end + 1;
                }
                c => return Err(bad(&format!("unexpected {c:?}"))),
            }
        }
        Ok(JsonPath {
            source: source.to_string(),
            steps,
        })
    }

    /// The value at this path in `doc`.
    pub fn apply(&self, doc: &Value) -> Result<Value, String> {
        let mut here = vec![doc.clone()];
        let mut many = false;
        for step in &self.steps {
            let mut next = Vec::new();
            for v in &here {
                match step {
                    Step::Field(k) => match v.get(k) {
                        Some(x) => next.push(x.clone()),
                        None if many => {}
                        None => {
                            return Err(format!(
                                "jsonPath {}: no field {k:?} in the answer",
                                self.source
                            ));
                        }
                    },
                    Step::Index(n) => {
                        let list = v.as_array().ok_or_else(|| {
                            format!(
                                "jsonPath {}: [{n}] of something that is not a list",
                                self.source
                            )
                        })?;
                        let i = if *n < 0 { list.len() as i64 + n } else { *n };
                        match usize::try_from(i).ok().and_then(|i| list.get(i)) {
                            Some(x) => next.push(x.clone()),
                            None if many => {}
                            None => {
                                return Err(format!(
                                    "jsonPath {}: index {n} out of range ({} elements)",
                                    self.source,
                                    list.len()
                                ));
                            }
                        }
                    }
                    Step::All => {
                        many = true;
                        match v {
                            Value::Array(a) => next.extend(a.iter().cloned()),
                            Value::Object(o) => next.extend(o.values().cloned()),
                            _ => {}
                        }
                    }
                }
            }
            here = next;
        }
        Ok(if many {
            Value::Array(here)
        } else {
            here.pop().unwrap_or(Value::Null)
        })
    }
}

/// What one GET gave: the value to judge and how to show it.
#[derive(Clone, Debug)]
pub struct Answer {
    pub value: condition::Value,
    pub shown: String,
}

/// One measurement of a web metric. Errors are worded without the URL's
/// query string (it can carry a token).
pub async fn measure(
    url: &str,
    headers: &[(String, String)],
    json_path: Option<&JsonPath>,
    timeout: Duration,
) -> Result<Answer, String> {
    let mut hs = Vec::new();
    for (k, v) in headers {
        let name = http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("invalid header name {k:?}"))?;
        let mut value =
            http::HeaderValue::from_str(v).map_err(|_| format!("invalid value for header {k}"))?;
        value.set_sensitive(true);
        hs.push((name, value));
    }
    let (status, body) = crate::http::get_with(url, &hs, None, 1 << 20, timeout)
        .await
        .map_err(|e| crate::output::one_line(&e))?;
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body);
        let text: String = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect();
        return Err(format!("received HTTP {status}, not 2xx: {text}"));
    }
    let doc: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) if json_path.is_none() => {
            Value::String(String::from_utf8_lossy(&body).trim().to_string())
        }
        Err(e) => {
            return Err(format!(
                "the answer is not JSON ({e}), so jsonPath cannot apply"
            ));
        }
    };
    let picked = match json_path {
        Some(p) => p.apply(&doc)?,
        None => doc,
    };
    let value = condition::Value::from(&picked);
    let shown = match &picked {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    Ok(Answer { value, shown })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        let doc = json!({"status": "UP", "components": {"db": {"status": "DOWN"}}, "items": [{"v": 1}, {"v": 2}], "a-b": 3});
        let at = |p: &str| JsonPath::parse(p).unwrap().apply(&doc);
        assert_eq!(at("{$.status}"), Ok(json!("UP")));
        assert_eq!(at("{.components.db.status}"), Ok(json!("DOWN")));
        assert_eq!(at("$.items[1].v"), Ok(json!(2)));
        assert_eq!(at("$.items[-1].v"), Ok(json!(2)));
        assert_eq!(at("{$.items[*].v}"), Ok(json!([1, 2])));
        assert_eq!(at("{$['a-b']}"), Ok(json!(3)));
        assert_eq!(at("{$}"), Ok(doc.clone()));
        assert!(at("{$.nope}").unwrap_err().contains("no field \"nope\""));
        assert!(at("{$.items[5]}").unwrap_err().contains("out of range"));
        assert!(at("{$.status[0]}").unwrap_err().contains("not a list"));
        for bad in ["{$.a", "$..a", "$.a[x]", "$.a[", "$a"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}
