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

/// Runs `cmd` to completion, killing it and failing the test after `limit`.
pub fn run_within(cmd: Command, limit: Duration) -> Output {
    Background::spawn(cmd).wait_within(limit)
}

/// A process running while the test does something else. Its stdout and
/// stderr are drained as it runs: a child whose output outgrows the pipe
/// buffer (64 KiB; `-v 9` gets there) would otherwise block on its writes.
pub struct Background {
    child: Option<Child>,
    readers: Option<(Drain, Drain)>,
}

type Drain = std::thread::JoinHandle<Vec<u8>>;

fn drain(mut from: impl std::io::Read + Send + 'static) -> Drain {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = from.read_to_end(&mut buf);
        buf
    })
}

impl Background {
    pub fn spawn(mut cmd: Command) -> Background {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
        let out = drain(child.stdout.take().expect("piped"));
        let err = drain(child.stderr.take().expect("piped"));
        Background {
            child: Some(child),
            readers: Some((out, err)),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Waits for the exit, then collects what the drains read.
    fn collect(&mut self, mut child: Child) -> Output {
        let status = child.wait().expect("waitable");
        let (out, err) = self.readers.take().expect("drains");
        Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }
    }

    /// Its output once it exits; killed (and the test failed) after `limit`.
    pub fn wait_within(mut self, limit: Duration) -> Output {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + limit;
        loop {
            if child.try_wait().expect("waitable").is_some() {
                return self.collect(child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = self.collect(child);
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
        self.collect(child)
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
    for res in c.cluster().types.all() {
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

/// A sandbox, a kubeconfig and an environment full of distinctive secrets
/// (bearer token, client key, webhook URLs, a BUILD_URL with a password),
/// and checks that none of them shows up anywhere: output, result and JUnit
/// files, objects, Events.
pub struct Planted {
    pub cluster: TestCluster,
    /// A kubeconfig with the token and a client certificate and key.
    pub kubeconfig: PathBuf,
    pub env: Vec<(String, String)>,
    secrets: Vec<String>,
    receiver: Receiver,
}

/// The bearer token of the planted kubeconfig.
pub const PLANTED_TOKEN: &str = "sandbox-admin-SECRETTOKEN-f3a9c71e";
/// The password in BUILD_URL.
pub const PLANTED_BUILD_PASSWORD: &str = "SECRETPW-b41d0c";
/// The token part of every webhook URL.
pub const PLANTED_HOOK: &str = "SECRETHOOK-9e27c1d8a4";

impl Planted {
    pub fn start() -> Planted {
        let cluster = TestCluster::start(Options {
            demo: true,
            settings: crate::fast_settings(),
            admin_token: Some(PLANTED_TOKEN.into()),
            ..Options::default()
        });
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = rcgen::CertificateParams::new(vec!["switchyard-ci".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("a certificate");
        let key_pem = key.serialize_pem();
        let key_data = b64(&key_pem);
        let user = format!(
            "    token: {PLANTED_TOKEN}\n    client-certificate-data: {}\n    client-key-data: {key_data}\n",
            b64(&cert.pem())
        );
        let text = cluster.sandbox().kubeconfig(None, "default");
        let needle = format!("    token: {PLANTED_TOKEN}\n");
        assert!(text.contains(&needle), "{text}");
        let kubeconfig = cluster.dir.join("kubeconfig-planted");
        kube_sandbox::kubeconfig::write(&kubeconfig, &text.replace(&needle, &user))
            .expect("kubeconfig written");
        let mut secrets = vec![
            PLANTED_TOKEN.to_string(),
            PLANTED_BUILD_PASSWORD.to_string(),
            PLANTED_HOOK.to_string(),
            key_data,
        ];
        // Every line of the key's PEM body, in case it is printed decoded.
        secrets.extend(
            key_pem
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                .map(String::from),
        );
        let receiver = Receiver::start();
        let base = format!("http://127.0.0.1:{}", receiver.port);
        let env = vec![
            ("JOB_NAME".into(), "deploy-web".into()),
            ("BUILD_NUMBER".into(), "7".into()),
            (
                "BUILD_URL".into(),
                format!(
                    "https://ci-bot:{PLANTED_BUILD_PASSWORD}@jenkins.example/job/deploy-web/7/"
                ),
            ),
            (
                "DISCORD_WEBHOOK".into(),
                format!("{base}/api/webhooks/1234/{PLANTED_HOOK}"),
            ),
            (
                "SLACK_WEBHOOK".into(),
                format!("{base}/services/T000/B000/{PLANTED_HOOK}"),
            ),
            (
                "TEAMS_WEBHOOK".into(),
                format!("{base}/webhookb2/x/IncomingWebhook/{PLANTED_HOOK}/y"),
            ),
            (
                "PLAIN_WEBHOOK".into(),
                format!("{base}/hook?token={PLANTED_HOOK}"),
            ),
            // The receiver always answers 500 here, echoing the path.
            (
                "FAILING_WEBHOOK".into(),
                format!("{base}/fail/{PLANTED_HOOK}"),
            ),
            (
                "USERINFO_WEBHOOK".into(),
                format!("http://hook:{PLANTED_HOOK}@127.0.0.1:{}/x", receiver.port),
            ),
        ];
        Planted {
            cluster,
            kubeconfig,
            env,
            secrets,
            receiver,
        }
    }

    /// Runs `bin` with the planted kubeconfig (unless `kube` is false) and
    /// environment, within a minute.
    pub fn run(&self, bin: &str, args: &[&str], kube: bool) -> Output {
        let mut cmd = Command::new(bin);
        cmd.env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if kube {
            cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        }
        cmd.args(args);
        run_within(cmd, Duration::from_secs(60))
    }

    /// Fails the test if `text` holds a planted secret.
    pub fn check(&self, what: &str, text: &str) {
        for s in &self.secrets {
            assert!(!text.contains(s.as_str()), "{what} leaks {s:?}:\n{text}");
        }
    }

    /// Checks stdout and stderr of a run.
    pub fn check_output(&self, what: &str, out: &Output) {
        let (o, e) = crate::texts(out);
        self.check(&format!("{what}: stdout"), &o);
        self.check(&format!("{what}: stderr"), &e);
    }

    /// Checks a file the run wrote, if it did.
    pub fn check_file(&self, what: &str, path: &Path) {
        if let Ok(text) = std::fs::read_to_string(path) {
            self.check(&format!("{what}: {}", path.display()), &text);
        }
    }

    /// Checks every object and Event in the sandbox.
    pub fn check_cluster(&self) {
        self.check("the sandbox's objects", &everything(&self.cluster));
    }

    /// Requests the webhook receiver got.
    pub fn webhook_requests(&self) -> usize {
        self.receiver
            .count
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A webhook receiver on 127.0.0.1: paths under `/fail` always get 500 with
/// the path echoed in the body (an answer that quotes the secret); others
/// get 500 and 204 in turn, so retries happen too.
struct Receiver {
    port: u16,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Receiver {
    fn start() -> Receiver {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("bound").port();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (n, halt) = (count.clone(), stop.clone());
        std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then Content-Length bytes of body.
                let (head, len) = loop {
                    let Ok(k) = s.read(&mut chunk) else {
                        break (String::new(), 0);
                    };
                    if k == 0 {
                        break (String::new(), 0);
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        while buf.len() < i + 4 + len {
                            match s.read(&mut chunk) {
                                Ok(0) | Err(_) => break,
                                Ok(k) => buf.extend_from_slice(&chunk[..k]),
                            }
                        }
                        break (head, len);
                    }
                };
                let _ = len;
                let path = head
                    .lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .unwrap_or("/")
                    .to_string();
                let i = n.fetch_add(1, Ordering::Relaxed);
                let reply = if path.starts_with("/fail") || i % 2 == 0 {
                    let body = format!("{{\"message\":\"no such hook {path}\"}}");
                    format!(
                        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n".to_string()
                };
                let _ = s.write_all(reply.as_bytes());
            }
        });
        Receiver { port, count, stop }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
