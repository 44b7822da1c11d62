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
