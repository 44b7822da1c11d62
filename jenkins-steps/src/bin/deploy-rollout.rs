//! `deploy-rollout`: a rolling update of a Deployment, StatefulSet or
//! DaemonSet: new images (or a restart), followed with fail fast, an optional
//! HTTP check and analysis, and with `--undo-on-failure` the previous
//! revision put back and followed too.

use std::path::PathBuf;

use clap::{ArgGroup, Parser};
use jenkins_steps::junit;
use jenkins_steps::{Outcome, StepArgs};
use switchyard::connect::KubeArgs;
use switchyard::exit::{Error, Exit};
use switchyard::rollout::template::{Change, ImageArg};
use switchyard::rollout::update::{self, HttpCheck};
use switchyard::rollout::{Kind, Target, Verdict};

#[derive(Parser)]
#[command(
    name = "deploy-rollout",
    version,
    about = "Roll a new image out to a Deployment, StatefulSet or DaemonSet; fail fast; undo on failure"
)]
#[command(group(ArgGroup::new("target").required(true).args(["deployment", "statefulset", "daemonset"])))]
#[command(group(ArgGroup::new("change").required(true).args(["image", "restart"])))]
#[command(after_help = "Examples (Jenkinsfile):
  sh 'deploy-rollout --deployment api --image registry.example.com/api:${BUILD_NUMBER} --undo-on-failure --timeout 5m'
  sh 'deploy-rollout --statefulset db --image db=postgres:16.4 --result-file rollout.json'
  sh 'deploy-rollout --daemonset agent --restart'

