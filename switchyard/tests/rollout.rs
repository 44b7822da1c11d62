//! `switchyard::rollout::wait_all` against a kube-sandbox: several workloads
//! followed at once, the first failure ending the wait, timeouts, and a
//! target that does not exist.

use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, PostParams};
use kube_sandbox::{Options, Sandbox, Settings};
use serde_json::{Value, json};
use switchyard::exit::{Exit, classify};
use switchyard::rollout::{Kind, Target, Verdict, wait_all};

const NS: &str = "default";

async fn start() -> (Sandbox, Client) {
    let sandbox = Sandbox::start(Options {
        settings: Settings {
            ready_delay: Duration::from_millis(50),
            crash_backoff: Duration::from_millis(200),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let kc = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig(None, NS)).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    config.default_retry = false;
    let client = Client::try_from(config).unwrap();
    (sandbox, client)
}

async fn create(client: &Client, name: &str, replicas: i32, annotations: Value) {
    let d: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": NS },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name }, "annotations": annotations },
                "spec": { "containers": [{ "name": "app", "image": "app:1" }] },
            },
        },
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &d)
        .await
        .expect("deployment created");
}

fn deployment(name: &str) -> Target {
    Target::new(Kind::Deployment, NS, name)
}

#[tokio::test]
async fn every_target_is_followed_to_done_in_order() {
    let (_sandbox, client) = start().await;
    create(&client, "api", 2, json!({})).await;
    create(&client, "worker", 1, json!({})).await;
    let lines = Mutex::new(Vec::new());
    let progress = |l: &str| lines.lock().unwrap().push(l.to_string());
    let outcomes = wait_all(
        &client,
        &[deployment("worker"), deployment("api")],
        Some(Duration::from_secs(60)),
        &progress,
    )
    .await
    .unwrap();
    let names: Vec<&str> = outcomes.iter().map(|o| o.target.name.as_str()).collect();
    assert_eq!(names, ["worker", "api"]);
    for o in &outcomes {
        assert_eq!(o.verdict, Verdict::Done, "{o:?}");
        assert_eq!(o.revision.as_deref(), Some("1"));
        assert_eq!(o.exit(), Exit::Ok);
    }
    assert_eq!(
        outcomes[1].summary,
        "deployment/api: 2/2 ready, 2 updated, 2 available"
    );
    let lines = lines.into_inner().unwrap();
    assert!(
        lines.iter().any(|l| l.starts_with("deployment/api: "))
            && lines.iter().any(|l| l.starts_with("deployment/worker: ")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn the_first_failure_ends_the_wait_naming_pod_and_reason() {
    let (_sandbox, client) = start().await;
    create(
        &client,
        "slow",
        1,
        json!({ "sandbox.switchyard.dev/fail": "unready" }),
    )
    .await;
    create(
        &client,
        "broken",
        1,
        json!({ "sandbox.switchyard.dev/fail": "crashloop" }),
    )
    .await;
    let outcomes = wait_all(
        &client,
        &[deployment("slow"), deployment("broken")],
        // Never reached: the crash ends the wait, and `slow` is left out.
        Some(Duration::from_secs(600)),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    let o = &outcomes[0];
    assert_eq!(o.target.name, "broken");
    let Verdict::Failed {
        pod,
        reason,
        message,
    } = &o.verdict
    else {
        panic!("{o:?}")
    };
    assert!(
        pod.as_deref().is_some_and(|p| p.starts_with("broken-")),
        "{pod:?}"
    );
    assert_eq!(reason, "CrashLoopBackOff");
    assert!(message.contains("last exit code"), "{message}");
    assert_eq!(o.container.as_deref(), Some("app"));
    assert_eq!(o.exit(), Exit::Failed);
}

#[tokio::test]
async fn a_timeout_reports_each_unfinished_target_with_its_last_state() {
    let (_sandbox, client) = start().await;
    create(&client, "ok", 1, json!({})).await;
    create(
        &client,
        "never",
        1,
        json!({ "sandbox.switchyard.dev/fail": "unready" }),
    )
    .await;
    let outcomes = wait_all(
        &client,
        &[deployment("ok"), deployment("never")],
        Some(Duration::from_secs(3)),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].verdict, Verdict::Done);
    assert_eq!(outcomes[1].verdict, Verdict::TimedOut);
    assert_eq!(outcomes[1].exit(), Exit::Timeout);
    assert!(
        outcomes[1]
            .summary
            .starts_with("deployment/never: 0/1 ready"),
        "{}",
        outcomes[1].summary
    );
    assert_eq!(outcomes[1].not_ready.len(), 1, "{:?}", outcomes[1]);
}

#[tokio::test]
async fn a_missing_target_is_a_precondition_error() {
    let (_sandbox, client) = start().await;
    let e = wait_all(
        &client,
        &[deployment("nope")],
        Some(Duration::from_secs(30)),
        &|_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(classify(&e), Exit::Precondition);
    assert!(e.to_string().contains("deployment nope not found"), "{e}");
}

async fn apply(client: &Client, kind: Kind, obj: Value) {
    let ar = kind.api_resource();
    kube::Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), NS, &ar)
        .create(
            &PostParams::default(),
            &serde_json::from_value(obj).unwrap(),
        )
        .await
        .expect("created");
}

fn job(name: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": name, "namespace": NS },
        "spec": {
            "backoffLimit": 1,
            "template": {
                "metadata": { "annotations": annotations },
                "spec": { "restartPolicy": "Never", "containers": [{ "name": "migrate", "image": "migrate:1" }] },
            },
        },
    })
}

