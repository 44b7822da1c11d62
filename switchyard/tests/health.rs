//! `switchyard::health` against a kube-sandbox: every failure mode the sandbox
//! plays, rollouts, dropped watches, and HTTP checks through the service proxy.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kube_sandbox::{Options, Sandbox, Settings};
use serde_json::{Value, json};
use switchyard::exit::{Exit, classify};
use switchyard::health::{
    HttpAnswer, Observed, Outcome, http_check, wait_for_deployment, wait_for_http,
};

const NS: &str = "default";
/// Long enough never to be what ends a test that expects an early answer.
const LONG: Duration = Duration::from_secs(60);
/// "Answered before the timeout", not a speed target (the benchmarks measure
/// reaction times): half of LONG, so a wait that ran into LONG fails the test
/// however loaded the machine is.
const FAST: Duration = Duration::from_secs(30);

struct Env {
    sandbox: Sandbox,
    client: Client,
}

async fn start_with(faults: Vec<String>) -> Env {
    let sandbox = Sandbox::start(Options {
        settings: Settings {
            ready_delay: Duration::from_millis(50),
            crash_backoff: Duration::from_millis(200),
            ..Default::default()
        },
        faults,
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let kc = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig(None, NS)).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    // A 503 from the proxy is an answer to look at, not something to retry.
    config.default_retry = false;
    let client = Client::try_from(config).unwrap();
    Env { sandbox, client }
}

async fn start() -> Env {
    start_with(Vec::new()).await
}

/// A Deployment `name` of `replicas` pods labelled `app: name`, with the
/// sandbox's behaviour annotations on its pod template.
fn deployment(name: &str, replicas: i32, image: &str, annotations: Value) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": NS },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name }, "annotations": annotations },
                "spec": { "containers": [{ "name": "app", "image": image }] },
            },
        },
    }))
    .unwrap()
}

impl Env {
    async fn create(&self, d: Deployment) {
        Api::<Deployment>::namespaced(self.client.clone(), NS)
            .create(&PostParams::default(), &d)
            .await
            .expect("deployment created");
    }

    async fn service(&self, name: &str, app: &str) {
        let svc: Service = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": name, "namespace": NS },
            "spec": { "selector": { "app": app }, "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] },
        }))
        .unwrap();
        Api::<Service>::namespaced(self.client.clone(), NS)
            .create(&PostParams::default(), &svc)
            .await
            .expect("service created");
    }

    /// A new template: another image, other annotations.
    async fn roll(&self, name: &str, image: &str, annotations: Value) {
        let patch = json!({ "spec": { "template": {
            "metadata": { "annotations": annotations },
            "spec": { "containers": [{ "name": "app", "image": image }] },
        }}});
        Api::<Deployment>::namespaced(self.client.clone(), NS)
            .patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
            .expect("deployment patched");
    }

    /// The pods of `app` not being deleted (Terminating ones stay listed for
    /// their grace period, as on a real cluster).
    async fn pods(&self, app: &str) -> Vec<Pod> {
        Api::<Pod>::namespaced(self.client.clone(), NS)
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect()
    }

    /// Waits and records every observed state passed to `on_change`.
    async fn wait(&self, name: &str, timeout: Duration) -> (Outcome, Vec<Observed>, Duration) {
        let mut seen = Vec::new();
        let started = Instant::now();
        let outcome = wait_for_deployment(&self.client, NS, name, timeout, &mut |o| {
            seen.push(o.clone())
        })
        .await
        .expect("wait answers");
        (outcome, seen, started.elapsed())
    }

    /// Waits for `name` expecting an early failure, and returns it.
    async fn failure(&self, name: &str) -> (switchyard::health::Failure, Duration) {
        match self.wait(name, LONG).await {
            (Outcome::Failed(f, _), _, took) => (f, took),
            (other, seen, _) => panic!("expected a failure, got {other:?} after {seen:#?}"),
        }
    }
}

fn annotations(fail: &str) -> Value {
    json!({ "sandbox.switchyard.dev/fail": fail })
}

#[tokio::test]
async fn healthy_deployment_is_healthy_quickly() {
    let env = start().await;
    env.create(deployment("web", 2, "web:1", json!({}))).await;
    let (outcome, seen, took) = env.wait("web", LONG).await;
    let Outcome::Healthy(o) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (o.desired, o.updated, o.ready, o.available, o.old),
        (2, 2, 2, 2, 0)
    );
    assert_eq!(o.summary, "web: 2/2 ready, 2 updated, 2 available");
    assert_eq!(seen.last(), Some(&o), "the final state is reported too");
    assert!(took < FAST, "took {took:?}");
}

