//! The example Jenkinsfiles and the Groovy shared library, run end to end by
//! the Groovy harness (`jenkins-steps/groovy-harness/run`, Debian's groovy
//! 2.4) against the demo sandbox: the real Switchyard binaries do the work,
//! a local HTTP receiver stands in for Discord, a fake `docker` records the
//! build and push.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::{TestCluster, selected_color};

/// How long one pipeline run may take before the test kills it.
const PIPELINE_LIMIT: Duration = Duration::from_secs(180);

/// The webhook URL's secret part: it must never show in a build log.
const WEBHOOK_TOKEN: &str = "hook-SECRET-5f2a9c";
const REGISTRY_PASSWORD: &str = "registry-SECRET-pw";
/// The bearer token the analysis pipeline sends Prometheus (which ignores it).
const PROMETHEUS_TOKEN: &str = "prom-SECRET-7c1d";

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where cargo put this package's binaries; the plugins' are built into the
/// same directory by `cargo build --workspace` / `cargo nextest run --workspace`.
fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_deploy-switch"))
        .parent()
        .expect("a target directory")
        .to_path_buf();
    // These are this package's: cargo builds them for the test.
    for bin in [
        env!("CARGO_BIN_EXE_deploy-health-wait"),
        env!("CARGO_BIN_EXE_deploy-weight"),
        env!("CARGO_BIN_EXE_deploy-notify"),
        env!("CARGO_BIN_EXE_deploy-apply"),
    ] {
        assert!(Path::new(bin).exists(), "{bin} is missing");
    }
    for plugin in ["kubectl-bluegreen", "kubectl-canary"] {
        assert!(
            dir.join(plugin).exists(),
            "{plugin} is not in {}: build it first (cargo build -p kubectl-bluegreen -p kubectl-canary, \
             or run the tests with scripts/test)",
            dir.display()
        );
    }
    dir
}

/// Fails the test, clearly, when groovy is missing (scripts/test installs it).
fn require_groovy() {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("groovy").is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "groovy is not installed, and the Jenkinsfile tests need it: run the tests with scripts/test, \
         which installs it, or apt-get install groovy (Debian's groovy 2.4 runs jenkins-steps/groovy-harness)"
    );
}

// -- the Discord stand-in ----------------------------------------------------

