//! `--prune`: deleting what an earlier run of the same set applied and the
//! files no longer have.
//!
//! Membership is a label the tool owns, `switchyard.dev/apply-set=NAME`,
//! written with every object (so it is a field of our field manager, and
//! an object that leaves the set keeps it until it is pruned). This is the
//! member half of kubectl's ApplySet (KEP-3659: members labelled
//! `applyset.kubernetes.io/part-of=ID`), without its parent object: the
//! parent's `contains-group-kinds` annotation is how kubectl remembers kinds
//! that left the files entirely, and here the kinds searched are those of
//! the current files (a kind dropped from every file is not pruned; delete
//! it yourself). The `applyset.kubernetes.io/*` labels are not used, so
//! kubectl's own `--applyset` pruning never mistakes our sets for its own.
//!
//! Candidates are found with one LIST per kind and namespace of the set,
//! selected by that label (and `--selector`); they are deleted in reverse
//! install order, with background propagation as `kubectl delete` does.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::core::ApiResource;
use serde::Serialize;
use serde_json::Value;

use super::order;
use super::validate::{Object, reference};

/// The label that makes an object a member of a set.
pub const LABEL: &str = "switchyard.dev/apply-set";

/// A set's name is the label's value: at most 63 of `[A-Za-z0-9-_.]`,
/// alphanumeric at both ends.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid apply set name {name:?}: a label value (letters, digits, '-', '_', '.', at most 63, alphanumeric at both ends)"
        ))
    }
}

/// Puts the set's label on an object about to be applied.
pub fn label(body: &mut Value, set: &str) {
    if !body["metadata"]["labels"].is_object() {
        body["metadata"]["labels"] = Value::Object(Default::default());
    }
    body["metadata"]["labels"][LABEL] = Value::from(set);
}

/// An object to delete (or deleted).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pruned {
    pub kind: String,
    pub api_version: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip)]
    resource: Option<ApiResource>,
}

impl Pruned {
    /// `deployment.apps/old`.
    pub fn reference(&self) -> String {
        let group = self.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        reference(&self.kind, group, &self.name)
    }
}

/// The members of set `set` that are not among `objects`, in the kinds and
/// namespaces `objects` use, in the order they are to be deleted.
pub async fn candidates(
    client: &Client,
    objects: &[Object],
    set: &str,
    selector: Option<&str>,
) -> Result<Vec<Pruned>> {
    let keep: BTreeSet<(String, String, Option<String>, String)> = objects
        .iter()
        .map(|o| {
            (
                o.resource.group.clone(),
                o.resource.kind.clone(),
                o.namespace.clone(),
                o.name.clone(),
            )
        })
        .collect();
    // Each kind once (by group and kind: one served version lists them all),
    // in each namespace the set uses it in.
    let mut scopes: Vec<(ApiResource, Option<String>)> = Vec::new();
    for o in objects {
        let same_kind =
            |ar: &ApiResource| ar.group == o.resource.group && ar.kind == o.resource.kind;
        if !scopes
            .iter()
            .any(|(ar, ns)| same_kind(ar) && *ns == o.namespace)
        {
            scopes.push((o.resource.clone(), o.namespace.clone()));
        }
    }
    let mut labels = format!("{LABEL}={set}");
    if let Some(s) = selector {
        labels.push(',');
        labels.push_str(s);
    }
    let mut out = Vec::new();
    for (ar, ns) in scopes {
        let api: Api<DynamicObject> = match &ns {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        let listed = match api.list(&ListParams::default().labels(&labels)).await {
            Ok(l) => l.items,
            // A kind not served yet (its CRD only dry-run applied): nothing of it exists.
            Err(kube::Error::Api(s)) if s.code == 404 => continue,
            Err(e) => {
                let what = match &ns {
                    Some(ns) => format!("listing the {} of apply set {set} in {ns}", ar.plural),
                    None => format!("listing the {} of apply set {set}", ar.plural),
                };
                return Err(anyhow::Error::new(e).context(what));
            }
        };
        for item in listed {
            if item.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let name = item.metadata.name.clone().unwrap_or_default();
            let key = (ar.group.clone(), ar.kind.clone(), ns.clone(), name.clone());
            if !keep.contains(&key) {
                out.push(Pruned {
                    kind: ar.kind.clone(),
                    api_version: ar.api_version.clone(),
                    name,
                    namespace: ns.clone(),
                    resource: Some(ar.clone()),
                });
            }
        }
    }
    // Dependents before what they depend on.
    out.sort_by_key(|p| std::cmp::Reverse(order::rank(&p.kind)));
    Ok(out)
}

/// Deletes one candidate (background propagation); one already gone is fine.
pub async fn delete(client: &Client, p: &Pruned) -> Result<()> {
    let Some(ar) = &p.resource else {
        return Ok(());
    };
    let api: Api<DynamicObject> = match &p.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    match api.delete(&p.name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(anyhow::Error::new(e)).with_context(|| format!("pruning {}", p.reference())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_names_are_label_values() {
        for ok in ["shop", "shop-frontend_main.1", "A1"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "a/b", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_label_joins_what_the_file_has() {
        let mut o = json!({"metadata": {"name": "x", "labels": {"app": "web"}}});
        label(&mut o, "shop");
        assert_eq!(
            o["metadata"]["labels"],
            json!({"app": "web", LABEL: "shop"})
        );
        let mut bare = json!({"metadata": {"name": "x"}});
        label(&mut bare, "shop");
        assert_eq!(bare["metadata"]["labels"][LABEL], "shop");
    }
}
