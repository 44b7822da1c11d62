//! SIGTERM and SIGINT to the steps while they wait or verify: a bounded stop
//! with 143 / 130, the result document saying so, no Lease left, and the app
//! in its last consistent state.

use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::{Running, SIGNALS, TestCluster};

use crate::{annotate_template, result_file};

const HEALTH_WAIT: &str = env!("CARGO_BIN_EXE_deploy-health-wait");
const SWITCH: &str = env!("CARGO_BIN_EXE_deploy-switch");
const ROLLOUT: &str = env!("CARGO_BIN_EXE_deploy-rollout");

/// How long a signalled step may take to release its lease and exit.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// Starts `bin` with a result file, waits for `reached` on its log, signals
/// it, and checks the stop: exit code, log, result document, no Lease.
/// Returns the result document's error message.
fn interrupt(
    c: &TestCluster,
    bin: &str,
    args: &[&str],
    reached: &str,
    sig: (&str, i32, &str),
) -> String {
    let (sig, code, word) = sig;
    let (path, file) = result_file(c, &format!("result-{sig}.json"));
    let mut all = args.to_vec();
    all.extend(["--result-file", &file]);
    let mut run = Running::spawn(c.command(
        bin,
        &all,
        &[("JOB_NAME", "deploy-web"), ("BUILD_NUMBER", "9")],
    ));
    run.wait_for_stderr(reached);
    let (got, stderr) = run.stop(sig, STOP_WITHIN);
    assert_eq!(got, Some(code), "SIG{sig}: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(&format!("error: {word}")), "{stderr}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(doc["exitCode"], code);
    assert_eq!(doc["ok"], false);
    assert!(!c.lease_held("default", "web"), "SIG{sig} left the lease");
    doc["error"]["message"].as_str().unwrap().to_string()
}

#[test]
fn a_signal_while_waiting_for_health_stops_the_wait() {
    for sig in SIGNALS {
        let c = TestCluster::demo();
        annotate_template(&c, "web-green", "sandbox.switchyard.dev/ready-after", "10m");
        let before = c.versions("default");
        let generation = |c: &TestCluster| {
            c.object("apps", "deployments", "default", "web-green")
                .unwrap()["metadata"]["generation"]
                .clone()
        };
        let spec_before = generation(&c);
        let (junit, junit_s) = result_file(&c, &format!("health-{}.xml", sig.0));
        let message = interrupt(
            &c,
            HEALTH_WAIT,
            &[
                "--app",
                "web",
                "--color",
                "green",
                "--timeout",
                "5m",
                "--junit",
                &junit_s,
            ],
            "waiting for Deployment web-green",
            sig,
        );
        // It held no lease, and does not claim to have released one.
        assert_eq!(message, sig.2);
        // The JUnit report is written too: the check that was running failed.
        let xml = std::fs::read_to_string(&junit).expect("the JUnit report is written on a signal");
        let parsed = roxmltree::Document::parse(&xml).unwrap();
        let suite = parsed.root_element();
        assert_eq!(
            (
                suite.attribute("name"),
                suite.attribute("tests"),
                suite.attribute("failures")
            ),
            (Some("deploy-health-wait web-green"), Some("1"), Some("1")),
            "{xml}"
        );
        let failure = parsed
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .expect("a failure");
        assert_eq!(failure.attribute("type"), Some("Interrupted"), "{xml}");
        assert_eq!(
            failure.attribute("message"),
            Some(format!("stopped by SIG{} before the check finished", sig.0).as_str()),
            "{xml}"
        );
        assert_eq!(
            failure.parent().and_then(|t| t.attribute("name")),
            Some("rollout web-green")
        );
        // A wait writes nothing (the controllers still update status).
        let after = c.versions("default");
        for key in ["services/web", "services/web-preview"] {
            assert_eq!(after.get(key), before.get(key), "{key}");
        }
        assert_eq!(generation(&c), spec_before);
        c.consistent_colors("default", "web");
    }
}

#[test]
fn a_signal_during_switch_verification_leaves_the_switch_done() {
    for sig in SIGNALS {
        let c = TestCluster::demo();
        c.stall_endpointslice_lists();
        let message = interrupt(
            &c,
            SWITCH,
            &["--app", "web", "--to", "green"],
            "verifying EndpointSlices",
            sig,
        );
        assert_eq!(message, format!("{}; the app's lock was released", sig.2));
        assert_eq!(
            c.consistent_colors("default", "web"),
            ("green".into(), "blue".into())
        );
    }
}

/// A signal while deploy-rollout follows its rollout: the write is done (the
/// new image stays, the controller rolls it on), the wait stops, and the
/// workload's Lease is released.
#[test]
fn a_signal_while_following_a_rollout_stops_it_and_releases_the_lease() {
    for sig in SIGNALS {
        let c = TestCluster::demo();
        annotate_template(&c, "web-green", "sandbox.switchyard.dev/ready-after", "10m");
        let message = interrupt(
            &c,
            ROLLOUT,
            &[
                "--deployment",
                "web-green",
                "--image",
                "example/web:9",
                "--undo-on-failure",
                "--timeout",
                "5m",
            ],
            "deployment/web-green: web example/web:1.1 → example/web:9",
            sig,
        );
        assert!(!message.is_empty());
        assert!(
            !c.lease_held("default", "web-green"),
            "SIG{} left the lease",
            sig.0
        );
        let d = c
            .object("apps", "deployments", "default", "web-green")
            .unwrap();
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            "example/web:9"
        );
    }
}