/// An HTTP server on 127.0.0.1:0 that answers every POST 204, as Discord's
/// webhook does, and keeps (path, JSON body).
struct Discord {
    url: String,
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Discord {
    fn start() -> Discord {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let store = store.clone();
                std::thread::spawn(move || {
                    if let Some(request) = read_request(stream) {
                        store.lock().unwrap().push(request);
                    }
                });
            }
        });
        Discord {
            url: format!("http://127.0.0.1:{port}/api/webhooks/1234/{WEBHOOK_TOKEN}"),
            received,
        }
    }

    /// The embeds' titles received so far, e.g. "✅ web: deployment succeeded".
    fn titles(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| {
                body["embeds"][0]["title"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    fn bodies(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// Reads one request (Content-Length body), answers 204, returns (path, body).
fn read_request(mut stream: TcpStream) -> Option<(String, Value)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    let _ = stream.flush();
    Some((path, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

// -- running a pipeline --------------------------------------------------------

struct Build {
    code: Option<i32>,
    log: String,
    workspace: PathBuf,
    image: String,
}

impl Build {
    fn docker_calls(&self) -> String {
        std::fs::read_to_string(self.workspace.join("docker-calls.log")).unwrap_or_default()
    }

    fn assert_result(&self, code: i32, result: &str) {
        assert_eq!(
            self.code,
            Some(code),
            "expected Finished: {result}; the build log:\n{}",
            self.log
        );
        assert!(
            self.log.contains(&format!("Finished: {result}")),
            "{}",
            self.log
        );
    }

    fn assert_no_secrets(&self) {
        for secret in [WEBHOOK_TOKEN, REGISTRY_PASSWORD, PROMETHEUS_TOKEN] {
            assert!(
                !self.log.contains(secret),
                "a secret is in the build log:\n{}",
                self.log
            );
        }
    }
}

/// Runs JENKINSFILE with `groovy-harness/run`: `path` first on PATH, `env`
/// set, output and errors in one log. Bounded by PIPELINE_LIMIT: past it the
/// whole process group (the JVM and what its sh steps started) is killed.
/// Returns the exit code and the log.
fn harness(
    jenkinsfile: &Path,
    workspace: &Path,
    path: &[PathBuf],
    env: &[(&str, String)],
    args: &[String],
) -> (Option<i32>, String) {
    require_groovy();
    std::fs::create_dir_all(workspace).expect("a workspace");
    let log_path = workspace.with_extension("log");
    let log = std::fs::File::create(&log_path).expect("a log file");
    let mut dirs: Vec<PathBuf> = path.to_vec();
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let mut cmd = Command::new(crate_dir().join("groovy-harness/run"));
    cmd.arg("--workspace")
        .arg(workspace)
        .args(args)
        .arg(jenkinsfile)
        .env("PATH", std::env::join_paths(dirs).expect("a PATH"))
        .env("NO_COLOR", "1")
        .env_remove("HARNESS_DOCKER_LOG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log);
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let name = jenkinsfile
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let started = Instant::now();
    let mut child = cmd.spawn().expect("the harness starts");
    let code = loop {
        if let Some(status) = child.try_wait().expect("the harness runs") {
            break status.code();
        }
        if started.elapsed() > PIPELINE_LIMIT {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "{name} ran longer than {PIPELINE_LIMIT:?}; the log so far:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "{name}: exit {code:?} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    (code, std::fs::read_to_string(&log_path).unwrap_or_default())
}

/// Runs `examples/JENKINSFILE` as build BUILD_NUMBER of job shop/KIND: the
/// binaries on PATH, the sandbox's kubeconfig, Jenkins' variables, and the
/// credentials `discord-webhook` (the receiver's URL) and `registry`.
fn run_pipeline(
    c: &TestCluster,
    discord: &Discord,
    jenkinsfile: &str,
    build_number: u32,
    params: &[(&str, &str)],
) -> Build {
    let job = format!("shop/{}", jenkinsfile.trim_start_matches("Jenkinsfile."));
    let workspace = c.dir.join(format!("workspace-{build_number}"));
    let credentials = c.dir.join("credentials.json");
    std::fs::write(
        &credentials,
        json!({
            "discord-webhook": discord.url,
            "registry": { "username": "ci", "password": REGISTRY_PASSWORD },
            "prometheus-token": PROMETHEUS_TOKEN,
        })
        .to_string(),
    )
    .expect("credentials written");
    let mut args = vec![
        "--credentials".to_string(),
        credentials.display().to_string(),
    ];
    for (k, v) in params {
        args.push("--param".into());
        args.push(format!("{k}={v}"));
    }
    let (code, log) = harness(
        &crate_dir().join("examples").join(jenkinsfile),
        &workspace,
        &[bin_dir()],
        &[
            ("KUBECONFIG", c.kubeconfig.display().to_string()),
            ("JOB_NAME", job.clone()),
            ("BUILD_NUMBER", build_number.to_string()),
            (
                "BUILD_URL",
                format!("https://ci.example.com/job/{job}/{build_number}/"),
            ),
        ],
        &args,
    );
    let app = if jenkinsfile.ends_with("bluegreen") {
        "web"
    } else if jenkinsfile.ends_with("rolling") {
        "api"
    } else {
        "shop-frontend"
    };
    Build {
        code,
        log,
        workspace,
        image: format!("registry.example.com/shop/{app}:{build_number}"),
    }
}

// -- cluster helpers ---------------------------------------------------------

fn annotate_template(c: &TestCluster, deploy: &str, key: &str, value: &str) {
    let patch = format!(
        r#"{{"spec":{{"template":{{"metadata":{{"annotations":{{"{key}":"{value}"}}}}}}}}}}"#
    );
    c.kubectl_ok(&["patch", "deploy", deploy, "--type", "merge", "-p", &patch]);
    c.kubectl_ok(&[
        "rollout",
        "status",
        &format!("deploy/{deploy}"),
        "--timeout=30s",
    ]);
    c.settle();
}

fn image(c: &TestCluster, deploy: &str) -> String {
    c.get_json(&["deploy", deploy])["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn replicas(c: &TestCluster, deploy: &str) -> i64 {
    c.get_json(&["deploy", deploy])["spec"]["replicas"]
        .as_i64()
        .unwrap_or(-1)
}

/// The backendRef weights of HTTPRoute shop, by Service.
fn weights(c: &TestCluster) -> Vec<(String, i64)> {
    let route = c.get_json(&["httproutes.gateway.networking.k8s.io", "shop"]);
    route["spec"]["rules"][0]["backendRefs"]
        .as_array()
        .expect("backendRefs")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("").to_string(),
                r["weight"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn has_title(discord: &Discord, app: &str, outcome: &str) -> bool {
    discord
        .titles()
        .iter()
        .any(|t| t.contains(&format!("{app}: deployment {outcome}")))
}

// -- the cases ---------------------------------------------------------------

#[test]
fn examples_load_the_library_and_carry_no_inline_kubectl_curl_or_sleep() {
    for name in [
        "Jenkinsfile.bluegreen",
        "Jenkinsfile.canary",
        "Jenkinsfile.canary-analysis",
        "Jenkinsfile.rolling",
    ] {
        let text = std::fs::read_to_string(crate_dir().join("examples").join(name)).unwrap();
        assert!(
            text.contains("@Library('switchyard') _"),
            "{name} does not load the library"
        );
        for word in ["kubectl", "curl", "sleep"] {
            assert!(
                !text.to_lowercase().contains(word),
                "{name} carries an inline `{word}`"
            );
        }
    }
}

/// The library's own checks (groovy-harness/selftest): quoting against a
/// shell, result documents with JSON nulls, every exit code's message, busy
/// retries, missing arguments, and a notification that cannot be sent making
/// the build UNSTABLE, which is the result it expects.
#[test]
fn library_quotes_arguments_and_maps_exit_codes() {
    let dir =
        std::env::temp_dir().join(format!("switchyard-groovy-selftest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let selftest = crate_dir().join("groovy-harness/selftest");
    let (code, log) = harness(
        &selftest.join("Jenkinsfile.selftest"),
        &dir.join("workspace"),
        &[selftest.join("bin")],
        &[],
        &[],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(2), "expected Finished: UNSTABLE:\n{log}");
    assert!(
        log.contains("selftest: all checks passed") && log.contains("Finished: UNSTABLE"),
        "{log}"
    );
}

#[test]
fn bluegreen_pipeline_releases_to_green_and_tells_discord() {
    let c = TestCluster::demo();
    let discord = Discord::start();
    let b = run_pipeline(
        &c,
        &discord,
        "Jenkinsfile.bluegreen",
        42,
        &[
            ("DEPLOY_TIMEOUT", "60s"),
            ("HEALTH_TIMEOUT", "60s"),
            ("SCALE_DOWN_AFTER", "1s"),
        ],
    );
    b.assert_result(0, "SUCCESS");
    b.assert_no_secrets();

    // Built and pushed with docker (the fake records the calls), logged in
    // without the password on the command line.
    let docker = b.docker_calls();
    assert!(
        docker.contains(&format!("build --pull -t {} .", b.image))
            && docker.contains("login --username ci --password-stdin registry.example.com")
            && docker.contains(&format!("push {}", b.image)),
        "{docker}"
    );

    // web serves green, which runs the new image; blue was scaled down after the delay.
    let svc = c.get_json(&["svc", "web"]);
    assert_eq!(selected_color(&svc), "green", "{}", b.log);
    assert_eq!(image(&c, "web-green"), b.image);
    assert_eq!(replicas(&c, "web-blue"), 0, "{}", b.log);
    let history = svc["metadata"]["annotations"]["switchyard.dev/history"]
        .as_str()
        .unwrap_or("");
    assert!(
        history.contains("jenkins:shop/bluegreen#42")
            && history.contains("https://ci.example.com/job/shop/bluegreen/42/"),
        "{history}"
    );

    // Discord heard about the start and the success, on the credential's URL.
    assert!(
        has_title(&discord, "web", "started") && has_title(&discord, "web", "succeeded"),
        "{:?}",
        discord.titles()
    );
    assert!(
        !has_title(&discord, "web", "failed"),
        "{:?}",
        discord.titles()
    );
    let success = discord
        .bodies()
        .into_iter()
        .find(|b| {
            b["embeds"][0]["title"]
                .as_str()
                .unwrap_or("")
                .contains("succeeded")
        })
        .unwrap();
    let text = success.to_string();
    assert!(
        text.contains(&b.image) && text.contains("blue → green"),
        "{text}"
    );
    assert!(
        discord
            .received
            .lock()
            .unwrap()
            .iter()
            .all(|(path, _)| path.ends_with(WEBHOOK_TOKEN))
    );
}

#[test]
fn bluegreen_pipeline_fails_and_keeps_blue_when_green_is_down() {
    let c = TestCluster::demo();
    annotate_template(&c, "web-green", "sandbox.switchyard.dev/health", "down");
    let discord = Discord::start();
    let b = run_pipeline(
        &c,
        &discord,
        "Jenkinsfile.bluegreen",
        43,
        &[
            ("DEPLOY_TIMEOUT", "60s"),
            ("HEALTH_TIMEOUT", "3s"),
            ("SCALE_DOWN_AFTER", "1s"),
        ],
    );
    b.assert_result(1, "FAILURE");
    b.assert_no_secrets();
    assert!(
        b.log.contains("answered 503") && b.log.contains("ERROR: "),
        "{}",
        b.log
    );

    // Nothing reached the users: web still serves blue, at full size.
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");
    assert_eq!(replicas(&c, "web-blue"), 3);
    assert_eq!(image(&c, "web-blue"), "example/web:1.0");

    // Discord heard about the failure (once: the pipeline's own post { failure }
    // sees that the library announced it) and no success.
    let titles = discord.titles();
    let failures = titles
        .iter()
        .filter(|t| {
            t.contains("web: deployment failed") || t.contains("web: deployment rolled back")
        })
        .count();
    assert_eq!(failures, 1, "{titles:?}");
    assert!(!has_title(&discord, "web", "succeeded"), "{titles:?}");
    let failure = discord.bodies().last().cloned().unwrap().to_string();
    assert!(failure.contains("503"), "{failure}");
}

/// Green is healthy through the preview Service, but the active Service
/// fails its check right after the switch (an injected 503 on its proxy):
/// deploy-switch switches back at once, and Discord hears "rolled back".
#[test]
fn bluegreen_pipeline_rolls_back_when_the_switched_service_fails_its_check() {
    let c = TestCluster::demo();
    c.cluster().faults.add(
        kube_sandbox::faults::Fault::parse("status=503,resource=services/proxy,name=web")
            .expect("a fault spec"),
    );
    let discord = Discord::start();
    let b = run_pipeline(
        &c,
        &discord,
        "Jenkinsfile.bluegreen",
        44,
        &[
            ("DEPLOY_TIMEOUT", "60s"),
            ("HEALTH_TIMEOUT", "60s"),
            ("CHECK_TIMEOUT", "2s"),
            ("SCALE_DOWN_AFTER", "1s"),
        ],
    );
    b.assert_result(1, "FAILURE");
    b.assert_no_secrets();
    assert!(b.log.contains("rolled back to blue"), "{}", b.log);

    // Back on blue, which was never scaled down; green keeps the new image.
    let svc = c.get_json(&["svc", "web"]);
    assert_eq!(selected_color(&svc), "blue");
    assert_eq!(replicas(&c, "web-blue"), 3);
    assert_eq!(image(&c, "web-green"), b.image);
    let history = svc["metadata"]["annotations"]["switchyard.dev/history"]
        .as_str()
        .unwrap_or("");
    assert!(history.contains("rollback"), "{history}");

    let titles = discord.titles();
    assert_eq!(
        titles
            .iter()
            .filter(|t| t.contains("web: deployment rolled back"))
            .count(),
        1,
        "{titles:?}"
    );
    assert!(
        !has_title(&discord, "web", "failed") && !has_title(&discord, "web", "succeeded"),
        "{titles:?}"
    );
    let rolled_back = discord.bodies().last().cloned().unwrap().to_string();
    assert!(rolled_back.contains("green → blue"), "{rolled_back}");
}

#[test]
fn canary_pipeline_ramps_and_promotes() {
    let c = TestCluster::demo();
    let discord = Discord::start();
    let b = run_pipeline(
        &c,
        &discord,
        "Jenkinsfile.canary",
        7,
        &[("DEPLOY_TIMEOUT", "60s"), ("CANARY_PAUSE", "1s")],
    );
    b.assert_result(0, "SUCCESS");
    b.assert_no_secrets();
    let docker = b.docker_calls();
    assert!(docker.contains(&format!("push {}", b.image)), "{docker}");

    // Promoted: the stable Deployment runs the new image, all traffic is on
    // stable again and the canary is scaled to 0.
    assert_eq!(image(&c, "shop"), b.image, "{}", b.log);
    assert_eq!(
        weights(&c),
        vec![("shop".to_string(), 100), ("shop-canary".to_string(), 0)]
    );
    assert_eq!(replicas(&c, "shop-canary"), 0);
    for step in ["canary 0% → 10%", "canary 10% → 30%", "canary 30% → 100%"] {
        assert!(b.log.contains(step), "{step} missing from:\n{}", b.log);
    }
    assert!(
        has_title(&discord, "shop", "started") && has_title(&discord, "shop", "succeeded"),
        "{:?}",
        discord.titles()
    );
}

#[test]
fn canary_pipeline_aborts_to_weight_zero_when_the_canary_is_down() {
    let c = TestCluster::demo();
    annotate_template(&c, "shop-canary", "sandbox.switchyard.dev/health", "down");
    let discord = Discord::start();
    let b = run_pipeline(
        &c,
        &discord,
        "Jenkinsfile.canary",
        8,
        &[("DEPLOY_TIMEOUT", "60s"), ("CANARY_PAUSE", "1s")],
    );
    b.assert_result(1, "FAILURE");
    b.assert_no_secrets();

    // The ramp ran (10%), failed its gate, and put the weight back to 0; the
    // stable Deployment never changed and the canary is scaled down.
    assert!(
        b.log.contains("canary 0% → 10%") && b.log.contains("weight set back to 0"),
        "{}",
        b.log
    );
    assert_eq!(
        weights(&c),
        vec![("shop".to_string(), 100), ("shop-canary".to_string(), 0)]
    );
    assert_eq!(image(&c, "shop"), "example/shop:1.0");
    assert_eq!(image(&c, "shop-canary"), b.image);
    assert_eq!(replicas(&c, "shop-canary"), 0);

    let titles = discord.titles();
    assert!(has_title(&discord, "shop", "rolled back"), "{titles:?}");
    assert!(!has_title(&discord, "shop", "succeeded"), "{titles:?}");
}

// -- metric analysis (a real Prometheus, switchyard_e2e::prometheus) ---------

const CANARY_ANALYSIS: &str = "args: {threshold: \"0.05\"}\nmetrics:\n- name: error-rate\n  provider:\n    prometheus:\n      query: 'sum(rate(http_requests_total{app=\"{{app}}\",track=\"{{track}}\",status=~\"5..\"}[5s])) / sum(rate(http_requests_total{app=\"{{app}}\",track=\"{{track}}\"}[5s]))'\n  successCondition: result < {{args.threshold}}\n  interval: 500ms\n  count: 4\n";

/// Jenkinsfile.canary-analysis as build BUILD_NUMBER, its analysis file in the
/// workspace as the app's repository has it.
fn run_analysis_pipeline(
    c: &TestCluster,
    discord: &Discord,
    prometheus: &switchyard_e2e::prometheus::Prometheus,
    build_number: u32,
) -> Build {
    let workspace = c.dir.join(format!("workspace-{build_number}"));
    std::fs::create_dir_all(workspace.join("deploy")).unwrap();
    std::fs::write(workspace.join("deploy/analysis.yaml"), CANARY_ANALYSIS).unwrap();
    let image = format!("registry.example.com/shop/shop-frontend:{build_number}");
    run_pipeline(
        c,
        discord,
        "Jenkinsfile.canary-analysis",
        build_number,
        &[
            ("IMAGE", &image),
            ("CANARY_PAUSE", "2s"),
            ("DEPLOY_TIMEOUT", "60s"),
            ("PROMETHEUS", &prometheus.url()),
        ],
    )
}

#[test]
fn canary_analysis_pipeline_ramps_while_the_metrics_hold() {
    let c = TestCluster::demo();
    let p = switchyard_e2e::prometheus::Prometheus::start();
    let discord = Discord::start();
    let b = run_analysis_pipeline(&c, &discord, &p, 11);
    b.assert_result(0, "SUCCESS");
    b.assert_no_secrets();
    assert!(b.log.contains("--prometheus-token-env"), "{}", b.log);
    assert!(b.log.contains("analysis error-rate #"), "{}", b.log);
    assert_eq!(
        weights(&c),
        vec![("shop".to_string(), 0), ("shop-canary".to_string(), 100)]
    );
    let junit = std::fs::read_to_string(b.workspace.join("analysis.xml")).unwrap();
    assert!(junit.contains("name=\"error-rate\""), "{junit}");
}

#[test]
fn canary_analysis_pipeline_sets_the_weight_back_to_0_when_errors_rise() {
    let c = TestCluster::demo();
    let p = switchyard_e2e::prometheus::Prometheus::start();
    p.exporter
        .set(switchyard_e2e::prometheus::Traffic::Errors(30));
    p.wait_until(
        r#"sum(rate(http_requests_total{app="shop",track="canary",status=~"5.."}[5s])) / sum(rate(http_requests_total{app="shop",track="canary"}[5s]))"#,
        "the canary's error ratio above 5 %",
        |v| v > 0.05,
    );
    let discord = Discord::start();
    let b = run_analysis_pipeline(&c, &discord, &p, 12);
    b.assert_result(1, "FAILURE");
    b.assert_no_secrets();
    assert!(
        b.log.contains("analysis metric error-rate failed")
            && b.log.contains("weight set back to 0"),
        "{}",
        b.log
    );
    assert_eq!(
        weights(&c),
        vec![("shop".to_string(), 100), ("shop-canary".to_string(), 0)]
    );
    assert!(
        has_title(&discord, "shop", "rolled back"),
        "{:?}",
        discord.titles()
    );
}

// -- rolling updates: applyManifests and Jenkinsfile.rolling -----------------

/// A cluster whose tool identity may run deploy-apply (rbac/apply/apply-role.yaml),
/// with a ConfigMap an earlier build of shop/rolling applied and k8s/ no
/// longer has (a member of the apply set `shop-rolling`).
fn rolling_cluster() -> TestCluster {
    let c = TestCluster::start(kube_sandbox::Options {
        settings: switchyard_e2e::fast_settings(),
        ..Default::default()
    });
    kube_sandbox::server::apply_yaml(
        c.cluster(),
        &switchyard_e2e::rbac_manifest("apply/apply-role.yaml"),
    )
    .expect("rbac/apply/apply-role.yaml applies");
    c.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-legacy\n  labels: {switchyard.dev/apply-set: shop-rolling}\n",
    );
    c
}

/// The app's k8s/ directory (tests/testdata/apply/rolling) in the build's
/// workspace, its pod template crash-looping when `crash`.
fn rolling_workspace(c: &TestCluster, build_number: u32, crash: bool) {
    let k8s = c.dir.join(format!("workspace-{build_number}")).join("k8s");
    std::fs::create_dir_all(&k8s).unwrap();
    for f in ["api.yaml", "config.yaml"] {
        let mut text =
            std::fs::read_to_string(switchyard_e2e::testdata(&format!("apply/rolling/{f}")))
                .unwrap();
        if crash {
            text = text.replace(
                "      labels: {app: api}\n    spec:",
                "      labels: {app: api}\n      annotations:\n        sandbox.switchyard.dev/fail: crashloop\n    spec:",
            );
        }
        std::fs::write(k8s.join(f), text).unwrap();
    }
}

fn exists(c: &TestCluster, args: &[&str]) -> bool {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    c.kubectl(&all).status.success()
}

#[test]
fn rolling_pipeline_applies_k8s_with_the_new_image_waits_and_prunes() {
    let c = rolling_cluster();
    let discord = Discord::start();
    rolling_workspace(&c, 21, false);
    let b = run_pipeline(
        &c,
        &discord,
        "Jenkinsfile.rolling",
        21,
        &[("DEPLOY_TIMEOUT", "60s")],
    );
    b.assert_result(0, "SUCCESS");
    b.assert_no_secrets();
    let docker = b.docker_calls();
    assert!(
        docker.contains(&format!("build --pull -t {} .", b.image))
            && docker.contains(&format!("push {}", b.image)),
        "{docker}"
    );
    // Applied in order with the pushed image, rolled out, the old member pruned.
    for line in [
        "configmap/api-config created",
        "service/api created",
        "deployment.apps/api created",
        "deployment.apps/api rolled out",
        "configmap/api-legacy pruned",
    ] {
        assert!(b.log.contains(line), "{line} missing from:\n{}", b.log);
    }
    assert_eq!(image(&c, "api"), b.image);
    let d = c.get_json(&["deploy", "api"]);
    assert_eq!(d["status"]["availableReplicas"], 3, "{}", b.log);
    assert!(!exists(&c, &["configmap", "api-legacy"]), "{}", b.log);
    assert!(
        has_title(&discord, "api", "started") && has_title(&discord, "api", "succeeded"),
        "{:?}",
        discord.titles()
    );
    let success = discord.bodies().last().cloned().unwrap().to_string();
    assert!(
        success.contains("3 objects (created 3, pruned 1)"),
        "{success}"
    );
}

#[test]
fn rolling_pipeline_fails_naming_the_pod_and_prunes_nothing_when_it_crashloops() {
    let c = rolling_cluster();
    let discord = Discord::start();
    rolling_workspace(&c, 22, true);
    let b = run_pipeline(
        &c,
        &discord,
        "Jenkinsfile.rolling",
        22,
        &[("DEPLOY_TIMEOUT", "60s")],
    );
    b.assert_result(1, "FAILURE");
    b.assert_no_secrets();
    assert!(
        b.log.contains(
            "ERROR: apply of k8s/ failed: deployment.apps/api in default failed: pod api-"
        ) && b.log.contains("CrashLoopBackOff")
            && b.log.contains("nothing was pruned"),
        "{}",
        b.log
    );
    // The build failed before the prune: the old member is still there.
    assert!(exists(&c, &["configmap", "api-legacy"]));
    let titles = discord.titles();
    assert_eq!(
        titles
            .iter()
            .filter(|t| t.contains("api: deployment failed"))
            .count(),
        1,
        "{titles:?}"
    );
    assert!(!has_title(&discord, "api", "succeeded"), "{titles:?}");
}

/// applyManifests on its own: a directory with a broken file is bad input,
/// nothing is applied, and the build says so; a server dry run after it
/// changes nothing.
#[test]
fn apply_manifests_refuses_a_broken_directory_and_dry_runs() {
    let c = rolling_cluster();
    let workspace = c.dir.join("workspace-selftest");
    std::fs::create_dir_all(workspace.join("k8s")).unwrap();
    std::fs::write(
        workspace.join("k8s/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\nkind: ConfigMap\nmetadata:\n  name: no-api-version\n",
    )
    .unwrap();
    let jenkinsfile = c.dir.join("Jenkinsfile.apply");
    std::fs::write(
        &jenkinsfile,
        "pipeline {\n  agent any\n  stages {\n    stage('Dry run') {\n      steps {\n        script {\n          Map r = applyManifests(files: 'k8s/', dryRun: 'server', applySet: 'selftest')\n          echo \"dry run: ${r.objects} objects, ${r.created} created\"\n        }\n      }\n    }\n  }\n}\n",
    )
    .unwrap();
    let env = [("KUBECONFIG", c.kubeconfig.display().to_string())];
    let (code, log) = harness(&jenkinsfile, &workspace, &[bin_dir()], &env, &[]);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("apply of k8s/: bad input, nothing changed:")
            && log.contains("k8s/cm.yaml document 2: apiVersion is missing"),
        "{log}"
    );
    assert!(!exists(&c, &["configmap", "fine"]));

    std::fs::write(
        workspace.join("k8s/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n",
    )
    .unwrap();
    let (code, log) = harness(&jenkinsfile, &workspace, &[bin_dir()], &env, &[]);
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("configmap/fine created (server dry run)")
            && log.contains("dry run: 1 objects, 1 created")
            && log.contains("+++ merged/v1.ConfigMap.default.fine"),
        "{log}"
    );
    assert!(!exists(&c, &["configmap", "fine"]));
}

/// A field another manager owns is exit 4 from deploy-apply: applyManifests
/// reports a conflict and does not retry it as it retries a busy app.
#[test]
fn apply_manifests_reports_a_field_conflict_without_retrying() {
    let c = rolling_cluster();
    let workspace = c.dir.join("workspace-conflict");
    std::fs::create_dir_all(workspace.join("k8s")).unwrap();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\ndata:\n  level: info\n";
    std::fs::write(workspace.join("k8s/cm.yaml"), cm).unwrap();
    let jenkinsfile = c.dir.join("Jenkinsfile.conflict");
    std::fs::write(
        &jenkinsfile,
        "pipeline {\n  agent any\n  stages {\n    stage('Apply') {\n      steps {\n        applyManifests(files: 'k8s/', wait: false, applySet: 'conflict')\n      }\n    }\n  }\n}\n",
    )
    .unwrap();
    let env = [("KUBECONFIG", c.kubeconfig.display().to_string())];
    let (code, log) = harness(&jenkinsfile, &workspace, &[bin_dir()], &env, &[]);
    assert_eq!(code, Some(0), "{log}");
    c.kubectl_ok(&[
        "patch",
        "configmap",
        "owned",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"level":"debug"}}"#,
    ]);
    std::fs::write(workspace.join("k8s/cm.yaml"), cm.replace("info", "warn")).unwrap();
    let (code, log) = harness(&jenkinsfile, &workspace, &[bin_dir()], &env, &[]);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("apply of k8s/: conflict, a field is owned by another manager:")
            && log.contains(".data.level")
            && log.contains("--force-conflicts"),
        "{log}"
    );
    assert!(!log.contains("is busy"), "{log}");
    assert_eq!(
        c.get_json(&["configmap", "owned"])["data"]["level"],
        "debug"
    );
}

// -- rollingDeploy -------------------------------------------------------------

/// Deployment `api` (2 pods) behind Service `api`, for the rolling pipelines.
const ROLLING_APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - {name: api, image: "registry.example.com/shop/api:1", ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
"#;

/// A pipeline that releases `api` with rollingDeploy (`extra`: more of its
/// arguments), run as build BUILD_NUMBER of job shop/rolling.
fn run_rolling(c: &TestCluster, discord: &Discord, build_number: u32, extra: &str) -> Build {
    assert!(Path::new(env!("CARGO_BIN_EXE_deploy-rollout")).exists());
    let jenkinsfile = c.dir.join(format!("Jenkinsfile.rolling-{build_number}"));
    std::fs::write(
        &jenkinsfile,
        format!(
            r#"@Library('switchyard') _
pipeline {{
    agent any
    environment {{
        IMAGE = "registry.example.com/shop/api:${{BUILD_NUMBER}}"
    }}
    stages {{
        stage('Release') {{
            steps {{
                rollingDeploy(deployment: 'api', image: env.IMAGE, undoOnFailure: true,
                              healthPath: '/healthz', timeout: '60s',{extra}
                              notify: [provider: 'discord', credentialsId: 'discord-webhook'])
            }}
        }}
    }}
}}
"#
        ),
    )
    .expect("Jenkinsfile written");
    let workspace = c.dir.join(format!("workspace-{build_number}"));
    let credentials = c.dir.join("credentials.json");
    std::fs::write(
        &credentials,
        json!({ "discord-webhook": discord.url }).to_string(),
    )
    .expect("credentials written");
    let job = "shop/rolling";
    let (code, log) = harness(
        &jenkinsfile,
        &workspace,
        &[bin_dir()],
        &[
            ("KUBECONFIG", c.kubeconfig.display().to_string()),
            ("JOB_NAME", job.to_string()),
            ("BUILD_NUMBER", build_number.to_string()),
            (
                "BUILD_URL",
                format!("https://ci.example.com/job/{job}/{build_number}/"),
            ),
        ],
        &[
            "--credentials".to_string(),
            credentials.display().to_string(),
        ],
    );
    Build {
        code,
        log,
        workspace,
        image: format!("registry.example.com/shop/api:{build_number}"),
    }
}

#[test]
fn rolling_pipeline_rolls_the_image_out_and_tells_discord() {
    let c = TestCluster::demo();
    c.apply(ROLLING_APP);
    c.settle();
    let discord = Discord::start();
    let b = run_rolling(&c, &discord, 21, "");
    b.assert_result(0, "SUCCESS");
    b.assert_no_secrets();
    assert_eq!(image(&c, "api"), b.image, "{}", b.log);
    assert!(
        b.log.contains(&format!(
            "switchyard: api: {} rolled out (revision 2)",
            b.image
        )),
        "{}",
        b.log
    );
    assert!(
        has_title(&discord, "api", "started") && has_title(&discord, "api", "succeeded"),
        "{:?}",
        discord.titles()
    );
}

/// The new revision rolls out but its analysis fails: deploy-rollout puts
/// revision 1 back, and the pipeline fails telling Discord "rolled back".
#[test]
fn rolling_pipeline_rolls_back_when_the_new_revision_fails_its_analysis() {
    let c = TestCluster::demo();
    c.apply(ROLLING_APP);
    c.settle();
    let exporter = switchyard_e2e::prometheus::Exporter::start();
    exporter.set_health(false);
    let analysis = c.dir.join("smoke.yaml");
    std::fs::write(
        &analysis,
        format!(
            "metrics:\n- name: smoke\n  provider: {{web: {{url: '{}', jsonPath: '{{$.status}}'}}}}\n  successCondition: result == \"UP\"\n  consecutiveErrorLimit: 0\n",
            exporter.url("/health?app={{app}}")
        ),
    )
    .unwrap();
    let discord = Discord::start();
    let extra = format!(
        "\n                              analysis: '{}',",
        analysis.display()
    );
    let b = run_rolling(&c, &discord, 22, &extra);
    b.assert_result(1, "FAILURE");
    b.assert_no_secrets();
    assert!(
        b.log.contains("its analysis failed") && b.log.contains("rolled back to revision 1"),
        "{}",
        b.log
    );
    assert_eq!(image(&c, "api"), "registry.example.com/shop/api:1");
    let titles = discord.titles();
    assert!(has_title(&discord, "api", "rolled back"), "{titles:?}");
    assert!(!has_title(&discord, "api", "succeeded"), "{titles:?}");
    assert!(!has_title(&discord, "api", "failed"), "{titles:?}");
}