#[tokio::test]
async fn jobs_complete_or_fail_with_the_controllers_reason_and_the_pods_exit_code() {
    let (_sandbox, client) = start().await;
    apply(&client, Kind::Job, job("ok", json!({}))).await;
    apply(
        &client,
        Kind::Job,
        job("bad", json!({ "sandbox.switchyard.dev/fail": "crashloop" })),
    )
    .await;
    let t = |n: &str| Target::new(Kind::Job, NS, n);
    let done = wait_all(&client, &[t("ok")], Some(Duration::from_secs(60)), &|_| {})
        .await
        .unwrap();
    assert_eq!(done[0].verdict, Verdict::Done, "{done:?}");
    assert_eq!(done[0].summary, "job/ok: 1/1 succeeded, 0 active, 0 failed");
    let failed = wait_all(&client, &[t("bad")], Some(Duration::from_secs(60)), &|_| {})
        .await
        .unwrap();
    let Verdict::Failed {
        pod,
        reason,
        message,
    } = &failed[0].verdict
    else {
        panic!("{failed:?}")
    };
    assert_eq!(reason, "BackoffLimitExceeded");
    assert!(
        pod.as_deref().is_some_and(|p| p.starts_with("bad-")),
        "{pod:?}"
    );
    assert!(
        message.contains("container migrate: Error (exit code 1)"),
        "{message}"
    );
    assert_eq!(failed[0].container.as_deref(), Some("migrate"));
}

#[tokio::test]
async fn statefulsets_and_daemonsets_are_followed_with_the_deployments() {
    let (_sandbox, client) = start().await;
    create(&client, "api", 1, json!({})).await;
    apply(
        &client,
        Kind::StatefulSet,
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": { "name": "db", "namespace": NS },
            "spec": {
                "replicas": 2, "serviceName": "db",
                "selector": { "matchLabels": { "app": "db" } },
                "template": { "metadata": { "labels": { "app": "db" } }, "spec": { "containers": [{ "name": "db", "image": "db:1" }] } },
            },
        }),
    )
    .await;
    apply(
        &client,
        Kind::DaemonSet,
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": { "name": "agent", "namespace": NS },
            "spec": {
                "selector": { "matchLabels": { "app": "agent" } },
                "template": { "metadata": { "labels": { "app": "agent" } }, "spec": { "containers": [{ "name": "agent", "image": "agent:1" }] } },
            },
        }),
    )
    .await;
    let targets = [
        Target::new(Kind::StatefulSet, NS, "db"),
        Target::new(Kind::Deployment, NS, "api"),
        Target::new(Kind::DaemonSet, NS, "agent"),
    ];
    let outcomes = wait_all(&client, &targets, Some(Duration::from_secs(60)), &|_| {})
        .await
        .unwrap();
    let summaries: Vec<(&Verdict, &str, Option<&str>)> = outcomes
        .iter()
        .map(|o| (&o.verdict, o.summary.as_str(), o.revision.as_deref()))
        .collect();
    assert_eq!(
        summaries,
        [
            (
                &Verdict::Done,
                "statefulset/db: 2/2 ready, 2 updated",
                Some("1")
            ),
            (
                &Verdict::Done,
                "deployment/api: 1/1 ready, 1 updated, 1 available",
                Some("1")
            ),
            (
                &Verdict::Done,
                "daemonset/agent: 1/1 updated, 1 available",
                Some("1")
            ),
        ]
    );
}
