//! A kubelet that plays pod lifecycles: scheduled, containers created, Running
//! and Ready after a delay, or one of the failures real clusters show, chosen by
//! pod-template annotations:
//!
//! - `sandbox.switchyard.dev/fail`: `crashloop` (CrashLoopBackOff with growing
//!   restarts), `oom` (OOMKilled, then CrashLoopBackOff), `imagepull`
//!   (ErrImagePull ↔ ImagePullBackOff), `config` (CreateContainerConfigError),
//!   `unready` (Running, never Ready), `unschedulable` (PodScheduled=False).
//! - `sandbox.switchyard.dev/ready-after: 2s`: Ready that long after creation.
//! - `sandbox.switchyard.dev/health: down`: Ready, but the service proxy answers 503.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Reconciler, key_of, res, set_condition};
use crate::cluster::Cluster;
use crate::faults::parse_duration;
use crate::store::{Change, ChangeKind, Key, now};

pub const FAIL_ANNOTATION: &str = "sandbox.switchyard.dev/fail";
pub const READY_AFTER_ANNOTATION: &str = "sandbox.switchyard.dev/ready-after";
pub const HEALTH_ANNOTATION: &str = "sandbox.switchyard.dev/health";
pub const NODE_NAME: &str = "sandbox-node";
const HOST_IP: &str = "172.18.0.2";

/// Ready condition is True.
pub fn pod_is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    }) && pod["metadata"].get("deletionTimestamp").is_none()
}

pub fn pod_is_running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Normal,
    CrashLoop,
    Oom,
    ImagePull,
    Config,
    Unready,
    Unschedulable,
}

fn mode(pod: &Value) -> Mode {
    match pod["metadata"]["annotations"][FAIL_ANNOTATION].as_str() {
        Some("crashloop") => Mode::CrashLoop,
        Some("oom") => Mode::Oom,
        Some("imagepull") => Mode::ImagePull,
        Some("config") => Mode::Config,
        Some("unready") => Mode::Unready,
        Some("unschedulable") => Mode::Unschedulable,
        _ => Mode::Normal,
    }
}

#[derive(Default)]
pub struct Kubelet {
    /// When each pod (by uid) was first seen: pod timings count from here.
    seen: Mutex<HashMap<String, Instant>>,
    /// When each pod (by uid) was first seen Terminating.
    terminating: Mutex<HashMap<String, Instant>>,
}

