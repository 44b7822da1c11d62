//! `kube-sandbox serve` as a user runs it: one line saying where, a kubeconfig
//! that works, `--apply` and `--fault` honoured, a clean stop on SIGTERM;
//! StatefulSets, DaemonSets and Jobs as the installed kubectl follows them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_kube-sandbox");

fn texts(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(name)
}

#[test]
fn serve_writes_kubeconfig_applies_manifests_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("sandbox-binary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("nested").join("kubeconfig");
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--ready-delay", "50ms", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--apply")
        .arg(testdata("app.yaml"))
        .args([
            "--fault",
            "status=503,verb=delete,resource=services,count=1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("kube-sandbox serving https://127.0.0.1:"),
        "{line}"
    );
    assert!(line.contains(&kubeconfig.display().to_string()), "{line}");
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(text.contains("certificate-authority-data:"));

    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .args(args)
            .output()
            .unwrap();
        texts(&out)
    };
    let (out, err) = kubectl(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    assert!(out.contains("successfully rolled out"), "{out}{err}");
    let (out, _) = kubectl(&["get", "deploy", "-o", "name"]);
    assert!(
        out.contains("deployment.apps/web-blue") && out.contains("deployment.apps/api"),
        "{out}"
    );
    let (_, err) = kubectl(&["delete", "svc", "api"]);
    assert!(
        err.contains("ServiceUnavailable") || err.contains("503") || err.contains("injected fault"),
        "{err}"
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kube-sandbox ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_arguments_are_refused_with_one_line() {
    let out = Command::new(BIN)
        .args(["serve", "--kubeconfig", "/tmp/x", "--fault", "status=200"])
        .output()
        .unwrap();
    let (_, err) = texts(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.starts_with("error: fault \"status=200\": status must be 400-599"),
        "{err}"
    );
    let missing = Command::new(BIN)
        .args([
            "serve",
            "--kubeconfig",
            "/tmp/x",
            "--apply",
            "/nonexistent.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        texts(&missing)
            .1
            .contains("reading manifest /nonexistent.yaml")
    );
}

/// A served sandbox, stopped when dropped (a failed assertion included).
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves with `args`, returning the child and its kubeconfig.
fn serve(dir: &std::path::Path, args: &[&str]) -> (Served, std::path::PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    let mut child = Command::new(BIN)
        .args(["serve", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("kube-sandbox serving"), "{line}");
    (Served(child), kubeconfig)
}

#[test]
fn kubectl_follows_statefulsets_daemonsets_and_jobs_and_undoes_a_statefulset() {
    let dir = std::env::temp_dir().join(format!("sandbox-workloads-{}", std::process::id()));
    let manifest = testdata("workloads.yaml");
    let (served, kubeconfig) = serve(
        &dir,
        &[
            "--nodes",
            "3",
            "--image-fail",
            "*:broken=crashloop",
            "--apply",
            manifest.to_str().unwrap(),
        ],
    );
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .args(args)
            .output()
            .expect("kubectl runs (install it: https://kubernetes.io/docs/tasks/tools/)");
        let (o, e) = texts(&out);
        (out.status.success(), o, e)
    };
    let (ok, out, err) = kubectl(&["rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(
        ok && out.contains("roll out complete: 3 new pods"),
        "{out}{err}"
    );
    let (ok, out, err) = kubectl(&["rollout", "status", "ds/agent", "--timeout=60s"]);
    assert!(
        ok && out.contains("daemon set \"agent\" successfully rolled out"),
        "{out}{err}"
    );
    let (ok, out, err) = kubectl(&[
        "wait",
        "--for=condition=complete",
        "job/migrate",
        "--timeout=60s",
    ]);
    assert!(ok && out.contains("condition met"), "{out}{err}");
    let (ok, out, err) = kubectl(&[
        "wait",
        "--for=condition=failed",
        "job/broken",
        "--timeout=60s",
    ]);
    assert!(ok && out.contains("condition met"), "{out}{err}");
    let (_, out, _) = kubectl(&[
        "get",
        "pods",
        "-l",
        "app=agent",
        "-o",
        "jsonpath={.items[*].spec.nodeName}",
    ]);
    let mut nodes: Vec<&str> = out.split_whitespace().collect();
    nodes.sort();
    assert_eq!(nodes, ["sandbox-node", "sandbox-node-2", "sandbox-node-3"]);

    // A new image, then `rollout undo` back through the ControllerRevisions.
    let (ok, _, err) = kubectl(&["set", "image", "sts/db", "db=example/db:2"]);
    assert!(ok, "{err}");
    let (ok, out, err) = kubectl(&["rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = kubectl(&["rollout", "undo", "sts/db"]);
    assert!(ok && out.contains("rolled back"), "{out}{err}");
    let (ok, out, err) = kubectl(&["rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(ok, "{out}{err}");
    let (_, out, _) = kubectl(&[
        "get",
        "sts",
        "db",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image} {.status.currentRevision} {.status.updateRevision}",
    ]);
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fields[0], "example/db:1", "{out}");
    assert_eq!(fields[1], fields[2], "{out}");
    let (_, out, _) = kubectl(&[
        "get",
        "controllerrevisions",
        "-o",
        "custom-columns=NAME:.metadata.name,REV:.revision",
        "--no-headers",
    ]);
    let revs: Vec<&str> = out.lines().filter(|l| l.starts_with("db-")).collect();
    assert_eq!(revs.len(), 2, "{out}");
    assert!(
        revs.iter()
            .any(|l| l.starts_with(fields[1]) && l.ends_with(" 3")),
        "the undone revision is renumbered 3: {out}"
    );
    let (ok, out, err) = kubectl(&["get", "sts,ds,job,controllerrevisions"]);
    assert!(ok, "{err}");
    for want in [
        "statefulset.apps/db",
        "daemonset.apps/agent",
        "job.batch/migrate",
        "Complete",
        "Failed",
        "statefulset.apps/db",
    ] {
        assert!(out.contains(want), "{want} in {out}");
    }
    // A rollout to an image that crash-loops does not finish.
    kubectl(&["set", "image", "sts/db", "db=example/db:broken"]);
    let (ok, out, err) = kubectl(&["rollout", "status", "sts/db", "--timeout=3s"]);
    assert!(!ok && err.contains("timed out"), "{out}{err}");

    drop(served);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_image_fail_or_nodes_value_is_a_usage_error_naming_the_flag() {
    for (args, want) in [
        (["--image-fail", "x=explode"], "--image-fail"),
        (["--image-fail", "nomode"], "is not GLOB=MODE"),
        (["--image-fail", "=oom"], "the image glob is empty"),
        (["--nodes", "0"], "--nodes"),
    ] {
        let out = Command::new(BIN)
            .args(["serve", "--kubeconfig", "/tmp/x"])
            .args(args)
            .output()
            .unwrap();
        let (_, err) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: invalid value"), "{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let (out, _) = texts(&help);
    assert!(
        out.contains("--image-fail <GLOB=MODE>") && out.contains("--nodes <N>"),
        "{out}"
    );
}
