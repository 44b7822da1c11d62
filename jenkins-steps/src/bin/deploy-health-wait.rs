//! `deploy-health-wait`: wait until a color, the canary, the stable track or a
//! Deployment is healthy, watch-based; fail fast naming pod and reason; then an
//! optional HTTP check through the API server's service proxy.

use std::path::PathBuf;
use std::time::Instant;

use clap::{ArgGroup, Parser};
use jenkins_steps::junit;
use jenkins_steps::{Outcome, StepArgs};
use serde_json::json;
use switchyard::bluegreen::{self, Color};
use switchyard::connect::KubeArgs;
use switchyard::exit::{Error, Exit};
use switchyard::health;

#[derive(Parser)]
#[command(
    name = "deploy-health-wait",
    version,
    about = "Wait until a workload is healthy; fail fast with the reason"
)]
#[command(group(ArgGroup::new("target").required(true).args(["color", "canary", "stable", "deployment"])))]
#[command(after_help = "Examples (Jenkinsfile):
  sh 'deploy-health-wait --app web --color green --http /actuator/health --timeout 5m --junit health.xml'
  sh 'deploy-health-wait --app shop --canary --result-file health.json'
  sh 'deploy-health-wait --app shop --canary --analysis analysis.yaml --prometheus-service monitoring/prometheus:9090 --junit health.xml'

Exit codes: 0 healthy, 1 failing (pod and reason named) or its --analysis failed, 2 bad input,
3 not found, 5 Prometheus unreachable, 124 timed out.")]
struct Args {
    /// The app (blue/green or canary).
    #[arg(long, required_unless_present = "deployment")]
    app: Option<String>,
    /// A blue/green color: waits for APP-COLOR.
    #[arg(long, value_parser = parse_color)]
    color: Option<Color>,
    /// The canary: waits for APP-canary.
    #[arg(long)]
    canary: bool,
    /// The stable track of a canary app: APP or APP-stable.
    #[arg(long)]
    stable: bool,
    /// Any Deployment by name.
    #[arg(long, value_name = "NAME")]
    deployment: Option<String>,
    /// Then GET this path through the Service proxy until it answers --expect-status.
    #[arg(long, value_name = "PATH")]
    http: Option<String>,
    /// Service port for --http (name or number).
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
    /// The Service for --http (default: the one that selects the target).
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// Then GET this URL (from the agent) until it answers --expect-status.
    #[arg(long, value_name = "URL", conflicts_with = "http")]
    url: Option<String>,
    /// The HTTP status --http and --url must answer.
    #[arg(long, default_value_t = 200)]
    expect_status: u16,
    /// Write a JUnit XML report (one testcase per check).
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// --analysis FILE: once healthy, judge the target by its metrics too.
    #[command(flatten)]
    analysis: switchyard::analysis::AnalysisArgs,
    #[command(flatten)]
    step: StepArgs,
    #[command(flatten)]
    kube: KubeArgs,
}

fn parse_color(s: &str) -> Result<Color, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a color: use blue or green"))
}

/// The Deployment to wait for, and the Service an HTTP check goes through.
async fn target(
    a: &Args,
    client: &kube::Client,
    ns: &str,
) -> anyhow::Result<(String, Option<String>)> {
    if let Some(d) = &a.deployment {
        return Ok((d.clone(), a.service.clone().or_else(|| Some(d.clone()))));
    }
    let app = a.app.as_deref().unwrap_or_default();
    switchyard::names::check_app_name(app)?;
    if let Some(c) = a.color {
        let bg = bluegreen::load(client, ns, app).await?;
        let svc = if bg.active == c {
            Some(bg.name.clone())
        } else if bg.preview_color() == Some(c) {
            Some(bg.preview_name())
        } else {
            None
        };
        return Ok((bg.deployment_name(c), a.service.clone().or(svc)));
    }
    let ca = switchyard::canary::load(client, ns, app).await?;
    if a.canary {
        Ok((
            ca.canary_name(),
            a.service.clone().or(ca.canary_service.clone()),
        ))
    } else {
        Ok((
            ca.stable_name(),
            a.service.clone().or(ca.stable_service.clone()),
        ))
    }
}

/// The analysis gate and its variables, when `--analysis` is given: read
/// before anything is waited for, so a bad file is exit 2 at once.
async fn analysis_gate(
    a: &Args,
    client: &kube::Client,
    ns: &str,
) -> anyhow::Result<Option<(switchyard::gates::Gate, switchyard::analysis::Vars)>> {
    let Some(file) = &a.analysis.analysis else {
        return Ok(None);
    };
    let providers = a.analysis.prometheus.providers(Some(client))?;
    let gate = switchyard::gates::Gate::load(file, &a.analysis.args, &providers, a.step.timeout)?;
    let app = a.app.as_deref().unwrap_or_default();
    let vars = if let Some(c) = a.color {
        switchyard::gates::color_vars(&bluegreen::load(client, ns, app).await?, c)
    } else if a.canary || a.stable {
        switchyard::gates::canary_vars(&switchyard::canary::load(client, ns, app).await?, a.canary)
    } else {
        return Err(Error::new(
            Exit::Usage,
            "--analysis needs a track for its variables: --app with --color, --canary or --stable",
        )
        .into());
    };
    gate.start(&vars)?;
    Ok(Some((gate, vars)))
}

/// The step, with its JUnit report written however it ends: passed or failed
/// checks, an error, or SIGINT/SIGTERM (the report's Drop: the running check
/// failed as interrupted).
async fn run(a: Args, log: jenkins_steps::Log) -> anyhow::Result<Outcome> {
    let what = a.deployment.as_deref().or(a.app.as_deref()).unwrap_or("");
    let mut report = junit::Report::new(
        a.junit.clone(),
        format!("deploy-health-wait {what}"),
        "switchyard.health",
    );
    let result = check(&a, &log, &mut report).await;
    report.conclude(result)
}

