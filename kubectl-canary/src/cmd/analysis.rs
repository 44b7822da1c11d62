//! `kubectl canary analysis lint FILE [APP]`: reads an analysis file,
//! substitutes its variables, runs every query once and shows what each
//! metric would decide now. It changes nothing.

use std::path::PathBuf;

use serde_json::json;
use switchyard::analysis::{self, PrometheusArgs, Template};
use switchyard::bluegreen::{self, Color};
use switchyard::connect::Connection;
use switchyard::exit::Exit;

use super::Out;

/// Metric analysis files (Argo AnalysisTemplate fields).
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Lint(LintArgs),
}

/// Check an analysis file: parse, substitute, run each query once, print what each metric would decide now; change nothing.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kubectl canary analysis lint analysis.yaml shop --prometheus-service monitoring/prometheus:9090
  kubectl canary analysis lint analysis.yaml web --color green --prometheus https://prometheus.example.com

Exit codes: 0 the file is good (whatever the metrics say now), 2 a bad file or a query
Prometheus rejects, 5 Prometheus unreachable or refusing.")]
pub struct LintArgs {
    /// The analysis file.
    file: PathBuf,
    /// The app (default: the only canary app in the namespace).
    app: Option<String>,
    /// Judge the stable track instead of the canary.
    #[arg(long, conflicts_with = "color")]
    stable: bool,
    /// A blue/green app's color instead of a canary.
    #[arg(long, value_parser = parse_color)]
    color: Option<Color>,
    /// Sets an argument of the file ({{args.KEY}}); repeatable.
    #[arg(long = "arg", value_name = "KEY=VALUE", value_parser = analysis::parse_arg)]
    args: Vec<(String, String)>,
    #[command(flatten)]
    prometheus: PrometheusArgs,
}

fn parse_color(s: &str) -> Result<Color, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a color: use blue or green"))
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let Command::Lint(a) = args.command;
    let template = Template::load(&a.file)?;
    let providers = a.prometheus.providers(Some(&conn.client))?;
    let vars = match a.color {
        Some(c) => {
            let name = a.app.as_deref().ok_or_else(|| {
                switchyard::exit::Error::new(Exit::Usage, "--color needs the app named")
            })?;
            switchyard::gates::color_vars(
                &bluegreen::load(&conn.client, &conn.namespace, name).await?,
                c,
            )
        }
        None => {
            let app =
                switchyard::canary::pick(&conn.client, &conn.namespace, a.app.as_deref()).await?;
            switchyard::gates::canary_vars(&app, !a.stable)
        }
    };
    let resolved = template.resolve(&vars, &a.args)?;
    let taken = analysis::lint(&resolved, &providers).await?;
    let doc =
        json!({ "analysis": a.file, "app": vars.app, "track": vars.track, "measurements": taken });
    out.result(&doc, || {
        let rows: Vec<Vec<String>> = taken
            .iter()
            .map(|m| {
                vec![
                    m.metric.clone(),
                    m.value.clone().unwrap_or_else(|| "-".into()),
                    m.phase.to_string(),
                    m.message.clone(),
                ]
            })
            .collect();
        format!(
            "{}{} is valid for {} ({}); measured once, nothing changed\n",
            switchyard::output::table(&["METRIC", "VALUE", "NOW", "WHY"], &rows),
            a.file.display(),
            vars.app,
            vars.track
        )
    })?;
    Ok(Exit::Ok)
}
