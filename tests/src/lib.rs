//! End-to-end harness: a kube-sandbox on its own runtime, and the real binaries
//! (kubectl, and Switchyard's own) run as processes against it, as a user runs them.
//!
//! Switchyard's binaries run with least privilege: as the `switchyard` service
//! account, bound by the shipped `rbac/` manifests (read from the repository,
//! not copied), in every namespace of the cluster. The tests' own setup and
//! inspection (`kubectl`, `get_json`, `apply`, the store) keep the admin token.

pub mod faults;
pub mod prometheus;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use kube_sandbox::{Cluster, Options, Sandbox, Settings};

mod races;
pub use races::{Recorder, Running, SIGNALS, Seen, one_error, run_all, signal, wait_bounded};
use serde_json::Value;

/// The user Switchyard's binaries run as in the e2e tests: the service account
/// of `rbac/serviceaccount.yaml`.
pub const TOOL_USER: &str = "system:serviceaccount:ci:switchyard";

/// The bearer token of `TOOL_USER`.
pub const TOOL_TOKEN: &str = "switchyard-ci-token";

/// A running sandbox with kubeconfigs on disk, owned by one test.
pub struct TestCluster {
    pub dir: PathBuf,
    /// What Switchyard's binaries connect with (`run_bin`, `kubectl_plugin`, and
    /// any test that runs a binary itself): `TOOL_USER`'s token, which may do only
    /// what `rbac/` grants.
    pub kubeconfig: PathBuf,
    /// The admin's, for the tests' own setup and inspection (`kubectl`).
    pub admin_kubeconfig: PathBuf,
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
    /// Starts a sandbox, applies `rbac/` (the Role in every namespace), writes
    /// the tool and admin kubeconfigs, and waits for it to settle.
    pub fn start(mut opts: Options) -> TestCluster {
        if !opts.users.iter().any(|(t, _)| t == TOOL_TOKEN) {
            opts.users.push((TOOL_TOKEN.into(), TOOL_USER.into()));
        }
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
        let admin_kubeconfig = dir.join("kubeconfig-admin");
        sandbox
            .write_kubeconfig(&admin_kubeconfig)
            .expect("kubeconfig written");
        let kubeconfig = dir.join("kubeconfig");
        kube_sandbox::kubeconfig::write(
            &kubeconfig,
            &sandbox.kubeconfig(Some(TOOL_TOKEN), "default"),
        )
        .expect("kubeconfig written");
        let c = TestCluster {
            dir,
            kubeconfig,
            admin_kubeconfig,
            sandbox: Some(sandbox),
            runtime: Some(runtime),
        };
        for file in ["serviceaccount.yaml", "clusterrole.yaml"] {
            kube_sandbox::server::apply_yaml(c.cluster(), &rbac_manifest(file))
                .unwrap_or_else(|e| panic!("rbac/{file} applies: {e:#}"));
        }
        c.grant_namespaces();
        c
    }

