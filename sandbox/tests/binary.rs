//! `kube-sandbox serve` as a user runs it: one line saying where, a kubeconfig
//! that works, `--apply` and `--fault` honoured, a clean stop on SIGTERM.

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
