//! `deploy-analysis` against a real Prometheus scraping an exporter the test
//! moves (switchyard_e2e::prometheus), and the demo cluster's canary `shop`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::prometheus::{self, Exporter, Prometheus, Traffic};
use switchyard_e2e::{TestCluster, texts};

use super::{expect, result_file};

const ANALYSIS: &str = env!("CARGO_BIN_EXE_deploy-analysis");

/// The error ratio of the track over 5 s (1 s scrapes: enough samples for rate).
const ERROR_RATIO: &str = r#"sum(rate(http_requests_total{app="{{app}}",track="{{track}}",status=~"5.."}[5s])) / sum(rate(http_requests_total{app="{{app}}",track="{{track}}"}[5s]))"#;

/// The step's one error line (`[time] deploy-analysis: error: ...`).
fn error_line(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: ") || l.contains("deploy-analysis: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "exactly one error line: {stderr}");
    errors[0].to_string()
}

fn write_analysis(c: &TestCluster, name: &str, yaml: &str) -> String {
    let p = c.dir.join(name);
    std::fs::write(&p, yaml).expect("analysis written");
    p.to_str().unwrap().to_string()
}

fn error_rate(extra: &str) -> String {
    format!(
        "args: {{threshold: \"0.05\"}}\nmetrics:\n- name: error-rate\n  provider:\n    prometheus:\n      query: '{ERROR_RATIO}'\n  successCondition: result < {{{{args.threshold}}}}\n{extra}"
    )
}

fn result_doc(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("result file")).expect("JSON")
}

