use switchyard_e2e::{TestCluster, selected_color};

use crate::{bluegreen, error_line, expect};

#[test]
fn deploy_updates_the_idle_color_and_waits() {
    let c = TestCluster::demo();
    let (stdout, _) = expect(
        &bluegreen(
            &c,
            &[
                "deploy",
                "web",
                "--image",
                "example/web:2.0",
                "--wait",
                "--timeout",
                "60s",
            ],
        ),
        0,
    );
    assert!(
        stdout
            .starts_with("updated web-green: web=example/web:2.0 (3 replicas, idle color green)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("web-green is healthy"), "{stdout}");
    let green = c.get_json(&["deploy", "web-green"]);
    assert_eq!(
        green["spec"]["template"]["spec"]["containers"][0]["image"],
        "example/web:2.0"
    );
    assert_eq!(green["status"]["updatedReplicas"], 3);
    assert_eq!(
        c.get_json(&["deploy", "web-blue"])["spec"]["template"]["spec"]["containers"][0]["image"],
        "example/web:1.0",
        "active untouched"
    );
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");
    let (again, _) = expect(
        &bluegreen(&c, &["deploy", "web", "--image", "example/web:2.0"]),
        0,
    );
    assert!(again.contains("unchanged"), "{again}");
}

#[test]
fn deploy_wait_fails_fast_on_a_crashing_image() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["patch", "deploy", "web-green", "--type", "merge", "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/fail":"crashloop"}}}}}"#]);
    let started = std::time::Instant::now();
    let (_, stderr) = expect(
        &bluegreen(
            &c,
            &[
                "deploy",
                "web",
                "--image",
                "example/web:2.0",
                "--wait",
                "--timeout",
                "5m",
            ],
        ),
        1,
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "failed fast, not at the timeout"
    );
    let err = error_line(&stderr);
    assert!(
        err.contains("web-green is failing") && err.contains("CrashLoopBackOff"),
        "{err}"
    );
    assert!(err.contains("pod web-green-"), "names the pod: {err}");
}

#[test]
fn deploy_wait_times_out_with_124() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["patch", "deploy", "web-green", "--type", "merge", "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/fail":"unready"}}}}}"#]);
    let (_, stderr) = expect(
        &bluegreen(
            &c,
            &[
                "deploy",
                "web",
                "--image",
                "example/web:2.0",
                "--wait",
                "--timeout",
                "2s",
            ],
        ),
        124,
    );
    assert!(
        error_line(&stderr).contains("was not healthy within 2s"),
        "{stderr}"
    );
}

#[test]
fn deploy_creates_the_idle_color_from_the_active_one() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["delete", "deploy", "web-green"]);
    let (stdout, _) = expect(
        &bluegreen(
            &c,
            &[
                "deploy",
                "web",
                "--image",
                "example/web:3.0",
                "--replicas",
                "2",
                "--wait",
            ],
        ),
        0,
    );
    assert!(stdout.starts_with("created web-green"), "{stdout}");
    let green = c.get_json(&["deploy", "web-green"]);
    assert_eq!(green["spec"]["selector"]["matchLabels"]["color"], "green");
    assert_eq!(
        green["spec"]["template"]["metadata"]["labels"]["color"],
        "green"
    );
    assert_eq!(green["spec"]["replicas"], 2);
    expect(&bluegreen(&c, &["switch", "web"]), 0);
}

