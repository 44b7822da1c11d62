//! The steps under injected API faults: refused reads are retried (bounded),
//! refused writes are not, dropped watches resume, and a sandbox that dies
//! mid-wait is reported as one line naming the server.

use std::time::Duration;

use switchyard_e2e::faults::{Background, Restartable, fault, request_log, run_within};
use switchyard_e2e::{TestCluster, fast_settings, selected_color};

use crate::{annotate_template, expect, result_file};

const HEALTH: &str = env!("CARGO_BIN_EXE_deploy-health-wait");
const SWITCH: &str = env!("CARGO_BIN_EXE_deploy-switch");
const WEIGHT: &str = env!("CARGO_BIN_EXE_deploy-weight");
const LIMIT: Duration = Duration::from_secs(60);

fn run(c: &TestCluster, bin: &str, args: &[&str]) -> std::process::Output {
    run_within(c.command(bin, args, &[]), LIMIT)
}

/// The step's one error line (`[time] step: error: ...`), from the `error:` on.
fn error_line(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split_once(": error: ").map(|(_, e)| e))
        .collect();
    assert_eq!(errors.len(), 1, "exactly one error line: {stderr}");
    format!("error: {}", errors[0])
}

/// Lines of `-v 6` output for requests answered `status`.
fn logged(stderr: &str, status: &str, path: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains(&format!("{path} {status} in ")))
        .count()
}

#[test]
fn throttled_and_unavailable_reads_are_retried_within_the_bound() {
    let c = TestCluster::demo();
    fault(
        &c,
        "status=429,verb=list,resource=services,count=2,retry-after=1",
    );
    fault(&c, "status=503,verb=list,resource=deployments,count=2");
    c.cluster().requests.reset();
    let out = run(
        &c,
        HEALTH,
        &[
            "--app",
            "web",
            "--color",
            "green",
            "--timeout",
            "30s",
            "-v",
            "6",
        ],
    );
    let (_, stderr) = expect(&out, 0);
    // One list of Services and one of Deployments, each refused twice first.
    let requests = &c.cluster().requests;
    assert_eq!(requests.count("list", "services"), 3, "{stderr}");
    assert!(requests.count("list", "deployments") >= 3, "{stderr}");
    let services = "/api/v1/namespaces/default/services";
    assert_eq!(
        logged(&stderr, "429 Too Many Requests", services),
        2,
        "{stderr}"
    );
    assert_eq!(logged(&stderr, "200 OK", services), 1, "{stderr}");
    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    assert_eq!(
        logged(&stderr, "503 Service Unavailable", deployments),
        2,
        "{stderr}"
    );
    assert!(
        c.cluster()
            .faults
            .list()
            .iter()
            .all(|f| f.remaining == Some(0)),
        "both faults were hit"
    );
}

#[test]
fn reads_refused_past_the_bound_fail_with_the_servers_answer() {
    let c = TestCluster::demo();
    fault(&c, "status=503,verb=list,resource=services");
    c.cluster().requests.reset();
    let out = run(
        &c,
        HEALTH,
        &["--app", "web", "--color", "green", "--timeout", "30s"],
    );
    let (_, stderr) = expect(&out, 1);
    assert!(error_line(&stderr).contains("503"), "{stderr}");
    assert_eq!(
        c.cluster().requests.count("list", "services"),
        5,
        "five attempts, no more"
    );
}

switchyard_e2e::on_both_timings!(
    a_dropped_watch_resumes_from_its_resource_version_without_a_relist,
    |c| {
        // A rollout of green that takes a while, so the wait watches.
        annotate_template(&c, "web-green", "sandbox.switchyard.dev/ready-after", "1s");
        fault(&c, "status=503,verb=watch,resource=deployments,count=1");
        fault(&c, "drop-watch=1,resource=pods,count=1");
        c.cluster().requests.reset();
        let out = run(
            &c,
            HEALTH,
            &["--app", "web", "--color", "green", "--timeout", "60s"],
        );
        let (_, stderr) = expect(&out, 0);
        assert!(stderr.contains("web-green is healthy"), "{stderr}");
        let log = request_log(&c);
        let rv = |line: &str| -> u64 {
            let q = line.split_once('?').map(|(_, q)| q).unwrap_or("");
            q.split('&')
                .find_map(|kv| kv.strip_prefix("resourceVersion="))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("a watch without a resourceVersion: {line}"))
        };
        let watches = |what: &str| -> Vec<u64> {
            log.iter()
                .filter(|l| l.contains(what) && l.contains("watch=true"))
                .map(|l| rv(l))
                .collect()
        };
        // Deployments: refused once (503) and sent again as it was.
        let deployments = watches("/deployments?");
        assert!(deployments.len() >= 2, "{log:#?}");
        assert_eq!(deployments[0], deployments[1], "{log:#?}");
        // Pods: dropped after one event, resumed from that event, not the list.
        let pods = watches("/pods?");
        assert!(pods.len() >= 2, "{log:#?}");
        assert!(pods[1] > pods[0], "{log:#?}");
        let lists = |what: &str| {
            log.iter()
                .filter(|l| l.contains(what) && !l.contains("watch=true"))
                .count()
        };
        // The step's discovery lists Deployments once; the wait lists web-green once.
        assert_eq!(lists("/deployments?fieldSelector"), 1, "{log:#?}");
        assert_eq!(lists("/pods"), 1, "{log:#?}");
    }
);

