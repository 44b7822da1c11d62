//! Field ownership (`metadata.managedFields`) and server-side apply
//! conflicts, at the granularity the real server keeps them
//! (structured-merge-diff): sets of leaf paths, with list items keyed by
//! their merge keys (`k:{"name":"web"}`), scalars of a set by value
//! (`v:"x"`), and atomic lists whole.
//!
//! - Every write records what it changed under its manager (`fieldManager`,
//!   else the User-Agent's first word) as an `Update` entry, and takes
//!   those fields from every other manager.
//! - An apply owns exactly the fields of its configuration (an `Apply`
//!   entry); a field another manager owns with a different value is a 409
//!   Conflict with the real message unless `force=true`, which takes it;
//!   fields it owned and leaves out are removed unless another owns them.
//!
//! Not modelled: ownership by controllers (they write the store directly),
//! version conversion of field sets, and `x-kubernetes-map-type` on custom
//! resources (their lists are atomic, their maps granular).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::patch::strategic::list_merge_key;
use crate::status::ApiError;

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Elem {
    /// A struct field or map key.
    Field(String),
    /// A list item by its key fields, as canonical JSON (`{"name":"web"}`).
    Key(String),
    /// A scalar of a set, as JSON (`"example.com/keep"`).
    Value(String),
}

pub type Path = Vec<Elem>;
pub type Set = BTreeSet<Path>;

/// Fields no manager owns: identity and bookkeeping.
fn excluded(path: &[String]) -> bool {
    match path {
        [top] => matches!(top.as_str(), "apiVersion" | "kind"),
        [meta, f] if meta == "metadata" => matches!(
            f.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
                | "managedFields"
                | "selfLink"
        ),
        _ => false,
    }
}

/// The key fields of the items of the list at `names`: (field, default).
fn list_keys(kind: &str, custom: bool, names: &[String]) -> Option<Vec<(&'static str, Value)>> {
    if custom {
        return None;
    }
    let path: Vec<&str> = names.iter().map(String::as_str).collect();
    let key = list_merge_key(kind, &path)?;
    Some(match key {
        "" => Vec::new(),
        // structured-merge-diff keys ports by number and protocol.
        "containerPort" | "port" => vec![(key, Value::Null), ("protocol", json!("TCP"))],
        k => vec![(k, Value::Null)],
    })
}

