//! `deploy-apply` against the sandbox, as the ServiceAccount bound by
//! `rbac/role.yaml` and `rbac/apply/apply-role.yaml`: a directory created, then
//! unchanged, then configured; broken files and unknown kinds refused with
//! nothing applied; dependency order (a Namespace and its objects, a CRD and
//! its custom resource); server-side apply conflicts; the server dry run's
//! diff; prune; Secret values in no output; `--wait` failing fast.

use std::path::{Path, PathBuf};

use serde_json::Value;
use switchyard_e2e::{TestCluster, expect, fast_settings, testdata};

use crate::step;

const BIN: &str = env!("CARGO_BIN_EXE_deploy-apply");

/// The Secret values of `testdata/apply/app/config.yaml`, in every form.
const PLANTED: [&str; 3] = [
    "planted-SECRET-db-pw-1f3e",
    "cGxhbnRlZC1TRUNSRVQtdG9rZW4tOWM0Yg==",
    "planted-SECRET-token-9c4b",
];

/// A cluster with `rbac/apply/apply-role.yaml` applied, as an operator who lets a
/// pipeline run deploy-apply does.
fn cluster() -> TestCluster {
    let c = TestCluster::start(kube_sandbox::Options {
        settings: fast_settings(),
        ..Default::default()
    });
    grant_apply(&c);
    c
}

fn grant_apply(c: &TestCluster) {
    kube_sandbox::server::apply_yaml(
        c.cluster(),
        &switchyard_e2e::rbac_manifest("apply/apply-role.yaml"),
    )
    .expect("rbac/apply/apply-role.yaml applies");
}

/// A copy of `testdata/apply/NAME` in the test's directory, to change.
fn copy_fixture(c: &TestCluster, name: &str) -> PathBuf {
    let to = c.dir.join(format!("fixture-{name}"));
    copy_dir(&testdata(&format!("apply/{name}")), &to);
    to
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn apply(c: &TestCluster, args: &[&str]) -> std::process::Output {
    step(c, BIN, args)
}

/// The lines of a run's log, without timestamps and prefix, but for the
/// server-side dry run's announcement.
fn lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once("] deploy-apply: ").map(|(_, m)| m.to_string()))
        .filter(|l| !l.starts_with("checking "))
        .collect()
}

fn exists(c: &TestCluster, args: &[&str]) -> bool {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    c.kubectl(&all).status.success()
}

