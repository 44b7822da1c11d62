//! `kube-sandbox serve --token TOKEN=USER`: a user judged by the RBAC objects
//! applied with `--apply`, here the shipped `rbac/` manifests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_kube-sandbox");
const SA: &str = "system:serviceaccount:ci:switchyard";

fn rbac(file: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rbac")
        .join(file)
        .display()
        .to_string()
}

#[test]
fn a_token_bound_by_the_shipped_role_may_do_what_it_grants_only() {
    let dir = std::env::temp_dir().join(format!("sandbox-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--token", &format!("ci-token={SA}")])
        .args(["--apply", &rbac("serviceaccount.yaml")])
        .args(["--apply", &rbac("role.yaml")])
        .args(["--apply", &rbac("clusterrole.yaml")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("kube-sandbox serving"), "{line}");
    let kubectl = |args: &[&str]| {
        Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .args(["--token", "ci-token", "--request-timeout", "10s"])
            .args(args)
            .output()
            .unwrap()
    };
    // The Role (applied to `default`, having no namespace of its own) grants list.
    let list = kubectl(&["get", "services", "-o", "name"]);
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(listed.contains("service/web"), "{listed}");
    // ...but not delete.
    let delete = kubectl(&["delete", "service", "web"]);
    assert!(!delete.status.success());
    let err = String::from_utf8_lossy(&delete.stderr).into_owned();
    assert!(
        err.contains(&format!("services \"web\" is forbidden: User \"{SA}\" cannot delete resource \"services\" in API group \"\" in the namespace \"default\"")),
        "{err}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kube-sandbox ignored SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_token_without_a_user_is_a_usage_error() {
    let out = Command::new(BIN)
        .args(["serve", "--kubeconfig", "/tmp/x", "--token", "just-a-token"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("\"just-a-token\" is not TOKEN=USER"), "{err}");
}
