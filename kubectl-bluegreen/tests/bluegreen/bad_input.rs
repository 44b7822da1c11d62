//! Every bad input: one error line with a hint, the documented exit code, and
//! every object's resourceVersion unchanged.

use switchyard_e2e::TestCluster;

use crate::{bluegreen, error_line, expect};

fn refused(c: &TestCluster, args: &[&str], code: i32, says: &str) {
    let before = c.versions("default");
    let (stdout, stderr) = expect(&bluegreen(c, args), code);
    assert!(stdout.is_empty(), "{args:?}: {stdout}");
    let err = error_line(&stderr);
    assert!(err.contains(says), "{args:?}: {err}");
    assert_eq!(c.versions("default"), before, "{args:?} changed something");
}

#[test]
fn bad_input_changes_nothing() {
    let c = TestCluster::demo();
    refused(&c, &["switch", "nope"], 3, "app nope not found");
    refused(
        &c,
        &["switch", "web", "--to", "purple"],
        2,
        "\"purple\" is not a color",
    );
    refused(&c, &["switch", "Web_1"], 2, "invalid app name \"Web_1\"");
    refused(
        &c,
        &["deploy", "web"],
        2,
        "required arguments were not provided: --image",
    );
    refused(
        &c,
        &["switch", "web", "--verify-timeout", "soon"],
        2,
        "invalid duration",
    );
    refused(&c, &["switch", "web", "--dry-run=maybe"], 2, "maybe");
    refused(&c, &["frobnicate"], 2, "unrecognized subcommand");
    // A Service without the color label in its selector.
    refused(&c, &["switch", "shop"], 3, "selects no color");
}

#[test]
fn broken_models_are_explained() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["delete", "deploy", "web-green"]);
    c.wait_for(&["pods", "-l", "color=green"], "green pods gone", |l| {
        l["items"].as_array().unwrap().is_empty()
    });
    c.wait_for(
        &[
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web-preview",
        ],
        "preview endpoints empty",
        |l| {
            l["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["endpoints"].as_array().is_none_or(|e| e.is_empty()))
        },
    );
    refused(
        &c,
        &["switch", "web"],
        3,
        "Deployment web-green does not exist",
    );

    let c = TestCluster::demo();
    // The green template lacks the color label.
    c.apply("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api-green}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: api, image: 'api:1'}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api-blue}\nspec:\n  selector: {matchLabels: {app: api, color: blue}}\n  template:\n    metadata: {labels: {app: api, color: blue}}\n    spec: {containers: [{name: api, image: 'api:1'}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec: {selector: {app: api, color: blue}, ports: [{port: 80}]}\n");
    c.settle();
    refused(
        &c,
        &["switch", "api"],
        3,
        "its pod template lacks color=green",
    );
    // Selectors that do not match: the Service selects tier=web, blue's pods lack it.
    c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: ui}\nspec: {selector: {app: ui, tier: web, color: blue}, ports: [{port: 80}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ui-blue}\nspec:\n  selector: {matchLabels: {app: ui, color: blue}}\n  template:\n    metadata: {labels: {app: ui, color: blue}}\n    spec: {containers: [{name: ui, image: 'ui:1'}]}\n");
    c.settle();
    refused(&c, &["status", "ui"], 3, "lacks tier=web");
}

#[test]
fn several_apps_need_a_name() {
    let c = TestCluster::demo();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/second-app.yaml");
    c.apply(&std::fs::read_to_string(fixture).unwrap());
    c.settle();
    refused(
        &c,
        &["switch"],
        2,
        "2 blue/green apps in namespace default: api, web",
    );
    let (stdout, _) = expect(&bluegreen(&c, &["switch", "api"]), 0);
    assert!(stdout.starts_with("switched api: green → blue"), "{stdout}");
}

#[test]
fn unreachable_cluster_is_exit_5() {
    let c = TestCluster::demo();
    let dead = c.dir.join("dead-kubeconfig");
    let text = std::fs::read_to_string(&c.kubeconfig).unwrap();
    let port = c.sandbox().addr().port().to_string();
    std::fs::write(&dead, text.replace(&port, "1")).unwrap();
    let out = std::process::Command::new(crate::BIN)
        .args(["status", "--request-timeout", "5s", "--kubeconfig"])
        .arg(&dead)
        .output()
        .unwrap();
    let (_, stderr) = expect(&out, 5);
    assert!(error_line(&stderr).starts_with("error: "), "{stderr}");
    let out = std::process::Command::new(crate::BIN)
        .args(["status", "--kubeconfig", "/nonexistent/kubeconfig"])
        .output()
        .unwrap();
    // A kubeconfig that is not there is bad input, not an unreachable cluster.
    let (_, stderr) = expect(&out, 2);
    assert!(
        error_line(&stderr).contains("kubeconfig /nonexistent/kubeconfig does not exist"),
        "{stderr}"
    );
}