#[test]
fn deploy_refuses_ambiguous_containers_and_bad_images() {
    let c = TestCluster::demo();
    // Two containers, neither named like the app: which one is ambiguous.
    c.kubectl_ok(&["patch", "deploy", "web-green", "--type", "json", "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/0/name","value":"app"},
            {"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"proxy","image":"envoy:1"}}]"#]);
    c.kubectl_ok(&["rollout", "status", "deploy/web-green", "--timeout=30s"]);
    c.wait_for(&["pods", "-l", "color=green"], "old pods gone", |l| {
        l["items"].as_array().unwrap().len() == 3
    });
    let before = c.versions("default");
    let (_, stderr) = expect(
        &bluegreen(&c, &["deploy", "web", "--image", "example/web:2.0"]),
        2,
    );
    let err = error_line(&stderr);
    assert!(
        err.contains("has 2 containers (app, proxy)") && err.contains("--container"),
        "{err}"
    );
    let (_, stderr) = expect(
        &bluegreen(&c, &["deploy", "web", "--image", "bad image"]),
        2,
    );
    assert!(error_line(&stderr).contains("invalid image"), "{stderr}");
    let (_, stderr) = expect(
        &bluegreen(
            &c,
            &["deploy", "web", "--image", "x:1", "--container", "nope"],
        ),
        2,
    );
    assert!(
        error_line(&stderr).contains("no container \"nope\""),
        "{stderr}"
    );
    assert_eq!(c.versions("default"), before);
    let (stdout, _) = expect(
        &bluegreen(
            &c,
            &[
                "deploy",
                "web",
                "--image",
                "example/web:2.0",
                "--container",
                "app",
            ],
        ),
        0,
    );
    assert!(
        stdout.starts_with("updated web-green: app=example/web:2.0"),
        "{stdout}"
    );
}

#[test]
fn the_lease_is_held_during_a_wait_and_released_on_sigterm() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["patch", "deploy", "web-green", "--type", "merge", "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/fail":"unready"}}}}}"#]);
    let mut child = std::process::Command::new(crate::BIN)
        .args([
            "deploy",
            "web",
            "--image",
            "example/web:2.0",
            "--wait",
            "--timeout",
            "60s",
            "--kubeconfig",
        ])
        .arg(&c.kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while c
        .object("coordination.k8s.io", "leases", "default", "switchyard-web")
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the lease was never taken"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let lease = c
        .object("coordination.k8s.io", "leases", "default", "switchyard-web")
        .unwrap();
    assert!(
        lease["spec"]["holderIdentity"]
            .as_str()
            .unwrap()
            .contains(&format!("pid {}", child.id())),
        "{lease}"
    );
    // Meanwhile another operation whose own preconditions hold is refused,
    // naming the holder.
    let (_, stderr) = expect(&bluegreen(&c, &["scale-down", "web", "--to", "1"]), 4);
    let err = error_line(&stderr);
    assert!(
        err.contains("app web is busy") && err.contains(&format!("pid {}", child.id())),
        "{err}"
    );
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(
        c.object("coordination.k8s.io", "leases", "default", "switchyard-web")
            .is_none(),
        "released on SIGTERM"
    );
}

#[test]
fn deploy_dry_runs_change_nothing() {
    let c = TestCluster::demo();
    let before = c.versions("default");
    for mode in ["--dry-run", "--dry-run=client", "--dry-run=server"] {
        let (stdout, stderr) = expect(
            &bluegreen(&c, &["deploy", "web", "--image", "example/web:9", mode]),
            0,
        );
        assert_eq!(
            stdout,
            "web-green would run web=example/web:9 (3 replicas, idle color green) (dry run: nothing changed)\n",
            "{mode}"
        );
        assert!(
            stderr.contains("would patch Deployment web-green: ")
                && stderr.contains("example/web:9"),
            "{mode}: {stderr}"
        );
    }
    assert_eq!(
        c.versions("default"),
        before,
        "nothing changed, no Lease left"
    );
    // A missing idle color would be created: the server validates the new object.
    c.kubectl_ok(&["delete", "deploy", "web-green"]);
    // Its ReplicaSets and pods go by garbage collection: wait, then compare.
    for kind in ["replicasets", "pods"] {
        c.wait_for(
            &[kind, "-l", "app=web,color=green"],
            "green collected",
            |l| l["items"].as_array().unwrap().is_empty(),
        );
    }
    let before_missing = c.versions("default");
    let (_, stderr) = expect(
        &bluegreen(
            &c,
            &[
                "deploy",
                "web",
                "--image",
                "example/web:9",
                "--dry-run=server",
            ],
        ),
        0,
    );
    assert!(
        stderr.contains(
            "would create Deployment web-green from web-blue: web=example/web:9 (3 replicas)"
        ),
        "{stderr}"
    );
    assert!(
        c.object("apps", "deployments", "default", "web-green")
            .is_none()
    );
    assert_eq!(
        c.versions("default"),
        before_missing,
        "nothing changed, no Lease left"
    );
    // --wait has nothing to wait for in a dry run.
    let (_, stderr) = expect(
        &bluegreen(
            &c,
            &["deploy", "web", "--image", "x:1", "--dry-run", "--wait"],
        ),
        2,
    );
    assert!(error_line(&stderr).contains("--wait"), "{stderr}");
}
