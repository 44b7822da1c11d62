//! Bad input to the five steps, as a table: the documented exit code, one
//! `error:` line (and a hint) in the log, nothing on stdout, every object of
//! the namespace unchanged and no Lease left.

use switchyard_e2e::TestCluster;

const SWITCH: &str = env!("CARGO_BIN_EXE_deploy-switch");
const WEIGHT: &str = env!("CARGO_BIN_EXE_deploy-weight");
const HEALTH_WAIT: &str = env!("CARGO_BIN_EXE_deploy-health-wait");
const ROLLBACK: &str = env!("CARGO_BIN_EXE_deploy-rollback");
const NOTIFY: &str = env!("CARGO_BIN_EXE_deploy-notify");
const APPLY: &str = env!("CARGO_BIN_EXE_deploy-apply");
const ROLLOUT: &str = env!("CARGO_BIN_EXE_deploy-rollout");

/// Apps in unexpected shapes, next to the demo's.
const ODD_SHAPES: &str = r#"
# A Service that selects nothing: no color to switch from.
apiVersion: v1
kind: Service
metadata: {name: bare}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bare-blue}
spec:
  selector: {matchLabels: {app: bare, color: blue}}
  template:
    metadata: {labels: {app: bare, color: blue}}
    spec: {containers: [{name: bare, image: 'bare:1'}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bare-green}
spec:
  selector: {matchLabels: {app: bare, color: green}}
  template:
    metadata: {labels: {app: bare, color: green}}
    spec: {containers: [{name: bare, image: 'bare:1'}]}
---
# Service and preview both select blue.
apiVersion: v1
kind: Service
metadata: {name: twin}
spec: {selector: {app: twin, color: blue}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: twin-preview}
spec: {selector: {app: twin, color: blue}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: twin-blue}
spec:
  selector: {matchLabels: {app: twin, color: blue}}
  template:
    metadata: {labels: {app: twin, color: blue}}
    spec: {containers: [{name: twin, image: 'twin:1'}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: twin-green}
spec:
  selector: {matchLabels: {app: twin, color: green}}
  template:
    metadata: {labels: {app: twin, color: green}}
    spec: {containers: [{name: twin, image: 'twin:1'}]}
---
# A canary HTTPRoute rule with a third backend.
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart}
spec:
  selector: {matchLabels: {app: cart, track: stable}}
  template:
    metadata: {labels: {app: cart, track: stable}}
    spec: {containers: [{name: cart, image: 'cart:1'}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart-canary}
spec:
  selector: {matchLabels: {app: cart, track: canary}}
  template:
    metadata: {labels: {app: cart, track: canary}}
    spec: {containers: [{name: cart, image: 'cart:2'}]}
---
apiVersion: v1
kind: Service
metadata: {name: cart}
spec: {selector: {app: cart, track: stable}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: cart-canary}
spec: {selector: {app: cart, track: canary}, ports: [{port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cart}
spec:
  rules:
  - backendRefs:
    - {name: cart, port: 80, weight: 80}
    - {name: cart-canary, port: 80, weight: 10}
    - {name: cart-legacy, port: 80, weight: 10}
"#;

#[test]
fn bad_input_to_the_steps_changes_nothing() {
    let c = TestCluster::demo();
    c.apply(ODD_SHAPES);
    c.settle();
    let long = "a".repeat(254);
    let (_, _, closed) = c.bad_kubeconfigs();
    let notify = |rest: &[&'static str]| {
        let mut a = vec![
            "--provider",
            "slack",
            "--webhook-url-env",
            "SWITCHYARD_TEST_UNSET",
        ];
        a.extend_from_slice(rest);
        a
    };
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        // Names that are not DNS-1123 labels.
        (SWITCH, vec!["--app", "Web_App"], 2, "invalid app name"),
        (SWITCH, vec!["--app", "WEB"], 2, "invalid app name"),
        (SWITCH, vec!["--app", &long], 2, "invalid app name"),
        (WEIGHT, vec!["--app", "Shop_1", "--weight", "30"], 2, "invalid app name"),
        (HEALTH_WAIT, vec!["--app", "Web_App", "--color", "green"], 2, "invalid app name"),
        (ROLLBACK, vec!["--app", "WEB"], 2, "invalid app name"),
        (ROLLOUT, vec!["--deployment", "Web_App", "--image", "x:1"], 2, "invalid app name"),
        (ROLLOUT, vec!["--deployment", "web-blue", "--image", "Bad_Name=x:1"], 2, "is not a container name"),
        (ROLLOUT, vec!["--deployment", "web-blue", "--image", "x:1", "--timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (ROLLOUT, vec!["--deployment", "nope", "--image", "x:1"], 3, "deployment nope not found"),
        (ROLLOUT, vec!["--deployment", "web-blue", "--image", "x:1", "-n", "nowhere"], 5, "in the namespace \"nowhere\""),
        // Weights.
        (WEIGHT, vec!["--app", "shop", "--weight", "-1"], 2, "invalid weight"),
        (WEIGHT, vec!["--app", "shop", "--weight", "101"], 2, "invalid weight"),
        (WEIGHT, vec!["--app", "shop", "--weight", "abc"], 2, "invalid weight"),
        (WEIGHT, vec!["--app", "shop", "--weight", "30", "--total", "-1"], 2, "invalid number of replicas \"-1\": a whole number, 0 or more"),
        (WEIGHT, vec!["--app", "shop", "--weight", "12.5"], 2, "invalid weight"),
        (WEIGHT, vec!["--app", "shop", "--steps", "10,abc", "--pause", "1s"], 2, "invalid"),
        // Durations.
        (SWITCH, vec!["--app", "web", "--check-timeout", "5x"], 2, "invalid duration"),
        (SWITCH, vec!["--app", "web", "--check-timeout=-1s"], 2, "invalid duration"),
        (SWITCH, vec!["--app", "web", "--check-timeout", ""], 2, "duration"),
        (WEIGHT, vec!["--app", "shop", "--steps", "10,50", "--pause", "5x"], 2, "invalid duration"),
        (HEALTH_WAIT, vec!["--app", "web", "--color", "green", "--timeout=-1s"], 2, "invalid duration"),
        // Durations too large: one error line naming the maximum, never a panic (101).
        (HEALTH_WAIT, vec!["--app", "web", "--color", "green", "--timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (SWITCH, vec!["--app", "web", "--timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (SWITCH, vec!["--app", "web", "--check-timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (SWITCH, vec!["--app", "web", "--scale-down-after", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (WEIGHT, vec!["--app", "shop", "--steps", "10,50", "--pause", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (WEIGHT, vec!["--app", "shop", "--weight", "30", "--request-timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        (ROLLBACK, vec!["--app", "web", "--timeout", "9999999999999999h"], 2, "longer than the maximum, 168h"),
        // Unknown flags and values.
        (SWITCH, vec!["--app", "web", "--frobnicate"], 2, "--frobnicate"),
        (SWITCH, vec!["--app", "web", "--to", "purple"], 2, "not a color"),
        (WEIGHT, vec!["--app", "shop", "--weight", "30", "--provider", "carrier-pigeon"], 2, "carrier-pigeon"),
        (HEALTH_WAIT, vec!["--app", "web", "--color", "green", "-o", "yaml"], 2, "yaml"),
        // Apps, namespaces and contexts that do not exist.
        (SWITCH, vec!["--app", "nope"], 3, "nope"),
        (WEIGHT, vec!["--app", "nope", "--weight", "30"], 3, "nope"),
        (ROLLBACK, vec!["--app", "nope"], 3, "nope"),
        (HEALTH_WAIT, vec!["--deployment", "nope"], 3, "nope"),
        // The Role bound by rbac/ does not reach a namespace that does not exist.
        (SWITCH, vec!["--app", "web", "-n", "nowhere"], 5, "in the namespace \"nowhere\""),
        (WEIGHT, vec!["--app", "shop", "--weight", "30", "--context", "nope"], 2, "context \"nope\" (--context) is not in kubeconfig"),
        // Objects in unexpected shapes.
        (SWITCH, vec!["--app", "bare"], 3, "bare"),
        (SWITCH, vec!["--app", "twin"], 3, "twin-preview"),
        (WEIGHT, vec!["--app", "cart", "--weight", "30"], 3, "cart-legacy"),
        (WEIGHT, vec!["--app", "shop", "--weight", "30", "--provider", "istio"], 3, "VirtualService"),
        (ROLLBACK, vec!["--app", "web"], 3, "nothing to roll back to"),
    ];
    let mut failed = Vec::new();
    for (bin, args, code, says) in cases {
        let run = || c.refuses(c.command(bin, &args, &[]), code, says, &["default"]);
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
            failed.push(format!("{bin} {args:?}"));
        }
    }
    // A cluster nobody answers at: exit 5, whatever the step. Kubeconfigs that
    // cannot be used: bad input (exit 2) naming the file and what is wrong,
    // with a hint about the file (the steps print it too), never the
    // reachability hint.
    let broken = c.broken_kubeconfigs();
    let manifests = switchyard_e2e::testdata("apply/app").display().to_string();
    for bin in [SWITCH, WEIGHT, HEALTH_WAIT, ROLLBACK, APPLY] {
        let app = if bin == WEIGHT { "shop" } else { "web" };
        let args_for = |kc: &str| {
            let mut args = vec![
                "--kubeconfig".to_string(),
                kc.to_string(),
                "--request-timeout".into(),
                "5s".into(),
            ];
            match bin {
                APPLY => args.extend(["-f".into(), manifests.clone()]),
                _ => args.extend(["--app".into(), app.into()]),
            }
            match bin {
                WEIGHT => args.extend(["--weight".into(), "30".into()]),
                HEALTH_WAIT => args.extend(["--color".into(), "green".into()]),
                _ => {}
            }
            args
        };
        let mut runs: Vec<(Vec<String>, i32, String)> = vec![(args_for(&closed), 5, String::new())];
        for b in &broken {
            runs.push((
                args_for(&b.path),
                2,
                format!("kubeconfig {} {}", b.path, b.says),
            ));
        }
        for (args, code, says) in runs {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = || match code {
                5 => c.refuses(c.command_bare(bin, &args), code, &says, &["default"]),
                _ => c.refuses_with_hint(
                    c.command_bare(bin, &args),
                    code,
                    &says,
                    "--kubeconfig",
                    &["default"],
                ),
            };
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                failed.push(format!("{bin} {args:?}"));
            }
        }
    }
    // deploy-notify touches no cluster, and takes no --kubeconfig.
    #[rustfmt::skip]
    let notify_cases: Vec<(Vec<&str>, &str)> = vec![
        (notify(&["--status", "maybe", "--message", "m"]), "maybe"),
        (vec!["--provider", "pigeon", "--webhook-url-env", "X", "--status", "success", "--message", "m"], "pigeon"),
        (notify(&["--status", "success", "--message", "m", "--required"]), "SWITCHYARD_TEST_UNSET"),
        (notify(&["--status", "success", "--message", "m", "--attempts", "-1"]), "invalid number of attempts \"-1\": a whole number, 1 or more"),
        (notify(&["--status", "success", "--message", "m", "--timeout", "9999999999999999h"]), "longer than the maximum, 168h"),
    ];
    for (args, says) in notify_cases {
        let run = || c.refuses(c.command_bare(NOTIFY, &args), 2, says, &["default"]);
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
            failed.push(format!("{NOTIFY} {args:?}"));
        }
    }
    assert!(failed.is_empty(), "failed cases (see above): {failed:#?}");
}

/// A usage error (clap's, before the step runs) and a bad input found by the
/// step both leave a result file for the Groovy library's `readJSON`, and
/// deploy-health-wait's JUnit report on an error too.
#[test]
fn bad_input_still_writes_the_result_file() {
    let c = TestCluster::demo();
    let file = |name: &str| c.dir.join(name).to_str().unwrap().to_string();
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (SWITCH, vec!["--app".into(), "web".into(), "--to".into(), "blu".into(), "--result-file".into(), file("r1.json")], "not a color"),
        (SWITCH, vec!["--app".into(), "web".into(), format!("--result-file={}", file("r2.json")), "--frobnicate".into()], "--frobnicate"),
        (WEIGHT, vec!["--result-file".into(), file("r3.json"), "--app".into(), "shop".into()], "required"),
        (HEALTH_WAIT, vec!["--app".into(), "web".into(), "--color".into(), "green".into(), "--timeout".into(), "9999999999999999h".into(), "--result-file".into(), file("r4.json")], "168h"),
        (ROLLBACK, vec!["--app".into(), "WEB".into(), "--result-file".into(), file("r5.json")], "invalid app name"),
        (NOTIFY, vec!["--provider".into(), "pigeon".into(), "--result-file".into(), file("r6.json")], "pigeon"),
        (ROLLOUT, vec!["--deployment".into(), "web-blue".into(), "--restart".into(), "--image".into(), "x:1".into(), "--result-file".into(), file("r7.json")], "cannot be used with"),
    ];
    for (bin, args, says) in cases {
        let path = args
            .iter()
            .enumerate()
            .find_map(|(i, a)| match a.strip_prefix("--result-file=") {
                Some(p) => Some(p.to_string()),
                None => (a == "--result-file").then(|| args[i + 1].clone()),
            })
            .unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // deploy-notify takes no --kubeconfig.
        let cmd = match bin {
            NOTIFY => c.command_bare(bin, &args),
            _ => c.command(bin, &args, &[]),
        };
        let out = switchyard_e2e::run(cmd, None);
        let (_, stderr) = switchyard_e2e::expect(&out, 2);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{bin} {args:?} wrote no result file {path}: {e}\n{stderr}")
        });
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let name = std::path::Path::new(bin)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(doc["step"], name, "{text}");
        assert_eq!(
            (doc["ok"].as_bool(), doc["exitCode"].as_i64()),
            (Some(false), Some(2)),
            "{text}"
        );
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{bin}: {message}");
        assert!(
            stderr.contains(message),
            "{bin}: the file says what the log says: {stderr}"
        );
        assert!(
            doc["error"]["hint"].as_str().is_some_and(|h| !h.is_empty()),
            "{text}"
        );
    }
    // An error found by the step itself (no such app): the JUnit report is written too.
    let junit = file("health.xml");
    let out = c.run_bin(
        HEALTH_WAIT,
        &[
            "--app",
            "nope",
            "--color",
            "green",
            "--junit",
            &junit,
            "--result-file",
            &file("r7.json"),
        ],
        &[],
    );
    switchyard_e2e::expect(&out, 3);
    let xml = std::fs::read_to_string(&junit).expect("a JUnit report on an error");
    assert!(xml.contains("tests=\"1\" failures=\"1\""), "{xml}");
    assert!(
        xml.contains("<failure type=\"Error\" message=\"") && xml.contains("nope"),
        "{xml}"
    );
}
