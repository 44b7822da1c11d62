//! `kubectl canary`: arguments → the switchyard library → output. The rules
//! are in `switchyard::canary` and `switchyard::traffic`.

mod cmd;

use clap::{Parser, Subcommand};
use switchyard::connect::KubeArgs;
use switchyard::exit::Exit;
use switchyard::output::{self, Format};

#[derive(Parser)]
#[command(
    name = "kubectl-canary",
    bin_name = "kubectl canary",
    version = switchyard::completion::VERSION,
    about = "Canary releases: a stable Deployment (APP or APP-stable) and APP-canary, weighted by Gateway API, ingress-nginx, Istio or the replica split",
    after_help = "Examples:
  kubectl canary status
  kubectl canary deploy shop --image registry.example.com/shop:1.2 --wait
  kubectl canary set 30                           # the only canary app in the namespace
  kubectl canary set 10% shop --provider gateway
  kubectl canary ramp shop --steps 10,25,50,100 --pause 2m --http /healthz --promote
  kubectl canary promote shop
  kubectl canary abort shop
  kubectl canary analysis lint analysis.yaml shop --prometheus-service monitoring/prometheus:9090

Exit codes: 0 done or unchanged, 1 failed, 2 bad input, 3 precondition not met,
4 another operation holds the app, 5 cluster unreachable or not authorized, 124 timed out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(flatten)]
    kube: KubeArgs,
}

#[derive(Subcommand)]
enum Command {
    Status(cmd::status::Args),
    Deploy(cmd::deploy::Args),
    Set(cmd::set::Args),
    Promote(cmd::promote::Args),
    Abort(cmd::abort::Args),
    Ramp(cmd::ramp::Args),
    Analysis(cmd::analysis::Args),
    Completion(switchyard::completion::Completion),
}

async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let conn = cli.kube.connect().await?;
    let out = cmd::Out { format: cli.output };
    match cli.command {
        Command::Status(a) => cmd::status::run(a, &conn, &out).await,
        Command::Deploy(a) => cmd::deploy::run(a, &conn, &out).await,
        Command::Set(a) => cmd::set::run(a, &conn, &out).await,
        Command::Promote(a) => cmd::promote::run(a, &conn, &out).await,
        Command::Abort(a) => cmd::abort::run(a, &conn, &out).await,
        Command::Ramp(a) => cmd::ramp::run(a, &conn, &out).await,
        Command::Analysis(a) => cmd::analysis::run(a, &conn, &out).await,
        Command::Completion(c) => c.exit::<Cli>(),
    }
}

fn main() {
    // kubectl's plugin completion (kubectl_complete-NAME runs `NAME __complete WORDS`).
    switchyard::completion::exit_if_complete(
        <Cli as clap::CommandFactory>::command(),
        &std::env::args_os().collect::<Vec<_>>(),
    );
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => std::process::exit(output::report_usage(e)),
    };
    if let Command::Completion(c) = &cli.command {
        c.exit::<Cli>()
    }
    switchyard::cli::run_to_exit(run(cli))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_option_and_argument_has_help() {
        use clap::CommandFactory;
        assert_eq!(
            switchyard::cli::undocumented(&super::Cli::command()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn only_raising_the_weight_offers_to_create_the_canary_ingress() {
        use clap::CommandFactory;
        let cmd = super::Cli::command();
        let offers = |sub: &str| {
            cmd.find_subcommand(sub)
                .unwrap()
                .get_arguments()
                .any(|a| a.get_long() == Some("create-canary-ingress"))
        };
        assert!(offers("set") && offers("ramp"));
        assert!(!offers("abort") && !offers("promote"));
    }
}