/// The rest of the matrix, strictly: one `error:` line and at most one
/// `hint:` line, the documented code, nothing changed, no Lease left.
#[test]
fn the_bad_input_table() {
    let c = TestCluster::demo();
    // A Deployment with two containers: `deploy` must be told which one.
    c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: duo}\nspec: {selector: {app: duo, color: blue}, ports: [{port: 80}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: duo-blue}\nspec:\n  selector: {matchLabels: {app: duo, color: blue}}\n  template:\n    metadata: {labels: {app: duo, color: blue}}\n    spec: {containers: [{name: app, image: 'duo:1'}, {name: sidecar, image: 'proxy:1'}]}\n");
    c.settle();
    let long = "a".repeat(254);
    let (_, _, closed) = c.bad_kubeconfigs();
    let admin = c.admin_kubeconfig.display().to_string();
    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["status", "WEB"], 2, "invalid app name"),
        (vec!["switch", &long], 2, "invalid app name"),
        (vec!["rollback", "Web_App"], 2, "invalid app name"),
        (vec!["switch", "web", "--verify-timeout", "5x"], 2, "invalid duration"),
        (vec!["switch", "web", "--verify-timeout=-1s"], 2, "invalid duration"),
        (vec!["switch", "web", "--verify-timeout", ""], 2, "duration"),
        (vec!["deploy", "web", "--image", "x:1", "--wait", "--timeout", "5x"], 2, "invalid duration"),
        // Durations too large: one error line naming the maximum, never a panic (101).
        (vec!["deploy", "web", "--image", "x:1", "--wait", "--timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (vec!["switch", "web", "--verify-timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (vec!["switch", "web", "--scale-down-after", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (vec!["rollback", "web", "--scale-up", "--timeout", "169h"], 2, "longer than the maximum, 168h"),
        (vec!["init", "web", "--from-deployment", "web-blue", "--timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (vec!["status", "--request-timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (vec!["status", "--request-timeout", "99999999999999"], 2, "longer than the maximum, 168h"),
        (vec!["switch", "web", "--frobnicate"], 2, "--frobnicate"),
        // Negative counts: a plain error, not clap's `use '-- -1'` tip.
        (vec!["deploy", "web", "--image", "x:1", "--replicas", "-1"], 2, "invalid number of replicas \"-1\": a whole number, 0 or more"),
        (vec!["scale-down", "web", "--to", "-1"], 2, "invalid number of replicas \"-1\""),
        (vec!["status", "-o", "xml"], 2, "xml"),
        (vec!["deploy", "duo", "--image", "duo:2"], 2, "--container"),
        (vec!["deploy", "web", "--image", "x:1", "--container", "nope"], 2, "nope"),
        // A missing namespace: the Role bound by rbac/ does not reach it (as on a
        // real cluster, RBAC answers first); an identity that may create Leases
        // anywhere learns the namespace does not exist.
        (vec!["switch", "web", "-n", "nowhere"], 5, "in the namespace \"nowhere\""),
        (vec!["switch", "web", "-n", "nowhere", "--kubeconfig", &admin], 3, "namespace nowhere not found"),
        (vec!["switch", "web", "--context", "nope"], 2, "context \"nope\" (--context) is not in kubeconfig"),
        (vec!["switch", "web", "--kubeconfig", &closed, "--request-timeout", "5s"], 5, ""),
    ];
    for (args, code, says) in cases {
        // A --kubeconfig of the case's own replaces the sandbox's.
        let cmd = if args.contains(&"--kubeconfig") {
            c.command_bare(crate::BIN, &args)
        } else {
            c.command(crate::BIN, &args, &[])
        };
        c.refuses(cmd, code, says, &["default"]);
    }
    // Kubeconfigs that cannot be used: bad input naming the file and what is
    // wrong, with a hint about the file, never the reachability hint.
    for b in c.broken_kubeconfigs() {
        for sub in [&["status"][..], &["switch", "web"], &["history", "web"]] {
            let mut args = sub.to_vec();
            args.extend(["--kubeconfig", &b.path]);
            let says = format!("kubeconfig {} {}", b.path, b.says);
            c.refuses_with_hint(
                c.command_bare(crate::BIN, &args),
                2,
                &says,
                "--kubeconfig",
                &["default"],
            );
        }
    }
}
