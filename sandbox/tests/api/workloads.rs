//! StatefulSets, DaemonSets and Jobs under the default timing: ordered
//! creation and updates, partitions, OnDelete, one pod per node, Jobs that
//! complete or fail for each reason, ControllerRevisions, and the failure
//! modes (annotation and `--image-fail`) on each kind's template.

use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube_sandbox::controllers::kubelet::ImageFailure;
use kube_sandbox::{Options, Settings};
use serde_json::{Value, json};

use crate::{Env, start_with};

const STS: &str = "/apis/apps/v1/namespaces/default/statefulsets";
const DS: &str = "/apis/apps/v1/namespaces/default/daemonsets";
const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";
const CR: &str = "/apis/apps/v1/namespaces/default/controllerrevisions";
const PODS: &str = "/api/v1/namespaces/default/pods";
const SMP: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";

async fn start_default(nodes: usize, image_failures: Vec<ImageFailure>) -> Env {
    start_with(Options {
        settings: Settings {
            nodes,
            image_failures,
            ..Settings::default()
        },
        ..Options::default()
    })
    .await
}

/// Polls `path` until `pred` holds, for at most 30 s.
async fn wait(env: &Env, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = env.get(path).await;
        if r.code == 200 && pred(&r.body) {
            return r.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: last {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn pods(env: &Env, selector: &str) -> Vec<Value> {
    let r = env.get(&format!("{PODS}?labelSelector={selector}")).await;
    let mut items = r.body["items"].as_array().cloned().unwrap_or_default();
    items.sort_by_key(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string());
    items
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or("")
}

fn image(p: &Value) -> &str {
    p["spec"]["containers"][0]["image"].as_str().unwrap_or("")
}

fn ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn condition<'a>(o: &'a Value, t: &str) -> Option<&'a Value> {
    o["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == t && c["status"] == "True")
}

fn template(app: &str, image: &str, annotations: Value) -> Value {
    json!({
        "metadata": {"labels": {"app": app}, "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": image}]}
    })
}

fn statefulset(app: &str, replicas: i64, spec: Value) -> Value {
    let mut s = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": app},
        "spec": {
            "replicas": replicas,
            "serviceName": app,
            "selector": {"matchLabels": {"app": app}},
            "template": template(app, "example/db:1", json!({})),
        }
    });
    json_patch::merge(&mut s["spec"], &spec);
    s
}

fn daemonset(app: &str, spec: Value) -> Value {
    let mut d = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": app},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": template(app, "example/agent:1", json!({})),
        }
    });
    json_patch::merge(&mut d["spec"], &spec);
    d
}

fn job(app: &str, spec: Value) -> Value {
    let mut j = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": app},
        "spec": {"template": {
            "metadata": {"labels": {"app": app}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "example/task:1"}]}
        }}
    });
    json_patch::merge(&mut j["spec"], &spec);
    j
}

fn set_image(image: &str) -> String {
    json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
        .to_string()
}

fn sts_done(s: &Value, n: i64) -> bool {
    let st = &s["status"];
    st["observedGeneration"] == s["metadata"]["generation"]
        && st["replicas"] == n
        && st["readyReplicas"] == n
        && st["updatedReplicas"] == n
        && st["currentRevision"] == st["updateRevision"]
}

/// Pod events of `selector` from now, until `done` says so (at most 30 s).
async fn watch_pods(
    env: &Env,
    selector: &str,
    mut done: impl FnMut(&WatchEvent<Pod>) -> bool + Send + 'static,
) -> tokio::task::JoinHandle<Vec<(String, Value)>> {
    let api: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let rv = api
        .list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().labels(selector), &rv)
        .await
        .unwrap()
        .boxed();
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while let Ok(Some(Ok(e))) = tokio::time::timeout_at(deadline, stream.next()).await {
            let stop = done(&e);
            let (kind, pod) = match &e {
                WatchEvent::Added(p) => ("ADDED", p),
                WatchEvent::Modified(p) => ("MODIFIED", p),
                WatchEvent::Deleted(p) => ("DELETED", p),
                _ => continue,
            };
            seen.push((kind.to_string(), serde_json::to_value(pod).unwrap()));
            if stop {
                break;
            }
        }
        seen
    })
}

