//! Job → Pods that run to completion, as `pkg/controller/job`'s `syncJob`
//! (1.31+, with `JobPodReplacementPolicy` on) does it:
//!
//! - up to `parallelism` pods at once, no more than the `completions` left
//!   (NonIndexed); a failed pod is replaced after a back-off that doubles
//!   per failure (the real one starts at 10 s; here at
//!   [`Settings::crash_backoff`](crate::Settings), as the kubelet's crash
//!   loop does);
//! - pods carry the finalizer `batch.kubernetes.io/job-tracking`; a finished
//!   pod's uid goes into `status.uncountedTerminatedPods` (one status
//!   write), its finalizer is removed, then it is counted in `succeeded` or
//!   `failed` (another write);
//! - `failed > backoffLimit`, or under `restartPolicy: OnFailure` the sum of
//!   the active pods' container restarts reaching `backoffLimit`
//!   (`pastBackoffLimitOnFailure`), is `FailureTarget` with reason
//!   `BackoffLimitExceeded`; a Job active longer than
//!   `activeDeadlineSeconds` is `FailureTarget` with `DeadlineExceeded`.
//!   Its active pods are deleted (and counted failed), and once none is
//!   terminating any more `Failed` follows with the same reason;
//! - `succeeded >= completions` with none active is `SuccessCriteriaMet`,
//!   then `Complete` (reason `CompletionsReached`) and `completionTime`.
//!
//! `spec.suspend: true` deletes the active pods and sets `Suspended`
//! (`JobSuspended`); resuming sets it False (`JobResumed`) and restarts
//! `startTime`, the clock of `activeDeadlineSeconds`.
//!
//! Status: `active`, `ready`, `terminating`, `succeeded`, `failed`,
//! `startTime`, `completionTime`, `uncountedTerminatedPods`, `conditions`.
//! Not modelled: Indexed completion, `podFailurePolicy`,
//! `backoffLimitPerIndex`, `successPolicy`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::kubelet::pod_is_ready;
use super::{Reconciler, controller_owner, key_of, owned_by, owner_ref, pods, res, terminating};
use crate::cluster::Cluster;
use crate::store::{Change, Key, now};

pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

/// What the controller remembers of a Job between syncs (the real one's
/// pod back-off store and its informer-side clock for the deadline).
struct Memory {
    started: Instant,
    /// Failures counted so far, and when the last one was seen.
    failures: i64,
    last_failure: Option<Instant>,
}

#[derive(Default)]
pub struct JobController {
    jobs: Mutex<HashMap<String, Memory>>,
}

fn jobs() -> &'static crate::resources::ResourceType {
    res("batch", "jobs")
}

fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or("")
}

fn terminal(p: &Value) -> bool {
    matches!(phase(p), "Succeeded" | "Failed")
}

fn has_finalizer(p: &Value) -> bool {
    p["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == TRACKING_FINALIZER))
}

fn uid_of(p: &Value) -> String {
    p["metadata"]["uid"].as_str().unwrap_or("").to_string()
}

/// `isPodFailed`: Failed, or being deleted before it succeeded.
fn considered_failed(p: &Value) -> bool {
    phase(p) == "Failed" || (terminating(p) && phase(p) != "Succeeded")
}

/// The condition `ctype` with status True, if the Job has it.
pub fn condition<'a>(job: &'a Value, ctype: &str) -> Option<&'a Value> {
    job["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == ctype && c["status"] == "True")
}

fn finished(job: &Value) -> bool {
    condition(job, "Complete").is_some() || condition(job, "Failed").is_some()
}

fn new_condition(ctype: &str, reason: &str, message: &str, ts: &str) -> Value {
    json!({
        "type": ctype,
        "status": "True",
        "lastProbeTime": ts,
        "lastTransitionTime": ts,
        "reason": reason,
        "message": message,
    })
}