fn item_key(item: &Value, keys: &[(&'static str, Value)]) -> Option<String> {
    let mut m = Map::new();
    for (k, default) in keys {
        let v = item.get(*k).filter(|v| !v.is_null()).unwrap_or(default);
        if v.is_null() {
            return None;
        }
        m.insert((*k).to_string(), v.clone());
    }
    Some(Value::Object(m).to_string())
}

/// The leaf paths of `obj` (and its keyed list items), for a `kind` object.
pub fn fields(obj: &Value, kind: &str, custom: bool, skip_status: bool) -> Set {
    let mut out = Set::new();
    walk(
        obj,
        kind,
        custom,
        skip_status,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut out,
    );
    out
}

fn walk(
    v: &Value,
    kind: &str,
    custom: bool,
    skip_status: bool,
    names: &mut Vec<String>,
    path: &mut Path,
    out: &mut Set,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                names.push(k.clone());
                let skip = excluded(names) || (skip_status && names.len() == 1 && k == "status");
                if !skip && !x.is_null() {
                    path.push(Elem::Field(k.clone()));
                    walk(x, kind, custom, skip_status, names, path, out);
                    path.pop();
                }
                names.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match list_keys(kind, custom, names) {
            Some(keys) if keys.is_empty() => {
                for item in items {
                    path.push(Elem::Value(item.to_string()));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            Some(keys) if items.iter().all(|i| item_key(i, &keys).is_some()) => {
                for item in items {
                    let key = item_key(item, &keys).expect("checked");
                    path.push(Elem::Key(key));
                    out.insert(path.clone());
                    walk(item, kind, custom, skip_status, names, path, out);
                    path.pop();
                }
            }
            _ => {
                out.insert(path.clone());
            }
        },
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The value at `path` in `obj`, if there is one.
pub fn value_at<'a>(obj: &'a Value, path: &[Elem]) -> Option<&'a Value> {
    let mut cur = obj;
    for e in path {
        cur = match e {
            Elem::Field(k) => cur.get(k)?,
            Elem::Key(key) => {
                let want: Map<String, Value> = serde_json::from_str(key).ok()?;
                cur.as_array()?.iter().find(|item| {
                    want.iter().all(|(k, v)| match item.get(k) {
                        Some(x) if !x.is_null() => x == v,
                        // A defaulted key field the item leaves out.
                        _ => k == "protocol" && v == "TCP",
                    })
                })?
            }
            Elem::Value(json) => {
                let want: Value = serde_json::from_str(json).ok()?;
                cur.as_array()?.iter().find(|x| **x == want)?
            }
        };
    }
    Some(cur)
}

/// Removes what `path` names from `obj` (a field, a list item, a set value).
fn remove_at(obj: &mut Value, path: &[Elem]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(parent) = parents.iter().try_fold(&mut *obj, |cur, e| match e {
        Elem::Field(k) => cur.get_mut(k),
        _ => {
            let idx = index_of(cur, e)?;
            cur.get_mut(idx)
        }
    }) else {
        return;
    };
    match last {
        Elem::Field(k) => {
            if let Some(m) = parent.as_object_mut() {
                m.remove(k);
            }
        }
        e => {
            if let Some(i) = index_of(parent, e)
                && let Some(a) = parent.as_array_mut()
            {
                a.remove(i);
            }
        }
    }
}

fn index_of(list: &Value, e: &Elem) -> Option<usize> {
    let items = list.as_array()?;
    let found = value_at(list, std::slice::from_ref(e))?;
    items.iter().position(|x| std::ptr::eq(x, found))
}

/// `.spec.containers[name="web"].image`, as structured-merge-diff prints paths.
pub fn path_string(path: &[Elem]) -> String {
    let mut s = String::new();
    for e in path {
        match e {
            Elem::Field(k) => {
                s.push('.');
                s.push_str(k);
            }
            Elem::Key(key) => {
                let m: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            Elem::Value(v) => s.push_str(&format!("[={v}]")),
        }
    }
    s
}

/// A set as `fieldsV1`: `{"f:spec": {"f:replicas": {}}}`, with `.` on a
/// node that is owned itself and has owned children (a list item).
pub fn to_fields_v1(set: &Set) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for e in path {
            let key = match e {
                Elem::Field(k) => format!("f:{k}"),
                Elem::Key(k) => format!("k:{k}"),
                Elem::Value(v) => format!("v:{v}"),
            };
            node = node
                .entry(key)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("nodes are objects");
        }
        node.insert(".".into(), json!({}));
    }
    // `.` only where a node has children too: a bare leaf is `{}`.
    fn tidy(m: &mut Map<String, Value>) {
        for v in m.values_mut() {
            if let Some(child) = v.as_object_mut() {
                tidy(child);
                if child.len() == 1 && child.contains_key(".") {
                    child.clear();
                }
            }
        }
    }
    tidy(&mut root);
    Value::Object(root)
}

/// The set a `fieldsV1` describes.
pub fn from_fields_v1(v: &Value) -> Set {
    fn go(v: &Value, path: &mut Path, out: &mut Set) {
        let Some(m) = v.as_object() else { return };
        if m.is_empty() && !path.is_empty() {
            out.insert(path.clone());
        }
        for (k, child) in m {
            if k == "." {
                out.insert(path.clone());
                continue;
            }
            let e = if let Some(f) = k.strip_prefix("f:") {
                Elem::Field(f.to_string())
            } else if let Some(key) = k.strip_prefix("k:") {
                Elem::Key(key.to_string())
            } else if let Some(val) = k.strip_prefix("v:") {
                Elem::Value(val.to_string())
            } else {
                continue;
            };
            path.push(e);
            go(child, path, out);
            path.pop();
        }
    }
    let mut out = Set::new();
    go(v, &mut Vec::new(), &mut out);
    out
}

/// One `managedFields` entry.
#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    subresource: Option<String>,
    set: Set,
    /// The stored entry, kept as is while its set does not change.
    stored: Option<Value>,
}

impl Entry {
    fn same_owner(&self, manager: &str, operation: &str, sub: Option<&str>) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.as_deref() == sub
    }

    /// How conflict messages name it (`"kubectl" using v1` for an Update).
    fn described(&self) -> String {
        let mut s = format!("\"{}\"", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource \"{sub}\""));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn to_json(&self) -> Value {
        if let Some(v) = &self.stored
            && from_fields_v1(&v["fieldsV1"]) == self.set
        {
            return v.clone();
        }
        let mut e = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": crate::store::now(),
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(&self.set),
        });
        if let Some(sub) = &self.subresource {
            e["subresource"] = json!(sub);
        }
        e
    }
}

