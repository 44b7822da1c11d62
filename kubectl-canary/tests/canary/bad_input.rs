//! The bad input matrix: one error line, the documented exit code, and every
//! object's resourceVersion unchanged.

use switchyard_e2e::TestCluster;

use crate::{canary, error_line, expect, with_fixture};

fn refused(c: &TestCluster, args: &[&str], code: i32, says: &str) {
    let before = c.versions("default");
    let (stdout, stderr) = expect(&canary(c, args), code);
    assert!(stdout.is_empty(), "{args:?}: {stdout}");
    assert!(error_line(&stderr).contains(says), "{args:?}: {stderr}");
    assert_eq!(c.versions("default"), before, "{args:?} changed something");
}

#[test]
fn bad_weights_and_apps_change_nothing() {
    let c = TestCluster::demo();
    for w in ["-1", "101", "3.5", "abc", ""] {
        refused(&c, &["set", w, "shop"], 2, &format!("invalid weight {w:?}"));
    }
    refused(&c, &["set", "30", "nope"], 3, "canary app nope not found");
    refused(
        &c,
        &["set", "30", "shop", "--provider", "istio"],
        3,
        "no VirtualService routes to both",
    );
    refused(
        &c,
        &["ramp", "shop", "--steps", "50,10", "--pause", "1s"],
        2,
        "invalid steps",
    );
    refused(
        &c,
        &["set", "30", "shop", "--provider", "carrier-pigeon"],
        2,
        "carrier-pigeon",
    );
}

#[test]
fn a_canary_that_is_not_ready_gets_no_traffic() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["patch", "deploy", "shop-canary", "--type", "merge", "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/fail":"crashloop"}}}}}"#]);
    c.wait_for(&["pods", "-l", "track=canary"], "crashing canary", |l| {
        l["items"].as_array().unwrap().iter().any(|p| {
            p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        })
    });
    refused(
        &c,
        &["set", "30", "shop"],
        3,
        "cannot send 30% to shop-canary",
    );
}

#[test]
fn two_providers_ask_which() {
    // The replica fixture's Service `cart` selects both Deployments; add an HTTPRoute too.
    let c = with_fixture("replicas.yaml");
    c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: cart-canary}\nspec: {selector: {app: cart, track: canary}, ports: [{port: 80}]}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: cart}\nspec:\n  rules:\n  - backendRefs: [{name: cart, port: 80, weight: 100}, {name: cart-canary, port: 80, weight: 0}]\n");
    c.settle();
    refused(
        &c,
        &["set", "30", "cart"],
        2,
        "several providers carry traffic for cart: gateway, replicas",
    );
    // The replica split makes the canary pods as it goes; the gateway would
    // send traffic to a canary scaled to 0, and refuses.
    refused(
        &c,
        &["set", "30", "cart", "--provider", "gateway"],
        3,
        "cart-canary is scaled to 0",
    );
    expect(
        &canary(&c, &["set", "30", "cart", "--provider", "replicas"]),
        0,
    );
}

/// The rest of the matrix, strictly: one `error:` line and at most one
/// `hint:` line, the documented code, nothing changed, no Lease left.
#[test]
fn the_bad_input_table() {
    let c = TestCluster::demo();
    // A rule with a third backend: two weights no longer make the share.
    c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: shop-legacy}\nspec: {selector: {app: shop, track: stable}, ports: [{port: 80}]}\n");
    c.settle();
    let long = "a".repeat(254);
    let (_, _, closed) = c.bad_kubeconfigs();
    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["set", "12.5", "shop"], 2, "invalid weight"),
        (vec!["set", "30", "Shop_1"], 2, "invalid app name"),
        (vec!["status", "SHOP"], 2, "invalid app name"),
        (vec!["set", "30", &long], 2, "invalid app name"),
        (vec!["ramp", "shop", "--steps", "10,50", "--pause", "5x"], 2, "invalid duration"),
        (vec!["ramp", "shop", "--steps", "10,50", "--pause=-1s"], 2, "invalid duration"),
        (vec!["ramp", "shop", "--steps", "10,50", "--pause", ""], 2, "duration"),
        // Durations too large: one error line naming the maximum, never a panic (101).
        (vec!["ramp", "shop", "--steps", "10,50", "--pause", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (vec!["ramp", "shop", "--steps", "10,50", "--pause", "1s", "--promote", "--timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (vec!["promote", "shop", "--timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (vec!["deploy", "shop", "--image", "x:2", "--wait", "--timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (vec!["set", "30", "shop", "--request-timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (vec!["ramp", "shop", "--steps", "10,101", "--pause", "1s"], 2, "invalid weight \"101\""),
        (vec!["set", "30", "shop", "--frobnicate"], 2, "--frobnicate"),
        // Negative counts: a plain error, not clap's `use '-- -1'` tip.
        (vec!["deploy", "shop", "--image", "x:2", "--replicas", "-1"], 2, "invalid number of replicas \"-1\": a whole number, 0 or more"),
        (vec!["set", "30", "shop", "--provider", "replicas", "--total", "-1"], 2, "invalid number of replicas \"-1\""),
        (vec!["promote", "Shop_1"], 2, "invalid app name"),
        (vec!["abort", "shop", "--frobnicate"], 2, "--frobnicate"),
        (vec!["set", "30", "shop", "-n", "nowhere"], 3, "nowhere"),
        (vec!["set", "30", "shop", "--context", "nope"], 2, "context \"nope\" (--context) is not in kubeconfig"),
        (vec!["set", "30", "shop", "--kubeconfig", &closed, "--request-timeout", "5s"], 5, ""),
    ];
    for (args, code, says) in &cases {
        let cmd = if args.contains(&"--kubeconfig") {
            c.command_bare(crate::BIN, args)
        } else {
            c.command(crate::BIN, args, &[])
        };
        c.refuses(cmd, *code, says, &["default"]);
    }
    // Kubeconfigs that cannot be used: bad input naming the file and what is
    // wrong, with a hint about the file, never the reachability hint.
    for b in c.broken_kubeconfigs() {
        for sub in [&["status"][..], &["set", "30", "shop"], &["abort", "shop"]] {
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
    c.kubectl_ok(&["patch", "httproute", "shop", "--type", "json", "-p",
        r#"[{"op":"add","path":"/spec/rules/0/backendRefs/-","value":{"name":"shop-legacy","port":80,"weight":10}}]"#]);
    c.refuses(
        c.command(crate::BIN, &["set", "30", "shop"], &[]),
        3,
        "shop-legacy",
        &["default"],
    );
}