#[tokio::test]
async fn crashloop_fails_fast_naming_the_pod() {
    let env = start().await;
    env.create(deployment("web", 2, "web:1", annotations("crashloop")))
        .await;
    let (f, took) = env.failure("web").await;
    assert_eq!(f.reason, "CrashLoopBackOff");
    assert_eq!(f.container.as_deref(), Some("app"));
    let pod = f.pod.clone().expect("a pod is named");
    assert!(
        env.pods("web").await.iter().any(|p| p.name_any() == pod),
        "{pod} is one of the deployment's pods"
    );
    assert!(f.message.contains("back-off"), "{}", f.message);
    assert!(
        f.message.contains("last exit code 1 (Error)"),
        "{}",
        f.message
    );
    assert!(took < FAST, "took {took:?}");
}

#[tokio::test]
async fn image_pull_errors_fail_fast() {
    let env = start().await;
    env.create(deployment("web", 1, "web:nope", annotations("imagepull")))
        .await;
    let (f, took) = env.failure("web").await;
    assert!(
        ["ErrImagePull", "ImagePullBackOff"].contains(&f.reason.as_str()),
        "{f}"
    );
    assert!(f.message.contains("web:nope"), "{}", f.message);
    assert!(took < FAST, "took {took:?}");
}

#[tokio::test]
async fn oom_kills_fail_as_oomkilled() {
    let env = start().await;
    env.create(deployment("web", 1, "web:1", annotations("oom")))
        .await;
    let (f, took) = env.failure("web").await;
    assert_eq!(f.reason, "OOMKilled", "{f}");
    assert!(f.message.contains("exit code 137"), "{}", f.message);
    assert!(took < FAST, "took {took:?}");
}

#[tokio::test]
async fn missing_config_fails_fast() {
    let env = start().await;
    env.create(deployment("web", 1, "web:1", annotations("config")))
        .await;
    let (f, took) = env.failure("web").await;
    assert_eq!(f.reason, "CreateContainerConfigError");
    assert!(f.message.contains("secret"), "{}", f.message);
    assert!(took < FAST, "took {took:?}");
}

#[tokio::test]
async fn unschedulable_pods_fail_with_the_scheduler_message() {
    let env = start().await;
    env.create(deployment("web", 1, "web:1", annotations("unschedulable")))
        .await;
    let (f, took) = env.failure("web").await;
    assert_eq!(f.reason, "Unschedulable");
    assert_eq!(f.container, None);
    assert!(f.pod.is_some());
    assert!(f.message.contains("Insufficient cpu"), "{}", f.message);
    assert!(took < FAST, "took {took:?}");
}

#[tokio::test]
async fn never_ready_times_out_with_the_last_state() {
    let env = start().await;
    env.create(deployment("web", 2, "web:1", annotations("unready")))
        .await;
    let (outcome, _, took) = env.wait("web", Duration::from_secs(1)).await;
    let Outcome::TimedOut(o) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(outcome.exit(), Exit::Timeout);
    assert_eq!((o.ready, o.desired), (0, 2));
    assert_eq!(o.not_ready.len(), 2, "{o:?}");
    assert!(o.summary.ends_with("not ready: 2 Running"), "{}", o.summary);
    assert!(
        took >= Duration::from_secs(1) && took < FAST,
        "took {took:?}"
    );
}

#[tokio::test]
async fn slow_pods_are_waited_for() {
    let env = start().await;
    // Ready 1 s after the pods are created, which is after this instant.
    let created = Instant::now();
    env.create(deployment(
        "web",
        2,
        "web:1",
        json!({ "sandbox.switchyard.dev/ready-after": "1s" }),
    ))
    .await;
    let (outcome, _, took) = env.wait("web", LONG).await;
    assert!(matches!(outcome, Outcome::Healthy(_)), "{outcome:?}");
    assert!(
        created.elapsed() >= Duration::from_secs(1),
        "healthy before the pods were ready"
    );
    assert!(took < FAST, "took {took:?}");
}

