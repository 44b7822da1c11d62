//! Every controller transition: Deployment → ReplicaSet → Pods, rolling and
//! Recreate updates, pod failure modes, progress deadline, EndpointSlices,
//! the service proxy, and garbage collection.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{Env, deployment, start};

const DEPLOY: &str = "/apis/apps/v1/namespaces/default/deployments";
const PODS: &str = "/api/v1/namespaces/default/pods";
const SVC: &str = "/api/v1/namespaces/default/services";

/// Every pod of `app`, Terminating ones included (as a real server lists them).
async fn pods(env: &Env, app: &str) -> Vec<Value> {
    env.get(&format!("{PODS}?labelSelector=app%3D{app}"))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The pods of `app` not being deleted: what ReplicaSets count, and what
/// maxSurge bounds.
async fn live_pods(env: &Env, app: &str) -> Vec<Value> {
    pods(env, app)
        .await
        .into_iter()
        .filter(|p| p["metadata"].get("deletionTimestamp").is_none())
        .collect()
}

fn ready(d: &Value, n: i64) -> bool {
    d["status"]["readyReplicas"] == n
        && d["status"]["updatedReplicas"] == n
        && d["status"]["replicas"] == n
        && d["status"]["observedGeneration"] == d["metadata"]["generation"]
}

fn condition<'a>(obj: &'a Value, kind: &str) -> &'a Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn deployment_makes_a_replicaset_and_ready_pods() {
    let env = start().await;
    env.create(DEPLOY, deployment("web", 3, json!({}))).await;
    let d = env
        .wait_for(&format!("{DEPLOY}/web"), "3 ready", |d| ready(d, 3))
        .await;
    assert_eq!(condition(&d, "Available")["status"], "True");
    assert_eq!(
        condition(&d, "Progressing")["reason"],
        "NewReplicaSetAvailable"
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let rss = env
        .get("/apis/apps/v1/namespaces/default/replicasets")
        .await
        .body;
    let rs = &rss["items"][0];
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap();
    assert_eq!(rs["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    let ps = pods(&env, "web").await;
    assert_eq!(ps.len(), 3);
    for p in &ps {
        assert_eq!(p["status"]["phase"], "Running");
        assert_eq!(condition(p, "Ready")["status"], "True");
        assert!(
            p["status"]["podIP"]
                .as_str()
                .unwrap()
                .starts_with("10.244.")
        );
        assert_eq!(p["metadata"]["labels"]["pod-template-hash"], hash);
    }
}

#[tokio::test]
async fn rolling_update_replaces_pods_without_dropping_below_min_available() {
    let env = start().await;
    let mut d = deployment("roll", 4, json!({}));
    d["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    env.create(DEPLOY, d).await;
    env.wait_for(&format!("{DEPLOY}/roll"), "4 ready", |d| ready(d, 4))
        .await;
    env.raw("PATCH", &format!("{DEPLOY}/roll"), "application/strategic-merge-patch+json",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"example/app:2.0"}]}}}}"#).await;
    // Sample availability while it rolls: maxUnavailable 0 means never below 4.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut min_available = i64::MAX;
    let mut max_pods = 0;
    loop {
        let d = env.get(&format!("{DEPLOY}/roll")).await.body;
        if d["status"]["observedGeneration"] == 2 {
            min_available =
                min_available.min(d["status"]["availableReplicas"].as_i64().unwrap_or(0));
        }
        max_pods = max_pods.max(live_pods(&env, "roll").await.len());
        if ready(&d, 4)
            && condition(&d, "Progressing")["reason"] == "NewReplicaSetAvailable"
            && live_pods(&env, "roll")
                .await
                .iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "example/app:2.0")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rollout did not finish: {d}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(min_available >= 4, "availability dipped to {min_available}");
    assert!(max_pods <= 5, "surge exceeded: {max_pods} pods");
    let d = env.get(&format!("{DEPLOY}/roll")).await.body;
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    let rss = env
        .get("/apis/apps/v1/namespaces/default/replicasets")
        .await
        .body;
    let replicas: Vec<i64> = rss["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["spec"]["replicas"].as_i64().unwrap())
        .collect();
    assert_eq!(replicas.iter().sum::<i64>(), 4);
    assert!(
        replicas.contains(&0),
        "the old ReplicaSet is kept at 0 for rollback: {replicas:?}"
    );
}

