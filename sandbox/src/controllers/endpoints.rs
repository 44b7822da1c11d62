//! Service → EndpointSlice and Endpoints, listing the selected pods with IPs and
//! their readiness, as the endpointslice and endpoints controllers write them.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Reconciler, key_of, owner_ref, res};
use crate::cluster::Cluster;
use crate::controllers::kubelet::{NODE_NAME, pod_is_ready};
use crate::selector::LabelSelector;
use crate::store::{Change, Key};

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

pub struct EndpointsController;

/// The pod's condition `kind` is True (whether or not the pod is being deleted).
fn pod_condition_true(pod: &Value, kind: &str) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

fn selector_of(svc: &Value) -> Option<LabelSelector> {
    svc["spec"]["selector"]
        .as_object()
        .filter(|m| !m.is_empty())
        .map(LabelSelector::from_map)
}

/// The pod port a Service port's targetPort names (a number, or a container port name).
fn target_port(sp: &Value, pods: &[std::sync::Arc<Value>]) -> Option<i64> {
    let tp = sp.get("targetPort").unwrap_or(&sp["port"]);
    if let Some(n) = tp.as_i64() {
        return Some(n);
    }
    let name = tp.as_str()?;
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    pods.iter().find_map(|p| {
        p["spec"]["containers"].as_array()?.iter().find_map(|c| {
            c["ports"]
                .as_array()?
                .iter()
                .find(|cp| cp["name"] == name)?["containerPort"]
                .as_i64()
        })
    })
}

impl Reconciler for EndpointsController {
    fn name(&self) -> &'static str {
        "endpoints"
    }

    fn delay(&self, settings: &crate::Settings) -> Duration {
        settings.endpoints_delay
    }

    fn keys_for(&self, cluster: &Cluster, c: &Change) -> Vec<Key> {
        match c.res.plural {
            "services" => vec![key_of(&c.object)],
            "pods" => {
                let ns = c.namespace();
                cluster
                    .store
                    .list(res("", "services"), Some(ns))
                    .0
                    .iter()
                    .filter(|svc| {
                        selector_of(svc).is_some_and(|s| {
                            s.matches_object(&c.object)
                                || c.old.as_ref().is_some_and(|o| s.matches_object(o))
                        })
                    })
                    .map(|svc| key_of(svc))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn all_keys(&self, cluster: &Cluster) -> Vec<Key> {
        cluster
            .store
            .list(res("", "services"), None)
            .0
            .iter()
            .map(|o| key_of(o))
            .collect()
    }

    fn reconcile(&self, cluster: &Cluster, (ns, name): &Key) -> Option<Duration> {
        let slices = res("discovery.k8s.io", "endpointslices");
        let eps = res("", "endpoints");
        let svc_label = LabelSelector::parse(&format!("{SERVICE_NAME_LABEL}={name}")).ok()?;
        let existing: Vec<_> = cluster
            .store
            .list(slices, Some(ns))
            .0
            .into_iter()
            .filter(|s| svc_label.matches_object(s))
            .collect();
        let Some(svc) = cluster.store.get(res("", "services"), ns, name) else {
            // The GC removes owned slices; Endpoints share the Service's name.
            let _ = cluster.store.delete(eps, ns, name, None, None, false);
            return None;
        };
        // Without a selector the user manages endpoints.
        let selector = selector_of(&svc)?;
        let mut pods: Vec<_> = cluster
            .store
            .list(res("", "pods"), Some(ns))
            .0
            .into_iter()
            .filter(|p| selector.matches_object(p) && p["status"]["podIP"].is_string())
            .collect();
        pods.sort_by(|a, b| {
            a["metadata"]["name"]
                .as_str()
                .cmp(&b["metadata"]["name"].as_str())
        });
        let ports: Vec<Value> = svc["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|sp| {
                let mut p = json!({ "port": target_port(sp, &pods)?, "protocol": sp["protocol"].as_str().unwrap_or("TCP") });
                p["name"] = sp.get("name").cloned().unwrap_or(json!(""));
                Some(p)
            })
            .collect();
        let target_ref = |p: &Value| json!({ "kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"] });
        let endpoints: Vec<Value> = pods
            .iter()
            .map(|p| {
                // Terminating pods stay listed, not ready, serving while their
                // containers still pass readiness (EndpointSliceTerminatingCondition,
                // GA in 1.26), so load balancers can drain them.
                let terminating = p["metadata"].get("deletionTimestamp").is_some();
                let serving = pod_condition_true(p, "Ready");
                json!({
                    "addresses": [p["status"]["podIP"]],
                    "conditions": { "ready": serving && !terminating, "serving": serving, "terminating": terminating },
                    "targetRef": target_ref(p),
                    "nodeName": p["spec"]["nodeName"].as_str().unwrap_or(NODE_NAME),
                })
            })
            .collect();
        let labels = json!({ SERVICE_NAME_LABEL: name, "endpointslice.kubernetes.io/managed-by": MANAGED_BY });
        match existing.first() {
            Some(slice) => {
                let sname = slice["metadata"]["name"].as_str().unwrap_or("").to_string();
                let _ = cluster.store.update(slices, ns, &sname, false, |cur| {
                    let mut n = (**cur).clone();
                    n["endpoints"] = json!(endpoints);
                    n["ports"] = json!(ports);
                    Ok(n)
                });
                for extra in &existing[1..] {
                    let en = extra["metadata"]["name"].as_str().unwrap_or("");
                    let _ = cluster.store.delete(slices, ns, en, None, None, false);
                }
            }
            None => {
                let slice = json!({
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "generateName": format!("{name}-"),
                        "namespace": ns,
                        "labels": labels,
                        "ownerReferences": [owner_ref(&svc, "v1", "Service")],
                    },
                    "addressType": "IPv4",
                    "endpoints": endpoints,
                    "ports": ports,
                });
                let _ = cluster.store.create(slices, slice, false);
            }
        }
        // Legacy Endpoints: ready and not-ready addresses in one subset;
        // terminating pods are left out, as the endpoints controller does.
        pods.retain(|p| p["metadata"].get("deletionTimestamp").is_none());
        let addr = |p: &Value| json!({ "ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"].as_str().unwrap_or(NODE_NAME), "targetRef": target_ref(p) });
        let ready: Vec<Value> = pods
            .iter()
            .filter(|p| pod_is_ready(p))
            .map(|p| addr(p))
            .collect();
        let not_ready: Vec<Value> = pods
            .iter()
            .filter(|p| !pod_is_ready(p))
            .map(|p| addr(p))
            .collect();
        let mut subset = json!({ "ports": ports });
        if !ready.is_empty() {
            subset["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = json!(not_ready);
        }
        let subsets = if pods.is_empty() {
            json!([])
        } else {
            json!([subset])
        };
        let updated = cluster.store.update(eps, ns, name, false, |cur| {
            let mut n = (**cur).clone();
            n["subsets"] = subsets.clone();
            Ok(n)
        });
        if updated.as_ref().is_err_and(|e| e.code == 404) {
            let ep = json!({
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": { "name": name, "namespace": ns, "labels": svc["metadata"]["labels"].clone() },
                "subsets": subsets,
            });
            let mut ep = ep;
            if ep["metadata"]["labels"].is_null() {
                ep["metadata"].as_object_mut().map(|m| m.remove("labels"));
            }
            let _ = cluster.store.create(eps, ep, false);
        }
        None
    }
}
