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
//!
//! Without the annotation, `kube-sandbox serve --image-fail GLOB=MODE`
//! ([`Settings::image_failures`](crate::Settings)) picks the mode by image:
//! the first rule whose glob (`*`, `?`) matches a container's image, as a
//! real cluster fails an image that cannot run.
//!
//! Pods whose `restartPolicy` is `Never` or `OnFailure` (a Job's) run to
//! completion: Running (and Ready) at `ready_delay`, then their containers
//! exit 0 after `sandbox.switchyard.dev/run-for` (default: `ready_delay`)
//! and the pod is Succeeded. Under `Never`, `crashloop` and `oom` make the
//! container exit 1 (`Error`) or 137 (`OOMKilled`) once started, and the pod
//! Failed; under `OnFailure` they crash-loop in place, restarts counted.
//! Pods run on the node their `spec.nodeName` names; an unbound pod is bound
//! to the node its node affinity names (a DaemonSet's), else a bare pod to
//! the first node, as the scheduler would.

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
pub const RUN_FOR_ANNOTATION: &str = "sandbox.switchyard.dev/run-for";
pub const NODE_NAME: &str = "sandbox-node";

/// The failure modes `sandbox.switchyard.dev/fail` and `--image-fail` take.
pub const MODES: &[&str] = &[
    "crashloop",
    "oom",
    "imagepull",
    "config",
    "unready",
    "unschedulable",
];

/// One `--image-fail GLOB=MODE` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFailure {
    /// An image reference pattern: `*` any run of characters, `?` one.
    pub glob: String,
    /// One of [`MODES`].
    pub mode: String,
}

impl ImageFailure {
    /// Parses `GLOB=MODE`, e.g. `*:broken=crashloop`.
    pub fn parse(spec: &str) -> Result<ImageFailure, String> {
        let Some((glob, mode)) = spec.rsplit_once('=') else {
            return Err(format!(
                "{spec:?} is not GLOB=MODE (e.g. '*:broken=crashloop')"
            ));
        };
        if glob.is_empty() {
            return Err(format!("{spec:?}: the image glob is empty"));
        }
        if !MODES.contains(&mode) {
            return Err(format!(
                "{spec:?}: unknown mode {mode:?} (one of {})",
                MODES.join(", ")
            ));
        }
        Ok(ImageFailure {
            glob: glob.to_string(),
            mode: mode.to_string(),
        })
    }

    pub fn matches(&self, image: &str) -> bool {
        glob_match(self.glob.as_bytes(), image.as_bytes())
    }
}

/// `*` matches any run of bytes, `?` one byte; everything else itself.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if *c == b'?' || *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last `*` take one more byte.
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

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

fn parse_mode(s: &str) -> Option<Mode> {
    Some(match s {
        "crashloop" => Mode::CrashLoop,
        "oom" => Mode::Oom,
        "imagepull" => Mode::ImagePull,
        "config" => Mode::Config,
        "unready" => Mode::Unready,
        "unschedulable" => Mode::Unschedulable,
        _ => return None,
    })
}

