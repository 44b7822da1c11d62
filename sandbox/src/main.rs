//! `kube-sandbox serve`: a Kubernetes API server on 127.0.0.1 until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use kube_sandbox::{Options, Sandbox, Settings};

// `--version` with the commit and `completion SHELL`: the same source as
// `switchyard::completion`, compiled in (no dependency on the library).
#[path = "../../switchyard/src/completion.rs"]
#[allow(dead_code)]
mod completion;

#[derive(Parser)]
#[command(
    name = "kube-sandbox",
    version = completion::VERSION,
    about = "A Kubernetes API server on loopback, for tests and first runs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API on 127.0.0.1 over HTTPS and write a kubeconfig for it.
    #[command(after_help = "Examples:
  kube-sandbox serve --kubeconfig /tmp/sandbox.yaml --demo
  KUBECONFIG=/tmp/sandbox.yaml kubectl get deploy,svc,httproutes
  kube-sandbox serve --kubeconfig k.yaml --apply app.yaml --fault status=503,verb=patch,resource=services,count=1
  kube-sandbox serve --kubeconfig k.yaml --nodes 3 --image-fail '*:broken=crashloop'")]
    Serve(Box<Serve>),
    Completion(completion::Completion),
}

#[derive(clap::Args)]
struct Serve {
    /// Where to write the kubeconfig (mode 0600), once the server is serving.
    #[arg(long, value_name = "PATH")]
    kubeconfig: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed the demo apps: blue/green `web` and canary `shop`.
    #[arg(long)]
    demo: bool,
    /// Apply a multi-document YAML manifest at start (repeatable).
    #[arg(long, value_name = "FILE")]
    apply: Vec<PathBuf>,
    /// Inject a fault, e.g. status=503,verb=patch,resource=services,count=1 (repeatable).
    #[arg(long, value_name = "SPEC")]
    fault: Vec<String>,
    /// A bearer token that may only get, list and watch.
    #[arg(long, value_name = "TOKEN")]
    readonly_token: Option<String>,
    /// A bearer token for USER, who may do what the RBAC Roles bound to USER
    /// allow, e.g. ci-token=system:serviceaccount:ci:switchyard (repeatable).
    #[arg(long, value_name = "TOKEN=USER", value_parser = parse_token)]
    token: Vec<(String, String)>,
    /// The admin bearer token (default: random).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "KUBE_SANDBOX_ADMIN_TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,
    /// Keep the CA and serving certificate in this directory, reusing those
    /// found there: restarted on the same --port, the sandbox is trusted by
    /// the kubeconfigs written before.
    #[arg(long, value_name = "DIR")]
    tls_dir: Option<PathBuf>,
    /// How long pods take to become Ready.
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    ready_delay: Duration,
    /// How late each controller learns of a change, jittered ±50 %, as
    /// informers and workqueues make it on a real control plane (0: at once).
    #[arg(long, value_name = "DURATION", default_value = "5ms", value_parser = parse_duration)]
    controller_delay: Duration,
    /// How far EndpointSlices lag pod readiness and selector changes.
    #[arg(long, value_name = "DURATION", default_value = "10ms", value_parser = parse_duration)]
    endpoints_delay: Duration,
    /// The longest a deleted pod stays Terminating (its
    /// terminationGracePeriodSeconds, capped by this; 0: pods go at once).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    termination_grace: Duration,
    /// Added to every write, as an etcd round trip costs a real API server.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    write_latency: Duration,
    /// How many Nodes: sandbox-node, sandbox-node-2, ... (DaemonSets run a pod on each).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    nodes: u16,
    /// Fail containers whose image matches GLOB (`*`, `?`; first match wins;
    /// the sandbox.switchyard.dev/fail annotation wins over it) with MODE:
    /// crashloop, oom, imagepull, config, unready or unschedulable, e.g.
    /// '*:broken=crashloop' (repeatable).
    #[arg(long, value_name = "GLOB=MODE", value_parser = parse_image_fail)]
    image_fail: Vec<kube_sandbox::controllers::kubelet::ImageFailure>,
}

fn parse_image_fail(s: &str) -> Result<kube_sandbox::controllers::kubelet::ImageFailure, String> {
    kube_sandbox::controllers::kubelet::ImageFailure::parse(s)
}

fn parse_token(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((t, u)) if !t.is_empty() && !u.is_empty() => Ok((t.to_string(), u.to_string())),
        _ => Err(format!(
            "{s:?} is not TOKEN=USER (e.g. ci-token=system:serviceaccount:ci:switchyard)"
        )),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    kube_sandbox::faults::parse_duration(s)
}

/// Bad input: exit 2, as every Switchyard binary does.
#[derive(Debug)]
struct Usage(anyhow::Error);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for Usage {}

async fn serve(args: Serve) -> Result<()> {
    let mut manifests = Vec::new();
    for path in &args.apply {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))
            .map_err(Usage)?;
        manifests.push(text);
    }
    for spec in &args.fault {
        kube_sandbox::faults::Fault::parse(spec).map_err(|e| Usage(anyhow::anyhow!(e)))?;
    }
    let sandbox = Sandbox::start(Options {
        port: args.port,
        demo: args.demo,
        manifests,
        faults: args.fault,
        admin_token: args.admin_token,
        readonly_token: args.readonly_token,
        tls_dir: args.tls_dir,
        users: args.token,
        settings: Settings {
            ready_delay: args.ready_delay,
            controller_delay: args.controller_delay,
            endpoints_delay: args.endpoints_delay,
            termination_grace_cap: args.termination_grace,
            write_latency: args.write_latency,
            nodes: args.nodes.into(),
            image_failures: args.image_fail,
            ..Settings::default()
        },
        ..Options::default()
    })
    .await?;
    sandbox.write_kubeconfig(&args.kubeconfig)?;
    println!(
        "kube-sandbox serving {} — kubeconfig written to {} (export KUBECONFIG={})",
        sandbox.url(),
        args.kubeconfig.display(),
        args.kubeconfig.display()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    sandbox.stop();
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Command::Completion(c) = &cli.command {
        c.exit::<Cli>()
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Completion(c) => c.exit::<Cli>(),
        }
    });
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        let code = if e.downcast_ref::<Usage>().is_some() {
            2
        } else {
            1
        };
        std::process::exit(code);
    }
}