switchyard_e2e::on_both_timings!(
    a_refused_service_patch_is_sent_once_and_changes_nothing,
    |c| {
        fault(
            &c,
            "status=503,verb=patch,resource=services,name=web,count=1",
        );
        let before = c.versions("default");
        c.cluster().requests.reset();
        let (path, file) = result_file(&c, "switch.json");
        let out = run(&c, SWITCH, &["--app", "web", "--result-file", &file]);
        let (_, stderr) = expect(&out, 1);
        assert!(error_line(&stderr).contains("503"), "{stderr}");
        assert_eq!(
            c.cluster().requests.count("patch", "services"),
            1,
            "not retried"
        );
        assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");
        assert_eq!(
            selected_color(&c.get_json(&["svc", "web-preview"])),
            "green"
        );
        assert_eq!(
            c.versions("default")["services/web"],
            before["services/web"]
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(
            (doc["ok"].as_bool(), doc["exitCode"].as_i64()),
            (Some(false), Some(1))
        );
    }
);

switchyard_e2e::on_both_timings!(
    a_refused_preview_patch_switches_back_and_records_nothing,
    |c| {
        fault(
            &c,
            "status=503,verb=patch,resource=services,name=web-preview,count=1",
        );
        c.cluster().requests.reset();
        let out = run(&c, SWITCH, &["--app", "web"]);
        let (_, stderr) = expect(&out, 1);
        let err = error_line(&stderr);
        assert!(
            err.contains("web-preview") && err.contains("switched back"),
            "{err}"
        );
        assert!(
            !err.contains("Status {"),
            "the API's message, not a debug dump: {err}"
        );
        // The Service and the preview still select different colors: the pair is
        // as before, and so is the history that describes it.
        let svc = c.get_json(&["svc", "web"]);
        assert_eq!(selected_color(&svc), "blue");
        assert_eq!(
            selected_color(&c.get_json(&["svc", "web-preview"])),
            "green"
        );
        let annotations = &svc["metadata"]["annotations"];
        assert!(annotations.get("switchyard.dev/history").is_none(), "{svc}");
        assert!(
            annotations.get("switchyard.dev/revision").is_none(),
            "{svc}"
        );
        // The preview once (refused), the Service there and back.
        assert_eq!(c.cluster().requests.count("patch", "services"), 3);
    }
);

switchyard_e2e::on_both_timings!(a_refused_weight_patch_leaves_the_weights, |c| {
    let weights = |c: &TestCluster| {
        c.get_json(&["httproute", "shop"])["spec"]["rules"][0]["backendRefs"].clone()
    };
    let before = weights(&c);
    fault(&c, "status=503,verb=patch,resource=httproutes,count=1");
    c.cluster().requests.reset();
    let out = run(&c, WEIGHT, &["--app", "shop", "--weight", "30"]);
    let (_, stderr) = expect(&out, 1);
    assert!(error_line(&stderr).contains("503"), "{stderr}");
    assert_eq!(c.cluster().requests.count("patch", "httproutes"), 1);
    assert_eq!(weights(&c), before);
});

#[test]
fn a_sandbox_killed_mid_wait_is_one_line_naming_the_server_and_a_restart_serves_again() {
    let mut s = Restartable::start(kube_sandbox::Options {
        demo: true,
        settings: fast_settings(),
        ..Default::default()
    });
    let url = s.cluster().sandbox().url();
    // Green never gets ready: the step waits until the sandbox dies.
    annotate_template(
        s.cluster(),
        "web-green",
        "sandbox.switchyard.dev/fail",
        "unready",
    );
    let waiting = Background::spawn(s.cluster().command(
        HEALTH,
        &["--app", "web", "--color", "green", "--timeout", "60s"],
        &[],
    ));
    switchyard_e2e::faults::wait_until("the step to watch", LIMIT, || {
        s.cluster().cluster().requests.count("watch", "pods") > 0
    });
    let kubeconfig = s.kubeconfig().to_path_buf();
    let kept = std::fs::read_to_string(&kubeconfig).unwrap();
    s.kill();
    let out = waiting.wait_within(LIMIT);
    let (_, stderr) = expect(&out, 5);
    let err = error_line(&stderr);
    assert!(err.contains(&url), "names the server: {err}");
    assert!(stderr.contains("hint: "), "{stderr}");

    // While it is down: the same, at once.
    std::fs::create_dir_all(kubeconfig.parent().unwrap()).unwrap();
    std::fs::write(&kubeconfig, &kept).unwrap();
    let mut down = std::process::Command::new(HEALTH);
    down.arg("--kubeconfig").arg(&kubeconfig).args([
        "--app",
        "web",
        "--color",
        "green",
        "--timeout",
        "60s",
    ]);
    let (_, stderr) = expect(&run_within(down, LIMIT), 5);
    let err = error_line(&stderr);
    assert!(
        err.contains(&format!("cannot connect to the API server at {url}")),
        "{err}"
    );

    // Started again on the same port with the same CA and token: the old
    // kubeconfig works, and the (re-seeded) app is healthy.
    s.restart();
    assert_eq!(std::fs::read_to_string(s.kubeconfig()).unwrap(), kept);
    let out = run(
        s.cluster(),
        HEALTH,
        &["--app", "web", "--color", "green", "--timeout", "60s"],
    );
    expect(&out, 0);
}
