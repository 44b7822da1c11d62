//! `kubectl bluegreen scale-down [APP] [--to N]`

use switchyard::bluegreen::{self, Color, scale};
use switchyard::connect::Connection;
use switchyard::exit::Exit;
use switchyard::output::count;

use super::Out;

/// Scale the idle color down (refuses the active one).
#[derive(clap::Args)]
pub struct Args {
    /// The app (default: the only blue/green app in the namespace).
    app: Option<String>,
    /// Replicas to keep.
    #[arg(long, value_name = "N", default_value_t = 0, allow_negative_numbers = true, value_parser = switchyard::cli::replicas)]
    to: i32,
    /// The color to scale (default: the idle one; the active one is refused).
    #[arg(long, value_parser = super::switch::parse_color)]
    color: Option<Color>,
    /// Show the write, change nothing: `client` computes it locally, `server`
    /// sends it with dryRun=All (`--dry-run` alone: client).
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "client", value_name = "client|server")]
    dry_run: Option<switchyard::DryRun>,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let app = bluegreen::pick(&conn.client, &conn.namespace, args.app.as_deref()).await?;
    let mut progress = super::progress();
    let r = scale::run(
        &conn.client,
        &app,
        args.color,
        args.to,
        switchyard::lock::DEFAULT_DURATION,
        args.dry_run,
        &mut progress,
    )
    .await?;
    out.result(&r, || match r.result {
        "unchanged" => format!(
            "{} already has {}: unchanged\n",
            r.deployment,
            count(r.to, "replica")
        ),
        "dry-run" => format!(
            "{} would be scaled {} → {} (dry run: nothing changed)\n",
            r.deployment,
            r.from,
            count(r.to, "replica")
        ),
        _ => format!(
            "scaled {}: {} → {}\n",
            r.deployment,
            r.from,
            count(r.to, "replica")
        ),
    })?;
    Ok(Exit::Ok)
}