fn cond(kind: &str, ok: bool, reason: Option<&str>, message: Option<&str>) -> Value {
    let mut c =
        json!({ "type": kind, "status": if ok { "True" } else { "False" }, "lastProbeTime": null });
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

fn container_status(c: &Value, state: Value, ready: bool, restarts: u64, last: Value) -> Value {
    let name = c["name"].as_str().unwrap_or("");
    let image = c["image"].as_str().unwrap_or("");
    let running = state.get("running").is_some();
    let mut s = json!({
        "name": name,
        "image": image,
        "imageID": if running { json!(format!("docker.io/{image}@sha256:{:064x}", fxhash(image))) } else { json!("") },
        "ready": ready,
        "started": running,
        "restartCount": restarts,
        "state": state,
        "lastState": last,
    });
    if running || restarts > 0 {
        s["containerID"] = json!(format!(
            "containerd://{:064x}",
            fxhash(&format!("{name}{restarts}"))
        ));
    }
    s
}

/// A stable, dependency-free hash for fake image and container IDs.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

impl Kubelet {
    /// The status a pod of `mode` has `age` after creation, and when it next changes.
    fn status_at(
        cluster: &Cluster,
        pod: &Value,
        mode: Mode,
        age: Duration,
    ) -> (Value, Option<Duration>) {
        let old = &pod["status"];
        let ts = now();
        let containers: Vec<Value> = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut status = old.clone();
        if !status.is_object() {
            status = json!({});
        }
        status["qosClass"] = json!("BestEffort");
        if mode == Mode::Unschedulable {
            status["phase"] = json!("Pending");
            set_condition(
                &mut status["conditions"],
                cond(
                    "PodScheduled",
                    false,
                    Some("Unschedulable"),
                    Some(
                        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
                    ),
                ),
                &ts,
            );
            return (status, None);
        }
        let conds = &mut status["conditions"];
        set_condition(conds, cond("PodScheduled", true, None, None), &ts);
        set_condition(conds, cond("Initialized", true, None, None), &ts);
        set_condition(
            conds,
            cond("PodReadyToStartContainers", true, None, None),
            &ts,
        );
        if status["podIP"].is_null() {
            let ip = cluster.alloc.pod_ip();
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{ "ip": ip }]);
            status["hostIP"] = json!(HOST_IP);
            status["hostIPs"] = json!([{ "ip": HOST_IP }]);
            status["startTime"] = json!(ts);
        }
        let ready_delay = cluster.settings.ready_delay;
        let ready_after = pod["metadata"]["annotations"][READY_AFTER_ANNOTATION]
            .as_str()
            .and_then(|d| parse_duration(d).ok());
        let start_at = ready_after.map_or(ready_delay, |r| r.min(ready_delay));
        let restarts_of = |i: usize| {
            old["containerStatuses"][i]["restartCount"]
                .as_u64()
                .unwrap_or(0)
        };
        let waiting = |reason: &str, message: &str| json!({ "waiting": { "reason": reason, "message": message } });

        let (statuses, ready, next): (Vec<Value>, bool, Option<Duration>) = if age < start_at
            && !matches!(mode, Mode::ImagePull | Mode::Config)
        {
            let s = containers
                .iter()
                .map(|c| {
                    container_status(
                        c,
                        json!({ "waiting": { "reason": "ContainerCreating" } }),
                        false,
                        0,
                        json!({}),
                    )
                })
                .collect();
            (s, false, Some(start_at - age))
        } else {
            match mode {
                Mode::ImagePull => {
                    // ErrImagePull first, then ImagePullBackOff, alternating like the kubelet.
                    let phase = (age.as_millis() / 1000) % 2;
                    let s = containers
                        .iter()
                        .map(|c| {
                            let image = c["image"].as_str().unwrap_or("");
                            let st = if phase == 0 {
                                waiting("ErrImagePull", &format!("failed to pull and unpack image \"docker.io/{image}\": not found"))
                            } else {
                                waiting("ImagePullBackOff", &format!("Back-off pulling image \"{image}\""))
                            };
                            container_status(c, st, false, 0, json!({}))
                        })
                        .collect();
                    (
                        s,
                        false,
                        Some(Duration::from_millis(
                            1000 - (age.as_millis() % 1000) as u64,
                        )),
                    )
                }
                Mode::Config => {
                    let s = containers
                        .iter()
                        .map(|c| {
                            let name = pod["metadata"]["name"].as_str().unwrap_or("");
                            let app = name.rsplitn(3, '-').last().unwrap_or(name);
                            container_status(
                                c,
                                waiting(
                                    "CreateContainerConfigError",
                                    &format!("secret \"{app}-config\" not found"),
                                ),
                                false,
                                0,
                                json!({}),
                            )
                        })
                        .collect();
                    (s, false, None)
                }
                Mode::CrashLoop | Mode::Oom => {
                    // Restart n happens at start + backoff·(2^n − 1), capped per step.
                    let base = cluster.settings.crash_backoff;
                    let mut t = start_at;
                    let mut restarts = 0u64;
                    let mut step = base;
                    while t + step <= age && restarts < 1000 {
                        t += step;
                        restarts += 1;
                        step = (step * 2).min(base * 16);
                    }
                    let restarts = restarts + 1;
                    let (reason, code) = if mode == Mode::Oom {
                        ("OOMKilled", 137)
                    } else {
                        ("Error", 1)
                    };
                    let s = containers
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let restarts = restarts.max(restarts_of(i));
                            let name = c["name"].as_str().unwrap_or("");
                            let last = json!({ "terminated": {
                                "exitCode": code, "reason": reason, "startedAt": ts, "finishedAt": ts,
                                "containerID": format!("containerd://{:064x}", fxhash(&format!("{name}{}", restarts - 1))),
                            }});
                            let secs = (base.as_secs_f64() * 2f64.powi(restarts.min(5) as i32 - 1)).ceil() as u64;
                            let st = waiting("CrashLoopBackOff", &format!("back-off {secs}s restarting failed container={name} pod={}", pod["metadata"]["name"].as_str().unwrap_or("")));
                            container_status(c, st, false, restarts, last)
                        })
                        .collect();
                    (s, false, Some(t + step - age))
                }
                Mode::Normal | Mode::Unready | Mode::Unschedulable => {
                    let ready_at = ready_after.unwrap_or(ready_delay);
                    let ready = mode == Mode::Normal && age >= ready_at;
                    let started = old["containerStatuses"][0]["state"]["running"]["startedAt"]
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| ts.clone());
                    let s = containers
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            container_status(
                                c,
                                json!({ "running": { "startedAt": started } }),
                                ready,
                                restarts_of(i),
                                json!({}),
                            )
                        })
                        .collect();
                    let next = (mode == Mode::Normal && !ready).then(|| ready_at - age);
                    (s, ready, next)
                }
            }
        };
        let running = statuses.iter().all(|s| s["state"].get("running").is_some())
            || matches!(mode, Mode::CrashLoop | Mode::Oom);
        status["phase"] = json!(if running { "Running" } else { "Pending" });
        let not_ready: Vec<&str> = statuses
            .iter()
            .filter(|s| s["ready"] != true)
            .filter_map(|s| s["name"].as_str())
            .collect();
        let msg = format!("containers with unready status: [{}]", not_ready.join(" "));
        let (r, m) = if ready {
            (None, None)
        } else {
            (Some("ContainersNotReady"), Some(msg.as_str()))
        };
        let conds = &mut status["conditions"];
        set_condition(conds, cond("ContainersReady", ready, r, m), &ts);
        set_condition(conds, cond("Ready", ready, r, m), &ts);
        status["containerStatuses"] = json!(statuses);
        // Keep a stable condition order, as the kubelet writes them.
        if let Some(cs) = status["conditions"].as_array_mut() {
            let order = [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
            ];
            cs.sort_by_key(|c| order.iter().position(|o| c["type"] == *o).unwrap_or(9));
        }
        (status, next)
    }
}

