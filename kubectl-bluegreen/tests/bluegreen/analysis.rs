//! `kubectl bluegreen switch --analysis / --post-analysis` against a real
//! Prometheus (switchyard_e2e::prometheus): the exporter's `web` colors,
//! green moved by the test.

use switchyard_e2e::prometheus::{Prometheus, Traffic};
use switchyard_e2e::{TestCluster, selected_color};

use super::{bluegreen, error_line, expect};

const FILE: &str = r#"metrics:
- name: error-rate
  provider:
    prometheus:
      query: 'sum(rate(http_requests_total{app="{{app}}",track="{{color}}",status=~"5.."}[5s])) / sum(rate(http_requests_total{app="{{app}}",track="{{color}}"}[5s]))'
  successCondition: result < 0.05
  interval: 500ms
  count: 2
"#;

fn write(c: &TestCluster) -> String {
    let p = c.dir.join("analysis.yaml");
    std::fs::write(&p, FILE).unwrap();
    p.to_str().unwrap().to_string()
}

fn failing_green(p: &Prometheus) {
    p.exporter.set(Traffic::Errors(30));
    p.wait_until(
        r#"sum(rate(http_requests_total{app="web",track="green",status=~"5.."}[5s])) / sum(rate(http_requests_total{app="web",track="green"}[5s]))"#,
        "green's error ratio above 5 %",
        |v| v > 0.05,
    );
}

#[test]
fn a_healthy_green_passes_both_analyses_and_serves() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    let file = write(&c);
    let out = bluegreen(
        &c,
        &[
            "switch",
            "web",
            "--analysis",
            &file,
            "--post-analysis",
            &file,
            "--prometheus",
            &p.url(),
        ],
    );
    let (_, err) = expect(&out, 0);
    assert!(err.contains("pre-switch analysis of web green"), "{err}");
    assert!(err.contains("post-switch analysis of web green"), "{err}");
    assert_eq!(selected_color(&c.get_json(&["service", "web"])), "green");
}

#[test]
fn a_failing_pre_switch_analysis_changes_nothing() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    failing_green(&p);
    let file = write(&c);
    let before = c.versions("default");
    let out = bluegreen(
        &c,
        &[
            "switch",
            "web",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
        ],
    );
    let (_, err) = expect(&out, 1);
    let line = error_line(&err);
    assert!(
        line.contains(
            "web was not switched: pre-switch analysis of web green: metric error-rate failed"
        ),
        "{line}"
    );
    assert_eq!(c.versions("default"), before);
}

#[test]
fn a_failing_post_switch_analysis_switches_back_and_the_history_says_why() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    failing_green(&p);
    let file = write(&c);
    let out = bluegreen(
        &c,
        &[
            "switch",
            "web",
            "--post-analysis",
            &file,
            "--prometheus",
            &p.url(),
        ],
    );
    let (_, err) = expect(&out, 1);
    let line = error_line(&err);
    assert!(
        line.contains("post-switch analysis of web green: metric error-rate failed"),
        "{line}"
    );
    assert!(line.contains("switched back to blue"), "{line}");
    let svc = c.get_json(&["service", "web"]);
    assert_eq!(selected_color(&svc), "blue");
    let history = svc["metadata"]["annotations"]["switchyard.dev/history"]
        .as_str()
        .unwrap_or_default();
    assert!(
        history.contains("switched back: post-switch analysis of web green"),
        "{history}"
    );
}
