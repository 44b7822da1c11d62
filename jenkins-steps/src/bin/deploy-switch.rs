//! `deploy-switch`: the blue/green switch for a pipeline. With `--http`, a
//! check through the Service after the switch; with `--rollback-on-failure`,
//! a failed check (or verification) switches back and exits 1.

use std::time::Duration;

use clap::Parser;
use jenkins_steps::{Outcome, StepArgs};
use serde_json::json;
use switchyard::bluegreen::{self, Color, scale, switch};
use switchyard::connect::KubeArgs;
use switchyard::exit::Exit;
use switchyard::{health, undo};

#[derive(Parser)]
#[command(
    name = "deploy-switch",
    version,
    about = "Switch a blue/green app, check it, roll back on failure"
)]
#[command(after_help = "Example (Jenkinsfile):
  sh 'deploy-switch --app web --http /actuator/health --rollback-on-failure --result-file switch.json'
  sh 'deploy-switch --app web --analysis pre.yaml --post-analysis post.yaml --prometheus-service monitoring/prometheus:9090'

Exit codes: 0 switched or unchanged, 1 the post-switch check failed (rolled back with
--rollback-on-failure), or an analysis failed (before: not switched; after: switched back),
2 bad input, 3 precondition (target not ready), 4 busy, 5 unreachable.")]
struct Args {
    /// The blue/green app: its Service APP and Deployments APP-blue and APP-green.
    #[arg(long)]
    app: String,
    /// The color to serve (default: the idle one).
    #[arg(long, value_parser = parse_color)]
    to: Option<Color>,
    /// After the switch, GET this path through the Service until it answers 200.
    #[arg(long, value_name = "PATH")]
    http: Option<String>,
    /// The Service port for --http, by name or number (default: its first).
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
    /// How long the post-switch check may take to pass (0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = switchyard::cli::timeout)]
    check_timeout: Duration,
    /// Switch back if the post-switch check or the verification fails.
    #[arg(long)]
    rollback_on_failure: bool,
    /// Scale the old color to 0 this long after a successful switch (the step waits).
    #[arg(long, value_name = "DURATION", value_parser = switchyard::cli::duration)]
    scale_down_after: Option<Duration>,
    /// Why, for the history and the Event (e.g. the release).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// --analysis FILE: judged before the switch, against the color about to serve.
    #[command(flatten)]
    analysis: switchyard::analysis::AnalysisArgs,
    /// Judged after the switch, against the color now serving; a failure switches back.
    #[arg(long, value_name = "FILE")]
    post_analysis: Option<std::path::PathBuf>,
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
    let conn = a.kube.connect().await?;
    let (client, ns) = (&conn.client, conn.namespace.as_str());
    // What served before, to go back to if the switch cannot be verified; without
    // --rollback-on-failure the switch reads the app once, under its lease.
    let before = match a.rollback_on_failure {
        true => Some(bluegreen::load(client, ns, &a.app).await?.active),
        false => None,
    };
    let opts = switch::Options {
        to: a.to,
        reason: a.reason.clone(),
        verify_timeout: a.check_timeout,
        ..switch::Options::default()
    };
    let gates = switchyard::gates::switch_gates(
        &a.analysis,
        a.post_analysis.as_deref(),
        client,
        a.step.timeout,
    )?;
    let mut progress = log.progress();
    let mut judged = Vec::new();
    let switched = switchyard::gates::switch(
        client,
        ns,
        &a.app,
        &opts,
        &gates,
        &mut judged,
        &mut progress,
    )
    .await;
    let report = match (switched, before) {
        (Ok(r), _) => r,
        // An analysis decided: its measurements go into the result.
        (Err(e), _)
            if !judged.is_empty() && switchyard::exit::classify(&e) != Exit::Unreachable =>
        {
            let message = switchyard::output::one_line(&e);
            return Ok(Outcome {
                exit: switchyard::exit::classify(&e),
                summary: message.clone(),
                result: json!({ "analyses": judged }),
                error: Some((message, switchyard::exit::hint_for(&e))),
            });
        }
        (Err(e), Some(active)) => {
            // The switch may have happened before verification failed: put it back.
            let now = bluegreen::load(client, ns, &a.app).await?;
            if now.active != active {
                let back = switch::Options {
                    to: Some(active),
                    reason: Some("rollback: the switch could not be verified".into()),
                    ..switch::Options::default()
                };
                // A safety net: each attempt re-reads the app under the lease.
                let mut retry = undo::Retry::new(undo::DEADLINE);
                loop {
                    let attempt = switch::run(client, ns, &a.app, &back, &mut progress).await;
                    if let Some(done) = retry.after(attempt).await {
                        done?;
                        break;
                    }
                }
                let msg = format!(
                    "{}; rolled back to {}",
                    switchyard::output::one_line(&e),
                    active
                );
                return Ok(Outcome::failed(
                    Exit::Failed,
                    msg,
                    json!({ "rolledBack": true, "to": active, "analyses": judged }),
                ));
            }
            return with_analyses(e, judged);
        }
        (Err(e), None) => return with_analyses(e, judged),
    };
    if report.result == "unchanged" {
        return Ok(Outcome::ok(
            format!("{} already serves {}: unchanged", report.app, report.to),
            &report,
        ));
    }
    if let Some(path) = &a.http {
        let mut on_answer = |h: &health::HttpAnswer| {
            log.line(&format!("GET {path} via Service {}: {}", a.app, h.status))
        };
        let (passed, answer) = health::wait_for_http(
            client,
            ns,
            &a.app,
            a.port.as_deref(),
            path,
            200,
            a.check_timeout,
            &mut on_answer,
        )
        .await?;
        if !passed {
            let what = format!(
                "after switching {} to {}, GET {path} answered {} {}",
                a.app,
                report.to,
                answer.status,
                answer.body.trim()
            );
            if a.rollback_on_failure {
                let back = switch::Options {
                    to: Some(report.from),
                    reason: Some(format!("rollback: GET {path} answered {}", answer.status)),
                    ..switch::Options::default()
                };
                let mut retry = undo::Retry::new(undo::DEADLINE);
                loop {
                    let attempt = switch::run(client, ns, &a.app, &back, &mut progress).await;
                    if let Some(done) = retry.after(attempt).await {
                        done?;
                        break;
                    }
                }
                return Ok(Outcome::failed(
                    Exit::Failed,
                    format!("{what}; rolled back to {}", report.from),
                    json!({ "switch": report, "rolledBack": true, "http": answer }),
                ));
            }
            return Ok(Outcome::failed(
                Exit::Failed,
                format!("{what}; left on {}", report.to),
                json!({ "switch": report, "rolledBack": false, "http": answer }),
            ));
        }
        log.line(&format!(
            "GET {path} via Service {} answered {}",
            a.app, answer.status
        ));
    }
    let summary = format!(
        "switched {}: {} → {} (revision {})",
        report.app, report.from, report.to, report.revision
    );
    let mut result = json!({ "switch": report, "rolledBack": false });
    if !judged.is_empty() {
        result["analyses"] = json!(judged);
    }
    if let Some(delay) = a.scale_down_after {
        log.line(&summary);
        let scaled =
            scale::down_later(client, ns, &a.app, report.from, delay, &mut progress).await?;
        result["scaledDown"] = json!(scaled);
    }
    Ok(Outcome::ok(summary, result))
}

/// The error as the step's outcome, with the analyses that ran (their
/// measurements) in the result.
fn with_analyses(
    e: anyhow::Error,
    judged: Vec<switchyard::gates::Judged>,
) -> anyhow::Result<Outcome> {
    if judged.is_empty() {
        return Err(e);
    }
    let message = switchyard::output::one_line(&e);
    Ok(Outcome {
        exit: switchyard::exit::classify(&e),
        summary: message.clone(),
        result: json!({ "analyses": judged }),
        error: Some((message, switchyard::exit::hint_for(&e))),
    })
}

fn main() {
    let a: Args = jenkins_steps::parse();
    let step = a.step.clone();
    jenkins_steps::main("deploy-switch", step, |log| run(a, log))
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