#[test]
fn a_directory_is_created_then_unchanged_then_configured() {
    let c = cluster();
    let dir = copy_fixture(&c, "app");
    let d = dir.to_str().unwrap();
    let (path, file) = crate::result_file(&c, "apply.json");
    let (_, stderr) = expect(&apply(&c, &["-f", d, "--result-file", &file]), 0);
    let l = lines(&stderr);
    // Dependency order: the Namespace first, config before the workload
    // that uses it, the Service before the Deployment (Helm's order).
    let first5: Vec<&str> = l.iter().take(5).map(String::as_str).collect();
    assert_eq!(
        first5,
        [
            "namespace/shop created",
            "secret/web-db created",
            "configmap/web-config created",
            "service/web created",
            "deployment.apps/web created",
        ],
        "{stderr}"
    );
    assert!(
        l.last().unwrap().contains("5 objects (created 5)"),
        "{stderr}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    switchyard_e2e::assert_camel_case_keys(&doc);
    let objects = doc["result"]["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 5);
    assert_eq!(objects[4]["kind"], "Deployment");
    assert_eq!(objects[4]["namespace"], "shop");
    assert_eq!(objects[4]["action"], "created");
    assert!(
        objects[4]["source"]
            .as_str()
            .unwrap()
            .ends_with("web.yaml document 1")
    );
    let d_json = c.object("apps", "deployments", "shop", "web").unwrap();
    let managers: Vec<&str> = d_json["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["operation"] == "Apply")
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["switchyard"]);

    let (_, stderr) = expect(&apply(&c, &["-f", d]), 0);
    assert!(
        lines(&stderr)
            .iter()
            .take(5)
            .all(|l| l.ends_with(" unchanged")),
        "{stderr}"
    );
    assert!(stderr.contains("5 objects (unchanged 5)"), "{stderr}");

    let web = std::fs::read_to_string(dir.join("web.yaml")).unwrap();
    std::fs::write(
        dir.join("web.yaml"),
        web.replace("replicas: 2", "replicas: 3"),
    )
    .unwrap();
    let (_, stderr) = expect(&apply(&c, &["-f", d]), 0);
    assert!(
        stderr.contains("deployment.apps/web configured"),
        "{stderr}"
    );
    assert!(stderr.contains("service/web unchanged"), "{stderr}");
    assert_eq!(
        c.get_json(&["deploy", "web", "-n", "shop"])["spec"]["replicas"],
        3
    );
}

#[test]
fn a_broken_file_in_a_directory_is_exit_2_and_nothing_is_applied() {
    let c = cluster();
    let dir = copy_fixture(&c, "app");
    std::fs::write(
        dir.join("zz-broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [not, a, name\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("zz-bad-name.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: Web_2\nspec: {}\n",
    )
    .unwrap();
    let (path, file) = crate::result_file(&c, "apply.json");
    let (_, stderr) = expect(
        &apply(&c, &["-f", dir.to_str().unwrap(), "--result-file", &file]),
        2,
    );
    let broken = format!(
        "{} document 2: not valid YAML",
        dir.join("zz-broken.yaml").display()
    );
    let bad_name = format!(
        "{} document 1: metadata.name \"Web_2\" is not valid for a Deployment",
        dir.join("zz-bad-name.yaml").display()
    );
    assert!(stderr.contains(&broken), "{stderr}");
    assert!(stderr.contains(&bad_name), "{stderr}");
    assert!(stderr.contains("nothing was applied"), "{stderr}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        (doc["exitCode"].as_i64(), doc["ok"].as_bool()),
        (Some(2), Some(false))
    );
    // Nothing reached the server: not the Namespace, not the good documents.
    assert!(!exists(&c, &["namespace", "shop"]));
    assert!(!exists(&c, &["configmap", "fine"]));
}

/// The server's own validation refuses an object (here a Deployment whose
/// selector does not match its template) in the dry run before any write:
/// exit 2, and the objects before it in the order are not applied either.
#[test]
fn an_object_the_server_refuses_is_exit_2_before_anything_is_applied() {
    let c = cluster();
    let dir = copy_fixture(&c, "app");
    let d = dir.to_str().unwrap();
    expect(&apply(&c, &["-f", d]), 0);
    let config = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        config.replace("GREETING: hello", "GREETING: changed"),
    )
    .unwrap();
    std::fs::write(
        dir.join("zz-mismatch.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: other}\n  template:\n    metadata:\n      labels: {app: not-other}\n    spec:\n      containers:\n      - name: c\n        image: example/other:1.0\n",
    )
    .unwrap();
    let (_, stderr) = expect(&apply(&c, &["-f", d]), 2);
    assert!(
        stderr.contains("error: applying deployment.apps/other in shop")
            && stderr.contains("does not match template")
            && stderr.contains("nothing was applied"),
        "{stderr}"
    );
    assert!(
        stderr.contains("checking 6 objects with a server-side dry run"),
        "{stderr}"
    );
    assert_eq!(
        c.get_json(&["configmap", "web-config", "-n", "shop"])["data"]["GREETING"],
        "hello"
    );
    assert!(!exists(&c, &["deploy", "other", "-n", "shop"]));
}

#[test]
fn an_unknown_kind_or_api_version_is_exit_2_naming_it() {
    let c = cluster();
    let dir = c.dir.join("unknown");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.yaml"),
        "apiVersion: apps/v1\nkind: Deploymnt\nmetadata:\n  name: web\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("c.json"),
        r#"{"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}"#,
    )
    .unwrap();
    let (_, stderr) = expect(&apply(&c, &["-f", dir.to_str().unwrap()]), 2);
    assert!(
        stderr.contains("kind Deploymnt is not served in apps/v1 (it serves"),
        "{stderr}"
    );
    assert!(
        stderr.contains("apiVersion example.com/v1 is not served by the cluster (kind Gadget)"),
        "{stderr}"
    );
    assert!(stderr.contains("c.json document 1"), "{stderr}");
    assert!(!exists(&c, &["configmap", "a"]));

    // A cluster-scoped kind with a namespace, and the same object twice.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  namespace: default\n",
    )
    .unwrap();
    std::fs::write(dir.join("twice.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n").unwrap();
    let (_, stderr) = expect(&apply(&c, &["-f", dir.to_str().unwrap()]), 2);
    assert!(
        stderr.contains("Namespace is cluster-scoped but the file gives it metadata.namespace"),
        "{stderr}"
    );
    assert!(stderr.contains("configmap/a is also in"), "{stderr}");
}

#[test]
fn a_crd_and_its_custom_resource_apply_in_one_run() {
    let c = cluster();
    // Custom resources need a rule of their own (rbac/apply/apply-role.yaml says so).
    kube_sandbox::server::apply_yaml(
        c.cluster(),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: widgets\nrules:\n- apiGroups: [example.com]\n  resources: [widgets]\n  verbs: [get, list, create, patch, delete]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: widgets\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: widgets}\nsubjects:\n- {kind: ServiceAccount, name: switchyard, namespace: ci}\n",
    )
    .unwrap();
    let crd = testdata("apply/crd");
    let (_, stderr) = expect(&apply(&c, &["-f", crd.to_str().unwrap()]), 0);
    let l = lines(&stderr);
    assert_eq!(
        l[0], "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created",
        "{stderr}"
    );
    assert!(
        l.iter().any(|x| x.contains("to be Established")),
        "{stderr}"
    );
    assert!(
        l.contains(&"widget.example.com/blue-widget created".to_string()),
        "{stderr}"
    );
    assert_eq!(
        c.get_json(&["widgets.example.com", "blue-widget"])["spec"]["size"],
        3
    );
    let (_, stderr) = expect(&apply(&c, &["-f", crd.to_str().unwrap()]), 0);
    assert!(stderr.contains("2 objects (unchanged 2)"), "{stderr}");
}

#[test]
fn a_field_another_manager_owns_is_exit_4_and_force_conflicts_takes_it() {
    let c = cluster();
    let dir = copy_fixture(&c, "app");
    let d = dir.to_str().unwrap();
    expect(&apply(&c, &["-f", d]), 0);
    // Someone scales by hand: kubectl patch owns spec.replicas now.
    c.kubectl_ok(&[
        "patch",
        "deploy",
        "web",
        "-n",
        "shop",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"replicas":5}}"#,
    ]);
    let web = std::fs::read_to_string(dir.join("web.yaml")).unwrap();
    std::fs::write(
        dir.join("web.yaml"),
        web.replace("replicas: 2", "replicas: 3"),
    )
    .unwrap();
    let (_, stderr) = expect(&apply(&c, &["-f", d]), 4);
    assert!(
        stderr.contains("error: applying deployment.apps/web in shop")
            && stderr.contains(".spec.replicas")
            && stderr.contains("kubectl-patch")
            && stderr.contains("nothing was applied"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: ") && stderr.contains("--force-conflicts"),
        "{stderr}"
    );
    assert_eq!(
        c.get_json(&["deploy", "web", "-n", "shop"])["spec"]["replicas"],
        5
    );
    let (_, stderr) = expect(
        &apply(&c, &["-f", d, "--force-conflicts", "--server-side"]),
        0,
    );
    assert!(
        stderr.contains("deployment.apps/web configured"),
        "{stderr}"
    );
    assert_eq!(
        c.get_json(&["deploy", "web", "-n", "shop"])["spec"]["replicas"],
        3
    );
}