/// The pod's failure mode: its annotation's, else that of the first rule
/// matching one of its containers' images, else none.
fn mode(pod: &Value, rules: &[ImageFailure]) -> Mode {
    if let Some(m) = pod["metadata"]["annotations"][FAIL_ANNOTATION]
        .as_str()
        .and_then(parse_mode)
    {
        return m;
    }
    let images = ["initContainers", "containers"]
        .into_iter()
        .flat_map(|f| pod["spec"][f].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["image"].as_str().map(String::from));
    for image in images {
        if let Some(r) = rules.iter().find(|r| r.matches(&image)) {
            return parse_mode(&r.mode).unwrap_or(Mode::Normal);
        }
    }
    Mode::Normal
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
            let host = crate::node::internal_ip(pod["spec"]["nodeName"].as_str().unwrap_or(""));
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{ "ip": ip }]);
            status["hostIP"] = json!(host);
            status["hostIPs"] = json!([{ "ip": host }]);
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
        // Run to completion: the containers exit, and the pod is done.
        let policy = pod["spec"]["restartPolicy"].as_str().unwrap_or("Always");
        let run_for = pod["metadata"]["annotations"][RUN_FOR_ANNOTATION]
            .as_str()
            .and_then(|d| parse_duration(d).ok())
            .unwrap_or(ready_delay);
        let exit = match (policy, mode) {
            ("Never" | "OnFailure", Mode::Normal) => Some((start_at + run_for, 0, "Completed")),
            ("Never", Mode::CrashLoop) => Some((start_at, 1, "Error")),
            ("Never", Mode::Oom) => Some((start_at, 137, "OOMKilled")),
            _ => None,
        };
        if let Some((at, code, reason)) = exit
            && age >= at
        {
            return (Self::finished(pod, status, code, reason, &ts), None);
        }

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
                    let mut next = (mode == Mode::Normal && !ready).then(|| ready_at - age);
                    if let Some((at, _, _)) = exit {
                        let left = at.saturating_sub(age);
                        next = Some(next.map_or(left, |n| n.min(left)));
                    }
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
    /// The status of a pod whose containers exited with `code`: Succeeded
    /// (0) or Failed, every container terminated, the pod not Ready, as the
    /// kubelet reports a finished pod.
    fn finished(pod: &Value, mut status: Value, code: i64, reason: &str, ts: &str) -> Value {
        let containers = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let old = pod["status"]["containerStatuses"].clone();
        let statuses: Vec<Value> = containers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let name = c["name"].as_str().unwrap_or("");
                let started = old[i]["state"]["running"]["startedAt"]
                    .as_str()
                    .unwrap_or(ts)
                    .to_string();
                let restarts = old[i]["restartCount"].as_u64().unwrap_or(0);
                let mut s = container_status(
                    c,
                    json!({ "terminated": {
                        "exitCode": code, "reason": reason, "startedAt": started, "finishedAt": ts,
                        "containerID": format!("containerd://{:064x}", fxhash(&format!("{name}{restarts}"))),
                    }}),
                    false,
                    restarts,
                    json!({}),
                );
                s["containerID"] = json!(format!(
                    "containerd://{:064x}",
                    fxhash(&format!("{name}{restarts}"))
                ));
                s
            })
            .collect();
        let ok = code == 0;
        status["phase"] = json!(if ok { "Succeeded" } else { "Failed" });
        let why = if ok { "PodCompleted" } else { "PodFailed" };
        let conds = &mut status["conditions"];
        set_condition(
            conds,
            cond("PodReadyToStartContainers", false, None, None),
            ts,
        );
        set_condition(conds, cond("ContainersReady", false, Some(why), None), ts);
        set_condition(conds, cond("Ready", false, Some(why), None), ts);
        status["containerStatuses"] = json!(statuses);
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
        status
    }

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
        let mut pod = cluster.store.get(pods, ns, name)?;
        if pod["spec"]["nodeName"].is_null() {
            // Schedule: to the node its affinity names (a daemon pod), a bare
            // pod to the first node.
            let target = super::daemonset::target_node(&pod).or_else(|| {
                pod["metadata"]["ownerReferences"]
                    .is_null()
                    .then(|| NODE_NAME.to_string())
            });
            if let Some(node) = target
                && let Ok(bound) = cluster.store.update(pods, ns, name, false, |cur| {
                    let mut n = (**cur).clone();
                    n["spec"]["nodeName"] = json!(node);
                    Ok(n)
                })
            {
                pod = bound;
            }
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
        if matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        ) {
            // Finished: nothing runs any more.
            return None;
        }
        let mode = mode(&pod, &cluster.settings.image_failures);
        let (status, next) = Self::status_at(cluster, &pod, mode, first.elapsed());
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
        assert_eq!(mode(&p("crashloop"), &[]), Mode::CrashLoop);
        assert_eq!(mode(&p("imagepull"), &[]), Mode::ImagePull);
        assert_eq!(mode(&p("oom"), &[]), Mode::Oom);
        assert_eq!(mode(&p("config"), &[]), Mode::Config);
        assert_eq!(mode(&p("unready"), &[]), Mode::Unready);
        assert_eq!(mode(&p("unschedulable"), &[]), Mode::Unschedulable);
        assert_eq!(mode(&json!({"metadata": {}}), &[]), Mode::Normal);
        for m in MODES {
            assert!(parse_mode(m).is_some(), "{m}");
        }
    }

    #[test]
    fn image_rules_pick_a_mode_first_match_and_the_annotation_wins() {
        let rules = vec![
            ImageFailure::parse("*:broken=crashloop").unwrap(),
            ImageFailure::parse("registry.local/*=imagepull").unwrap(),
            ImageFailure::parse("*=oom").unwrap(),
        ];
        let pod = |image: &str, ann: Value| json!({"metadata": {"annotations": ann}, "spec": {"containers": [{"name": "c", "image": image}]}});
        assert_eq!(mode(&pod("app:broken", json!({})), &rules), Mode::CrashLoop);
        assert_eq!(
            mode(&pod("registry.local/app:1", json!({})), &rules),
            Mode::ImagePull
        );
        assert_eq!(
            mode(&pod("registry.local/app:broken", json!({})), &rules),
            Mode::CrashLoop
        );
        assert_eq!(mode(&pod("app:1", json!({})), &rules), Mode::Oom);
        assert_eq!(mode(&pod("app:1", json!({})), &rules[..2]), Mode::Normal);
        let annotated = pod("app:broken", json!({FAIL_ANNOTATION: "unready"}));
        assert_eq!(mode(&annotated, &rules), Mode::Unready);
    }

    #[test]
    fn globs_and_image_rule_specs() {
        let g = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes());
        assert!(g("*", ""));
        assert!(g("web:?", "web:2"));
        assert!(!g("web:?", "web:10"));
        assert!(g("*/app:*", "registry.local/app:1.2"));
        assert!(g("a*b*c", "axxbyyc"));
        assert!(!g("a*b*c", "axxbyy"));
        assert!(!g("web", "web:1"));
        assert_eq!(
            ImageFailure::parse("*:broken=crashloop").unwrap(),
            ImageFailure {
                glob: "*:broken".into(),
                mode: "crashloop".into()
            }
        );
        assert!(
            ImageFailure::parse("nomode")
                .unwrap_err()
                .contains("GLOB=MODE")
        );
        assert!(
            ImageFailure::parse("=crashloop")
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            ImageFailure::parse("x=explode")
                .unwrap_err()
                .contains("unknown mode \"explode\"")
        );
    }
}
