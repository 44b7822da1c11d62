//! Helpers for race and signal tests: a watch that records every state of a
//! namespace's objects of one kind, processes spawned at once, and signals.

use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, WatchEvent, WatchParams};
use serde_json::Value;

use crate::TestCluster;

/// One watch event: `ADDED`, `MODIFIED` or `DELETED`, and the object as sent.
#[derive(Clone, Debug)]
pub struct Seen {
    pub kind: &'static str,
    pub object: Value,
}

impl Seen {
    /// The object's name.
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or("")
    }
}

/// A watch running on its own thread, recording every event in order.
pub struct Recorder {
    events: Arc<Mutex<Vec<Seen>>>,
    /// The resourceVersion the watch started from: objects not changed
    /// since need no event.
    start: u64,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

/// What to watch: group ("" for core), version, kind, plural.
pub type Kind<'a> = (&'a str, &'a str, &'a str, &'a str);

fn api_resource((group, version, kind, plural): Kind<'_>) -> ApiResource {
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.to_string(),
        plural: plural.to_string(),
    }
}

impl TestCluster {
    /// Starts a kube-rs watch on every object of `kind` in `ns` and returns
    /// once it is established, so nothing written afterwards is missed.
    pub fn record(&self, kind: Kind<'_>, ns: &str) -> Recorder {
        let ar = api_resource(kind);
        let kubeconfig = self.admin_kubeconfig.clone();
        let ns = ns.to_string();
        let events = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<u64, String>>();
        let sink = events.clone();
        let thread = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let setup = async {
                    let kc = kube::config::Kubeconfig::read_from(&kubeconfig)
                        .map_err(|e| e.to_string())?;
                    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                        .await
                        .map_err(|e| e.to_string())?;
                    let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
                    let api: Api<DynamicObject> = Api::namespaced_with(client, &ns, &ar);
                    let list = api
                        .list(&ListParams::default())
                        .await
                        .map_err(|e| e.to_string())?;
                    let rv = list.metadata.resource_version.unwrap_or_default();
                    let stream = api
                        .watch(&WatchParams::default(), &rv)
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>((api, rv, stream))
                };
                let (api, mut rv, stream) = match setup.await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                let _ = ready_tx.send(Ok(rv.parse().unwrap_or(0)));
                let mut stream = Box::pin(stream);
                loop {
                    let next = tokio::select! {
                        _ = &mut stopped => return Ok(()),
                        n = stream.try_next() => n.map_err(|e| e.to_string())?,
                    };
                    let Some(ev) = next else {
                        // The server ended the watch: resume where it stopped.
                        stream = Box::pin(
                            api.watch(&WatchParams::default(), &rv)
                                .await
                                .map_err(|e| e.to_string())?,
                        );
                        continue;
                    };
                    let (kind, obj) = match ev {
                        WatchEvent::Added(o) => ("ADDED", o),
                        WatchEvent::Modified(o) => ("MODIFIED", o),
                        WatchEvent::Deleted(o) => ("DELETED", o),
                        WatchEvent::Bookmark(b) => {
                            rv = b.metadata.resource_version;
                            continue;
                        }
                        WatchEvent::Error(e) => return Err(format!("watch error: {e:?}")),
                    };
                    rv = obj.metadata.resource_version.clone().unwrap_or(rv);
                    let object = serde_json::to_value(&obj).map_err(|e| e.to_string())?;
                    sink.lock().unwrap().push(Seen { kind, object });
                }
            })
        });
        let start = match ready_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(rv)) => rv,
            Ok(Err(e)) => panic!("the watch did not start: {e}"),
            Err(_) => panic!("the watch did not start within 20 s"),
        };
        Recorder {
            events,
            start,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Recorder {
    /// Waits (20 s at most) until the watch has delivered the current
    /// resourceVersion of every object in `current` (name → resourceVersion),
    /// then stops it and returns every event in order.
    pub fn finish(mut self, current: &[(String, String)]) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let done = {
                let evs = self.events.lock().unwrap();
                current.iter().all(|(name, rv)| {
                    rv.parse::<u64>().is_ok_and(|v| v <= self.start)
                        || evs.iter().any(|e| {
                            e.name() == name && e.object["metadata"]["resourceVersion"] == **rv
                        })
                })
            };
            if done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the watch never delivered {current:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop_thread();
        self.events.lock().unwrap().clone()
    }

    fn stop_thread(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the watch failed: {e}"),
                Err(_) => panic!("the watch thread panicked"),
            }
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Spawns every command before waiting for any, then waits for all, each
/// bounded by `limit` (killed and reported past it).
pub fn run_all(cmds: Vec<Command>, limit: Duration) -> Vec<Output> {
    let children: Vec<Child> = cmds
        .into_iter()
        .map(|mut c| {
            c.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawns")
        })
        .collect();
    let deadline = Instant::now() + limit;
    children
        .into_iter()
        .map(|child| wait_bounded(child, deadline))
        .collect()
}

/// Waits for `child` until `deadline`; past it, kills it and fails the test.
pub fn wait_bounded(mut child: Child, deadline: Instant) -> Output {
    loop {
        match child.try_wait().expect("waitable") {
            Some(_) => return child.wait_with_output().expect("output"),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "a process did not finish in time; stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Sends `signal` (`TERM`, `INT`) to a child process.
pub fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -{signal} {}", child.id());
}

impl TestCluster {
    /// Whether the app's Lease `switchyard-APP` exists in `ns`.
    pub fn lease_held(&self, ns: &str, app: &str) -> bool {
        self.object(
            "coordination.k8s.io",
            "leases",
            ns,
            &format!("switchyard-{app}"),
        )
        .is_some()
    }

    /// Waits (20 s at most) until `pred` holds of the sandbox's state.
    pub fn poll(&self, what: &str, pred: impl Fn(&TestCluster) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pred(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A process under test whose stderr is collected as it comes, so a test can
/// wait for it to reach a point before signalling it.
pub struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Running {
    /// Spawns `cmd` with stdout discarded and stderr collected.
    pub fn spawn(mut cmd: Command) -> Running {
        use std::io::Read;
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        let mut pipe = child.stderr.take().expect("piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Running {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (20 s at most) until its stderr contains `text`.
    pub fn wait_for_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.stderr().contains(text) {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                panic!(
                    "exited ({status}) before printing {text:?}: {}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "never printed {text:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig` (`TERM`, `INT`) and waits for the exit, at most `limit`
    /// (killed and failed past it). Returns the exit code and all of stderr.
    pub fn stop(mut self, sig: &str, limit: Duration) -> (Option<i32>, String) {
        signal(&self.child, sig);
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("waitable") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("no exit within {limit:?} of SIG{sig}: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status.code(), self.stderr())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that failed half-way leaves no process behind.
        if self.reader.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The signals an operation must stop cleanly on: name for `kill`, exit
/// code, and the word its error line uses.
pub const SIGNALS: [(&str, i32, &str); 2] =
    [("TERM", 143, "terminated"), ("INT", 130, "interrupted")];

impl TestCluster {
    /// Makes a switch's verification hang: every EndpointSlice LIST answers
    /// after a minute, so a switch sits between its writes and its end.
    pub fn stall_endpointslice_lists(&self) {
        self.cluster().faults.add(
            kube_sandbox::faults::Fault::parse("latency=60s,verb=list,resource=endpointslices")
                .expect("a fault spec"),
        );
    }

    /// The colors Service `APP` and `APP-preview` select in `ns`, asserting
    /// they differ: the consistent state every switch leaves.
    pub fn consistent_colors(&self, ns: &str, app: &str) -> (String, String) {
        let svc = self.object("", "services", ns, app).expect("the Service");
        let preview = self
            .object("", "services", ns, &format!("{app}-preview"))
            .expect("the preview Service");
        let (a, p) = (crate::selected_color(&svc), crate::selected_color(&preview));
        assert!(a == "blue" || a == "green", "Service {app} selects {a:?}");
        assert!(p == "blue" || p == "green", "{app}-preview selects {p:?}");
        assert_ne!(a, p, "Service {app} and its preview select the same color");
        (a, p)
    }
}

/// The shape of every refusal: stderr is exactly one `error: …` line,
/// optionally followed by one `hint: …` line (a step's log prefix
/// `[time] step: ` allowed). Returns the error line without the prefix.
pub fn one_error(stderr: &str) -> String {
    let strip = |l: &str| -> String {
        match l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((_, rest)) => rest.split_once(": ").map_or(rest, |(_, m)| m).to_string(),
            None => l.to_string(),
        }
    };
    let lines: Vec<String> = stderr.lines().map(strip).collect();
    let shaped = match lines.as_slice() {
        [e] => e.starts_with("error: "),
        [e, h] => e.starts_with("error: ") && h.starts_with("hint: "),
        _ => false,
    };
    assert!(
        shaped,
        "stderr is not one error line (and a hint):\n{stderr}"
    );
    lines[0].clone()
}

impl TestCluster {
    /// A Switchyard binary with `args` only (no `--kubeconfig` added), no
    /// KUBECONFIG and no Jenkins variables: for kubeconfig cases.
    pub fn command_bare(&self, bin: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .env_remove("BUILD_URL")
            .env_remove("JOB_NAME")
            .env_remove("BUILD_NUMBER")
            .args(args);
        cmd
    }

    /// resourceVersion of every object in `namespaces`, by `ns/kind/name`.
    pub fn snapshot(&self, namespaces: &[&str]) -> std::collections::BTreeMap<String, String> {
        namespaces
            .iter()
            .flat_map(|ns| {
                self.versions(ns)
                    .into_iter()
                    .map(move |(k, v)| (format!("{ns}/{k}"), v))
            })
            .collect()
    }

    /// Runs one bad-input case: exit `code`, nothing on stdout, one error
    /// line containing `says` (and maybe a hint), every object in
    /// `namespaces` unchanged, and no Lease left there.
    pub fn refuses(&self, mut cmd: Command, code: i32, says: &str, namespaces: &[&str]) {
        let what = format!("{:?}", cmd.get_args().collect::<Vec<_>>());
        let before = self.snapshot(namespaces);
        let out = crate::run(
            {
                cmd.stdin(Stdio::null());
                cmd
            },
            None,
        );
        let (stdout, stderr) = crate::texts(&out);
        assert_eq!(out.status.code(), Some(code), "{what}: exit code\n{stderr}");
        assert!(stdout.is_empty(), "{what}: stdout {stdout}");
        let err = one_error(&stderr);
        eprintln!("{what} → {code}: {}", stderr.trim_end());
        assert!(err.contains(says), "{what}: {err}");
        let after = self.snapshot(namespaces);
        assert_eq!(after, before, "{what} changed something");
        assert!(
            !after.keys().any(|k| k.contains("/leases/")),
            "{what} left a Lease"
        );
    }

    /// Kubeconfigs that cannot work, next to the good one: (`missing`: no
    /// such file, `garbage`: not YAML, `closed`: a port nobody listens on).
    pub fn bad_kubeconfigs(&self) -> (String, String, String) {
        let missing = self.dir.join("no-such-kubeconfig");
        let garbage = self.dir.join("garbage-kubeconfig");
        std::fs::write(&garbage, "{{{ this: is: not: [yaml\n\t- at all").expect("written");
        // A port that was free a moment ago: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let closed = self.dir.join("closed-kubeconfig");
        let text = std::fs::read_to_string(&self.kubeconfig).expect("kubeconfig");
        let ours = self.sandbox().addr().port().to_string();
        std::fs::write(&closed, text.replace(&ours, &port.to_string())).expect("written");
        let s = |p: std::path::PathBuf| p.to_str().expect("utf-8").to_string();
        (s(missing), s(garbage), s(closed))
    }
}