#[tokio::test]
async fn ordered_ready_creates_each_pod_after_the_one_before_is_ready_then_rolls_from_the_top() {
    let env = start_default(1, vec![]).await;
    let created = watch_pods(&env, "app=db", |e| {
        matches!(e, WatchEvent::Modified(p) if p.metadata.name.as_deref() == Some("db-2")
            && p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")))
    })
    .await;
    env.create(STS, statefulset("db", 3, json!({}))).await;
    let events = created.await.unwrap();
    // Each ADDED comes after the pod before it was seen Running and Ready.
    let mut ready_pods: Vec<String> = Vec::new();
    let mut added = Vec::new();
    for (kind, p) in &events {
        if kind == "ADDED" {
            let i = added.len();
            assert_eq!(name(p), format!("db-{i}"), "creation order: {added:?}");
            if i > 0 {
                assert!(
                    ready_pods.contains(&format!("db-{}", i - 1)),
                    "db-{i} created before db-{} was ready",
                    i - 1
                );
            }
            added.push(name(p).to_string());
        }
        if ready(p) && p["status"]["phase"] == "Running" {
            ready_pods.push(name(p).to_string());
        }
    }
    assert_eq!(added, ["db-0", "db-1", "db-2"]);

    let s = wait(&env, &format!("{STS}/db"), "3 ready", |s| sts_done(s, 3)).await;
    let st = &s["status"];
    assert_eq!(st["observedGeneration"], 1);
    assert_eq!(st["currentReplicas"], 3);
    assert_eq!(st["availableReplicas"], 3);
    assert_eq!(st["collisionCount"], 0);
    let rev1 = st["currentRevision"].as_str().unwrap().to_string();
    assert!(rev1.starts_with("db-"), "{rev1}");
    for p in pods(&env, "app%3Ddb").await {
        assert_eq!(
            p["metadata"]["labels"]["controller-revision-hash"],
            rev1.as_str()
        );
        assert_eq!(
            p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
            name(&p)
        );
        assert_eq!(p["spec"]["hostname"], name(&p));
        assert_eq!(p["spec"]["subdomain"], "db");
    }
    let crs = env.get(CR).await.body;
    assert_eq!(crs["items"].as_array().unwrap().len(), 1);
    let cr = &crs["items"][0];
    assert_eq!(name(cr), rev1);
    assert_eq!(cr["revision"], 1);
    assert_eq!(cr["data"]["spec"]["template"]["$patch"], "replace");
    assert_eq!(cr["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");

    // An update goes from the highest ordinal down, one pod at a time.
    let terminated = watch_pods(&env, "app=db", |e| {
        matches!(e, WatchEvent::Modified(p) if p.metadata.name.as_deref() == Some("db-0") && p.metadata.deletion_timestamp.is_some())
    })
    .await;
    let r = env
        .raw(
            "PATCH",
            &format!("{STS}/db"),
            SMP,
            &set_image("example/db:2"),
        )
        .await;
    assert_eq!(r.code, 200, "{}", r.text);
    let mut order: Vec<String> = Vec::new();
    for (_, p) in terminated.await.unwrap() {
        if p["metadata"].get("deletionTimestamp").is_some()
            && !order.contains(&name(&p).to_string())
        {
            order.push(name(&p).to_string());
        }
    }
    assert_eq!(order, ["db-2", "db-1", "db-0"]);
    let s = wait(&env, &format!("{STS}/db"), "rolled", |s| {
        sts_done(s, 3) && s["status"]["currentRevision"] != rev1.as_str()
    })
    .await;
    let rev2 = s["status"]["updateRevision"].as_str().unwrap();
    for p in pods(&env, "app%3Ddb").await {
        assert_eq!(image(&p), "example/db:2");
        assert_eq!(p["metadata"]["labels"]["controller-revision-hash"], rev2);
    }
    let crs = env.get(CR).await.body;
    let mut revisions: Vec<i64> = crs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["revision"].as_i64().unwrap())
        .collect();
    revisions.sort();
    assert_eq!(revisions, [1, 2]);
}

#[tokio::test]
async fn parallel_creates_every_pod_at_once_and_scale_down_goes_from_the_top() {
    let env = start_default(1, vec![]).await;
    let mut added = 0;
    let created = watch_pods(&env, "app=pdb", move |e| {
        if matches!(e, WatchEvent::Added(_)) {
            added += 1;
        }
        added == 3
    })
    .await;
    env.create(
        STS,
        statefulset("pdb", 3, json!({"podManagementPolicy": "Parallel"})),
    )
    .await;
    let events = created.await.unwrap();
    let adds: Vec<&Value> = events
        .iter()
        .filter(|(k, _)| k == "ADDED")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(adds.len(), 3, "{events:?}");
    assert!(
        events.iter().all(|(_, p)| !ready(p)),
        "all three are created before any is ready"
    );
    wait(&env, &format!("{STS}/pdb"), "3 ready", |s| sts_done(s, 3)).await;

    // OrderedReady scale-down: highest first, each gone before the next.
    let ordered = env.create(STS, statefulset("odb", 3, json!({}))).await;
    drop(ordered);
    wait(&env, &format!("{STS}/odb"), "3 ready", |s| sts_done(s, 3)).await;
    let gone = watch_pods(
        &env,
        "app=odb",
        |e| matches!(e, WatchEvent::Deleted(p) if p.metadata.name.as_deref() == Some("odb-1")),
    )
    .await;
    let r = env
        .raw(
            "PATCH",
            &format!("{STS}/odb/scale"),
            MERGE,
            r#"{"spec":{"replicas":1}}"#,
        )
        .await;
    assert_eq!(r.code, 200, "{}", r.text);
    let mut order: Vec<(String, String)> = Vec::new();
    for (kind, p) in gone.await.unwrap() {
        let terminating = p["metadata"].get("deletionTimestamp").is_some();
        let step = if kind == "DELETED" {
            "gone"
        } else if terminating {
            "terminating"
        } else {
            continue;
        };
        let entry = (name(&p).to_string(), step.to_string());
        if !order.contains(&entry) {
            order.push(entry);
        }
    }
    let s = |n: &str, st: &str| (n.to_string(), st.to_string());
    assert_eq!(
        order,
        [
            s("odb-2", "terminating"),
            s("odb-2", "gone"),
            s("odb-1", "terminating"),
            s("odb-1", "gone")
        ]
    );
    let s = wait(&env, &format!("{STS}/odb"), "scaled to 1", |s| {
        sts_done(s, 1)
    })
    .await;
    assert_eq!(s["status"]["replicas"], 1);
}

#[tokio::test]
async fn a_partition_holds_the_lower_ordinals_and_on_delete_rolls_nothing_until_a_delete() {
    let env = start_default(1, vec![]).await;
    env.create(
        STS,
        statefulset(
            "part",
            3,
            json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}),
        ),
    )
    .await;
    env.create(
        STS,
        statefulset("od", 2, json!({"updateStrategy": {"type": "OnDelete"}})),
    )
    .await;
    let part = wait(&env, &format!("{STS}/part"), "3 ready", |s| sts_done(s, 3)).await;
    let old_rev = part["status"]["currentRevision"]
        .as_str()
        .unwrap()
        .to_string();
    wait(&env, &format!("{STS}/od"), "2 ready", |s| sts_done(s, 2)).await;
    for app in ["part", "od"] {
        let r = env
            .raw(
                "PATCH",
                &format!("{STS}/{app}"),
                SMP,
                &set_image("example/db:2"),
            )
            .await;
        assert_eq!(r.code, 200, "{}", r.text);
    }
    let s = wait(&env, &format!("{STS}/part"), "the partition rolled", |s| {
        s["status"]["observedGeneration"] == 2
            && s["status"]["updatedReplicas"] == 1
            && s["status"]["readyReplicas"] == 3
    })
    .await;
    assert_eq!(s["status"]["currentRevision"], old_rev.as_str());
    assert_ne!(s["status"]["updateRevision"], old_rev.as_str());
    assert_eq!(s["status"]["currentReplicas"], 2);
    let od = wait(&env, &format!("{STS}/od"), "the update observed", |s| {
        s["status"]["observedGeneration"] == 2
            && s["status"]["updateRevision"] != s["status"]["currentRevision"]
    })
    .await;
    // Longer than a rolling step takes: still nothing more moves.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let images: Vec<String> = pods(&env, "app%3Dpart")
        .await
        .iter()
        .map(|p| image(p).to_string())
        .collect();
    assert_eq!(images, ["example/db:1", "example/db:1", "example/db:2"]);
    let images: Vec<String> = pods(&env, "app%3Dod")
        .await
        .iter()
        .map(|p| image(p).to_string())
        .collect();
    assert_eq!(images, ["example/db:1", "example/db:1"]);
    // A pod deleted by hand comes back at the update revision.
    let r = env
        .raw("DELETE", &format!("{PODS}/od-1"), "application/json", "")
        .await;
    assert_eq!(r.code, 200, "{}", r.text);
    let s = wait(&env, &format!("{STS}/od"), "od-1 replaced", |s| {
        s["status"]["updatedReplicas"] == 1 && s["status"]["readyReplicas"] == 2
    })
    .await;
    assert_eq!(
        s["status"]["currentRevision"], od["status"]["currentRevision"],
        "OnDelete never completes a rollout"
    );
    let ps = pods(&env, "app%3Dod").await;
    assert_eq!(image(&ps[0]), "example/db:1");
    assert_eq!(image(&ps[1]), "example/db:2");
    assert_eq!(
        ps[1]["metadata"]["labels"]["controller-revision-hash"],
        s["status"]["updateRevision"]
    );
}

