//! `deploy-analysis`: judge a canary, its stable track or a blue/green color
//! by its metrics, as an Argo Rollouts AnalysisTemplate does: one analysis
//! file, every measurement in the result, a JUnit testcase per metric.

use std::path::PathBuf;

use clap::{ArgGroup, Parser};
use jenkins_steps::junit;
use jenkins_steps::{Outcome, StepArgs};
use serde_json::json;
use switchyard::analysis::{self, PrometheusArgs, Run, Template};
use switchyard::bluegreen::{self, Color};
use switchyard::connect::KubeArgs;
use switchyard::exit::Exit;

#[derive(Parser)]
#[command(
    name = "deploy-analysis",
    version,
    about = "Judge a release by its Prometheus metrics (an Argo-style analysis file)"
)]
#[command(group(ArgGroup::new("target").required(true).args(["canary", "stable", "color"])))]
#[command(after_help = "Examples (Jenkinsfile):
  sh 'deploy-analysis --app shop --canary --analysis analysis.yaml --prometheus-service monitoring/prometheus:9090 --junit analysis.xml'
  withCredentials([string(credentialsId: 'prom-token', variable: 'PROM_TOKEN')]) {
    sh 'deploy-analysis --app web --color green --analysis analysis.yaml --prometheus https://prometheus.example.com --prometheus-token-env PROM_TOKEN --arg threshold=0.01'
  }

Exit codes: 0 passed, 1 failed (or inconclusive past its limit, or a query Prometheus
rejects), 2 bad analysis file or flags, 3 app not found, 5 Prometheus unreachable or
refusing, 124 timed out.")]
struct Args {
    /// The app (canary or blue/green).
    #[arg(long)]
    app: String,
    /// The canary track: {{track}} is canary.
    #[arg(long)]
    canary: bool,
    /// The stable track of a canary app: {{track}} is stable.
    #[arg(long)]
    stable: bool,
    /// A blue/green color: {{track}} and {{color}} are the color.
    #[arg(long, value_parser = parse_color)]
    color: Option<Color>,
    /// The analysis file (Argo AnalysisTemplate fields).
    #[arg(long, value_name = "FILE")]
    analysis: PathBuf,
    /// Sets an argument of the file ({{args.KEY}}); repeatable.
    #[arg(long = "arg", value_name = "KEY=VALUE", value_parser = analysis::parse_arg)]
    args: Vec<(String, String)>,
    #[command(flatten)]
    prometheus: PrometheusArgs,
    /// Write a JUnit XML report (one testcase per metric).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    #[command(flatten)]
    step: StepArgs,
    #[command(flatten)]
    kube: KubeArgs,
}

fn parse_color(s: &str) -> Result<Color, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a color: use blue or green"))
}

async fn run(a: Args, log: jenkins_steps::Log) -> anyhow::Result<Outcome> {
    // The file first: a bad one is exit 2 before the cluster is asked.
    let template = Template::load(&a.analysis)?;
    switchyard::names::check_app_name(&a.app)?;
    let conn = a.kube.connect().await?;
    let providers = a.prometheus.providers(Some(&conn.client))?;
    let vars = match a.color {
        Some(c) => {
            let app = bluegreen::load(&conn.client, &conn.namespace, &a.app).await?;
            switchyard::gates::color_vars(&app, c)
        }
        None => {
            let app = switchyard::canary::load(&conn.client, &conn.namespace, &a.app).await?;
            switchyard::gates::canary_vars(&app, a.canary)
        }
    };
    let resolved = template.resolve(&vars, &a.args)?;
    let metrics = resolved.metrics.len();
    let mut run = Run::new(resolved, &providers)?;
    log.line(&format!(
        "analysis {} of {} ({}): {metrics} metric{}, timeout {}s",
        a.analysis.display(),
        a.app,
        vars.track,
        if metrics == 1 { "" } else { "s" },
        a.step.timeout.as_secs()
    ));
    let deadline = tokio::time::Instant::now() + a.step.timeout;
    let mut progress = log.progress();
    // Cancel-safe: at the deadline a measurement in flight is dropped.
    let _ = tokio::time::timeout_at(deadline, run.run_until(deadline, &mut progress)).await;
    let timed_out = !run.phase().completed() && run.bounded_pending();
    let report = if timed_out {
        run.report()
    } else {
        run.finish()
    };
    if let Some(path) = &a.junit {
        junit::write(
            path,
            &format!("deploy-analysis {} {}", a.app, vars.track),
            "switchyard.analysis",
            &junit::analysis_cases(&report),
        )
        .map_err(|e| anyhow::anyhow!("writing the JUnit report {}: {e}", path.display()))?;
    }
    let result = json!({
        "app": a.app,
        "namespace": conn.namespace,
        "track": vars.track,
        "analysis": report,
    });
    let exit = if timed_out {
        Exit::Timeout
    } else {
        report.exit()
    };
    Ok(match exit {
        Exit::Ok => Outcome::ok(report.message.clone(), result),
        Exit::Timeout => Outcome::failed(
            exit,
            format!(
                "analysis {} did not finish within {}s: {}",
                a.analysis.display(),
                a.step.timeout.as_secs(),
                report.message
            ),
            result,
        ),
        e => Outcome::failed(
            e,
            format!(
                "analysis {} of {}: {}",
                a.analysis.display(),
                a.app,
                report.message
            ),
            result,
        ),
    })
}

fn main() {
    let a: Args = jenkins_steps::parse();
    let step = a.step.clone();
    jenkins_steps::main("deploy-analysis", step, |log| run(a, log))
}
