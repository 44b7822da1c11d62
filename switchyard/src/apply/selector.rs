//! `--selector`: label selectors as kubectl's `-l` takes them
//! (`app=web,tier!=db,env in (prod,staging),!legacy,track`), matched against
//! the objects of the files; the same string goes to the server for prune's
//! LISTs.

use std::collections::BTreeMap;

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    text: String,
    requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses kubectl's selector syntax; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        for part in split_top(text) {
            let p = part.trim();
            if p.is_empty() {
                return Err(format!("invalid selector {text:?}: an empty requirement"));
            }
            requirements.push(requirement(p).ok_or_else(|| {
                format!("invalid selector {text:?}: cannot read {p:?} (use e.g. app=web, tier!=db, env in (a,b), !key)")
            })?);
        }
        Ok(Selector {
            text: text.trim().to_string(),
            requirements,
        })
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
        })
    }

    /// The selector as the server takes it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Splits at commas outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn key(k: &str) -> Option<String> {
    let k = k.trim();
    let ok = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    ok.then(|| k.to_string())
}

fn value(v: &str) -> Option<String> {
    let v = v.trim();
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .then(|| v.to_string())
}

fn requirement(p: &str) -> Option<Requirement> {
    if let Some(k) = p.strip_prefix('!') {
        return Some(Requirement::NotExists(key(k)?));
    }
    if let Some((k, v)) = p.split_once("!=") {
        return Some(Requirement::NotIn(key(k)?, vec![value(v)?]));
    }
    if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
        return Some(Requirement::In(key(k)?, vec![value(v)?]));
    }
    for (op, not) in [(" notin ", true), (" in ", false)] {
        if let Some((k, rest)) = p.split_once(op) {
            let list = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
            let vs = list.split(',').map(value).collect::<Option<Vec<_>>>()?;
            let k = key(k)?;
            return Some(if not {
                Requirement::NotIn(k, vs)
            } else {
                Requirement::In(k, vs)
            });
        }
    }
    Some(Requirement::Exists(key(p)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn kubectl_selector_syntax() {
        let s = Selector::parse("app=web,tier!=db,env in (prod, staging),!legacy,track").unwrap();
        let ok = labels(&[("app", "web"), ("env", "prod"), ("track", "stable")]);
        assert!(s.matches(&ok));
        let mut bad = ok.clone();
        bad.insert("legacy".into(), "y".into());
        assert!(!s.matches(&bad));
        let mut db = ok.clone();
        db.insert("tier".into(), "db".into());
        assert!(!s.matches(&db));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "dev"), ("track", "x")])));
        assert!(
            Selector::parse("app.kubernetes.io/name==web")
                .unwrap()
                .matches(&labels(&[("app.kubernetes.io/name", "web")]))
        );
        assert!(
            Selector::parse("env notin (prod)")
                .unwrap()
                .matches(&labels(&[]))
        );
        for bad in ["", "a=b,", "a=(b", "a b", "env in prod"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }
}