#[tokio::test]
async fn progress_is_reported_with_rising_ready_counts_and_no_polling() {
    let env = start().await;
    env.create(deployment(
        "web",
        3,
        "web:1",
        json!({ "sandbox.switchyard.dev/ready-after": "500ms" }),
    ))
    .await;
    env.sandbox.cluster().requests.reset();
    let (outcome, seen, _) = env.wait("web", LONG).await;
    assert!(matches!(outcome, Outcome::Healthy(_)), "{outcome:?}");
    let ready: Vec<i32> = seen.iter().map(|o| o.ready).collect();
    assert!(ready.len() >= 2, "{seen:#?}");
    assert!(ready.windows(2).all(|w| w[0] <= w[1]), "{ready:?}");
    assert_eq!(ready.first(), Some(&0));
    assert_eq!(ready.last(), Some(&3));
    let summaries: Vec<&str> = seen.iter().map(|o| o.summary.as_str()).collect();
    assert!(
        summaries.windows(2).all(|w| w[0] != w[1]),
        "only changes are reported: {summaries:#?}"
    );
    // Watches, not polling: one list of each kind, however long it took.
    let requests = &env.sandbox.cluster().requests;
    assert_eq!(requests.count("list", "deployments"), 1);
    assert_eq!(requests.count("list", "pods"), 1);
    assert_eq!(requests.count("watch", "pods"), 1);
}

#[tokio::test]
async fn a_rollout_whose_new_pods_crash_fails_on_the_new_pods() {
    let env = start().await;
    env.create(deployment("web", 2, "web:1", json!({}))).await;
    assert!(matches!(env.wait("web", LONG).await.0, Outcome::Healthy(_)));
    let old: Vec<String> = env.pods("web").await.iter().map(|p| p.name_any()).collect();

    env.roll("web", "web:2", annotations("crashloop")).await;
    let (f, took) = env.failure("web").await;
    assert_eq!(f.reason, "CrashLoopBackOff");
    let pod = f.pod.unwrap();
    assert!(
        !old.contains(&pod),
        "{pod} is a new pod, not one of {old:?}"
    );
    assert!(took < FAST, "took {took:?}");
    // The old version keeps serving meanwhile: maxUnavailable 25% of 2 is 0.
    let still: Vec<String> = env.pods("web").await.iter().map(|p| p.name_any()).collect();
    assert!(
        old.iter().all(|o| still.contains(o)),
        "{old:?} vs {still:?}"
    );
}

#[tokio::test]
async fn a_rollout_away_from_crashing_pods_is_healthy_once_they_are_gone() {
    let env = start().await;
    env.create(deployment("web", 2, "web:1", annotations("crashloop")))
        .await;
    assert!(matches!(env.wait("web", LONG).await.0, Outcome::Failed(..)));

    // Waiting right after the patch: the crashing pods are the old version's
    // now, and must not be blamed on the new one.
    env.roll(
        "web",
        "web:2",
        json!({ "sandbox.switchyard.dev/fail": null, "sandbox.switchyard.dev/ready-after": "300ms" }),
    )
    .await;
    let (outcome, seen, took) = env.wait("web", LONG).await;
    let Outcome::Healthy(o) = &outcome else {
        panic!("{outcome:?} after {seen:#?}")
    };
    assert_eq!(o.old, 0);
    assert!(took < FAST, "took {took:?}");
    // Healthy only once old pods are gone: every pod left is of web:2.
    let pods = env.pods("web").await;
    assert_eq!(
        pods.len(),
        2,
        "{:?}",
        pods.iter().map(|p| p.name_any()).collect::<Vec<_>>()
    );
    for p in &pods {
        let image = &p.spec.as_ref().unwrap().containers[0].image;
        assert_eq!(image.as_deref(), Some("web:2"), "{}", p.name_any());
    }
}

#[tokio::test]
async fn a_good_rollout_is_healthy_only_once_old_pods_are_gone() {
    let env = start().await;
    env.create(deployment("web", 3, "web:1", json!({}))).await;
    assert!(matches!(env.wait("web", LONG).await.0, Outcome::Healthy(_)));
    env.roll(
        "web",
        "web:2",
        json!({ "sandbox.switchyard.dev/ready-after": "200ms" }),
    )
    .await;
    let (outcome, seen, _) = env.wait("web", LONG).await;
    assert!(matches!(outcome, Outcome::Healthy(_)), "{outcome:?}");
    assert!(
        seen.iter().any(|o| o.old > 0 || !o.current),
        "the rollout was seen in progress: {seen:#?}"
    );
    let pods = env.pods("web").await;
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("web:2"))
    );
}

