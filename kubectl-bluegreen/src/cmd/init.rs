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
    /// Also create the preview Service APP-preview (APP's ports, selecting the
    /// idle color), which `switch --http` checks the target through.
    #[arg(long)]
    preview: bool,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let opts = init::Options {
        from_deployment: args.from_deployment,
        timeout: args.timeout,
        lease_duration: switchyard::lock::DEFAULT_DURATION,
        preview: args.preview,
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
    out.result(&r, || {
        let mut s = match r.result {
            "unchanged" if r.preview_created.is_none() => {
                format!("{} is already a blue/green app: unchanged\n", r.app)
            }
            "unchanged" => format!("{} is already a blue/green app\n", r.app),
            _ => format!(
                "adopted {}: Service {} now selects {} (blue)\nDeployment {} no longer receives traffic; delete it when you are ready:\n  kubectl delete deployment {} -n {}\n",
                r.app, r.app, r.deployment, r.from_deployment, r.from_deployment, r.namespace
            ),
        };
        if let Some(p) = &r.preview_created {
            s.push_str(&format!(
                "created Service {}, selecting the idle color {}: switch --http checks through it\n",
                p.name, p.selects
            ));
        }
        s
    })?;
    Ok(Exit::Ok)
}
