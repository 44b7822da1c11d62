use std::time::{Duration, Instant};

use switchyard_e2e::TestCluster;

use crate::{annotate_template, expect, result_file, step};

const BIN: &str = env!("CARGO_BIN_EXE_deploy-health-wait");

#[test]
fn a_ready_color_is_healthy_and_its_http_check_passes() {
    let c = TestCluster::demo();
    let (path, file) = result_file(&c, "health.json");
    let (junit, junit_s) = result_file(&c, "health.xml");
    let out = step(
        &c,
        BIN,
        &[
            "--app",
            "web",
            "--color",
            "green",
            "--http",
            "/actuator/health",
            "--timeout",
            "60s",
            "--result-file",
            &file,
            "--junit",
            &junit_s,
            "-o",
            "json",
        ],
    );
    let (stdout, stderr) = expect(&out, 0);
    assert!(
        stderr.contains("deploy-health-wait: web-green is healthy"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (doc["ok"].as_bool(), doc["exitCode"].as_i64()),
        (Some(true), Some(0))
    );
    assert_eq!(doc["result"]["http"]["answer"]["status"], 200);
    switchyard_e2e::assert_camel_case_keys(&doc);
    assert!(
        doc["result"]["http"]["answer"]
            .as_object()
            .unwrap()
            .contains_key("apiReason"),
        "{doc}"
    );
    assert_eq!(
        doc["result"]["http"]["service"], "web-preview",
        "green is behind the preview"
    );
    assert_eq!(
        doc["build"]["url"],
        "https://ci.example.com/job/deploy-web/7/"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(file, doc, "the result file holds the same document");
    let xml = std::fs::read_to_string(junit).unwrap();
    let parsed = roxmltree::Document::parse(&xml).unwrap();
    let suite = parsed.root_element();
    assert_eq!(
        (suite.attribute("tests"), suite.attribute("failures")),
        (Some("2"), Some("0"))
    );
}

fn fails_fast(mode: &str, reasons: &[&str]) {
    let c = TestCluster::demo();
    annotate_template(&c, "web-green", "sandbox.switchyard.dev/fail", mode);
    let (junit, junit_s) = result_file(&c, "junit.xml");
    let started = Instant::now();
    let out = step(
        &c,
        BIN,
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
    );
    let (_, stderr) = expect(&out, 1);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{mode}: failed fast, not at the 5m timeout"
    );
    let err = stderr
        .lines()
        .find(|l| l.contains("error: "))
        .unwrap_or_default()
        .to_string();
    assert!(reasons.iter().any(|r| err.contains(r)), "{mode}: {err}");
    assert!(
        err.contains("pod web-green-"),
        "{mode}: names the pod: {err}"
    );
    let xml = std::fs::read_to_string(junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure element");
    assert!(
        reasons
            .iter()
            .any(|r| failure.attribute("type") == Some(*r)),
        "{mode}: {xml}"
    );
}

#[test]
fn crashloop_fails_fast() {
    fails_fast("crashloop", &["CrashLoopBackOff"]);
}

#[test]
fn imagepull_fails_fast() {
    fails_fast("imagepull", &["ErrImagePull", "ImagePullBackOff"]);
}

#[test]
fn oom_fails_fast() {
    fails_fast("oom", &["OOMKilled"]);
}

#[test]
fn never_ready_times_out_with_124_and_the_last_state() {
    let c = TestCluster::demo();
    annotate_template(&c, "web-green", "sandbox.switchyard.dev/fail", "unready");
    let (junit, junit_s) = result_file(&c, "junit.xml");
    let (stdout, stderr) = expect(
        &step(
            &c,
            BIN,
            &[
                "--app",
                "web",
                "--color",
                "green",
                "--timeout",
                "2s",
                "--junit",
                &junit_s,
                "-o",
                "json",
            ],
        ),
        124,
    );
    assert!(
        stderr.contains("was not healthy within 2s; last observed: web-green:"),
        "{stderr}"
    );
    // The result's keys are camelCase, as Kubernetes' (notReady, not not_ready).
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    switchyard_e2e::assert_camel_case_keys(&result);
    assert!(
        result["result"]["observed"]["notReady"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{result}"
    );
    let xml = std::fs::read_to_string(junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(doc.root_element().attribute("failures"), Some("1"));
}

#[test]
fn bad_input_is_exit_2() {
    let c = TestCluster::demo();
    let (_, e) = expect(&step(&c, BIN, &["--app", "web"]), 2);
    assert!(
        e.contains("error: the following required arguments were not provided"),
        "{e}"
    );
    let (_, e) = expect(&step(&c, BIN, &["--app", "web", "--color", "purple"]), 2);
    assert!(e.contains("not a color"), "{e}");
    let (_, e) = expect(&step(&c, BIN, &["--app", "nope", "--canary"]), 3);
    assert!(e.contains("canary app nope not found"), "{e}");
}

#[test]
fn a_plain_url_check_runs_after_the_rollout() {
    let c = TestCluster::demo();
    // A tiny local server: 503 twice, then 200.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ready", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (i, s) in listener.incoming().take(5).enumerate() {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 1024];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let code = if i < 2 { 503 } else { 200 };
            let _ = std::io::Write::write_all(
                &mut s,
                format!("HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                    .as_bytes(),
            );
        }
    });
    let (_, stderr) = expect(
        &step(
            &c,
            BIN,
            &[
                "--app",
                "web",
                "--color",
                "blue",
                "--url",
                &url,
                "--timeout",
                "30s",
            ],
        ),
        0,
    );
    assert!(stderr.contains("--url answered 200"), "{stderr}");
    let (_, stderr) = expect(
        &step(
            &c,
            BIN,
            &[
                "--app",
                "web",
                "--color",
                "blue",
                "--url",
                "ftp://x",
                "--timeout",
                "5s",
            ],
        ),
        2,
    );
    assert!(stderr.contains("invalid --url"), "{stderr}");
}

/// `--timeout 0` means no limit (as kubectl's `--request-timeout 0`), not
/// "fail at once": a ready color passes.
#[test]
fn a_zero_timeout_means_no_limit() {
    let c = TestCluster::demo();
    for zero in ["0", "0s"] {
        let out = step(
            &c,
            BIN,
            &[
                "--app",
                "web",
                "--color",
                "green",
                "--timeout",
                zero,
                "--request-timeout",
                "0",
            ],
        );
        let (_, stderr) = expect(&out, 0);
        assert!(
            stderr.contains("web-green is healthy") && stderr.contains("(timeout 604800s)"),
            "{stderr}"
        );
    }
}
