//! `kubectl canary set WEIGHT [APP]`

use switchyard::DryRun;
use switchyard::canary::{self, set};
use switchyard::connect::Connection;
use switchyard::exit::Exit;

use super::{Out, WeightArgs};

/// Send WEIGHT percent of the traffic to the canary (0–100; `30` or `30%`).
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kubectl canary set 30
  kubectl canary set 50% shop --provider nginx --create-canary-ingress
  kubectl canary set 30 shop --provider replicas --total 10    # 7 stable pods, 3 canary")]
pub struct Args {
    /// The canary's share: a whole number from 0 to 100.
    #[arg(allow_hyphen_values = true)]
    weight: String,
    /// The canary app (default: the only one in the namespace).
    app: Option<String>,
    #[command(flatten)]
    provider: WeightArgs,
    /// Show what would change, change nothing: `client` computes it locally,
    /// `server` sends the writes with dryRun=All (`--dry-run` alone: client).
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "client", value_name = "client|server")]
    dry_run: Option<DryRun>,
    /// Why, recorded with the weight in the carrier's history annotation.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let w = canary::parse_weight(&args.weight)?;
    let app = canary::pick(&conn.client, &conn.namespace, args.app.as_deref()).await?;
    let opts = set::Options {
        dry_run: args.dry_run,
        reason: args.reason,
        ..args.provider.options()
    };
    let mut progress = super::progress();
    let r = set::run(&conn.client, &app, w, &opts, &mut progress).await?;
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    out.result(&r, || {
        let achieved = match r.achieved {
            Some(a) if (a - r.to as f64).abs() > 0.05 => {
                format!(" (the replica split achieves {a}%)")
            }
            _ => String::new(),
        };
        match r.result {
            "unchanged" => format!(
                "{} canary weight is already {}%: unchanged{achieved}\n",
                r.app, r.to
            ),
            "dry-run" => format!(
                "{} canary weight would go {}% → {}% via {} (dry run: nothing changed)\n",
                r.app, r.from, r.to, r.carrier
            ),
            _ => format!(
                "{} canary weight {}% → {}% via {}{achieved}\n",
                r.app, r.from, r.to, r.carrier
            ),
        }
    })?;
    Ok(Exit::Ok)
}
