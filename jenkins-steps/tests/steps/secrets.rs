//! No step prints or stores a secret: the kubeconfig's token and client key,
//! webhook URLs, a BUILD_URL password. Every step, on success and failure
//! paths, at -v 0, 6 and 9; stdout, stderr, result and JUnit files, and
//! every object and Event in the sandbox are searched.

use switchyard_e2e::expect;
use switchyard_e2e::faults::{Planted, fault};

const HEALTH: &str = env!("CARGO_BIN_EXE_deploy-health-wait");
const SWITCH: &str = env!("CARGO_BIN_EXE_deploy-switch");
const WEIGHT: &str = env!("CARGO_BIN_EXE_deploy-weight");
const ROLLBACK: &str = env!("CARGO_BIN_EXE_deploy-rollback");
const NOTIFY: &str = env!("CARGO_BIN_EXE_deploy-notify");
const APPLY: &str = env!("CARGO_BIN_EXE_deploy-apply");
const ROLLOUT: &str = env!("CARGO_BIN_EXE_deploy-rollout");

#[test]
fn no_step_leaks_a_secret_at_any_verbosity() {
    let p = Planted::start();
    // The search finds what was planted (the kubeconfig holds all of its kind).
    let kubeconfig = std::fs::read_to_string(&p.kubeconfig).unwrap();
    for planted in [switchyard_e2e::faults::PLANTED_TOKEN, "client-key-data"] {
        assert!(kubeconfig.contains(planted));
    }
    assert!(std::panic::catch_unwind(|| p.check("the kubeconfig", &kubeconfig)).is_err());
    let mut hooks = 0;
    let manifests = switchyard_e2e::testdata("apply/app").display().to_string();
    for v in ["0", "6", "9"] {
        let result = p.cluster.dir.join(format!("result-{v}.json"));
        let junit = p.cluster.dir.join(format!("junit-{v}.xml"));
        let (r, j) = (result.to_str().unwrap(), junit.to_str().unwrap());
        let health = [
            "--app",
            "web",
            "--color",
            "green",
            "--http",
            "/actuator/health",
        ];
        let notify = |provider: &'static str, var: &'static str| -> Vec<&'static str> {
            vec![
                "--provider",
                provider,
                "--webhook-url-env",
                var,
                "--status",
                "success",
                "--app",
                "web",
                "--message",
                "web is live",
            ]
        };
        let mut runs: Vec<(&str, Vec<&str>, Option<i32>)> = vec![
            (
                HEALTH,
                [&health[..], &["--timeout", "30s", "--junit", j]].concat(),
                Some(0),
            ),
            (
                HEALTH,
                vec!["--app", "nope", "--color", "green", "--junit", j],
                Some(3),
            ),
            (SWITCH, vec!["--app", "web", "--reason", "release"], Some(0)),
            (SWITCH, vec!["--app", "web", "--to", "green"], Some(0)),
            (ROLLBACK, vec!["--app", "web"], Some(0)),
            (ROLLBACK, vec!["--app", "nope"], Some(3)),
            (WEIGHT, vec!["--app", "shop", "--weight", "20"], Some(0)),
            (WEIGHT, vec!["--app", "shop", "--weight", "200"], Some(2)),
            (
                ROLLOUT,
                vec![
                    "--deployment",
                    "web-blue",
                    "--image",
                    "example/web:2",
                    "--timeout",
                    "30s",
                    "--junit",
                    j,
                ],
                Some(0),
            ),
            (
                ROLLOUT,
                vec!["--deployment", "nope", "--image", "x:1", "--junit", j],
                Some(3),
            ),
            (NOTIFY, notify("discord", "DISCORD_WEBHOOK"), Some(0)),
            (NOTIFY, notify("slack", "SLACK_WEBHOOK"), Some(0)),
            (NOTIFY, notify("teams", "TEAMS_WEBHOOK"), Some(0)),
            (NOTIFY, notify("webhook", "PLAIN_WEBHOOK"), Some(0)),
            (
                NOTIFY,
                [
                    notify("discord", "FAILING_WEBHOOK"),
                    vec!["--required", "--attempts", "2"],
                ]
                .concat(),
                Some(1),
            ),
            (
                NOTIFY,
                [
                    notify("webhook", "USERINFO_WEBHOOK"),
                    vec!["--required", "--attempts", "1"],
                ]
                .concat(),
                None,
            ),
            (NOTIFY, notify("slack", "NO_SUCH_VARIABLE"), Some(2)),
        ];
        // deploy-apply: validated against discovery only, then applied
        // (created, later unchanged), Secrets among the objects.
        runs.push((APPLY, vec!["-f", &manifests, "--dry-run=client"], Some(0)));
        runs.push((APPLY, vec!["-f", &manifests], Some(0)));
        // A write the API server refuses, for the failure path through kube.
        runs.push((SWITCH, vec!["--app", "web"], Some(1)));
        let last_run = runs.len() - 1;
        for (i, (bin, args, code)) in runs.into_iter().enumerate() {
            let last = i == last_run;
            if last {
                fault(
                    &p.cluster,
                    "status=503,verb=patch,resource=services,count=1",
                );
            }
            let _ = std::fs::remove_file(&result);
            let _ = std::fs::remove_file(&junit);
            let args = [&args[..], &["-v", v, "--result-file", r]].concat();
            let out = p.run(bin, &args, bin != NOTIFY);
            let what = format!("{bin} {args:?}");
            if let Some(code) = code {
                let (o, e) = switchyard_e2e::texts(&out);
                assert_eq!(out.status.code(), Some(code), "{what}\n{o}{e}");
            }
            if bin == NOTIFY {
                hooks += 1;
            }
            p.check_output(&what, &out);
            assert!(result.exists(), "{what} wrote its result file");
            p.check_file(&what, &result);
            p.check_file(&what, &junit);
            if v != "0" && bin != NOTIFY && code == Some(0) {
                let (_, e) = switchyard_e2e::texts(&out);
                assert!(
                    e.contains(" GET https://127.0.0.1:"),
                    "{what} logs requests at -v {v}: {e}"
                );
            }
            if v != "0" && bin == NOTIFY && code == Some(0) {
                let (_, e) = expect(&out, 0);
                assert!(e.contains("POST http://127.0.0.1:"), "{what}: {e}");
                assert!(e.contains("/[redacted]"), "{what}: {e}");
            }
        }
    }
    assert!(
        p.webhook_requests() >= 15,
        "the receiver was reached ({hooks} runs)"
    );
    p.check_cluster();
}
