//! `kubectl canary promote [APP]`

use std::time::Duration;

use switchyard::canary::{self, promote};
use switchyard::connect::Connection;
use switchyard::exit::Exit;

use super::{Out, ProviderArgs};

/// Make the canary the stable version: roll it out on stable, then weight 0 and the canary scaled to 0.
#[derive(clap::Args)]
pub struct Args {
    /// The canary app (default: the only one in the namespace).
    app: Option<String>,
    #[command(flatten)]
    provider: ProviderArgs,
    /// How long the stable rollout may take (0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = super::timeout)]
    timeout: Duration,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let app = canary::pick(&conn.client, &conn.namespace, args.app.as_deref()).await?;
    let mut progress = super::progress();
    let r = promote::run(
        &conn.client,
        &app,
        &args.provider.options(),
        args.timeout,
        &mut progress,
    )
    .await?;
    out.result(&r, || match r.result {
        "unchanged" => format!(
            "{} stable already runs the canary's version: unchanged\n",
            r.app
        ),
        _ => format!(
            "promoted {}: stable runs {}; canary weight 0%, {}-canary scaled to 0\n",
            r.app,
            r.images.join(", "),
            r.app
        ),
    })?;
    Ok(Exit::Ok)
}
