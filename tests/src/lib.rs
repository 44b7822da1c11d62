//! End-to-end harness: a kube-sandbox on its own runtime, and the real binaries
//! (kubectl, and Switchyard's own) run as processes against it, as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use kube_sandbox::{Cluster, Options, Sandbox, Settings};
use serde_json::Value;

/// A running sandbox with a kubeconfig on disk, owned by one test.
pub struct TestCluster {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    sandbox: Option<Sandbox>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// Settings that keep tests fast: pods are ready in 50 ms.
pub fn fast_settings() -> Settings {
    Settings {
        ready_delay: Duration::from_millis(50),
        crash_backoff: Duration::from_millis(200),
        ..Settings::default()
    }
}

impl TestCluster {
    /// Starts a sandbox, writes its kubeconfig, and waits for it to settle.
    pub fn start(opts: Options) -> TestCluster {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let sandbox = runtime.block_on(async {
            let s = Sandbox::start(opts).await.expect("sandbox starts");
            s.settle(Duration::from_secs(20))
                .await
                .expect("sandbox settles");
            s
        });
        let dir = std::env::temp_dir().join(format!(
            "switchyard-e2e-{}-{}",
            std::process::id(),
            sandbox.addr().port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let kubeconfig = dir.join("kubeconfig");
        sandbox
            .write_kubeconfig(&kubeconfig)
            .expect("kubeconfig written");
        TestCluster {
            dir,
            kubeconfig,
            sandbox: Some(sandbox),
            runtime: Some(runtime),
        }
    }

    /// The demo cluster: blue/green `web`, canary `shop`, all ready.
    pub fn demo() -> TestCluster {
        Self::start(Options {
            demo: true,
            settings: fast_settings(),
            ..Options::default()
        })
    }

    pub fn sandbox(&self) -> &Sandbox {
        self.sandbox.as_ref().expect("running")
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        self.sandbox().cluster()
    }

    /// Writes a kubeconfig for another token next to the admin one.
    pub fn kubeconfig_for(&self, token: &str) -> PathBuf {
        let path = self.dir.join(format!("kubeconfig-{token}"));
        kube_sandbox::kubeconfig::write(&path, &self.sandbox().kubeconfig(Some(token), "default"))
            .expect("kubeconfig written");
        path
    }

    /// Runs the installed kubectl against this sandbox, with a discovery cache of its own.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(&self.kubeconfig, args, None)
    }

    pub fn kubectl_with(&self, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.env("KUBECONFIG", kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.join("kube-cache"))
            .args(args);
        run(cmd, stdin)
    }

    /// kubectl that must succeed without a word on stderr; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        let (stdout, stderr) = texts(&out);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {stderr}{stdout}"
        );
        assert!(stderr.is_empty(), "kubectl {args:?} warned: {stderr}");
        stdout
    }

    /// `kubectl get -o json` of one object or list.
    pub fn get_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.kubectl_ok(&all)).expect("kubectl prints JSON")
    }

    /// Waits, bounded, until `pred` holds of `kubectl get ARGS -o json`.
    pub fn wait_for(&self, args: &[&str], what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.get_json(args);
            if pred(&v) {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {v}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        drop(self.sandbox.take());
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a command to completion, feeding `stdin` if given.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e} (is it installed?)", cmd.get_program()));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input.as_bytes())
            .expect("stdin written");
    }
    child.wait_with_output().expect("process finishes")
}

/// (stdout, stderr) as text.
pub fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A file under `tests/testdata`.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// A binary built by this workspace (`kube-sandbox`, `kubectl-bluegreen`, ...),
/// next to the test executables in the target directory.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` (cargo nextest run --workspace builds it)",
        path.display()
    );
    path
}