async fn check(
    a: &Args,
    log: &jenkins_steps::Log,
    report: &mut junit::Report,
) -> anyhow::Result<Outcome> {
    let conn = a.kube.connect().await?;
    let started = Instant::now();
    let (deployment, service) = target(a, &conn.client, &conn.namespace).await?;
    report.suite = format!("deploy-health-wait {deployment}");
    report.start(format!("rollout {deployment}"));
    let gate = analysis_gate(a, &conn.client, &conn.namespace).await?;
    if a.http.is_some() && service.is_none() {
        return Err(Error::new(
            Exit::Usage,
            format!("no Service selects {deployment}, so --http has nothing to go through"),
        )
        .hint("name one with --service")
        .into());
    }
    // Announced once the Deployment is found: a missing one is just an error.
    let mut announced = false;
    let mut on_change = |o: &health::Observed| {
        if !std::mem::replace(&mut announced, true) {
            log.line(&format!(
                "waiting for Deployment {deployment} (timeout {}s)",
                a.step.timeout.as_secs()
            ));
        }
        log.line(&o.summary)
    };
    let outcome = health::wait_for_deployment(
        &conn.client,
        &conn.namespace,
        &deployment,
        a.step.timeout,
        &mut on_change,
    )
    .await?;
    let (exit, summary) = match &outcome {
        health::Outcome::Healthy(o) => {
            report.end(None);
            (Exit::Ok, format!("{deployment} is healthy: {}", o.summary))
        }
        health::Outcome::Failed(f, _) => {
            report.end(Some((f.reason.clone(), f.to_string(), f.message.clone())));
            (Exit::Failed, format!("{deployment} is failing: {f}"))
        }
        health::Outcome::TimedOut(o) => {
            report.end(Some((
                "Timeout".into(),
                format!("not healthy within {}s", a.step.timeout.as_secs()),
                o.summary.clone(),
            )));
            (
                Exit::Timeout,
                format!(
                    "{deployment} was not healthy within {}s; last observed: {}",
                    a.step.timeout.as_secs(),
                    o.summary
                ),
            )
        }
    };
    let mut result = json!({ "deployment": deployment, "namespace": conn.namespace, "observed": outcome.observed() });
    if let health::Outcome::Failed(f, _) = &outcome {
        result["failure"] = json!(f);
    }
    let (mut exit, mut summary) = (exit, summary);
    if exit == Exit::Ok
        && let (Some(path), Some(svc)) = (&a.http, &service)
    {
        report.start(format!("GET {path} via Service {svc}"));
        let left = a.step.timeout.saturating_sub(started.elapsed());
        let mut on_answer = |h: &health::HttpAnswer| {
            log.line(&format!("GET {path} via Service {svc}: {}", h.status))
        };
        let (passed, answer) = health::wait_for_http(
            &conn.client,
            &conn.namespace,
            svc,
            a.port.as_deref(),
            path,
            a.expect_status,
            left,
            &mut on_answer,
        )
        .await?;
        if !passed {
            report.end(Some((
                "HTTP".into(),
                format!("answered {}, expected {}", answer.status, a.expect_status),
                answer.body.clone(),
            )));
            exit = Exit::Timeout;
            summary = format!(
                "GET {path} via Service {svc} answered {} until the timeout (expected {})",
                answer.status, a.expect_status
            );
        } else {
            report.end(None);
            summary = format!("{summary}; GET {path} answered {}", answer.status);
        }
        result["http"] =
            json!({ "path": path, "service": svc, "passed": passed, "answer": answer });
    }
    if exit == Exit::Ok
        && let Some(url) = &a.url
    {
        report.start("GET --url");
        let left = a.step.timeout.saturating_sub(started.elapsed());
        let mut on_answer = |h: &health::HttpAnswer| log.line(&format!("GET --url: {}", h.status));
        let (passed, answer) =
            health::wait_for_url(url, a.expect_status, left, &mut on_answer).await?;
        if passed {
            report.end(None);
            summary = format!("{summary}; --url answered {}", answer.status);
        } else {
            report.end(Some((
                "HTTP".into(),
                format!("answered {}, expected {}", answer.status, a.expect_status),
                answer.body.clone(),
            )));
            exit = Exit::Timeout;
            summary = format!(
                "--url answered {} until the timeout (expected {})",
                answer.status, a.expect_status
            );
        }
        result["url"] = json!({ "passed": passed, "answer": answer });
    }
    if exit == Exit::Ok
        && let Some((mut gate, vars)) = gate
    {
        gate.timeout = a.step.timeout.saturating_sub(started.elapsed());
        let mut progress = log.progress();
        let (analysis, timed_out) = gate.run(&vars, "analysis", &mut progress).await?;
        report.cases.extend(junit::analysis_cases(&analysis));
        exit = if timed_out {
            Exit::Timeout
        } else {
            analysis.exit()
        };
        summary = match exit {
            Exit::Ok => format!("{summary}; {}", analysis.message),
            Exit::Timeout => format!(
                "analysis {} did not finish within the timeout: {}",
                gate.template.origin, analysis.message
            ),
            _ => format!(
                "{deployment} is healthy, but its analysis failed: {}",
                analysis.message
            ),
        };
        result["analysis"] = json!(analysis);
    }
    Ok(match exit {
        Exit::Ok => Outcome::ok(summary, result),
        e => Outcome::failed(e, summary, result),
    })
}

fn main() {
    let a: Args = jenkins_steps::parse();
    let step = a.step.clone();
    jenkins_steps::main("deploy-health-wait", step, |log| run(a, log))
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
