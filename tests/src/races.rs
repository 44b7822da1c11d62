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
        let kubeconfig = self.kubeconfig.clone();
        let ns = ns.to_string();
        let events = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
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
                let _ = ready_tx.send(Ok(()));
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
        match ready_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the watch did not start: {e}"),
            Err(_) => panic!("the watch did not start within 20 s"),
        }
        Recorder {
            events,
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
                    evs.iter().any(|e| {
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
                    "process {} did not finish in time; stderr: {}",
                    child_id_note(&out),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn child_id_note(out: &Output) -> String {
    format!("(status {:?})", out.status)
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
    /// A Switchyard binary as `run_bin` runs it, but not started: for tests
    /// that spawn several at once or signal one.
    pub fn command(&self, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .env_remove("BUILD_URL")
            .env_remove("JOB_NAME")
            .env_remove("BUILD_NUMBER")
            .envs(env.iter().copied())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args);
        cmd
    }

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
