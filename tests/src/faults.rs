//! Helpers for fault tests: injected faults, the sandbox's request log,
//! processes with a deadline or in the background, and a sandbox that can be
//! killed and started again on the same port with the same CA and token.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kube_sandbox::Options;
use serde_json::Value;

use crate::TestCluster;

/// A number no other call in this process returns: names of temp dirs.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Adds a fault (spec as in `kube_sandbox::faults`) to a running sandbox.
pub fn fault(c: &TestCluster, spec: &str) {
    c.cluster()
        .faults
        .add(kube_sandbox::faults::Fault::parse(spec).expect("a valid fault spec"));
}

/// The sandbox's request log, oldest first: `GET /api/v1/...?k=v&...`.
pub fn request_log(c: &TestCluster) -> Vec<String> {
    c.cluster().requests.snapshot()["log"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A Switchyard binary set up as `TestCluster::run_bin` sets it up, not started.
pub fn command(c: &TestCluster, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .env_remove("BUILD_URL")
        .env_remove("JOB_NAME")
        .env_remove("BUILD_NUMBER")
        .envs(env.iter().copied())
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .args(args);
    cmd
}

/// Runs `cmd` to completion, killing it and failing the test after `limit`.
pub fn run_within(cmd: Command, limit: Duration) -> Output {
    Background::spawn(cmd).wait_within(limit)
}

/// A process running while the test does something else.
pub struct Background {
    child: Option<Child>,
}

impl Background {
    pub fn spawn(mut cmd: Command) -> Background {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
        Background { child: Some(child) }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Its output once it exits; killed (and the test failed) after `limit`.
    pub fn wait_within(mut self, limit: Duration) -> Output {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + limit;
        loop {
            if child.try_wait().expect("waitable").is_some() {
                return child.wait_with_output().expect("output");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "still running after {limit:?}; killed. stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as the OOM killer or a lost agent does: no handler runs.
    pub fn kill9(mut self) -> Output {
        let mut child = self.child.take().expect("running");
        child.kill().expect("killed");
        child.wait_with_output().expect("output")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `pred` every 20 ms until it holds; fails the test after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A sandbox that can be killed (its runtime shut down: listener and every
/// connection gone, as with SIGKILL) and started again on the same port,
/// with the same CA, serving certificate and admin token, so the kubeconfig
/// written for the first is valid for the second. Its state starts over.
pub struct Restartable {
    pub cluster: Option<TestCluster>,
    opts: Options,
    tls_dir: PathBuf,
}

impl Restartable {
    pub fn start(opts: Options) -> Restartable {
        let tls_dir = std::env::temp_dir().join(format!(
            "switchyard-e2e-tls-{}-{}",
            std::process::id(),
            unique()
        ));
        let opts = Options {
            tls_dir: Some(tls_dir.clone()),
            admin_token: Some(format!("sandbox-admin-restartable-{}", unique())),
            ..opts
        };
        let cluster = TestCluster::start(opts.clone());
        let port = cluster.sandbox().addr().port();
        Restartable {
            cluster: Some(cluster),
            opts: Options { port, ..opts },
            tls_dir,
        }
    }

    pub fn cluster(&self) -> &TestCluster {
        self.cluster.as_ref().expect("running")
    }

    /// The kubeconfig of the running (or last) sandbox.
    pub fn kubeconfig(&self) -> &Path {
        &self.cluster().kubeconfig
    }

    pub fn kill(&mut self) {
        drop(self.cluster.take());
    }

    pub fn restart(&mut self) {
        assert!(self.cluster.is_none(), "killed first");
        self.cluster = Some(TestCluster::start(self.opts.clone()));
    }
}

impl Drop for Restartable {
    fn drop(&mut self) {
        drop(self.cluster.take());
        let _ = std::fs::remove_dir_all(&self.tls_dir);
    }
}

/// Every object the sandbox holds, in every namespace, as JSON text: what a
/// secret must not appear in.
pub fn everything(c: &TestCluster) -> String {
    let mut all = Vec::new();
    for res in kube_sandbox::resources::RESOURCES.iter() {
        for o in c.cluster().store.list(res, None).0 {
            all.push((*o).clone());
        }
    }
    Value::Array(all).to_string()
}

/// Moves a Lease's renewTime `secs` into the past (and its acquireTime
/// twice as far), through the API as an admin would: as if its holder had
/// stopped renewing that long ago.
pub fn backdate_lease(c: &TestCluster, name: &str, secs: i64) {
    let ago = |secs: i64| {
        jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(secs))
            .expect("a time in range")
            .strftime("%Y-%m-%dT%H:%M:%S.000000Z")
            .to_string()
    };
    let patch = serde_json::json!({
        "spec": { "acquireTime": ago(2 * secs), "renewTime": ago(secs) }
    });
    c.kubectl_ok(&[
        "patch",
        "lease",
        name,
        "--type",
        "merge",
        "-p",
        &patch.to_string(),
    ]);
}
