//! `deploy-weight`: set a canary weight, or ramp through steps with health
//! gates (abort to weight 0 on failure).

use std::time::Duration;

use clap::{ArgGroup, Parser};
use jenkins_steps::{Outcome, StepArgs};
use serde_json::json;
use switchyard::canary::{self, ramp, set};
use switchyard::connect::KubeArgs;
use switchyard::traffic::Kind;

#[derive(Parser)]
#[command(
    name = "deploy-weight",
    version,
    about = "Set a canary weight, or ramp it up with health gates"
)]
#[command(group(ArgGroup::new("how").required(true).args(["weight", "steps"])))]
#[command(after_help = "Examples (Jenkinsfile):
  sh 'deploy-weight --app shop --weight 10'
  sh 'deploy-weight --app shop --steps 10,30,100 --pause 2m --http /healthz --promote'
  sh 'deploy-weight --app shop --steps 10,50,100 --pause 5m --analysis analysis.yaml --prometheus-service monitoring/prometheus:9090'

Exit codes: 0 done or unchanged, 1 a step failed (weight set back to 0), 2 bad input,
3 precondition (canary not ready), 4 busy, 5 unreachable.")]
struct Args {
    /// The canary app: the stable Deployment APP (or APP-stable) and APP-canary.
    #[arg(long)]
    app: String,
    /// The canary weight, 0-100.
    #[arg(long, allow_hyphen_values = true)]
    weight: Option<String>,
    /// Ascending weights for a gated ramp, e.g. 10,30,100.
    #[arg(long, value_name = "W,W,...", requires = "pause")]
    steps: Option<String>,
    /// How long each ramp step must stay healthy.
    #[arg(long, value_name = "DURATION", value_parser = switchyard::cli::duration)]
    pause: Option<Duration>,
    /// Check this path through the canary Service during each pause.
    #[arg(long, value_name = "PATH")]
    http: Option<String>,
    /// The canary Service's port for --http, by name or number (default: its first).
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
    /// Promote after the last step.
    #[arg(long)]
    promote: bool,
    /// What carries the weight (default: detected from what exists).
    #[arg(long, value_enum)]
    provider: Option<Kind>,
    /// nginx: create the canary Ingress APP-canary from the stable Ingress APP.
    #[arg(long)]
    create_canary_ingress: bool,
    /// Replica split: the total number of pods to divide (default: the current sum).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = switchyard::cli::replicas)]
    total: Option<i32>,
    /// With --steps: measured during every pause; a failure sets the weight back to 0.
    #[command(flatten)]
    analysis: switchyard::analysis::AnalysisArgs,
    #[command(flatten)]
    step: StepArgs,
    #[command(flatten)]
    kube: KubeArgs,
}

async fn run(a: Args, log: jenkins_steps::Log) -> anyhow::Result<Outcome> {
    let set_opts = set::Options {
        provider: a.provider,
        create_canary_ingress: a.create_canary_ingress,
        total: a.total,
        ..Default::default()
    };
    let weight = a.weight.as_deref().map(canary::parse_weight).transpose()?;
    let steps = a.steps.as_deref().map(ramp::parse_steps).transpose()?;
    let conn = a.kube.connect().await?;
    let app = canary::load(&conn.client, &conn.namespace, &a.app).await?;
    let mut progress = log.progress();
    if weight.is_some() && a.analysis.analysis.is_some() {
        return Err(switchyard::exit::Error::new(
            switchyard::exit::Exit::Usage,
            "--analysis judges the pauses of a ramp: it goes with --steps, not --weight",
        )
        .hint("run deploy-analysis after deploy-weight --weight to judge one weight")
        .into());
    }
    if let Some(w) = weight {
        let r = set::run(&conn.client, &app, w, &set_opts, &mut progress).await?;
        let summary = match r.result {
            "unchanged" => format!("{} canary weight is already {}%: unchanged", r.app, r.to),
            _ => format!(
                "{} canary weight {}% → {}% via {}",
                r.app, r.from, r.to, r.carrier
            ),
        };
        return Ok(Outcome::ok(summary, r));
    }
    let background = switchyard::gates::ramp_analysis(&a.analysis, &conn.client, &app)?;
    let opts = ramp::Options {
        steps: steps.unwrap_or_default(),
        pause: a.pause.unwrap_or_default(),
        http: a.http,
        port: a.port,
        promote: a.promote,
        timeout: a.step.timeout,
        // A re-run build resumes the ramp from the weight it left.
        from_start: false,
        set: set_opts,
        analysis: background.clone(),
    };
    let ramped = ramp::run(&conn.client, &app, &opts, &mut progress).await;
    // Every measurement goes into the result, whatever the ramp's ending.
    let analysis = match &background {
        Some(b) => Some(b.finish().await),
        None => None,
    };
    let r = match (ramped, &analysis) {
        (Ok(r), _) => r,
        (Err(e), Some(report)) => {
            let message = switchyard::output::one_line(&e);
            return Ok(Outcome {
                exit: switchyard::exit::classify(&e),
                summary: message.clone(),
                result: json!({ "analysis": report }),
                error: Some((message, switchyard::exit::hint_for(&e))),
            });
        }
        (Err(e), None) => return Err(e),
    };
    let steps: Vec<String> = r.steps.iter().map(|s| format!("{s}%")).collect();
    let mut result = serde_json::to_value(&r)?;
    if let Some(report) = analysis {
        result["analysis"] = json!(report);
    }
    Ok(Outcome::ok(
        format!(
            "ramped {} through {}{}",
            r.app,
            steps.join(" → "),
            if r.promoted { "; promoted" } else { "" }
        ),
        result,
    ))
}

fn main() {
    let a: Args = jenkins_steps::parse();
    let step = a.step.clone();
    jenkins_steps::main("deploy-weight", step, |log| run(a, log))
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