#[tokio::test]
async fn a_daemonset_runs_one_pod_per_node_and_rolls_within_max_unavailable() {
    let env = start_default(3, vec![]).await;
    let nodes = env.get("/api/v1/nodes").await.body;
    let mut names: Vec<&str> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(name)
        .collect();
    names.sort();
    assert_eq!(names, ["sandbox-node", "sandbox-node-2", "sandbox-node-3"]);
    env.create(DS, daemonset("agent", json!({}))).await;
    let done = |d: &Value, n: i64| {
        let st = &d["status"];
        st["observedGeneration"] == d["metadata"]["generation"]
            && st["desiredNumberScheduled"] == n
            && st["updatedNumberScheduled"] == n
            && st["numberAvailable"] == n
    };
    let d = wait(&env, &format!("{DS}/agent"), "3 available", |d| done(d, 3)).await;
    let st = &d["status"];
    assert_eq!(st["currentNumberScheduled"], 3);
    assert_eq!(st["numberReady"], 3);
    assert_eq!(st["numberMisscheduled"], 0);
    assert!(st.get("numberUnavailable").is_none(), "{st}");
    let ps = pods(&env, "app%3Dagent").await;
    let mut on: Vec<&str> = ps
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap())
        .collect();
    on.sort();
    assert_eq!(on, ["sandbox-node", "sandbox-node-2", "sandbox-node-3"]);
    let hash = ps[0]["metadata"]["labels"]["controller-revision-hash"]
        .as_str()
        .unwrap()
        .to_string();
    for p in &ps {
        assert_eq!(
            p["metadata"]["labels"]["controller-revision-hash"],
            hash.as_str()
        );
        assert_eq!(p["metadata"]["labels"]["pod-template-generation"], "1");
        let node = p["spec"]["nodeName"].as_str().unwrap();
        let term = &p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0];
        assert_eq!(term["matchFields"][0]["values"][0], node);
        let want_ip = match node {
            "sandbox-node" => "172.18.0.2",
            "sandbox-node-2" => "172.18.0.3",
            _ => "172.18.0.4",
        };
        assert_eq!(p["status"]["hostIP"], want_ip);
    }
    let crs = env.get(CR).await.body;
    assert_eq!(name(&crs["items"][0]), format!("agent-{hash}"));

    // maxUnavailable 1: at any time at least two nodes have a ready pod.
    let r = env
        .raw(
            "PATCH",
            &format!("{DS}/agent"),
            SMP,
            &set_image("example/agent:2"),
        )
        .await;
    assert_eq!(r.code, 200, "{}", r.text);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ps = pods(&env, "app%3Dagent").await;
        let serving = ps
            .iter()
            .filter(|p| ready(p) && p["metadata"].get("deletionTimestamp").is_none())
            .count();
        let summary: Vec<String> = ps
            .iter()
            .map(|p| {
                format!(
                    "{} {} {} ready={} terminating={}",
                    name(p),
                    p["spec"]["nodeName"],
                    image(p),
                    ready(p),
                    p["metadata"].get("deletionTimestamp").is_some()
                )
            })
            .collect();
        assert!(serving >= 2, "more than maxUnavailable down: {summary:?}");
        let d = env.get(&format!("{DS}/agent")).await.body;
        if done(&d, 3)
            && d["metadata"]["generation"] == 2
            && ps.len() == 3
            && ps.iter().all(|p| image(p) == "example/agent:2")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rollout did not finish: {d}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ps = pods(&env, "app%3Dagent").await;
    assert!(
        ps.iter()
            .all(|p| p["metadata"]["labels"]["pod-template-generation"] == "2")
    );
    assert_eq!(env.get(CR).await.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_on_delete_daemonset_replaces_only_deleted_pods() {
    let env = start_default(2, vec![]).await;
    env.create(
        DS,
        daemonset("ondel", json!({"updateStrategy": {"type": "OnDelete"}})),
    )
    .await;
    wait(&env, &format!("{DS}/ondel"), "2 available", |d| {
        d["status"]["numberAvailable"] == 2
    })
    .await;
    env.raw(
        "PATCH",
        &format!("{DS}/ondel"),
        SMP,
        &set_image("example/agent:2"),
    )
    .await;
    wait(&env, &format!("{DS}/ondel"), "generation 2 observed", |d| {
        d["status"]["observedGeneration"] == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ps = pods(&env, "app%3Dondel").await;
    assert!(ps.iter().all(|p| image(p) == "example/agent:1"), "{ps:?}");
    let d = env.get(&format!("{DS}/ondel")).await.body;
    assert!(d["status"].get("updatedNumberScheduled").is_none(), "{d}");
    let victim = name(&ps[0]).to_string();
    env.raw(
        "DELETE",
        &format!("{PODS}/{victim}"),
        "application/json",
        "",
    )
    .await;
    let d = wait(&env, &format!("{DS}/ondel"), "one updated", |d| {
        d["status"]["updatedNumberScheduled"] == 1 && d["status"]["numberAvailable"] == 2
    })
    .await;
    assert_eq!(d["status"]["desiredNumberScheduled"], 2);
}

#[tokio::test]
async fn a_job_runs_its_completions_with_parallelism_and_completes() {
    let env = start_default(1, vec![]).await;
    env.create(
        JOBS,
        job("batch", json!({"completions": 3, "parallelism": 2})),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let j = loop {
        let j = env.get(&format!("{JOBS}/batch")).await.body;
        let live = pods(&env, "app%3Dbatch")
            .await
            .into_iter()
            .filter(|p| !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
            .count();
        assert!(live <= 2, "more pods at once than parallelism");
        if condition(&j, "Complete").is_some() {
            break j;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never completed: {j}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let st = &j["status"];
    assert_eq!(st["succeeded"], 3);
    assert!(st.get("active").is_none(), "{st}");
    assert!(st.get("failed").is_none(), "{st}");
    assert_eq!(st["ready"], 0);
    assert_eq!(st["terminating"], 0);
    assert_eq!(st["uncountedTerminatedPods"], json!({}));
    assert!(st["startTime"].is_string() && st["completionTime"].is_string());
    let types: Vec<&str> = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["SuccessCriteriaMet", "Complete"]);
    assert_eq!(
        condition(&j, "Complete").unwrap()["reason"],
        "CompletionsReached"
    );
    let uid = j["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    let ps = pods(&env, "job-name%3Dbatch").await;
    assert_eq!(ps.len(), 3);
    for p in &ps {
        assert_eq!(p["status"]["phase"], "Succeeded");
        assert_eq!(
            p["metadata"]["labels"]["batch.kubernetes.io/job-name"],
            "batch"
        );
        assert_eq!(
            p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"],
            uid
        );
        assert!(
            p["metadata"]
                .get("finalizers")
                .is_none_or(|f| f.as_array().unwrap().is_empty()),
            "{p}"
        );
        let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(t["exitCode"], 0);
        assert_eq!(t["reason"], "Completed");
    }
}

#[tokio::test]
async fn a_failing_job_stops_at_its_backoff_limit_never_and_on_failure() {
    let env = start_default(1, vec![]).await;
    let mut never = job("never", json!({"backoffLimit": 1}));
    never["spec"]["template"]["metadata"]["annotations"] =
        json!({"sandbox.switchyard.dev/fail": "crashloop"});
    env.create(JOBS, never).await;
    let mut onfail = job("onfail", json!({"backoffLimit": 2}));
    onfail["spec"]["template"]["metadata"]["annotations"] =
        json!({"sandbox.switchyard.dev/fail": "crashloop"});
    onfail["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    env.create(JOBS, onfail).await;

    let j = wait(&env, &format!("{JOBS}/never"), "failed", |j| {
        condition(j, "Failed").is_some()
    })
    .await;
    let failed = condition(&j, "Failed").unwrap();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    assert_eq!(
        failed["message"],
        "Job has reached the specified backoff limit"
    );
    assert_eq!(
        condition(&j, "FailureTarget").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(
        j["status"]["failed"], 2,
        "backoffLimit 1: the second failure ends it"
    );
    assert!(j["status"].get("completionTime").is_none());
    let ps = pods(&env, "job-name%3Dnever").await;
    assert_eq!(ps.len(), 2);
    for p in &ps {
        assert_eq!(p["status"]["phase"], "Failed");
        let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(t["exitCode"], 1);
        assert_eq!(t["reason"], "Error");
    }

    // OnFailure: the container restarts in place; the restarts count.
    let j = wait(&env, &format!("{JOBS}/onfail"), "failed", |j| {
        condition(j, "Failed").is_some()
    })
    .await;
    assert_eq!(
        condition(&j, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(
        j["status"]["failed"], 1,
        "one pod, deleted when the Job failed"
    );
    let pods_left = wait(
        &env,
        &format!("{PODS}?labelSelector=job-name%3Donfail"),
        "the pod gone",
        |l| l["items"].as_array().is_some_and(|a| a.is_empty()),
    )
    .await;
    assert!(pods_left["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_job_past_its_active_deadline_fails_with_deadline_exceeded() {
    let env = start_default(1, vec![]).await;
    let mut slow = job("slow", json!({"activeDeadlineSeconds": 1}));
    slow["spec"]["template"]["metadata"]["annotations"] =
        json!({"sandbox.switchyard.dev/run-for": "60s"});
    env.create(JOBS, slow).await;
    let j = wait(&env, &format!("{JOBS}/slow"), "running", |j| {
        j["status"]["ready"] == 1
    })
    .await;
    assert_eq!(j["status"]["active"], 1);
    let j = wait(&env, &format!("{JOBS}/slow"), "failed", |j| {
        condition(j, "Failed").is_some()
    })
    .await;
    let failed = condition(&j, "Failed").unwrap();
    assert_eq!(failed["reason"], "DeadlineExceeded");
    assert_eq!(
        failed["message"],
        "Job was active longer than specified deadline"
    );
    assert_eq!(j["status"]["failed"], 1);
    assert_eq!(
        j["status"]["terminating"], 0,
        "Failed waits for the pod to be gone"
    );
    assert!(j["status"].get("active").is_none());
}

#[tokio::test]
async fn failure_annotations_work_on_every_workload_template() {
    let env = start_default(2, vec![]).await;
    let mut sts = statefulset("stuck", 2, json!({}));
    sts["spec"]["template"]["metadata"]["annotations"] =
        json!({"sandbox.switchyard.dev/fail": "imagepull"});
    env.create(STS, sts).await;
    let mut ds = daemonset("crashy", json!({}));
    ds["spec"]["template"]["metadata"]["annotations"] =
        json!({"sandbox.switchyard.dev/fail": "crashloop"});
    env.create(DS, ds).await;
    let p = wait(
        &env,
        &format!("{PODS}/stuck-0"),
        "image pull failure",
        |p| {
            matches!(
                p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].as_str(),
                Some("ErrImagePull" | "ImagePullBackOff")
            )
        },
    )
    .await;
    assert_eq!(
        p["metadata"]["annotations"]["sandbox.switchyard.dev/fail"],
        "imagepull"
    );
    let d = wait(&env, &format!("{DS}/crashy"), "both crash-looping", |d| {
        d["status"]["currentNumberScheduled"] == 2 && d["status"]["numberUnavailable"] == 2
    })
    .await;
    assert_eq!(d["status"]["numberReady"], 0);
    let ps = wait(
        &env,
        &format!("{PODS}?labelSelector=app%3Dcrashy"),
        "CrashLoopBackOff",
        |l| {
            l["items"].as_array().is_some_and(|a| {
                a.len() == 2
                    && a.iter().all(|p| {
                        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                            == "CrashLoopBackOff"
                    })
            })
        },
    )
    .await;
    assert_eq!(ps["items"].as_array().unwrap().len(), 2);
    // OrderedReady waits on stuck-0: no stuck-1.
    let s = env.get(&format!("{STS}/stuck")).await.body;
    assert_eq!(s["status"]["replicas"], 1, "{s}");
    assert!(s["status"].get("readyReplicas").is_none());
    assert_eq!(env.get(&format!("{PODS}/stuck-1")).await.code, 404);
}

#[tokio::test]
async fn image_failures_pick_the_mode_of_each_kinds_pods() {
    let rules = vec![
        ImageFailure::parse("*:broken=crashloop").unwrap(),
        ImageFailure::parse("registry.local/*=imagepull").unwrap(),
    ];
    let env = start_default(1, rules).await;
    let mut j = job("bad", json!({"backoffLimit": 0}));
    j["spec"]["template"]["spec"]["containers"][0]["image"] = json!("example/task:broken");
    env.create(JOBS, j).await;
    env.create(STS, statefulset("web", 3, json!({}))).await;
    env.create(DS, daemonset("pull", json!({}))).await;
    env.raw(
        "PATCH",
        &format!("{DS}/pull"),
        SMP,
        &set_image("registry.local/agent:1"),
    )
    .await;

    let j = wait(&env, &format!("{JOBS}/bad"), "failed", |j| {
        condition(j, "Failed").is_some()
    })
    .await;
    assert_eq!(
        condition(&j, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    let ps = pods(&env, "job-name%3Dbad").await;
    assert_eq!(
        ps[0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        1
    );

    wait(&env, &format!("{STS}/web"), "3 ready", |s| sts_done(s, 3)).await;
    env.raw(
        "PATCH",
        &format!("{STS}/web"),
        SMP,
        &set_image("example/db:broken"),
    )
    .await;
    // The top pod crash-loops at the new image; the rollout goes no further.
    wait(&env, &format!("{PODS}/web-2"), "web-2 crash-looping", |p| {
        image(p) == "example/db:broken"
            && p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                == "CrashLoopBackOff"
    })
    .await;
    let s = wait(&env, &format!("{STS}/web"), "stuck at one updated", |s| {
        s["status"]["updatedReplicas"] == 1 && s["status"]["readyReplicas"] == 2
    })
    .await;
    assert_ne!(
        s["status"]["currentRevision"],
        s["status"]["updateRevision"]
    );
    assert_eq!(
        image(&env.get(&format!("{PODS}/web-1")).await.body),
        "example/db:1"
    );

    let p = wait(
        &env,
        &format!("{PODS}?labelSelector=app%3Dpull"),
        "image pull failure",
        |l| {
            l["items"].as_array().is_some_and(|a| {
                a.iter().any(|p| {
                    image(p) == "registry.local/agent:1"
                        && matches!(
                            p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                                .as_str(),
                            Some("ErrImagePull" | "ImagePullBackOff")
                        )
                })
            })
        },
    )
    .await;
    assert!(!p["items"].as_array().unwrap().is_empty());
}
