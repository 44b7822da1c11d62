//! `kubectl bluegreen switch [APP] [--to COLOR]`

use std::time::Duration;

use switchyard::DryRun;
use switchyard::bluegreen::{self, Color, scale, switch};
use switchyard::connect::Connection;
use switchyard::exit::Exit;

use super::Out;

/// Point the Service at the other color, after checking it is ready; verified.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kubectl bluegreen switch
  kubectl bluegreen switch web --to green --http /actuator/health --reason 'release 1.2'
  kubectl bluegreen switch web --dry-run=server
  kubectl bluegreen switch web --analysis pre.yaml --post-analysis post.yaml --prometheus-service monitoring/prometheus:9090")]
pub struct Args {
    /// The app (default: the only blue/green app in the namespace).
    app: Option<String>,
    /// The color to serve (default: the idle one).
    #[arg(long, value_parser = parse_color)]
    to: Option<Color>,
    /// Check this path through the preview Service (API server proxy) first; it must answer 200.
    #[arg(long, value_name = "PATH")]
    http: Option<String>,
    /// Service port for --http (name or number; default: the first port).
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
    /// Scale the old color to 0 this long after a successful switch.
    #[arg(long, value_name = "DURATION", value_parser = super::duration)]
    scale_down_after: Option<Duration>,
    /// Show what would change; change nothing.
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "client", value_name = "client|server")]
    dry_run: Option<DryRun>,
    /// Why, recorded in the history and the Event.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// How long the EndpointSlices may take to list only the new color (0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::timeout)]
    verify_timeout: Duration,
    /// --analysis FILE: judged before the switch, against the color about to serve.
    #[command(flatten)]
    analysis: switchyard::analysis::AnalysisArgs,
    /// Judged after the switch, against the color now serving; a failure switches back (exit 1).
    #[arg(long, value_name = "FILE")]
    post_analysis: Option<std::path::PathBuf>,
    /// How long each analysis may take.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = super::duration)]
    analysis_timeout: Duration,
}

pub fn parse_color(s: &str) -> Result<Color, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a color: use blue or green"))
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    // A named app is read once, under the lease; only discovery needs a read first.
    let name = match args.app {
        Some(name) => name,
        None => {
            bluegreen::pick(&conn.client, &conn.namespace, None)
                .await?
                .name
        }
    };
    let opts = switch::Options {
        to: args.to,
        http: args.http.map(|path| switch::HttpCheck {
            path,
            port: args.port,
        }),
        dry_run: args.dry_run,
        reason: args.reason,
        verify_timeout: args.verify_timeout,
        ..switch::Options::default()
    };
    let gates = switchyard::gates::switch_gates(
        &args.analysis,
        args.post_analysis.as_deref(),
        &conn.client,
        args.analysis_timeout,
    )?;
    let mut progress = super::progress();
    let report = switchyard::gates::switch(
        &conn.client,
        &conn.namespace,
        &name,
        &opts,
        &gates,
        &mut Vec::new(),
        &mut progress,
    )
    .await?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    out.result(&report, || match report.result {
        "unchanged" => format!("{} already serves {}: unchanged\n", report.app, report.to),
        "dry-run" => format!(
            "{} would switch from {} to {} (dry run: nothing changed)\n",
            report.app, report.from, report.to
        ),
        _ => format!(
            "switched {}: {} → {} (revision {}); {}\n",
            report.app,
            report.from,
            report.to,
            report.revision,
            switchyard::output::count(report.endpoints.len() as i64, "ready endpoint")
        ),
    })?;
    if let (Some(after), "switched") = (args.scale_down_after, report.result) {
        scale::down_later(
            &conn.client,
            &conn.namespace,
            &name,
            report.from,
            after,
            &mut progress,
        )
        .await?;
    }
    Ok(Exit::Ok)
}