impl Kubelet {
    /// A pod being deleted: its containers get SIGTERM and the grace period
    /// (`deletionGracePeriodSeconds`, capped by the sandbox's
    /// `termination_grace_cap`) to stop; then the kubelet deletes the pod for
    /// good, with grace 0, as the real kubelet's status manager does.
    fn terminate(&self, cluster: &Cluster, pod: &Value, uid: &str) -> Option<Duration> {
        let since = *self
            .terminating
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(uid.to_string())
            .or_insert_with(Instant::now);
        let grace = Duration::from_secs(
            pod["metadata"]["deletionGracePeriodSeconds"]
                .as_u64()
                .unwrap_or(0),
        )
        .min(cluster.settings.termination_grace_cap);
        let left = grace.saturating_sub(since.elapsed());
        if !left.is_zero() {
            return Some(left);
        }
        let pods = res("", "pods");
        let (ns, name) = key_of(pod);
        let _ = cluster.store.delete_with_grace(
            pods,
            &ns,
            &name,
            None,
            pod["metadata"]["uid"].as_str(),
            false,
            Some(0),
        );
        None
    }
}

/// Copies `lastTransitionTime`s over from `old`, so that a recomputed status
/// that means the same compares equal and writes nothing.
fn same_meaning(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(cs) = v["conditions"].as_array_mut() {
            for c in cs {
                c["lastTransitionTime"] = Value::Null;
            }
        }
        if let Some(cs) = v["containerStatuses"].as_array_mut() {
            for c in cs {
                for path in [
                    "/lastState/terminated/startedAt",
                    "/lastState/terminated/finishedAt",
                ] {
                    if let Some(x) = c.pointer_mut(path) {
                        *x = Value::Null;
                    }
                }
            }
        }
        v
    };
    strip(old) == strip(new)
}

impl Reconciler for Kubelet {
    fn name(&self) -> &'static str {
        "kubelet"
    }

    fn keys_for(&self, _: &Cluster, c: &Change) -> Vec<Key> {
        if c.res.plural != "pods" {
            return Vec::new();
        }
        if c.kind == ChangeKind::Deleted {
            if let Some(uid) = c.object["metadata"]["uid"].as_str() {
                self.seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(uid);
                self.terminating
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(uid);
            }
            return Vec::new();
        }
        vec![key_of(&c.object)]
    }

    fn all_keys(&self, cluster: &Cluster) -> Vec<Key> {
        cluster
            .store
            .list(res("", "pods"), None)
            .0
            .iter()
            .map(|o| key_of(o))
            .collect()
    }

    fn reconcile(&self, cluster: &Cluster, (ns, name): &Key) -> Option<Duration> {
        let pods = res("", "pods");
        let pod = cluster.store.get(pods, ns, name)?;
        if pod["spec"]["nodeName"].is_null() && pod["metadata"]["ownerReferences"].is_null() {
            // A bare pod: schedule it onto the one node.
            let _ = cluster.store.update(pods, ns, name, false, |cur| {
                let mut n = (**cur).clone();
                n["spec"]["nodeName"] = json!(NODE_NAME);
                Ok(n)
            });
        }
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
        if pod["metadata"].get("deletionTimestamp").is_some() {
            return self.terminate(cluster, &pod, &uid);
        }
        let first = *self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(uid)
            .or_insert_with(Instant::now);
        let (status, next) = Self::status_at(cluster, &pod, mode(&pod), first.elapsed());
        if !same_meaning(&pod["status"], &status) {
            let _ = cluster.store.update(pods, ns, name, false, |cur| {
                let mut n = (**cur).clone();
                n["status"] = status;
                Ok(n)
            });
        }
        next.map(|d| d.max(Duration::from_millis(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_from_conditions() {
        let ready = json!({"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(pod_is_ready(&ready));
        let terminating = json!({"metadata": {"deletionTimestamp": "x"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(!pod_is_ready(&terminating));
        assert!(!pod_is_ready(&json!({"metadata": {}, "status": {}})));
    }

    #[test]
    fn failure_modes_from_annotations() {
        let p = |v: &str| json!({"metadata": {"annotations": {FAIL_ANNOTATION: v}}});
        assert_eq!(mode(&p("crashloop")), Mode::CrashLoop);
        assert_eq!(mode(&p("imagepull")), Mode::ImagePull);
        assert_eq!(mode(&p("oom")), Mode::Oom);
        assert_eq!(mode(&p("config")), Mode::Config);
        assert_eq!(mode(&p("unready")), Mode::Unready);
        assert_eq!(mode(&p("unschedulable")), Mode::Unschedulable);
        assert_eq!(mode(&json!({"metadata": {}})), Mode::Normal);
    }
}
