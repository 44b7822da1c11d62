//! Deployment → ReplicaSets: one ReplicaSet per pod-template hash, rolled by the
//! RollingUpdate (maxSurge/maxUnavailable) or Recreate strategy, and the status
//! and conditions the real controller writes (Available; Progressing with
//! NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable and
//! ProgressDeadlineExceeded), which `kubectl rollout status` reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Reconciler, controller_owner, key_of, owned_by, owner_ref, res, set_condition};
use crate::cluster::Cluster;
use crate::store::{Change, Key, now};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const HASH_LABEL: &str = "pod-template-hash";
/// The revisions a reused ReplicaSet had before.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";

/// Copies the Deployment's annotations onto its new ReplicaSet but those the
/// controller keeps per ReplicaSet, as `copyDeploymentAnnotationsToReplicaSet`
/// does: so `kubernetes.io/change-cause` travels with the revision, and
/// `kubectl rollout undo` brings it back.
fn copy_annotations(d: &Value, to: &mut Value) {
    const SKIP: [&str; 6] = [
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    ];
    let Some(from) = d["metadata"]["annotations"].as_object() else {
        return;
    };
    if !to.is_object() {
        *to = json!({});
    }
    for (k, v) in from {
        if !SKIP.contains(&k.as_str()) {
            to[k] = v.clone();
        }
    }
}

/// FNV-1a of the template, spelled with the alphabet of `rand.SafeEncodeString`
/// as the real controller names ReplicaSets (`web-7d9f8c6b5`).
pub fn template_hash(template: &Value) -> String {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
    }
    let bytes = serde_json::to_vec(&t).unwrap_or_default();
    let h = bytes.iter().fold(0x811c9dc5u32, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x01000193)
    });
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// An int-or-percent of `total`, rounded up for surge and down for unavailable.
pub fn int_or_percent(v: &Value, total: i64, round_up: bool) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) if round_up => (total * p + 99) / 100,
            Some(p) => total * p / 100,
            None => s.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn spec_replicas(rs: &Value) -> i64 {
    rs["spec"]["replicas"].as_i64().unwrap_or(0)
}

fn status_count(rs: &Value, field: &str) -> i64 {
    rs["status"][field].as_i64().unwrap_or(0)
}

#[derive(Default)]
pub struct DeploymentController {
    /// Last progress per Deployment uid, for the progress deadline.
    progress: Mutex<HashMap<String, Instant>>,
}

/// A ReplicaSet as the controller tracks it while it scales.
struct Rs {
    obj: Arc<Value>,
    replicas: i64,
}