Exit codes: 0 rolled out or unchanged, 1 failing (pod and reason named; \"rolled back to
revision N\" or \"rollback failed\" with --undo-on-failure), 2 bad input, 3 not found or will
not roll, 4 changed by someone else meanwhile or busy, 5 unreachable, 124 timed out.")]
struct Args {
    /// The Deployment to roll.
    #[arg(long, value_name = "NAME")]
    deployment: Option<String>,
    /// The StatefulSet to roll (updateStrategy RollingUpdate).
    #[arg(long, value_name = "NAME")]
    statefulset: Option<String>,
    /// The DaemonSet to roll (updateStrategy RollingUpdate).
    #[arg(long, value_name = "NAME")]
    daemonset: Option<String>,
    /// The new image, `[CONTAINER=]IMAGE` (repeatable; without CONTAINER= the
    /// template's only container).
    #[arg(long, value_name = "[CONTAINER=]IMAGE")]
    image: Vec<ImageArg>,
    /// Restart every pod on the same template, as `kubectl rollout restart`.
    #[arg(long)]
    restart: bool,
    /// On failure, put the previous revision back and wait for it (exit 1 either way).
    #[arg(long)]
    undo_on_failure: bool,
    /// Once rolled out, GET this path through the Service proxy until it answers --expect-status.
    #[arg(long, value_name = "PATH")]
    http: Option<String>,
    /// Service port for --http (name or number).
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
    /// The Service for --http (default: the workload's name).
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// The HTTP status --http must answer.
    #[arg(long, default_value_t = 200)]
    expect_status: u16,
    /// Write a JUnit XML report (one testcase per check).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// --analysis FILE: once rolled out, judge it by its metrics too.
    #[command(flatten)]
    analysis: switchyard::analysis::AnalysisArgs,
    #[command(flatten)]
    step: StepArgs,
    #[command(flatten)]
    kube: KubeArgs,
}

impl Args {
    fn target(&self, ns: &str) -> Result<Target, Error> {
        let (kind, name) = match (&self.deployment, &self.statefulset, &self.daemonset) {
            (Some(n), _, _) => (Kind::Deployment, n),
            (_, Some(n), _) => (Kind::StatefulSet, n),
            (_, _, Some(n)) => (Kind::DaemonSet, n),
            // clap's group makes one required.
            _ => {
                return Err(Error::new(
                    Exit::Usage,
                    "name a --deployment, --statefulset or --daemonset",
                ));
            }
        };
        Ok(Target::new(kind, ns, name.clone()))
    }
}

/// The analysis gate and its variables: `{{app}}` and `{{service}}` are the
/// workload's name (or --service), `{{track}}` is `stable` (a rolling update
/// replaces the one track there is).
fn gate(
    a: &Args,
    client: &kube::Client,
    t: &Target,
    service: &str,
) -> anyhow::Result<Option<(switchyard::gates::Gate, switchyard::analysis::Vars)>> {
    let Some(file) = &a.analysis.analysis else {
        return Ok(None);
    };
    let providers = a.analysis.prometheus.providers(Some(client))?;
    let gate = switchyard::gates::Gate::load(file, &a.analysis.args, &providers, a.step.timeout)?;
    let vars = switchyard::analysis::Vars {
        app: t.name.clone(),
        namespace: t.namespace.clone(),
        track: "stable".into(),
        color: None,
        service: service.to_string(),
        args: Default::default(),
    };
    gate.start(&vars)?;
    Ok(Some((gate, vars)))
}

async fn run(a: Args, log: jenkins_steps::Log) -> anyhow::Result<Outcome> {
    let mut report = junit::Report::new(a.junit.clone(), "deploy-rollout", "switchyard.rollout");
    let result = roll(&a, &log, &mut report).await;
    report.conclude(result)
}

async fn roll(
    a: &Args,
    log: &jenkins_steps::Log,
    junit: &mut junit::Report,
) -> anyhow::Result<Outcome> {
    if a.restart && !a.image.is_empty() {
        return Err(Error::new(Exit::Usage, "--image and --restart do not go together").into());
    }
    let conn = a.kube.connect().await?;
    let target = a.target(&conn.namespace)?;
    let service = a.service.clone().unwrap_or_else(|| target.name.clone());
    let change = if a.restart {
        Change::Restart {
            at: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
        }
    } else {
        Change::Images(a.image.clone())
    };
    let opts = update::Options {
        target: target.clone(),
        change,
        timeout: a.step.timeout,
        undo_on_failure: a.undo_on_failure,
        http: a.http.as_ref().map(|path| HttpCheck {
            service: service.clone(),
            port: a.port.clone(),
            path: path.clone(),
            expect: a.expect_status,
        }),
        gate: gate(a, &conn.client, &target, &service)?,
        lease_duration: switchyard::lock::DEFAULT_DURATION,
    };
    junit.suite = format!("deploy-rollout {target}");
    junit.start(format!("rollout {target}"));
    let progress = |line: &str| log.line(line);
    let r = update::run(&conn.client, &opts, &progress).await?;
    match (&r.verdict, &r.failure) {
        (Some(Verdict::Done), _) | (None, _) => junit.end(None),
        (_, Some(f)) => junit.end(Some((
            f.reason.clone(),
            f.message.clone(),
            r.observed.clone(),
        ))),
        _ => junit.end(None),
    }
    if let Some(analysis) = &r.analysis {
        junit.cases.extend(junit::analysis_cases(analysis));
    }
    if let Some(o) = &r.rollback {
        junit.start(format!("rollback {target}"));
        match &o.verdict {
            Verdict::Done => junit.end(None),
            v => junit.end(Some((
                "RollbackFailed".into(),
                r.message.clone(),
                format!("{v:?}: {}", o.summary),
            ))),
        }
    }
    Ok(match r.exit {
        Exit::Ok => Outcome::ok(r.message.clone(), &r),
        e => Outcome::failed(e, r.message.clone(), &r),
    })
}

fn main() {
    let a: Args = jenkins_steps::parse();
    let step = a.step.clone();
    jenkins_steps::main("deploy-rollout", step, |log| run(a, log))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_option_has_help() {
        use clap::CommandFactory;
        assert_eq!(
            switchyard::cli::undocumented(&super::Args::command()),
            Vec::<String>::new()
        );
    }
}