fn entries(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or("").to_string(),
            operation: e["operation"].as_str().unwrap_or("").to_string(),
            api_version: e["apiVersion"].as_str().unwrap_or("").to_string(),
            subresource: e["subresource"].as_str().map(String::from),
            set: from_fields_v1(&e["fieldsV1"]),
            stored: Some(e.clone()),
        })
        .collect()
}

fn store_entries(obj: &mut Value, list: Vec<Entry>) {
    let list: Vec<Value> = list
        .iter()
        .filter(|e| !e.set.is_empty())
        .map(Entry::to_json)
        .collect();
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    if list.is_empty() {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
    } else {
        obj["metadata"]["managedFields"] = Value::Array(list);
    }
}

/// Who a write is by: what the manager entry is keyed by.
#[derive(Clone, Debug)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub kind: &'a str,
    pub custom: bool,
    /// `status` for a write to the status subresource.
    pub subresource: Option<&'a str>,
}

impl Writer<'_> {
    fn skip_status(&self) -> bool {
        self.subresource.is_none()
    }
}

/// Records an Update (create, PUT, non-apply PATCH) of `old` (None for a
/// create) into `new`: the changed fields become `w.manager`'s, and no
/// other manager owns them (or the removed ones) any more.
pub fn record_update(old: Option<&Value>, new: &mut Value, w: &Writer) {
    let mut list = old.map(entries).unwrap_or_default();
    let skip_status = w.skip_status();
    let new_fields = fields(new, w.kind, w.custom, skip_status);
    let changed: Set = new_fields
        .iter()
        .filter(|p| old.and_then(|o| value_at(o, p)) != value_at(new, p))
        .cloned()
        .collect();
    let removed: Set = old
        .map(|o| fields(o, w.kind, w.custom, skip_status))
        .unwrap_or_default()
        .difference(&new_fields)
        .cloned()
        .collect();
    if changed.is_empty() && removed.is_empty() {
        store_entries(new, list);
        return;
    }
    for e in &mut list {
        e.set
            .retain(|p| !changed.contains(p) && !removed.contains(p));
    }
    match list
        .iter_mut()
        .find(|e| e.same_owner(w.manager, "Update", w.subresource))
    {
        Some(e) => {
            e.set.extend(changed);
            e.api_version = w.api_version.to_string();
        }
        None => list.push(Entry {
            manager: w.manager.to_string(),
            operation: "Update".into(),
            api_version: w.api_version.to_string(),
            subresource: w.subresource.map(String::from),
            set: changed,
            stored: None,
        }),
    }
    store_entries(new, list);
}

