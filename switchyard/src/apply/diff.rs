//! `--dry-run=server`'s diff, as `kubectl diff` prints it: a unified diff
//! of the live object against what the server-side dry run would store,
//! both as YAML, `metadata.managedFields` left out (kubectl diff's default,
//! `--show-managed-fields=false`; it drops nothing else), Secret values
//! masked as its masker does. A new object is diffed against nothing.
//!
//! The diff itself is `similar`'s (Myers, unified format): a small crate
//! with no dependencies, rather than spawning `diff -u` as kubectl does.

use serde_json::Value;

use super::redact;

/// `group.version.kind.namespace.name`, the file names kubectl diff writes
/// under its LIVE-* and MERGED-* directories.
pub fn label(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> String {
    let gv = api_version.replace('/', ".");
    match namespace {
        Some(ns) => format!("{gv}.{kind}.{ns}.{name}"),
        None => format!("{gv}.{kind}.{name}"),
    }
}

/// What kubectl diff leaves out of both sides.
fn strip(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
}

fn yaml(obj: &Value) -> String {
    serde_saphyr::to_string(obj)
        .unwrap_or_else(|_| serde_json::to_string_pretty(obj).unwrap_or_default())
}

/// The unified diff of `live` (None: the object does not exist) against
/// `merged`; empty when nothing would change.
pub fn unified(live: Option<&Value>, merged: &Value, label: &str) -> String {
    let mut after = merged.clone();
    let mut before = live.cloned();
    strip(&mut after);
    if let Some(b) = before.as_mut() {
        strip(b);
        redact::mask_pair(Some(b), Some(&mut after));
    } else {
        redact::mask(&mut after);
    }
    let old = before.as_ref().map(yaml).unwrap_or_default();
    let new = yaml(&after);
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{label}"), &format!("merged/{label}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_change_is_a_unified_diff_without_managed_fields() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "managedFields": [{"manager": "switchyard"}]}, "data": {"a": "1"}});
        let mut merged = live.clone();
        merged["data"]["a"] = json!("2");
        let d = unified(Some(&live), &merged, "v1.ConfigMap.default.cfg");
        assert!(
            d.starts_with(
                "--- live/v1.ConfigMap.default.cfg\n+++ merged/v1.ConfigMap.default.cfg\n"
            ),
            "{d}"
        );
        assert!(d.contains("-  a: '1'") || d.contains("-  a: \"1\""), "{d}");
        assert!(!d.contains("managedFields"), "{d}");
        assert_eq!(unified(Some(&live), &live, "x"), "");
    }

    #[test]
    fn a_new_object_is_all_additions_and_secrets_are_masked() {
        let s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"pw": "c2VjcmV0"}});
        let d = unified(None, &s, "v1.Secret.default.db");
        assert!(d.lines().skip(3).all(|l| l.starts_with('+')), "{d}");
        assert!(!d.contains("c2VjcmV0") && d.contains("***"), "{d}");
        let mut changed = s.clone();
        changed["data"]["pw"] = json!("b3RoZXI=");
        let d = unified(Some(&s), &changed, "x");
        assert!(
            d.contains("*** (before)") && d.contains("*** (after)"),
            "{d}"
        );
        assert!(!d.contains("c2VjcmV0") && !d.contains("b3RoZXI="), "{d}");
    }
}
