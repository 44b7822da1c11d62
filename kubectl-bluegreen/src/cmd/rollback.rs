//! `kubectl bluegreen rollback [APP]`

use std::time::Duration;

use switchyard::DryRun;
use switchyard::bluegreen::{self, rollback, switch};
use switchyard::connect::Connection;
use switchyard::exit::Exit;

use super::Out;

/// Switch back to the previously active color, with the same checks as a switch.
#[derive(clap::Args)]
pub struct Args {
    /// The app (default: the only blue/green app in the namespace).
    app: Option<String>,
    /// If the previous color was scaled down, scale it up and wait for it first.
    #[arg(long)]
    scale_up: bool,
    /// How long --scale-up waits (0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = super::timeout)]
    timeout: Duration,
    /// Show what would change, change nothing: `client` computes it locally,
    /// `server` sends the writes with dryRun=All (`--dry-run` alone: client).
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "client", value_name = "client|server")]
    dry_run: Option<DryRun>,
    /// Why, for the history and the Event (default: "rollback").
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let app = bluegreen::pick(&conn.client, &conn.namespace, args.app.as_deref()).await?;
    let opts = rollback::Options {
        scale_up: args.scale_up,
        timeout: args.timeout,
        switch: switch::Options {
            dry_run: args.dry_run,
            reason: args.reason,
            ..switch::Options::default()
        },
    };
    let mut progress = super::progress();
    let r = rollback::run(&conn.client, &app, &opts, &mut progress).await?;
    out.result(&r, || match r.result {
        "unchanged" => format!("{} already serves {}: unchanged\n", r.app, r.to),
        "dry-run" => format!(
            "{} would roll back from {} to {} (dry run: nothing changed)\n",
            r.app, r.from, r.to
        ),
        _ => format!(
            "rolled back {}: {} → {} (revision {})\n",
            r.app, r.from, r.to, r.revision
        ),
    })?;
    Ok(Exit::Ok)
}
