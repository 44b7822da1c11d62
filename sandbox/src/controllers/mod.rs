//! Controllers that make the sandbox live, each a level-triggered reconciler
//! over the store's change feed, as kube-controller-manager's are:
//! Deployment → ReplicaSet → Pods (a kubelet that plays pod lifecycles,
//! failures included) → EndpointSlices and Endpoints; and garbage collection.

pub mod deployment;
pub mod endpoints;
pub mod gc;
pub mod kubelet;
pub mod replicaset;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::resources::{self, ResourceType};
use crate::store::{Change, Key};

/// One controller: which objects a change concerns, and how to converge one.
pub trait Reconciler: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Keys to reconcile because of `change`.
    fn keys_for(&self, cluster: &Cluster, change: &Change) -> Vec<Key>;
    /// Every key, for the first pass and after missing changes.
    fn all_keys(&self, cluster: &Cluster) -> Vec<Key>;
    /// Converges one object; `Some(d)` asks to be called again after `d`.
    fn reconcile(&self, cluster: &Cluster, key: &Key) -> Option<Duration>;
}

/// Runs a reconciler until the store's feed closes.
pub async fn run(cluster: Arc<Cluster>, r: impl Reconciler) {
    let mut rx = cluster.store.subscribe();
    let mut queue: BTreeSet<Key> = r.all_keys(&cluster).into_iter().collect();
    let mut timers: BTreeMap<Key, Instant> = BTreeMap::new();
    loop {
        while let Some(key) = queue.pop_first() {
            timers.remove(&key);
            if let Some(after) = r.reconcile(&cluster, &key) {
                timers.insert(key, Instant::now() + after);
            }
        }
        let next = timers.values().min().copied();
        tokio::select! {
            change = rx.recv() => match change {
                Ok(c) => queue.extend(r.keys_for(&cluster, &c)),
                Err(RecvError::Lagged(_)) => queue.extend(r.all_keys(&cluster)),
                Err(RecvError::Closed) => return,
            },
            _ = tokio::time::sleep_until(next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))), if next.is_some() => {}
        }
        // Batch whatever else arrived, and due timers.
        loop {
            match rx.try_recv() {
                Ok(c) => queue.extend(r.keys_for(&cluster, &c)),
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                    queue.extend(r.all_keys(&cluster))
                }
                Err(_) => break,
            }
        }
        let now = Instant::now();
        queue.extend(
            timers
                .iter()
                .filter(|(_, t)| **t <= now)
                .map(|(k, _)| k.clone()),
        );
    }
}

pub(crate) fn res(group: &str, plural: &str) -> &'static ResourceType {
    resources::RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
        .expect("controllers only use served types")
}

pub(crate) fn key_of(obj: &Value) -> Key {
    (
        obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
    )
}

/// The controller owner of `obj` of `kind`, by name.
pub(crate) fn controller_owner(obj: &Value, kind: &str) -> Option<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["kind"] == kind && r["controller"] == true)
        .and_then(|r| r["name"].as_str().map(String::from))
}

pub(crate) fn owned_by(obj: &Value, uid: &str) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
}

pub(crate) fn owner_ref(owner: &Value, api_version: &str, kind: &str) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Sets condition `type` in `conditions`, keeping lastTransitionTime unless the
/// status flips, as controllers do; returns whether anything changed.
pub(crate) fn set_condition(conditions: &mut Value, cond: Value, now: &str) -> bool {
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let list = conditions.as_array_mut().expect("made an array above");
    let same = |a: &Value, b: &Value, k: &str| a[k] == b[k];
    match list.iter_mut().find(|c| c["type"] == cond["type"]) {
        Some(existing) => {
            if same(existing, &cond, "status")
                && same(existing, &cond, "reason")
                && same(existing, &cond, "message")
            {
                return false;
            }
            let mut cond = cond;
            let transition = if same(existing, &cond, "status") {
                existing["lastTransitionTime"].clone()
            } else {
                json!(now)
            };
            cond["lastTransitionTime"] = transition;
            *existing = cond;
            true
        }
        None => {
            let mut cond = cond;
            cond["lastTransitionTime"] = json!(now);
            list.push(cond);
            true
        }
    }
}

/// Starts every controller on the current runtime.
pub fn spawn_all(cluster: &Arc<Cluster>) {
    tokio::spawn(run(
        cluster.clone(),
        deployment::DeploymentController::default(),
    ));
    tokio::spawn(run(cluster.clone(), replicaset::ReplicaSetController));
    tokio::spawn(run(cluster.clone(), kubelet::Kubelet::default()));
    tokio::spawn(run(cluster.clone(), endpoints::EndpointsController));
    tokio::spawn(gc::run(cluster.clone()));
}