/// Server-side apply of the configuration `applied` by `w.manager` onto
/// `live` (None when it creates the object), given `merged`, the object
/// with the configuration merged in. Checks conflicts (409 unless
/// `force`), prunes the fields the manager applied before and no longer
/// does, and sets `merged`'s managedFields.
pub fn record_apply(
    live: Option<&Value>,
    applied: &Value,
    merged: &mut Value,
    w: &Writer,
    force: bool,
) -> Result<(), ApiError> {
    let mut list = live.map(entries).unwrap_or_default();
    let skip_status = w.skip_status();
    let mine = fields(applied, w.kind, w.custom, skip_status);
    let is_mine = |e: &Entry| e.same_owner(w.manager, "Apply", w.subresource);
    // Conflicts: a field of the configuration another manager owns, whose
    // value the apply changes.
    let mut conflicts: Vec<(usize, Path)> = Vec::new();
    if let Some(live) = live {
        for (i, e) in list.iter().enumerate().filter(|(_, e)| !is_mine(e)) {
            for p in e.set.intersection(&mine) {
                let leaf = !matches!(p.last(), Some(Elem::Key(_)));
                if leaf && value_at(live, p) != value_at(merged, p) {
                    conflicts.push((i, p.clone()));
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&list, &conflicts));
    }
    for (i, p) in &conflicts {
        list[*i].set.remove(p);
    }
    // Prune what this manager applied before and now leaves out, unless
    // another manager owns it (or something under it).
    let before = list
        .iter()
        .find(|e| is_mine(e))
        .map(|e| e.set.clone())
        .unwrap_or_default();
    let others: Set = list
        .iter()
        .filter(|e| !is_mine(e))
        .flat_map(|e| e.set.iter().cloned())
        .collect();
    let dropped: Vec<&Path> = before.difference(&mine).collect();
    for p in &dropped {
        let owned_below = others.iter().any(|o| o.starts_with(p));
        if !owned_below {
            remove_at(merged, p);
        }
    }
    match list.iter_mut().find(|e| is_mine(e)) {
        Some(e) => {
            e.set = mine;
            e.api_version = w.api_version.to_string();
        }
        None => list.push(Entry {
            manager: w.manager.to_string(),
            operation: "Apply".into(),
            api_version: w.api_version.to_string(),
            subresource: w.subresource.map(String::from),
            set: mine,
            stored: None,
        }),
    }
    store_entries(merged, list);
    Ok(())
}

/// The 409 of apply/conflict.go: one line for one conflict, grouped by
/// manager for more, with a FieldManagerConflict cause per field.
fn conflict_error(list: &[Entry], conflicts: &[(usize, Path)]) -> ApiError {
    let message = if let [(i, p)] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            list[*i].described(),
            path_string(p)
        )
    } else {
        let mut managers: Vec<String> = conflicts
            .iter()
            .map(|(i, _)| list[*i].described())
            .collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for m in &managers {
            lines.push(format!("conflicts with {m}:"));
            for (_, p) in conflicts.iter().filter(|(i, _)| list[*i].described() == *m) {
                lines.push(format!("- {}", path_string(p)));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(i, p)| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {}", list[*i].described()),
                "field": path_string(p),
            })
        })
        .collect();
    ApiError {
        details: Some(json!({ "causes": causes })),
        ..ApiError::new(409, "Conflict", message)
    }
}

