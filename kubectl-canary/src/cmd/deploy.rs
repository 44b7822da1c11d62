//! `kubectl canary deploy APP --image IMAGE`

use std::time::Duration;

use switchyard::canary::{self, deploy};
use switchyard::connect::Connection;
use switchyard::exit::Exit;
use switchyard::output::count;

use super::Out;

/// Put a new image on the canary Deployment (never the stable one); it gets no traffic until `set` or `ramp`.
#[derive(clap::Args)]
pub struct Args {
    /// The canary app: the image goes on APP-canary.
    app: String,
    /// The image to run on the canary.
    #[arg(long)]
    image: String,
    /// The container to update (default: the only one, or the one named like the app).
    #[arg(long)]
    container: Option<String>,
    /// Replicas (default: as now, or 1 when scaled to 0).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = switchyard::cli::replicas)]
    replicas: Option<i32>,
    /// Wait until the canary is healthy; fail fast with the reason if it cannot be.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits (0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = super::timeout)]
    timeout: Duration,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let app = canary::load(&conn.client, &conn.namespace, &args.app).await?;
    let opts = deploy::Options {
        image: args.image,
        container: args.container,
        replicas: args.replicas,
        wait: args.wait,
        timeout: args.timeout,
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
            _ => format!(
                "updated {}: {}={} ({}); it gets traffic with kubectl canary set or ramp\n",
                r.deployment,
                r.container,
                r.image,
                count(r.replicas, "replica")
            ),
        };
        if let Some(o) = &r.observed {
            s.push_str(&format!("{} is healthy: {o}\n", r.deployment));
        }
        s
    })?;
    Ok(Exit::Ok)
}