#[tokio::test]
async fn recreate_stops_old_pods_before_starting_new_ones() {
    let env = start().await;
    let mut d = deployment("rec", 2, json!({}));
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    env.create(DEPLOY, d).await;
    env.wait_for(&format!("{DEPLOY}/rec"), "2 ready", |d| ready(d, 2))
        .await;
    env.raw("PATCH", &format!("{DEPLOY}/rec"), "application/strategic-merge-patch+json",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"example/app:2.0"}]}}}}"#).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ps = pods(&env, "rec").await;
        let images: Vec<&str> = ps
            .iter()
            .map(|p| p["spec"]["containers"][0]["image"].as_str().unwrap())
            .collect();
        assert!(
            !(images.contains(&"example/app:1.0") && images.contains(&"example/app:2.0")),
            "old and new ran together: {images:?}"
        );
        let d = env.get(&format!("{DEPLOY}/rec")).await.body;
        if ready(&d, 2) && images == ["example/app:2.0", "example/app:2.0"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "recreate did not finish"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn scaling_adds_and_removes_pods() {
    let env = start().await;
    env.create(DEPLOY, deployment("sc", 1, json!({}))).await;
    env.wait_for(&format!("{DEPLOY}/sc"), "1 ready", |d| ready(d, 1))
        .await;
    env.raw(
        "PATCH",
        &format!("{DEPLOY}/sc"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":4}}"#,
    )
    .await;
    env.wait_for(&format!("{DEPLOY}/sc"), "4 ready", |d| ready(d, 4))
        .await;
    env.raw(
        "PATCH",
        &format!("{DEPLOY}/sc"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":2}}"#,
    )
    .await;
    env.wait_for(&format!("{DEPLOY}/sc"), "2 ready", |d| ready(d, 2))
        .await;
    assert_eq!(live_pods(&env, "sc").await.len(), 2);
    // The two removed pods terminate gracefully: listed with a
    // deletionTimestamp for their grace period (capped at 1 s), then gone.
    let all = pods(&env, "sc").await;
    let terminating: Vec<&Value> = all
        .iter()
        .filter(|p| p["metadata"].get("deletionTimestamp").is_some())
        .collect();
    assert!(terminating.len() <= 2, "{all:?}");
    for p in &terminating {
        assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30, "{p}");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pods(&env, "sc").await.len() > 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "terminating pods never went"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The waiting or terminated reason of the first container of every pod of `app`,
/// once all pods show one.
async fn reasons(env: &Env, app: &str, want: &str) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ps = pods(env, app).await;
        if !ps.is_empty()
            && ps
                .iter()
                .all(|p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == want)
        {
            return ps;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {want} on {app}: {ps:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn failure_modes_show_the_reasons_real_clusters_show() {
    let env = start().await;
    for mode in [
        "crashloop",
        "oom",
        "imagepull",
        "config",
        "unready",
        "unschedulable",
    ] {
        env.create(
            DEPLOY,
            deployment(mode, 1, json!({"sandbox.switchyard.dev/fail": mode})),
        )
        .await;
    }
    let crash = reasons(&env, "crashloop", "CrashLoopBackOff").await;
    assert_eq!(
        crash[0]["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"],
        "Error"
    );
    let first = crash[0]["status"]["containerStatuses"][0]["restartCount"]
        .as_i64()
        .unwrap();
    assert!(first >= 1);
    let later = reasons(&env, "crashloop", "CrashLoopBackOff").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let later = later
        .first()
        .map(|_| ())
        .and(Some(reasons(&env, "crashloop", "CrashLoopBackOff").await))
        .unwrap();
    assert!(
        later[0]["status"]["containerStatuses"][0]["restartCount"]
            .as_i64()
            .unwrap()
            > first,
        "restarts grow"
    );

    let oom = reasons(&env, "oom", "CrashLoopBackOff").await;
    let term = &oom[0]["status"]["containerStatuses"][0]["lastState"]["terminated"];
    assert_eq!(
        (term["reason"].as_str(), term["exitCode"].as_i64()),
        (Some("OOMKilled"), Some(137))
    );

    let pull = pods(&env, "imagepull").await;
    let r = &pull[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"];
    assert!(r == "ErrImagePull" || r == "ImagePullBackOff", "{r}");
    assert_eq!(pull[0]["status"]["phase"], "Pending");

    let cfg = reasons(&env, "config", "CreateContainerConfigError").await;
    assert!(
        cfg[0]["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .contains("not found")
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    let unready = pods(&env, "unready").await;
    assert_eq!(unready[0]["status"]["phase"], "Running");
    assert_eq!(condition(&unready[0], "Ready")["status"], "False");

    let unsched = pods(&env, "unschedulable").await;
    let c = condition(&unsched[0], "PodScheduled");
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("False"), Some("Unschedulable"))
    );
}

#[tokio::test]
async fn ready_after_delays_readiness() {
    let env = start().await;
    env.create(
        DEPLOY,
        deployment(
            "slow",
            1,
            json!({"sandbox.switchyard.dev/ready-after": "700ms"}),
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    let early = pods(&env, "slow").await;
    assert_eq!(condition(&early[0], "Ready")["status"], "False");
    assert_eq!(early[0]["status"]["phase"], "Running");
    env.wait_for(&format!("{DEPLOY}/slow"), "ready", |d| ready(d, 1))
        .await;
}

#[tokio::test]
async fn stuck_rollout_exceeds_its_progress_deadline() {
    let env = start().await;
    let mut d = deployment(
        "stuck",
        2,
        json!({"sandbox.switchyard.dev/fail": "crashloop"}),
    );
    d["spec"]["progressDeadlineSeconds"] = json!(1);
    env.create(DEPLOY, d).await;
    let d = env
        .wait_for(
            &format!("{DEPLOY}/stuck"),
            "ProgressDeadlineExceeded",
            |d| condition(d, "Progressing")["reason"] == "ProgressDeadlineExceeded",
        )
        .await;
    assert_eq!(condition(&d, "Progressing")["status"], "False");
    assert_eq!(condition(&d, "Available")["status"], "False");
    assert_eq!(d["status"]["unavailableReplicas"], 2);
}

#[tokio::test]
async fn endpoint_slices_follow_pods_and_the_service_selector() {
    let env = start().await;
    env.create(DEPLOY, deployment("blue", 2, json!({}))).await;
    env.create(DEPLOY, deployment("green", 2, json!({}))).await;
    env.create(SVC, json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "blue"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})).await;
    let ips = |app: &'static str| {
        let env = &env;
        async move {
            pods(env, app)
                .await
                .iter()
                .map(|p| p["status"]["podIP"].as_str().unwrap_or("").to_string())
                .collect::<std::collections::BTreeSet<_>>()
        }
    };
    let slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb";
    let ready_ips = |list: &Value| -> std::collections::BTreeSet<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["conditions"]["ready"] == true)
            .map(|e| e["addresses"][0].as_str().unwrap().to_string())
            .collect()
    };
    env.wait_for(&format!("{DEPLOY}/blue"), "blue", |d| ready(d, 2))
        .await;
    env.wait_for(&format!("{DEPLOY}/green"), "green", |d| ready(d, 2))
        .await;
    let blue = ips("blue").await;
    env.wait_for(slices, "blue endpoints", |l| ready_ips(l) == blue)
        .await;
    let list = env.get(slices).await.body;
    assert_eq!(
        list["items"][0]["ports"][0]["port"], 8080,
        "named targetPort resolves to the container port"
    );
    assert_eq!(list["items"][0]["addressType"], "IPv4");

    env.raw(
        "PATCH",
        &format!("{SVC}/web"),
        "application/merge-patch+json",
        r#"{"spec":{"selector":{"app":"green"}}}"#,
    )
    .await;
    let green = ips("green").await;
    env.wait_for(slices, "green endpoints", |l| ready_ips(l) == green)
        .await;
    let eps = env
        .get("/api/v1/namespaces/default/endpoints/web")
        .await
        .body;
    assert_eq!(eps["subsets"][0]["addresses"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn service_proxy_answers_from_pod_health() {
    let env = start().await;
    env.create(DEPLOY, deployment("up", 1, json!({}))).await;
    env.create(
        DEPLOY,
        deployment("down", 1, json!({"sandbox.switchyard.dev/health": "down"})),
    )
    .await;
    for app in ["up", "down", "none"] {
        env.create(
            SVC,
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app},
            "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80}]}}),
        )
        .await;
    }
    env.wait_for(&format!("{DEPLOY}/up"), "up", |d| ready(d, 1))
        .await;
    env.wait_for(&format!("{DEPLOY}/down"), "down", |d| ready(d, 1))
        .await;
    let up = env.get(&format!("{SVC}/up:80/proxy/actuator/health")).await;
    assert_eq!((up.code, up.body["status"].as_str()), (200, Some("UP")));
    let down = env
        .get(&format!("{SVC}/down:http/proxy/actuator/health"))
        .await;
    assert_eq!(
        (down.code, down.body["status"].as_str()),
        (503, Some("DOWN"))
    );
    assert_eq!(env.get(&format!("{SVC}/none/proxy/health")).await.code, 503);
    assert_eq!(
        env.get(&format!("{SVC}/up:9999/proxy/health")).await.code,
        503
    );
}

#[tokio::test]
async fn deleting_a_deployment_collects_its_replicasets_and_pods() {
    let env = start().await;
    env.create(DEPLOY, deployment("gc", 2, json!({}))).await;
    env.wait_for(&format!("{DEPLOY}/gc"), "ready", |d| ready(d, 2))
        .await;
    assert_eq!(
        env.raw("DELETE", &format!("{DEPLOY}/gc"), "application/json", "")
            .await
            .code,
        200
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let rs = env
            .get("/apis/apps/v1/namespaces/default/replicasets")
            .await
            .body;
        if rs["items"].as_array().unwrap().is_empty() && pods(&env, "gc").await.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "dependents remain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_contents() {
    let env = start().await;
    env.create(
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tmp"}}),
    )
    .await;
    env.create(
        "/api/v1/namespaces/tmp/configmaps",
        crate::configmap("c", json!({})),
    )
    .await;
    assert_eq!(
        env.raw("DELETE", "/api/v1/namespaces/tmp", "application/json", "")
            .await
            .code,
        200
    );
    assert_eq!(
        env.get("/api/v1/namespaces/tmp/configmaps/c").await.code,
        404
    );
    assert_eq!(env.get("/api/v1/namespaces/tmp").await.code, 404);
}

/// A real control plane's timing: during a rollout the Deployment's status
/// moves in separate writes, and the controller observes the new generation
/// before the counts have caught up (they come from ReplicaSets that lag).
#[tokio::test]
async fn a_rollouts_status_moves_in_steps_observed_generation_first() {
    let env = start().await;
    env.create(DEPLOY, deployment("steps", 3, json!({}))).await;
    env.wait_for(&format!("{DEPLOY}/steps"), "3 ready", |d| ready(d, 3))
        .await;
    let mut feed = env.sandbox.cluster().store.subscribe();
    env.raw("PATCH", &format!("{DEPLOY}/steps"), "application/strategic-merge-patch+json",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"example/app:2.0"}]}}}}"#).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut statuses: Vec<Value> = Vec::new();
    loop {
        let c = tokio::time::timeout_at(deadline, feed.recv())
            .await
            .expect("the rollout finishes")
            .expect("the feed runs");
        if c.res.plural != "deployments" || c.object["metadata"]["name"] != "steps" {
            continue;
        }
        let status = c.object["status"].clone();
        if statuses.last() != Some(&status) {
            statuses.push(status);
        }
        if ready(&c.object, 3) && c.object["metadata"]["generation"] == 2 {
            break;
        }
    }
    // Generation 2 observed while the new pods were not all updated yet.
    assert!(
        statuses
            .iter()
            .any(|s| s["observedGeneration"] == 2 && s["updatedReplicas"].as_i64().unwrap_or(0) < 3),
        "{statuses:#?}"
    );
    assert!(statuses.len() >= 4, "status in steps: {statuses:#?}");
}

/// `minReadySeconds`: a pod counts as available only once it has been Ready
/// that long (`podutil.IsPodAvailable`).
#[tokio::test]
async fn min_ready_seconds_delays_availability() {
    let env = start().await;
    let mut d = deployment("slow", 1, json!({}));
    d["spec"]["minReadySeconds"] = json!(1);
    env.create(DEPLOY, d).await;
    let mut seen_ready_unavailable = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let d = env.get(&format!("{DEPLOY}/slow")).await.body;
        let (ready_n, available) = (
            d["status"]["readyReplicas"].as_i64().unwrap_or(0),
            d["status"]["availableReplicas"].as_i64().unwrap_or(0),
        );
        if ready_n == 1 && available == 0 {
            seen_ready_unavailable = true;
        }
        if available == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never available: {d}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen_ready_unavailable, "ready before available");
}

/// A deleted pod terminates gracefully: its EndpointSlice keeps it, not
/// ready, `terminating: true`, until the kubelet removes it.
#[tokio::test]
async fn terminating_pods_stay_in_endpoint_slices_as_terminating() {
    let env = start().await;
    env.create(
        SVC,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "drain"},
        "spec": {"selector": {"app": "drain"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
    )
    .await;
    env.create(DEPLOY, deployment("drain", 2, json!({}))).await;
    env.wait_for(&format!("{DEPLOY}/drain"), "2 ready", |d| ready(d, 2))
        .await;
    env.raw(
        "PATCH",
        &format!("{DEPLOY}/drain"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":1}}"#,
    )
    .await;
    let slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Ddrain";
    let endpoints = |body: &Value| -> Vec<Value> {
        body["items"][0]["endpoints"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let terminating = env
        .wait_for(slices, "a terminating endpoint", |b| {
            endpoints(b)
                .iter()
                .any(|e| e["conditions"]["terminating"] == true)
        })
        .await;
    let t: Vec<Value> = endpoints(&terminating)
        .into_iter()
        .filter(|e| e["conditions"]["terminating"] == true)
        .collect();
    assert_eq!(t.len(), 1, "{terminating}");
    assert_eq!(t[0]["conditions"]["ready"], false);
    env.wait_for(slices, "only the one pod left", |b| endpoints(b).len() == 1)
        .await;
}

/// Another writer, started at run time: the status of every Deployment is
/// rewritten (resourceVersion bumped), its spec and generation untouched.
#[tokio::test]
async fn a_status_writer_started_at_run_time_rewrites_status_only() {
    let env = start().await;
    env.create(DEPLOY, deployment("busy", 1, json!({}))).await;
    let before = env
        .wait_for(&format!("{DEPLOY}/busy"), "1 ready", |d| ready(d, 1))
        .await;
    let r = env
        .raw(
            "POST",
            "/sandbox/faults",
            "application/json",
            r#"{"spec": "status-writer=deployments,interval=20ms"}"#,
        )
        .await;
    assert!(r.code < 300, "{}", r.text);
    let after = env
        .wait_for(&format!("{DEPLOY}/busy"), "rewritten twice", |d| {
            crate::rv(d) > crate::rv(&before) + 1
                && condition(d, "SandboxStatusWriter")["status"] == "True"
        })
        .await;
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(
        after["metadata"]["generation"],
        before["metadata"]["generation"]
    );
}

#[tokio::test]
async fn replicasets_carry_the_deployments_annotations_and_a_rollback_keeps_its_old_revision() {
    let env = start().await;
    let mut d = deployment("cause", 1, json!({}));
    d["metadata"]["annotations"] = json!({"kubernetes.io/change-cause": "v1",
        "kubectl.kubernetes.io/last-applied-configuration": "{}"});
    env.create(DEPLOY, d).await;
    env.wait_for(&format!("{DEPLOY}/cause"), "1 ready", |d| ready(d, 1))
        .await;
    let rs_of = |rss: &Value, image: &str| {
        rss["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["spec"]["template"]["spec"]["containers"][0]["image"] == image)
            .cloned()
            .unwrap_or_else(|| panic!("no ReplicaSet of {image}: {rss}"))
    };
    let patch = |image: &str, cause: &str| {
        json!({"metadata": {"annotations": {"kubernetes.io/change-cause": cause}},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
        .to_string()
    };
    for (image, cause) in [("example/app:2.0", "v2"), ("example/app:1.0", "back to v1")] {
        let p = env
            .raw(
                "PATCH",
                &format!("{DEPLOY}/cause"),
                "application/strategic-merge-patch+json",
                &patch(image, cause),
            )
            .await;
        assert_eq!(p.code, 200, "{}", p.text);
        env.wait_for(&format!("{DEPLOY}/cause"), "rolled out", |d| {
            ready(d, 1) && d["status"]["updatedReplicas"] == 1
        })
        .await;
    }
    let rss = env
        .wait_for(
            "/apis/apps/v1/namespaces/default/replicasets",
            "the old ReplicaSet reused as revision 3",
            |rss| {
                rss["items"].as_array().is_some_and(|i| {
                    i.iter().any(|r| {
                        r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
                    })
                })
            },
        )
        .await;
    assert_eq!(rss["items"].as_array().unwrap().len(), 2, "{rss}");
    let v1 = rs_of(&rss, "example/app:1.0");
    let a = &v1["metadata"]["annotations"];
    assert_eq!(a["kubernetes.io/change-cause"], "back to v1");
    assert_eq!(a["deployment.kubernetes.io/revision-history"], "1");
    assert!(
        a.get("kubectl.kubernetes.io/last-applied-configuration")
            .is_none()
    );
    let v2 = rs_of(&rss, "example/app:2.0");
    assert_eq!(
        v2["metadata"]["annotations"]["kubernetes.io/change-cause"],
        "v2"
    );
    assert_eq!(
        v2["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
}