/// Runs deploy-analysis; once a stderr line contains `marker`, calls `then`
/// (the test moves the exporter or stops Prometheus). Returns (code, stdout, stderr).
fn run_until_marker(
    c: &TestCluster,
    args: &[&str],
    env: &[(&str, &str)],
    marker: &str,
    then: impl FnOnce(),
) -> (Option<i32>, String, String) {
    let mut child = c
        .command(ANALYSIS, args, env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("deploy-analysis starts");
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut then = Some(then);
    // Bounded: the step's own --timeout ends it in any case.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(90)) {
        if line.contains(marker)
            && let Some(f) = then.take()
        {
            f();
        }
    }
    let out = child.wait_with_output().expect("it ends");
    let stderr = reader.join().expect("reader");
    assert!(then.is_none(), "never saw {marker:?} in: {stderr}");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

#[test]
fn a_healthy_canary_passes_with_every_measurement_recorded() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    let file = write_analysis(&c, "a.yaml", &error_rate("  interval: 1s\n  count: 3\n"));
    let (result, result_s) = result_file(&c, "analysis.json");
    let (junit, junit_s) = result_file(&c, "analysis.xml");
    let before = c.versions("default");
    let out = c.run_bin(
        ANALYSIS,
        &[
            "--app",
            "shop",
            "--canary",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
            "--result-file",
            &result_s,
            "--junit",
            &junit_s,
            "--timeout",
            "2m",
        ],
        &[],
    );
    let (_, err) = expect(&out, 0);
    assert_eq!(err.matches("analysis error-rate #").count(), 3, "{err}");
    let doc = result_doc(&result);
    let a = &doc["result"]["analysis"];
    assert_eq!(a["phase"], "Successful", "{doc:#}");
    assert_eq!(doc["result"]["track"], "canary");
    let ms = a["metrics"][0]["measurements"].as_array().unwrap();
    assert_eq!(ms.len(), 3);
    for m in ms {
        let q = m["query"].as_str().unwrap();
        assert!(q.contains(r#"app="shop",track="canary""#), "{q}");
        assert_eq!(m["phase"], "Successful", "{m}");
        // A vector of one sample, shown as Argo shows it.
        assert_eq!(m["value"], "[0]", "{m}");
        assert!(m["startedAt"].as_str().unwrap().ends_with('Z'));
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("JUnit XML");
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .expect("a testcase");
    assert_eq!(case.attribute("name"), Some("error-rate"));
    assert!(!case.children().any(|n| n.has_tag_name("failure")), "{xml}");
    assert_eq!(c.versions("default"), before, "an analysis changes nothing");
}

#[test]
fn a_rising_error_rate_fails_naming_metric_value_and_condition() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    let file = write_analysis(&c, "a.yaml", &error_rate("  interval: 1s\n  count: 60\n"));
    let (result, result_s) = result_file(&c, "analysis.json");
    let (junit, junit_s) = result_file(&c, "analysis.xml");
    let (code, _, err) = run_until_marker(
        &c,
        &[
            "--app",
            "shop",
            "--canary",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
            "--result-file",
            &result_s,
            "--junit",
            &junit_s,
            "--timeout",
            "2m",
        ],
        &[],
        "→ Successful",
        || p.exporter.set(Traffic::Errors(30)),
    );
    assert_eq!(code, Some(1), "{err}");
    let line = error_line(&err);
    assert!(line.contains("metric error-rate failed"), "{line}");
    assert!(
        line.contains("successCondition \"result < 0.05\" is false"),
        "{line}"
    );
    assert!(line.contains("1 failed > failureLimit 0"), "{line}");
    let doc = result_doc(&result);
    let m = &doc["result"]["analysis"]["metrics"][0];
    assert_eq!(m["phase"], "Failed");
    let ms = m["measurements"].as_array().unwrap();
    assert_eq!(ms[0]["phase"], "Successful");
    let last = ms.last().unwrap();
    assert_eq!(last["phase"], "Failed");
    let shown = last["value"].as_str().unwrap();
    let v: f64 = shown.trim_matches(['[', ']']).parse().unwrap();
    assert!((0.05..=0.3 + 1e-9).contains(&v), "{v}");
    assert!(
        line.contains(&format!("value {}", last["value"].as_str().unwrap())),
        "{line}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure type=\"Failed\""), "{xml}");
}

#[test]
fn a_silent_canary_is_inconclusive_past_its_limit() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    p.exporter.set(Traffic::Silent);
    let ratio = ERROR_RATIO
        .replace("{{app}}", "shop")
        .replace("{{track}}", "canary");
    p.wait_until(&ratio, "the silent canary's ratio to be NaN", f64::is_nan);
    let file = write_analysis(
        &c,
        "a.yaml",
        &error_rate("  interval: 200ms\n  count: 5\n  inconclusiveLimit: 1\n"),
    );
    let (result, result_s) = result_file(&c, "analysis.json");
    let out = c.run_bin(
        ANALYSIS,
        &[
            "--app",
            "shop",
            "--canary",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
            "--result-file",
            &result_s,
            "--timeout",
            "1m",
        ],
        &[],
    );
    let (_, err) = expect(&out, 1);
    let line = error_line(&err);
    assert!(line.contains("metric error-rate inconclusive"), "{line}");
    assert!(
        line.contains("NaN") && line.contains("2 inconclusive > inconclusiveLimit 1"),
        "{line}"
    );
    let doc = result_doc(&result);
    assert_eq!(doc["result"]["analysis"]["phase"], "Inconclusive");
    assert_eq!(
        doc["result"]["analysis"]["metrics"][0]["measurements"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn prometheus_stopped_mid_analysis_is_exit_5_after_the_error_limit() {
    let c = TestCluster::demo();
    let mut p = Prometheus::start();
    let url = p.url();
    let file = write_analysis(
        &c,
        "a.yaml",
        &error_rate("  interval: 200ms\n  count: 200\n  consecutiveErrorLimit: 2\n"),
    );
    let (result, result_s) = result_file(&c, "analysis.json");
    let (code, _, err) = run_until_marker(
        &c,
        &[
            "--app",
            "shop",
            "--canary",
            "--analysis",
            &file,
            "--prometheus",
            &url,
            "--result-file",
            &result_s,
            "--timeout",
            "2m",
        ],
        &[],
        "→ Successful",
        || p.stop(),
    );
    assert_eq!(code, Some(5), "{err}");
    let line = error_line(&err);
    assert!(line.contains("cannot be reached"), "{line}");
    assert!(
        line.contains("3 consecutive errors > consecutiveErrorLimit 2"),
        "{line}"
    );
    let doc = result_doc(&result);
    let ms = doc["result"]["analysis"]["metrics"][0]["measurements"]
        .as_array()
        .unwrap()
        .clone();
    let errors = ms
        .iter()
        .rev()
        .take_while(|m| m["phase"] == "Error")
        .count();
    assert_eq!(errors, 3, "{ms:#?}");
    assert_eq!(ms.last().unwrap()["fault"], "unreachable");
}

#[test]
fn a_query_prometheus_rejects_fails_the_run_naming_the_error() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    let file = write_analysis(
        &c,
        "a.yaml",
        "metrics:\n- name: broken\n  provider: {prometheus: {query: 'sum(rate(http_requests_total[5s])'}}\n  successCondition: result < 1\n",
    );
    let out = c.run_bin(
        ANALYSIS,
        &[
            "--app",
            "shop",
            "--canary",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
            "--timeout",
            "1m",
        ],
        &[],
    );
    let (_, err) = expect(&out, 1);
    let line = error_line(&err);
    assert!(line.contains("metric broken error"), "{line}");
    assert!(
        line.contains("rejected the query")
            && line.contains("bad_data")
            && line.contains("parse error"),
        "{line}"
    );
    assert!(line.contains("not retried"), "{line}");
}

#[test]
fn credentials_never_show_in_any_output() {
    let c = TestCluster::demo();
    let p = Prometheus::start_with_basic_auth();
    let file = write_analysis(&c, "a.yaml", &error_rate("  consecutiveErrorLimit: 0\n"));
    let (result, result_s) = result_file(&c, "analysis.json");
    let (junit, junit_s) = result_file(&c, "analysis.xml");
    let basic = format!("{}:{}", prometheus::BASIC_USER, prometheus::BASIC_PASSWORD);
    let token = "tok-5ecret-do-not-print";
    let outputs = |out: &std::process::Output| {
        let (o, e) = texts(out);
        let files = [&result, &junit]
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        format!("{o}\n{e}\n{files}")
    };
    let common = [
        "--app",
        "shop",
        "--canary",
        "--analysis",
        &file,
        "--prometheus",
        &p.url(),
        "-o",
        "json",
        "--result-file",
        &result_s,
        "--junit",
        &junit_s,
    ];
    // The right credentials pass.
    let mut args = common.to_vec();
    args.extend(["--prometheus-basic-auth-env", "PROM_BASIC"]);
    let out = c.run_bin(ANALYSIS, &args, &[("PROM_BASIC", &basic)]);
    let all = outputs(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(!all.contains(prometheus::BASIC_PASSWORD), "{all}");
    // A token Prometheus refuses: exit 5, and the token is nowhere.
    let mut args = common.to_vec();
    args.extend(["--prometheus-token-env", "PROM_TOKEN"]);
    let out = c.run_bin(
        ANALYSIS,
        &args,
        &[("PROM_TOKEN", token), ("PROM_BASIC", &basic)],
    );
    let all = outputs(&out);
    assert_eq!(out.status.code(), Some(5), "{all}");
    assert!(all.contains("HTTP 401"), "{all}");
    assert!(!all.contains(token) && !all.contains("5ecret"), "{all}");
    // No Prometheus auth at all: refused too.
    let out = c.run_bin(ANALYSIS, &common, &[]);
    assert_eq!(out.status.code(), Some(5), "{}", outputs(&out));
    // A variable that is not set: exit 2 before anything is asked.
    let mut args = common.to_vec();
    args.extend(["--prometheus-token-env", "PROM_TOKEN_UNSET"]);
    let out = c.run_bin(ANALYSIS, &args, &[]);
    let (_, err) = expect(&out, 2);
    assert!(error_line(&err).contains("PROM_TOKEN_UNSET"), "{err}");
}

#[test]
fn the_web_provider_judges_a_json_answer() {
    let c = TestCluster::demo();
    let exporter = Exporter::start();
    let yaml = format!(
        "metrics:\n- name: smoke\n  provider: {{web: {{url: '{}', jsonPath: '{{$.status}}'}}}}\n  successCondition: result == \"UP\"\n  consecutiveErrorLimit: 0\n",
        exporter.url("/health?app={{app}}")
    );
    let file = write_analysis(&c, "web.yaml", &yaml);
    let (result, result_s) = result_file(&c, "analysis.json");
    let args = [
        "--app",
        "shop",
        "--stable",
        "--analysis",
        &file,
        "--result-file",
        &result_s,
        "--timeout",
        "1m",
    ];
    let out = c.run_bin(ANALYSIS, &args, &[]);
    expect(&out, 0);
    let doc = result_doc(&result);
    let m = &doc["result"]["analysis"]["metrics"][0]["measurements"][0];
    assert_eq!(m["value"], "UP");
    assert!(
        m["query"].as_str().unwrap().ends_with("/health?app=shop"),
        "{m}"
    );
    exporter.set_health(false);
    let out = c.run_bin(ANALYSIS, &args, &[]);
    let (_, err) = expect(&out, 1);
    assert!(error_line(&err).contains("received HTTP 503"), "{err}");
}

#[test]
fn prometheus_service_goes_through_the_api_servers_service_proxy() {
    // kube-sandbox's service proxy answers as an app's health endpoint does
    // (sandbox/src/api/proxy.rs: {"status":"UP","path":...}), not as the
    // backend would: what this shows is the request's way, through the API
    // server to service shop:80 at /api/v1/query, and the answer read as not
    // Prometheus'. A real backend behind the proxy is not modelled.
    let c = TestCluster::demo();
    let file = write_analysis(
        &c,
        "a.yaml",
        "metrics:\n- name: up\n  provider: {prometheus: {query: 'up'}}\n  consecutiveErrorLimit: 0\n",
    );
    let args = |svc: &'static str| {
        vec![
            "--app",
            "shop",
            "--canary",
            "--analysis",
            file.as_str(),
            "--prometheus-service",
            svc,
            "--timeout",
            "1m",
        ]
    };
    let out = c.run_bin(ANALYSIS, &args("default/shop:80"), &[]);
    let (_, err) = expect(&out, 1);
    let line = error_line(&err);
    assert!(
        line.contains("service default/shop:80 (through the API server)"),
        "{line}"
    );
    assert!(line.contains(r#""path":"/api/v1/query""#), "{line}");
    // No such Service: the API server's own 404, Prometheus unreachable.
    let out = c.run_bin(ANALYSIS, &args("default/prometheus:9090"), &[]);
    let (_, err) = expect(&out, 5);
    assert!(error_line(&err).contains("could not proxy"), "{err}");
}

#[test]
fn a_bad_analysis_file_is_exit_2_before_the_cluster_is_asked() {
    let c = TestCluster::demo();
    let before = c.versions("default");
    for (yaml, why) in [
        (
            "metrics:\n- name: m\n  provider: {prometheus: {query: up}}\n  sucessCondition: result < 1\n",
            "unknown or unsupported field \"sucessCondition\"",
        ),
        (
            "metrics:\n- name: m\n  provider: {prometheus: {query: up}}\n  count: 3\n",
            "interval must be specified when count > 1",
        ),
        (
            "metrics:\n- name: m\n  provider: {prometheus: {query: '{{appname}}'}}\n",
            "unknown variable {{appname}}",
        ),
    ] {
        let file = write_analysis(&c, "bad.yaml", yaml);
        let out = c.run_bin(
            ANALYSIS,
            &[
                "--app",
                "shop",
                "--canary",
                "--analysis",
                &file,
                "--prometheus",
                "http://127.0.0.1:9",
            ],
            &[],
        );
        let (_, err) = expect(&out, 2);
        assert!(error_line(&err).contains(why), "{yaml}: {err}");
    }
    // An --arg the file does not declare.
    let file = write_analysis(&c, "ok.yaml", &error_rate(""));
    let out = c.run_bin(
        ANALYSIS,
        &[
            "--app",
            "shop",
            "--canary",
            "--analysis",
            &file,
            "--prometheus",
            "http://127.0.0.1:9",
            "--arg",
            "treshold=1",
        ],
        &[],
    );
    let (_, err) = expect(&out, 2);
    assert!(
        error_line(&err).contains("declares no argument \"treshold\""),
        "{err}"
    );
    // No Prometheus named anywhere.
    let out = c.run_bin(
        ANALYSIS,
        &["--app", "shop", "--canary", "--analysis", &file],
        &[],
    );
    let (_, err) = expect(&out, 2);
    assert!(error_line(&err).contains("no Prometheus to ask"), "{err}");
    assert_eq!(c.versions("default"), before);
}
