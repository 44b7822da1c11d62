//! What every scenario needs: the binaries under test, a sandbox with a
//! kubeconfig on disk, and commands set up to talk to it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kube_sandbox::{Cluster, Options, Sandbox, Settings};

/// Every binary that ships, by name.
pub const BINARIES: [&str; 11] = [
    "kubectl-bluegreen",
    "kubectl-canary",
    "deploy-health-wait",
    "deploy-switch",
    "deploy-weight",
    "deploy-rollback",
    "deploy-notify",
    "deploy-analysis",
    "deploy-apply",
    "deploy-rollout",
    "kube-sandbox",
];

/// How one run of the harness is set up.
#[derive(Clone, Debug)]
pub struct Config {
    pub quick: bool,
    /// Runs per timed command.
    pub runs: usize,
    /// Where the release binaries are.
    pub bin_dir: PathBuf,
    /// The `peak-rss` helper (built with the harness).
    pub peak_rss: PathBuf,
    /// Scratch space: kubeconfigs, kubectl's cache, outputs.
    pub work: PathBuf,
}

impl Config {
    /// The path of a shipped binary; fails when it was not built.
    pub fn bin(&self, name: &str) -> Result<PathBuf> {
        let p = self.bin_dir.join(name);
        if !p.is_file() {
            bail!(
                "{} is missing: build the release binaries (cargo xtask bench does)",
                p.display()
            );
        }
        Ok(p)
    }

    /// A fresh scratch directory for one scenario.
    pub fn scratch(&self, name: &str) -> Result<PathBuf> {
        let d = self.work.join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        Ok(d)
    }
}

/// How the sandbox's control plane behaves during a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Controllers converge at once and writes cost nothing: the idealised
    /// cluster earlier benchmarks ran on, kept for comparison.
    Instant,
    /// A real control plane: the sandbox's default controller timing
    /// (informer lag, status in steps, EndpointSlices 10 ms behind, graceful
    /// pod termination) plus 3 ms per write, what a write through a real
    /// kube-apiserver to etcd costs on these machines' disks.
    RealControlPlane,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::RealControlPlane, Profile::Instant];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Instant => "instant controllers",
            Profile::RealControlPlane => "real control plane (controller lag + 3 ms/write)",
        }
    }

    /// Pods start in 50 ms, as in the e2e tests: what is timed is the
    /// tools, not the simulated kubelet.
    pub fn settings(self) -> Settings {
        let base = Settings {
            ready_delay: Duration::from_millis(50),
            crash_backoff: Duration::from_millis(200),
            ..Settings::default()
        };
        match self {
            Profile::Instant => Settings {
                ready_delay: base.ready_delay,
                crash_backoff: base.crash_backoff,
                ..Settings::instant()
            },
            Profile::RealControlPlane => Settings {
                write_latency: Duration::from_millis(3),
                ..base
            },
        }
    }
}

/// The settings scenarios run on unless they compare profiles: a real
/// control plane's.
pub fn settings() -> Settings {
    Profile::RealControlPlane.settings()
}

/// A sandbox on this runtime, its kubeconfig and an admin client.
pub struct Env {
    pub sandbox: Sandbox,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub client: kube::Client,
}

impl Env {
    /// Starts a sandbox (the demo apps when `demo`) and waits for it to settle.
    pub async fn start(demo: bool, dir: PathBuf) -> Result<Env> {
        Self::start_with(demo, settings(), dir).await
    }

    /// [`Env::start`] with other kubelet timings.
    pub async fn start_with(demo: bool, settings: Settings, dir: PathBuf) -> Result<Env> {
        let sandbox = Sandbox::start(Options {
            demo,
            settings,
            ..Options::default()
        })
        .await?;
        sandbox.settle(Duration::from_secs(60)).await?;
        let kubeconfig = dir.join("kubeconfig");
        sandbox.write_kubeconfig(&kubeconfig)?;
        let kc = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig(None, "default"))?;
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
        let client = kube::Client::try_from(config)?;
        Ok(Env {
            sandbox,
            dir,
            kubeconfig,
            client,
        })
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        self.sandbox.cluster()
    }

    /// Applies manifests straight into the store (setup, not under test).
    pub fn apply(&self, yaml: &str) -> Result<()> {
        kube_sandbox::server::apply_yaml(self.cluster(), yaml)
    }

    pub async fn settle(&self, timeout: Duration) -> Result<()> {
        self.sandbox.settle(timeout).await
    }

    /// A Switchyard binary with `--kubeconfig`, no colour, no Jenkins variables.
    pub fn tool(&self, bin: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.env_remove("KUBECONFIG")
            .env("NO_COLOR", "1")
            .env_remove("BUILD_URL")
            .env_remove("JOB_NAME")
            .env_remove("BUILD_NUMBER")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args);
        cmd
    }

    /// The installed kubectl, with a discovery cache that persists across
    /// runs, as on a Jenkins agent that ran before.
    pub fn kubectl(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.join("kube-cache"))
            .args(args);
        cmd
    }

    /// `bash -c SCRIPT` with KUBECONFIG and kubectl's cache set.
    pub fn shell(&self, script: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", script])
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.join("kube-cache"));
        cmd
    }

    /// Fills kubectl's discovery cache.
    pub async fn warm_kubectl(&self) -> Result<()> {
        let r =
            crate::proc::run_async(self.kubectl(&["get", "svc", "-A"]), self.dir.clone()).await?;
        r.expect(0, "kubectl get svc")?;
        Ok(())
    }
}
