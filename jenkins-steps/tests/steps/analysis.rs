//! `deploy-analysis` against a real Prometheus scraping an exporter the test
//! moves (switchyard_e2e::prometheus), and the demo cluster's canary `shop`.

use serde_json::Value;
use switchyard_e2e::prometheus::{self, Exporter, Prometheus, Traffic};
use switchyard_e2e::{TestCluster, texts};

use super::{expect, result_file};

const ANALYSIS: &str = env!("CARGO_BIN_EXE_deploy-analysis");

/// The error ratio of the track over 5 s (1 s scrapes: enough samples for rate).
const ERROR_RATIO: &str = r#"sum(rate(http_requests_total{app="{{app}}",track="{{track}}",status=~"5.."}[5s])) / sum(rate(http_requests_total{app="{{app}}",track="{{track}}"}[5s]))"#;

/// The step's one error line (`[time] deploy-...: error: ...`).
fn error_line(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.starts_with("error: ")
                || (l.starts_with('[') && l.contains("] deploy-") && l.contains(": error: "))
        })
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

/// deploy-analysis with `args`; `then` runs once a stderr line has `marker`.
fn run_until_marker(
    c: &TestCluster,
    args: &[&str],
    env: &[(&str, &str)],
    marker: &str,
    then: impl FnOnce(),
) -> (Option<i32>, String, String) {
    prometheus::run_until_line(c.command(ANALYSIS, args, env), marker, then)
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
    // Prometheus in a namespace the app Role does not cover: refused (403,
    // exit 5) until rbac/prometheus-proxy.yaml is applied there; then the
    // proxy is reached (no endpoints behind this Service: 503, exit 5).
    c.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: monitoring}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: prometheus, namespace: monitoring}\nspec:\n  selector: {app: prometheus}\n  ports: [{name: web, port: 9090}]\n");
    c.revoke("monitoring", "", "services/proxy", "get");
    let out = c.run_bin(ANALYSIS, &args("monitoring/prometheus:9090"), &[]);
    let (_, err) = expect(&out, 5);
    let line = error_line(&err);
    assert!(
        line.contains("refused the service proxy request")
            && line.contains("rbac/prometheus-proxy.yaml"),
        "{line}"
    );
    let grant = switchyard_e2e::rbac_manifest("prometheus-proxy.yaml").replace(
        "  name: switchyard-prometheus\n  labels:",
        "  name: switchyard-prometheus\n  namespace: monitoring\n  labels:",
    );
    c.apply(&grant);
    let out = c.run_bin(ANALYSIS, &args("monitoring/prometheus:9090"), &[]);
    let (_, err) = expect(&out, 5);
    let line = error_line(&err);
    assert!(
        line.contains("could not proxy") && line.contains("no endpoints"),
        "{line}"
    );
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

const HEALTH_WAIT: &str = env!("CARGO_BIN_EXE_deploy-health-wait");
const SWITCH: &str = env!("CARGO_BIN_EXE_deploy-switch");
const WEIGHT: &str = env!("CARGO_BIN_EXE_deploy-weight");

#[test]
fn deploy_health_wait_judges_the_healthy_target_by_its_analysis_too() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    let file = write_analysis(&c, "a.yaml", &error_rate("  interval: 500ms\n  count: 2\n"));
    let (junit, junit_s) = result_file(&c, "health.xml");
    let (result, result_s) = result_file(&c, "health.json");
    let out = c.run_bin(
        HEALTH_WAIT,
        &[
            "--app",
            "shop",
            "--canary",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
            "--junit",
            &junit_s,
            "--result-file",
            &result_s,
            "--timeout",
            "1m",
        ],
        &[],
    );
    expect(&out, 0);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("name=\"rollout shop-canary\"") && xml.contains("name=\"error-rate\""),
        "{xml}"
    );
    assert_eq!(
        result_doc(&result)["result"]["analysis"]["phase"],
        "Successful"
    );
    // The same on the failing canary: healthy pods, failing metrics.
    p.exporter.set(Traffic::Errors(30));
    let ratio = ERROR_RATIO
        .replace("{{app}}", "shop")
        .replace("{{track}}", "canary");
    p.wait_until(&ratio, "the canary's error ratio above 5 %", |v| v > 0.05);
    let out = c.run_bin(
        HEALTH_WAIT,
        &[
            "--app",
            "shop",
            "--canary",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
            "--junit",
            &junit_s,
            "--timeout",
            "1m",
        ],
        &[],
    );
    let (_, err) = expect(&out, 1);
    assert!(
        error_line(&err)
            .contains("shop-canary is healthy, but its analysis failed: metric error-rate failed"),
        "{err}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure type=\"Failed\""), "{xml}");
}