/// The manager of a non-apply write: `fieldManager`, else the User-Agent's
/// first word (`kubectl/v1.32.4 (linux/amd64)` → `kubectl`), as the real
/// server defaults it.
pub fn manager_of(field_manager: Option<&str>, user_agent: &str) -> String {
    match field_manager {
        Some(m) => m.to_string(),
        None => match user_agent.split('/').next().unwrap_or("") {
            "" => "unknown".to_string(),
            prefix => prefix.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "v1",
            kind: "ConfigMap",
            custom: false,
            subresource: None,
        }
    }

    #[test]
    fn fields_key_list_items_and_leave_identity_out() {
        let d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "web", "image": "w:1", "ports": [{"containerPort": 80}], "args": ["a"]}
            ]}}},
        });
        let set = fields(&d, "Deployment", false, true);
        let strings: Vec<String> = set.iter().map(|p| path_string(p)).collect();
        assert_eq!(
            strings,
            [
                ".metadata.labels.app",
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"web\"]",
                ".spec.template.spec.containers[name=\"web\"].args",
                ".spec.template.spec.containers[name=\"web\"].image",
                ".spec.template.spec.containers[name=\"web\"].name",
                ".spec.template.spec.containers[name=\"web\"].ports[containerPort=80,protocol=\"TCP\"]",
                ".spec.template.spec.containers[name=\"web\"].ports[containerPort=80,protocol=\"TCP\"].containerPort",
            ]
        );
        let v1 = to_fields_v1(&set);
        assert_eq!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["."],
            json!({})
        );
        assert_eq!(from_fields_v1(&v1), set);
    }

    #[test]
    fn a_second_manager_conflicts_on_a_shared_field_but_not_on_its_own() {
        let live0 = json!({"metadata": {"name": "c"}, "data": {"k": "a"}});
        let mut live = live0.clone();
        record_apply(None, &live0, &mut live, &w("alice"), false).unwrap();
        // bob sets another key: no conflict, both own their own.
        let bob = json!({"data": {"other": "x"}});
        let mut merged = live.clone();
        merged["data"]["other"] = json!("x");
        record_apply(Some(&live), &bob, &mut merged, &w("bob"), false).unwrap();
        let live = merged;
        // bob sets alice's key to another value: 409.
        let bob2 = json!({"data": {"k": "b", "other": "x"}});
        let mut merged = live.clone();
        merged["data"]["k"] = json!("b");
        let e =
            record_apply(Some(&live), &bob2, &mut merged.clone(), &w("bob"), false).unwrap_err();
        assert_eq!(e.code, 409);
        assert_eq!(
            e.message,
            "Apply failed with 1 conflict: conflict with \"alice\": .data.k"
        );
        // The same value is shared, not a conflict.
        let same = json!({"data": {"k": "a", "other": "x"}});
        let mut m2 = live.clone();
        record_apply(Some(&live), &same, &mut m2, &w("bob"), false).unwrap();
        // Forced, bob takes it from alice.
        record_apply(Some(&live), &bob2, &mut merged, &w("bob"), true).unwrap();
        let list = entries(&merged);
        let alice = list.iter().find(|e| e.manager == "alice");
        assert!(alice.is_none(), "alice owns nothing any more: {merged}");
    }

    #[test]
    fn an_update_takes_the_fields_it_changes() {
        let mut a = json!({"data": {"k": "a"}});
        record_update(None, &mut a, &w("kubectl-create"));
        let mut b = a.clone();
        b["data"]["k"] = json!("b");
        record_update(Some(&a), &mut b, &w("kubectl-edit"));
        let list = entries(&b);
        assert_eq!(list.len(), 1, "{b}");
        assert_eq!(list[0].manager, "kubectl-edit");
        // An apply of that field now conflicts with the Update manager.
        let mut merged = b.clone();
        merged["data"]["k"] = json!("c");
        let e = record_apply(
            Some(&b),
            &json!({"data": {"k": "c"}}),
            &mut merged,
            &w("ci"),
            false,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.k"
        );
    }

    #[test]
    fn an_apply_prunes_what_it_no_longer_sets() {
        let cfg = json!({"data": {"k": "a", "gone": "x"}});
        let mut live = cfg.clone();
        record_apply(None, &cfg, &mut live, &w("alice"), false).unwrap();
        let next = json!({"data": {"k": "a"}});
        let mut merged = live.clone();
        record_apply(Some(&live), &next, &mut merged, &w("alice"), false).unwrap();
        assert!(merged["data"].get("gone").is_none(), "{merged}");
    }
}
