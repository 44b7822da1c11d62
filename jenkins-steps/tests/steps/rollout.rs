//! `deploy-rollout` against the sandbox: rollouts that pass, fail fast, are
//! undone or cannot be, restarts, no-ops, bad input and a lost race.

use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::prometheus::Exporter;
use switchyard_e2e::{TestCluster, error_line};

use crate::{expect, result_file, step};

const BIN: &str = env!("CARGO_BIN_EXE_deploy-rollout");

/// Deployment `api` (2 pods of `api:1`) behind Service `api`, and `duo`, of
/// two containers.
const APPS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - {name: api, image: "registry.example.com/api:1", ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: duo, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: duo}}
  template:
    metadata: {labels: {app: duo}}
    spec:
      containers:
      - {name: app, image: "duo:1"}
      - {name: proxy, image: "envoy:1"}
"#;

fn with_apps(c: TestCluster) -> TestCluster {
    c.apply(APPS);
    c.settle();
    c
}

fn cluster() -> TestCluster {
    with_apps(TestCluster::demo())
}

fn deployment(c: &TestCluster, name: &str) -> Value {
    c.object("apps", "deployments", "default", name)
        .expect("the Deployment")
}

fn image(c: &TestCluster, name: &str) -> String {
    deployment(c, name)["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn revision(d: &Value) -> String {
    d["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The ReplicaSets of `api`: (name, revision, spec.replicas).
fn replica_sets(c: &TestCluster) -> Vec<(String, String, i64)> {
    let res = kube_sandbox::resources::find("apps", "v1", "replicasets").unwrap();
    let mut out: Vec<(String, String, i64)> = c
        .cluster()
        .store
        .list(res, Some("default"))
        .0
        .iter()
        .filter(|rs| rs["metadata"]["labels"]["app"] == "api")
        .map(|rs| {
            (
                rs["metadata"]["name"].as_str().unwrap_or("").to_string(),
                revision(rs),
                rs["spec"]["replicas"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    out.sort();
    out
}

/// A new template for `api` by hand (kubectl), e.g. one whose pods crash,
/// and the controller's revision 2 for it.
fn annotate(c: &TestCluster, key: &str, value: &str) {
    crate::annotate_template(c, "api", key, value);
    c.poll("revision 2 of api", |c| {
        revision(&deployment(c, "api")) == "2"
    });
}

fn json_doc(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

switchyard_e2e::on_both_timings!(a_new_image_rolls_out_and_reports_both_revisions, |c| {
    let c = with_apps(c);
    let (path, file) = result_file(&c, "rollout.json");
    let out = step(
        &c,
        BIN,
        &[
            "--deployment",
            "api",
            "--image",
            "registry.example.com/api:2",
            "--http",
            "/healthz",
            "--timeout",
            "60s",
            "--result-file",
            &file,
            "-o",
            "json",
        ],
    );
    let (stdout, stderr) = expect(&out, 0);
    assert!(
        stderr.contains("deploy-rollout: deployment/api: api registry.example.com/api:1 → registry.example.com/api:2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("deploy-rollout: deployment/api rolled out: 2/2 ready"),
        "{stderr}"
    );
    let doc = json_doc(&stdout);
    switchyard_e2e::assert_camel_case_keys(&doc);
    let r = &doc["result"];
    assert_eq!(r["result"], "rolledOut", "{doc}");
    assert_eq!(r["target"]["kind"], "Deployment");
    assert_eq!(r["fromImage"], "registry.example.com/api:1");
    assert_eq!(r["toImage"], "registry.example.com/api:2");
    assert_eq!(
        (r["revisionBefore"].as_i64(), r["revisionAfter"].as_str()),
        (Some(1), Some("2"))
    );
    assert_eq!(r["verdict"]["result"], "done");
    assert_eq!(r["http"]["answer"]["status"], 200);
    assert!(r["durations"]["rolloutMs"].is_u64(), "{doc}");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(file, doc);
    assert_eq!(image(&c, "api"), "registry.example.com/api:2");
    assert!(!c.lease_held("default", "api"));
});

fn fails_fast(mode: &str, reasons: &[&str]) {
    let c = cluster();
    // Revision 2 fails this way; the rollout of revision 3 keeps the annotation.
    annotate(&c, "sandbox.switchyard.dev/fail", mode);
    let (junit, junit_s) = result_file(&c, "junit.xml");
    let out = step(
        &c,
        BIN,
        &[
            "--deployment",
            "api",
            "--image",
            "registry.example.com/api:2",
            "--timeout",
            "5m",
            "--junit",
            &junit_s,
            "-o",
            "json",
        ],
    );
    let (stdout, stderr) = expect(&out, 1);
    let err = error_line(
        &stderr
            .lines()
            .map(|l| l.split_once("deploy-rollout: ").map_or(l, |(_, r)| r))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert!(reasons.iter().any(|r| err.contains(r)), "{mode}: {err}");
    assert!(
        err.contains("deployment/api is failing: pod api-"),
        "{mode}: {err}"
    );
    let doc = json_doc(&stdout);
    let f = &doc["result"]["failure"];
    assert!(reasons.iter().any(|r| f["reason"] == *r), "{doc}");
    assert!(
        f["pod"].as_str().is_some_and(|p| p.starts_with("api-")),
        "{doc}"
    );
    assert_eq!(f["container"], "api");
    assert_eq!(doc["result"]["result"], "failed");
    // Not asked to undo: the new image stays.
    assert_eq!(image(&c, "api"), "registry.example.com/api:2");
    let xml = std::fs::read_to_string(junit).unwrap();
    let parsed = roxmltree::Document::parse(&xml).unwrap();
    let failure = parsed
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    assert!(
        reasons
            .iter()
            .any(|r| failure.attribute("type") == Some(*r)),
        "{xml}"
    );
}

#[test]
fn a_crashloop_fails_fast_naming_pod_and_reason() {
    fails_fast("crashloop", &["CrashLoopBackOff"]);
}

#[test]
fn an_image_pull_failure_fails_fast() {
    fails_fast("imagepull", &["ErrImagePull", "ImagePullBackOff"]);
}

/// The new revision rolls out but its analysis fails: the undo puts revision
/// 1's template back, the Deployment controller scales revision 1's
/// ReplicaSet up again (no new ReplicaSet) and numbers it 3.
#[test]
fn a_failed_analysis_is_undone_to_the_previous_revision_reusing_its_replicaset() {
    let c = cluster();
    let exporter = Exporter::start();
    exporter.set_health(false);
    let yaml = format!(
        "metrics:\n- name: smoke\n  provider: {{web: {{url: '{}', jsonPath: '{{$.status}}'}}}}\n  successCondition: result == \"UP\"\n  consecutiveErrorLimit: 0\n",
        exporter.url("/health?app={{app}}")
    );
    let analysis = c.dir.join("smoke.yaml");
    std::fs::write(&analysis, yaml).unwrap();
    let before = replica_sets(&c);
    assert_eq!(before.len(), 1, "{before:?}");
    let out = step(
        &c,
        BIN,
        &[
            "--deployment",
            "api",
            "--image",
            "registry.example.com/api:2",
            "--analysis",
            analysis.to_str().unwrap(),
            "--undo-on-failure",
            "--timeout",
            "60s",
            "-o",
            "json",
        ],
    );
    let (stdout, stderr) = expect(&out, 1);
    let doc = json_doc(&stdout);
    let msg = doc["error"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("its analysis failed"), "{msg}");
    assert!(
        msg.ends_with("rolled back to revision 1"),
        "{msg}\n{stderr}"
    );
    let r = &doc["result"];
    assert_eq!(
        (r["result"].as_str(), r["rolledBackTo"].as_i64()),
        (Some("rolledBack"), Some(1)),
        "{doc}"
    );
    assert_eq!(r["rollback"]["verdict"]["result"], "done");
    assert_eq!(r["rollback"]["revision"], "3");
    assert_eq!(image(&c, "api"), "registry.example.com/api:1");
    let d = deployment(&c, "api");
    assert_eq!(revision(&d), "3");
    assert!(
        d["spec"]["template"]["metadata"]["labels"]
            .get("pod-template-hash")
            .is_none(),
        "{d}"
    );
    let after = replica_sets(&c);
    assert_eq!(
        after.len(),
        2,
        "one new ReplicaSet (revision 2), the old one reused: {after:?}"
    );
    let old = after
        .iter()
        .find(|(n, _, _)| *n == before[0].0)
        .expect("revision 1's ReplicaSet");
    assert_eq!((old.1.as_str(), old.2), ("3", 2), "{after:?}");
    assert!(!c.lease_held("default", "api"));
}

/// Both revisions crash: the undo is made, and its wait fails too.
#[test]
fn an_undo_to_a_revision_that_fails_too_is_rollback_failed() {
    let c = cluster();
    annotate(&c, "sandbox.switchyard.dev/fail", "crashloop");
    let out = step(
        &c,
        BIN,
        &[
            "--deployment",
            "api",
            "--image",
            "registry.example.com/api:2",
            "--undo-on-failure",
            "--timeout",
            "2m",
            "-o",
            "json",
        ],
    );
    let (stdout, _) = expect(&out, 1);
    let doc = json_doc(&stdout);
    let msg = doc["error"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("deployment/api is failing: pod api-"), "{msg}");
    assert!(msg.contains("; rollback failed: pod api-"), "{msg}");
    assert!(msg.contains("CrashLoopBackOff"), "{msg}");
    assert_eq!(doc["result"]["result"], "rollbackFailed");
    assert_eq!(doc["result"]["rolledBackTo"], Value::Null);
    assert_eq!(doc["result"]["rollback"]["verdict"]["result"], "failed");
    // Revision 2's template (api:1, crashing) is back.
    assert_eq!(image(&c, "api"), "registry.example.com/api:1");
}

#[test]
fn a_restart_sets_restarted_at_and_rolls_every_pod() {
    let c = cluster();
    let out = step(
        &c,
        BIN,
        &[
            "--deployment",
            "api",
            "--restart",
            "--timeout",
            "60s",
            "-o",
            "json",
        ],
    );
    let (stdout, stderr) = expect(&out, 0);
    assert!(stderr.contains("deployment/api: restarted"), "{stderr}");
    let doc = json_doc(&stdout);
    let at = doc["result"]["restartedAt"].as_str().unwrap().to_string();
    let d = deployment(&c, "api");
    assert_eq!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        at.as_str()
    );
    assert_eq!(revision(&d), "2");
    assert_eq!(image(&c, "api"), "registry.example.com/api:1");
}

#[test]
fn the_image_already_there_is_unchanged_and_writes_nothing() {
    let c = cluster();
    let before = c.versions("default");
    let out = step(
        &c,
        BIN,
        &[
            "--deployment",
            "api",
            "--image",
            "api=registry.example.com/api:1",
            "-o",
            "json",
        ],
    );
    let (stdout, stderr) = expect(&out, 0);
    assert!(stderr.contains("deployment/api: unchanged"), "{stderr}");
    let doc = json_doc(&stdout);
    assert_eq!(doc["result"]["result"], "unchanged");
    assert_eq!(doc["result"]["revisionAfter"], "1");
    assert_eq!(c.versions("default"), before);
}

#[test]
fn bad_input_changes_nothing() {
    let c = cluster();
    let run = |args: &[&str]| c.command(BIN, args, &[]);
    c.refuses(
        run(&["--deployment", "api", "--image", "web=x:2"]),
        2,
        "deployment/api has no container web (its containers: api)",
        &["default"],
    );
    c.refuses(
        run(&["--deployment", "duo", "--image", "x:2"]),
        2,
        "deployment/duo has 2 containers (app, proxy): name the one to update",
        &["default"],
    );
    c.refuses(
        run(&["--deployment", "nope", "--image", "x:2"]),
        3,
        "deployment nope not found in namespace default",
        &["default"],
    );
    c.refuses(
        run(&["--deployment", "api", "--image", "a b"]),
        2,
        "invalid image",
        &["default"],
    );
    c.refuses(
        run(&["--deployment", "api"]),
        2,
        "required arguments were not provided",
        &["default"],
    );
    c.refuses(
        run(&["--image", "x:2"]),
        2,
        "required arguments were not provided",
        &["default"],
    );
    c.refuses(
        run(&["--deployment", "api", "--image", "x:2", "--restart"]),
        2,
        "cannot be used with",
        &["default"],
    );
    c.kubectl_ok(&["rollout", "pause", "deploy/api"]);
    c.refuses(
        run(&["--deployment", "api", "--image", "x:2"]),
        3,
        "the Deployment is paused",
        &["default"],
    );
}

switchyard_e2e::on_both_timings!(a_change_between_read_and_write_is_exit_4_and_kept, |c| {
    let c = with_apps(c);
    // Hold the image write in the server while someone else sets another image.
    switchyard_e2e::faults::fault(
        &c,
        "latency=700ms,verb=patch,resource=deployments,name=api,count=1",
    );
    let run = switchyard_e2e::faults::Background::spawn(c.command(
        BIN,
        &[
            "--deployment",
            "api",
            "--image",
            "registry.example.com/api:2",
            "--undo-on-failure",
        ],
        &[],
    ));
    c.poll("the image write", |c| {
        c.cluster().requests.snapshot()["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| {
                l.as_str()
                    .unwrap()
                    .starts_with("PATCH /apis/apps/v1/namespaces/default/deployments/api")
            })
    });
    let res = kube_sandbox::resources::find("apps", "v1", "deployments").unwrap();
    c.cluster()
        .store
        .update(res, "default", "api", false, |cur| {
            let mut o = (**cur).clone();
            o["spec"]["template"]["spec"]["containers"][0]["image"] =
                "registry.example.com/api:hotfix".into();
            o["metadata"]["generation"] =
                (o["metadata"]["generation"].as_i64().unwrap() + 1).into();
            Ok(o)
        })
        .unwrap();
    let out = run.wait_within(Duration::from_secs(60));
    let (_, stderr) = expect(&out, 4);
    let err = error_line(
        &stderr
            .lines()
            .map(|l| l.split_once("deploy-rollout: ").map_or(l, |(_, r)| r))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert!(
        err.contains("deployment/api changed since it was read: metadata.generation is now"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(image(&c, "api"), "registry.example.com/api:hotfix");
    assert!(!c.lease_held("default", "api"));
});

// -- bad images, StatefulSets and DaemonSets -----------------------------------

/// StatefulSets `db` (2 pods, RollingUpdate) and `cache` (the same, with
/// podManagementPolicy Parallel), DaemonSet `agent` (one pod per Node), and
/// StatefulSet `legacy` (OnDelete).
const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - {name: db, image: "registry.example.com/db:1"}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: cache, namespace: default}
spec:
  replicas: 2
  serviceName: cache
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers:
      - {name: cache, image: "registry.example.com/cache:1"}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - {name: agent, image: "registry.example.com/agent:1"}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: legacy, namespace: default}
spec:
  replicas: 1
  serviceName: legacy
  updateStrategy: {type: OnDelete}
  selector: {matchLabels: {app: legacy}}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers:
      - {name: legacy, image: "legacy:1"}
"#;

/// The demo, `APPS` and `WORKLOADS` on 2 Nodes, where an image tagged
/// `broken` crash-loops (`--image-fail '*:broken=crashloop'`), every
/// workload rolled out.
fn cluster_with_workloads() -> TestCluster {
    let mut settings = switchyard_e2e::fast_settings();
    settings.nodes = 2;
    settings.image_failures = vec![
        kube_sandbox::controllers::kubelet::ImageFailure::parse("*:broken=crashloop").unwrap(),
    ];
    let c = with_apps(TestCluster::start(kube_sandbox::Options {
        demo: true,
        settings,
        ..Default::default()
    }));
    c.apply(WORKLOADS);
    c.poll("db, agent and legacy rolled out", |c| {
        let sts = |n: &str| {
            c.object("apps", "statefulsets", "default", n)
                .unwrap_or_default()
        };
        let ds = c
            .object("apps", "daemonsets", "default", "agent")
            .unwrap_or_default();
        sts("db")["status"]["readyReplicas"] == 2
            && sts("db")["status"]["currentRevision"].is_string()
            && sts("cache")["status"]["readyReplicas"] == 2
            && sts("legacy")["status"]["readyReplicas"] == 1
            && ds["status"]["numberAvailable"] == 2
    });
    c
}

fn template_image(c: &TestCluster, plural: &str, name: &str) -> String {
    c.object("apps", plural, "default", name).unwrap()["spec"]["template"]["spec"]["containers"][0]
        ["image"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// A bad image on a Deployment: fails fast, and the undo brings revision 1
/// back on its own ReplicaSet; with the other writers of a real cluster
/// rewriting every Deployment's status too (the undo's guard tests the
/// generation, which status writes leave alone).
#[test]
fn a_crashing_image_is_rolled_back_to_the_previous_revision() {
    crashing_image_rolled_back(cluster_with_workloads());
}

#[test]
fn a_crashing_image_is_rolled_back_to_the_previous_revision_under_status_writers() {
    let c = cluster_with_workloads();
    c.add_status_writers(Duration::from_millis(20));
    crashing_image_rolled_back(c);
}

fn crashing_image_rolled_back(c: TestCluster) {
    let before = replica_sets(&c);
    let out = step(
        &c,
        BIN,
        &[
            "--deployment",
            "api",
            "--image",
            "registry.example.com/api:broken",
            "--undo-on-failure",
            "--timeout",
            "2m",
            "-o",
            "json",
        ],
    );
    let (stdout, _) = expect(&out, 1);
    let doc = json_doc(&stdout);
    let msg = doc["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("deployment/api is failing: pod api-"),
        "{msg}"
    );
    assert!(
        msg.contains("CrashLoopBackOff") && msg.ends_with("; rolled back to revision 1"),
        "{msg}"
    );
    assert_eq!(doc["result"]["rolledBackTo"], 1);
    assert_eq!(image(&c, "api"), "registry.example.com/api:1");
    let after = replica_sets(&c);
    let old = after
        .iter()
        .find(|(n, _, _)| *n == before[0].0)
        .expect("revision 1's ReplicaSet");
    assert_eq!((old.1.as_str(), old.2), ("3", 2), "{after:?}");
}

#[test]
fn a_statefulset_rolls_out_and_a_bad_image_is_undone_to_its_controller_revision() {
    let c = cluster_with_workloads();
    let out = step(
        &c,
        BIN,
        &[
            "--statefulset",
            "cache",
            "--image",
            "registry.example.com/cache:2",
            "--timeout",
            "2m",
            "-o",
            "json",
        ],
    );
    let (stdout, stderr) = expect(&out, 0);
    assert!(
        stderr.contains("statefulset/cache rolled out: 2/2 ready, 2 updated"),
        "{stderr}"
    );
    let doc = json_doc(&stdout);
    assert_eq!(
        (
            doc["result"]["revisionBefore"].as_i64(),
            doc["result"]["revisionAfter"].as_str()
        ),
        (Some(1), Some("2")),
        "{doc}"
    );
    assert_eq!(doc["result"]["target"]["kind"], "StatefulSet");

    let out = step(
        &c,
        BIN,
        &[
            "--statefulset",
            "cache",
            "--image",
            "cache=registry.example.com/cache:broken",
            "--undo-on-failure",
            "--timeout",
            "2m",
            "-o",
            "json",
        ],
    );
    let (stdout, _) = expect(&out, 1);
    let doc = json_doc(&stdout);
    let msg = doc["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with(
            "statefulset/cache is failing: pod cache-1 container cache: CrashLoopBackOff"
        ),
        "{msg}"
    );
    assert!(msg.ends_with("; rolled back to revision 2"), "{msg}");
    assert_eq!(
        template_image(&c, "statefulsets", "cache"),
        "registry.example.com/cache:2"
    );
    // The controller reuses revision 2's ControllerRevision and renumbers it.
    assert_eq!(doc["result"]["rollback"]["revision"], "4", "{doc}");
    let sts = c
        .object("apps", "statefulsets", "default", "cache")
        .unwrap();
    assert_eq!(
        sts["status"]["currentRevision"], sts["status"]["updateRevision"],
        "{sts}"
    );
}

/// OrderedReady: the crashing pod of the bad revision blocks the controller,
/// so the restored template cannot roll out until someone deletes that pod.
/// The undo's wait says so at once instead of waiting out its timeout.
#[test]
fn an_ordered_statefulset_undo_names_the_pod_that_blocks_it() {
    let c = cluster_with_workloads();
    let out = step(
        &c,
        BIN,
        &[
            "--statefulset",
            "db",
            "--image",
            "registry.example.com/db:broken",
            "--undo-on-failure",
            "--timeout",
            "5m",
            "-o",
            "json",
        ],
    );
    let (stdout, _) = expect(&out, 1);
    let doc = json_doc(&stdout);
    let msg = doc["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("statefulset/db is failing: pod db-1 container db: CrashLoopBackOff"),
        "{msg}"
    );
    assert!(
        msg.contains("; rollback failed: pod db-1: CrashLoopBackOff"),
        "{msg}"
    );
    assert!(
        msg.ends_with("delete it to go on (forced rollback)"),
        "{msg}"
    );
    assert_eq!(doc["result"]["result"], "rollbackFailed");
    // The template is revision 1's again: deleting db-1 finishes the rollback.
    assert_eq!(
        template_image(&c, "statefulsets", "db"),
        "registry.example.com/db:1"
    );
    c.kubectl_ok(&["delete", "pod", "db-1", "--wait=false"]);
    c.poll("db back on revision 1", |c| {
        let sts = c.object("apps", "statefulsets", "default", "db").unwrap();
        sts["status"]["readyReplicas"] == 2
            && sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
    });
}

#[test]
fn a_daemonset_rolls_out_on_every_node_and_a_bad_image_is_undone() {
    let c = cluster_with_workloads();
    let out = step(
        &c,
        BIN,
        &[
            "--daemonset",
            "agent",
            "--image",
            "registry.example.com/agent:2",
            "--timeout",
            "2m",
        ],
    );
    let (_, stderr) = expect(&out, 0);
    assert!(
        stderr.contains("daemonset/agent rolled out: 2/2 updated, 2 available"),
        "{stderr}"
    );
    let out = step(
        &c,
        BIN,
        &[
            "--daemonset",
            "agent",
            "--image",
            "registry.example.com/agent:broken",
            "--undo-on-failure",
            "--timeout",
            "2m",
            "-o",
            "json",
        ],
    );
    let (stdout, _) = expect(&out, 1);
    let doc = json_doc(&stdout);
    let msg = doc["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("daemonset/agent is failing: pod agent-")
            && msg.contains("CrashLoopBackOff"),
        "{msg}"
    );
    assert!(msg.ends_with("; rolled back to revision 2"), "{msg}");
    assert_eq!(
        template_image(&c, "daemonsets", "agent"),
        "registry.example.com/agent:2"
    );
}

#[test]
fn on_delete_will_not_roll_and_nothing_changes() {
    let c = cluster_with_workloads();
    c.refuses(
        c.command(BIN, &["--statefulset", "legacy", "--image", "legacy:2"], &[]),
        3,
        "statefulset/legacy: updateStrategy OnDelete: pods keep the old template until deleted; nothing was changed",
        &["default"],
    );
}

/// Someone ships a hotfix while the rollout's checks fail: the undo finds a
/// generation other than the one it wrote and leaves the hotfix (exit 4).
#[test]
fn an_undo_keeps_a_change_made_since_the_rollouts_write() {
    let c = cluster();
    // Healthy pods whose health path answers 503: the --http check fails.
    annotate(&c, "sandbox.switchyard.dev/health", "down");
    let mut run = switchyard_e2e::Running::spawn(c.command(
        BIN,
        &[
            "--deployment",
            "api",
            "--image",
            "registry.example.com/api:2",
            "--http",
            "/healthz",
            "--undo-on-failure",
            "--timeout",
            "4s",
        ],
        &[],
    ));
    run.wait_for_stderr("GET /healthz via Service api: 503");
    c.kubectl_ok(&[
        "set",
        "image",
        "deploy/api",
        "api=registry.example.com/api:hotfix",
    ]);
    // SIGCONT changes nothing for a running process: stop() here only waits.
    let (code, stderr) = run.stop("CONT", Duration::from_secs(60));
    assert_eq!(code, Some(4), "{stderr}");
    let err = error_line(
        &stderr
            .lines()
            .map(|l| l.split_once("deploy-rollout: ").map_or(l, |(_, r)| r))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert!(err.contains("answered 503 until the timeout"), "{err}");
    assert!(
        err.contains("rollback failed: deployment/api changed since this rollout wrote it"),
        "{err}"
    );
    assert!(
        err.contains("not rolled back, so that change stays"),
        "{err}"
    );
    assert_eq!(image(&c, "api"), "registry.example.com/api:hotfix");
    assert!(!c.lease_held("default", "api"));
}
