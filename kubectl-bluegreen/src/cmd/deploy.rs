//! `kubectl bluegreen deploy APP --image IMAGE`

use std::time::Duration;

use switchyard::bluegreen::{self, deploy};
use switchyard::connect::Connection;
use switchyard::exit::Exit;
use switchyard::output::count;

use super::Out;

/// Put a new image on the idle color (never the active one), scaled like the active color.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kubectl bluegreen deploy web --image registry.example.com/web:1.2 --wait
  kubectl bluegreen deploy web --image web:1.2 --container web --replicas 2")]
pub struct Args {
    /// The app: its Service APP and Deployments APP-blue and APP-green.
    app: String,
    /// The image to run.
    #[arg(long)]
    image: String,
    /// The container to update (default: the only one, or the one named like the app).
    #[arg(long)]
    container: Option<String>,
    /// Replicas (default: as many as the active color).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = switchyard::cli::replicas)]
    replicas: Option<i32>,
    /// Wait until the idle color is healthy; fail fast with the reason if it cannot be.
    #[arg(long)]
    wait: bool,
    /// Show the write, change nothing: `client` computes it locally, `server`
    /// sends it with dryRun=All (`--dry-run` alone: client).
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "client", value_name = "client|server", conflicts_with = "wait")]
    dry_run: Option<switchyard::DryRun>,
    /// How long --wait waits (0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = super::timeout)]
    timeout: Duration,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let app = bluegreen::load(&conn.client, &conn.namespace, &args.app).await?;
    let opts = deploy::Options {
        image: args.image,
        container: args.container,
        replicas: args.replicas,
        wait: args.wait,
        timeout: args.timeout,
        lease_duration: switchyard::lock::DEFAULT_DURATION,
        dry_run: args.dry_run,
    };
    let mut progress = super::progress();
    let r = deploy::run(&conn.client, &app, &opts, &mut progress).await?;
    out.result(&r, || {
        let mut s = match r.result {
            "unchanged" => format!(
                "{} already runs {} ({}): unchanged\n",
                r.deployment,
                r.image,
                count(r.replicas, "replica")
            ),
            "dry-run" => format!(
                "{} would run {}={} ({}, idle color {}) (dry run: nothing changed)\n",
                r.deployment,
                r.container,
                r.image,
                count(r.replicas, "replica"),
                r.color
            ),
            verb => format!(
                "{verb} {}: {}={} ({}, idle color {})\n",
                r.deployment,
                r.container,
                r.image,
                count(r.replicas, "replica"),
                r.color
            ),
        };
        if let Some(o) = &r.observed {
            s.push_str(&format!("{} is healthy: {o}\n", r.deployment));
        }
        s
    })?;
    Ok(Exit::Ok)
}
