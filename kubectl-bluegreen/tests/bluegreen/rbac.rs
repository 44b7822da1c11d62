//! Least privilege: the tools run as the service account the shipped `rbac/`
//! binds (see the harness); a permission it lacks is exit 5, naming the verb
//! and the resource, with nothing changed.

use switchyard_e2e::{TOOL_USER, TestCluster, selected_color};

use crate::{bluegreen, error_line, expect};

const HINT: &str = "hint: the permissions Switchyard needs are in rbac/ (kubectl apply -f rbac/)";

#[test]
fn a_role_without_patch_services_refuses_the_switch_with_exit_5_and_changes_nothing() {
    let c = TestCluster::demo();
    c.revoke("default", "", "services", "patch");
    let before = c.versions("default");
    let out = bluegreen(&c, &["switch", "web"]);
    let (_, stderr) = expect(&out, 5);
    assert_eq!(
        error_line(&stderr),
        format!(
            "error: writing Service web: services \"web\" is forbidden: User \"{TOOL_USER}\" cannot patch resource \"services\" in API group \"\" in the namespace \"default\""
        ),
        "{stderr}"
    );
    assert!(stderr.lines().any(|l| l == HINT), "{stderr}");
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");
    assert_eq!(c.versions("default"), before, "nothing changed");
}

#[test]
fn a_role_without_create_leases_refuses_before_reading_anything_else() {
    let c = TestCluster::demo();
    c.revoke("default", "coordination.k8s.io", "leases", "create");
    let before = c.versions("default");
    let out = c.kubectl_plugin(crate::BIN, &["bluegreen", "switch", "web"]);
    let (_, stderr) = expect(&out, 5);
    let line = error_line(&stderr);
    assert!(
        line.contains(&format!(
            "User \"{TOOL_USER}\" cannot create resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"default\""
        )),
        "{stderr}"
    );
    assert!(stderr.lines().any(|l| l == HINT), "{stderr}");
    assert_eq!(c.versions("default"), before, "nothing changed");
}

/// `status -A` needs the ClusterRole: without its binding the Role's
/// namespaced permissions do not reach across namespaces.
#[test]
fn status_all_namespaces_needs_the_cluster_role() {
    let c = TestCluster::demo();
    let (stdout, _) = expect(&bluegreen(&c, &["status", "-A"]), 0);
    assert!(stdout.starts_with("NAMESPACE"), "{stdout}");
    c.kubectl_ok(&["delete", "clusterrolebinding", "switchyard-status"]);
    let (_, stderr) = expect(&bluegreen(&c, &["status", "-A"]), 5);
    let line = error_line(&stderr);
    assert!(line.contains("cannot list resource"), "{stderr}");
    assert!(line.contains("at the cluster scope"), "{stderr}");
    assert!(stderr.lines().any(|l| l == HINT), "{stderr}");
    // In its own namespace the Role is enough.
    expect(&bluegreen(&c, &["status"]), 0);
}

const STALE_LEASE: &str = r#"
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: switchyard-web, namespace: default}
spec:
  holderIdentity: "jenkins-agent-7 (pid 1)"
  leaseDurationSeconds: 30
  acquireTime: "2020-01-01T00:00:00.000000Z"
  renewTime: "2020-01-01T00:00:00.000000Z"
"#;

/// A lease its crashed holder left behind is taken over with `update leases`.
#[test]
fn an_expired_lease_is_taken_over_with_the_roles_update_leases() {
    let c = TestCluster::demo();
    c.apply(STALE_LEASE);
    c.cluster().requests.reset();
    expect(&bluegreen(&c, &["switch", "web"]), 0);
    assert_eq!(c.cluster().requests.count("update", "leases"), 1);
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "green");

    c.apply(STALE_LEASE);
    c.revoke("default", "coordination.k8s.io", "leases", "update");
    let before = c.versions("default");
    let (_, stderr) = expect(&bluegreen(&c, &["switch", "web"]), 5);
    assert!(
        error_line(&stderr)
            .contains("cannot update resource \"leases\" in API group \"coordination.k8s.io\""),
        "{stderr}"
    );
    assert_eq!(c.versions("default"), before, "nothing changed");
}

/// An operation longer than a third of the lease's 30 s renews it with
/// `patch leases`. (Takes about 10 s: the renewal period.)
#[test]
fn a_long_wait_renews_its_lease_with_the_roles_patch_leases() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["patch", "deploy", "web-green", "--type", "merge", "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/fail":"unready"}}}}}"#]);
    let mut child = std::process::Command::new(crate::BIN)
        .args(["deploy", "web", "--image", "example/web:2.0", "--wait"])
        .args(["--timeout", "60s", "--kubeconfig"])
        .arg(&c.kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let renewed = loop {
        let lease = c.object("coordination.k8s.io", "leases", "default", "switchyard-web");
        if let Some(l) = lease.filter(|l| l["spec"]["renewTime"] != l["spec"]["acquireTime"]) {
            break Some(l);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(renewed.is_some(), "the lease was never renewed");
    assert_eq!(status.code(), Some(143));
    assert!(c.cluster().requests.count("patch", "leases") >= 1);
}

/// A renewal the API server refuses is said once on stderr: another operation
/// may take the app over when the lease runs out, and the user should know.
#[test]
fn a_refused_renewal_is_a_warning() {
    let c = TestCluster::demo();
    c.revoke("default", "coordination.k8s.io", "leases", "patch");
    c.kubectl_ok(&["patch", "deploy", "web-green", "--type", "merge", "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/fail":"unready"}}}}}"#]);
    let child = std::process::Command::new(crate::BIN)
        .args(["deploy", "web", "--image", "example/web:2.0", "--wait"])
        .args(["--timeout", "60s", "--kubeconfig"])
        .arg(&c.kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first renewal is due a third into the 30 s lease.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while c.cluster().requests.count("patch", "leases") == 0 && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Time to print the warning after the refusal (the test then stops it).
    std::thread::sleep(std::time::Duration::from_secs(1));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("could not renew Lease switchyard-web"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].starts_with("warning: ")
            && warnings[0].contains("cannot patch resource \"leases\""),
        "{stderr}"
    );
}

/// `init --preview` is why the Role grants create on Services.
#[test]
fn a_role_without_create_services_refuses_init_preview() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["delete", "svc", "web-preview"]);
    c.revoke("default", "", "services", "create");
    let out = bluegreen(
        &c,
        &["init", "web", "--from-deployment", "web-blue", "--preview"],
    );
    let (_, stderr) = expect(&out, 5);
    assert!(
        error_line(&stderr).contains(&format!(
            "User \"{TOOL_USER}\" cannot create resource \"services\""
        )),
        "{stderr}"
    );
    assert!(stderr.lines().any(|l| l == HINT), "{stderr}");
    assert!(!c.lease_held("default", "web"), "the lease is released");
}