#[tokio::test]
async fn a_new_rollout_during_the_wait_is_followed() {
    let env = start().await;
    env.create(deployment("web", 2, "web:1", annotations("unready")))
        .await;
    let client = env.client.clone();
    let waiting =
        tokio::spawn(
            async move { wait_for_deployment(&client, NS, "web", LONG, &mut |_| {}).await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.roll(
        "web",
        "web:2",
        json!({ "sandbox.switchyard.dev/fail": null }),
    )
    .await;
    let outcome = tokio::time::timeout(FAST, waiting)
        .await
        .expect("the wait ends")
        .unwrap()
        .unwrap();
    assert!(matches!(outcome, Outcome::Healthy(_)), "{outcome:?}");
}

#[tokio::test]
async fn progress_deadline_exceeded_fails() {
    let env = start().await;
    // Running but never ready: no pod-level reason, so the deadline is what ends it.
    let mut d = deployment("web", 1, "web:1", annotations("unready"));
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(1);
    // The deadline runs from the Deployment's creation, not from the wait's start.
    let created = Instant::now();
    env.create(d).await;
    let (f, took) = env.failure("web").await;
    assert_eq!(f.reason, "ProgressDeadlineExceeded");
    assert!(
        f.message.contains("has timed out progressing"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains(": Running"),
        "names the waiting pod: {}",
        f.message
    );
    assert!(
        created.elapsed() >= Duration::from_secs(1),
        "failed before the deadline"
    );
    assert!(took < FAST, "took {took:?}");
}

#[tokio::test]
async fn dropped_watches_are_resumed() {
    let env = start().await;
    env.create(deployment("web", 3, "web:1", json!({}))).await;
    assert!(matches!(env.wait("web", LONG).await.0, Outcome::Healthy(_)));
    // A rollout, so that both watches have several events to lose.
    for spec in [
        "drop-watch=2,resource=pods,count=1",
        "drop-watch=1,resource=deployments,count=2",
    ] {
        env.sandbox
            .cluster()
            .faults
            .add(kube_sandbox::faults::Fault::parse(spec).unwrap());
    }
    env.sandbox.cluster().requests.reset();
    env.roll(
        "web",
        "web:2",
        json!({ "sandbox.switchyard.dev/ready-after": "300ms" }),
    )
    .await;
    let (outcome, _, took) = env.wait("web", LONG).await;
    assert!(matches!(outcome, Outcome::Healthy(_)), "{outcome:?}");
    assert!(took < FAST, "took {took:?}");
    let requests = &env.sandbox.cluster().requests;
    let log = requests.snapshot();
    assert!(
        requests.count("watch", "pods") >= 2,
        "pod watch resumed: {log:#}"
    );
    assert!(
        requests.count("watch", "deployments") >= 2,
        "deployment watch resumed: {log:#}"
    );
    // Resumed, not relisted: nothing was lost, so nothing needs listing again.
    // The pods are listed once per ReplicaSet followed: the controller may
    // not have made the new one current yet when the wait starts (it lags,
    // as a real one does), and then the wait moves to it.
    assert_eq!(requests.count("list", "deployments"), 1, "{log:#}");
    let pod_lists: Vec<&str> = log["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .filter(|l| {
            l.starts_with("GET /api/v1/namespaces/default/pods?") && !l.contains("watch=true")
        })
        .collect();
    let mut followed = pod_lists.clone();
    followed.dedup();
    assert_eq!(
        pod_lists, followed,
        "a ReplicaSet's pods were listed twice: {log:#}"
    );
    assert!(pod_lists.len() <= 2, "{log:#}");
}

#[tokio::test]
async fn a_watch_past_the_kept_history_relists() {
    // Keep 3 changes; delay the first pod watch so that more happen meanwhile:
    // resuming from the list's resourceVersion then gets 410 Gone.
    let sandbox_env = Sandbox::start(Options {
        settings: Settings {
            ready_delay: Duration::from_millis(50),
            ..Default::default()
        },
        history: 3,
        faults: vec!["latency=300ms,verb=watch,resource=pods,count=1".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let kc = kube::config::Kubeconfig::from_yaml(&sandbox_env.kubeconfig(None, NS)).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    config.default_retry = false;
    let env = Env {
        client: Client::try_from(config).unwrap(),
        sandbox: sandbox_env,
    };
    env.create(deployment(
        "web",
        3,
        "web:1",
        json!({ "sandbox.switchyard.dev/ready-after": "150ms" }),
    ))
    .await;
    let (outcome, _, took) = env.wait("web", LONG).await;
    assert!(matches!(outcome, Outcome::Healthy(_)), "{outcome:?}");
    assert!(took < FAST, "took {took:?}");
    let requests = &env.sandbox.cluster().requests;
    assert!(
        requests.count("list", "pods") >= 2,
        "relisted after 410: {:#}",
        requests.snapshot()
    );
}

#[tokio::test]
async fn a_missing_deployment_is_a_precondition_error() {
    let env = start().await;
    let err = wait_for_deployment(&env.client, NS, "nope", LONG, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(classify(&err), Exit::Precondition);
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn http_check_through_the_service_proxy() {
    let env = start().await;
    env.create(deployment("up", 1, "web:1", json!({}))).await;
    env.create(deployment(
        "down",
        1,
        "web:1",
        json!({ "sandbox.switchyard.dev/health": "down" }),
    ))
    .await;
    env.service("up", "up").await;
    env.service("down", "down").await;
    for name in ["up", "down"] {
        assert!(matches!(env.wait(name, LONG).await.0, Outcome::Healthy(_)));
    }

    let up = http_check(&env.client, NS, "up", Some("http"), "/actuator/health")
        .await
        .unwrap();
    assert_eq!(up.status, 200, "{up}");
    assert!(up.body.contains("\"UP\""), "{up}");
    assert_eq!(up.api_reason, None);

    let down = http_check(&env.client, NS, "down", None, "health")
        .await
        .unwrap();
    assert_eq!(down.status, 503, "{down}");
    assert!(down.body.contains("\"DOWN\""), "{down}");
    assert_eq!(down.api_reason, None, "the application answered");

    // A port the Service does not have: the API server answers for it.
    let no_port = http_check(&env.client, NS, "up", Some("9999"), "health")
        .await
        .unwrap();
    assert_eq!(no_port.status, 503);
    assert_eq!(no_port.api_reason.as_deref(), Some("ServiceUnavailable"));
}

#[tokio::test]
async fn wait_for_http_times_out_on_down() {
    let env = start().await;
    env.create(deployment(
        "down",
        1,
        "web:1",
        json!({ "sandbox.switchyard.dev/health": "down" }),
    ))
    .await;
    env.service("down", "down").await;
    assert!(matches!(
        env.wait("down", LONG).await.0,
        Outcome::Healthy(_)
    ));
    let mut answers: Vec<HttpAnswer> = Vec::new();
    let started = Instant::now();
    let (passed, last) = wait_for_http(
        &env.client,
        NS,
        "down",
        None,
        "/health",
        200,
        Duration::from_secs(1),
        &mut |a| answers.push(a.clone()),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    assert!(!passed);
    assert_eq!(last.status, 503);
    assert_eq!(answers, [last], "the same answer is reported once");
    assert!(
        took >= Duration::from_secs(1) && took < FAST,
        "took {took:?}"
    );
    // 200 ms doubling: tries at about 0, 0.2 and 0.6 s, not a busy loop.
    let gets = env
        .sandbox
        .cluster()
        .requests
        .count("get", "services/proxy");
    assert!((2..=5).contains(&gets), "{gets} proxy requests");
}

#[tokio::test]
async fn wait_for_http_passes_once_pods_are_ready() {
    let env = start().await;
    env.create(deployment(
        "web",
        1,
        "web:1",
        json!({ "sandbox.switchyard.dev/ready-after": "700ms" }),
    ))
    .await;
    env.service("web", "web").await;
    let answers = Arc::new(Mutex::new(Vec::<u16>::new()));
    let record = answers.clone();
    let (passed, last) = wait_for_http(
        &env.client,
        NS,
        "web",
        Some("80"),
        "/health",
        200,
        LONG,
        &mut move |a| record.lock().unwrap().push(a.status),
    )
    .await
    .unwrap();
    assert!(passed, "{last}");
    assert_eq!(*answers.lock().unwrap(), [503, 200]);
}

#[tokio::test]
async fn wait_for_http_gives_up_at_once_on_a_missing_service() {
    let env = start().await;
    let started = Instant::now();
    let err = wait_for_http(&env.client, NS, "nope", None, "/", 200, LONG, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(classify(&err), Exit::Precondition, "{err}");
    assert!(started.elapsed() < FAST);
}
