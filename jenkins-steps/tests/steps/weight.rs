use switchyard_e2e::TestCluster;

use crate::{annotate_template, expect, step};

const BIN: &str = env!("CARGO_BIN_EXE_deploy-weight");

fn weights(c: &TestCluster) -> (i64, i64) {
    let r = c.get_json(&["httproute", "shop"]);
    let refs = &r["spec"]["rules"][0]["backendRefs"];
    (
        refs[0]["weight"].as_i64().unwrap(),
        refs[1]["weight"].as_i64().unwrap(),
    )
}

#[test]
fn weight_and_ramp() {
    let c = TestCluster::demo();
    let (_, e) = expect(&step(&c, BIN, &["--app", "shop", "--weight", "10"]), 0);
    assert!(
        e.contains("shop canary weight 0% → 10% via HTTPRoute shop"),
        "{e}"
    );
    assert_eq!(weights(&c), (90, 10));
    let (_, e) = expect(
        &step(
            &c,
            BIN,
            &[
                "--app",
                "shop",
                "--steps",
                "30,100",
                "--pause",
                "200ms",
                "--http",
                "/health",
                "--promote",
            ],
        ),
        0,
    );
    assert!(
        e.contains("ramped shop through 30% → 100%; promoted"),
        "{e}"
    );
    assert_eq!(weights(&c), (100, 0));
}

#[test]
fn a_failing_ramp_aborts_to_zero_with_exit_1() {
    let c = TestCluster::demo();
    annotate_template(&c, "shop-canary", "sandbox.switchyard.dev/health", "down");
    c.kubectl_ok(&["rollout", "status", "deploy/shop-canary", "--timeout=30s"]);
    c.settle();
    let (_, e) = expect(
        &step(
            &c,
            BIN,
            &[
                "--app",
                "shop",
                "--steps",
                "10,30,100",
                "--pause",
                "1s",
                "--http",
                "/health",
            ],
        ),
        1,
    );
    assert!(e.contains("failed at step 1/3 (10%)"), "{e}");
    assert_eq!(weights(&c), (100, 0));
}

#[test]
fn bad_weights_are_exit_2() {
    let c = TestCluster::demo();
    for w in ["-1", "101", "3.5", "abc"] {
        let (_, e) = expect(&step(&c, BIN, &["--app", "shop", "--weight", w]), 2);
        assert!(e.contains("invalid weight"), "{w}: {e}");
    }
    let (_, e) = expect(&step(&c, BIN, &["--app", "shop", "--steps", "10,30"]), 2);
    assert!(e.contains("--pause"), "{e}");
}
