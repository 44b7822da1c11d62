//! `deploy-rollback`: back to what served before, whichever model the app is:
//! the previous color of a blue/green app, or weight 0 for a canary app.

use clap::Parser;
use jenkins_steps::{Outcome, StepArgs};
use switchyard::bluegreen::{self, rollback, switch};
use switchyard::canary::{self, set};
use switchyard::connect::KubeArgs;
use switchyard::exit::{Error, Exit};
use switchyard::undo;

#[derive(Parser)]
#[command(
    name = "deploy-rollback",
    version,
    about = "Roll an app back: the previous color, or canary weight 0"
)]
#[command(after_help = "Example (Jenkinsfile, in a failure branch):
  sh 'deploy-rollback --app web --result-file rollback.json'")]
struct Args {
    /// The app: blue/green (back to the previous color) or canary (weight 0).
    #[arg(long)]
    app: String,
    /// Blue/green: scale the previous color back up first if it was scaled down.
    #[arg(long)]
    scale_up: bool,
    #[command(flatten)]
    step: StepArgs,
    #[command(flatten)]
    kube: KubeArgs,
}

async fn run(a: Args, log: jenkins_steps::Log) -> anyhow::Result<Outcome> {
    let conn = a.kube.connect().await?;
    let (client, ns) = (&conn.client, conn.namespace.as_str());
    let mut progress = log.progress();
    let (services, deployments) = switchyard::workload::list_objects(client, Some(ns)).await?;
    switchyard::names::check_app_name(&a.app)?;
    if let Ok(app) = bluegreen::resolve(&a.app, ns, &services, &deployments) {
        let opts = rollback::Options {
            scale_up: a.scale_up,
            timeout: a.step.timeout,
            switch: switch::Options::default(),
        };
        let r = rollback::run(client, &app, &opts, &mut progress).await?;
        let summary = match r.result {
            "unchanged" => format!("{} already serves {}: unchanged", r.app, r.to),
            _ => format!("rolled back {}: {} → {}", r.app, r.from, r.to),
        };
        return Ok(Outcome::ok(summary, r));
    }
    match canary::resolve(&a.app, ns, &services, &deployments) {
        Ok(app) => {
            let opts = set::Options {
                reason: Some("rollback".into()),
                ..Default::default()
            };
            // A safety net: each attempt after the first reads the app afresh.
            let mut retry = undo::Retry::new(undo::DEADLINE);
            let mut app = app;
            let r = loop {
                let attempt = set::run(client, &app, 0, &opts, &mut progress).await;
                if let Some(done) = retry.after(attempt).await {
                    break done?;
                }
                app = canary::load(client, ns, &app.name).await?;
            };
            let summary = match r.result {
                "unchanged" => format!("{} canary weight is already 0%: unchanged", r.app),
                _ => format!("rolled back {}: canary weight {}% → 0%", r.app, r.from),
            };
            Ok(Outcome::ok(summary, r))
        }
        Err(_) => Err(Error::new(
            Exit::Precondition,
            format!(
                "{} is neither a blue/green nor a canary app in namespace {ns}",
                a.app
            ),
        )
        .hint("kubectl bluegreen status and kubectl canary status list the apps")
        .into()),
    }
}

fn main() {
    let a: Args = jenkins_steps::parse();
    let step = a.step.clone();
    jenkins_steps::main("deploy-rollback", step, |log| run(a, log))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_option_has_help() {
        use clap::CommandFactory;
        assert_eq!(
            switchyard::cli::undocumented(&super::Args::command()),
            Vec::<String>::new()
        );
    }
}