/// A pod of the Job (`podControl.CreatePodsWithGenerateName`).
fn new_pod(job: &Value) -> Value {
    let tmpl = &job["spec"]["template"];
    let name = job["metadata"]["name"].as_str().unwrap_or("job");
    let mut meta = json!({
        "generateName": format!("{name}-"),
        "namespace": job["metadata"]["namespace"],
        "labels": tmpl["metadata"]["labels"],
        "finalizers": [TRACKING_FINALIZER],
        "ownerReferences": [owner_ref(job, "batch/v1", "Job")],
    });
    if let Some(a) = tmpl["metadata"].get("annotations") {
        meta["annotations"] = a.clone();
    }
    let mut spec = tmpl["spec"].clone();
    spec["nodeName"] = json!(super::kubelet::NODE_NAME);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": { "phase": "Pending", "qosClass": "BestEffort" },
    })
}

/// The pods of a Job that is gone lose their finalizer, so that their
/// deletion (garbage collection's) completes (the real controller's orphan
/// pod handling).
fn release_orphans(cluster: &Cluster, ns: &str, job: &str) {
    for p in cluster.store.list(pods(), Some(ns)).0 {
        if controller_owner(&p, "Job").as_deref() != Some(job) || !has_finalizer(&p) {
            continue;
        }
        let pname = p["metadata"]["name"].as_str().unwrap_or("");
        let _ = cluster.store.update(pods(), ns, pname, false, |cur| {
            let mut n = (**cur).clone();
            if let Some(f) = n["metadata"]["finalizers"].as_array_mut() {
                f.retain(|x| x != TRACKING_FINALIZER);
            }
            Ok(n)
        });
    }
}

