use switchyard_e2e::TestCluster;

use crate::{canary, error_line, expect, route_weights};

#[test]
fn set_through_kubectl_writes_the_route_weights_exactly() {
    let c = TestCluster::demo();
    let out = c.kubectl_plugin(crate::BIN, &["canary", "set", "30"]);
    let (stdout, _) = expect(&out, 0);
    assert_eq!(stdout, "shop canary weight 0% → 30% via HTTPRoute shop\n");
    assert_eq!(route_weights(&c), (70, 30));
    let (status, _) = expect(&canary(&c, &["status", "-o", "json"]), 0);
    let doc: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        (
            doc["apps"][0]["weight"].as_u64(),
            doc["apps"][0]["provider"].as_str()
        ),
        (Some(30), Some("gateway"))
    );
    assert_eq!(doc["apps"][0]["lastChange"]["to"], "30");
    let before = c.versions("default");
    let (again, _) = expect(&canary(&c, &["set", "30%", "shop"]), 0);
    assert!(again.contains("unchanged"), "{again}");
    assert_eq!(c.versions("default"), before);
    expect(&canary(&c, &["set", "100", "shop"]), 0);
    assert_eq!(route_weights(&c), (0, 100));
}

#[test]
fn promote_rolls_stable_then_moves_traffic_and_scales_canary_down() {
    let c = TestCluster::demo();
    expect(&canary(&c, &["set", "20"]), 0);
    let (stdout, _) = expect(&canary(&c, &["promote", "--timeout", "60s"]), 0);
    assert_eq!(
        stdout,
        "promoted shop: stable runs example/shop:1.1; canary weight 0%, shop-canary scaled to 0\n"
    );
    let stable = c.get_json(&["deploy", "shop"]);
    assert_eq!(
        stable["spec"]["template"]["spec"]["containers"][0]["image"],
        "example/shop:1.1"
    );
    assert_eq!(
        stable["spec"]["template"]["metadata"]["labels"]["track"], "stable",
        "stable keeps its labels"
    );
    assert_eq!(stable["status"]["updatedReplicas"], 4);
    assert_eq!(route_weights(&c), (100, 0));
    assert_eq!(
        c.get_json(&["deploy", "shop-canary"])["spec"]["replicas"],
        0
    );
    let (again, _) = expect(&canary(&c, &["promote"]), 0);
    assert!(again.contains("unchanged"), "{again}");
}

#[test]
fn abort_sets_weight_zero_and_scales_the_canary_down() {
    let c = TestCluster::demo();
    expect(&canary(&c, &["set", "40"]), 0);
    let (stdout, _) = expect(&canary(&c, &["abort"]), 0);
    assert_eq!(
        stdout,
        "aborted shop: canary weight 40% → 0%, shop-canary scaled to 0\n"
    );
    assert_eq!(route_weights(&c), (100, 0));
    assert_eq!(
        c.get_json(&["deploy", "shop-canary"])["spec"]["replicas"],
        0
    );
    let (again, _) = expect(&canary(&c, &["abort"]), 0);
    assert!(again.contains("unchanged"));
}

#[test]
fn a_route_without_the_canary_backend_is_named() {
    let c = TestCluster::demo();
    c.kubectl_ok(&[
        "patch",
        "httproute",
        "shop",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/spec/rules/0/backendRefs/1"}]"#,
    ]);
    let before = c.versions("default");
    let (_, stderr) = expect(
        &canary(&c, &["set", "30", "shop", "--provider", "gateway"]),
        3,
    );
    assert!(
        error_line(&stderr)
            .contains("HTTPRoute shop does not reference the canary Service shop-canary"),
        "{stderr}"
    );
    assert_eq!(c.versions("default"), before);
}

/// A server dry run says so on every line that names the weight, progress included.
#[test]
fn a_server_dry_run_says_dry_run() {
    let c = TestCluster::demo();
    let before = c.versions("default");
    let (stdout, stderr) = expect(&canary(&c, &["set", "30", "shop", "--dry-run=server"]), 0);
    for line in stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains("30%"))
    {
        assert!(line.contains("dry run"), "{line}\n{stdout}{stderr}");
    }
    assert!(
        stderr.contains("HTTPRoute shop: canary 0% → 30% (dry run"),
        "{stderr}"
    );
    assert_eq!(c.versions("default"), before);
}

/// At 0 % with canary pods running, abort only scales them down, and says
/// so (not "0% → 0%").
#[test]
fn abort_at_zero_percent_says_only_the_pods_went() {
    let c = TestCluster::demo();
    assert_eq!(route_weights(&c), (100, 0));
    let (stdout, stderr) = expect(&canary(&c, &["abort", "shop"]), 0);
    assert_eq!(
        stdout,
        "aborted shop: the canary weight was already 0%; shop-canary scaled to 0\n"
    );
    assert!(!stderr.contains("0% → 0%"), "{stderr}");
    assert_eq!(
        c.get_json(&["deploy", "shop-canary"])["spec"]["replicas"],
        0
    );
}
