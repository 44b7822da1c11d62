//! Secret values out of every output. A Secret's `data` and `stringData`
//! are masked wherever an object is shown, as `kubectl diff` masks them
//! (`***` for a value that stays, `*** (before)` / `*** (after)` for one
//! that changes); and text that may echo a value (an API server's error
//! message quotes the field it refused) is scrubbed of every value the
//! files' Secrets hold, in each form it may take (as written, base64, decoded).

use base64::Engine as _;
use serde_json::Value;

const MASK: &str = "***";

/// The fields of a Secret that hold values.
const FIELDS: [&str; 2] = ["data", "stringData"];

/// Whether `obj` is a core Secret.
pub fn is_secret(obj: &Value) -> bool {
    obj["kind"] == "Secret" && obj["apiVersion"] == "v1"
}

/// Every value of a Secret shown as `***` (the keys stay: they are names).
pub fn mask(obj: &mut Value) {
    if !is_secret(obj) {
        return;
    }
    for field in FIELDS {
        if let Some(m) = obj.get_mut(field).and_then(Value::as_object_mut) {
            for v in m.values_mut() {
                *v = Value::from(MASK);
            }
        }
    }
}

/// Masks the two sides of a diff of a Secret as kubectl diff's masker
/// does: a value the same on both sides is `***` on both; a changed one
/// `*** (before)` and `*** (after)`; one on a single side `***` there.
pub fn mask_pair(before: Option<&mut Value>, after: Option<&mut Value>) {
    let (Some(b), Some(a)) = (before, after) else {
        return;
    };
    if !is_secret(b) && !is_secret(a) {
        return;
    }
    for field in FIELDS {
        let old = b
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let new = a
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(m) = b.get_mut(field).and_then(Value::as_object_mut) {
            for (k, v) in m.iter_mut() {
                let changed = new.get(k).is_some_and(|n| n != v);
                *v = Value::from(if changed { "*** (before)" } else { MASK });
            }
        }
        if let Some(m) = a.get_mut(field).and_then(Value::as_object_mut) {
            for (k, v) in m.iter_mut() {
                let changed = old.get(k).is_some_and(|o| o != v);
                *v = Value::from(if changed { "*** (after)" } else { MASK });
            }
        }
    }
}

/// A response body as `-v 8` logs it, with any Secret's values masked (a
/// Secret, a list of them, or an object among whose items one is).
pub fn body(text: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    let before = v.clone();
    mask(&mut v);
    if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
        for item in items {
            // A SecretList's items carry no apiVersion/kind of their own.
            if before["kind"] == "SecretList" {
                item["apiVersion"] = Value::from("v1");
                item["kind"] = Value::from("Secret");
                mask(item);
                if let Some(m) = item.as_object_mut() {
                    m.remove("apiVersion");
                    m.remove("kind");
                }
            } else {
                mask(item);
            }
        }
    }
    if v == before {
        text.to_string()
    } else {
        v.to_string()
    }
}

/// Scrubs text of the values a set of Secrets holds.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Longest first, so a value containing another is replaced whole.
    values: Vec<String>,
}

impl Redactor {
    /// Learns every value of every Secret among `objects`. Values shorter
    /// than 3 characters are too common in ordinary text to scrub from it
    /// (they are still masked wherever an object is shown).
    pub fn new<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Redactor {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut values = Vec::new();
        for o in objects.into_iter().filter(|o| is_secret(o)) {
            for (field, m) in FIELDS
                .iter()
                .filter_map(|f| Some((*f, o.get(*f)?.as_object()?)))
            {
                for v in m.values().filter_map(Value::as_str) {
                    values.push(v.to_string());
                    if field == "data" {
                        if let Ok(raw) = b64.decode(v.trim())
                            && let Ok(text) = String::from_utf8(raw)
                        {
                            values.push(text.trim_end_matches('\n').to_string());
                            values.push(text);
                        }
                    } else {
                        values.push(b64.encode(v));
                    }
                }
            }
        }
        values.retain(|v| v.chars().count() >= 3);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Redactor { values }
    }

    /// `text` with every known value replaced by `***`.
    pub fn clean(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_as_kubectl_diff_does() {
        let mut before = json!({"apiVersion": "v1", "kind": "Secret", "data": {"same": "YQ==", "changed": "Yg==", "gone": "Yw=="}});
        let mut after = json!({"apiVersion": "v1", "kind": "Secret", "data": {"same": "YQ==", "changed": "ZA==", "new": "ZQ=="}});
        mask_pair(Some(&mut before), Some(&mut after));
        assert_eq!(
            before["data"],
            json!({"same": "***", "changed": "*** (before)", "gone": "***"})
        );
        assert_eq!(
            after["data"],
            json!({"same": "***", "changed": "*** (after)", "new": "***"})
        );
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}});
        mask(&mut cm);
        assert_eq!(cm["data"]["a"], "b");
    }

    #[test]
    fn scrubs_every_form_of_a_value() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"password": "aHVudGVyMi1zZWNyZXQ="}, "stringData": {"token": "tok-SECRET-42"}});
        let r = Redactor::new([&secret]);
        let msg = "Secret \"db\" is invalid: data[password]: Invalid value: \"aHVudGVyMi1zZWNyZXQ=\" (hunter2-secret), token tok-SECRET-42 = dG9rLVNFQ1JFVC00Mg==";
        let clean = r.clean(msg);
        for leak in [
            "aHVudGVyMi1zZWNyZXQ=",
            "hunter2-secret",
            "tok-SECRET-42",
            "dG9rLVNFQ1JFVC00Mg==",
        ] {
            assert!(!clean.contains(leak), "{leak} in {clean}");
        }
        assert!(clean.contains("data[password]"), "{clean}");
    }

    #[test]
    fn logged_bodies_hide_secret_values() {
        let one = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{"pw":"c2VjcmV0"}}"#;
        assert!(!body(one).contains("c2VjcmV0"));
        let list = r#"{"apiVersion":"v1","kind":"SecretList","items":[{"metadata":{"name":"db"},"data":{"pw":"c2VjcmV0"}}]}"#;
        let shown = body(list);
        assert!(
            !shown.contains("c2VjcmV0") && shown.contains("\"pw\":\"***\""),
            "{shown}"
        );
        assert_eq!(body("not json"), "not json");
        let cm = r#"{"kind":"ConfigMap","data":{"a":"b"}}"#;
        assert_eq!(body(cm), cm);
    }
}
