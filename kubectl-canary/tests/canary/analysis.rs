//! `kubectl canary analysis lint` against a real Prometheus
//! (switchyard_e2e::prometheus) and the demo canary `shop`: it measures once
//! and changes nothing.

use switchyard_e2e::prometheus::Prometheus;
use switchyard_e2e::{TestCluster, error_line, expect};

use super::canary;

const FILE: &str = r#"args: {threshold: "0.05"}
metrics:
- name: error-rate
  provider:
    prometheus:
      query: 'sum(rate(http_requests_total{app="{{app}}",track="{{track}}",status=~"5.."}[5s])) / sum(rate(http_requests_total{app="{{app}}",track="{{track}}"}[5s]))'
  successCondition: result < {{args.threshold}}
  interval: 10s
  count: 3
- name: no-such-track
  provider: {prometheus: {query: 'sum(rate(http_requests_total{track="nope"}[5s]))'}}
  successCondition: result[0] < 1
"#;

fn write(c: &TestCluster, yaml: &str) -> String {
    let p = c.dir.join("analysis.yaml");
    std::fs::write(&p, yaml).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn lint_measures_each_metric_once_and_changes_nothing() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    let file = write(&c, FILE);
    let before = c.versions("default");
    let out = canary(
        &c,
        &["analysis", "lint", &file, "shop", "--prometheus", &p.url()],
    );
    let (stdout, _) = expect(&out, 0);
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}: {stdout}"))
            .to_string()
    };
    assert!(row("error-rate").contains("Successful"), "{stdout}");
    let empty = row("no-such-track");
    assert!(
        empty.contains("Inconclusive") && empty.contains("empty vector"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing changed"), "{stdout}");
    // -o json: the measurements, the query after substitution.
    let out = canary(
        &c,
        &[
            "analysis",
            "lint",
            &file,
            "shop",
            "--prometheus",
            &p.url(),
            "--arg",
            "threshold=0.01",
            "-o",
            "json",
        ],
    );
    let (stdout, _) = expect(&out, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["track"], "canary");
    let q = doc["measurements"][0]["query"].as_str().unwrap();
    assert!(q.contains(r#"app="shop",track="canary""#), "{q}");
    assert_eq!(
        doc["measurements"][0]["message"],
        "successCondition \"result < 0.01\" is true"
    );
    // The stable track.
    let out = canary(
        &c,
        &[
            "analysis",
            "lint",
            &file,
            "shop",
            "--stable",
            "--prometheus",
            &p.url(),
            "-o",
            "json",
        ],
    );
    let (stdout, _) = expect(&out, 0);
    assert!(stdout.contains(r#"track=\"stable\""#), "{stdout}");
    assert_eq!(c.versions("default"), before);
}

#[test]
fn lint_fails_with_exit_2_on_a_query_prometheus_rejects() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    let file = write(
        &c,
        "metrics:\n- name: broken\n  provider: {prometheus: {query: 'sum(rate(http_requests_total[5s])'}}\n",
    );
    let before = c.versions("default");
    let out = canary(
        &c,
        &["analysis", "lint", &file, "shop", "--prometheus", &p.url()],
    );
    let (_, err) = expect(&out, 2);
    let line = error_line(&err);
    assert!(
        line.contains("metric broken")
            && line.contains("rejected the query")
            && line.contains("parse error"),
        "{line}"
    );
    assert!(err.contains("hint: fix the query"), "{err}");
    // Prometheus down: exit 5.
    drop(p);
    let out = canary(
        &c,
        &[
            "analysis",
            "lint",
            &file,
            "shop",
            "--prometheus",
            "http://127.0.0.1:9",
        ],
    );
    let (_, err) = expect(&out, 5);
    assert!(error_line(&err).contains("cannot be reached"), "{err}");
    assert_eq!(c.versions("default"), before);
}

/// The error ratio of the canary, measured every `interval`, for as long as
/// the ramp lasts (no count: Argo's background analysis).
fn ramp_analysis(interval: &str) -> String {
    format!(
        "metrics:\n- name: error-rate\n  provider:\n    prometheus:\n      query: 'sum(rate(http_requests_total{{app=\"{{{{app}}}}\",track=\"{{{{track}}}}\",status=~\"5..\"}}[5s])) / sum(rate(http_requests_total{{app=\"{{{{app}}}}\",track=\"{{{{track}}}}\"}}[5s]))'\n  successCondition: result < 0.05\n  interval: {interval}\n"
    )
}

#[test]
fn a_ramp_passes_its_background_analysis() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    let file = write(&c, &ramp_analysis("500ms"));
    let out = canary(
        &c,
        &[
            "ramp",
            "shop",
            "--steps",
            "50,100",
            "--pause",
            "2s",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
            "-o",
            "json",
        ],
    );
    let (stdout, err) = expect(&out, 0);
    let n = err.matches("analysis error-rate #").count();
    assert!(n >= 2, "{err}");
    assert!(!err.contains("Failed"), "{err}");
    assert_eq!(super::route_weights(&c), (0, 100));
    // -o json: the ramp, and every measurement of its background analysis.
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["analysis"]["phase"], "Successful");
    let ms = doc["analysis"]["metrics"][0]["measurements"]
        .as_array()
        .unwrap();
    assert_eq!(ms.len(), n, "{doc:#}");
}

#[test]
fn an_error_rate_rising_mid_pause_sets_the_weight_back_to_0() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    let file = write(&c, &ramp_analysis("1s"));
    let cmd = c.command(
        super::BIN,
        &[
            "ramp",
            "shop",
            "--steps",
            "20,60",
            "--pause",
            "5m",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
        ],
        &[],
    );
    let (code, _, err) = switchyard_e2e::prometheus::run_until_line(cmd, "→ Successful", || {
        p.exporter
            .set(switchyard_e2e::prometheus::Traffic::Errors(30))
    });
    assert_eq!(code, Some(1), "{err}");
    let line = error_line(&err);
    for part in [
        "ramp of shop failed at step 1/2 (20%)",
        "analysis metric error-rate failed: value [",
        "successCondition \"result < 0.05\" is false",
        "weight set back to 0",
    ] {
        assert!(line.contains(part), "{part:?} not in {line}");
    }
    assert_eq!(super::route_weights(&c), (100, 0));
}

#[test]
fn a_ramp_with_a_bad_analysis_file_changes_nothing() {
    let c = TestCluster::demo();
    let file = write(
        &c,
        "metrics:\n- name: m\n  provider: {prometheus: {query: up}}\n  count: 2\n",
    );
    let before = c.versions("default");
    let out = canary(
        &c,
        &[
            "ramp",
            "shop",
            "--steps",
            "50,100",
            "--pause",
            "1s",
            "--analysis",
            &file,
            "--prometheus",
            "http://127.0.0.1:9",
        ],
    );
    let (_, err) = expect(&out, 2);
    assert!(
        error_line(&err).contains("interval must be specified"),
        "{err}"
    );
    assert_eq!(c.versions("default"), before);
}
