//! ControllerRevisions: the pod-template history of StatefulSets and
//! DaemonSets, as `pkg/controller/history` and the DaemonSet controller's
//! `constructHistory` keep it. One revision per distinct template, named
//! `OWNER-HASH`, its `data` the patch that restores the template
//! (`{"spec":{"template":{...,"$patch":"replace"}}}`, what `getPatch` stores
//! and `kubectl rollout undo` applies), its `revision` one above the highest
//! so far. Going back to an older template reuses its revision object and
//! renumbers it as the newest, as the real controllers do.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{owned_by, owner_ref, res};
use crate::cluster::Cluster;

/// The pod label naming the revision a pod was made from: the revision's
/// name for a StatefulSet, its hash for a DaemonSet.
pub const POD_REVISION_LABEL: &str = "controller-revision-hash";
/// The label `history.NewControllerRevision` puts on a StatefulSet's revisions.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// Whose history: the two differ in labels and naming details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    StatefulSet,
    DaemonSet,
}

impl Owner {
    fn kind(self) -> &'static str {
        match self {
            Owner::StatefulSet => "StatefulSet",
            Owner::DaemonSet => "DaemonSet",
        }
    }
}

/// FNV-32a of the template and the collision count, spelled as
/// `rand.SafeEncodeString(fmt.Sprint(hash))` (what `controller.ComputeHash`
/// returns).
pub fn hash(template: &Value, collisions: i64) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if collisions > 0 {
        bytes.extend_from_slice(&(collisions as u32).to_le_bytes());
    }
    let h = bytes.iter().fold(0x811c9dc5u32, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x01000193)
    });
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The revision's `data`: a strategic merge patch replacing the template.
pub fn patch(template: &Value) -> Value {
    let mut t = template.clone();
    if t.is_object() {
        t["$patch"] = json!("replace");
    }
    json!({ "spec": { "template": t } })
}

/// The template a revision restores.
pub fn template_of(revision: &Value) -> Value {
    let mut t = revision["data"]["spec"]["template"].clone();
    if let Some(m) = t.as_object_mut() {
        m.remove("$patch");
    }
    t
}

pub fn number(revision: &Value) -> i64 {
    revision["revision"].as_i64().unwrap_or(0)
}

pub fn name_of(revision: &Value) -> &str {
    revision["metadata"]["name"].as_str().unwrap_or("")
}

/// The revision's hash: what DaemonSet pods carry as `controller-revision-hash`.
pub fn hash_of(revision: &Value) -> String {
    revision["metadata"]["labels"][POD_REVISION_LABEL]
        .as_str()
        .or_else(|| revision["metadata"]["labels"][HASH_LABEL].as_str())
        .unwrap_or("")
        .to_string()
}

/// The revisions `owner` owns, oldest first.
pub fn list(cluster: &Cluster, owner: &Value) -> Vec<Arc<Value>> {
    let ns = owner["metadata"]["namespace"].as_str().unwrap_or("");
    let uid = owner["metadata"]["uid"].as_str().unwrap_or("");
    let mut revs: Vec<Arc<Value>> = cluster
        .store
        .list(res("apps", "controllerrevisions"), Some(ns))
        .0
        .into_iter()
        .filter(|r| owned_by(r, uid))
        .collect();
    revs.sort_by_key(|r| number(r));
    revs
}

/// The revision of `owner`'s current template, made if none matches, and the
/// owner's revisions (oldest first, the current one included).
pub fn current(
    cluster: &Cluster,
    owner: &Value,
    of: Owner,
) -> Option<(Arc<Value>, Vec<Arc<Value>>)> {
    let revisions = res("apps", "controllerrevisions");
    let ns = owner["metadata"]["namespace"].as_str().unwrap_or("");
    let template = &owner["spec"]["template"];
    let mut revs = list(cluster, owner);
    let max = revs.iter().map(|r| number(r)).max().unwrap_or(0);
    if let Some(i) = revs.iter().position(|r| template_of(r) == *template) {
        if number(&revs[i]) == max {
            return Some((revs[i].clone(), revs));
        }
        // Back to an older template: its revision becomes the newest.
        let name = name_of(&revs[i]).to_string();
        let updated = cluster
            .store
            .update(revisions, ns, &name, false, |cur| {
                let mut n = (**cur).clone();
                n["revision"] = json!(max + 1);
                Ok(n)
            })
            .ok()?;
        revs[i] = updated.clone();
        revs.sort_by_key(|r| number(r));
        return Some((updated, revs));
    }
    let collisions = owner["status"]["collisionCount"].as_i64().unwrap_or(0);
    let h = hash(template, collisions);
    let owner_name = owner["metadata"]["name"].as_str().unwrap_or("");
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    let mut meta = json!({
        "name": format!("{owner_name}-{h}"),
        "namespace": ns,
        "ownerReferences": [owner_ref(owner, "apps/v1", of.kind())],
    });
    match of {
        Owner::StatefulSet => labels[HASH_LABEL] = json!(h),
        Owner::DaemonSet => {
            labels[POD_REVISION_LABEL] = json!(h);
            if let Some(a) = owner["metadata"].get("annotations") {
                meta["annotations"] = a.clone();
            }
        }
    }
    meta["labels"] = labels;
    let cr = json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": meta,
        "data": patch(template),
        "revision": max + 1,
    });
    let created = cluster.store.create(revisions, cr, false).ok()?;
    revs.push(created.clone());
    Some((created, revs))
}

/// Deletes the oldest revisions beyond `limit` that no pod and no status
/// field uses (`truncateHistory`, `cleanupHistory`).
pub fn truncate(cluster: &Cluster, revs: &[Arc<Value>], live: &[String], limit: usize) {
    let revisions = res("apps", "controllerrevisions");
    let unused: Vec<&Arc<Value>> = revs
        .iter()
        .filter(|r| !live.iter().any(|l| l == name_of(r) || *l == hash_of(r)))
        .collect();
    if unused.len() <= limit {
        return;
    }
    for r in &unused[..unused.len() - limit] {
        let ns = r["metadata"]["namespace"].as_str().unwrap_or("");
        let _ = cluster
            .store
            .delete(revisions, ns, name_of(r), None, None, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patch_restores_the_template() {
        let t = json!({"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "db:1"}]}});
        let p = patch(&t);
        assert_eq!(p["spec"]["template"]["$patch"], "replace");
        let rev = json!({"data": p});
        assert_eq!(template_of(&rev), t);
        let h = hash(&t, 0);
        assert!(!h.is_empty() && h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        assert_ne!(hash(&t, 1), h, "a collision count changes the hash");
    }
}
