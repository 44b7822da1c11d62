//! Least privilege: kubectl-canary runs as the service account the shipped
//! `rbac/` binds (see the harness).

use switchyard_e2e::{TOOL_USER, TestCluster};

use crate::{canary, error_line, expect, route_weights, with_fixture};

#[test]
fn a_role_without_patch_httproutes_refuses_set_with_exit_5_and_changes_nothing() {
    let c = TestCluster::demo();
    c.revoke(
        "default",
        "gateway.networking.k8s.io",
        "httproutes",
        "patch",
    );
    let before = c.versions("default");
    let (_, stderr) = expect(&canary(&c, &["set", "30", "shop"]), 5);
    let line = error_line(&stderr);
    assert!(
        line.contains(&format!(
            "httproutes.gateway.networking.k8s.io \"shop\" is forbidden: User \"{TOOL_USER}\" cannot patch resource \"httproutes\" in API group \"gateway.networking.k8s.io\" in the namespace \"default\""
        )),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("hint: ") && l.contains("rbac/")),
        "{stderr}"
    );
    assert_eq!(route_weights(&c), (100, 0));
    assert_eq!(c.versions("default"), before, "nothing changed");
}

/// `status -A` reads every carrier across namespaces with the ClusterRole alone.
#[test]
fn status_all_namespaces_reads_every_carrier_with_the_cluster_role() {
    let c = with_fixture("nginx.yaml");
    let (stdout, _) = expect(&canary(&c, &["status", "-A", "-o", "json"]), 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let providers: std::collections::BTreeMap<&str, &str> = doc["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["provider"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // The HTTPRoute and the Ingresses were listed at the cluster scope.
    assert_eq!(providers.get("shop"), Some(&"gateway"), "{stdout}");
    assert_eq!(providers.get("site"), Some(&"nginx"), "{stdout}");
    let log = c.cluster().requests.snapshot()["log"].to_string();
    for path in [
        "GET /apis/gateway.networking.k8s.io/v1/httproutes",
        "GET /apis/networking.k8s.io/v1/ingresses",
        "GET /apis/networking.istio.io/v1/virtualservices",
    ] {
        assert!(log.contains(path), "{path} not in {log}");
    }
}

/// The ClusterRole is optional: with the Role alone (its binding deleted), a
/// canary runs in its namespace, which lists every carrier there.
#[test]
fn the_role_alone_runs_a_canary_in_its_namespace() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["delete", "clusterrolebinding", "switchyard-status"]);
    expect(&canary(&c, &["set", "30", "shop"]), 0);
    assert_eq!(route_weights(&c), (70, 30));
    let (stdout, _) = expect(&canary(&c, &["status", "-o", "json"]), 0);
    assert!(stdout.contains("\"shop\""), "{stdout}");
    // Across namespaces it needs the ClusterRole.
    let (_, stderr) = expect(&canary(&c, &["status", "-A"]), 5);
    assert!(
        error_line(&stderr).contains("at the cluster scope"),
        "{stderr}"
    );
}