    /// Applies `rbac/role.yaml` (Role + RoleBinding) in every namespace that
    /// does not have it yet, as `kubectl apply -n NS -f rbac/role.yaml` would:
    /// the tools may act wherever the tests put an app.
    pub fn grant_namespaces(&self) {
        let role = rbac_manifest("role.yaml");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&role).expect("rbac/role.yaml is YAML");
        let roles = kube_sandbox::resources::find("rbac.authorization.k8s.io", "v1", "roles")
            .expect("roles are served");
        let namespaces =
            kube_sandbox::resources::find("", "v1", "namespaces").expect("namespaces are served");
        for ns in self.cluster().store.list(namespaces, None).0 {
            let ns = ns["metadata"]["name"].as_str().unwrap_or("");
            if self.cluster().store.get(roles, ns, "switchyard").is_some() {
                continue;
            }
            for doc in docs.iter().filter(|d| d.is_object()) {
                let mut doc = doc.clone();
                doc["metadata"]["namespace"] = Value::from(ns);
                kube_sandbox::api::objects::apply_manifest(self.cluster(), doc)
                    .unwrap_or_else(|e| panic!("rbac/role.yaml applies in {ns}: {}", e.message));
            }
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

    /// The demo cluster with the other writers of a real one: the status of
    /// every Deployment, HTTPRoute, Ingress and VirtualService rewritten
    /// every 20 ms (a Gateway controller, ingress-nginx, Istio, an operator),
    /// each write bumping its resourceVersion.
    pub fn demo_with_status_writers() -> TestCluster {
        let c = Self::demo();
        c.add_status_writers(Duration::from_millis(20));
        c
    }

    /// Starts the status writers (see [`TestCluster::demo_with_status_writers`]).
    pub fn add_status_writers(&self, every: Duration) {
        for res in ["deployments", "httproutes", "ingresses", "virtualservices"] {
            let spec = format!("status-writer={res},interval={}ms", every.as_millis());
            self.cluster()
                .faults
                .add(kube_sandbox::faults::Fault::parse(&spec).expect("a valid writer"));
        }
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

    /// Takes `verb` on `resource` (`plural` or `plural/sub`) of API group
    /// `group` out of the tools' Role in `ns`, as an operator with a too-small
    /// Role has it. Panics if the Role does not grant it, so a test cannot
    /// revoke what was never there.
    pub fn revoke(&self, ns: &str, group: &str, resource: &str, verb: &str) {
        let roles = kube_sandbox::resources::find("rbac.authorization.k8s.io", "v1", "roles")
            .expect("roles are served");
        let mut role = self
            .cluster()
            .store
            .get(roles, ns, "switchyard")
            .map(|r| (*r).clone())
            .unwrap_or_else(|| panic!("no Role switchyard in {ns}"));
        let is = |v: &Value, want: &str| v.as_array().is_some_and(|a| a.iter().any(|x| x == want));
        let mut revoked = false;
        for rule in role["rules"].as_array_mut().expect("rules") {
            if is(&rule["apiGroups"], group) && is(&rule["resources"], resource) {
                let verbs = rule["verbs"].as_array_mut().expect("verbs");
                let before = verbs.len();
                verbs.retain(|v| v != verb);
                revoked |= verbs.len() < before;
            }
        }
        assert!(revoked, "the Role in {ns} does not grant {verb} {resource}");
        kube_sandbox::api::objects::apply_manifest(self.cluster(), role).expect("Role updated");
    }

    /// Runs the installed kubectl as the admin against this sandbox, with a
    /// discovery cache of its own.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(&self.admin_kubeconfig, args, None)
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

/// A manifest of the shipped `rbac/` directory, as a user applies it.
pub fn rbac_manifest(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rbac")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file under `tests/testdata`.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

impl TestCluster {
    /// Runs a Switchyard binary (`env!("CARGO_BIN_EXE_...")` of the calling
    /// test crate) against this sandbox: `--kubeconfig` set, no inherited
    /// KUBECONFIG, Jenkins variables cleared unless given.
    pub fn run_bin(&self, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        run(self.command(bin, args, env), None)
    }

    /// A Switchyard binary as `run_bin` runs it, but not started: for tests
    /// that spawn several at once, signal one, or bound its time.
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

    /// The installed kubectl, with the directory of `plugin` on PATH, as a user
    /// who installed the plugin has it.
    pub fn kubectl_plugin(&self, plugin: &str, args: &[&str]) -> Output {
        let bin_dir = Path::new(plugin)
            .parent()
            .expect("in a directory")
            .to_path_buf();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("kubectl");
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .args(args);
        run(cmd, None)
    }

    /// A fingerprint of every object in `ns`, by `kind/name`: what "nothing
    /// changed" is checked against. It covers what clients write (metadata
    /// and spec) and leaves out `status` and the resourceVersion, which the
    /// other writers of a real cluster move by themselves (the status
    /// writers, a controller's status updates); our tools never write status.
    /// Pods, EndpointSlices and Endpoints (controllers write them): only which exist.
    pub fn versions(&self, ns: &str) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        // Every served type, those of CRDs (HTTPRoutes, VirtualServices) included.
        for res in self
            .cluster()
            .types
            .all()
            .into_iter()
            .filter(|r| r.namespaced)
        {
            for o in self.cluster().store.list(res, Some(ns)).0 {
                let key = format!(
                    "{}/{}",
                    res.plural,
                    o["metadata"]["name"].as_str().unwrap_or("")
                );
                // A pod's status moves by itself (a crash-looping container
                // restarts), and the EndpointSlice controller rewrites
                // EndpointSlices and Endpoints as pods come and go, up to
                // `endpoints_delay` after them; our tools write none of these,
                // so only which exist counts.
                let fingerprint = match res.plural {
                    "pods" | "endpointslices" | "endpoints" => "-".to_string(),
                    _ => {
                        let mut o = (*o).clone();
                        if let Some(m) = o.as_object_mut() {
                            m.remove("status");
                        }
                        if let Some(m) = o["metadata"].as_object_mut() {
                            m.remove("resourceVersion");
                            m.remove("managedFields");
                        }
                        use std::hash::{Hash, Hasher};
                        let mut h = std::collections::hash_map::DefaultHasher::new();
                        o.to_string().hash(&mut h);
                        format!("{:016x}", h.finish())
                    }
                };
                out.insert(key, fingerprint);
            }
        }
        out
    }

    /// One object, straight from the sandbox's store.
    pub fn object(&self, group: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        let res = self
            .cluster()
            .types
            .all()
            .into_iter()
            .find(|r| r.group == group && r.plural == plural)?;
        self.cluster()
            .store
            .get(res, ns, name)
            .map(|o| (*o).clone())
    }

    /// Applies YAML through the sandbox (setup, not under test); new namespaces
    /// get the tools' Role.
    pub fn apply(&self, yaml: &str) {
        kube_sandbox::server::apply_yaml(self.cluster(), yaml).expect("fixture applies");
        self.grant_namespaces();
    }

    /// Waits until every Deployment is rolled out.
    pub fn settle(&self) {
        self.runtime
            .as_ref()
            .expect("running")
            .block_on(self.sandbox().settle(Duration::from_secs(20)))
            .expect("deployments settle");
    }
}

/// The selector color of a Service.
pub fn selected_color(svc: &Value) -> String {
    svc["spec"]["selector"]["color"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Asserts the exit code of a finished process and returns (stdout, stderr).
pub fn expect(out: &Output, code: i32) -> (String, String) {
    let (o, e) = texts(out);
    assert_eq!(out.status.code(), Some(code), "stdout: {o}\nstderr: {e}");
    (o, e)
}

/// The error line of a failed command: exactly one `error:` line (a `hint:`
/// may follow), as every Switchyard binary prints.
pub fn error_line(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "exactly one error line: {stderr}");
    errors[0].to_string()
}

/// Declares a test twice, as a module `NAME` with `quiet` (the demo cluster)
/// and `status_writers` (the demo cluster with the other writers of a real
/// one, [`TestCluster::demo_with_status_writers`]): `BODY` is a function of
/// the cluster.
///
/// ```ignore
/// switchyard_e2e::on_both_timings!(ramp_promotes, |c| { ... });
/// ```
#[macro_export]
macro_rules! on_both_timings {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn quiet() {
                let body: fn($crate::TestCluster) = $body;
                body($crate::TestCluster::demo())
            }
            #[test]
            fn status_writers() {
                let body: fn($crate::TestCluster) = $body;
                body($crate::TestCluster::demo_with_status_writers())
            }
        }
    };
}

/// A kubeconfig that cannot be used, and what the error line must say about it.
pub struct BrokenKubeconfig {
    pub path: String,
    /// What is wrong, as the error line words it (next to the path).
    pub says: &'static str,
}

impl TestCluster {
    /// Kubeconfigs broken in each way a user meets (the file missing, a
    /// directory, a binary, not YAML, empty, no current-context): each is bad
    /// input (exit 2) naming the file.
    pub fn broken_kubeconfigs(&self) -> Vec<BrokenKubeconfig> {
        let write = |name: &str, content: &[u8]| {
            let p = self.dir.join(name);
            std::fs::write(&p, content).expect("written");
            p
        };
        let dir = self.dir.join("kubeconfig-dir");
        std::fs::create_dir_all(&dir).expect("a directory");
        let s = |p: PathBuf| p.to_str().expect("utf-8").to_string();
        vec![
            BrokenKubeconfig {
                path: s(self.dir.join("no-such-kubeconfig")),
                says: "does not exist",
            },
            BrokenKubeconfig {
                path: s(dir),
                says: "is a directory, not a file",
            },
            BrokenKubeconfig {
                path: s(write(
                    "binary-kubeconfig",
                    b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\xff\xfe",
                )),
                says: "is not a text file",
            },
            BrokenKubeconfig {
                path: s(write(
                    "broken-yaml-kubeconfig",
                    b"{{{ this: is: not: [yaml\n\t- at all",
                )),
                says: "is not valid YAML",
            },
            BrokenKubeconfig {
                path: s(write("empty-kubeconfig", b"")),
                says: "is empty",
            },
            BrokenKubeconfig {
                path: s(write(
                    "no-context-kubeconfig",
                    b"apiVersion: v1\nkind: Config\nclusters: []\n",
                )),
                says: "sets no current-context",
            },
        ]
    }

    /// As `refuses`, and the hint says `hint_says` (and is not the
    /// reachability hint, which would send the user to the wrong place).
    pub fn refuses_with_hint(
        &self,
        mut cmd: Command,
        code: i32,
        says: &str,
        hint_says: &str,
        namespaces: &[&str],
    ) {
        let what = format!("{:?}", cmd.get_args().collect::<Vec<_>>());
        let before = self.snapshot(namespaces);
        cmd.stdin(std::process::Stdio::null());
        let out = run(cmd, None);
        let (stdout, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(code), "{what}: exit code\n{stderr}");
        assert!(stdout.is_empty(), "{what}: stdout {stdout}");
        let err = one_error(&stderr);
        assert!(err.contains(says), "{what}: {err}");
        let hint = stderr
            .lines()
            .find_map(|l| l.split_once("hint: ").map(|(_, h)| h))
            .unwrap_or_else(|| panic!("{what}: no hint: {stderr}"));
        assert!(hint.contains(hint_says), "{what}: hint {hint}");
        assert!(
            !hint.contains("cluster-info"),
            "{what}: the reachability hint for a bad kubeconfig: {hint}"
        );
        assert_eq!(
            self.snapshot(namespaces),
            before,
            "{what} changed something"
        );
    }
}

/// Asserts every key of a JSON document (at any depth) is camelCase, as
/// Kubernetes' own: `notReady`, `durationMs`, never `not_ready`.
pub fn assert_camel_case_keys(doc: &Value) {
    fn walk(v: &Value, at: &str, bad: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let camel = k.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && k.chars().all(|c| c.is_ascii_alphanumeric());
                    if !camel {
                        bad.push(format!("{at}.{k}"));
                    }
                    walk(v, &format!("{at}.{k}"), bad);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, &format!("{at}[]"), bad)),
            _ => {}
        }
    }
    let mut bad = Vec::new();
    walk(doc, "", &mut bad);
    assert!(bad.is_empty(), "keys not in camelCase: {bad:?} in {doc}");
}