#[test]
fn a_server_dry_run_prints_the_diff_and_changes_nothing() {
    let c = cluster();
    let app = testdata("apply/app");
    let a = app.to_str().unwrap();
    // Before anything exists: every object would be created; nothing is.
    let (stdout, stderr) = expect(&apply(&c, &["-f", a, "--dry-run=server"]), 0);
    assert!(
        stderr.contains("namespace/shop created (server dry run)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("deployment.apps/web created (server dry run)"),
        "{stderr}"
    );
    assert!(
        stdout.contains("+++ merged/apps.v1.Deployment.shop.web"),
        "{stdout}"
    );
    assert!(!exists(&c, &["namespace", "shop"]));

    expect(&apply(&c, &["-f", a]), 0);
    let before = c.get_json(&["deploy", "web", "-n", "shop"]);
    let (stdout, stderr) = expect(
        &apply(
            &c,
            &[
                "-f",
                a,
                "--dry-run=server",
                "--image",
                "web=example/web:2.0",
            ],
        ),
        0,
    );
    assert!(
        stderr.contains("deployment.apps/web configured (server dry run)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("configmap/web-config unchanged (server dry run)"),
        "{stderr}"
    );
    assert!(
        stdout.contains(
            "--- live/apps.v1.Deployment.shop.web\n+++ merged/apps.v1.Deployment.shop.web\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("-      - image: example/web:1.0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+      - image: example/web:2.0"),
        "{stdout}"
    );
    assert!(!stdout.contains("managedFields"), "{stdout}");
    // Nothing applied: the same spec and generation. Not the resourceVersion:
    // the Deployment controller may still be writing the first rollout's status.
    let after = c.get_json(&["deploy", "web", "-n", "shop"]);
    assert_eq!(
        (&before["metadata"]["generation"], &before["spec"]),
        (&after["metadata"]["generation"], &after["spec"])
    );

    // Client dry run: validated and shown, nothing sent but discovery.
    let (stdout, stderr) = expect(
        &apply(
            &c,
            &[
                "-f",
                a,
                "--dry-run=client",
                "--image",
                "web=example/web:3.0",
            ],
        ),
        0,
    );
    assert!(
        stderr.contains("deployment.apps/web would be applied (client dry run)"),
        "{stderr}"
    );
    assert!(stdout.contains("image: example/web:3.0"), "{stdout}");
    assert_eq!(
        c.get_json(&["deploy", "web", "-n", "shop"])["spec"]["template"]["spec"]["containers"][0]["image"],
        "example/web:1.0"
    );
}

fn write_set(dir: &Path, names: &[&str], crash: bool) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for n in names {
        std::fs::write(
            dir.join(format!("{n}.yaml")),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\ndata:\n  k: v\n"),
        )
        .unwrap();
    }
    let annotations = if crash {
        "\n      annotations:\n        sandbox.switchyard.dev/fail: crashloop"
    } else {
        ""
    };
    std::fs::write(
        dir.join("api.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: api}}\n  template:\n    metadata:\n      labels: {{app: api}}{annotations}\n    spec:\n      containers:\n      - name: api\n        image: example/api:1.0\n"
        ),
    )
    .unwrap();
}

#[test]
fn prune_deletes_only_the_removed_members_of_the_set_and_not_on_failure() {
    let c = cluster();
    let dir = c.dir.join("set");
    let d = dir.to_str().unwrap();
    // Not members: one applied by hand, one of another set.
    c.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: by-hand\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other-set\n  labels: {switchyard.dev/apply-set: other}\n");
    write_set(&dir, &["one", "two"], false);
    expect(
        &apply(
            &c,
            &[
                "-f",
                d,
                "--prune",
                "--apply-set",
                "shop",
                "--wait",
                "--timeout",
                "60s",
            ],
        ),
        0,
    );
    assert_eq!(
        c.get_json(&["configmap", "one"])["metadata"]["labels"]["switchyard.dev/apply-set"],
        "shop"
    );

    // `two` leaves the files while the workload is broken: the wait fails,
    // and nothing is pruned.
    write_set(&dir, &["one"], true);
    let (_, stderr) = expect(
        &apply(
            &c,
            &[
                "-f",
                d,
                "--prune",
                "--apply-set",
                "shop",
                "--wait",
                "--timeout",
                "60s",
            ],
        ),
        1,
    );
    assert!(stderr.contains("nothing was pruned"), "{stderr}");
    assert!(
        !lines(&stderr)
            .iter()
            .any(|l| l.starts_with("configmap/") && l.ends_with(" pruned")),
        "{stderr}"
    );
    assert!(exists(&c, &["configmap", "two"]));

    // Dry run: what would be pruned, nothing deleted.
    write_set(&dir, &["one"], false);
    let (_, stderr) = expect(
        &apply(
            &c,
            &[
                "-f",
                d,
                "--prune",
                "--apply-set",
                "shop",
                "--dry-run=server",
            ],
        ),
        0,
    );
    assert!(
        stderr.contains("configmap/two pruned (server dry run)"),
        "{stderr}"
    );
    assert!(exists(&c, &["configmap", "two"]));

    let (path, file) = crate::result_file(&c, "prune.json");
    let (_, stderr) = expect(
        &apply(
            &c,
            &[
                "-f",
                d,
                "--prune",
                "--apply-set",
                "shop",
                "--wait",
                "--timeout",
                "60s",
                "--result-file",
                &file,
            ],
        ),
        0,
    );
    assert!(stderr.contains("configmap/two pruned"), "{stderr}");
    assert!(!exists(&c, &["configmap", "two"]));
    for kept in ["one", "by-hand", "other-set"] {
        assert!(
            exists(&c, &["configmap", kept]),
            "{kept} was pruned: {stderr}"
        );
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["result"]["pruned"][0]["name"], "two");
    assert_eq!(doc["result"]["waits"][0]["verdict"], "done");

    // --prune without a set is bad input.
    let (_, stderr) = expect(&apply(&c, &["-f", d, "--prune"]), 2);
    assert!(stderr.contains("--apply-set"), "{stderr}");
}

#[test]
fn wait_fails_fast_naming_the_object_pod_and_reason() {
    let c = cluster();
    let dir = c.dir.join("crash");
    write_set(&dir, &["cfg"], true);
    let (path, file) = crate::result_file(&c, "wait.json");
    let (_, stderr) = expect(
        &apply(
            &c,
            &[
                "-f",
                dir.to_str().unwrap(),
                "--wait",
                "--timeout",
                "120s",
                "--result-file",
                &file,
            ],
        ),
        1,
    );
    let error = stderr
        .lines()
        .find(|l| l.contains("deploy-apply: error: "))
        .unwrap_or_default();
    assert!(
        error.contains("deployment.apps/api in default failed: pod api-")
            && error.contains("CrashLoopBackOff"),
        "{stderr}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let w = &doc["result"]["waits"][0];
    assert_eq!(
        (w["verdict"].as_str(), w["reason"].as_str()),
        (Some("failed"), Some("CrashLoopBackOff"))
    );
    assert!(w["pod"].as_str().unwrap().starts_with("api-"), "{w}");
}

#[test]
fn secret_values_appear_in_no_output() {
    let c = cluster();
    let dir = copy_fixture(&c, "app");
    let d = dir.to_str().unwrap();
    let mut outputs = Vec::new();
    for v in ["0", "6", "9"] {
        let (path, file) = crate::result_file(&c, &format!("secret-{v}.json"));
        let out = apply(
            &c,
            &["-f", d, "-v", v, "-o", "json", "--result-file", &file],
        );
        outputs.push((format!("apply -v {v}"), out, Some(path)));
    }
    // The Secret holds the values: the search below would find them.
    let live = c.object("", "secrets", "shop", "web-db").unwrap()["data"].to_string();
    assert!(live.contains(PLANTED[1]), "{live}");
    // A changed value, diffed by the server dry run, masked as kubectl does.
    let config = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        config.replace("db-pw-1f3e", "db-pw-2a7d"),
    )
    .unwrap();
    let out = apply(&c, &["-f", d, "--dry-run=server", "-v", "9"]);
    let (stdout, _) = switchyard_e2e::texts(&out);
    assert!(
        stdout.contains("*** (before)") && stdout.contains("*** (after)"),
        "{stdout}"
    );
    outputs.push(("dry run".into(), out, None));
    // A refused write of a Secret: another manager took one of its values
    // (no error of the sandbox quotes a value; redact.rs tests the scrubbing).
    c.kubectl_ok(&[
        "patch",
        "secret",
        "web-db",
        "-n",
        "shop",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"token":"b3RoZXI="}}"#,
    ]);
    std::fs::write(dir.join("config.yaml"), &config).unwrap();
    let (path, file) = crate::result_file(&c, "secret-error.json");
    let out = apply(&c, &["-f", d, "--result-file", &file, "-v", "8"]);
    let (_, stderr) = switchyard_e2e::texts(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("applying secret/web-db in shop") && stderr.contains(".data.token"),
        "{stderr}"
    );
    outputs.push(("a refused Secret".into(), out, Some(path)));
    for (what, out, file) in &outputs {
        let (stdout, stderr) = switchyard_e2e::texts(out);
        let result = file
            .as_ref()
            .map(|f| std::fs::read_to_string(f).unwrap_or_default())
            .unwrap_or_default();
        for planted in PLANTED.iter().chain(["planted-SECRET-db-pw-2a7d"].iter()) {
            for (name, text) in [
                ("stdout", &stdout),
                ("stderr", &stderr),
                ("result file", &result),
            ] {
                assert!(
                    !text.contains(planted),
                    "{what}: {planted} in {name}:\n{text}"
                );
            }
        }
    }
}

