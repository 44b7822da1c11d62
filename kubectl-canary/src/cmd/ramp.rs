//! `kubectl canary ramp [APP] --steps 10,25,50,100 --pause 2m`

use std::time::Duration;

use switchyard::canary::{self, ramp};
use switchyard::connect::Connection;
use switchyard::exit::Exit;

use super::{Out, WeightArgs};

/// Step the weight up, keeping each step for a pause while the canary stays healthy; abort (weight 0) on failure.
#[derive(clap::Args)]
#[command(after_help = "Example:
  kubectl canary ramp shop --steps 10,25,50,100 --pause 2m --http /healthz --promote
  kubectl canary ramp shop --steps 10,50,100 --pause 5m --analysis analysis.yaml --prometheus-service monitoring/prometheus:9090")]
pub struct Args {
    /// The canary app (default: the only one in the namespace).
    app: Option<String>,
    /// Ascending weights.
    #[arg(long, value_name = "W,W,...")]
    steps: String,
    /// How long each step must stay healthy.
    #[arg(long, value_name = "DURATION", value_parser = super::duration)]
    pause: Duration,
    /// Check this path through the canary Service (API server proxy) during every pause.
    #[arg(long, value_name = "PATH")]
    http: Option<String>,
    /// The canary Service's port for --http, by name or number (default: its first).
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
    /// Promote after the last step.
    #[arg(long)]
    promote: bool,
    /// How long promotion, and the pods of each replica-split step, may take to roll out (0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = super::timeout)]
    timeout: Duration,
    /// Start at the first step even when the weight is already above it
    /// (by default a ramp continues from the first step above the current weight).
    #[arg(long)]
    from_start: bool,
    #[command(flatten)]
    provider: WeightArgs,
    #[command(flatten)]
    analysis: switchyard::analysis::AnalysisArgs,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let steps = ramp::parse_steps(&args.steps)?;
    let app = canary::pick(&conn.client, &conn.namespace, args.app.as_deref()).await?;
    let analysis = switchyard::gates::ramp_analysis(&args.analysis, &conn.client, &app)?;
    let opts = ramp::Options {
        steps,
        pause: args.pause,
        http: args.http,
        port: args.port,
        promote: args.promote,
        timeout: args.timeout,
        from_start: args.from_start,
        set: args.provider.options(),
        analysis: analysis.clone(),
    };
    let mut progress = super::progress();
    let r = ramp::run(&conn.client, &app, &opts, &mut progress).await?;
    let mut doc = serde_json::to_value(&r)?;
    if let Some(a) = &analysis {
        // Every measurement of the background analysis, for -o json.
        doc["analysis"] = serde_json::to_value(a.finish().await)?;
    }
    out.result(&doc, || {
        let steps: Vec<String> = r.steps.iter().map(|s| format!("{s}%")).collect();
        let mut s = if r.steps.is_empty() {
            format!(
                "{} is already at {}%: no step left (unchanged)\n",
                r.app, r.from
            )
        } else {
            format!("ramped {} through {}\n", r.app, steps.join(" → "))
        };
        if r.promoted {
            s.push_str(&format!("promoted {}: the canary is now stable\n", r.app));
        }
        s
    })?;
    Ok(Exit::Ok)
}
