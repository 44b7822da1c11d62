//! Garbage collection: when an object goes, so do the objects it owns
//! (background propagation, the default of `kubectl delete`).

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::owned_by;
use crate::cluster::Cluster;
use crate::resources::{Conversion, RESOURCES};
use crate::store::{Change, ChangeKind};

fn collect(cluster: &Cluster, c: &Change) {
    let Some(uid) = c.object["metadata"]["uid"].as_str() else {
        return;
    };
    let ns = c.namespace();
    for res in RESOURCES
        .iter()
        .filter(|r| r.namespaced && r.conversion == Conversion::None)
    {
        let scope = if c.res.namespaced { Some(ns) } else { None };
        for o in cluster.store.list(res, scope).0 {
            if owned_by(&o, uid) {
                let (ons, name) = (
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap_or(""),
                );
                // Already gone is fine: someone else collected it.
                let _ = cluster.store.delete(res, ons, name, None, None, false);
            }
        }
    }
}

/// Deletes dependents of every deleted object, until the store's feed closes.
pub async fn run(cluster: Arc<Cluster>) {
    let mut rx = cluster.store.subscribe();
    loop {
        match rx.recv().await {
            Ok(c) if c.kind == ChangeKind::Deleted => {
                // Only types that own things here.
                if matches!(
                    c.res.plural,
                    "deployments"
                        | "replicasets"
                        | "statefulsets"
                        | "daemonsets"
                        | "jobs"
                        | "services"
                        | "pods"
                ) {
                    collect(&cluster, &c);
                }
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}