impl DeploymentController {
    fn scale(cluster: &Cluster, ns: &str, rs: &mut Rs, to: i64, desired: i64) {
        if rs.replicas == to {
            return;
        }
        let name = rs.obj["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let r = cluster
            .store
            .update(res("apps", "replicasets"), ns, &name, false, |cur| {
                let mut n = (**cur).clone();
                n["spec"]["replicas"] = json!(to);
                n["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
                    json!(desired.to_string());
                Ok(n)
            });
        if let Ok(o) = r {
            crate::events::scaled_replica_set(cluster, &o, rs.replicas, to);
            rs.obj = o;
            rs.replicas = to;
        }
    }
}

impl Reconciler for DeploymentController {
    fn name(&self) -> &'static str {
        "deployment"
    }

    fn keys_for(&self, cluster: &Cluster, c: &Change) -> Vec<Key> {
        match c.res.plural {
            "deployments" => vec![key_of(&c.object)],
            "replicasets" => controller_owner(&c.object, "Deployment")
                .map(|n| vec![(c.namespace().to_string(), n)])
                .unwrap_or_default(),
            // A pod gone for good: Recreate waits for the last old one.
            "pods" if c.kind == crate::store::ChangeKind::Deleted => {
                controller_owner(&c.object, "ReplicaSet")
                    .and_then(|rs| {
                        cluster
                            .store
                            .get(res("apps", "replicasets"), c.namespace(), &rs)
                    })
                    .and_then(|rs| controller_owner(&rs, "Deployment"))
                    .map(|n| vec![(c.namespace().to_string(), n)])
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    fn all_keys(&self, cluster: &Cluster) -> Vec<Key> {
        cluster
            .store
            .list(res("apps", "deployments"), None)
            .0
            .iter()
            .map(|o| key_of(o))
            .collect()
    }

    fn reconcile(&self, cluster: &Cluster, (ns, name): &Key) -> Option<Duration> {
        let deployments = res("apps", "deployments");
        let replicasets = res("apps", "replicasets");
        let d = cluster.store.get(deployments, ns, name)?;
        if d["metadata"].get("deletionTimestamp").is_some() {
            return None;
        }
        let uid = d["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
        let template = d["spec"]["template"].clone();
        let hash = template_hash(&template);
        let mut rss: Vec<Rs> = cluster
            .store
            .list(replicasets, Some(ns))
            .0
            .into_iter()
            .filter(|rs| owned_by(rs, &uid) && rs["metadata"].get("deletionTimestamp").is_none())
            .map(|obj| Rs {
                replicas: spec_replicas(&obj),
                obj,
            })
            .collect();
        rss.sort_by(|a, b| {
            let k = |r: &Rs| {
                (
                    r.obj["metadata"]["creationTimestamp"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    revision(&r.obj),
                )
            };
            k(a).cmp(&k(b))
        });
        let max_rev = rss.iter().map(|r| revision(&r.obj)).max().unwrap_or(0);
        let strategy = &d["spec"]["strategy"];
        let recreate = strategy["type"] == "Recreate";
        let (surge, unavailable) = if recreate {
            (0, 0)
        } else {
            let ru = &strategy["rollingUpdate"];
            let s = int_or_percent(ru.get("maxSurge").unwrap_or(&json!("25%")), replicas, true);
            let u = int_or_percent(
                ru.get("maxUnavailable").unwrap_or(&json!("25%")),
                replicas,
                false,
            );
            if s == 0 && u == 0 { (0, 1) } else { (s, u) }
        };

        // Find or make the ReplicaSet for the current template.
        let mut created = None;
        let new_idx = match rss
            .iter()
            .position(|r| r.obj["metadata"]["labels"][HASH_LABEL] == hash.as_str())
        {
            Some(i) => {
                // The new ReplicaSet carries the Deployment's annotations, and
                // a rollback to an older template makes it the newest
                // revision, its old number kept in revision-history, as
                // `setNewReplicaSetAnnotations` does.
                let old_rev = revision(&rss[i].obj);
                let bump = old_rev < max_rev || max_rev == 0;
                let mut annotations = rss[i].obj["metadata"]["annotations"].clone();
                copy_annotations(&d, &mut annotations);
                if bump {
                    annotations[REVISION] = json!((max_rev + 1).to_string());
                    if old_rev > 0 {
                        let mut history: Vec<String> = annotations[REVISION_HISTORY]
                            .as_str()
                            .map(|h| h.split(',').map(String::from).collect())
                            .unwrap_or_default();
                        history.push(old_rev.to_string());
                        annotations[REVISION_HISTORY] = json!(history.join(","));
                    }
                }
                if annotations != rss[i].obj["metadata"]["annotations"] {
                    let rs_name = rss[i].obj["metadata"]["name"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    if let Ok(o) = cluster
                        .store
                        .update(replicasets, ns, &rs_name, false, |cur| {
                            let mut n = (**cur).clone();
                            n["metadata"]["annotations"] = annotations.clone();
                            Ok(n)
                        })
                    {
                        rss[i].obj = o;
                    }
                }
                i
            }
            None => {
                let mut labels = template["metadata"]["labels"].clone();
                labels[HASH_LABEL] = json!(hash);
                let mut tmpl = template.clone();
                tmpl["metadata"]["labels"] = labels.clone();
                let mut selector = d["spec"]["selector"].clone();
                selector["matchLabels"][HASH_LABEL] = json!(hash);
                let mut new_annotations = json!({
                    REVISION: (max_rev + 1).to_string(),
                    "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                    "deployment.kubernetes.io/max-replicas": (replicas + surge).to_string(),
                });
                copy_annotations(&d, &mut new_annotations);
                let rs = json!({
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": format!("{name}-{hash}"),
                        "namespace": ns,
                        "labels": labels,
                        "annotations": new_annotations,
                        "ownerReferences": [owner_ref(&d, "apps/v1", "Deployment")],
                    },
                    "spec": { "replicas": 0, "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0), "selector": selector, "template": tmpl },
                });
                let obj = cluster.store.create(replicasets, rs, false).ok()?;
                created = Some(obj["metadata"]["name"].as_str().unwrap_or("").to_string());
                rss.push(Rs { obj, replicas: 0 });
                rss.len() - 1
            }
        };
        let new_rs = rss.remove(new_idx);
        let mut new_rs = new_rs;
        let mut old = rss;

        if d["spec"]["paused"] != true {
            if recreate {
                for o in old.iter_mut() {
                    Self::scale(cluster, ns, o, 0, replicas);
                }
                // As the real controller's oldPodsRunning: every pod of an old
                // ReplicaSet that has not finished, Terminating ones included.
                let old_uids: Vec<&str> = old
                    .iter()
                    .filter_map(|o| o.obj["metadata"]["uid"].as_str())
                    .collect();
                let old_pods = cluster
                    .store
                    .list(res("", "pods"), Some(ns))
                    .0
                    .iter()
                    .filter(|p| old_uids.iter().any(|u| owned_by(p, u)))
                    .filter(|p| {
                        !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
                    })
                    .count();
                if old_pods == 0 {
                    Self::scale(cluster, ns, &mut new_rs, replicas, replicas);
                }
            } else {
                let total: i64 = old.iter().map(|o| o.replicas).sum::<i64>() + new_rs.replicas;
                let target = if new_rs.replicas > replicas {
                    replicas
                } else if total < replicas + surge {
                    (new_rs.replicas + replicas + surge - total).min(replicas)
                } else {
                    new_rs.replicas
                };
                Self::scale(cluster, ns, &mut new_rs, target, replicas);
                let all: i64 = old.iter().map(|o| o.replicas).sum::<i64>() + new_rs.replicas;
                let min_available = replicas - unavailable;
                let new_unavailable =
                    (new_rs.replicas - status_count(&new_rs.obj, "availableReplicas")).max(0);
                let mut budget = all - min_available - new_unavailable;
                // Unhealthy old pods go first: they serve nothing.
                for o in old.iter_mut() {
                    if budget <= 0 {
                        break;
                    }
                    let unhealthy = (o.replicas - status_count(&o.obj, "availableReplicas")).max(0);
                    let cut = unhealthy.min(budget);
                    if cut > 0 {
                        let to = o.replicas - cut;
                        Self::scale(cluster, ns, o, to, replicas);
                        budget -= cut;
                    }
                }
                let available: i64 = old
                    .iter()
                    .map(|o| status_count(&o.obj, "availableReplicas").min(o.replicas))
                    .sum::<i64>()
                    + status_count(&new_rs.obj, "availableReplicas");
                let mut healthy_budget = (available - min_available).min(budget);
                for o in old.iter_mut() {
                    if healthy_budget <= 0 {
                        break;
                    }
                    let cut = o.replicas.min(healthy_budget);
                    if cut > 0 {
                        let to = o.replicas - cut;
                        Self::scale(cluster, ns, o, to, replicas);
                        healthy_budget -= cut;
                    }
                }
            }
            // Keep revisionHistoryLimit old, empty ReplicaSets.
            let limit = d["spec"]["revisionHistoryLimit"]
                .as_i64()
                .unwrap_or(10)
                .max(0) as usize;
            let empty: Vec<&Rs> = old
                .iter()
                .filter(|o| o.replicas == 0 && status_count(&o.obj, "replicas") == 0)
                .collect();
            if empty.len() > limit {
                for o in &empty[..empty.len() - limit] {
                    let n = o.obj["metadata"]["name"].as_str().unwrap_or("");
                    let _ = cluster.store.delete(replicasets, ns, n, None, None, false);
                }
            }
        }

        // Status, from the ReplicaSets' status.
        let all: Vec<&Rs> = old.iter().chain(std::iter::once(&new_rs)).collect();
        let sum = |f: &str| all.iter().map(|r| status_count(&r.obj, f)).sum::<i64>();
        let (actual, ready, available) = (
            sum("replicas"),
            sum("readyReplicas"),
            sum("availableReplicas"),
        );
        let updated = status_count(&new_rs.obj, "replicas");
        let spec_total: i64 = all.iter().map(|r| r.replicas).sum();
        let prev = &d["status"];
        let progressed = created.is_some()
            || updated > prev["updatedReplicas"].as_i64().unwrap_or(0)
            || actual < prev["replicas"].as_i64().unwrap_or(0)
            || ready > prev["readyReplicas"].as_i64().unwrap_or(0)
            || available > prev["availableReplicas"].as_i64().unwrap_or(0)
            || d["metadata"]["generation"] != prev["observedGeneration"];
        let complete = updated == replicas
            && available >= replicas
            && actual == replicas
            && status_count(&new_rs.obj, "availableReplicas") >= replicas;
        let rs_name = new_rs.obj["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let deadline = d["spec"]["progressDeadlineSeconds"]
            .as_i64()
            .map(|s| Duration::from_secs(s.max(0) as u64));
        let last_progress = {
            let mut map = self.progress.lock().unwrap_or_else(|e| e.into_inner());
            let t = map.entry(uid.clone()).or_insert_with(Instant::now);
            if progressed {
                *t = Instant::now();
            }
            *t
        };
        let ts = now();
        let prev_reason = prev["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing"))
            .and_then(|c| c["reason"].as_str())
            .unwrap_or("")
            .to_string();
        let (p_status, p_reason, p_message) = if let Some(n) = &created {
            (
                true,
                "NewReplicaSetCreated",
                format!("Created new replica set \"{n}\""),
            )
        } else if complete {
            (
                true,
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            )
        } else if !progressed
            && (prev_reason == "ProgressDeadlineExceeded"
                || deadline.is_some_and(|dl| last_progress.elapsed() >= dl))
        {
            (
                false,
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
            )
        } else {
            (
                true,
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{rs_name}\" is progressing."),
            )
        };
        let available_ok = available >= replicas - unavailable;
        let mut status = json!({
            "observedGeneration": d["metadata"]["generation"],
            "replicas": actual,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "unavailableReplicas": (spec_total - available).max(0),
            "conditions": prev["conditions"].clone(),
        });
        for field in [
            "readyReplicas",
            "availableReplicas",
            "updatedReplicas",
            "replicas",
            "unavailableReplicas",
        ] {
            if status[field] == 0 {
                status.as_object_mut().map(|m| m.remove(field));
            }
        }
        let mut avail_cond = json!({
            "type": "Available",
            "status": if available_ok { "True" } else { "False" },
            "reason": if available_ok { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
            "message": if available_ok { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." },
        });
        let mut prog_cond = json!({
            "type": "Progressing",
            "status": if p_status { "True" } else { "False" },
            "reason": p_reason,
            "message": p_message,
        });
        let keep_update_time = |t: &str, c: &mut Value| {
            let old = prev["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == t));
            c["lastUpdateTime"] = match old {
                Some(o)
                    if o["reason"] == c["reason"]
                        && o["message"] == c["message"]
                        && !(t == "Progressing" && progressed) =>
                {
                    o["lastUpdateTime"].clone()
                }
                _ => json!(ts),
            };
        };
        keep_update_time("Available", &mut avail_cond);
        keep_update_time("Progressing", &mut prog_cond);
        let conds = &mut status["conditions"];
        set_condition(conds, avail_cond.clone(), &ts);
        set_condition(conds, prog_cond.clone(), &ts);
        // set_condition leaves lastUpdateTime of an unchanged condition alone.
        if let Some(cs) = conds.as_array_mut() {
            for c in cs.iter_mut() {
                let src = if c["type"] == "Available" {
                    &avail_cond
                } else {
                    &prog_cond
                };
                c["lastUpdateTime"] = src["lastUpdateTime"].clone();
            }
            cs.sort_by_key(|c| if c["type"] == "Available" { 0 } else { 1 });
        }
        let rev = revision(&new_rs.obj).to_string();
        let _ = cluster.store.update(deployments, ns, name, false, |cur| {
            let mut n = (**cur).clone();
            n["status"] = status;
            n["metadata"]["annotations"][REVISION] = json!(rev);
            Ok(n)
        });
        match (complete, deadline) {
            (false, Some(dl)) if p_reason != "ProgressDeadlineExceeded" => Some(
                dl.saturating_sub(last_progress.elapsed())
                    .max(Duration::from_millis(50)),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_or_percent_rounds_like_upstream() {
        assert_eq!(int_or_percent(&json!("25%"), 3, true), 1);
        assert_eq!(int_or_percent(&json!("25%"), 3, false), 0);
        assert_eq!(int_or_percent(&json!("25%"), 10, true), 3);
        assert_eq!(int_or_percent(&json!("25%"), 10, false), 2);
        assert_eq!(int_or_percent(&json!(2), 10, false), 2);
        assert_eq!(int_or_percent(&json!("3"), 10, false), 3);
    }

    #[test]
    fn template_hash_ignores_its_own_label_and_tracks_content() {
        let t = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "web:1"}]}});
        let h = template_hash(&t);
        assert!(
            h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{h}"
        );
        let mut labelled = t.clone();
        labelled["metadata"]["labels"][HASH_LABEL] = json!(h.clone());
        assert_eq!(template_hash(&labelled), h);
        let mut changed = t.clone();
        changed["spec"]["containers"][0]["image"] = json!("web:2");
        assert_ne!(template_hash(&changed), h);
    }
}