#[test]
fn deploy_switch_post_analysis_switches_back() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    p.exporter.set(Traffic::Errors(30));
    let ratio = ERROR_RATIO
        .replace("{{app}}", "web")
        .replace("{{track}}", "green");
    p.wait_until(&ratio, "green's error ratio above 5 %", |v| v > 0.05);
    let file = write_analysis(&c, "a.yaml", &error_rate(""));
    let (result, result_s) = result_file(&c, "switch.json");
    let out = c.run_bin(
        SWITCH,
        &[
            "--app",
            "web",
            "--post-analysis",
            &file,
            "--prometheus",
            &p.url(),
            "--timeout",
            "1m",
            "--result-file",
            &result_s,
        ],
        &[],
    );
    let (_, err) = expect(&out, 1);
    let line = error_line(&err);
    assert!(
        line.contains("post-switch analysis of web green")
            && line.contains("switched back to blue"),
        "{line}"
    );
    let svc = c.get_json(&["service", "web"]);
    assert_eq!(switchyard_e2e::selected_color(&svc), "blue");
    // The post-switch analysis, every measurement, in the result.
    let doc = result_doc(&result);
    let judged = &doc["result"]["analyses"][0];
    assert_eq!(
        judged["what"], "post-switch analysis of web green",
        "{doc:#}"
    );
    assert_eq!(judged["report"]["phase"], "Failed");
    let m = &judged["report"]["metrics"][0]["measurements"][0];
    assert!(
        m["query"]
            .as_str()
            .unwrap()
            .contains(r#"app="web",track="green""#),
        "{m}"
    );
}

#[test]
fn deploy_weight_takes_an_analysis_for_a_ramp_only() {
    let c = TestCluster::demo();
    let p = Prometheus::start();
    let file = write_analysis(&c, "a.yaml", &error_rate("  interval: 500ms\n"));
    let before = c.versions("default");
    let out = c.run_bin(
        WEIGHT,
        &[
            "--app",
            "shop",
            "--weight",
            "10",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
        ],
        &[],
    );
    let (_, err) = expect(&out, 2);
    assert!(error_line(&err).contains("goes with --steps"), "{err}");
    assert_eq!(c.versions("default"), before);
    let out = c.run_bin(
        WEIGHT,
        &[
            "--app",
            "shop",
            "--steps",
            "50,100",
            "--pause",
            "2s",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
        ],
        &[],
    );
    let (_, err) = expect(&out, 0);
    assert!(err.contains("analysis error-rate #"), "{err}");
    // A failing ramp, from weight 0: weight 0 again, and its measurements in the result.
    let out = c.run_bin(WEIGHT, &["--app", "shop", "--weight", "0"], &[]);
    expect(&out, 0);
    p.exporter.set(Traffic::Errors(30));
    let ratio = ERROR_RATIO
        .replace("{{app}}", "shop")
        .replace("{{track}}", "canary");
    p.wait_until(&ratio, "the canary's error ratio above 5 %", |v| v > 0.05);
    let (result, result_s) = result_file(&c, "weight.json");
    let out = c.run_bin(
        WEIGHT,
        &[
            "--app",
            "shop",
            "--steps",
            "50,100",
            "--pause",
            "1m",
            "--analysis",
            &file,
            "--prometheus",
            &p.url(),
            "--result-file",
            &result_s,
        ],
        &[],
    );
    let (_, err) = expect(&out, 1);
    assert!(error_line(&err).contains("weight set back to 0"), "{err}");
    let doc = result_doc(&result);
    assert_eq!(doc["result"]["analysis"]["phase"], "Failed", "{doc:#}");
    assert_eq!(
        doc["result"]["analysis"]["metrics"][0]["measurements"][0]["phase"],
        "Failed"
    );
}

#[test]
fn tls_is_verified_and_prometheus_ca_trusts_a_private_ca() {
    let c = TestCluster::demo();
    let p = Prometheus::start_with_tls();
    assert!(p.url().starts_with("https://127.0.0.1:"));
    let file = write_analysis(&c, "a.yaml", &error_rate("  consecutiveErrorLimit: 0\n"));
    let ca = p.ca_file();
    let ca = ca.to_str().unwrap();
    let base = [
        "--app",
        "shop",
        "--canary",
        "--analysis",
        &file,
        "--prometheus",
        &p.url(),
        "--timeout",
        "1m",
    ];
    // The system's trust store does not know the test CA: refused, exit 5.
    let out = c.run_bin(ANALYSIS, &base, &[]);
    let (_, err) = expect(&out, 5);
    let line = error_line(&err);
    assert!(
        line.contains("cannot be reached") && line.to_lowercase().contains("certificate"),
        "{line}"
    );
    // --prometheus-ca trusts it.
    let mut args = base.to_vec();
    args.extend(["--prometheus-ca", ca]);
    expect(&c.run_bin(ANALYSIS, &args, &[]), 0);
    // Not a PEM file of certificates: exit 2 before anything is asked.
    let mut args = base.to_vec();
    args.extend(["--prometheus-ca", &file]);
    let (_, err) = expect(&c.run_bin(ANALYSIS, &args, &[]), 2);
    assert!(
        error_line(&err).contains("cannot read CA certificates"),
        "{err}"
    );
}
