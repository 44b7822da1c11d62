//! SIGTERM and SIGINT while an operation holds the app: the process stops
//! within a bound with 143 / 130, the Lease is gone, and Service and preview
//! still select different colors. (SIGTERM during `deploy --wait` is in
//! deploy.rs, with the lease holder checks.)

use std::time::Duration;

use switchyard_e2e::{Running, SIGNALS, TestCluster};

use crate::BIN;

/// How long a signalled process may take to release its lease and exit.
const STOP_WITHIN: Duration = Duration::from_secs(10);

fn stopped(c: &TestCluster, run: Running, sig: &str, code: i32, word: &str) {
    let (got, stderr) = run.stop(sig, STOP_WITHIN);
    assert_eq!(got, Some(code), "SIG{sig}: {stderr}");
    let err = crate::error_line(&stderr);
    assert!(err.starts_with(&format!("error: {word}")), "{err}");
    assert!(!c.lease_held("default", "web"), "SIG{sig} left the lease");
}

#[test]
fn a_signal_during_switch_verification_leaves_the_switch_done() {
    for (sig, code, word) in SIGNALS {
        let c = TestCluster::demo();
        c.stall_endpointslice_lists();
        let mut run = Running::spawn(c.command(BIN, &["switch", "web"], &[]));
        run.wait_for_stderr("verifying EndpointSlices");
        assert!(c.lease_held("default", "web"));
        stopped(&c, run, sig, code, word);
        // Both writes happened before verification: switched, consistent.
        assert_eq!(
            c.consistent_colors("default", "web"),
            ("green".into(), "blue".into()),
            "SIG{sig}"
        );
    }
}

#[test]
fn a_signal_between_the_two_writes_lets_the_preview_write_finish() {
    for (sig, code, word) in SIGNALS {
        let c = TestCluster::demo();
        // The preview write is slow: the signal comes after the Service write.
        c.cluster().faults.add(
            kube_sandbox::faults::Fault::parse(
                "latency=2s,verb=patch,resource=services,name=web-preview",
            )
            .unwrap(),
        );
        let mut run = Running::spawn(c.command(BIN, &["switch", "web"], &[]));
        run.wait_for_stderr("Service web: blue → green");
        stopped(&c, run, sig, code, word);
        assert_eq!(
            c.consistent_colors("default", "web"),
            ("green".into(), "blue".into()),
            "SIG{sig}"
        );
    }
}

#[test]
fn sigint_during_deploy_wait_releases_the_lease() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["patch", "deploy", "web-green", "--type", "merge", "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/ready-after":"10m"}}}}}"#]);
    let mut run = Running::spawn(c.command(
        BIN,
        &[
            "deploy",
            "web",
            "--image",
            "example/web:2.0",
            "--wait",
            "--timeout",
            "60s",
        ],
        &[],
    ));
    c.poll("the deploy's lease", |c| c.lease_held("default", "web"));
    run.wait_for_stderr("Deployment web-green: web=example/web:2.0");
    let (sig, code, word) = SIGNALS[1];
    stopped(&c, run, sig, code, word);
    // The new image is written, traffic untouched.
    assert_eq!(
        c.consistent_colors("default", "web"),
        ("blue".into(), "green".into())
    );
    let green = c.get_json(&["deploy", "web-green"]);
    assert_eq!(
        green["spec"]["template"]["spec"]["containers"][0]["image"],
        "example/web:2.0"
    );
}
