//! `kubectl bluegreen init APP --from-deployment NAME`

use std::time::Duration;

use switchyard::bluegreen::init;
use switchyard::connect::Connection;
use switchyard::exit::Exit;

use super::Out;

/// Adopt an existing Deployment and Service into the blue/green model, without downtime.
#[derive(clap::Args)]
#[command(
    after_help = "Creates APP-blue from the Deployment (with color: blue), waits until it is ready,
then adds color: blue to the Service selector. The old Deployment is left for you to delete.

Example:
  kubectl bluegreen init web --from-deployment web"
)]
pub struct Args {
    /// The app: the Service APP to adopt; APP-blue is created from --from-deployment.
    app: String,
    /// The Deployment the Service serves today.
    #[arg(long, value_name = "NAME")]
    from_deployment: String,
    /// How long the new APP-blue may take to be ready before the Service is touched (0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = super::timeout)]
    timeout: Duration,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let opts = init::Options {
        from_deployment: args.from_deployment,
        timeout: args.timeout,
        lease_duration: switchyard::lock::DEFAULT_DURATION,
    };
    let mut progress = super::progress();
    let r = init::run(
        &conn.client,
        &conn.namespace,
        &args.app,
        &opts,
        &mut progress,
    )
    .await?;
    out.result(&r, || match r.result {
        "unchanged" => format!("{} is already a blue/green app: unchanged\n", r.app),
        _ => format!(
            "adopted {}: Service {} now selects {} (blue)\nDeployment {} no longer receives traffic; delete it when you are ready:\n  kubectl delete deployment {} -n {}\n",
            r.app, r.app, r.deployment, r.from_deployment, r.from_deployment, r.namespace
        ),
    })?;
    Ok(Exit::Ok)
}
