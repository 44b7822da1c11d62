use switchyard_e2e::TestCluster;

use crate::{canary, error_line, expect, route_weights};

switchyard_e2e::on_both_timings!(ramp_through_steps_and_promote, |c| {
    let (stdout, _) = expect(
        &canary(
            &c,
            &[
                "ramp",
                "--steps",
                "10,50,100",
                "--pause",
                "300ms",
                "--http",
                "/health",
                "--promote",
                "--timeout",
                "60s",
            ],
        ),
        0,
    );
    assert_eq!(
        stdout,
        "ramped shop through 10% → 50% → 100%\npromoted shop: the canary is now stable\n"
    );
    assert_eq!(route_weights(&c), (100, 0));
    assert_eq!(
        c.get_json(&["deploy", "shop"])["spec"]["template"]["spec"]["containers"][0]["image"],
        "example/shop:1.1"
    );
});

switchyard_e2e::on_both_timings!(
    a_failing_canary_ends_the_ramp_at_weight_zero_with_exit_1,
    |c| {
        // The canary is Ready but its health endpoint says DOWN.
        c.kubectl_ok(&["patch", "deploy", "shop-canary", "--type", "merge", "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/health":"down"}}}}}"#]);
        c.kubectl_ok(&["rollout", "status", "deploy/shop-canary", "--timeout=30s"]);
        c.settle();
        let (_, stderr) = expect(
            &canary(
                &c,
                &[
                    "ramp",
                    "--steps",
                    "10,50,100",
                    "--pause",
                    "1s",
                    "--http",
                    "/health",
                ],
            ),
            1,
        );
        let err = error_line(&stderr);
        assert!(
            err.contains("failed at step 1/3 (10%)") && err.contains("answered 503"),
            "{err}"
        );
        assert!(err.contains("weight set back to 0"), "{err}");
        assert_eq!(route_weights(&c), (100, 0));
        assert!(
            c.object(
                "coordination.k8s.io",
                "leases",
                "default",
                "switchyard-shop"
            )
            .is_none()
        );
    }
);

/// A signal mid-ramp: a bounded stop with the signal's code, the weight at
/// the last step reached (summing to 100), and no Lease left.
#[test]
fn a_signal_mid_ramp_stops_at_a_step_weight_and_releases_the_lease() {
    for (sig, code, word) in switchyard_e2e::SIGNALS {
        let c = TestCluster::demo();
        let run = switchyard_e2e::Running::spawn(c.command(
            crate::BIN,
            &["ramp", "--steps", "10,50,100", "--pause", "30s"],
            &[],
        ));
        c.poll("the first step", |c| route_weights(c).1 == 10);
        assert!(c.lease_held("default", "shop"));
        let (got, stderr) = run.stop(sig, std::time::Duration::from_secs(10));
        assert_eq!(got, Some(code), "SIG{sig}: {stderr}");
        assert_eq!(
            route_weights(&c),
            (90, 10),
            "SIG{sig}: stopped at the step it had reached"
        );
        assert!(!c.lease_held("default", "shop"), "SIG{sig} left the lease");
        let err = crate::error_line(&stderr);
        assert!(err.starts_with(&format!("error: {word}")), "{stderr}");
        // It says where it left the weight and how to go on from there.
        assert!(
            err.contains("the canary weight was left at 10%")
                && err.contains("run the ramp again to continue")
                && err.contains("kubectl canary abort shop"),
            "{err}"
        );
        // Run again: it continues above the weight it left, never lowering it.
        let (stdout, stderr) = expect(
            &canary(&c, &["ramp", "--steps", "10,50,100", "--pause", "10ms"]),
            0,
        );
        assert_eq!(stdout, "ramped shop through 50% → 100%\n");
        assert!(
            stderr.contains("canary is at 10%: continuing at step 2/3 (50%)"),
            "{stderr}"
        );
        assert_eq!(route_weights(&c), (0, 100));
    }
}

/// At or past the last step, a ramp has nothing to do: unchanged, not back
/// to the first step; `--from-start` starts over when asked.
#[test]
fn a_ramp_never_lowers_the_weight_unasked() {
    let c = TestCluster::demo();
    expect(&canary(&c, &["set", "100", "shop"]), 0);
    let (stdout, _) = expect(
        &canary(&c, &["ramp", "--steps", "10,50", "--pause", "10ms"]),
        0,
    );
    assert_eq!(
        stdout,
        "shop is already at 100%: no step left (unchanged)\n"
    );
    assert_eq!(route_weights(&c), (0, 100));
    let (stdout, stderr) = expect(
        &canary(
            &c,
            &[
                "ramp",
                "--steps",
                "10,50",
                "--pause",
                "10ms",
                "--from-start",
            ],
        ),
        0,
    );
    assert_eq!(stdout, "ramped shop through 10% → 50%\n");
    assert!(stderr.contains("step 1/2: canary 100% → 10%"), "{stderr}");
    assert_eq!(route_weights(&c), (50, 50));
}
