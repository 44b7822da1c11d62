use crate::{canary, expect, with_fixture};

fn replicas(c: &switchyard_e2e::TestCluster, name: &str) -> i64 {
    c.get_json(&["deploy", name])["spec"]["replicas"]
        .as_i64()
        .unwrap()
}

#[test]
fn replica_split_divides_the_total_and_reports_what_it_achieves() {
    let c = with_fixture("replicas.yaml");
    let (stdout, _) = expect(
        &canary(&c, &["set", "30", "cart", "--provider", "replicas"]),
        0,
    );
    assert_eq!(
        stdout,
        "cart canary weight 0% → 30% via Service cart over cart and cart-canary\n"
    );
    assert_eq!((replicas(&c, "cart"), replicas(&c, "cart-canary")), (7, 3));
    let (stdout, _) = expect(&canary(&c, &["set", "33", "cart", "--total", "4"]), 0);
    assert!(
        stdout.contains("the replica split achieves 25%"),
        "{stdout}"
    );
    assert_eq!((replicas(&c, "cart"), replicas(&c, "cart-canary")), (3, 1));
    let (status, _) = expect(&canary(&c, &["status", "cart", "-o", "json"]), 0);
    let doc: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        (
            doc["apps"][0]["weight"].as_u64(),
            doc["apps"][0]["achieved"].as_f64()
        ),
        (Some(33), Some(25.0))
    );
    expect(&canary(&c, &["abort", "cart"]), 0);
    assert_eq!((replicas(&c, "cart"), replicas(&c, "cart-canary")), (4, 0));
}

fn split(c: &switchyard_e2e::TestCluster) -> (i64, i64) {
    (replicas(c, "cart"), replicas(c, "cart-canary"))
}

/// The `cart` fixture with another controller rewriting every Deployment's
/// status every 20 ms; with `crashing`, the canary's pods crash-loop.
fn cart_under_status_writers(crashing: bool) -> switchyard_e2e::TestCluster {
    let c = with_fixture("replicas.yaml");
    c.add_status_writers(std::time::Duration::from_millis(20));
    if crashing {
        c.kubectl_ok(&["patch", "deploy", "cart-canary", "--type", "merge", "-p",
            r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/fail":"crashloop"}}}}}"#]);
    }
    c
}

/// The replica split under a real control plane's timing, with another
/// controller rewriting every Deployment's status every 20 ms: each step
/// scales both Deployments (guarded writes that status writes do not
/// break), and the ramp waits for the step's pods before its pause.
#[test]
fn a_replica_split_ramp_waits_for_each_steps_pods_and_completes() {
    let c = cart_under_status_writers(false);
    let (stdout, _) = expect(
        &canary(
            &c,
            &[
                "ramp",
                "cart",
                "--steps",
                "30,60",
                "--pause",
                "200ms",
                "--provider",
                "replicas",
            ],
        ),
        0,
    );
    assert_eq!(stdout, "ramped cart through 30% → 60%\n");
    assert_eq!(split(&c), (4, 6));
    let canary_d = c.get_json(&["deploy", "cart-canary"]);
    assert_eq!(
        canary_d["metadata"]["annotations"]["switchyard.dev/total"],
        "10"
    );
    assert_eq!(canary_d["status"]["availableReplicas"], 6, "{canary_d}");
}

/// A canary that crashes: the ramp fails fast at its first step, naming the
/// reason, and the safety net puts the weight back to 0 with the total kept.
#[test]
fn a_failed_replica_split_ramp_is_back_at_weight_zero() {
    let c = cart_under_status_writers(true);
    let (_, stderr) = expect(
        &canary(
            &c,
            &[
                "ramp",
                "cart",
                "--steps",
                "30,60",
                "--pause",
                "1s",
                "--provider",
                "replicas",
            ],
        ),
        1,
    );
    let err = crate::error_line(&stderr);
    assert!(
        err.contains("failed at step 1/2 (30%)") && err.contains("CrashLoopBackOff"),
        "{err}"
    );
    assert!(err.contains("weight set back to 0"), "{err}");
    assert_eq!(split(&c), (10, 0));
    // Abort right after: nothing left to do but say so.
    expect(&canary(&c, &["abort", "cart"]), 0);
    assert_eq!(split(&c), (10, 0));
    assert!(
        c.object(
            "coordination.k8s.io",
            "leases",
            "default",
            "switchyard-cart"
        )
        .is_none()
    );
}

/// No sequence of failed ramps, sets and aborts changes stable + canary from
/// the total: 20 rounds, with status writers, each ending at (10, 0).
#[test]
fn the_split_keeps_its_total_over_twenty_failed_ramps_and_aborts() {
    let c = cart_under_status_writers(true);
    for round in 0..20 {
        let steps = if round % 2 == 0 { "20,50" } else { "40,70" };
        expect(
            &canary(
                &c,
                &[
                    "ramp",
                    "cart",
                    "--steps",
                    steps,
                    "--pause",
                    "1s",
                    "--provider",
                    "replicas",
                ],
            ),
            1,
        );
        let (s, k) = split(&c);
        assert_eq!((s + k, k), (10, 0), "round {round}: after the ramp");
        if round % 3 == 0 {
            // A set by hand between, as a person would try.
            expect(
                &canary(&c, &["set", "30", "cart", "--provider", "replicas"]),
                0,
            );
            assert_eq!(split(&c), (7, 3), "round {round}: after set");
        }
        expect(&canary(&c, &["abort", "cart"]), 0);
        assert_eq!(split(&c), (10, 0), "round {round}: after abort");
    }
}

/// An HPA (or a person) scales the stable Deployment while the split's write
/// is on its way: the guarded write of the replicas fails on the server,
/// exit 4 names the field, the scale stays the other writer's, and the
/// canary's half of the change (written first) is put back.
#[test]
fn a_scale_by_someone_else_mid_write_is_exit_4_and_kept() {
    let c = cart_under_status_writers(false);
    // The canary grows first (30 % of 10: 3 pods), then the stable shrinks:
    // hold the stable's write, the second.
    switchyard_e2e::faults::fault(
        &c,
        "latency=700ms,verb=patch,resource=deployments,name=cart,count=1",
    );
    let run = switchyard_e2e::faults::Background::spawn(c.command(
        crate::BIN,
        &["set", "30", "cart", "--provider", "replicas"],
        &[],
    ));
    c.poll("the stable's write", |c| {
        c.cluster().requests.snapshot()["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| {
                l.as_str()
                    .unwrap()
                    .starts_with("PATCH /apis/apps/v1/namespaces/default/deployments/cart")
            })
    });
    let deployments = kube_sandbox::resources::RESOURCES
        .iter()
        .find(|r| r.plural == "deployments")
        .unwrap();
    c.cluster()
        .store
        .update(deployments, "default", "cart", false, |cur| {
            let mut o = (**cur).clone();
            o["spec"]["replicas"] = 12.into();
            Ok(o)
        })
        .unwrap();
    let out = run.wait_within(std::time::Duration::from_secs(60));
    let (_, stderr) = expect(&out, 4);
    let err = crate::error_line(&stderr);
    assert!(
        err.contains("Deployment cart changed since it was read: spec.replicas is now 12 (was 10)"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(split(&c), (12, 0));
    let canary_d = c.get_json(&["deploy", "cart-canary"]);
    let a = &canary_d["metadata"]["annotations"];
    assert!(
        a.get("switchyard.dev/weight").is_none() && a.get("switchyard.dev/history").is_none(),
        "{canary_d}"
    );
}