#[test]
fn without_the_apply_role_it_is_exit_5_naming_verb_and_resource() {
    let c = TestCluster::start(kube_sandbox::Options {
        settings: fast_settings(),
        ..Default::default()
    });
    let app = testdata("apply/app");
    let (_, stderr) = expect(&apply(&c, &["-f", app.to_str().unwrap()]), 5);
    assert!(
        stderr.contains("namespaces \"shop\" is forbidden")
            && stderr.contains("nothing was applied"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the permissions Switchyard needs are in rbac/"),
        "{stderr}"
    );
}

/// `-l` applies only the matching objects; `-f -` reads standard input;
/// `--namespace` is where objects without one go, and an object naming
/// another is refused as kubectl refuses it.
#[test]
fn selector_stdin_and_namespace() {
    let c = cluster();
    c.kubectl_ok(&["create", "namespace", "team"]);
    let app = testdata("apply/app");
    // The selector leaves the Namespace out: its objects cannot go in (exit 3).
    let (_, stderr) = expect(
        &apply(&c, &["-f", app.to_str().unwrap(), "-l", "app=web"]),
        3,
    );
    assert!(
        stderr.contains("namespaces \"shop\" not found; nothing was applied"),
        "{stderr}"
    );
    c.kubectl_ok(&["create", "namespace", "shop"]);
    let (_, stderr) = expect(
        &apply(&c, &["-f", app.to_str().unwrap(), "-l", "app=web"]),
        0,
    );
    assert!(
        stderr.contains("1 object (created 1)") && stderr.contains("deployment.apps/web created"),
        "{stderr}"
    );
    assert!(!exists(&c, &["service", "web", "-n", "shop"]));

    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: piped\ndata:\n  a: b\n";
    let out = switchyard_e2e::run(
        c.command(BIN, &["-f", "-", "--namespace", "team"], &[]),
        Some(manifest),
    );
    let (_, stderr) = expect(&out, 0);
    assert!(stderr.contains("configmap/piped created"), "{stderr}");
    assert_eq!(
        c.get_json(&["configmap", "piped", "-n", "team"])["data"]["a"],
        "b"
    );

    let (_, stderr) = expect(
        &apply(&c, &["-f", app.to_str().unwrap(), "--namespace", "team"]),
        2,
    );
    assert!(
        stderr.contains("its namespace \"shop\" does not match --namespace \"team\""),
        "{stderr}"
    );
}

/// `--wait` follows every kind of workload at once: a StatefulSet, a
/// DaemonSet and a Job roll out (the Job completes); a Job whose pods fail is
/// exit 1 naming it, its pod and the reason, and an OnDelete StatefulSet
/// will not roll (nothing to wait for, not a failure).
#[test]
fn wait_follows_statefulsets_daemonsets_and_jobs() {
    let c = cluster();
    let dir = c.dir.join("workloads");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("all.yaml"),
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  replicas: 2\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n      containers: [{name: db, image: example/db:1.0}]\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      containers: [{name: agent, image: example/agent:1.0}]\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\nspec:\n  template:\n    metadata: {labels: {app: migrate}}\n    spec:\n      restartPolicy: Never\n      containers: [{name: migrate, image: example/migrate:1.0}]\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: manual}\nspec:\n  replicas: 1\n  serviceName: manual\n  updateStrategy: {type: OnDelete}\n  selector: {matchLabels: {app: manual}}\n  template:\n    metadata: {labels: {app: manual}}\n    spec:\n      containers: [{name: manual, image: example/manual:1.0}]\n",
    )
    .unwrap();
    let (path, file) = crate::result_file(&c, "workloads.json");
    let (_, stderr) = expect(
        &apply(
            &c,
            &[
                "-f",
                dir.to_str().unwrap(),
                "--wait",
                "--timeout",
                "120s",
                "--result-file",
                &file,
            ],
        ),
        0,
    );
    for line in [
        "statefulset.apps/db rolled out",
        "daemonset.apps/agent rolled out",
        "job.batch/migrate complete",
    ] {
        assert!(stderr.contains(line), "{line} missing: {stderr}");
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let verdicts: Vec<(String, String)> = doc["result"]["waits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap().to_string(),
                w["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("db", "done"),
        ("agent", "done"),
        ("migrate", "done"),
        ("manual", "willNotRoll"),
    ] {
        assert!(
            verdicts.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} not in {verdicts:?}"
        );
    }

    std::fs::write(
        dir.join("all.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: broken}\nspec:\n  backoffLimit: 1\n  template:\n    metadata:\n      labels: {app: broken}\n      annotations: {sandbox.switchyard.dev/fail: crashloop}\n    spec:\n      restartPolicy: Never\n      containers: [{name: broken, image: example/broken:1.0}]\n",
    )
    .unwrap();
    let (_, stderr) = expect(
        &apply(
            &c,
            &["-f", dir.to_str().unwrap(), "--wait", "--timeout", "120s"],
        ),
        1,
    );
    assert!(
        stderr.contains("error: job.batch/broken in default failed: pod broken-")
            && stderr.contains("BackoffLimitExceeded"),
        "{stderr}"
    );
}

/// A workload that is not rolled out within --timeout is exit 124 with its
/// last observed state, and the prune is not done.
#[test]
fn a_wait_past_its_timeout_is_exit_124_and_prunes_nothing() {
    let c = cluster();
    let dir = c.dir.join("slow");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("slow.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: slow}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: slow}}\n  template:\n    metadata:\n      labels: {app: slow}\n      annotations: {sandbox.switchyard.dev/ready-after: 60s}\n    spec:\n      containers: [{name: slow, image: example/slow:1.0}]\n",
    )
    .unwrap();
    let (path, file) = crate::result_file(&c, "slow.json");
    let (_, stderr) = expect(
        &apply(
            &c,
            &[
                "-f",
                dir.to_str().unwrap(),
                "--wait",
                "--timeout",
                "2s",
                "--prune",
                "--apply-set",
                "slow",
                "--result-file",
                &file,
            ],
        ),
        124,
    );
    assert!(
        stderr.contains("error: deployment.apps/slow in default was not rolled out within 2s: deployment/slow: 0/1 ready")
            && stderr.contains("nothing was pruned"),
        "{stderr}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["result"]["waits"][0]["verdict"], "timedOut");
    assert_eq!(doc["exitCode"], 124);
}

/// Each verb `rbac/apply/apply-role.yaml` grants on a kind is needed: taken
/// out of the ClusterRole, the run that uses it is exit 5 naming verb and
/// resource, with the RBAC hint (`get`: the live object; `patch`: the apply;
/// `list` and `delete`: the prune).
#[test]
fn every_verb_of_the_apply_role_is_needed() {
    let c = cluster();
    let dir = c.dir.join("verbs");
    let d = dir.to_str().unwrap();
    let prune = ["-f", d, "--prune", "--apply-set", "verbs"];
    for verb in ["get", "patch", "list", "delete"] {
        grant_apply(&c);
        write_set(&dir, &["keep", "drop"], false);
        expect(&apply(&c, &prune), 0);
        write_set(&dir, &["keep"], false);
        // A change, so that the apply has something to write.
        std::fs::write(
            dir.join("keep.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\ndata:\n  k: changed\n",
        )
        .unwrap();
        revoke_cluster(&c, "switchyard-apply", "", "configmaps", verb);
        let (_, stderr) = expect(&apply(&c, &prune), 5);
        assert!(
            stderr.contains(&format!("cannot {verb} resource \"configmaps\"")),
            "{verb}: {stderr}"
        );
        assert!(
            stderr.contains("hint: the permissions Switchyard needs are in rbac/"),
            "{verb}: {stderr}"
        );
        // Nothing pruned on a refused run.
        assert!(exists(&c, &["configmap", "drop"]), "{verb}");
        c.kubectl_ok(&["delete", "configmap", "keep", "drop"]);
    }
}

/// An apply that creates is authorized as a create too (kube-apiserver's
/// patch handler does), so without `create` a new object is exit 5 and
/// nothing is created, while changing existing ones needs only `patch`.
#[test]
fn creating_needs_the_create_verb_of_the_apply_role() {
    let c = cluster();
    grant_apply(&c);
    let dir = c.dir.join("create-verb");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("new.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: brand-new\ndata:\n  k: v\n",
    )
    .unwrap();
    revoke_cluster(&c, "switchyard-apply", "", "configmaps", "create");
    let (_, stderr) = expect(&apply(&c, &["-f", dir.to_str().unwrap()]), 5);
    assert!(
        stderr.contains("cannot create resource \"configmaps\""),
        "{stderr}"
    );
    assert!(!exists(&c, &["configmap", "brand-new"]));
}

/// Takes `verb` on `resource` of `group` out of ClusterRole `name`.
fn revoke_cluster(c: &TestCluster, name: &str, group: &str, resource: &str, verb: &str) {
    let roles = kube_sandbox::resources::find("rbac.authorization.k8s.io", "v1", "clusterroles")
        .expect("clusterroles are served");
    let mut role = c
        .cluster()
        .store
        .get(roles, "", name)
        .map(|r| (*r).clone())
        .unwrap_or_else(|| panic!("no ClusterRole {name}"));
    let has = |v: &Value, want: &str| v.as_array().is_some_and(|a| a.iter().any(|x| x == want));
    let mut revoked = false;
    for rule in role["rules"].as_array_mut().expect("rules") {
        if has(&rule["apiGroups"], group) && has(&rule["resources"], resource) {
            let verbs = rule["verbs"].as_array_mut().expect("verbs");
            let before = verbs.len();
            verbs.retain(|v| v != verb);
            revoked |= verbs.len() < before;
        }
    }
    assert!(
        revoked,
        "ClusterRole {name} does not grant {verb} {resource}"
    );
    kube_sandbox::api::objects::apply_manifest(c.cluster(), role).expect("ClusterRole updated");
}