/// `pastBackoffLimitOnFailure`.
fn past_backoff_limit_on_failure(job: &Value, pods: &[Arc<Value>], limit: i64) -> bool {
    if job["spec"]["template"]["spec"]["restartPolicy"] != "OnFailure" {
        return false;
    }
    let restarts: i64 = pods
        .iter()
        .filter(|p| matches!(phase(p), "Running" | "Pending"))
        .flat_map(|p| {
            ["initContainerStatuses", "containerStatuses"]
                .into_iter()
                .flat_map(|f| p["status"][f].as_array().cloned().unwrap_or_default())
        })
        .map(|s| s["restartCount"].as_i64().unwrap_or(0))
        .sum();
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

fn uid_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

impl Reconciler for JobController {
    fn name(&self) -> &'static str {
        "job"
    }

    fn keys_for(&self, _: &Cluster, c: &Change) -> Vec<Key> {
        match c.res.plural {
            "jobs" => vec![key_of(&c.object)],
            "pods" => super::owner_key(c, "Job"),
            _ => Vec::new(),
        }
    }

    fn all_keys(&self, cluster: &Cluster) -> Vec<Key> {
        super::every_key(cluster, jobs())
    }

    fn reconcile(&self, cluster: &Cluster, (ns, name): &Key) -> Option<Duration> {
        let Some(job) = cluster.store.get(jobs(), ns, name) else {
            release_orphans(cluster, ns, name);
            return None;
        };
        let uid = uid_of(&job);
        if finished(&job) || terminating(&job) {
            self.jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&uid);
            return None;
        }
        let suspended = job["spec"]["suspend"] == true;
        let parallelism = job["spec"]["parallelism"].as_i64().unwrap_or(1).max(0);
        let completions = job["spec"]["completions"].as_i64();
        let backoff_limit = job["spec"]["backoffLimit"].as_i64().unwrap_or(6);
        let ts = now();
        let owned: Vec<Arc<Value>> = cluster
            .store
            .list(pods(), Some(ns))
            .0
            .into_iter()
            .filter(|p| owned_by(p, &uid))
            .collect();
        let active_pods: Vec<Arc<Value>> = owned
            .iter()
            .filter(|p| !terminal(p) && !terminating(p))
            .cloned()
            .collect();
        let mut active = active_pods.len() as i64;
        let mut ready = active_pods.iter().filter(|p| pod_is_ready(p)).count() as i64;
        let mut terminating_n = owned
            .iter()
            .filter(|p| terminating(p) && !terminal(p))
            .count() as i64;

        let mut status = job["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        let mut uncounted_succeeded = uid_list(&status["uncountedTerminatedPods"]["succeeded"]);
        let mut uncounted_failed = uid_list(&status["uncountedTerminatedPods"]["failed"]);
        let counted = |f: &str| status[f].as_i64().unwrap_or(0);
        let new_succeeded: Vec<&Arc<Value>> = owned
            .iter()
            .filter(|p| has_finalizer(p) && phase(p) == "Succeeded")
            .filter(|p| !uncounted_succeeded.contains(&uid_of(p)))
            .collect();
        let new_failed: Vec<&Arc<Value>> = owned
            .iter()
            .filter(|p| has_finalizer(p) && considered_failed(p))
            .filter(|p| !uncounted_failed.contains(&uid_of(p)))
            .collect();
        let succeeded =
            counted("succeeded") + new_succeeded.len() as i64 + uncounted_succeeded.len() as i64;
        let failed = counted("failed") + new_failed.len() as i64 + uncounted_failed.len() as i64;

        // Job first start.
        let mut requeue: Option<Duration> = None;
        // Resuming a suspended Job restarts its clock (`JobResumed`).
        let was_suspended = condition(&job, "Suspended").is_some();
        let resumed = was_suspended && !suspended;
        let (started, backoff_left) = {
            let mut mem = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            if resumed && let Some(m) = mem.get_mut(&uid) {
                m.started = Instant::now();
            }
            let m = mem.entry(uid.clone()).or_insert_with(|| Memory {
                started: Instant::now(),
                failures: counted("failed"),
                last_failure: None,
            });
            if failed > m.failures {
                m.failures = failed;
                m.last_failure = Some(Instant::now());
            }
            // Back-off before a replacement: base · 2^(failures − 1), capped.
            let base = cluster.settings.crash_backoff;
            let left = m.last_failure.and_then(|at| {
                let exp = (m.failures - 1).clamp(0, 10) as u32;
                let wait = (base * 2u32.pow(exp)).min(base * 36);
                wait.checked_sub(at.elapsed()).filter(|d| !d.is_zero())
            });
            (m.started, left)
        };
        if (status["startTime"].is_null() || resumed) && !suspended {
            status["startTime"] = json!(ts);
        }

        // The finished condition, interim first.
        let mut finished_cond: Option<Value> = None;
        if let Some(c) = condition(&job, "SuccessCriteriaMet") {
            finished_cond = Some(c.clone());
        } else if let Some(c) = condition(&job, "FailureTarget") {
            finished_cond = Some(c.clone());
        } else if failed > backoff_limit
            || past_backoff_limit_on_failure(&job, &owned, backoff_limit)
        {
            finished_cond = Some(new_condition(
                "FailureTarget",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                &ts,
            ));
        } else if let Some(deadline) = job["spec"]["activeDeadlineSeconds"].as_u64()
            && !suspended
        {
            let deadline = Duration::from_secs(deadline);
            if started.elapsed() >= deadline {
                finished_cond = Some(new_condition(
                    "FailureTarget",
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                    &ts,
                ));
            } else {
                requeue = Some(deadline - started.elapsed());
            }
        }
        let failing = finished_cond
            .as_ref()
            .is_some_and(|c| c["type"] == "FailureTarget");

        if failing {
            // Remove the active pods; they count as failed.
            for p in &active_pods {
                let pname = p["metadata"]["name"].as_str().unwrap_or("");
                if super::delete_pod(cluster, &job, "batch/v1", "Job", pname) {
                    active -= 1;
                    terminating_n += 1;
                    if pod_is_ready(p) {
                        ready -= 1;
                    }
                }
            }
        } else if finished_cond.is_none() {
            // `manageJob` (NonIndexed).
            let want = if suspended {
                0
            } else {
                match completions {
                    Some(c) => (c - succeeded).clamp(0, parallelism),
                    None if succeeded > 0 => 0,
                    None => parallelism,
                }
            };
            if active > want {
                let mut extra: Vec<&Arc<Value>> = active_pods.iter().collect();
                extra.sort_by_key(|p| pod_is_ready(p));
                for p in extra.into_iter().take((active - want) as usize) {
                    let pname = p["metadata"]["name"].as_str().unwrap_or("");
                    if super::delete_pod(cluster, &job, "batch/v1", "Job", pname) {
                        active -= 1;
                        terminating_n += 1;
                    }
                }
            } else if active < want {
                // `TerminatingOrFailed`: a replacement may start while the
                // failed one terminates, after the failure back-off.
                match backoff_left {
                    Some(left) => requeue = Some(requeue.map_or(left, |r: Duration| r.min(left))),
                    None => {
                        let missing = want - active;
                        for _ in 0..missing {
                            if super::create_pod(cluster, &job, "batch/v1", "Job", new_pod(&job)) {
                                active += 1;
                            }
                        }
                    }
                }
            }
            let complete = match completions {
                Some(c) => succeeded >= c && active == 0,
                None => succeeded > 0 && active == 0,
            };
            if complete {
                finished_cond = Some(new_condition(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    &ts,
                ));
            } else if suspended || was_suspended {
                // `ensureJobConditionStatus(Suspended, ...)`.
                let (st, reason, message) = if suspended {
                    ("True", "JobSuspended", "Job suspended")
                } else {
                    ("False", "JobResumed", "Job resumed")
                };
                let mut conds = status["conditions"].as_array().cloned().unwrap_or_default();
                match conds.iter_mut().find(|c| c["type"] == "Suspended") {
                    Some(c) if c["status"] == st => {}
                    Some(c) => {
                        let mut n = new_condition("Suspended", reason, message, &ts);
                        n["status"] = json!(st);
                        *c = n;
                    }
                    None if suspended => {
                        conds.push(new_condition("Suspended", reason, message, &ts))
                    }
                    None => {}
                }
                status["conditions"] = json!(conds);
            }
        }

        // `trackJobStatusAndRemoveFinalizers`.
        let mut release: Vec<&Arc<Value>> = Vec::new();
        for p in owned.iter().filter(|p| has_finalizer(p)) {
            let failed_now = considered_failed(p);
            if !(finished_cond.is_some() || phase(p) == "Succeeded" || failed_now) {
                continue;
            }
            let u = uid_of(p);
            release.push(p);
            if phase(p) == "Succeeded" {
                if !uncounted_succeeded.contains(&u) && !uncounted_failed.contains(&u) {
                    uncounted_succeeded.push(u);
                }
            } else if (failed_now || failing) && !uncounted_failed.contains(&u) {
                uncounted_failed.push(u);
            }
        }
        let mut conditions = status["conditions"].as_array().cloned().unwrap_or_default();
        let mut terminal_cond: Option<Value> = None;
        if let Some(c) = &finished_cond {
            let interim = c["type"].as_str().unwrap_or("").to_string();
            if !conditions
                .iter()
                .any(|x| x["type"] == interim.as_str() && x["status"] == "True")
            {
                conditions.push(c.clone());
            }
            let final_type = if interim == "SuccessCriteriaMet" {
                "Complete"
            } else {
                "Failed"
            };
            terminal_cond = Some(new_condition(
                final_type,
                c["reason"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or(""),
                &ts,
            ));
        }
        let write = |status: &Value| {
            let _ = cluster.store.update(jobs(), ns, name, false, |cur| {
                let mut n = (**cur).clone();
                n["status"] = status.clone();
                Ok(n)
            });
        };
        let set_uncounted = |status: &mut Value, s: &[String], f: &[String]| {
            let mut u = json!({});
            if !s.is_empty() {
                u["succeeded"] = json!(s);
            }
            if !f.is_empty() {
                u["failed"] = json!(f);
            }
            status["uncountedTerminatedPods"] = u;
        };
        status["active"] = json!(active);
        status["ready"] = json!(ready);
        status["terminating"] = json!(terminating_n);
        status["conditions"] = json!(conditions);
        set_uncounted(&mut status, &uncounted_succeeded, &uncounted_failed);
        let tidy = |status: &mut Value| {
            for field in ["active", "succeeded", "failed"] {
                if status[field] == 0 {
                    status.as_object_mut().map(|m| m.remove(field));
                }
            }
            if status["conditions"].as_array().is_some_and(Vec::is_empty) {
                status.as_object_mut().map(|m| m.remove("conditions"));
            }
        };
        tidy(&mut status);
        // First write: the uncounted pods and any interim condition.
        write(&status);
        // Then the finalizers go, and the pods are counted.
        for p in &release {
            let pname = p["metadata"]["name"].as_str().unwrap_or("");
            let removed = cluster.store.update(pods(), ns, pname, false, |cur| {
                let mut n = (**cur).clone();
                if let Some(f) = n["metadata"]["finalizers"].as_array_mut() {
                    f.retain(|x| x != TRACKING_FINALIZER);
                }
                Ok(n)
            });
            let u = uid_of(p);
            if removed.is_ok() || removed.is_err_and(|e| e.code == 404) {
                if let Some(i) = uncounted_succeeded.iter().position(|x| *x == u) {
                    uncounted_succeeded.remove(i);
                    status["succeeded"] = json!(status["succeeded"].as_i64().unwrap_or(0) + 1);
                }
                if let Some(i) = uncounted_failed.iter().position(|x| *x == u) {
                    uncounted_failed.remove(i);
                    status["failed"] = json!(status["failed"].as_i64().unwrap_or(0) + 1);
                }
            }
        }
        set_uncounted(&mut status, &uncounted_succeeded, &uncounted_failed);
        // `enactJobFinished`: nothing uncounted, nothing terminating.
        if let Some(c) = terminal_cond
            && uncounted_succeeded.is_empty()
            && uncounted_failed.is_empty()
            && terminating_n == 0
        {
            if c["type"] == "Complete" {
                status["completionTime"] = json!(ts);
            }
            // `recordJobFinished`.
            let (type_, reason, message) = if c["type"] == "Complete" {
                ("Normal", "Completed", "Job completed")
            } else {
                (
                    "Warning",
                    c["reason"].as_str().unwrap_or(""),
                    c["message"].as_str().unwrap_or(""),
                )
            };
            crate::events::record(
                cluster,
                &job,
                "batch/v1",
                "Job",
                &crate::events::Event {
                    type_,
                    reason,
                    message,
                    component: "job-controller",
                },
            );
            if let Some(cs) = status["conditions"].as_array_mut() {
                cs.push(c);
            }
        }
        tidy(&mut status);
        write(&status);
        requeue.map(|d| d.max(Duration::from_millis(10)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_failure_counts_container_restarts_of_active_pods() {
        let job = |policy: &str| json!({"spec": {"template": {"spec": {"restartPolicy": policy}}}});
        let pod = |phase: &str, restarts: i64| {
            Arc::new(
                json!({"status": {"phase": phase, "containerStatuses": [{"restartCount": restarts}]}}),
            )
        };
        let pods = vec![pod("Running", 2), pod("Failed", 5)];
        assert!(!past_backoff_limit_on_failure(&job("OnFailure"), &pods, 3));
        assert!(past_backoff_limit_on_failure(&job("OnFailure"), &pods, 2));
        assert!(!past_backoff_limit_on_failure(&job("Never"), &pods, 1));
        assert!(past_backoff_limit_on_failure(
            &job("OnFailure"),
            &[pod("Pending", 1)],
            0
        ));
    }

    #[test]
    fn job_pods_are_tracked_by_finalizer() {
        let job = json!({"metadata": {"name": "migrate", "namespace": "default", "uid": "u"},
            "spec": {"template": {"metadata": {"labels": {"job-name": "migrate"}}, "spec": {"restartPolicy": "Never"}}}});
        let p = new_pod(&job);
        assert_eq!(p["metadata"]["generateName"], "migrate-");
        assert_eq!(p["metadata"]["finalizers"][0], TRACKING_FINALIZER);
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "Job");
        assert!(considered_failed(
            &json!({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Running"}})
        ));
        assert!(!considered_failed(
            &json!({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Succeeded"}})
        ));
    }
}
