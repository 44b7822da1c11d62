use switchyard_e2e::{TestCluster, selected_color};

use crate::{annotate_template, expect, result_file, step};

const BIN: &str = env!("CARGO_BIN_EXE_deploy-switch");

#[test]
fn switch_checks_after_and_records_the_build() {
    let c = TestCluster::demo();
    let (path, file) = result_file(&c, "switch.json");
    let (_, stderr) = expect(
        &step(
            &c,
            BIN,
            &[
                "--app",
                "web",
                "--http",
                "/actuator/health",
                "--result-file",
                &file,
            ],
        ),
        0,
    );
    assert!(
        stderr.contains("deploy-switch: switched web: blue → green"),
        "{stderr}"
    );
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "green");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(doc["result"]["switch"]["to"], "green");
    let hist = c.get_json(&["svc", "web"])["metadata"]["annotations"]["switchyard.dev/history"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        hist.contains("jenkins:deploy-web#7")
            && hist.contains("https://ci.example.com/job/deploy-web/7/"),
        "{hist}"
    );
}

#[test]
fn rollback_on_failure_switches_back_when_health_is_down() {
    let c = TestCluster::demo();
    annotate_template(&c, "web-green", "sandbox.switchyard.dev/health", "down");
    c.kubectl_ok(&["rollout", "status", "deploy/web-green", "--timeout=30s"]);
    c.settle();
    let (path, file) = result_file(&c, "switch.json");
    let (_, stderr) = expect(
        &step(
            &c,
            BIN,
            &[
                "--app",
                "web",
                "--http",
                "/actuator/health",
                "--check-timeout",
                "2s",
                "--rollback-on-failure",
                "--result-file",
                &file,
            ],
        ),
        1,
    );
    assert!(
        stderr.contains("GET /actuator/health answered 503")
            && stderr.contains("rolled back to blue"),
        "{stderr}"
    );
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");
    assert_eq!(
        selected_color(&c.get_json(&["svc", "web-preview"])),
        "green"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        (
            doc["ok"].as_bool(),
            doc["exitCode"].as_i64(),
            doc["result"]["rolledBack"].as_bool()
        ),
        (Some(false), Some(1), Some(true))
    );
}

#[test]
fn without_rollback_a_failed_check_leaves_the_switch_and_exits_1() {
    let c = TestCluster::demo();
    annotate_template(&c, "web-green", "sandbox.switchyard.dev/health", "down");
    c.kubectl_ok(&["rollout", "status", "deploy/web-green", "--timeout=30s"]);
    c.settle();
    let (_, stderr) = expect(
        &step(
            &c,
            BIN,
            &[
                "--app",
                "web",
                "--http",
                "/actuator/health",
                "--check-timeout",
                "1s",
            ],
        ),
        1,
    );
    assert!(stderr.contains("left on green"), "{stderr}");
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "green");
}
